//! The tracker script pages load (`tracker/src/tracker.js`, minified into `tracker/dist/`), as
//! bytes for the server to serve. The build is committed, so compiling Footfall needs no Node;
//! a test of the tracker's own (`npm test` in `collector/tracker`) fails when the committed build
//! is not what the source builds to.

use std::sync::LazyLock;

/// The minified tracker, byte for byte as committed.
pub const SCRIPT: &[u8] = include_bytes!("../tracker/dist/script.js");

/// A validator for [`SCRIPT`]: browsers revalidate the script with it once its cache lifetime
/// ends, and get a `304` without a body while the tracker is unchanged. Weak, because the server
/// may send the same script gzip- or brotli-encoded, which are different bytes.
pub fn etag() -> &'static str {
    static ETAG: LazyLock<String> =
        LazyLock::new(|| format!("W/\"{}\"", &blake3::hash(SCRIPT).to_hex()[..20]));
    &ETAG
}

/// Whether a file name is one of the script's names: `script.js`, or a Plausible-style variant
/// such as `script.hash.js` or `script.outbound-links.file-downloads.js`. Every variant is the
/// same file: the tracker reads the switches it knows (`hash`, `local`) from its own name, and has
/// the rest (outbound links, downloads, tagged events, …) on by default.
pub fn is_script_name(name: &str) -> bool {
    let Some(middle) = name
        .strip_prefix("script")
        .and_then(|rest| rest.strip_suffix(".js"))
    else {
        return false;
    };
    middle.is_empty()
        || middle.strip_prefix('.').is_some_and(|switches| {
            switches.split('.').all(|switch| {
                !switch.is_empty()
                    && switch.len() <= 40
                    && switch
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_script_is_the_minified_tracker() {
        let text = std::str::from_utf8(SCRIPT).unwrap();
        assert!(text.len() > 1000, "the build is not empty");
        assert!(!text.contains("\n\n"), "minified, not the source");
        assert!(text.contains("/api/event"));
    }

    #[test]
    fn the_etag_is_a_quoted_hash_of_the_script() {
        let etag = etag();
        assert_eq!(etag.len(), 24);
        assert!(etag.starts_with("W/\"") && etag.ends_with('"'));
        assert_eq!(etag, super::etag(), "stable");
    }

    #[test]
    fn plausible_variant_names_are_the_script() {
        for name in [
            "script.js",
            "script.hash.js",
            "script.local.js",
            "script.hash.outbound-links.file-downloads.tagged-events.js",
            "script.manual.pageview-props.revenue.js",
        ] {
            assert!(is_script_name(name), "{name}");
        }
        for name in [
            "",
            "script",
            "script.",
            "script..js",
            "script.hash..js",
            "scripts.js",
            "script.Hash.js",
            "script.hash.js.map",
            "script.../etc.js",
            "script.a_b.js",
            "plausible.js",
        ] {
            assert!(!is_script_name(name), "{name}");
        }
    }
}
