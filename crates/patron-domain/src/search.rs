//! Search keys: what a customer is stored under so that one query box finds them
//! by name, phone, email or code, ignoring case and accents.
//!
//! Everything is folded to lowercase ASCII letters, digits and single spaces.
//! Both the stored keys and the query go through the same [`fold`], which is what
//! makes "muller" find "Müller" and "jean luc" find "Jean-Luc".

use crate::code::CustomerCode;
use crate::phone::{Phone, PhoneRegion};

/// Separates last and first name in the sort key. Lower than any folded character,
/// so "Van" sorts before "Van Berg" and "Smith" before "Smithson".
pub const SORT_SEPARATOR: char = '\u{1}';

/// Folds text for matching: transliterate to ASCII, lowercase, drop apostrophes,
/// turn any other punctuation into a space, collapse spaces.
pub fn fold(input: &str) -> String {
    let ascii = deunicode::deunicode(input);
    let mut out = String::with_capacity(ascii.len());
    let mut pending_space = false;
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c.to_ascii_lowercase());
        } else if c == '\'' || c == '`' {
            // O'Brien, D`Angelo: typed without the apostrophe at the register.
        } else {
            pending_space = true;
        }
    }
    out
}

/// The keys a customer is stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchKeys {
    pub first: String,
    pub last: String,
    /// "first last", for a query like "ann lee".
    pub full: String,
    /// The first [`NAME_HEAD_LEN`] characters of `full`: an equality key whose
    /// index can be read in alphabetical order (see the storage's search).
    pub head: String,
    /// last, separator, first: the alphabetical order of every list.
    pub sort: String,
    /// Lowercased email, if any.
    pub email: Option<String>,
    /// E.164 digits reversed, if any.
    pub phone_reversed: Option<String>,
}

impl SearchKeys {
    pub fn new(first: &str, last: &str, email: Option<&str>, phone: Option<&Phone>) -> Self {
        let first = fold(first);
        let last = fold(last);
        let full = format!("{first} {last}");
        Self {
            head: name_head(&full).to_owned(),
            full,
            sort: format!("{last}{SORT_SEPARATOR}{first}"),
            first,
            last,
            email: email.map(str::to_lowercase),
            phone_reversed: phone.map(Phone::reversed_digits),
        }
    }
}

/// How many leading characters of the folded name form its `head` key.
pub const NAME_HEAD_LEN: usize = 3;

/// The head key of a folded name or query (folded text is ASCII).
pub fn name_head(folded: &str) -> &str {
    &folded[..folded.len().min(NAME_HEAD_LEN)]
}

/// The smallest string greater than every string that starts with `prefix`,
/// so a prefix match is the index range `prefix <= key < upper`.
pub fn prefix_upper_bound(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// What one query-box input can mean. A query may be several things at once
/// ("4567" is a phone suffix and a code number); the storage looks up each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchQuery {
    /// Folded text for name prefix/substring matching (empty when none).
    pub text: String,
    /// Lowercased raw text for email prefix/substring matching.
    pub email: Option<String>,
    /// Reversed digits when the input looks like (the end of) a phone number.
    pub phone_suffix_reversed: Option<String>,
    /// Full E.164 form when the input parses as a phone number in the region.
    pub phone_e164: Option<String>,
    /// Uppercased input for code prefix matching.
    pub code_prefix: Option<String>,
    /// A bare number typed for a code (`42` finds `CUST-00042`).
    pub code_number: Option<u64>,
}

/// The fewest digits that make a phone-suffix lookup (fewer match too many people).
pub const MIN_PHONE_SUFFIX_DIGITS: usize = 4;

impl SearchQuery {
    pub fn parse(input: &str, region: PhoneRegion) -> Self {
        // Control characters cannot be typed into a search box and break SQL
        // full-text query parsers (NUL ends a C string).
        let cleaned: String = input.chars().filter(|c| !c.is_control()).collect();
        let raw = cleaned.trim();
        if raw.is_empty() || raw.chars().count() > 100 {
            return Self::default();
        }
        let text = fold(raw);
        let looks_like_phone = raw
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        let phone_suffix_reversed = (looks_like_phone && digits.len() >= MIN_PHONE_SUFFIX_DIGITS)
            .then(|| digits.chars().rev().collect());
        let phone_e164 = if looks_like_phone && digits.len() >= 6 {
            Phone::parse(raw, region)
                .ok()
                .map(|p| p.as_e164().to_owned())
        } else {
            None
        };
        let email = (!raw.contains(char::is_whitespace)).then(|| raw.to_lowercase());
        let code_prefix = (!raw.contains(char::is_whitespace) && raw.is_ascii())
            .then(|| CustomerCode::normalise(raw));
        let code_number = (raw.chars().all(|c| c.is_ascii_digit()) && raw.len() <= 12)
            .then(|| raw.parse().ok())
            .flatten();
        Self {
            text,
            email,
            phone_suffix_reversed,
            phone_e164,
            code_prefix,
            code_number,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
            && self.email.is_none()
            && self.phone_suffix_reversed.is_none()
            && self.code_prefix.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fold_ignores_case_accents_and_punctuation() {
        assert_eq!(fold("Müller"), "muller");
        assert_eq!(fold("  JOSÉ  Ñúñez "), "jose nunez");
        assert_eq!(fold("O'Brien"), "obrien");
        assert_eq!(fold("Jean-Luc"), "jean luc");
        assert_eq!(fold("Łukasz Żółć"), "lukasz zolc");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("!!!"), "");
    }

    #[test]
    fn sort_key_orders_by_last_then_first() {
        let a = SearchKeys::new("Zed", "Van", None, None).sort;
        let b = SearchKeys::new("Al", "Van Berg", None, None).sort;
        let c = SearchKeys::new("Al", "Smithson", None, None).sort;
        let d = SearchKeys::new("Zed", "Smith", None, None).sort;
        let mut v = vec![a.clone(), b.clone(), c.clone(), d.clone()];
        v.sort();
        assert_eq!(v, vec![d, c, a, b]);
    }

    #[test]
    fn query_kinds() {
        let us = PhoneRegion::default();
        let q = SearchQuery::parse("(201) 555-0123", us);
        assert_eq!(q.phone_e164.as_deref(), Some("+12015550123"));
        assert_eq!(q.phone_suffix_reversed.as_deref(), Some("3210555102"));
        let q = SearchQuery::parse("0123", us);
        assert_eq!(q.phone_suffix_reversed.as_deref(), Some("3210"));
        assert_eq!(q.code_number, Some(123));
        let q = SearchQuery::parse("cust-0004", us);
        assert_eq!(q.code_prefix.as_deref(), Some("CUST-0004"));
        assert_eq!(q.phone_suffix_reversed, None);
        let q = SearchQuery::parse("Ann Lee", us);
        assert_eq!(q.text, "ann lee");
        assert_eq!(q.email, None);
        assert!(SearchQuery::parse("   ", us).is_empty());
        assert_eq!(
            SearchQuery::parse("a\u{0}b", us).email.as_deref(),
            Some("ab")
        );
    }

    proptest! {
        #[test]
        fn fold_is_idempotent_and_ascii(s in "\\PC{0,40}") {
            let f = fold(&s);
            prop_assert!(f.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == ' '));
            prop_assert_eq!(fold(&f), f.clone());
        }

        #[test]
        fn query_parse_never_panics(s in "\\PC{0,120}") {
            let _ = SearchQuery::parse(&s, PhoneRegion::default());
        }
    }
}
