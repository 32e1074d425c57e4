//! HQ's scheduled work and tier moves: who moves to which transition group,
//! who gets a birthday bonus, which points expire. Value-moving scheduled work
//! runs at HQ only and reaches stores through the feed.

use crate::ledger::{PlannedEntry, expiry};
use patron_domain::loyalty::{
    Account, EntryKind, GroupTerms, LoyaltySettings, benefits, is_birthday,
};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// A customer's move between transition groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionPlan {
    /// Transition groups to leave (every other level).
    pub leave: Vec<String>,
    /// The level their total now reaches.
    pub join: String,
}

/// Moves a customer up to the transition group their `total_spent` reaches.
/// `member_of` says whether they are in a group now; a customer already at or
/// above that level (placed there by hand, say) stays.
pub fn plan_transition(
    total_spent: i64,
    s: &LoyaltySettings,
    member_of: impl Fn(&str) -> bool,
) -> Option<TransitionPlan> {
    let target = s.transition_for(total_spent)?;
    if s.transitions
        .iter()
        .filter(|t| t.threshold >= target.threshold)
        .any(|t| member_of(&t.group_id))
    {
        return None;
    }
    Some(TransitionPlan {
        leave: s
            .transitions
            .iter()
            .map(|t| t.group_id.clone())
            .filter(|g| *g != target.group_id)
            .collect(),
        join: target.group_id.clone(),
    })
}

/// The birthday bonus due today, if any: the largest of the customer's groups',
/// once per customer and year.
pub fn plan_birthday(
    customer: Uuid,
    date_of_birth: Option<Date>,
    today: Date,
    terms: &[GroupTerms],
    s: &LoyaltySettings,
    now: OffsetDateTime,
) -> Option<PlannedEntry> {
    if !date_of_birth.is_some_and(|d| is_birthday(d, today)) {
        return None;
    }
    let bonus = benefits(terms).birthday_bonus;
    (bonus > 0).then(|| PlannedEntry {
        reason: Some(format!("birthday bonus {}", today.year())),
        expires_at: expiry(s, Account::Points, now),
        once_key: Some(format!("birthday:{customer}:{}", today.year())),
        ..PlannedEntry::new(Account::Points, EntryKind::Birthday, bonus)
    })
}

/// The expiry of what is left of a lot of points past its date (`lot` names
/// the lot entry's id): once per lot.
pub fn plan_expiry(lot: Uuid, left: i64) -> Option<PlannedEntry> {
    (left > 0).then(|| PlannedEntry {
        reason: Some("points expired".into()),
        once_key: Some(format!("expire:{lot}")),
        ..PlannedEntry::new(Account::Points, EntryKind::Expire, -left)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use patron_domain::loyalty::Transition;
    use time::macros::date;

    fn tiers() -> LoyaltySettings {
        LoyaltySettings {
            transitions_enabled: true,
            transitions: vec![
                Transition {
                    threshold: 0,
                    group_id: "bronze".into(),
                },
                Transition {
                    threshold: 50_000,
                    group_id: "silver".into(),
                },
                Transition {
                    threshold: 100_000,
                    group_id: "gold".into(),
                },
            ],
            ..LoyaltySettings::default()
        }
    }

    #[test]
    fn customers_move_up_and_never_down() {
        let s = tiers();
        let plan = plan_transition(60_000, &s, |g| g == "bronze");
        assert_eq!(
            plan,
            Some(TransitionPlan {
                leave: vec!["bronze".into(), "gold".into()],
                join: "silver".into()
            })
        );
        // Placed in gold by hand: stays there.
        assert_eq!(plan_transition(60_000, &s, |g| g == "gold"), None);
        assert_eq!(plan_transition(60_000, &s, |g| g == "silver"), None);
    }

    #[test]
    fn birthdays_pay_once_a_year_and_expiry_takes_what_is_left() {
        let s = LoyaltySettings::default();
        let id = Uuid::nil();
        let today = date!(2026 - 05 - 04);
        let none = plan_birthday(
            id,
            Some(date!(1990 - 05 - 04)),
            today,
            &[],
            &s,
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(none, None, "no group pays a birthday bonus");
        assert_eq!(
            plan_birthday(
                id,
                Some(date!(1990 - 05 - 05)),
                today,
                &[],
                &s,
                OffsetDateTime::UNIX_EPOCH
            ),
            None
        );
        let e = plan_expiry(id, 300);
        assert_eq!(e.as_ref().map(|e| e.amount), Some(-300));
        assert_eq!(e.and_then(|e| e.once_key), Some(format!("expire:{id}")));
        assert_eq!(plan_expiry(id, 0), None);
    }
}
