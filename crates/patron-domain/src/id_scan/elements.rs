//! The AAMVA data element ids of versions 1 to 10 and what their values look
//! like. A scanner that drops the separators leaves `DCSPUBLICDACJOHN`; the only
//! way back to elements is to know which three-letter ids exist and which value
//! shapes they take, so a cut that leaves `DBA` with eight digits beats one that
//! leaves it with `08312025DCSPUB`.

/// How a value looks, coarsely: enough to prefer one segmentation over another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Eight digits (MMDDCCYY or CCYYMMDD).
    Date,
    /// One of `1`, `2`, `9`, `M`, `F`, `X`, `U`.
    Sex,
    /// Two-letter state or province.
    Region,
    /// Three-letter country (`USA`, `CAN`).
    Country,
    /// Name truncation indicator: `T`, `N` or `U`.
    Truncation,
    /// A one-character indicator (`1`, `Y`, `N`, `F`).
    Flag,
    /// Eye or hair colour: three letters in v2+, words in some v1 cards.
    Colour,
    /// `069 IN`, `175 cm`, `509`.
    Height,
    /// Two or three digits, maybe a unit.
    Weight,
    /// One digit, 0 to 9.
    WeightRange,
    Postal,
    Name,
    Street,
    City,
    DocumentNumber,
    /// Codes and free text with nothing to check but length.
    Text,
    /// An id outside the table (a jurisdiction's own, or one this table lacks).
    Unknown,
}

/// Which AAMVA versions define an element. Only used to leave out, when
/// separators are lost, the v1-only ids that hide in common names (`DAN` in
/// DANIEL, `DAV` in DAVID, `DAM` in ADAM) from records that cannot have them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Era {
    All,
    V1,
    V2Plus,
}

pub(crate) struct Element {
    pub id: &'static str,
    pub shape: Shape,
    pub era: Era,
}

const fn e(id: &'static str, shape: Shape, era: Era) -> Element {
    Element { id, shape, era }
}

use Era::{All, V1, V2Plus};
use Shape::*;

/// Every element id of the DL/ID subfile in versions 1 to 10, sorted (binary
/// search). The bit an id takes in a segmentation's "already used" mask is its
/// index here, so the table stays under 128 entries.
pub(crate) const ELEMENTS: &[Element] = &[
    e("DAA", Name, All), // v1 full name "LAST,FIRST,MIDDLE"
    e("DAB", Name, All), // v1 last name (seen in later Alberta cards too)
    e("DAC", Name, All), // first name (v1, v4+)
    e("DAD", Name, All), // middle name (v1, v4+)
    e("DAE", Name, All), // v1 suffix
    e("DAF", Name, All), // v1 prefix
    e("DAG", Street, All),
    e("DAH", Street, All),
    e("DAI", City, All),
    e("DAJ", Region, All),
    e("DAK", Postal, All),
    e("DAL", Street, V1), // v1 residence address
    e("DAM", Street, V1),
    e("DAN", City, V1),
    e("DAO", Region, V1),
    e("DAP", Postal, V1),
    e("DAQ", DocumentNumber, All),
    e("DAR", Text, All), // v1 class, restrictions, endorsements
    e("DAS", Text, All),
    e("DAT", Text, All),
    e("DAU", Height, All),
    e("DAV", Height, V1), // height in cm
    e("DAW", Weight, All),
    e("DAX", Weight, All),
    e("DAY", Colour, All),
    e("DAZ", Colour, All),
    e("DBA", Date, All), // expiry
    e("DBB", Date, All), // birth
    e("DBC", Sex, All),
    e("DBD", Date, All), // issue
    e("DBE", Text, V1),  // issue timestamp
    e("DBF", Text, V1),  // number of duplicates
    e("DBG", Name, All), // v1 medical codes; v2+ alias given name
    e("DBH", Flag, V1),  // organ donor
    e("DBI", Flag, V1),  // non-resident
    e("DBJ", Text, V1),
    e("DBK", Text, V1), // social security number
    e("DBL", Date, V1),
    e("DBM", Text, V1),
    e("DBN", Name, All), // alias family / full name
    e("DBO", Name, V1),
    e("DBP", Name, V1),
    e("DBQ", Name, V1),
    e("DBR", Name, V1),
    e("DBS", Name, All),    // alias suffix
    e("DCA", Text, V2Plus), // vehicle class
    e("DCB", Text, V2Plus), // restrictions
    e("DCD", Text, V2Plus), // endorsements
    e("DCE", WeightRange, V2Plus),
    e("DCF", Text, V2Plus), // document discriminator
    e("DCG", Country, V2Plus),
    e("DCH", Text, V2Plus), // federal commercial vehicle codes
    e("DCI", Text, V2Plus), // place of birth
    e("DCJ", Text, V2Plus), // audit information
    e("DCK", Text, V2Plus), // inventory control number
    e("DCL", Text, V2Plus), // race / ethnicity
    e("DCM", Text, V2Plus),
    e("DCN", Text, V2Plus),
    e("DCO", Text, V2Plus),
    e("DCP", Text, V2Plus),
    e("DCQ", Text, V2Plus),
    e("DCR", Text, V2Plus),
    e("DCS", Name, V2Plus), // family name
    e("DCT", Name, V2Plus), // v2-v3 given names "FIRST,MIDDLE"
    e("DCU", Name, V2Plus), // suffix
    e("DDA", Flag, V2Plus), // compliance type
    e("DDB", Date, V2Plus), // card revision date
    e("DDC", Date, V2Plus), // hazmat endorsement expiry
    e("DDD", Flag, V2Plus), // limited duration document
    e("DDE", Truncation, V2Plus),
    e("DDF", Truncation, V2Plus),
    e("DDG", Truncation, V2Plus),
    e("DDH", Date, V2Plus), // under 18 until
    e("DDI", Date, V2Plus), // under 19 until
    e("DDJ", Date, V2Plus), // under 21 until
    e("DDK", Flag, V2Plus), // organ donor
    e("DDL", Flag, V2Plus), // veteran
    e("PAA", Text, V1),     // v1 permit elements
    e("PAB", Date, V1),
    e("PAC", Text, V1),
    e("PAD", Date, V1),
    e("PAE", Text, V1),
    e("PAF", Text, V1),
];

