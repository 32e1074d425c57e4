//! A customer's record: which code a new customer gets, and what an edit
//! changes. The fields themselves are parsed and validated by
//! `patron_domain::customer`; these are the rules around them.

use patron_domain::{CodeFormat, CustomerCode, CustomerDraft, FieldError};

/// Where a node takes a new customer's number from. HQ draws from its own
/// counter; a store from the blocks HQ leased to it, then — when they ran out
/// while it could not reach HQ — from its own overflow series, so it can sign
/// customers up offline without ever issuing a number HQ or another store
/// could issue.
/// The backend takes each number only when the plan asks for it.
pub fn plan_code<E>(
    format: &CodeFormat,
    store: Option<&str>,
    next_leased: impl FnOnce() -> Result<Option<u64>, E>,
    next_overflow: impl FnOnce() -> Result<u64, E>,
    next_at_hq: impl FnOnce() -> Result<u64, E>,
) -> Result<CustomerCode, E> {
    Ok(match store {
        Some(store) => match next_leased()? {
            Some(n) => format.format(n),
            None => format.overflow(store, next_overflow()?),
        },
        None => format.format(next_at_hq()?),
    })
}

/// An email is unique where a customer is created or edited (`taken` asks
/// whether another customer holds it). Replication does not re-check it: two
/// records of one person made offline at two stores both keep theirs.
pub fn check_email<E>(
    draft: &CustomerDraft,
    taken: impl FnOnce(&str) -> Result<bool, E>,
) -> Result<Result<(), FieldError>, E> {
    Ok(match &draft.email {
        Some(e) if taken(&e.key())? => Err(FieldError::new(
            "email",
            format!("{} is already used by another customer", e.as_str()),
        )),
        _ => Ok(()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_use_their_leases_then_their_overflow_series() {
        let f = CodeFormat::default();
        let code = |store, leased: Option<u64>| {
            plan_code::<()>(&f, store, || Ok(leased), || Ok(7), || Ok(42))
                .map(|c| c.as_str().to_owned())
        };
        assert_eq!(code(Some("S01"), Some(1_001)), Ok("CUST-01001".into()));
        assert_eq!(code(Some("S01"), None), Ok("CUST-S01-0007".into()));
        assert_eq!(code(None, Some(1)), Ok("CUST-00042".into()));
    }
}
