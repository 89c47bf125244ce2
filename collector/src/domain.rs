//! Site domains, parsed once at the edge.

use std::fmt;

/// A registered site's domain: lower case, without `www.`, IDNs in their ASCII (punycode) form.
/// Only [`SiteDomain::parse`] makes one, so every `SiteDomain` in the program is valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteDomain(String);

/// Why a string is not a site domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid domain {0:?}: expected a host name such as example.com")]
pub struct InvalidDomain(pub String);

/// Longest host name DNS allows.
const MAX_DOMAIN_BYTES: usize = 253;

impl SiteDomain {
    /// Accepts `example.com`, `WWW.Example.com`, `blog.example.co.uk`, `bücher.de`, `localhost`.
    /// Rejects schemes, paths, ports, spaces, IP addresses and empty labels: a site is a host name.
    pub fn parse(input: &str) -> Result<Self, InvalidDomain> {
        let invalid = || InvalidDomain(truncate_for_message(input));
        let trimmed = input.trim().trim_end_matches('.');
        if trimmed.is_empty() || trimmed.len() > MAX_DOMAIN_BYTES {
            return Err(invalid());
        }
        let ascii = match url::Host::parse(trimmed) {
            Ok(url::Host::Domain(d)) => d,
            _ => return Err(invalid()),
        };
        let valid_labels = ascii.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        if !valid_labels || ascii.len() > MAX_DOMAIN_BYTES {
            return Err(invalid());
        }
        Ok(Self(strip_www(&ascii).to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SiteDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`, so tables can align domains with `{:<40}`.
        f.pad(&self.0)
    }
}

impl AsRef<str> for SiteDomain {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// `www.example.com` and `example.com` are the same site to everyone who owns one.
pub fn strip_www(host: &str) -> &str {
    match host.strip_prefix("www.") {
        Some(rest) if !rest.is_empty() => rest,
        _ => host,
    }
}

/// Error messages quote what they refuse, but never more than a line of it.
fn truncate_for_message(input: &str) -> String {
    input.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_with_padding_for_tables() {
        let domain = SiteDomain::parse("example.com").unwrap();
        assert_eq!(format!("{domain:<13}|"), "example.com  |");
    }

    #[test]
    fn normalises_case_www_and_idn() {
        assert_eq!(
            SiteDomain::parse("WWW.Example.COM").unwrap().as_str(),
            "example.com"
        );
        assert_eq!(
            SiteDomain::parse(" example.com. ").unwrap().as_str(),
            "example.com"
        );
        assert_eq!(
            SiteDomain::parse("bücher.de").unwrap().as_str(),
            "xn--bcher-kva.de"
        );
        assert_eq!(
            SiteDomain::parse("localhost").unwrap().as_str(),
            "localhost"
        );
        assert_eq!(
            SiteDomain::parse("blog.example.co.uk").unwrap().as_str(),
            "blog.example.co.uk"
        );
    }

    #[test]
    fn rejects_what_is_not_a_host_name() {
        for bad in [
            "",
            " ",
            "https://example.com",
            "example.com/path",
            "example.com:8080",
            "exa mple.com",
            "1.2.3.4",
            "[::1]",
            "a..b",
            &"a".repeat(300),
            "exa\u{0}mple.com",
        ] {
            assert!(
                SiteDomain::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn www_alone_is_kept() {
        assert_eq!(strip_www("www."), "www.");
        assert_eq!(strip_www("www.a.b"), "a.b");
        assert_eq!(strip_www("wwwa.b"), "wwwa.b");
    }
}
