//! Element values to app values: cleaning, dates in either order, names in
//! their three generations (v1 full name, v2–v3 given names, v4+ parts), postal
//! codes, sex.

use super::Sex;
use time::{Date, Month};

/// Words cards put where a value is missing.
const ABSENT: &[&str] = &["NONE", "UNAVL", "UNAVAIL", "UNAVAILABLE"];

/// Trims, drops control characters, collapses inner whitespace; `None` for an
/// empty value or one of the "no value" words.
pub(crate) fn clean(raw: &str) -> Option<String> {
    let s = raw
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if s.is_empty() || ABSENT.iter().any(|a| a.eq_ignore_ascii_case(&s)) {
        None
    } else {
        Some(s)
    }
}

/// A name part: cleaned, with the stray commas and `$` some cards leave around
/// it (`DCSTESTER,`) removed.
pub(crate) fn clean_name(raw: &str) -> Option<String> {
    clean(raw.trim_matches(|c: char| c == ',' || c == '$' || c.is_whitespace()))
}

/// The order of a card's eight-digit dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateOrder {
    /// MMDDCCYY: US cards from version 2 on.
    MonthDayYear,
    /// CCYYMMDD: version 1, and Canadian cards.
    YearMonthDay,
}

/// Parses an eight-digit date, in `expected` order if that gives a real date
/// with a plausible year, else in the other order (cards do not always follow
/// their version's rule). Separators (`1985-01-07`) are tolerated; a value
/// that is not eight digits is not a date.
pub(crate) fn parse_date(raw: &str, expected: DateOrder) -> Option<Date> {
    let t = raw.trim();
    let lead = t.chars().take_while(char::is_ascii_digit).count();
    let digits: Vec<u32> = if lead == 8 {
        t.chars().take(8).filter_map(|c| c.to_digit(10)).collect()
    } else if t.chars().count() <= 10
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '/' | '.'))
    {
        t.chars().filter_map(|c| c.to_digit(10)).collect()
    } else {
        return None;
    };
    let [a, b, c, d, e, f, g, h] = digits.as_slice() else {
        return None;
    };
    let ymd = (a * 1000 + b * 100 + c * 10 + d, e * 10 + f, g * 10 + h);
    let mdy = (e * 1000 + f * 100 + g * 10 + h, a * 10 + b, c * 10 + d);
    let (first, second) = match expected {
        DateOrder::YearMonthDay => (ymd, mdy),
        DateOrder::MonthDayYear => (mdy, ymd),
    };
    make_date(first).or_else(|| make_date(second))
}

fn make_date((year, month, day): (u32, u32, u32)) -> Option<Date> {
    if !(1850..=2199).contains(&year) {
        return None;
    }
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()
}

/// Splits a version 1 full name (DAA). With commas or `$` it is
/// `LAST,FIRST,MIDDLE[,SUFFIX]`; with spaces only it is taken as printed,
/// `FIRST [MIDDLE…] LAST` (seen on Pennsylvania cards; a guess for others).
/// Returns (last, first, middle, suffix).
pub(crate) fn split_full_name(
    s: &str,
) -> (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    if s.contains([',', '$']) {
        let parts: Vec<&str> = s.split([',', '$']).collect();
        let part = |i: usize| parts.get(i).and_then(|p| clean_name(p));
        let (mut first, mut middle) = (part(1), part(2));
        if parts.len() == 2
            && let Some((f, m)) = first.as_deref().and_then(split_given)
        {
            (first, middle) = (Some(f), m);
        }
        (part(0), first, middle, part(3))
    } else {
        let words: Vec<&str> = s.split_whitespace().collect();
        match words.as_slice() {
            [] => (None, None, None, None),
            [last] => (clean_name(last), None, None, None),
            [first, rest @ .., last] => (
                clean_name(last),
                clean_name(first),
                clean_name(&rest.join(" ")),
                None,
            ),
        }
    }
}

/// Splits v2–v3 given names (DCT): `FIRST,MIDDLE` or `FIRST MIDDLE`.
/// `None` when there is nothing to split.
pub(crate) fn split_given(s: &str) -> Option<(String, Option<String>)> {
    let s = s.trim();
    let (first, rest) = match s.split_once([',', '$']) {
        Some(pair) => pair,
        None => s.split_once(' ').unwrap_or((s, "")),
    };
    Some((clean_name(first)?, clean_name(rest)))
}

