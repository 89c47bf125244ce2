//! SVG badges for public counts ("views | 1.2k"), in the look people know from project READMEs.
//!
//! The label comes from the request, so it is shortened and escaped ([`crate::xml`]); the
//! colour is one of a few names or a hex code, checked before it reaches the document. A badge
//! holds no script, no event handler and no external reference; its only reference is to its
//! own clip path. Request text appears only as text (the `<title>` names the badge for screen
//! readers), never inside an attribute.

use crate::xml;

/// Characters of a label shown; longer ones end in an ellipsis.
pub const MAX_LABEL_CHARS: usize = 32;

/// How a badge looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Rounded corners and a light gradient.
    Flat,
    /// Square corners, no gradient.
    FlatSquare,
    /// Taller, capitals, bold value.
    ForTheBadge,
}

impl Style {
    pub const NAMES: &'static str = "flat, flat-square or for-the-badge";

    pub fn parse(name: &str) -> Option<Style> {
        Some(match name {
            "flat" => Style::Flat,
            "flat-square" => Style::FlatSquare,
            "for-the-badge" => Style::ForTheBadge,
            _ => return None,
        })
    }
}

/// A fill colour: a known name or `#rgb` / `#rrggbb` (the `#` optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Color(String);

impl Color {
    pub const NAMES: &'static str =
        "blue, green, brightgreen, yellow, orange, red, purple, grey, or a hex code such as 4c1";

    pub fn parse(text: &str) -> Option<Color> {
        let named = match text {
            "blue" => "#007ec6",
            "green" => "#97ca00",
            "brightgreen" => "#4c1",
            "yellow" => "#dfb317",
            "orange" => "#fe7d37",
            "red" => "#e05d44",
            "purple" => "#8a5cf6",
            "grey" | "gray" => "#555",
            _ => "",
        };
        if !named.is_empty() {
            return Some(Color(named.to_owned()));
        }
        let hex = text.strip_prefix('#').unwrap_or(text);
        let valid = matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit());
        valid.then(|| Color(format!("#{}", hex.to_ascii_lowercase())))
    }
}

impl Default for Color {
    fn default() -> Self {
        Color("#007ec6".into())
    }
}

/// What a badge says.
#[derive(Debug, Clone)]
pub struct Badge<'a> {
    pub label: &'a str,
    pub value: &'a str,
    pub color: Color,
    pub style: Style,
}

/// The badge as an SVG document.
pub fn render(badge: &Badge) -> String {
    let tall = badge.style == Style::ForTheBadge;
    let (label, value) = if tall {
        (
            xml::shorten(badge.label, MAX_LABEL_CHARS).to_uppercase(),
            badge.value.to_uppercase(),
        )
    } else {
        (
            xml::shorten(badge.label, MAX_LABEL_CHARS),
            badge.value.to_owned(),
        )
    };
    let (height, pad, font_size, baseline) = if tall {
        (28.0, 12.0, 10.0, 18.0)
    } else {
        (20.0, 6.0, 11.0, 14.0)
    };
    let scale = font_size / 11.0;
    let label_w = (text_width(&label) * scale * if tall { 1.1 } else { 1.0 } + 2.0 * pad).round();
    let value_w = (text_width(&value) * scale * if tall { 1.2 } else { 1.0 } + 2.0 * pad).round();
    let width = label_w + value_w;
    let radius = if badge.style == Style::Flat { 3 } else { 0 };
    let gradient = if badge.style == Style::Flat {
        "<linearGradient id=\"s\" x2=\"0\" y2=\"100%\"><stop offset=\"0\" stop-color=\"#bbb\" stop-opacity=\".1\"/><stop offset=\"1\" stop-opacity=\".1\"/></linearGradient>"
    } else {
        ""
    };
    let shade = if badge.style == Style::Flat {
        format!("<rect width=\"{width}\" height=\"{height}\" fill=\"url(#s)\"/>")
    } else {
        String::new()
    };
    let weight = if tall { " font-weight=\"bold\"" } else { "" };
    let (label, value) = (xml::text(&label), xml::text(&value));
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\">\
<title>{label}: {value}</title>{gradient}\
<clipPath id=\"r\"><rect width=\"{width}\" height=\"{height}\" rx=\"{radius}\" fill=\"#fff\"/></clipPath>\
<g clip-path=\"url(#r)\"><rect width=\"{label_w}\" height=\"{height}\" fill=\"#555\"/>\
<rect x=\"{label_w}\" width=\"{value_w}\" height=\"{height}\" fill=\"{color}\"/>{shade}</g>\
<g fill=\"#fff\" text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" font-size=\"{font_size}\">\
<text x=\"{label_x}\" y=\"{baseline}\">{label}</text>\
<text x=\"{value_x}\" y=\"{baseline}\"{weight}>{value}</text></g></svg>",
        color = badge.color.0,
        label_x = label_w / 2.0,
        value_x = label_w + value_w / 2.0,
    )
}

/// About how wide text is in 11 px Verdana, the badge font: close enough to centre it, with
/// room to spare rather than clipped.
fn text_width(text: &str) -> f64 {
    text.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '|' | '!' | '\'' | 'I' | ' ' => 3.9,
            'm' | 'w' | 'M' | 'W' => 10.0,
            '0'..='9' => 7.0,
            'A'..='Z' => 7.6,
            c if c.is_ascii() => 6.6,
            // Wide scripts (CJK, emoji) take about a full em.
            c if (c as u32) >= 0x1100 => 11.0,
            _ => 7.2,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn badge(label: &str, style: Style) -> String {
        render(&Badge {
            label,
            value: "1.2k",
            color: Color::default(),
            style,
        })
    }

    #[test]
    fn snapshots() {
        insta::assert_snapshot!("flat", badge("views", Style::Flat));
        insta::assert_snapshot!("flat_square", badge("visitors", Style::FlatSquare));
        insta::assert_snapshot!("for_the_badge", badge("views", Style::ForTheBadge));
    }

    #[test]
    fn colours_are_names_or_hex_codes_only() {
        assert_eq!(Color::parse("red").unwrap().0, "#e05d44");
        assert_eq!(Color::parse("4C1").unwrap().0, "#4c1");
        assert_eq!(Color::parse("#00ff00").unwrap().0, "#00ff00");
        for bad in [
            "",
            "#12",
            "javascript:alert(1)",
            "red\" onload=\"x",
            "url(#x)",
            "1234567",
        ] {
            assert!(Color::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn long_labels_are_cut_and_the_badge_grows_with_its_text() {
        let short = badge("views", Style::Flat);
        let long = badge(&"x".repeat(10_000), Style::Flat);
        assert!(long.len() < short.len() + 400, "{}", long.len());
        assert!(long.contains('…'));
    }
}
