//! Money and rates without floats.
//!
//! Amounts are `i64` minor units (cents). Rates are basis points (1 % = 100 bp),
//! parsed from decimal text so "2.5" is exactly 250 bp. The one rounding rule,
//! used everywhere an amount is multiplied by a rate or split proportionally:
//! **half up to the minor unit** (0.5 cent rounds to 1 cent), on non-negative
//! amounts.

use crate::error::FieldError;
use std::fmt;

/// A percentage with two decimals, stored as basis points, 0–100 %.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent(u32);

impl Percent {
    pub const ZERO: Percent = Percent(0);
    pub const HUNDRED: Percent = Percent(10_000);

    pub fn from_bp(bp: u32) -> Result<Self, FieldError> {
        if bp > 10_000 {
            return Err(FieldError::new("", "must be between 0 and 100"));
        }
        Ok(Self(bp))
    }

    /// Parses "5", "2.5", "12.75" (at most two decimals).
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let bp = parse_decimal_2(text.trim())
            .ok_or_else(|| FieldError::new("", "must be a percentage with at most two decimals"))?;
        u32::try_from(bp)
            .ok()
            .and_then(|bp| Self::from_bp(bp).ok())
            .ok_or_else(|| FieldError::new("", "must be between 0 and 100"))
    }

    pub fn bp(self) -> u32 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `amount × self`, rounded half up. `amount` below zero is treated as zero.
    pub fn of(self, amount: i64) -> i64 {
        mul_div_half_up(amount.max(0), i64::from(self.0), 10_000)
    }

    /// `amount × self`, rounded down: for caps, which must never allow more than the rate.
    pub fn of_floor(self, amount: i64) -> i64 {
        let a = i128::from(amount.max(0));
        i64::try_from(a * i128::from(self.0) / 10_000).unwrap_or(i64::MAX)
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 100, self.0 % 100);
        if frac == 0 {
            write!(f, "{whole}")
        } else if frac % 10 == 0 {
            write!(f, "{whole}.{}", frac / 10)
        } else {
            write!(f, "{whole}.{frac:02}")
        }
    }
}

/// `a × b / d` rounded half up, for non-negative `a`, `b` and positive `d`;
/// computed in 128 bits so no intermediate overflows.
pub fn mul_div_half_up(a: i64, b: i64, d: i64) -> i64 {
    if d <= 0 || a <= 0 || b <= 0 {
        return 0;
    }
    let (a, b, d) = (i128::from(a), i128::from(b), i128::from(d));
    i64::try_from((a * b + d / 2) / d).unwrap_or(i64::MAX)
}

/// `a × b / d` rounded down (non-negative inputs).
pub fn mul_div_floor(a: i64, b: i64, d: i64) -> i64 {
    if d <= 0 || a <= 0 || b <= 0 {
        return 0;
    }
    let (a, b, d) = (i128::from(a), i128::from(b), i128::from(d));
    i64::try_from(a * b / d).unwrap_or(i64::MAX)
}

/// Parses a decimal with at most two fractional digits into hundredths
/// ("12" → 1200, "0.5" → 50, "-3.25" → -325). No exponent, no separators.
pub fn parse_decimal_2(text: &str) -> Option<i64> {
    parse_decimal(text, 2)
}

