//! HQ authorising an online store's redemption before the store commits its
//! sale, so two stores cannot spend one balance.

use patron_domain::loyalty::Account;
use patron_domain::{FieldError, ValidationErrors};
use patron_storage::ops::redemption_id;
use uuid::Uuid;

/// What HQ holds for one account of the order being authorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthorisationState {
    /// The balance HQ shows as available.
    pub available: i64,
    /// The entry already recorded under this order's redemption id, if any:
    /// (it is this customer's, its amount, it was this store's).
    pub existing: Option<(bool, i64, bool)>,
}

fn field(a: Account) -> &'static str {
    match a {
        Account::Points => "redeem_points",
        Account::Credit => "redeem_credit",
    }
}

/// The redemption entries to record, `(id, account, amount redeemed)`. Asking
/// again for the same order (a lost or late answer) finds the entries already
/// there and records nothing; a different amount, another customer or another
/// store under that order id is refused, as is more than HQ shows available.
pub fn plan_authorisation(
    order_id: &str,
    order_already_recorded: bool,
    wanted: &[(Account, i64, AuthorisationState)],
) -> Result<Vec<(Uuid, Account, i64)>, ValidationErrors> {
    if order_already_recorded {
        return Err(FieldError::new("order_id", "this order is already recorded at HQ").into());
    }
    let mut out = Vec::new();
    for (account, amount, state) in wanted {
        if *amount <= 0 {
            continue;
        }
        if let Some((same_customer, recorded, same_store)) = state.existing {
            if same_customer && same_store && recorded == -amount {
                continue;
            }
            return Err(FieldError::new(
                field(*account),
                "this order already has a different authorisation",
            )
            .into());
        }
        if state.available < *amount {
            return Err(FieldError::new(
                field(*account),
                format!("HQ shows {} available", state.available.max(0)),
            )
            .into());
        }
        out.push((redemption_id(order_id, account.as_str()), *account, *amount));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(available: i64) -> AuthorisationState {
        AuthorisationState {
            available,
            existing: None,
        }
    }

    #[test]
    fn authorising_twice_records_once() {
        let first = plan_authorisation("o", false, &[(Account::Points, 300, fresh(500))]);
        assert_eq!(
            first,
            Ok(vec![(redemption_id("o", "points"), Account::Points, 300)])
        );
        let again = AuthorisationState {
            available: 200,
            existing: Some((true, -300, true)),
        };
        assert_eq!(
            plan_authorisation("o", false, &[(Account::Points, 300, again)]),
            Ok(vec![])
        );
    }

    #[test]
    fn refusals_name_the_field() {
        let over = plan_authorisation("o", false, &[(Account::Credit, 600, fresh(500))]);
        assert_eq!(
            over.map_err(|e| e.0[0].field.clone()),
            Err("redeem_credit".to_owned())
        );
        let other = AuthorisationState {
            available: 10_000,
            existing: Some((true, -100, true)),
        };
        assert!(plan_authorisation("o", false, &[(Account::Points, 300, other)]).is_err());
        let stolen = AuthorisationState {
            available: 10_000,
            existing: Some((true, -300, false)),
        };
        assert!(plan_authorisation("o", false, &[(Account::Points, 300, stolen)]).is_err());
        assert!(plan_authorisation("o", true, &[(Account::Points, 1, fresh(5))]).is_err());
    }
}
