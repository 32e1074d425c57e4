//! A sale and a return: what they write, decided once for every caller
//! (an API call at HQ or a store, a store's sale re-applied at HQ).

use crate::ledger::{PlannedEntry, expiry};
use patron_domain::loyalty::{
    Account, Bought, EntryKind, GroupTerms, LoyaltySettings, OrderMoney, PurchaseLimit, Quote,
    QuoteInput, RedeemedSoFar, SoldLine, TypeTerms, quote, return_amounts,
};
use patron_domain::{FieldError, ValidationErrors};
use patron_storage::ops::{derived_id, derived_id_at, redemption_id};
use patron_storage::{Balances, OrderRequest, ReturnRequest};
use time::{Duration, OffsetDateTime};

/// A redemption HQ already recorded for this order (its authorisation, or at a
/// store the copy of it that arrived through the feed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authorisation {
    /// The entry's amount (negative).
    pub amount: i64,
    /// Given back since, because the sale seemed lost.
    pub released: bool,
}

/// What the backend loaded about the customer for a sale.
#[derive(Debug, Clone)]
pub struct OrderFacts<'a> {
    pub groups: &'a [GroupTerms],
    pub customer_type: Option<&'a TypeTerms>,
    pub age: Option<u32>,
    pub balances: Balances,
    pub redeemed: RedeemedSoFar,
    pub limits: &'a [(PurchaseLimit, Vec<Bought>)],
    pub settings: &'a LoyaltySettings,
    /// Per account, points then credit: the redemption already recorded under
    /// this order's id, if any.
    pub authorised: [Option<Authorisation>; 2],
    /// What the customer has spent so far, for the lifetime bound.
    pub lifetime_spent: i64,
}

/// The most one customer's purchases may add up to (100 trillion in major
/// units): far beyond any real customer, and far enough below the integer
/// limit that no sum over a customer's sales or ledger can overflow.
pub const MAX_LIFETIME_SPEND: i64 = 10_000_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPlan {
    pub quote: Quote,
    /// Limit refusals passed (by a manager's override, or because the sale
    /// already happened at a store): kept on the order and in the audit trail.
    pub overrides: Vec<String>,
    pub entries: Vec<PlannedEntry>,
}

const ACCOUNTS: [Account; 2] = [Account::Points, Account::Credit];

/// Prices a sale and decides its ledger entries. A sale a store already made
/// (`order.from_store`) is never refused for what HQ's data says about
/// balances, spend limits or purchase limits — it happened; the redemption it
/// allowed stands and is flagged for HQ's overdraft check, and the limits it
/// passed are recorded as exceptions. A new sale is refused with the reasons.
pub fn plan_order(
    order: &OrderRequest,
    facts: &OrderFacts<'_>,
    now: OffsetDateTime,
) -> Result<OrderPlan, ValidationErrors> {
    let replay = order.from_store.is_some();
    let mut balances = facts.balances.clone();
    let mut redeemed = facts.redeemed;
    // This sale's own authorisation must not count against the balance the
    // sale is checked against.
    for (account, a) in ACCOUNTS.iter().zip(&facts.authorised) {
        let Some(a) = a.filter(|a| !a.released) else {
            continue;
        };
        let b = match account {
            Account::Points => &mut balances.points,
            Account::Credit => &mut balances.credit,
        };
        b.available = b.available.saturating_sub(a.amount);
        b.balance = b.balance.saturating_sub(a.amount);
        if *account == Account::Points {
            redeemed.day = redeemed.day.saturating_add(a.amount);
            redeemed.week = redeemed.week.saturating_add(a.amount);
            redeemed.month = redeemed.month.saturating_add(a.amount);
            redeemed.year = redeemed.year.saturating_add(a.amount);
        }
    }
    if replay {
        balances.points.available = patron_storage::MAX_AMOUNT;
        balances.credit.available = patron_storage::MAX_AMOUNT;
    }
    let req = &order.checkout;
    let q = quote(&QuoteInput {
        lines: &req.lines,
        groups: facts.groups,
        customer_type: facts.customer_type,
        age: facts.age,
        points_available: balances.points.available,
        credit_available: balances.credit.available,
        redeemed,
        limits: facts.limits,
        settings: facts.settings,
        redeem_points: req.redeem_points,
        redeem_credit: req.redeem_credit,
        already_made: replay,
    });
    if !q.errors.is_empty() {
        return Err(ValidationErrors(q.errors.clone()));
    }
    if facts
        .lifetime_spent
        .checked_add(q.total)
        .is_none_or(|t| t > MAX_LIFETIME_SPEND)
    {
        return Err(FieldError::new(
            "lines",
            "this sale would take the customer's lifetime spend past 100,000,000,000,000.00",
        )
        .into());
    }
    if !replay && q.blocked(order.override_limits) {
        let errors = q
            .refusals
            .iter()
            .filter(|r| !(r.overridable && order.override_limits))
            .map(|r| {
                let field = if r.code == "age" { "customer" } else { "lines" };
                let hint = if r.overridable {
                    " (a manager may override)"
                } else {
                    ""
                };
                FieldError::new(field, format!("{}{hint}", r.message))
            })
            .collect();
        return Err(ValidationErrors(errors));
    }
    let overrides = q
        .refusals
        .iter()
        .map(|r| {
            if replay && !(r.overridable && order.override_limits) {
                format!("recorded from the store despite: {}", r.message)
            } else {
                r.message.clone()
            }
        })
        .collect();
    let mut entries = Vec::new();
    for (account, (amount, authorised)) in ACCOUNTS.iter().zip(
        [q.points_redeemed, q.credit_redeemed]
            .into_iter()
            .zip(facts.authorised),
    ) {
        if amount <= 0 {
            continue;
        }
        let id = match authorised {
            // Authorised at HQ for this sale and still standing: that entry is it.
            Some(a) if !a.released => continue,
            // Authorised, then released because the sale seemed lost: it did
            // happen after all, so it redeems again.
            Some(_) => derived_id(&format!(
                "order:{}:redeem:{}:after-release",
                order.id,
                account.as_str()
            )),
            None => redemption_id(&order.id, account.as_str()),
        };
        entries.push(PlannedEntry {
            id: Some(id),
            unauthorised: replay,
            ..PlannedEntry::new(*account, EntryKind::Redeem, -amount)
        });
    }
    if q.earn > 0 {
        let s = facts.settings;
        entries.push(PlannedEntry {
            id: Some(derived_id_at(
                &format!("order:{}:earn", order.id),
                order.placed_at.unwrap_or(now),
            )),
            reason: q.earn_reason.clone(),
            // Locked for the return window, so a return can take them back.
            available_at: now.checked_add(Duration::days(i64::from(s.return_window_days))),
            expires_at: expiry(s, Account::Points, now),
            ..PlannedEntry::new(Account::Points, EntryKind::Earn, q.earn)
        });
    }
    Ok(OrderPlan {
        quote: q,
        overrides,
        entries,
    })
}

