//! Small free-text values with limits: names, notes, identifiers.

use crate::error::FieldError;

/// Trims `input` and checks it is non-empty, at most `max` characters and free of
/// control characters (which would corrupt receipts, CSV exports and terminals).
pub fn clean_line(field: &str, input: &str, max: usize) -> Result<String, FieldError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(s.to_owned())
}

/// Like [`clean_line`] but allows line breaks and tabs (internal notes).
pub fn clean_multiline(field: &str, input: &str, max: usize) -> Result<String, FieldError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(s.to_owned())
}

/// A store's identifier, e.g. `S01`: 1–16 ASCII letters, digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreId(String);

impl StoreId {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = input.trim();
        if s.is_empty() || s.len() > 16 {
            return Err(FieldError::new("store", "must be 1 to 16 characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(FieldError::new(
                "store",
                "may contain only letters, digits, '-' and '_'",
            ));
        }
        Ok(Self(s.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for StoreId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_line_trims_and_limits() {
        assert_eq!(clean_line("f", "  Ann ", 10).as_deref(), Ok("Ann"));
        assert!(clean_line("f", "   ", 10).is_err());
        assert!(clean_line("f", "abcdefghijk", 10).is_err());
        assert!(clean_line("f", "a\u{0}b", 10).is_err());
        assert!(clean_line("f", "a\nb", 10).is_err());
        assert!(clean_multiline("f", "a\nb", 10).is_ok());
    }

    #[test]
    fn store_ids_are_uppercased_and_restricted() {
        assert_eq!(StoreId::parse(" s01 ").map(|s| s.0), Ok("S01".to_owned()));
        assert!(StoreId::parse("").is_err());
        assert!(StoreId::parse("a b").is_err());
        assert!(StoreId::parse("x".repeat(17).as_str()).is_err());
    }
}
