//! Phone numbers, normalised to E.164 so that any formatting of the same number
//! (`(555) 123-4567`, `+1 555 123 4567`, `555.123.4567`) finds the same customer.

use crate::error::FieldError;
use phonenumber::Mode;

/// The region a number without a `+country` prefix is read in (ISO 3166-1 alpha-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneRegion(phonenumber::country::Id);

impl PhoneRegion {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let code = input.trim().to_ascii_uppercase();
        code.parse::<phonenumber::country::Id>()
            .map(Self)
            .map_err(|_| {
                FieldError::new(
                    "phone_region",
                    "must be an ISO 3166-1 alpha-2 country code such as US or DE",
                )
            })
    }

    pub fn code(&self) -> &str {
        self.0.as_ref()
    }
}

impl Default for PhoneRegion {
    fn default() -> Self {
        Self(phonenumber::country::Id::US)
    }
}

/// A valid phone number in E.164 form (`+15551234567`), with the way it is
/// shown: national (`(555) 123-4567`) when it belongs to the chain's region,
/// international (`+49 30 1234567`) otherwise. The display form is made when
/// the number is parsed and stored beside it: formatting on every read cost a
/// list of customers more than the lookup itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone {
    e164: String,
    display: String,
}

impl Phone {
    /// Parses any common way of writing a number; national numbers are read in `region`.
    pub fn parse(input: &str, region: PhoneRegion) -> Result<Self, FieldError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(FieldError::new("phone", "must not be empty"));
        }
        // The metadata-driven parser is not built for hostile input sizes.
        if s.len() > 40 {
            return Err(FieldError::new("phone", "is too long to be a phone number"));
        }
        let number = phonenumber::parse(Some(region.0), s)
            .map_err(|_| FieldError::new("phone", "is not a phone number"))?;
        if !phonenumber::is_valid(&number) {
            return Err(FieldError::new(
                "phone",
                format!("is not a valid phone number for region {}", region.code()),
            ));
        }
        let mode = if number.country().id() == Some(region.0) {
            Mode::National
        } else {
            Mode::International
        };
        Ok(Self {
            e164: number.format().mode(Mode::E164).to_string(),
            display: number.format().mode(mode).to_string(),
        })
    }

    /// Rebuilds a phone from its stored E.164 form without re-validating it;
    /// shown as stored.
    pub fn from_e164_unchecked(e164: String) -> Self {
        Self {
            display: e164.clone(),
            e164,
        }
    }

    /// Rebuilds a phone from what was stored: its E.164 form and, when it was
    /// made, its display form.
    pub fn from_stored(e164: String, display: Option<String>) -> Self {
        match display {
            Some(display) if !display.is_empty() => Self { e164, display },
            _ => Self::from_e164_unchecked(e164),
        }
    }

    pub fn as_e164(&self) -> &str {
        &self.e164
    }

    /// The number as people of the chain's region write it.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The digits reversed, so that "ends with these digits" becomes a prefix
    /// lookup an ordinary B-tree index answers.
    pub fn reversed_digits(&self) -> String {
        self.e164
            .chars()
            .rev()
            .filter(char::is_ascii_digit)
            .collect()
    }
}

impl std::fmt::Display for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.e164)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn us() -> PhoneRegion {
        PhoneRegion::default()
    }

    #[test]
    fn common_us_formats_normalise_to_the_same_e164() {
        for raw in [
            "(201) 555-0123",
            "201-555-0123",
            "201.555.0123",
            "+1 201 555 0123",
            "1 201 555 0123",
            "2015550123",
        ] {
            assert_eq!(
                Phone::parse(raw, us()).map(|p| p.e164),
                Ok("+12015550123".into()),
                "{raw}"
            );
        }
    }

    #[test]
    fn national_numbers_use_the_region() {
        let de = PhoneRegion::parse("de").unwrap_or_default();
        assert_eq!(de.code(), "DE");
        assert_eq!(
            Phone::parse("030 12345678", de).map(|p| p.e164),
            Ok("+493012345678".into())
        );
        // An explicit country code wins over the default region.
        assert_eq!(
            Phone::parse("+44 20 7946 0958", us()).map(|p| p.e164),
            Ok("+442079460958".into())
        );
    }

    #[test]
    fn shown_nationally_at_home_and_internationally_abroad() {
        let shown = |raw: &str, region: PhoneRegion| Phone::parse(raw, region).map(|p| p.display);
        assert_eq!(shown("+1 201 555 0123", us()), Ok("(201) 555-0123".into()));
        assert_eq!(
            shown("+44 20 7946 0958", us()),
            Ok("+44 20 7946 0958".into())
        );
        let de = PhoneRegion::parse("DE").unwrap_or_default();
        assert_eq!(shown("030 12345678", de), Ok("030 12345678".into()));
        assert_eq!(shown("+1 201 555 0123", de), Ok("+1 201-555-0123".into()));
        // Stored without a display form (written before there was one): as stored.
        assert_eq!(
            Phone::from_stored("+12015550123".into(), None).display(),
            "+12015550123"
        );
    }

    #[test]
    fn rejects_garbage() {
        for raw in ["", "abc", "12", "+999 1", &"9".repeat(60)] {
            assert!(Phone::parse(raw, us()).is_err(), "{raw}");
        }
        assert!(PhoneRegion::parse("XX").is_err());
    }

    #[test]
    fn reversed_digits_support_suffix_lookup() {
        let p = Phone::from_e164_unchecked("+12015550123".into());
        assert_eq!(p.reversed_digits(), "32105551021");
    }

    proptest! {
        // Any US number in 2XX-XXX-XXXX area space written in any of several styles
        // normalises to the same E.164 value, and parsing that value again is stable.
        #[test]
        fn formatting_does_not_change_the_normalised_number(
            area in 201u32..989, exchange in 200u32..999, line in 0u32..9999, style in 0usize..6
        ) {
            let plain = format!("{area}{exchange}{line:04}");
            let Ok(reference) = Phone::parse(&plain, us()) else {
                // Not every area code exists; invalid numbers must simply be rejected.
                return Ok(());
            };
            let styled = match style {
                0 => format!("({area}) {exchange}-{line:04}"),
                1 => format!("{area}-{exchange}-{line:04}"),
                2 => format!("{area}.{exchange}.{line:04}"),
                3 => format!("+1 {area} {exchange} {line:04}"),
                4 => format!("  1{area}{exchange}{line:04} "),
                _ => format!("+1-{area}-{exchange}-{line:04}"),
            };
            prop_assert_eq!(Phone::parse(&styled, us()), Ok(reference.clone()));
            prop_assert_eq!(Phone::parse(reference.as_e164(), us()), Ok(reference.clone()));
            prop_assert!(reference.as_e164().ends_with(&plain));
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,64}") {
            let _ = Phone::parse(&s, us());
        }
    }
}
