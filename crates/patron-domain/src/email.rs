//! Email addresses: syntactically checked, compared case-insensitively.

use crate::error::FieldError;

/// A syntactically valid address. Kept as written (trimmed, domain lowercased);
/// [`Email::key`] is the case-insensitive form used for uniqueness and search.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = input.trim();
        let bad = |m: &str| Err(FieldError::new("email", m));
        if s.is_empty() {
            return bad("must not be empty");
        }
        if s.len() > 254 {
            return bad("must be at most 254 characters");
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return bad("must contain '@'");
        };
        if local.is_empty() || local.len() > 64 {
            return bad("must have 1 to 64 characters before '@'");
        }
        let local_ok = local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            return bad("has an invalid character before '@'");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return bad("must have a domain with a dot, like example.com");
        }
        for label in &labels {
            let ok = !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return bad("has an invalid domain");
            }
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    /// Rebuilds an email from storage without re-validating it.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The comparison key: two addresses with equal keys are the same address.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        let e = Email::parse("  Ann.Lee+shop@Example.COM ").map(|e| e.0);
        assert_eq!(e, Ok("Ann.Lee+shop@example.com".into()));
        let a = Email::parse("ANN@x.org").map(|e| e.key());
        let b = Email::parse("ann@X.ORG").map(|e| e.key());
        assert_eq!(a, b);
    }

    #[test]
    fn rejects_invalid() {
        for s in [
            "",
            "ann",
            "ann@",
            "@x.com",
            "ann@x",
            "ann@@x.com",
            "a b@x.com",
            "ann@x..com",
            ".ann@x.com",
            "ann@-x.com",
            "ann@x.com\n",
        ] {
            // A trailing newline is trimmed, so that one is accepted on purpose.
            if s == "ann@x.com\n" {
                assert!(Email::parse(s).is_ok());
                continue;
            }
            assert!(Email::parse(s).is_err(), "{s:?}");
        }
    }
}
