//! What HQ believes from a store, as pure decisions (docs/sync.md, "Trust").
//!
//! A store sends the operations its users performed. Before HQ applies one, it
//! asks these functions whether the acting user may do it at that store, whether
//! a customer code is one the store could have issued, and which ledger entries a
//! store may ask for at all. Merging field values by their clocks is here too.
//! No I/O: the caller loads the facts (the user, the store's leases) and
//! persists the outcome, so every backend decides the same way.

use crate::auth::{Permission, Role};
use crate::code::{CodeFormat, CustomerCode};
use crate::hlc::Hlc;
use crate::loyalty::{Account, EntryKind};

/// The kinds of operation a store sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    CreateCustomer,
    EditCustomer,
    SetActive,
    SetType,
    Members,
    Entry,
    Order,
    Return,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::CreateCustomer => "create_customer",
            OpKind::EditCustomer => "edit_customer",
            OpKind::SetActive => "set_active",
            OpKind::SetType => "set_type",
            OpKind::Members => "members",
            OpKind::Entry => "entry",
            OpKind::Order => "order",
            OpKind::Return => "return",
        }
    }
}

/// The permission an operation needs, the same one the HTTP API asks of a user
/// doing it directly. `override_limits` and a deactivation need one more.
pub fn permission_for(kind: OpKind) -> Permission {
    match kind {
        OpKind::CreateCustomer => Permission::CustomersCreate,
        OpKind::EditCustomer | OpKind::SetType => Permission::CustomersEdit,
        OpKind::SetActive => Permission::CustomersDeactivate,
        OpKind::Members => Permission::GroupsManage,
        OpKind::Entry => Permission::LoyaltyManage,
        OpKind::Order => Permission::OrdersCreate,
        OpKind::Return => Permission::OrdersRefund,
    }
}

/// The acting user as HQ knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingUser<'a> {
    pub role: Role,
    pub active: bool,
    /// `None` for an HQ user; a store user acts at that store only.
    pub store: Option<&'a str>,
}

/// Whether `user` may perform an operation needing `needed` at `store`.
/// The operation's signature (made with a key derived from the user's
/// password, which the store never holds) has already been checked: this is
/// what the user is allowed, not whether it was them.
pub fn may_act(user: &ActingUser<'_>, store: &str, needed: &[Permission]) -> Result<(), String> {
    if !user.active {
        return Err("the acting user is deactivated".into());
    }
    if let Some(home) = user.store
        && home != store
    {
        return Err(format!("the acting user belongs to store {home}"));
    }
    for p in needed {
        if !user.role.allows(*p) {
            return Err(format!("the acting user lacks the {} permission", p.name()));
        }
    }
    Ok(())
}

/// Whether `code` is one `store` could have issued: a number from a block HQ
/// leased to it (`leases` as inclusive ranges), or its own overflow series.
pub fn code_issuable_by(
    code: &str,
    format: &CodeFormat,
    store: &str,
    leases: &[(u64, u64)],
) -> bool {
    let overflow_prefix = format!("{}{store}-", format.prefix());
    if let Some(rest) = code.strip_prefix(&overflow_prefix) {
        return !rest.is_empty()
            && rest.len() <= 12
            && rest.bytes().all(|b| b.is_ascii_digit())
            && rest.parse::<u64>().is_ok_and(|n| n > 0)
            && format.overflow(store, rest.parse().unwrap_or(0)).as_str() == code;
    }
    let Some(n) = CustomerCode::from_stored(code.to_owned()).number() else {
        return false;
    };
    // Only the canonical spelling: `CUST-0042` and `CUST-00042` must not both exist.
    format.format(n).as_str() == code && leases.iter().any(|(a, b)| (*a..=*b).contains(&n))
}

/// Ledger entries a store's user may ask for by hand. Birthday, registration
/// and expiry entries are HQ's scheduled work, opening balances its imports; earn, redeem, refund and
/// reverse entries follow from orders and returns, never from a request.
pub fn manual_entry_allowed(account: Account, kind: EntryKind) -> Result<(), String> {
    match (account, kind) {
        (_, EntryKind::Adjust) | (Account::Credit, EntryKind::TopUp) => Ok(()),
        (Account::Points, EntryKind::TopUp) => Err("points cannot be topped up".into()),
        (_, k) => Err(format!(
            "{} entries are made by HQ, never sent by a store",
            k.as_str()
        )),
    }
}

/// Whether a clock is beyond `bound` (milliseconds): a stamp from a clock too
/// far ahead.
pub fn ahead(clock: &str, bound: u64) -> bool {
    Hlc::parse(clock).is_some_and(|h| h.millis > bound)
}

/// Last-writer-wins order, except that a stamp too far in the future (written
/// while a clock was wrong) loses to any sane one.
pub fn newer(remote: &str, local: &str, bound: u64) -> bool {
    match (ahead(remote, bound), ahead(local, bound)) {
        (false, true) => true,
        (true, false) => false,
        _ => remote > local,
    }
}

/// What HQ does with one field a store's edit carries, given the clock of the
/// value HQ holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldMerge {
    /// The edit is newer: take it, with this clock.
    Take(String),
    /// HQ's value is newer: keep it; the edit goes to the audit trail.
    Keep,
}

