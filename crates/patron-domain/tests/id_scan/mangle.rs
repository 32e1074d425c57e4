//! What keyboard-wedge scanners and copy-paste do to a scan, applied to every
//! card of the corpus. Each fixed variant must still give every expected field
//! of the card, and those that lose no information exactly what the clean scan
//! gives; the random ones (separators remapped or lost here and there) must
//! keep the names, date of birth, number, expiry and address.

use crate::corpus::{Card, cards, encode, encode_with};
use crate::mismatches;
use patron_domain::id_scan::parse_aamva;
use proptest::prelude::*;

/// Replaces the standard's separators: LF, RS, CR.
fn seps(s: &str, lf: &str, rs: &str, cr: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str(lf),
            '\x1e' => out.push_str(rs),
            '\r' => out.push_str(cr),
            c => out.push(c),
        }
    }
    out
}

fn all_seps(s: &str, to: &str) -> String {
    seps(s, to, to, to)
}

/// Overwrites every directory entry's offset and length.
fn wrong_offsets(card: &Card, s: &str, digits: &str) -> String {
    let header = if card.version >= 2 { 21 } else { 19 };
    let entries = if card.z.is_some() { 2 } else { 1 };
    let mut chars: Vec<char> = s.chars().collect();
    for k in 0..entries {
        for (i, d) in digits.chars().enumerate() {
            chars[header + k * 10 + 2 + i] = d;
        }
    }
    chars.into_iter().collect()
}

/// The card's elements in another order: reversed, then rotated by three.
fn shuffled(card: &Card) -> String {
    let mut els: Vec<(&str, &str)> = card.elements.to_vec();
    els.reverse();
    let by = 3 % els.len();
    els.rotate_left(by);
    encode_with(card, &els)
}

/// What a wedge scanner types with Caps Lock on.
fn swap_case(c: char) -> char {
    if c.is_ascii_lowercase() {
        c.to_ascii_uppercase()
    } else {
        c.to_ascii_lowercase()
    }
}

type Mangle = fn(&Card) -> String;

/// (name, mangling, whether it loses information).
fn variants() -> Vec<(&'static str, Mangle, bool)> {
    vec![
        ("separators -> LF", |c| all_seps(&encode(c), "\n"), false),
        (
            "separators -> CRLF",
            |c| all_seps(&encode(c), "\r\n"),
            false,
        ),
        ("separators -> CR", |c| all_seps(&encode(c), "\r"), false),
        ("separators -> tab", |c| all_seps(&encode(c), "\t"), false),
        (
            "CR -> CRLF (wedge)",
            |c| seps(&encode(c), "\n", "\x1e", "\r\n"),
            false,
        ),
        ("RS dropped", |c| seps(&encode(c), "\n", "", "\r"), false),
        ("separators -> space", |c| all_seps(&encode(c), " "), true),
        ("separators dropped", |c| all_seps(&encode(c), ""), true),
        ("noise ]L2 before @", |c| format!("]L2{}", encode(c)), false),
        (
            "noise STX before @",
            |c| format!("\x02{}", encode(c)),
            false,
        ),
        (
            "noise text before @",
            |c| format!("scan 42: #@! {}", encode(c)),
            false,
        ),
        (
            "noise between @ and ANSI",
            |c| encode(c).replacen("\rANSI", "\r%%zq ANSI", 1),
            false,
        ),
        ("@ missing", |c| encode(c).replacen('@', "", 1), false),
        (
            "@ then odd characters",
            |c| encode(c).replacen("@\n\x1e\r", "@a\x1c ", 1),
            false,
        ),
        (
            "AAMVA instead of ANSI",
            |c| encode(c).replacen("ANSI ", "AAMVA", 1),
            false,
        ),
        (
            "trailing control garbage",
            |c| format!("{}\x03\x04 garbage 123", encode(c)),
            false,
        ),
        (
            "trailing text line",
            |c| format!("{}\nGARBAGE LINE", encode(c)),
            false,
        ),
        (
            "offsets zeroed",
            |c| wrong_offsets(c, &encode(c), "00000000"),
            false,
        ),
        (
            "offsets wrong",
            |c| wrong_offsets(c, &encode(c), "99990001"),
            false,
        ),
        ("elements shuffled", shuffled, false),
        (
            "Caps Lock on",
            |c| encode(c).chars().map(swap_case).collect(),
            false,
        ),
        (
            "dropped + noise + trailing garbage",
            |c| format!("]L2{}\x04", all_seps(&encode(c), "")),
            true,
        ),
        ("space + shuffled", |c| all_seps(&shuffled(c), " "), true),
        (
            "CRLF + wrong offsets + no @",
            |c| all_seps(&wrong_offsets(c, &encode(c), "12345678"), "\r\n").replacen('@', "", 1),
            false,
        ),
        (
            "dropped + AAMVA + offsets zeroed",
            |c| {
                all_seps(&wrong_offsets(c, &encode(c), "00000000"), "")
                    .replacen("ANSI ", "AAMVA", 1)
            },
            true,
        ),
    ]
}

