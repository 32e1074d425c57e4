//! Reports: day totals of sales, the ledger, sign-ups and group sizes, as a
//! backend keeps them, and what they mean to a chain (what counts as points
//! issued, redeemed or expired), decided here once for every backend.

use patron_domain::loyalty::{Account, EntryKind};
use time::Date;
use uuid::Uuid;

/// Days `from..=to` (the chain's local days), one store or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRange {
    pub from: Date,
    pub to: Date,
    /// A store's id, or `HQ` for what was done at HQ.
    pub store: Option<String>,
}

/// The longest range one report covers (about ten years of days).
pub const MAX_REPORT_DAYS: i64 = 3_700;

/// One day of one store's sales ("HQ" for HQ's own); the range's total has
/// no day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SalesDay {
    pub day: Option<Date>,
    pub store: String,
    pub orders: i64,
    pub subtotal: i64,
    pub discount: i64,
    pub total: i64,
    pub points_redeemed: i64,
    pub credit_redeemed: i64,
    pub earned: i64,
    pub returns: i64,
    pub returned_net: i64,
}

/// One day's ledger entries of one kind on one account at one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerDay {
    pub day: Date,
    pub store: String,
    pub account: Account,
    pub kind: EntryKind,
    pub entries: i64,
    pub amount: i64,
}

/// New customers on a day, by the store that signed them up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupDay {
    pub day: Date,
    pub store: String,
    pub created: i64,
}

/// A group's active members at the start of a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSizeDay {
    pub day: Date,
    pub group_id: Uuid,
    pub name: String,
    pub members: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopCustomer {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub total_spent: i64,
    pub visits: i64,
    pub points_balance: i64,
}

/// What the chain owes its customers: every balance, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Liability {
    /// Hundredths of a point.
    pub points: i64,
    pub credit: i64,
}

/// One day of loyalty movements, all stores or one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoyaltyDay {
    pub day: Option<Date>,
    /// Earned, bonuses, top-ups and opening balances, less earnings taken
    /// back on returns.
    pub points_issued: i64,
    /// Spent at the register, less what returns gave back.
    pub points_redeemed: i64,
    pub points_expired: i64,
    /// Manual corrections, either way.
    pub points_adjusted: i64,
    pub credit_issued: i64,
    pub credit_redeemed: i64,
    pub credit_expired: i64,
    pub credit_adjusted: i64,
}

#[derive(Clone, Copy)]
enum Movement {
    Issued,
    Redeemed,
    Expired,
    Adjusted,
}

fn movement(kind: EntryKind) -> Movement {
    match kind {
        EntryKind::Earn
        | EntryKind::Birthday
        | EntryKind::Registration
        | EntryKind::TopUp
        | EntryKind::Opening
        | EntryKind::Reverse => Movement::Issued,
        EntryKind::Redeem | EntryKind::Refund => Movement::Redeemed,
        EntryKind::Expire => Movement::Expired,
        EntryKind::Adjust => Movement::Adjusted,
    }
}

impl LoyaltyDay {
    fn add(&mut self, account: Account, kind: EntryKind, amount: i64) {
        let m = movement(kind);
        // Redeemed and expired are shown as positive amounts going out.
        let out = |v: i64| v.saturating_neg();
        let slot = match (account, m) {
            (Account::Points, Movement::Issued) => (&mut self.points_issued, amount),
            (Account::Points, Movement::Redeemed) => (&mut self.points_redeemed, out(amount)),
            (Account::Points, Movement::Expired) => (&mut self.points_expired, out(amount)),
            (Account::Points, Movement::Adjusted) => (&mut self.points_adjusted, amount),
            (Account::Credit, Movement::Issued) => (&mut self.credit_issued, amount),
            (Account::Credit, Movement::Redeemed) => (&mut self.credit_redeemed, out(amount)),
            (Account::Credit, Movement::Expired) => (&mut self.credit_expired, out(amount)),
            (Account::Credit, Movement::Adjusted) => (&mut self.credit_adjusted, amount),
        };
        *slot.0 = slot.0.saturating_add(slot.1);
    }
}

/// The ledger's day totals as loyalty movements per day, oldest first, and
/// the whole range's totals.
pub fn loyalty_days(rows: &[LedgerDay]) -> (Vec<LoyaltyDay>, LoyaltyDay) {
    let mut days: std::collections::BTreeMap<Date, LoyaltyDay> = Default::default();
    let mut total = LoyaltyDay::default();
    for r in rows {
        days.entry(r.day)
            .or_insert_with(|| LoyaltyDay {
                day: Some(r.day),
                ..Default::default()
            })
            .add(r.account, r.kind, r.amount);
        total.add(r.account, r.kind, r.amount);
    }
    (days.into_values().collect(), total)
}

/// Sales day rows summed over the range (day and store left empty).
pub fn sales_total(rows: &[SalesDay]) -> SalesDay {
    rows.iter().fold(SalesDay::default(), |mut t, r| {
        t.orders = t.orders.saturating_add(r.orders);
        t.subtotal = t.subtotal.saturating_add(r.subtotal);
        t.discount = t.discount.saturating_add(r.discount);
        t.total = t.total.saturating_add(r.total);
        t.points_redeemed = t.points_redeemed.saturating_add(r.points_redeemed);
        t.credit_redeemed = t.credit_redeemed.saturating_add(r.credit_redeemed);
        t.earned = t.earned.saturating_add(r.earned);
        t.returns = t.returns.saturating_add(r.returns);
        t.returned_net = t.returned_net.saturating_add(r.returned_net);
        t
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn row(day: Date, account: Account, kind: EntryKind, amount: i64) -> LedgerDay {
        LedgerDay {
            day,
            store: String::new(),
            account,
            kind,
            entries: 1,
            amount,
        }
    }

    #[test]
    fn ledger_kinds_become_issued_redeemed_expired_adjusted() {
        let d1 = date!(2026 - 11 - 30);
        let d2 = date!(2026 - 12 - 01);
        let rows = [
            row(d1, Account::Points, EntryKind::Earn, 500),
            row(d1, Account::Points, EntryKind::Reverse, -100),
            row(d1, Account::Points, EntryKind::Redeem, -300),
            row(d1, Account::Points, EntryKind::Refund, 50),
            row(d2, Account::Points, EntryKind::Expire, -40),
            row(d2, Account::Points, EntryKind::Adjust, -7),
            row(d2, Account::Credit, EntryKind::TopUp, 2_000),
            row(d2, Account::Credit, EntryKind::Redeem, -500),
        ];
        let (days, total) = loyalty_days(&rows);
        assert_eq!(days.len(), 2);
        assert_eq!((days[0].points_issued, days[0].points_redeemed), (400, 250));
        assert_eq!(
            (
                days[1].points_expired,
                days[1].points_adjusted,
                days[1].credit_issued,
                days[1].credit_redeemed
            ),
            (40, -7, 2_000, 500)
        );
        assert_eq!(
            total.points_issued - total.points_redeemed - total.points_expired
                + total.points_adjusted,
            500 - 100 - 300 + 50 - 40 - 7
        );
    }
}