/// Normalises a postal code: Canadian `A1B2C3` becomes `A1B 2C3`; a US ZIP
/// loses its padding and becomes `12345` or `12345-6789`, with a `0000` plus-4
/// (what cards without one encode) dropped. Anything else is returned cleaned
/// and uppercased.
pub fn normalize_postal_code(raw: &str) -> Option<String> {
    let cleaned = clean(raw)?.to_uppercase();
    let compact: Vec<char> = cleaned
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if let [a, b, c, d, e, f] = compact.as_slice() {
        let canadian = [a, c, e].iter().all(|x| x.is_ascii_uppercase())
            && [b, d, f].iter().all(|x| x.is_ascii_digit());
        if canadian {
            return Some(format!("{a}{b}{c} {d}{e}{f}"));
        }
    }
    if !compact.is_empty() && compact.iter().all(char::is_ascii_digit) && compact.len() >= 5 {
        let zip: String = compact.iter().take(5).collect();
        let plus4: String = compact.iter().skip(5).take(4).collect();
        return Some(if plus4.len() == 4 && plus4 != "0000" {
            format!("{zip}-{plus4}")
        } else {
            zip
        });
    }
    Some(cleaned)
}

pub(crate) fn parse_sex(raw: &str) -> Option<Sex> {
    match clean(raw)?.to_ascii_uppercase().as_str() {
        "1" | "M" | "MALE" => Some(Sex::Male),
        "2" | "F" | "FEMALE" => Some(Sex::Female),
        "X" => Some(Sex::X),
        "9" | "0" | "U" => Some(Sex::NotSpecified),
        _ => None,
    }
}

/// A yes/no indicator: `1` or `Y` (or `YES`) is yes.
pub(crate) fn is_yes(raw: &str) -> bool {
    clean(raw).is_some_and(|v| matches!(v.to_ascii_uppercase().as_str(), "1" | "Y" | "YES"))
}

/// Roman-numeral suffixes keep their capitals.
const NUMERALS: &[&str] = &["II", "III", "IV", "VI", "VII", "VIII", "IX"];