/// Reads an amount as other systems export it, into hundredths: a currency
/// sign or code around it (`$1,234.56`, `1 234,56 грн`, `USD 12`), thousands
/// separators (`,` `.` space, apostrophe), a decimal comma. The last `,` or `.`
/// is the decimal mark when one to two digits follow it; otherwise every
/// separator groups thousands. A leading `-` or parentheses make it negative.
/// `None`: not an amount with at most two decimals.
pub fn parse_exported_amount(text: &str) -> Option<i64> {
    let t = text.trim();
    let (neg, t) = match t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        Some(inner) => (true, inner.trim()),
        None => (false, t),
    };
    // The number is the run from the first digit (or a sign before it) to the last digit.
    let start = t.find(|c: char| c.is_ascii_digit())?;
    let end = t.rfind(|c: char| c.is_ascii_digit())? + 1;
    let (before, number, after) = (&t[..start], &t[start..end], &t[end..]);
    let neg = neg || before.contains('-');
    // Around the number only a currency: no digits, no second number, short.
    let is_currency = |s: &str| {
        let s = s.trim().trim_end_matches('-').trim();
        s.chars().count() <= 4
            && s.chars()
                .all(|c| !c.is_ascii_digit() && c != '.' && c != ',')
    };
    if !is_currency(before) || !is_currency(after) {
        return None;
    }
    let separators = |c: char| matches!(c, ',' | '.' | ' ' | '\u{a0}' | '\u{202f}' | '\'');
    if !number.chars().all(|c| c.is_ascii_digit() || separators(c)) {
        return None;
    }
    let decimal_at = number.rfind([',', '.']).filter(|&i| {
        let tail = &number[i + 1..];
        (1..=2).contains(&tail.len()) && tail.chars().all(|c| c.is_ascii_digit())
    });
    let (int, frac) = match decimal_at {
        Some(i) => (&number[..i], &number[i + 1..]),
        None => (number, ""),
    };
    // Grouping is one separator between groups of three digits, or none.
    let groups: Vec<&str> = int.split(separators).collect();
    let marks: Vec<char> = int.chars().filter(|c| separators(*c)).collect();
    if groups.len() > 1
        && (marks.iter().any(|m| *m != marks[0])
            || !(1..=3).contains(&groups[0].len())
            || groups[1..].iter().any(|g| g.len() != 3))
    {
        return None;
    }
    let digits: String = groups.concat();
    let canonical = if frac.is_empty() {
        digits
    } else {
        format!("{digits}.{frac}")
    };
    let v = parse_decimal(&canonical, 2)?;
    Some(if neg { -v } else { v })
}

/// Parses a decimal with at most `places` fractional digits into units of
/// 10^-places, exactly.
pub fn parse_decimal(text: &str, places: u32) -> Option<i64> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > places as usize
        || (body.contains('.') && frac.is_empty())
        || int.len() > 15
    {
        return None;
    }
    let scale = 10i64.checked_pow(places)?;
    let int_v: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut frac_v: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..places as usize {
        frac_v = frac_v.checked_mul(10)?;
    }
    let v = int_v.checked_mul(scale)?.checked_add(frac_v)?;
    Some(if neg { -v } else { v })
}

/// Splits `total` over `weights` in proportion, rounding so the parts add up to
/// `total` exactly (largest remainder; ties go to the earlier weight).
pub fn allocate(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|w| i128::from((*w).max(0))).sum();
    if sum == 0 || total <= 0 {
        return vec![0; weights.len()];
    }
    let total_i = i128::from(total);
    let mut parts: Vec<i64> = Vec::with_capacity(weights.len());
    let mut rems: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let num = total_i * i128::from((*w).max(0));
        parts.push(i64::try_from(num / sum).unwrap_or(0));
        rems.push((num % sum, i));
    }
    let given: i64 = parts.iter().sum();
    let mut left = total - given;
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rems {
        if left <= 0 {
            break;
        }
        if let Some(p) = parts.get_mut(i) {
            *p += 1;
            left -= 1;
        }
    }
    parts
}