/// The table index of a three-letter id.
pub(crate) fn lookup(id: [char; 3]) -> Option<usize> {
    if !id.iter().all(char::is_ascii_uppercase) {
        return None;
    }
    ELEMENTS.binary_search_by(|el| cmp_id(el.id, id)).ok()
}

fn cmp_id(a: &str, b: [char; 3]) -> std::cmp::Ordering {
    a.chars().cmp(b.iter().copied())
}

/// Whether an id may start an element when separators are lost, for a record of
/// `version` (`None`: unknown, allow all).
pub(crate) fn allowed(index: usize, version: Option<u8>) -> bool {
    let Some(el) = ELEMENTS.get(index) else {
        return false;
    };
    match (el.era, version) {
        (All, _) | (_, None) => true,
        (V1, Some(v)) => v <= 1,
        (V2Plus, Some(v)) => v >= 2,
    }
}

/// Ids the standard makes mandatory: a segmentation that finds them is more
/// likely right than one that leaves them inside other values. Version 1 has
/// its own set; the later versions share one (DCT for v2–v3, DAC/DAD after).
/// Version 1's DAR/DAS/DAT are left out: they hide in DARNELL or DASHA, and
/// nothing is read from them.
const KEY_V1: &[&str] = &[
    "DAA", "DAG", "DAI", "DAJ", "DAK", "DAQ", "DBA", "DBB", "DBC", "DBD",
];
const KEY: &[&str] = &[
    "DAC", "DAD", "DAG", "DAI", "DAJ", "DAK", "DAQ", "DAU", "DAY", "DBA", "DBB", "DBC", "DBD",
    "DCA", "DCB", "DCD", "DCF", "DCG", "DCS", "DCT", "DDE", "DDF", "DDG",
];

pub(crate) fn is_key(index: usize, version: Option<u8>) -> bool {
    let keys = if version.is_some_and(|v| v <= 1) {
        KEY_V1
    } else {
        KEY
    };
    ELEMENTS.get(index).is_some_and(|el| keys.contains(&el.id))
}

/// The order the standard lists the mandatory elements in (v2+). Cards need
/// not follow it, and many do not, but of two segmentations that score alike
/// the one with fewer neighbours out of this order is the likelier: a false id
/// inside a value lands out of order. Optional elements are left out: cards put
/// them anywhere (DAH after DAG, DCU after DAD).
const ORDER: &[&str] = &[
    "DCA", "DCB", "DCD", "DBA", "DCS", "DCT", "DAC", "DAD", "DBD", "DBB", "DBC", "DAY", "DAU",
    "DAG", "DAI", "DAJ", "DAK", "DAQ", "DCF", "DCG", "DDE", "DDF", "DDG",
];