/// A name as people write it: `O'NEIL` → `O'Neil`, `JEAN-LUC` → `Jean-Luc`,
/// `MCDONALD` → `Mcdonald` (no guessing at inner capitals), `III` stays.
/// A letter is capitalised when it starts the name or follows a non-letter.
pub fn nice_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (k, word) in name.split_whitespace().enumerate() {
        if k > 0 {
            out.push(' ');
        }
        if NUMERALS.iter().any(|n| n.eq_ignore_ascii_case(word)) {
            out.push_str(&word.to_uppercase());
            continue;
        }
        let mut after_letter = false;
        for c in word.chars() {
            if after_letter {
                out.extend(c.to_lowercase());
            } else {
                out.extend(c.to_uppercase());
            }
            after_letter = c.is_alphabetic();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn clean_trims_collapses_and_knows_absent_words() {
        assert_eq!(clean("  123   MAIN\tST  ").as_deref(), Some("123 MAIN ST"));
        assert_eq!(clean("NONE"), None);
        assert_eq!(clean("unavl"), None);
        assert_eq!(clean("Unavail"), None);
        assert_eq!(clean(" \r\n"), None);
        assert_eq!(clean_name("TESTER,").as_deref(), Some("TESTER"));
        assert_eq!(clean_name(",").as_deref(), None);
    }

    #[test]
    fn date_order_us_and_canada() {
        use DateOrder::*;
        // A US v2+ card writes MMDDCCYY.
        assert_eq!(
            parse_date("01071985", MonthDayYear),
            Some(date!(1985 - 01 - 07))
        );
        // The same digits on a Canadian card would be CCYYMMDD and invalid, so
        // the other order is taken.
        assert_eq!(
            parse_date("01071985", YearMonthDay),
            Some(date!(1985 - 01 - 07))
        );
        assert_eq!(
            parse_date("19850107", YearMonthDay),
            Some(date!(1985 - 01 - 07))
        );
        assert_eq!(
            parse_date("19850107", MonthDayYear),
            Some(date!(1985 - 01 - 07))
        );
        // Ambiguous-looking digits resolve by the expected order.
        assert_eq!(
            parse_date("20120304", YearMonthDay),
            Some(date!(2012 - 03 - 04))
        );
        assert_eq!(
            parse_date("03042012", MonthDayYear),
            Some(date!(2012 - 03 - 04))
        );
        assert_eq!(
            parse_date("1985-01-07", YearMonthDay),
            Some(date!(1985 - 01 - 07))
        );
        assert_eq!(
            parse_date(" 02292024 ", MonthDayYear),
            Some(date!(2024 - 02 - 29))
        );
        assert_eq!(parse_date("02292023", MonthDayYear), None);
        assert_eq!(parse_date("00000000", MonthDayYear), None);
        assert_eq!(parse_date("99999999", MonthDayYear), None);
        assert_eq!(parse_date("0107198", MonthDayYear), None);
        assert_eq!(parse_date("010719851", MonthDayYear), None);
        assert_eq!(
            parse_date("01071985ZZ", MonthDayYear),
            Some(date!(1985 - 01 - 07))
        );
        assert_eq!(parse_date("", MonthDayYear), None);
    }

    #[test]
    fn full_names_of_version_1() {
        let s = |v: Option<String>| v.unwrap_or_default();
        let (l, f, m, x) = split_full_name("MOTORIST,MICHAEL,G");
        assert_eq!(
            (s(l), s(f), s(m), x),
            ("MOTORIST".into(), "MICHAEL".into(), "G".into(), None)
        );
        let (l, f, m, x) = split_full_name("PUBLIC$JOHN$Q$JR");
        assert_eq!(
            (s(l), s(f), s(m), s(x)),
            ("PUBLIC".into(), "JOHN".into(), "Q".into(), "JR".into())
        );
        let (l, f, m, _) = split_full_name("SMITH,JOHN PAUL");
        assert_eq!(
            (s(l), s(f), s(m)),
            ("SMITH".into(), "JOHN".into(), "PAUL".into())
        );
        let (l, f, m, _) = split_full_name("JOHN P SMITH");
        assert_eq!(
            (s(l), s(f), s(m)),
            ("SMITH".into(), "JOHN".into(), "P".into())
        );
        let (l, f, m, _) = split_full_name("SMITH,JANE,");
        assert_eq!((s(l), s(f), m), ("SMITH".into(), "JANE".into(), None));
        assert_eq!(split_full_name(" "), (None, None, None, None));
    }

    #[test]
    fn given_names_of_versions_2_and_3() {
        assert_eq!(
            split_given("MARY,ANN"),
            Some(("MARY".into(), Some("ANN".into())))
        );
        assert_eq!(
            split_given("MARY M"),
            Some(("MARY".into(), Some("M".into())))
        );
        assert_eq!(split_given("MARY"), Some(("MARY".into(), None)));
        assert_eq!(split_given("MARY,NONE"), Some(("MARY".into(), None)));
        assert_eq!(split_given(","), None);
    }

    #[test]
    fn postal_codes() {
        let n = |s| normalize_postal_code(s);
        assert_eq!(n("123450000").as_deref(), Some("12345"));
        assert_eq!(n("123456789").as_deref(), Some("12345-6789"));
        assert_eq!(n("12345  ").as_deref(), Some("12345"));
        assert_eq!(n("12345-6789").as_deref(), Some("12345-6789"));
        assert_eq!(n("0210800000  ").as_deref(), Some("02108"));
        assert_eq!(n("021080").as_deref(), Some("02108"));
        assert_eq!(n("A1B2C3").as_deref(), Some("A1B 2C3"));
        assert_eq!(n("a1b 2c3 ").as_deref(), Some("A1B 2C3"));
        assert_eq!(n("N1M 3J6    ").as_deref(), Some("N1M 3J6"));
        assert_eq!(n("1234").as_deref(), Some("1234"));
        assert_eq!(n("SW1A 1AA").as_deref(), Some("SW1A 1AA"));
        assert_eq!(n("   "), None);
        assert_eq!(n("NONE"), None);
    }

    #[test]
    fn sex_values() {
        assert_eq!(parse_sex("1"), Some(Sex::Male));
        assert_eq!(parse_sex("M"), Some(Sex::Male));
        assert_eq!(parse_sex("2"), Some(Sex::Female));
        assert_eq!(parse_sex("f"), Some(Sex::Female));
        assert_eq!(parse_sex("9"), Some(Sex::NotSpecified));
        assert_eq!(parse_sex("X"), Some(Sex::X));
        assert_eq!(parse_sex("7"), None);
        assert_eq!(parse_sex(""), None);
        assert!(is_yes("1") && is_yes("y") && is_yes(" Y ") && !is_yes("0") && !is_yes("N"));
    }

    #[test]
    fn name_casing() {
        assert_eq!(nice_case("O'NEIL"), "O'Neil");
        assert_eq!(nice_case("MCDONALD"), "Mcdonald");
        assert_eq!(nice_case("JEAN-LUC"), "Jean-Luc");
        assert_eq!(nice_case("VAN DER BERG"), "Van Der Berg");
        assert_eq!(nice_case("D'ARCY  SMITH"), "D'Arcy Smith");
        assert_eq!(nice_case("III"), "III");
        assert_eq!(nice_case("JR."), "Jr.");
        assert_eq!(nice_case("ÉLODIE"), "Élodie");
        assert_eq!(nice_case("müller"), "Müller");
        assert_eq!(nice_case(""), "");
    }
}
