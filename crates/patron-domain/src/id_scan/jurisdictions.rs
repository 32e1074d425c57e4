//! Issuer identification numbers (IINs): the six digits after `ANSI ` in an
//! AAMVA header that say which DMV printed the card. The header is the one part
//! of a scan every version has, so when a card carries no country element (DCG
//! came in version 2) or its address lies elsewhere, this table still names the
//! issuer and, through it, the date order of the card's dates.
//!
//! Source: the AAMVA IIN list (annex of the DL/ID Card Design Standard). Mexican
//! states and the US State Department are left out: the app files neither as a
//! region.

/// One issuing jurisdiction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jurisdiction {
    /// Six digits, as in the header.
    pub iin: &'static str,
    /// Postal abbreviation, the same code cards put in DAJ (`TX`, `ON`).
    pub code: &'static str,
    pub name: &'static str,
    /// ISO 3166-1 alpha-2: `US` or `CA`.
    pub country: &'static str,
}

const fn j(
    iin: &'static str,
    code: &'static str,
    name: &'static str,
    country: &'static str,
) -> Jurisdiction {
    Jurisdiction {
        iin,
        code,
        name,
        country,
    }
}

/// Every US state, DC, the inhabited US territories and every Canadian
/// province and territory. Alberta appears twice: its older cards carry the
/// non-ISO number 990876.
pub const JURISDICTIONS: &[Jurisdiction] = &[
    j("636033", "AL", "Alabama", "US"),
    j("636059", "AK", "Alaska", "US"),
    j("636026", "AZ", "Arizona", "US"),
    j("636021", "AR", "Arkansas", "US"),
    j("636014", "CA", "California", "US"),
    j("636020", "CO", "Colorado", "US"),
    j("636006", "CT", "Connecticut", "US"),
    j("636011", "DE", "Delaware", "US"),
    j("636043", "DC", "District of Columbia", "US"),
    j("636010", "FL", "Florida", "US"),
    j("636055", "GA", "Georgia", "US"),
    j("636047", "HI", "Hawaii", "US"),
    j("636050", "ID", "Idaho", "US"),
    j("636035", "IL", "Illinois", "US"),
    j("636037", "IN", "Indiana", "US"),
    j("636018", "IA", "Iowa", "US"),
    j("636022", "KS", "Kansas", "US"),
    j("636046", "KY", "Kentucky", "US"),
    j("636007", "LA", "Louisiana", "US"),
    j("636041", "ME", "Maine", "US"),
    j("636003", "MD", "Maryland", "US"),
    j("636002", "MA", "Massachusetts", "US"),
    j("636032", "MI", "Michigan", "US"),
    j("636038", "MN", "Minnesota", "US"),
    j("636051", "MS", "Mississippi", "US"),
    j("636030", "MO", "Missouri", "US"),
    j("636008", "MT", "Montana", "US"),
    j("636054", "NE", "Nebraska", "US"),
    j("636049", "NV", "Nevada", "US"),
    j("636039", "NH", "New Hampshire", "US"),
    j("636036", "NJ", "New Jersey", "US"),
    j("636009", "NM", "New Mexico", "US"),
    j("636001", "NY", "New York", "US"),
    j("636004", "NC", "North Carolina", "US"),
    j("636034", "ND", "North Dakota", "US"),
    j("636023", "OH", "Ohio", "US"),
    j("636058", "OK", "Oklahoma", "US"),
    j("636029", "OR", "Oregon", "US"),
    j("636025", "PA", "Pennsylvania", "US"),
    j("636052", "RI", "Rhode Island", "US"),
    j("636005", "SC", "South Carolina", "US"),
    j("636042", "SD", "South Dakota", "US"),
    j("636053", "TN", "Tennessee", "US"),
    j("636015", "TX", "Texas", "US"),
    j("636040", "UT", "Utah", "US"),
    j("636024", "VT", "Vermont", "US"),
    j("636000", "VA", "Virginia", "US"),
    j("636045", "WA", "Washington", "US"),
    j("636061", "WV", "West Virginia", "US"),
    j("636031", "WI", "Wisconsin", "US"),
    j("636060", "WY", "Wyoming", "US"),
    j("604427", "AS", "American Samoa", "US"),
    j("636019", "GU", "Guam", "US"),
    j("604430", "MP", "Northern Mariana Islands", "US"),
    j("604431", "PR", "Puerto Rico", "US"),
    j("636062", "VI", "US Virgin Islands", "US"),
    j("604432", "AB", "Alberta", "CA"),
    j("990876", "AB", "Alberta", "CA"),
    j("636028", "BC", "British Columbia", "CA"),
    j("636048", "MB", "Manitoba", "CA"),
    j("636017", "NB", "New Brunswick", "CA"),
    j("636016", "NL", "Newfoundland and Labrador", "CA"),
    j("636013", "NS", "Nova Scotia", "CA"),
    j("604434", "NT", "Northwest Territories", "CA"),
    j("604433", "NU", "Nunavut", "CA"),
    j("636012", "ON", "Ontario", "CA"),
    j("604426", "PE", "Prince Edward Island", "CA"),
    j("604428", "QC", "Quebec", "CA"),
    j("636044", "SK", "Saskatchewan", "CA"),
    j("604429", "YT", "Yukon", "CA"),
];

/// The jurisdiction a header's IIN names.
pub fn jurisdiction_by_iin(iin: &str) -> Option<&'static Jurisdiction> {
    JURISDICTIONS.iter().find(|j| j.iin == iin)
}

/// The jurisdiction with this postal abbreviation (case-insensitive), e.g. the
/// DAJ of an address.
pub fn jurisdiction_by_code(code: &str) -> Option<&'static Jurisdiction> {
    JURISDICTIONS
        .iter()
        .find(|j| j.code.eq_ignore_ascii_case(code.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn table_covers_states_dc_territories_and_provinces_once() {
        let us: HashSet<_> = JURISDICTIONS
            .iter()
            .filter(|j| j.country == "US")
            .map(|j| j.code)
            .collect();
        // 50 states, DC, 5 territories.
        assert_eq!(us.len(), 56);
        let ca: HashSet<_> = JURISDICTIONS
            .iter()
            .filter(|j| j.country == "CA")
            .map(|j| j.code)
            .collect();
        // 10 provinces, 3 territories.
        assert_eq!(ca.len(), 13);
        let iins: HashSet<_> = JURISDICTIONS.iter().map(|j| j.iin).collect();
        assert_eq!(iins.len(), JURISDICTIONS.len(), "an IIN is listed twice");
        assert!(
            JURISDICTIONS
                .iter()
                .all(|j| j.iin.len() == 6 && j.iin.bytes().all(|b| b.is_ascii_digit()))
        );
    }

    #[test]
    fn known_numbers() {
        let code = |iin| jurisdiction_by_iin(iin).map(|j| (j.code, j.country));
        assert_eq!(code("636014"), Some(("CA", "US")));
        assert_eq!(code("636015"), Some(("TX", "US")));
        assert_eq!(code("636026"), Some(("AZ", "US")));
        assert_eq!(code("604428"), Some(("QC", "CA")));
        assert_eq!(code("636012"), Some(("ON", "CA")));
        assert_eq!(code("636028"), Some(("BC", "CA")));
        assert_eq!(code("990876"), Some(("AB", "CA")));
        assert_eq!(code("123456"), None);
        assert_eq!(jurisdiction_by_code(" on").map(|j| j.country), Some("CA"));
        assert_eq!(jurisdiction_by_code("ZZ"), None);
    }
}
