//! Country names for `visit:country_name`: the English names of ISO 3166-1 (from `isocountry`),
//! in the short forms people know where ISO's are long ("United States", not "United States of
//! America"; "South Korea", not "Korea (Republic of)"), as Plausible shows them.
//!
//! Events store the two-letter code only. A query by name is answered by code: names are given
//! to the rows afterwards, and a filter on names becomes a filter on the codes whose names match.

use super::model::{Dimension, Filter, Operator, VisitField};

/// Short names where ISO's are long or official, and codes that GeoIP databases use beyond
/// ISO 3166-1.
const COMMON_NAMES: [(&str, &str); 25] = [
    ("BN", "Brunei"),
    ("BO", "Bolivia"),
    ("CD", "DR Congo"),
    ("FK", "Falkland Islands"),
    ("FM", "Micronesia"),
    ("GB", "United Kingdom"),
    ("IR", "Iran"),
    ("KP", "North Korea"),
    ("KR", "South Korea"),
    ("LA", "Laos"),
    ("MD", "Moldova"),
    ("MK", "North Macedonia"),
    ("PS", "Palestine"),
    ("RU", "Russia"),
    ("SY", "Syria"),
    ("TW", "Taiwan"),
    ("TZ", "Tanzania"),
    ("US", "United States"),
    ("VA", "Vatican City"),
    ("VE", "Venezuela"),
    ("VG", "British Virgin Islands"),
    ("VI", "U.S. Virgin Islands"),
    ("VN", "Vietnam"),
    ("XK", "Kosovo"),
    ("EU", "European Union"),
];

/// The name of a country code; an unknown code reads as itself, and no country as "".
pub fn name(code: &str) -> String {
    if code.is_empty() {
        return String::new();
    }
    if let Some((_, name)) = COMMON_NAMES.iter().find(|(c, _)| *c == code) {
        return (*name).to_owned();
    }
    isocountry::CountryCode::for_alpha2(code)
        .map(|c| c.name().to_owned())
        .unwrap_or_else(|_| code.to_owned())
}

/// Every code with a name: ISO 3166-1's and the extra ones above.
fn codes() -> Vec<String> {
    let mut codes: Vec<String> = isocountry::CountryCode::iter()
        .map(|c| c.alpha2().to_owned())
        .collect();
    for (code, _) in COMMON_NAMES {
        if !codes.iter().any(|c| c == code) {
            codes.push(code.to_owned());
        }
    }
    codes
}

/// Whether a query reads country names.
pub fn mentioned(dimensions: &[Dimension], filter: Option<&Filter>) -> bool {
    let by_name = Dimension::Visit(VisitField::CountryName);
    dimensions.contains(&by_name)
        || filter.is_some_and(|f| f.conditions().iter().any(|c| *c.dimension == by_name))
}

/// The filter with conditions on country names turned into conditions on codes. `matches`
/// patterns are tried against the names with `is_match` (DuckDB's RE2 and Rust's `regex` agree
/// on the syntax the API accepts; a pattern neither compiles was refused before).
pub fn names_as_codes(filter: &Filter, is_match: &dyn Fn(&str, &str) -> bool) -> Filter {
    match filter {
        Filter::And(parts) => {
            Filter::And(parts.iter().map(|p| names_as_codes(p, is_match)).collect())
        }
        Filter::Or(parts) => {
            Filter::Or(parts.iter().map(|p| names_as_codes(p, is_match)).collect())
        }
        Filter::Not(inner) => Filter::Not(Box::new(names_as_codes(inner, is_match))),
        Filter::HasDone { negated, inner } => Filter::HasDone {
            negated: *negated,
            inner: Box::new(names_as_codes(inner, is_match)),
        },
        Filter::Condition {
            operator,
            dimension: Dimension::Visit(VisitField::CountryName),
            clauses,
            case_sensitive,
        } => {
            let mut matching: Vec<String> = std::iter::once(String::new())
                .chain(codes())
                .filter(|code| {
                    operator.any_clause_matches(&name(code), clauses, *case_sensitive, is_match)
                })
                .collect();
            // A condition needs a clause; a code no event has stands for "none".
            if matching.is_empty() {
                matching.push("-".to_owned());
            }
            Filter::Condition {
                operator: if operator.is_negated() {
                    Operator::IsNot
                } else {
                    Operator::Is
                },
                dimension: Dimension::Visit(VisitField::Country),
                clauses: matching,
                case_sensitive: true,
            }
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_short_english_ones() {
        assert_eq!(name("DE"), "Germany");
        assert_eq!(name("US"), "United States");
        assert_eq!(name("GB"), "United Kingdom");
        assert_eq!(name("KR"), "South Korea");
        assert_eq!(name("XK"), "Kosovo");
        assert_eq!(name("ZZ"), "ZZ");
        assert_eq!(name(""), "");
    }

    #[test]
    fn filters_on_names_become_filters_on_codes() {
        let no_regex = |_: &str, _: &str| false;
        let filter = Filter::Condition {
            operator: Operator::ContainsNot,
            dimension: Dimension::Visit(VisitField::CountryName),
            clauses: vec!["united".into()],
            case_sensitive: false,
        };
        match names_as_codes(&filter, &no_regex) {
            Filter::Condition {
                operator: Operator::IsNot,
                dimension: Dimension::Visit(VisitField::Country),
                clauses,
                ..
            } => {
                for code in ["US", "GB", "AE", "TZ"] {
                    assert_eq!(clauses.contains(&code.to_owned()), code != "TZ", "{code}");
                }
            }
            other => panic!("{other:?}"),
        }
    }
}