/// Minor units (or hundredths of a point) as a decimal with two places:
/// `-150` → `-1.50`. Exact for every `i64`.
pub fn format_2(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_places_round_trip() {
        use super::{format_2, parse_decimal_2};
        for v in [0, 1, -1, 99, -150, 123_456, 10_000_000_000] {
            assert_eq!(parse_decimal_2(&format_2(v)), Some(v), "{v}");
        }
        assert_eq!(format_2(-150), "-1.50");
        assert_eq!(format_2(i64::MIN), "-92233720368547758.08");
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn percent_parses_exactly() {
        assert_eq!(Percent::parse("5").unwrap().bp(), 500);
        assert_eq!(Percent::parse("2.5").unwrap().bp(), 250);
        assert_eq!(Percent::parse("12.75").unwrap().bp(), 1275);
        assert_eq!(Percent::parse("100").unwrap().bp(), 10_000);
        for bad in ["", "-1", "100.01", "1.234", "1e2", "abc", ".", "5.", "1,5"] {
            assert!(Percent::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Percent::parse("2.5").unwrap().to_string(), "2.5");
        assert_eq!(Percent::parse("12.75").unwrap().to_string(), "12.75");
    }

    #[test]
    fn rounding_is_half_up_to_the_cent() {
        let five = Percent::parse("5").unwrap();
        assert_eq!(five.of(1010), 51); // 50.5 → 51
        assert_eq!(five.of(1009), 50); // 50.45 → 50
        assert_eq!(five.of(30), 2); // 1.5 → 2
        assert_eq!(five.of(29), 1); // 1.45 → 1
        assert_eq!(Percent::parse("2.5").unwrap().of(20), 1); // 0.5 → 1
        assert_eq!(Percent::parse("2.5").unwrap().of(19), 0); // 0.475 → 0
        assert_eq!(five.of(-100), 0);
        assert_eq!(five.of_floor(30), 1);
    }

    #[test]
    fn exported_amounts() {
        for (text, want) in [
            ("$1,234.56", Some(123_456)),
            ("1234.56", Some(123_456)),
            ("1 234,56 грн", Some(123_456)),
            ("1.234,5", Some(123_450)),
            ("USD 12", Some(1_200)),
            ("€0.99", Some(99)),
            ("1,234", Some(123_400)),
            ("12,5", Some(1_250)),
            ("(3.00)", Some(-300)),
            ("-$4.10", Some(-410)),
            ("0", Some(0)),
            ("", None),
            ("abc", None),
            ("1.234.567,891", None),
            ("12 or 13", None),
            ("1e5", None),
        ] {
            assert_eq!(parse_exported_amount(text), want, "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn exported_amounts_never_panic(s in "\\PC{0,40}") {
            let _ = parse_exported_amount(&s);
        }

        #[test]
        fn exported_amounts_read_plain_decimals(v in 0i64..10_000_000_000) {
            let text = format!("{}.{:02}", v / 100, v % 100);
            proptest::prop_assert_eq!(parse_exported_amount(&text), Some(v));
        }
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("1.5", 3), Some(1500));
        assert_eq!(parse_decimal("0.001", 3), Some(1));
        assert_eq!(parse_decimal("0.0001", 3), None);
        assert_eq!(parse_decimal("-2", 2), Some(-200));
        assert_eq!(parse_decimal("99999999999999999999", 2), None);
    }

    proptest! {
        #[test]
        fn allocation_adds_up_and_is_proportional(total in 0i64..10_000_000, weights in proptest::collection::vec(0i64..1_000_000, 1..20)) {
            let parts = allocate(total, &weights);
            let sum: i64 = weights.iter().sum();
            if sum > 0 {
                prop_assert_eq!(parts.iter().sum::<i64>(), total);
                for (p, w) in parts.iter().zip(&weights) {
                    let exact = total as f64 * *w as f64 / sum as f64;
                    prop_assert!((*p as f64 - exact).abs() < 1.0 + 1e-9);
                }
            } else {
                prop_assert!(parts.iter().all(|p| *p == 0));
            }
        }

        #[test]
        fn percent_of_never_exceeds_amount(amount in 0i64..1_000_000_000_000, bp in 0u32..=10_000) {
            let p = Percent::from_bp(bp).unwrap();
            prop_assert!(p.of(amount) <= amount);
            prop_assert!(p.of_floor(amount) <= p.of(amount));
        }
    }
}