/// What the backend loaded about the order being returned.
#[derive(Debug, Clone)]
pub struct ReturnFacts<'a> {
    pub sold: &'a [SoldLine],
    pub money: &'a OrderMoney,
    /// The customer's points balance now: earned points already spent cannot
    /// be taken back.
    pub points_balance: i64,
    pub settings: &'a LoyaltySettings,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnPlan {
    pub amounts: patron_domain::loyalty::ReturnAmounts,
    /// Earned points taken back (from the order's own lot).
    pub reversal: i64,
    /// Earned points that had been spent and could not be taken back.
    pub unrecovered: i64,
    /// The reversal first (written against the order's earn lot), then the
    /// refunds.
    pub entries: Vec<PlannedEntry>,
}

/// Splits a return over points, credit and money in proportion, never more
/// than was sold or paid across every return of the order.
pub fn plan_return(
    req: &ReturnRequest,
    facts: &ReturnFacts<'_>,
    now: OffsetDateTime,
) -> Result<ReturnPlan, ValidationErrors> {
    let amounts = return_amounts(facts.sold, facts.money, &req.lines).map_err(ValidationErrors)?;
    let reversal = amounts.earned_reversal.min(facts.points_balance.max(0));
    let unrecovered = amounts.earned_reversal - reversal;
    let entry = |account: Account, kind: EntryKind, amount: i64| PlannedEntry {
        id: Some(derived_id(&format!(
            "return:{}:{}:{}",
            req.id,
            kind.as_str(),
            account.as_str()
        ))),
        reason: Some(format!("return {}", req.id)),
        ..PlannedEntry::new(account, kind, amount)
    };
    let entries = vec![
        entry(Account::Points, EntryKind::Reverse, -reversal),
        PlannedEntry {
            expires_at: expiry(facts.settings, Account::Points, now),
            ..entry(Account::Points, EntryKind::Refund, amounts.points_refund)
        },
        entry(Account::Credit, EntryKind::Refund, amounts.credit_refund),
    ];
    Ok(ReturnPlan {
        amounts,
        reversal,
        unrecovered,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use patron_domain::loyalty::CartLine;
    use patron_storage::{Balance, CheckoutRequest, CustomerKey};

    fn order(redeem_points: i64, from_store: Option<&str>) -> OrderRequest {
        OrderRequest {
            id: "o-1".into(),
            checkout: CheckoutRequest {
                customer: CustomerKey::Code("CUST-00001".into()),
                lines: vec![CartLine {
                    sku: "A".into(),
                    name: "A".into(),
                    category: "x".into(),
                    quantity: 1_000,
                    unit: "ea".into(),
                    unit_price: 10_000,
                }],
                redeem_points,
                redeem_credit: 0,
                store: None,
            },
            override_limits: false,
            fingerprint: "f".into(),
            from_store: from_store.map(str::to_owned),
            placed_at: None,
        }
    }

    fn facts(
        settings: &LoyaltySettings,
        points: i64,
        authorised: Option<Authorisation>,
    ) -> OrderFacts<'_> {
        OrderFacts {
            groups: &[],
            customer_type: None,
            age: Some(30),
            balances: Balances {
                points: Balance {
                    balance: points,
                    available: points,
                    ..Balance::default()
                },
                credit: Balance::default(),
            },
            redeemed: RedeemedSoFar::default(),
            limits: &[],
            settings,
            authorised: [authorised, None],
            lifetime_spent: 0,
        }
    }

    fn settings() -> LoyaltySettings {
        LoyaltySettings {
            max_redeem: patron_domain::loyalty::Percent::parse("100").unwrap_or_default(),
            ..LoyaltySettings::default()
        }
    }

    fn redemptions(p: &OrderPlan) -> Vec<(Option<uuid::Uuid>, i64, bool)> {
        p.entries
            .iter()
            .filter(|e| e.kind == EntryKind::Redeem)
            .map(|e| (e.id, e.amount, e.unauthorised))
            .collect()
    }

    #[test]
    fn a_new_sale_redeems_within_the_balance_under_its_derived_id() {
        let s = settings();
        let now = OffsetDateTime::UNIX_EPOCH;
        let p = plan_order(&order(3_000, None), &facts(&s, 5_000, None), now);
        assert_eq!(
            p.map(|p| redemptions(&p)),
            Ok(vec![(Some(redemption_id("o-1", "points")), -3_000, false)])
        );
        assert!(plan_order(&order(6_000, None), &facts(&s, 5_000, None), now).is_err());
    }

    #[test]
    fn an_authorised_redemption_is_not_written_again() {
        let s = settings();
        // HQ's balance already shows the authorised 3,000 gone.
        let a = Authorisation {
            amount: -3_000,
            released: false,
        };
        let p = plan_order(
            &order(3_000, None),
            &facts(&s, 0, Some(a)),
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(p.map(|p| redemptions(&p)), Ok(vec![]));
    }

    #[test]
    fn a_sale_arriving_after_its_release_redeems_again() {
        let s = settings();
        let a = Authorisation {
            amount: -3_000,
            released: true,
        };
        let p = plan_order(
            &order(3_000, Some("S01")),
            &facts(&s, 5_000, Some(a)),
            OffsetDateTime::UNIX_EPOCH,
        );
        let r = p.map(|p| redemptions(&p)).unwrap_or_default();
        assert_eq!(r.len(), 1);
        assert_ne!(r[0].0, Some(redemption_id("o-1", "points")));
        assert!(r[0].2, "checked against the offline cap");
    }

    #[test]
    fn a_lifetime_spend_cannot_overflow() {
        let s = settings();
        let mut f = facts(&s, 0, None);
        f.lifetime_spent = MAX_LIFETIME_SPEND - 1;
        assert!(plan_order(&order(0, None), &f, OffsetDateTime::UNIX_EPOCH).is_err());
        f.lifetime_spent = i64::MAX;
        assert!(plan_order(&order(0, Some("S01")), &f, OffsetDateTime::UNIX_EPOCH).is_err());
        f.lifetime_spent = 0;
        assert!(plan_order(&order(0, None), &f, OffsetDateTime::UNIX_EPOCH).is_ok());
    }

    #[test]
    fn a_store_sale_stands_beyond_hqs_balance() {
        let s = settings();
        let p = plan_order(
            &order(8_000, Some("S01")),
            &facts(&s, 1_000, None),
            OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(
            p.map(|p| redemptions(&p)),
            Ok(vec![(Some(redemption_id("o-1", "points")), -8_000, true)])
        );
    }

    #[test]
    fn a_return_never_takes_back_spent_points() {
        let s = settings();
        let sold = [SoldLine {
            quantity: 1_000,
            returned: 0,
            net: 10_000,
        }];
        let money = OrderMoney {
            total: 10_000,
            points_redeemed: 0,
            credit_redeemed: 0,
            earned: 500,
            refunded_net: 0,
            points_refunded: 0,
            credit_refunded: 0,
            earned_reversed: 0,
        };
        let req = ReturnRequest {
            id: "r-1".into(),
            order_id: "o-1".into(),
            lines: vec![(0, 1_000)],
            fingerprint: "f".into(),
        };
        let p = plan_return(
            &req,
            &ReturnFacts {
                sold: &sold,
                money: &money,
                points_balance: 200,
                settings: &s,
            },
            OffsetDateTime::UNIX_EPOCH,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((p.reversal, p.unrecovered), (200, 300));
        let twice = ReturnRequest {
            lines: vec![(0, 2_000)],
            ..req
        };
        assert!(
            plan_return(
                &twice,
                &ReturnFacts {
                    sold: &sold,
                    money: &money,
                    points_balance: 200,
                    settings: &s,
                },
                OffsetDateTime::UNIX_EPOCH
            )
            .is_err()
        );
    }
}
