//! Everything attackers control (labels, paths) rendered into badges, charts and feeds: every result must
//! parse as well-formed XML and hold no script, no event handler and no external reference.

use chrono::NaiveDate;
use footfall_dashboard::badge::{self, Badge, Color, Style};
use footfall_dashboard::chart::{self, Chart, Kind, Theme};
use footfall_dashboard::feed;

fn corpus() -> Vec<String> {
    let mut corpus: Vec<String> = [
        "<script>alert(1)</script>",
        "\"><script>alert(1)</script>",
        "' onload='alert(1)",
        "\" onload=\"alert(1)\" x=\"",
        "<svg onload=alert(1)>",
        "<img src=x onerror=alert(1)>",
        "javascript:alert(1)",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<image href=\"https://evil.test/x.png\"/>",
        "<use xlink:href=\"https://evil.test/s.svg#a\"/>",
        "]]><script>alert(1)</script><![CDATA[",
        "<![CDATA[<script>alert(1)</script>]]>",
        "<!-- --><script>x</script>",
        "<?xml-stylesheet href=\"https://evil.test/x.css\"?>",
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>&e;",
        "&amp;&lt;&#0;&#x1;&unknown;",
        "\u{0}\u{1}\u{8}\u{b}\u{c}\u{1b}\u{7f}",
        "\u{202E}txt.exe\u{202C}",
        "\u{FEFF}\u{200B}\u{2028}\u{2029}",
        "\u{FFFE}\u{FFFF}",
        "😀👍🏽 مرحبا 你好",
        "style=\"background:url(https://evil.test/)\"",
        "</text><foreignObject><body onload=alert(1)></foreignObject>",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    corpus.push("<".repeat(10_000));
    corpus.push("a".repeat(10_000));
    corpus.push(format!("/{}", "é".repeat(5_000)));
    corpus
}

/// Parses `document` and checks it holds nothing that could run or load.
fn assert_inert(document: &str, input: &str) {
    let parsed = roxmltree::Document::parse(document)
        .unwrap_or_else(|e| panic!("not well-formed ({e}) for {input:?}:\n{document}"));
    for node in parsed.descendants() {
        if !node.is_element() {
            continue;
        }
        let name = node.tag_name().name().to_ascii_lowercase();
        assert!(
            ![
                "script",
                "foreignobject",
                "image",
                "use",
                "a",
                "iframe",
                "style"
            ]
            .contains(&name.as_str()),
            "element <{name}> for {input:?}"
        );
        for attribute in node.attributes() {
            let key = attribute.name().to_ascii_lowercase();
            let value = attribute.value().to_ascii_lowercase();
            assert!(!key.starts_with("on"), "attribute {key} for {input:?}");
            assert!(
                key != "href" && key != "src",
                "attribute {key} for {input:?}"
            );
            assert!(
                !value.contains("javascript:"),
                "{key}={value:?} for {input:?}"
            );
            if let Some(at) = value.find("url(") {
                assert!(
                    value[at..].starts_with("url(#"),
                    "{key}={value:?} for {input:?}"
                );
            }
        }
    }
    assert!(!document.contains("<!DOCTYPE") && !document.contains("<!ENTITY"));
    assert!(!document.contains("<![CDATA["));
}

#[test]
fn badges_of_hostile_labels_are_well_formed_and_inert() {
    for input in corpus() {
        for style in [Style::Flat, Style::FlatSquare, Style::ForTheBadge] {
            let svg = badge::render(&Badge {
                label: &input,
                value: "1.2k",
                color: Color::default(),
                style,
            });
            assert_inert(&svg, &input);
            assert!(
                svg.len() < 4_000,
                "a {}-byte badge for {:?}",
                svg.len(),
                &input[..input.len().min(20)]
            );
        }
    }
}

#[test]
fn feeds_of_hostile_paths_are_well_formed_and_inert() {
    let corpus = corpus();
    let items: Vec<feed::Item> = corpus
        .iter()
        .map(|path| feed::Item {
            path,
            pageviews: 3,
            visitors: 3,
        })
        .collect();
    for domain in ["example.com", "<x>&\"'"] {
        let rss = feed::popular(domain, "30d\"><script>", &items);
        assert_inert(&rss, domain);
        let parsed = roxmltree::Document::parse(&rss).unwrap();
        let titles: Vec<&str> = parsed
            .descendants()
            .filter(|n| n.has_tag_name("title"))
            .filter_map(|n| n.text())
            .collect();
        // The text survives as text: the first path reads back as written.
        assert!(titles.contains(&"<script>alert(1)</script>"), "{titles:?}");
    }
}

#[test]
fn charts_of_hostile_titles_are_well_formed_and_inert() {
    let first = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let days: Vec<(NaiveDate, u64)> = (0..30)
        .map(|i| (first + chrono::Duration::days(i), (i * 7 % 11) as u64))
        .collect();
    for input in corpus() {
        for kind in [Kind::Line, Kind::Bars, Kind::Sparkline] {
            let svg = chart::render(&Chart {
                title: &input,
                days: &days,
                kind,
                theme: Theme::Dark,
                width: 600,
                height: 240,
            })
            .unwrap();
            assert_inert(&svg, &input);
        }
    }
}