#[test]
fn mangled_scans_parse() {
    let mut failures = Vec::new();
    let mut runs = 0;
    for card in cards() {
        let clean = parse_aamva(&encode(&card)).unwrap();
        for (name, mangle, lossy) in variants() {
            runs += 1;
            let text = mangle(&card);
            let got = match parse_aamva(&text) {
                Ok(got) => got,
                Err(e) => {
                    failures.push(format!("{} / {name}: {e}", card.name));
                    continue;
                }
            };
            if !lossy && got != clean {
                failures.push(format!(
                    "{} / {name}: differs from the clean scan: {:?}",
                    card.name,
                    mismatches(&card, &got)
                ));
                continue;
            }
            for m in mismatches(&card, &got) {
                failures.push(format!("{} / {name}: {m}", card.name));
            }
        }
    }
    assert!(runs >= 400);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Key fields that must survive a mangling.
fn key_mismatches(card: &Card, text: &str) -> Vec<String> {
    const KEY: &[&str] = &[
        "first", "middle", "last", "dob", "number", "expiry", "line1", "city", "postal",
    ];
    match parse_aamva(text) {
        Ok(got) => mismatches(card, &got)
            .into_iter()
            .filter(|m| KEY.iter().any(|k| m.starts_with(&format!("{k}:"))))
            .collect(),
        Err(e) => vec![e.to_string()],
    }
}

const WEDGE: [&str; 6] = ["\n", "\r\n", "\r", "\t", " ", ""];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A scanner maps each separator character its own way: LF to a space and
    /// CR to Enter, RS to nothing, and so on.
    #[test]
    fn any_consistent_separator_mapping(card in 0usize..64, lf in 0usize..6, rs in 0usize..6, cr in 0usize..6) {
        let all = cards();
        let card = &all[card % all.len()];
        let text = seps(&encode(card), WEDGE[lf], WEDGE[rs], WEDGE[cr]);
        let m = key_mismatches(card, &text);
        prop_assert!(m.is_empty(), "{}: {:?}\n{:?}", card.name, m, text);
    }

    /// Separators lost or doubled here and there (but not turned into
    /// spaces, which inside a separated record read as part of a value).
    #[test]
    fn separators_lost_at_random(card in 0usize..64, choices in proptest::collection::vec(0usize..4, 64)) {
        let all = cards();
        let card = &all[card % all.len()];
        let mut k = 0;
        let mut text = String::new();
        for c in encode(card).chars() {
            if matches!(c, '\n' | '\r' | '\x1e') {
                text.push_str(["\n", "\r\n", "", "\t"][choices[k % choices.len()]]);
                k += 1;
            } else {
                text.push(c);
            }
        }
        let m = key_mismatches(card, &text);
        prop_assert!(m.is_empty(), "{}: {:?}\n{:?}", card.name, m, text);
    }
}
