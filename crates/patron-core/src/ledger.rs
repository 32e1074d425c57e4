//! Ledger entries: what a manual entry or a bonus writes, when points expire,
//! and when HQ reports an overdraft.

use patron_domain::loyalty::{Account, EntryKind, GroupTerms, LoyaltySettings, benefits};
use patron_domain::{FieldError, ValidationErrors};
use patron_storage::ManualEntry;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// One ledger entry to write. The backend adds the customer, the time, the
/// store and the actor, and skips entries of amount zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEntry {
    /// `None`: a fresh id. Entries an order, a return or a once-only bonus
    /// implies have ids derived from their cause, the same on every node.
    pub id: Option<Uuid>,
    pub account: Account,
    pub kind: EntryKind,
    pub amount: i64,
    pub reason: Option<String>,
    pub available_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
    /// A once-only key (a bonus per customer, a release per authorisation).
    pub once_key: Option<String>,
    /// A redemption a store made without HQ's authorisation (while offline):
    /// once written, HQ checks it against the store's offline cap and the
    /// balance ([`overdraft_reason`]).
    pub unauthorised: bool,
}

impl PlannedEntry {
    pub fn new(account: Account, kind: EntryKind, amount: i64) -> Self {
        Self {
            id: None,
            account,
            kind,
            amount,
            reason: None,
            available_at: None,
            expires_at: None,
            once_key: None,
            unauthorised: false,
        }
    }
}

/// When points credited `now` expire; store credit never does. A lifetime so
/// long the date would pass the calendar's end means no expiry.
pub fn expiry(
    s: &LoyaltySettings,
    account: Account,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    match account {
        Account::Points => s
            .points_lifetime_days
            .and_then(|d| now.checked_add(Duration::days(i64::from(d)))),
        Account::Credit => None,
    }
}

/// A manual adjustment or top-up (already validated for ranges,
/// `patron_storage::validate_manual_entry`). A debit may not take the balance
/// `available` below zero, unless it is `already_made` at a store: then it
/// stands and the backend reports the overdraft.
pub fn plan_manual_entry(
    entry: &ManualEntry,
    available: i64,
    already_made: bool,
    s: &LoyaltySettings,
    now: OffsetDateTime,
) -> Result<PlannedEntry, ValidationErrors> {
    let (account, kind, amount) = (entry.account, entry.kind, entry.amount);
    if amount == 0 {
        return Err(FieldError::new("amount", "must not be zero").into());
    }
    if amount < 0 && !already_made && available.saturating_add(amount) < 0 {
        return Err(FieldError::new(
            "amount",
            format!("the {} balance available is {available}", account.as_str()),
        )
        .into());
    }
    Ok(PlannedEntry {
        reason: Some(entry.reason.clone()),
        expires_at: if amount > 0 {
            expiry(s, account, now)
        } else {
            None
        },
        ..PlannedEntry::new(account, kind, amount)
    })
}

/// A store's top-ups of store credit are limited per day (HQ's setting,
/// checked the same way at the store and at HQ from the store's own entries);
/// `today` is what the store topped up in the last 24 hours.
pub fn topup_within_cap(today: i64, amount: i64, cap: i64) -> Result<(), ValidationErrors> {
    if today.saturating_add(amount) > cap {
        return Err(FieldError::new(
            "amount",
            format!(
                "a store may top up at most {cap} of store credit a day; {} left today",
                cap.saturating_sub(today).max(0)
            ),
        )
        .into());
    }
    Ok(())
}

/// The sign-up bonus: the larger of the settings' and the customer's groups'.
/// Once per customer, whichever node computes it.
pub fn plan_registration(
    customer: Uuid,
    terms: &[GroupTerms],
    s: &LoyaltySettings,
    now: OffsetDateTime,
) -> Option<PlannedEntry> {
    let bonus = benefits(terms).registration_bonus.max(s.registration_bonus);
    (bonus > 0).then(|| PlannedEntry {
        reason: Some("registration bonus".into()),
        expires_at: expiry(s, Account::Points, now),
        once_key: Some(format!("registration:{customer}")),
        ..PlannedEntry::new(Account::Points, EntryKind::Registration, bonus)
    })
}

/// Why HQ reports an unauthorised redemption, if it does: the balance went
/// below zero, or the store redeemed more without HQ in a day than its
/// offline cap allows. Nothing is reversed; the report makes it visible.
pub fn overdraft_reason(balance_after: i64, unauthorised_today: i64, cap: i64) -> Option<String> {
    if balance_after < 0 {
        Some(format!(
            "balance {balance_after} after an offline redemption"
        ))
    } else if unauthorised_today > cap {
        Some(format!(
            "{unauthorised_today} redeemed without HQ's authorisation in a day, over the offline cap of {cap}"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LoyaltySettings {
        LoyaltySettings {
            points_lifetime_days: Some(365),
            ..LoyaltySettings::default()
        }
    }

    #[test]
    fn debits_stay_within_the_balance_unless_already_made() {
        let s = settings();
        let now = OffsetDateTime::UNIX_EPOCH;
        let m = |account, amount| ManualEntry {
            account,
            kind: EntryKind::Adjust,
            amount,
            reason: "x".into(),
            idempotency_key: None,
        };
        let e = plan_manual_entry(&m(Account::Points, -50), 40, false, &s, now);
        assert!(e.is_err());
        let e = plan_manual_entry(&m(Account::Points, -50), 40, true, &s, now);
        assert_eq!(e.map(|e| e.amount), Ok(-50));
        assert!(plan_manual_entry(&m(Account::Credit, 0), 0, true, &s, now).is_err());
        let credit = plan_manual_entry(&m(Account::Points, 10), 0, false, &s, now);
        assert_eq!(
            credit.map(|e| e.expires_at),
            Ok(Some(now + Duration::days(365)))
        );
    }

    #[test]
    fn an_endless_lifetime_never_overflows() {
        let s = LoyaltySettings {
            points_lifetime_days: Some(u32::MAX),
            ..LoyaltySettings::default()
        };
        assert_eq!(expiry(&s, Account::Points, OffsetDateTime::now_utc()), None);
        assert_eq!(
            expiry(&settings(), Account::Credit, OffsetDateTime::now_utc()),
            None
        );
    }

    #[test]
    fn a_store_tops_up_within_its_daily_cap() {
        assert!(topup_within_cap(0, 100, 100).is_ok());
        assert!(topup_within_cap(50, 51, 100).is_err());
        assert!(topup_within_cap(i64::MAX, 1, 100).is_err());
    }

    #[test]
    fn overdrafts_are_reported_for_negative_balances_and_over_the_cap() {
        assert!(overdraft_reason(-1, 0, 100).is_some());
        assert!(overdraft_reason(0, 101, 100).is_some());
        assert_eq!(overdraft_reason(0, 100, 100), None);
    }

    #[test]
    fn the_registration_bonus_is_once_per_customer() {
        let s = LoyaltySettings {
            registration_bonus: 500,
            ..settings()
        };
        let id = Uuid::nil();
        let e = plan_registration(id, &[], &s, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(
            e.as_ref().and_then(|e| e.once_key.clone()),
            Some(format!("registration:{id}"))
        );
        assert_eq!(e.map(|e| e.amount), Some(500));
        let none = LoyaltySettings {
            registration_bonus: 0,
            ..settings()
        };
        assert_eq!(
            plan_registration(id, &[], &none, OffsetDateTime::UNIX_EPOCH),
            None
        );
    }
}
