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

/// A valid phone number in E.164 form (`+15551234567`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

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
        Ok(Self(number.format().mode(Mode::E164).to_string()))
    }

    /// Rebuilds a phone from its stored E.164 form without re-validating it.
    pub fn from_e164_unchecked(e164: String) -> Self {
        Self(e164)
    }

    pub fn as_e164(&self) -> &str {
        &self.0
    }

    /// The digits reversed, so that "ends with these digits" becomes a prefix
    /// lookup an ordinary B-tree index answers.
    pub fn reversed_digits(&self) -> String {
        self.0.chars().rev().filter(char::is_ascii_digit).collect()
    }
}

impl std::fmt::Display for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
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
                Phone::parse(raw, us()).map(|p| p.0),
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
            Phone::parse("030 12345678", de).map(|p| p.0),
            Ok("+493012345678".into())
        );
        // An explicit country code wins over the default region.
        assert_eq!(
            Phone::parse("+44 20 7946 0958", us()).map(|p| p.0),
            Ok("+442079460958".into())
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
