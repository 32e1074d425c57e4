//! Driver's licence and ID card scans: the text a PDF417 reader types from the
//! back of a North American card (the AAMVA DL/ID Card Design Standard,
//! versions 1 to 10), turned into what the register needs to find or create a
//! customer and record the document.
//!
//! Scans arrive through keyboard-wedge scanners that rewrite the standard's
//! separators, add noise and drop characters, so [`parse_aamva`] never relies on
//! positions: it searches for the header, the DL/ID subfile and the element ids
//! (see `aamva`), and a card with a header but missing elements still parses,
//! with those fields `None`. It is pure: no I/O, bounded work (inputs over
//! [`MAX_SCAN_BYTES`] are refused before any), and it does not panic.

mod aamva;
mod elements;
mod jurisdictions;
mod values;

pub use jurisdictions::{JURISDICTIONS, Jurisdiction, jurisdiction_by_code, jurisdiction_by_iin};
pub use values::{nice_case, normalize_postal_code};

use crate::customer::{Address, IdDocument};
use std::collections::HashMap;
use time::Date;
use values::{DateOrder, clean, clean_name, parse_date, parse_sex, split_full_name, split_given};

/// The longest scan accepted. A PDF417 symbol holds under 2 KB; 16 KiB leaves
/// room for noise without letting a paste of a whole file through.
pub const MAX_SCAN_BYTES: usize = 16 * 1024;

/// Which subfile the card carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// `DL` subfile.
    DriverLicence,
    /// `ID` subfile (non-driver identification card).
    IdCard,
    /// Neither type survived the scan.
    #[default]
    Unknown,
}

/// The card's sex element (DBC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// `1` or `M`.
    Male,
    /// `2` or `F`.
    Female,
    /// `X`, the non-binary marker of version 10 cards.
    X,
    /// `9` (or `0`, `U`): not specified.
    NotSpecified,
}

/// The truncation indicators DDE/DDF/DDG (v4+): a truncated name is a prefix
/// of the real one, so it should not be matched exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NameTruncation {
    pub last: bool,
    pub first: bool,
    pub middle: bool,
}

/// What a scan says about its holder and itself. Names are kept as printed
/// (uppercase on nearly every card); `nice_*` give them in everyday case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenceData {
    /// AAMVA version from the header: 1 (DL/ID-2000) to 10 (2020), 0 for
    /// pre-standard cards.
    pub aamva_version: Option<u8>,
    /// The jurisdiction's own version (v2+ headers).
    pub jurisdiction_version: Option<u8>,
    /// Issuer identification number, six digits.
    pub iin: Option<String>,
    pub document_kind: DocumentKind,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub suffix: Option<String>,
    pub name_truncated: NameTruncation,
    pub date_of_birth: Option<Date>,
    pub sex: Option<Sex>,
    /// The mailing address; a v1 card's residence address fills the parts the
    /// mailing one leaves empty.
    pub address: Address,
    /// DAQ, as printed.
    pub document_number: Option<String>,
    /// State or province code (`TX`, `ON`): the IIN's jurisdiction, else the
    /// address's DAJ.
    pub issuing_jurisdiction: Option<String>,
    /// ISO 3166-1 alpha-2 (`US`, `CA`): DCG, else the IIN's, else the DAJ's.
    pub issuing_country: Option<String>,
    pub issue_date: Option<Date>,
    /// Last day of validity.
    pub expiry: Option<Date>,
    /// DDL is `1` or `Y`.
    pub veteran: bool,
}

/// Why a scan was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdScanError {
    #[error("the scan is {len} bytes; at most {max} are accepted")]
    TooLong { len: usize, max: usize },
    #[error("the scan is not a driver's licence or ID card barcode (AAMVA)")]
    NotAamva,
}

/// Parses a scanned AAMVA DL/ID barcode text.
///
/// Errors only when the text is longer than [`MAX_SCAN_BYTES`] or has neither
/// an AAMVA header nor a recognisable DL/ID subfile; anything a recognised
/// record lacks comes back as `None`.
pub fn parse_aamva(text: &str) -> Result<LicenceData, IdScanError> {
    if text.len() > MAX_SCAN_BYTES {
        return Err(IdScanError::TooLong {
            len: text.len(),
            max: MAX_SCAN_BYTES,
        });
    }
    let chars: Vec<char> = text.chars().collect();
    let raw = aamva::split(&chars);
    if raw.as_ref().is_none_or(|r| r.header.is_none()) {
        // A wedge scanner typing with Caps Lock on inverts the case of every
        // letter: `ansi 636014…dlDAQ…` becomes readable once swapped back.
        let swapped: Vec<char> = chars.iter().map(|c| swap_case(*c)).collect();
        if let Some(r) = aamva::split(&swapped).filter(|r| r.header.is_some()) {
            return Ok(interpret(r));
        }
    }
    raw.map(interpret).ok_or(IdScanError::NotAamva)
}

