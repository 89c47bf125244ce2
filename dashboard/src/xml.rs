//! Text for XML (SVG and RSS). Everything that reaches these documents (paths, labels, domains)
//! may come from an attacker, so it goes through [`text`] and nowhere is markup built from it.

/// `input` as XML character data or an attribute value: the five special characters escaped,
/// and what [`clean`] drops dropped, so the document always parses.
pub fn text(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in clean(input).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `input` without the characters XML 1.0 forbids (most control characters, U+FFFE, U+FFFF)
/// and without bidirectional overrides, which would let a label read backwards; line breaks and
/// tabs become spaces. For text a library escapes itself (plotters does).
pub fn clean(input: &str) -> String {
    input
        .chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' => Some(' '),
            c if (c as u32) < 0x20 || c == '\u{7F}' || c == '\u{FFFE}' || c == '\u{FFFF}' => None,
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => None,
            c => Some(c),
        })
        .collect()
}

/// At most `max` characters of `input`, with an ellipsis when it was cut.
pub fn shorten(input: &str, max: usize) -> String {
    let mut chars = input.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{}…", head.trim_end())
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specials_are_escaped_and_forbidden_characters_dropped() {
        assert_eq!(
            text("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(text("a\u{0}b\u{1b}c\u{FFFF}d\u{202E}e"), "abcde");
        assert_eq!(text("]]>"), "]]&gt;");
    }

    #[test]
    fn shortening_counts_characters() {
        assert_eq!(shorten("views", 10), "views");
        assert_eq!(shorten("ééééé", 3), "ééé…");
    }
}