/// Minus one when `next` comes before `prev` in the standard's order; ids it
/// does not list are neutral.
pub(crate) fn order_bonus(prev: Option<usize>, next: Option<usize>) -> i32 {
    let rank = |i: Option<usize>| {
        let id = ELEMENTS.get(i?)?.id;
        ORDER.iter().position(|o| *o == id)
    };
    match (rank(prev), rank(next)) {
        (Some(a), Some(b)) if a > b => -1,
        _ => 0,
    }
}

pub(crate) fn shape_of(index: usize) -> Shape {
    ELEMENTS.get(index).map_or(Unknown, |el| el.shape)
}

/// Ids that make a header-less text look like an AAMVA subfile.
pub(crate) const CORE: &[&str] = &[
    "DAA", "DAB", "DAC", "DAG", "DAI", "DAJ", "DAK", "DAQ", "DBA", "DBB", "DBC", "DBD", "DCS",
    "DCT",
];

/// Strips whitespace and control characters from both ends.
pub(crate) fn trim(v: &[char]) -> &[char] {
    let skip = |c: &char| c.is_whitespace() || c.is_control();
    let start = v.iter().position(|c| !skip(c)).unwrap_or(v.len());
    let end = v.iter().rposition(|c| !skip(c)).map_or(start, |i| i + 1);
    v.get(start..end).unwrap_or(&[])
}

/// How well `raw` fits the element with table index `index`. An empty value
/// is what a dropped separator leaves of an element with nothing in it
/// (`DADJOEDCUDBD…`): likely for an optional element, unlikely for a
/// mandatory one (`DACDAISY` is not an empty first name and a city "SY").
pub(crate) fn element_score(index: Option<usize>, raw: &[char], version: Option<u8>) -> i32 {
    let Some(index) = index else {
        return score(Unknown, raw, version);
    };
    if trim(raw).is_empty() {
        return if is_key(index, version) { -1 } else { 1 };
    }
    score(shape_of(index), raw, version)
}

/// How well `raw` fits `shape`: positive for a typical value, negative for one
/// that is likely two elements run together. A value over 120 characters is
/// refused at once (−20), so scoring costs at most that much per cut.
pub(crate) fn score(shape: Shape, raw: &[char], version: Option<u8>) -> i32 {
    let v = trim(raw);
    let n = v.len();
    if n > 120 {
        return -20;
    }
    let all = |f: fn(&char) -> bool| v.iter().all(f);
    let digits = v.iter().filter(|c| c.is_ascii_digit()).count();
    match shape {
        Date => match n {
            0 => -2,
            8 if digits == 8 => 3,
            _ => -6,
        },
        Sex => match v {
            [c] if "129MFXU0".contains(*c) => 3,
            _ => -6,
        },
        Region => {
            if n == 2 && all(char::is_ascii_uppercase) {
                2
            } else {
                -4
            }
        }
        Country => {
            if n == 3 && all(char::is_ascii_uppercase) {
                2
            } else {
                -4
            }
        }
        Truncation => match v {
            [c] if "TNU".contains(*c) => 3,
            _ => -6,
        },
        Flag => match n {
            1 if all(char::is_ascii_alphanumeric) => 2,
            2 | 3 if all(char::is_ascii_alphabetic) => 0,
            _ => -4,
        },
        Colour => {
            if n == 3 && all(char::is_ascii_uppercase) {
                2
            } else if (3..=12).contains(&n) && all(|c| c.is_ascii_alphabetic() || *c == ' ') {
                1
            } else {
                -3
            }
        }
        Height => height_score(v),
        Weight => {
            let lead = v.iter().take_while(|c| c.is_ascii_digit()).count();
            let unit = trim(v.get(lead..).unwrap_or(&[]));
            if (2..=3).contains(&lead)
                && unit.len() <= 3
                && unit.iter().all(char::is_ascii_alphabetic)
            {
                2
            } else {
                -3
            }
        }
        WeightRange => match n {
            0 => 0,
            1 if digits == 1 => 2,
            _ => -3,
        },
        Postal => {
            if (3..=11).contains(&n)
                && !holds_id(v, version)
                && digits > 0
                && all(|c| c.is_ascii_alphanumeric() || *c == ' ' || *c == '-')
            {
                2
            } else {
                -4
            }
        }
        Name => name_score(v),
        Street => match n {
            0 => -1,
            1..=35 => 1,
            _ => -2,
        },
        City => {
            if n == 0 {
                -1
            } else if digits > 0 {
                -2
            } else if n <= 20 {
                1
            } else {
                -1
            }
        }
        // A number holding a known id (T64235789DARD) has swallowed the next
        // element; names and streets are not judged so, since words do
        // (SANDAGE, DAKOTA).
        DocumentNumber => {
            if n == 0 {
                -2
            } else if holds_id(v, version) {
                -3
            } else if n <= 25 && all(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == ' ') {
                1
            } else {
                -3
            }
        }
        Text => {
            if n <= 33 {
                0
            } else {
                -2
            }
        }
        Unknown => 0,
    }
}