fn swap_case(c: char) -> char {
    if c.is_ascii_lowercase() {
        c.to_ascii_uppercase()
    } else {
        c.to_ascii_lowercase()
    }
}

impl LicenceData {
    /// Whether the document has expired by `today`. A card expiring on D is
    /// valid through D; one without a readable expiry is not called expired.
    pub fn is_expired(&self, today: Date) -> bool {
        self.expiry.is_some_and(|d| today > d)
    }

    /// Age in full years on `today`; `None` without a date of birth or when it
    /// lies after `today`. Someone born on 29 February turns a year older on
    /// 1 March in non-leap years (as [`crate::loyalty::age_on`] counts).
    pub fn age_on(&self, today: Date) -> Option<u32> {
        self.date_of_birth
            .and_then(|dob| crate::loyalty::age_on(dob, today))
    }

    /// The document as the customer record stores it.
    pub fn id_document(&self) -> IdDocument {
        IdDocument {
            number: self.document_number.clone(),
            issuing_state: self.issuing_jurisdiction.clone(),
            issuing_country: self.issuing_country.clone(),
            expiry: self.expiry,
        }
    }

    pub fn nice_first_name(&self) -> Option<String> {
        self.first_name.as_deref().map(nice_case)
    }

    pub fn nice_middle_name(&self) -> Option<String> {
        self.middle_name.as_deref().map(nice_case)
    }

    pub fn nice_last_name(&self) -> Option<String> {
        self.last_name.as_deref().map(nice_case)
    }
}

/// An ISO alpha-2 code for a card's DCG (which is alpha-3; `CDN` on some older
/// Canadian cards).
fn country_alpha2(dcg: &str) -> Option<&'static str> {
    match dcg.to_ascii_uppercase().as_str() {
        "USA" | "US" => Some("US"),
        "CAN" | "CDN" | "CA" => Some("CA"),
        "MEX" | "MX" => Some("MX"),
        _ => None,
    }
}

