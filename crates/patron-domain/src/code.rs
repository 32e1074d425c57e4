//! Human-readable customer codes such as `CUST-00042`.

use crate::error::FieldError;

/// How codes are written: a prefix and a zero-padded number of at least `width` digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeFormat {
    prefix: String,
    width: u8,
}

impl CodeFormat {
    pub fn new(prefix: &str, width: u8) -> Result<Self, FieldError> {
        let prefix = prefix.trim().to_ascii_uppercase();
        if prefix.len() > 12
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(FieldError::new(
                "code_prefix",
                "must be at most 12 letters, digits, '-' or '_'",
            ));
        }
        if prefix.chars().last().is_some_and(|c| c.is_ascii_digit()) {
            // Otherwise `A1` + `00042` could not be told apart from `A` + `100042`.
            return Err(FieldError::new("code_prefix", "must not end with a digit"));
        }
        if !(1..=12).contains(&width) {
            return Err(FieldError::new("code_width", "must be between 1 and 12"));
        }
        Ok(Self { prefix, width })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn width(&self) -> u8 {
        self.width
    }

    pub fn format(&self, number: u64) -> CustomerCode {
        CustomerCode(format!(
            "{}{:0width$}",
            self.prefix,
            number,
            width = usize::from(self.width)
        ))
    }
}

impl CodeFormat {
    /// The code a store issues when its leased blocks are used up while it
    /// cannot reach HQ: the store's id keeps it apart from every other
    /// store's and from HQ's numbered series (`CUST-S01-0007`).
    pub fn overflow(&self, store: &str, number: u64) -> CustomerCode {
        CustomerCode(format!("{}{store}-{number:04}", self.prefix))
    }
}

impl Default for CodeFormat {
    fn default() -> Self {
        Self {
            prefix: "CUST-".into(),
            width: 5,
        }
    }
}

/// A customer's code. Unique across the whole chain, never reused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomerCode(String);

impl CustomerCode {
    /// Normalises what a user typed (`cust-00042 `) into the stored form.
    pub fn normalise(input: &str) -> String {
        input.trim().to_ascii_uppercase()
    }

    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The trailing number of a code (`CUST-00042` -> 42), if it has one.
    pub fn number(&self) -> Option<u64> {
        let digits: String = self
            .0
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        digits.parse().ok()
    }
}

impl std::fmt::Display for CustomerCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_padding_and_grows_past_width() {
        let f = CodeFormat::default();
        assert_eq!(f.format(42).as_str(), "CUST-00042");
        assert_eq!(f.format(1_234_567).as_str(), "CUST-1234567");
        let g = CodeFormat::new("m", 3).unwrap_or_default();
        assert_eq!(g.format(7).as_str(), "M007");
        assert_eq!(g.format(7).number(), Some(7));
    }

    #[test]
    fn rejects_bad_formats() {
        assert!(CodeFormat::new("A1", 5).is_err());
        assert!(CodeFormat::new("A B", 5).is_err());
        assert!(CodeFormat::new("A-", 0).is_err());
        assert!(CodeFormat::new("A-", 13).is_err());
        assert!(CodeFormat::new("", 5).is_ok());
    }
}
