//! The append-only ledger and what can be derived from it: balances, lots,
//! what is locked and what expires next.
//!
//! Every credit (earn, bonus, refund, top-up, positive adjustment) opens a lot.
//! Debits consume lots: an `expire` or `reverse` entry names the lot it takes
//! from; any other debit takes from the unlocked lots that expire first, then
//! the oldest. Lots are never stored: they are recomputed from the entries, so
//! the ledger stays the one source of truth.

use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Account {
    /// Loyalty points or cash-back (one point pays one minor unit).
    Points,
    /// Store credit / e-wallet.
    Credit,
}

impl Account {
    pub fn as_str(self) -> &'static str {
        match self {
            Account::Points => "points",
            Account::Credit => "credit",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "points" => Some(Account::Points),
            "credit" => Some(Account::Credit),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    Earn,
    Redeem,
    Birthday,
    Registration,
    Adjust,
    /// Redeemed points or credit given back on a return.
    Refund,
    /// Points earned on an order taken back on its return.
    Reverse,
    Expire,
    TopUp,
    /// A balance brought from the system a customer was imported from.
    Opening,
}

impl EntryKind {
    pub const ALL: [EntryKind; 10] = [
        EntryKind::Earn,
        EntryKind::Redeem,
        EntryKind::Birthday,
        EntryKind::Registration,
        EntryKind::Adjust,
        EntryKind::Refund,
        EntryKind::Reverse,
        EntryKind::Expire,
        EntryKind::TopUp,
        EntryKind::Opening,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Earn => "earn",
            EntryKind::Redeem => "redeem",
            EntryKind::Birthday => "birthday",
            EntryKind::Registration => "registration",
            EntryKind::Adjust => "adjust",
            EntryKind::Refund => "refund",
            EntryKind::Reverse => "reverse",
            EntryKind::Expire => "expire",
            EntryKind::TopUp => "top-up",
            EntryKind::Opening => "opening",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One ledger entry, as the lot computation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Ledger order (strictly increasing).
    pub seq: i64,
    pub kind: EntryKind,
    /// Positive credits, negative debits.
    pub amount: i64,
    pub at: OffsetDateTime,
    /// Credits: not spendable before this instant (points earned on an order
    /// during its return window).
    pub available_at: Option<OffsetDateTime>,
    /// Credits: expire at this instant.
    pub expires_at: Option<OffsetDateTime>,
    /// Debits: the lot (seq of the credit) this debit takes from.
    pub lot: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    pub seq: i64,
    pub remaining: i64,
    pub available_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
}

impl Lot {
    fn unlocked(&self, now: OffsetDateTime) -> bool {
        self.available_at.is_none_or(|a| a <= now)
    }
}

/// The open lots after replaying `entries` (in ledger order) as of `now`.
/// A debit larger than what it may take from leaves the excess as a deficit:
/// see [`Summary::deficit`].
pub fn lots(entries: &[Entry], now: OffsetDateTime) -> (Vec<Lot>, i64) {
    let mut open: Vec<Lot> = Vec::new();
    let mut deficit = 0i64;
    for e in entries {
        if e.amount > 0 {
            // A credit first pays off any earlier deficit.
            let pay = deficit.min(e.amount);
            deficit -= pay;
            let remaining = e.amount - pay;
            open.push(Lot {
                seq: e.seq,
                remaining,
                available_at: e.available_at,
                expires_at: e.expires_at,
            });
            continue;
        }
        let mut need = -e.amount;
        if let Some(target) = e.lot
            && let Some(l) = open.iter_mut().find(|l| l.seq == target)
        {
            let take = l.remaining.min(need);
            l.remaining -= take;
            need -= take;
        }
        if need > 0 {
            // Unlocked lots by soonest expiry then age; locked lots last.
            let mut order: Vec<usize> = (0..open.len()).collect();
            order.sort_by_key(|&i| {
                let l = &open[i];
                (
                    !l.unlocked(now.max(e.at)),
                    l.expires_at.is_none(),
                    l.expires_at,
                    l.seq,
                )
            });
            for i in order {
                if need == 0 {
                    break;
                }
                if let Some(l) = open.get_mut(i) {
                    let take = l.remaining.min(need);
                    l.remaining -= take;
                    need -= take;
                }
            }
        }
        deficit += need;
    }
    open.retain(|l| l.remaining > 0);
    (open, deficit)
}

/// A balance and what can be done with it now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    /// The sum of every entry.
    pub balance: i64,
    /// Spendable now: open lots that are unlocked and not expired.
    pub available: i64,
    /// Earned on orders still in their return window.
    pub locked: i64,
    /// Open lots past their expiry that no `expire` entry has taken yet.
    pub expired_pending: Vec<(i64, i64)>,
    /// The next expiry: when, and how much.
    pub next_expiry: Option<(OffsetDateTime, i64)>,
    /// Debits that found nothing to take from (an overdraft).
    pub deficit: i64,
}

pub fn summarize(entries: &[Entry], now: OffsetDateTime) -> Summary {
    let balance = entries.iter().map(|e| e.amount).sum();
    let (open, deficit) = lots(entries, now);
    let mut s = Summary {
        balance,
        deficit,
        ..Summary::default()
    };
    for l in &open {
        let expired = l.expires_at.is_some_and(|x| x <= now);
        if expired {
            s.expired_pending.push((l.seq, l.remaining));
        } else if !l.unlocked(now) {
            s.locked += l.remaining;
        } else {
            s.available += l.remaining;
        }
        if !expired && let Some(x) = l.expires_at {
            match &mut s.next_expiry {
                Some((when, amount)) if *when == x => *amount += l.remaining,
                Some((when, _)) if *when < x => {}
                _ => s.next_expiry = Some((x, l.remaining)),
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    fn credit(
        seq: i64,
        amount: i64,
        at: OffsetDateTime,
        exp_days: Option<i64>,
        lock_days: Option<i64>,
    ) -> Entry {
        Entry {
            seq,
            kind: EntryKind::Earn,
            amount,
            at,
            available_at: lock_days.map(|d| at + Duration::days(d)),
            expires_at: exp_days.map(|d| at + Duration::days(d)),
            lot: None,
        }
    }
    fn debit(
        seq: i64,
        kind: EntryKind,
        amount: i64,
        at: OffsetDateTime,
        lot: Option<i64>,
    ) -> Entry {
        Entry {
            seq,
            kind,
            amount: -amount,
            at,
            available_at: None,
            expires_at: None,
            lot,
        }
    }

    #[test]
    fn redemptions_take_the_lot_that_expires_first() {
        let t0 = datetime!(2026-01-01 10:00 UTC);
        let es = vec![
            credit(1, 100, t0, Some(365), None),
            credit(2, 50, t0 + Duration::days(10), Some(30), None),
            debit(3, EntryKind::Redeem, 60, t0 + Duration::days(11), None),
        ];
        let (open, deficit) = lots(&es, t0 + Duration::days(11));
        assert_eq!(deficit, 0);
        assert_eq!(
            open.iter()
                .map(|l| (l.seq, l.remaining))
                .collect::<Vec<_>>(),
            vec![(1, 90)]
        );
    }

    #[test]
    fn locked_points_are_not_available_and_expiry_is_reported() {
        let t0 = datetime!(2026-01-01 10:00 UTC);
        let es = vec![
            credit(1, 100, t0, Some(365), None),
            credit(2, 40, t0 + Duration::days(5), Some(365), Some(14)),
        ];
        let s = summarize(&es, t0 + Duration::days(6));
        assert_eq!((s.balance, s.available, s.locked), (140, 100, 40));
        assert_eq!(s.next_expiry, Some((t0 + Duration::days(365), 100)));
        let s = summarize(&es, t0 + Duration::days(20));
        assert_eq!((s.available, s.locked), (140, 0));
        let s = summarize(&es, t0 + Duration::days(366));
        assert_eq!(s.expired_pending, vec![(1, 100)]);
        assert_eq!(s.available, 40);
    }

    #[test]
    fn expire_entries_close_their_lot() {
        let t0 = datetime!(2026-01-01 10:00 UTC);
        let mut es = vec![
            credit(1, 100, t0, Some(30), None),
            debit(2, EntryKind::Redeem, 30, t0, None),
        ];
        let s = summarize(&es, t0 + Duration::days(31));
        assert_eq!(s.expired_pending, vec![(1, 70)]);
        es.push(debit(
            3,
            EntryKind::Expire,
            70,
            t0 + Duration::days(31),
            Some(1),
        ));
        let s = summarize(&es, t0 + Duration::days(31));
        assert_eq!((s.balance, s.available, s.deficit), (0, 0, 0));
        assert!(s.expired_pending.is_empty());
    }

    #[test]
    fn an_overdraft_is_a_deficit_paid_by_the_next_credit() {
        let t0 = datetime!(2026-01-01 10:00 UTC);
        let es = vec![
            credit(1, 10, t0, None, None),
            debit(2, EntryKind::Redeem, 25, t0, None),
        ];
        let s = summarize(&es, t0);
        assert_eq!((s.balance, s.deficit), (-15, 15));
        let mut es = es;
        es.push(credit(3, 20, t0, None, None));
        let s = summarize(&es, t0);
        assert_eq!((s.balance, s.available, s.deficit), (5, 5, 0));
    }
}