/// Decides one field of an edit stamped `edit_clock` against HQ's `local_clock`.
/// A stamp beyond the skew bound is first re-stamped to `floor`: the latest
/// moment HQ knows the edit was not made after (the store's previous contact),
/// so a write from a clock that jumped ahead never beats one made after it.
pub fn merge_field(edit_clock: &str, local_clock: &str, bound: u64, floor: &str) -> FieldMerge {
    let clock = if ahead(edit_clock, bound) {
        floor
    } else {
        edit_clock
    };
    if newer(clock, local_clock, bound) {
        FieldMerge::Take(clock.to_owned())
    } else {
        FieldMerge::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(ms: u64, node: &str) -> String {
        Hlc {
            millis: ms,
            counter: 0,
            node: node.into(),
        }
        .to_string()
    }

    #[test]
    fn store_users_act_only_at_home_and_within_their_role() {
        let cashier = ActingUser {
            role: Role::CASHIER,
            active: true,
            store: Some("S01"),
        };
        assert!(may_act(&cashier, "S01", &[Permission::OrdersCreate]).is_ok());
        assert!(may_act(&cashier, "S02", &[Permission::OrdersCreate]).is_err());
        assert!(may_act(&cashier, "S01", &[Permission::LoyaltyManage]).is_err());
        let hq_manager = ActingUser {
            role: Role::MANAGER,
            active: true,
            store: None,
        };
        assert!(may_act(&hq_manager, "S07", &[Permission::LoyaltyManage]).is_ok());
        let gone = ActingUser {
            active: false,
            ..hq_manager
        };
        assert!(may_act(&gone, "S07", &[Permission::OrdersCreate]).is_err());
    }

    #[test]
    fn codes_must_come_from_the_stores_leases_or_overflow() {
        let f = CodeFormat::default();
        let leases = [(1001, 2000)];
        assert!(code_issuable_by("CUST-01001", &f, "S01", &leases));
        assert!(code_issuable_by("CUST-02000", &f, "S01", &leases));
        assert!(!code_issuable_by("CUST-02001", &f, "S01", &leases));
        assert!(!code_issuable_by("CUST-00001", &f, "S01", &leases));
        // Not the canonical spelling of a leased number.
        assert!(!code_issuable_by("CUST-1001", &f, "S01", &leases));
        assert!(!code_issuable_by("CUST-001001", &f, "S01", &leases));
        assert!(code_issuable_by("CUST-S01-0001", &f, "S01", &leases));
        assert!(code_issuable_by("CUST-S01-12345", &f, "S01", &leases));
        assert!(!code_issuable_by("CUST-S02-0001", &f, "S01", &leases));
        assert!(!code_issuable_by("CUST-S01-0000", &f, "S01", &leases));
        assert!(!code_issuable_by("CUST-S01-01", &f, "S01", &leases));
        assert!(!code_issuable_by("CUST-S01-", &f, "S01", &leases));
        assert!(!code_issuable_by("", &f, "S01", &leases));
        assert!(!code_issuable_by("CUST-S01-00x1", &f, "S01", &leases));
    }

    #[test]
    fn stores_may_ask_only_for_adjustments_and_credit_top_ups() {
        assert!(manual_entry_allowed(Account::Points, EntryKind::Adjust).is_ok());
        assert!(manual_entry_allowed(Account::Credit, EntryKind::Adjust).is_ok());
        assert!(manual_entry_allowed(Account::Credit, EntryKind::TopUp).is_ok());
        for k in [
            EntryKind::Birthday,
            EntryKind::Registration,
            EntryKind::Expire,
            EntryKind::Earn,
            EntryKind::Redeem,
            EntryKind::Refund,
            EntryKind::Reverse,
        ] {
            assert!(manual_entry_allowed(Account::Points, k).is_err(), "{k:?}");
            assert!(manual_entry_allowed(Account::Credit, k).is_err(), "{k:?}");
        }
        assert!(manual_entry_allowed(Account::Points, EntryKind::TopUp).is_err());
    }

    #[test]
    fn a_far_future_edit_never_beats_a_later_sane_one() {
        let bound = 10_000;
        let hq_value = stamp(5_000, "HQ");
        // Made at 4,000 by a store whose clock jumped an hour ahead.
        let jumped = stamp(3_604_000, "S01");
        let floor = stamp(3_000, "S01");
        assert_eq!(
            merge_field(&jumped, &hq_value, bound, &floor),
            FieldMerge::Keep
        );
        // Against an older value it still lands, with the floor as its clock.
        let old = stamp(2_000, "HQ");
        assert_eq!(
            merge_field(&jumped, &old, bound, &floor),
            FieldMerge::Take(floor.clone())
        );
        // Sane stamps: plain last-writer-wins, ties broken by node.
        assert_eq!(
            merge_field(&stamp(6_000, "S01"), &hq_value, bound, &floor),
            FieldMerge::Take(stamp(6_000, "S01"))
        );
        assert_eq!(
            merge_field(&stamp(5_000, "S01"), &stamp(5_000, "S02"), bound, &floor),
            FieldMerge::Keep
        );
    }

    #[test]
    fn a_local_far_future_stamp_loses_to_a_sane_one() {
        assert!(newer(&stamp(10, "HQ"), &stamp(99_999, "S01"), 1_000));
        assert!(!newer(&stamp(99_999, "S01"), &stamp(10, "HQ"), 1_000));
        assert!(newer(&stamp(11, "HQ"), &stamp(10, "HQ"), 1_000));
    }
}