/// Whether an element id of this version occurs inside `v`.
fn holds_id(v: &[char], version: Option<u8>) -> bool {
    v.windows(3).any(|w| match w {
        [a, b, c] => lookup([*a, *b, *c]).is_some_and(|i| allowed(i, version)),
        _ => false,
    })
}

fn height_score(v: &[char]) -> i32 {
    let lead = v.iter().take_while(|c| c.is_ascii_digit()).count();
    let rest = v.get(lead..).unwrap_or(&[]);
    // Feet and inches written 5-09 or 5'09.
    if let (1, [sep, a, b, tail @ ..]) = (lead, rest)
        && matches!(sep, '-' | '\'')
        && a.is_ascii_digit()
        && b.is_ascii_digit()
    {
        return if trim(tail).len() <= 1 { 2 } else { -3 };
    }
    let unit: String = trim(rest).iter().collect::<String>().to_ascii_uppercase();
    if (2..=3).contains(&lead) && matches!(unit.as_str(), "" | "IN" | "CM" | "\"") {
        2
    } else {
        -3
    }
}

fn name_score(v: &[char]) -> i32 {
    if v.is_empty() {
        return -1;
    }
    if v.iter().any(char::is_ascii_digit) {
        return -3;
    }
    if matches!(v.last(), Some(',' | '$')) && v.len() > 1 {
        // "SMITH," is what is left when a name is cut at a false id.
        return -2;
    }
    let ok = v
        .iter()
        .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.' | ',' | '$' | '\u{2019}'));
    match (ok, v.len()) {
        (true, 1..=40) => 1,
        (true, _) => -1,
        (false, _) => -2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn table_is_sorted_unique_and_fits_a_mask() {
        assert!(ELEMENTS.windows(2).all(|w| w[0].id < w[1].id));
        assert!(ELEMENTS.len() <= 128);
        assert!(ELEMENTS.iter().all(|e| e.id.len() == 3));
        for id in CORE {
            let c: Vec<char> = id.chars().collect();
            assert!(lookup([c[0], c[1], c[2]]).is_some(), "{id}");
        }
    }

    #[test]
    fn lookup_finds_ids_only() {
        assert!(lookup(['D', 'A', 'Q']).is_some());
        assert!(lookup(['D', 'D', 'L']).is_some());
        assert!(lookup(['D', 'A', 'q']).is_none());
        assert!(lookup(['Z', 'V', 'A']).is_none());
        let dav = lookup(['D', 'A', 'V']).unwrap();
        assert!(allowed(dav, Some(1)) && allowed(dav, None) && !allowed(dav, Some(8)));
        let dcs = lookup(['D', 'C', 'S']).unwrap();
        assert!(!allowed(dcs, Some(1)) && allowed(dcs, Some(3)));
    }

    #[test]
    fn shapes_prefer_whole_values() {
        assert_eq!(score(Date, &chars("08312025"), None), 3);
        assert!(score(Date, &chars("08312025DCSPUB"), None) < 0);
        assert!(score(Sex, &chars("1"), None) > 0 && score(Sex, &chars("1DAY"), None) < 0);
        assert!(score(Height, &chars("069 IN"), None) > 0);
        assert!(score(Height, &chars("175 cm"), None) > 0);
        assert!(score(Height, &chars("5-09"), None) > 0);
        assert!(score(Height, &chars("ID"), None) < 0);
        assert!(score(Name, &chars("O'NEIL-SMITH"), None) > 0);
        assert!(score(Name, &chars("SMITH,"), None) < 0);
        assert!(score(Name, &chars("SMITH123"), None) < 0);
        assert!(score(Postal, &chars("123450000  "), None) > 0);
        assert!(score(Postal, &chars("T4G 7A7"), None) > 0);
        assert!(score(City, &chars("ANYTOWN12345"), None) < 0);
        assert!(score(Weight, &chars("50 KG"), None) > 0);
        assert!(score(DocumentNumber, &chars("T64235789"), Some(1)) > 0);
        assert!(score(DocumentNumber, &chars("T64235789DARD"), Some(1)) < 0);
        assert_eq!(trim(&chars(" \r\nAB \x1e")), &chars("AB")[..]);
        assert_eq!(trim(&chars(" \t ")), &[] as &[char]);
    }
}
