//! Whatever arrives, the parser answers without panicking and in bounded
//! time, and what it answers is clean: trimmed, control-free text.

use crate::corpus::{cards, encode};
use patron_domain::id_scan::{IdScanError, LicenceData, MAX_SCAN_BYTES, parse_aamva};
use proptest::prelude::*;
use std::time::{Duration, Instant};

/// Every text field is `None` or trimmed, non-empty and free of control
/// characters: safe for receipts, CSV and the customer record.
fn assert_clean(d: &LicenceData) {
    let a = &d.address;
    for v in [
        &d.first_name,
        &d.middle_name,
        &d.last_name,
        &d.suffix,
        &d.document_number,
        &d.issuing_jurisdiction,
        &d.issuing_country,
        &d.iin,
        &a.line1,
        &a.line2,
        &a.city,
        &a.region,
        &a.postal_code,
        &a.country,
    ]
    .into_iter()
    .flatten()
    {
        assert!(!v.is_empty() && v.trim() == v, "{v:?}");
        assert!(!v.chars().any(char::is_control), "{v:?}");
    }
    for c in [&d.issuing_country, &a.country].into_iter().flatten() {
        assert!(
            c.len() == 2 && c.chars().all(|x| x.is_ascii_uppercase()),
            "{c:?}"
        );
    }
}

fn check(text: &str) {
    if let Ok(d) = parse_aamva(text) {
        assert_clean(&d);
    }
}

/// Pieces AAMVA text is made of, to build text that keeps the parser busy:
/// element ids, subfile types, header words, digits, letters, separators.
fn token() -> impl Strategy<Value = String> {
    const IDS: &[&str] = &[
        "DAA", "DAC", "DAD", "DAG", "DAI", "DAJ", "DAK", "DAQ", "DAR", "DAU", "DAY", "DBA", "DBB",
        "DBC", "DBD", "DCA", "DCB", "DCG", "DCS", "DCT", "DDE", "DDL", "ZVZVA", "ZV", "DL", "ID",
        "ANSI ", "AAMVA", "@", "\n", "\r", "\r\n", "\x1e", "\t", " ", "|", "é", "NONE", ",",
    ];
    prop_oneof![
        proptest::sample::select(IDS).prop_map(str::to_owned),
        (0u64..10_000_000_000).prop_map(|n| n.to_string()),
        proptest::sample::select(&["A", "B", "D", "M", "X", "Z", "SMITH", "TX", "CAN"][..])
            .prop_map(str::to_owned),
    ]
}

/// An edit to a valid scan.
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    InsertText(usize, String),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), 0usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 0..12)
        )
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        (
            any::<usize>(),
            "\\PC{0,6}|D[A-D][A-Z]|[\\n\\r\\x1e ]|ANSI |DL|ZVZV"
        )
            .prop_map(|(i, s)| Edit::InsertText(i, s)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, e: &Edit) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
    match e {
        Edit::Flip(i, b) if !bytes.is_empty() => {
            let k = i % bytes.len();
            bytes[k] ^= b;
        }
        Edit::Flip(..) => {}
        Edit::Delete(i, n) => {
            let k = at(*i, bytes.len());
            let end = (k + n).min(bytes.len());
            bytes.drain(k..end);
        }
        Edit::Insert(i, b) => {
            let k = at(*i, bytes.len());
            bytes.splice(k..k, b.iter().copied());
        }
        Edit::InsertText(i, s) => {
            let k = at(*i, bytes.len());
            bytes.splice(k..k, s.bytes());
        }
        Edit::Truncate(i) => {
            let k = at(*i, bytes.len());
            bytes.truncate(k);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,600}") {
        check(&s);
    }

    #[test]
    fn arbitrary_ids_and_separators_never_panic(parts in proptest::collection::vec(token(), 0..200)) {
        check(&parts.concat());
    }

    #[test]
    fn edited_scans_never_panic(card in 0usize..64, edits in proptest::collection::vec(edit(), 1..8)) {
        let all = cards();
        let mut bytes = encode(&all[card % all.len()]).into_bytes();
        for e in &edits {
            apply(&mut bytes, e);
        }
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn noise_before_the_header_changes_nothing(card in 0usize..64, noise in "[a-z0-9 #%!\\x02\\x03]{0,30}") {
        let all = cards();
        let text = encode(&all[card % all.len()]);
        let clean = parse_aamva(&text).unwrap();
        prop_assert_eq!(parse_aamva(&format!("{noise}{text}")).unwrap(), clean);
    }

    #[test]
    fn a_scan_cut_after_its_header_is_still_a_record(card in 0usize..64, cut in 0usize..2000) {
        let all = cards();
        let chars: Vec<char> = encode(&all[card % all.len()]).chars().collect();
        let header = if all[card % all.len()].version >= 2 { 21 } else { 19 };
        let keep = header + cut % (chars.len() - header + 1);
        let text: String = chars[..keep].iter().collect();
        let d = parse_aamva(&text);
        prop_assert!(d.is_ok(), "{:?}", text);
        assert_clean(&d.unwrap());
    }
}

/// The slowest inputs there are: the longest accepted text made of nothing but
/// candidate ids, glued or spaced, with and without a header. "Bounded" here
/// is generous (a loaded two-core machine, debug build); the work is linear.
#[test]
fn worst_case_inputs_finish_quickly() {
    let fill = |unit: &str, head: &str| {
        let mut s = head.to_owned();
        while s.len() + unit.len() <= MAX_SCAN_BYTES {
            s.push_str(unit);
        }
        s
    };
    let head = "@\n\x1e\rANSI 636015080001DL00310000DL";
    let inputs = [
        fill("DAQ", ""),
        fill("DAQ", head),
        fill("DCSDACDADDAGDAIDBB", head),
        fill("DBA01012030", head),
        fill("DAG1 ", head),
        fill("D", head),
        fill("ZVZVA", head),
        fill("DLDAQ1", ""),
        fill("ANSI 6", ""),
        fill("\n", head),
        fill("é", head),
        fill("DAQ1\nDCSX\n", head),
        fill("DBADCU", head),
        fill("DAG1 DAHX DAI", head),
        fill(" ", "@\n\x1e\rANSI 636015080001DL00310000DLDAQ1DCS"),
    ];
    for text in &inputs {
        assert!(text.len() <= MAX_SCAN_BYTES);
        let start = Instant::now();
        if let Ok(d) = parse_aamva(text) {
            assert_clean(&d);
        }
        let took = start.elapsed();
        let head: String = text.chars().take(40).collect();
        assert!(took < Duration::from_secs(3), "{took:?} for {head:?}…");
    }
    let over = "A".repeat(MAX_SCAN_BYTES + 1);
    assert!(matches!(
        parse_aamva(&over),
        Err(IdScanError::TooLong { .. })
    ));
}