fn interpret(raw: aamva::RawRecord) -> LicenceData {
    // The first occurrence of an id counts; repeats are noise.
    let mut map: HashMap<&str, &str> = HashMap::new();
    for (id, value) in &raw.elements {
        map.entry(id.as_str()).or_insert(value.as_str());
    }
    let get = |id: &str| map.get(id).and_then(|v| clean(v));
    let name = |id: &str| map.get(id).and_then(|v| clean_name(v));

    let header = raw.header.unwrap_or_default();
    let by_iin = header.iin.as_deref().and_then(jurisdiction_by_iin);
    let region = get("DAJ").or_else(|| get("DAO")).map(|r| r.to_uppercase());
    let by_region = region.as_deref().and_then(jurisdiction_by_code);
    let issuing_country = get("DCG")
        .as_deref()
        .and_then(country_alpha2)
        .or(by_iin.map(|j| j.country))
        .or(by_region.map(|j| j.country))
        .map(str::to_owned);
    let issuing_jurisdiction = by_iin
        .map(|j| j.code.to_owned())
        .or_else(|| region.clone().filter(|r| r.len() == 2));

    let order = match (header.version, issuing_country.as_deref()) {
        (Some(0 | 1), _) | (_, Some("CA")) => DateOrder::YearMonthDay,
        _ => DateOrder::MonthDayYear,
    };
    let date = |id: &str| map.get(id).and_then(|v| parse_date(v, order));

    // Names: the v4+ parts, else v2–v3 given names, else the v1 full name.
    let (full_last, full_first, full_middle, full_suffix) = map
        .get("DAA")
        .map(|v| split_full_name(v))
        .unwrap_or_default();
    let given = map.get("DCT").and_then(|v| split_given(v));
    let last_name = name("DCS").or_else(|| name("DAB")).or(full_last);
    let first_name = name("DAC")
        .or_else(|| given.as_ref().map(|(f, _)| f.clone()))
        .or(full_first);
    let middle_name = name("DAD")
        .or_else(|| given.as_ref().and_then(|(_, m)| m.clone()))
        .or(full_middle);
    let suffix = name("DCU").or_else(|| name("DAE")).or(full_suffix);

    // v1 cards may give a residence address (DAL–DAP) where the mailing one
    // is empty; take each part from the mailing address first.
    let part = |m: &'static str, r: &'static str| if get(m).is_some() { m } else { r };
    let street = |m: &'static str, r: &'static str| {
        get(part(m, r)).and_then(|s| clean(s.trim_end_matches(',')))
    };
    let mut address = Address {
        line1: street("DAG", "DAL"),
        line2: street("DAH", "DAM"),
        city: get(part("DAI", "DAN")),
        region,
        postal_code: map
            .get(part("DAK", "DAP"))
            .and_then(|v| normalize_postal_code(v)),
        country: None,
    };
    let has_address = address.line1.is_some()
        || address.city.is_some()
        || address.region.is_some()
        || address.postal_code.is_some();
    if has_address {
        address.country = by_region
            .map(|j| j.country.to_owned())
            .or_else(|| issuing_country.clone());
    }

    let truncated = |id: &str| get(id).is_some_and(|v| v.eq_ignore_ascii_case("T"));
    LicenceData {
        aamva_version: header.version,
        jurisdiction_version: header.jurisdiction_version,
        iin: header.iin,
        document_kind: raw.kind,
        first_name,
        middle_name,
        last_name,
        suffix,
        name_truncated: NameTruncation {
            last: truncated("DDE"),
            first: truncated("DDF"),
            middle: truncated("DDG"),
        },
        date_of_birth: date("DBB"),
        sex: map.get("DBC").and_then(|v| parse_sex(v)),
        address,
        document_number: get("DAQ"),
        issuing_jurisdiction,
        issuing_country,
        issue_date: date("DBD"),
        expiry: date("DBA"),
        veteran: map.get("DDL").is_some_and(|v| values::is_yes(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn with(dob: Option<Date>, expiry: Option<Date>) -> LicenceData {
        LicenceData {
            date_of_birth: dob,
            expiry,
            ..LicenceData::default()
        }
    }

    #[test]
    fn expiry_day_is_still_valid() {
        let d = with(None, Some(date!(2025 - 06 - 30)));
        assert!(!d.is_expired(date!(2025 - 06 - 29)));
        assert!(!d.is_expired(date!(2025 - 06 - 30)));
        assert!(d.is_expired(date!(2025 - 07 - 01)));
        assert!(!with(None, None).is_expired(date!(2999 - 01 - 01)));
    }

    #[test]
    fn age_in_full_years() {
        let d = with(Some(date!(2004 - 05 - 17)), None);
        assert_eq!(d.age_on(date!(2025 - 05 - 16)), Some(20));
        assert_eq!(d.age_on(date!(2025 - 05 - 17)), Some(21), "birthday today");
        assert_eq!(d.age_on(date!(2004 - 05 - 17)), Some(0));
        assert_eq!(d.age_on(date!(2004 - 05 - 16)), None, "not born yet");
        assert_eq!(with(None, None).age_on(date!(2025 - 01 - 01)), None);
    }

    #[test]
    fn leap_day_birthdays_come_on_the_first_of_march() {
        let d = with(Some(date!(2004 - 02 - 29)), None);
        assert_eq!(d.age_on(date!(2025 - 02 - 28)), Some(20));
        assert_eq!(d.age_on(date!(2025 - 03 - 01)), Some(21));
        assert_eq!(d.age_on(date!(2024 - 02 - 28)), Some(19));
        assert_eq!(d.age_on(date!(2024 - 02 - 29)), Some(20));
    }

    #[test]
    fn too_long_is_refused_before_any_work() {
        let s = "A".repeat(MAX_SCAN_BYTES + 1);
        assert_eq!(
            parse_aamva(&s),
            Err(IdScanError::TooLong {
                len: MAX_SCAN_BYTES + 1,
                max: MAX_SCAN_BYTES
            })
        );
        assert_eq!(parse_aamva(""), Err(IdScanError::NotAamva));
        assert_eq!(parse_aamva("just some text"), Err(IdScanError::NotAamva));
    }

    #[test]
    fn caps_lock_inverted_scans_are_read() {
        let d = parse_aamva(
            "@\n\x1e\ransi 636015080001dl00310060dldaqd1\ndcspUBLIC\ndacjOHN\ndbb01071985\r",
        )
        .unwrap();
        assert_eq!(d.last_name.as_deref(), Some("Public"));
        assert_eq!(d.first_name.as_deref(), Some("John"));
        assert_eq!(d.document_number.as_deref(), Some("D1"));
        assert_eq!(d.date_of_birth, Some(date!(1985 - 01 - 07)));
    }

    #[test]
    fn a_header_alone_is_a_record_with_nothing_in_it() {
        let d = parse_aamva("@\n\x1e\rANSI 636015090002").unwrap();
        assert_eq!(d.aamva_version, Some(9));
        assert_eq!(d.issuing_jurisdiction.as_deref(), Some("TX"));
        assert_eq!(d.issuing_country.as_deref(), Some("US"));
        assert_eq!(d.first_name, None);
        assert_eq!(d.document_kind, DocumentKind::Unknown);
    }
}
