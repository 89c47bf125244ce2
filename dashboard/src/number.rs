//! Counts as people read them on a badge: `999`, `1.2k`, `12k`, `3.4M`.

/// A count in at most four characters plus a unit. Rounded down, so a badge never claims a
/// milestone the page has not reached (1,999 reads `1.9k`, not `2.0k`).
pub fn compact(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")];
    for (size, unit) in UNITS {
        if n >= size {
            let tenths = n / (size / 10);
            return if tenths < 100 && !tenths.is_multiple_of(10) {
                format!("{}.{}{unit}", tenths / 10, tenths % 10)
            } else {
                format!("{}{unit}", tenths / 10)
            };
        }
    }
    n.to_string()
}

/// A count with thousands separators: `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_rounds_down_and_stays_short() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1_000, "1k"),
            (1_234, "1.2k"),
            (1_999, "1.9k"),
            (12_345, "12k"),
            (999_999, "999k"),
            (1_000_000, "1M"),
            (3_456_789, "3.4M"),
            (7_000_000_000, "7B"),
            (u64::MAX, "18446744073B"),
        ];
        for (n, text) in cases {
            assert_eq!(compact(n), text, "{n}");
        }
    }

    #[test]
    fn grouped_separates_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(1_234), "1,234");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(100), "100");
    }
}
