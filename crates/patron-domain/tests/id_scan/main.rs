//! The AAMVA licence parser against a corpus of cards of every version, the
//! ways keyboard-wedge scanners mangle them, real-world layout quirks, and
//! arbitrary input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod corpus;
mod mangle;
mod props;
mod quirks;

use corpus::{Card, cards, encode};
use patron_domain::id_scan::{DocumentKind, LicenceData, parse_aamva};
use std::collections::HashSet;

/// Every expected field that differs, as `field: got … want …` lines.
pub fn mismatches(card: &Card, got: &LicenceData) -> Vec<String> {
    let e = &card.expect;
    let mut out = Vec::new();
    let mut check = |field: &str, got: String, want: String| {
        if got != want {
            out.push(format!("{field}: got {got}, want {want}"));
        }
    };
    let s = |v: &Option<String>| format!("{v:?}");
    let o = |v: Option<&str>| format!("{:?}", v.map(str::to_owned));
    check(
        "kind",
        format!("{:?}", got.document_kind),
        format!("{:?}", e.kind),
    );
    check("first", s(&got.first_name), o(e.first));
    check("middle", s(&got.middle_name), o(e.middle));
    check("last", s(&got.last_name), o(e.last));
    check("suffix", s(&got.suffix), o(e.suffix));
    check(
        "dob",
        format!("{:?}", got.date_of_birth),
        format!("{:?}", Some(e.dob)),
    );
    check("sex", format!("{:?}", got.sex), format!("{:?}", e.sex));
    check("number", s(&got.document_number), o(Some(e.number)));
    check(
        "jurisdiction",
        s(&got.issuing_jurisdiction),
        o(Some(e.jurisdiction)),
    );
    check("country", s(&got.issuing_country), o(Some(e.country)));
    check(
        "issued",
        format!("{:?}", got.issue_date),
        format!("{:?}", e.issued),
    );
    check(
        "expiry",
        format!("{:?}", got.expiry),
        format!("{:?}", e.expiry),
    );
    check("line1", s(&got.address.line1), o(e.line1));
    check("city", s(&got.address.city), o(e.city));
    check("region", s(&got.address.region), o(Some(e.jurisdiction)));
    check("postal", s(&got.address.postal_code), o(e.postal));
    check(
        "address country",
        s(&got.address.country),
        o(Some(e.country)),
    );
    check("veteran", got.veteran.to_string(), e.veteran.to_string());
    check(
        "version",
        format!("{:?}", got.aamva_version),
        format!("{:?}", Some(card.version)),
    );
    check("iin", s(&got.iin), o(Some(card.iin)));
    out
}

#[test]
fn every_card_parses_to_what_it_says() {
    let mut failures = Vec::new();
    for card in cards() {
        let text = encode(&card);
        match parse_aamva(&text) {
            Ok(got) => {
                for m in mismatches(&card, &got) {
                    failures.push(format!("{}: {m}", card.name));
                }
            }
            Err(e) => failures.push(format!("{}: {e}", card.name)),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn corpus_spans_versions_countries_and_kinds() {
    let all = cards();
    let versions: HashSet<u8> = all.iter().map(|c| c.version).collect();
    assert_eq!(versions, (1..=10).collect());
    let provinces: HashSet<&str> = all
        .iter()
        .filter(|c| c.expect.country == "CA")
        .map(|c| c.expect.jurisdiction)
        .collect();
    assert!(provinces.len() >= 3, "{provinces:?}");
    let states: HashSet<&str> = all
        .iter()
        .filter(|c| c.expect.country == "US")
        .map(|c| c.expect.jurisdiction)
        .collect();
    assert!(states.len() >= 8, "{states:?}");
    assert!(all.iter().any(|c| c.expect.kind == DocumentKind::IdCard));
    assert!(
        all.iter()
            .any(|c| c.expect.kind == DocumentKind::DriverLicence)
    );
    assert!(all.iter().filter(|c| c.z.is_some()).count() >= 10);
}

#[test]
fn version_10_details() {
    let all = cards();
    let mi = all.iter().find(|c| c.iin == "636032").unwrap();
    let got = parse_aamva(&encode(mi)).unwrap();
    assert!(got.name_truncated.last && !got.name_truncated.first);
    assert_eq!(got.jurisdiction_version, Some(0));
    let va = all.iter().find(|c| c.version == 1).unwrap();
    assert_eq!(parse_aamva(&encode(va)).unwrap().jurisdiction_version, None);
}
