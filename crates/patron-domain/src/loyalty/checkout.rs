//! The checkout maths: what a cart costs a customer, what they may redeem and
//! earn, what stops the sale; and what a return gives back.
//!
//! Order of operations (documented in the README):
//! 1. subtotal = Σ line totals (quantity × unit price, half up to the cent);
//! 2. discounts: the best group discount and the customer type's discount; the
//!    larger applies, or with `stack_discounts` the type's applies to what the
//!    group's leaves; the discount is spread over lines in proportion;
//! 3. points: at most min(available points, max % of the discounted total,
//!    what the strictest points-spend limit leaves in its period);
//! 4. store credit: at most min(credit balance, what is left to pay);
//! 5. earned = earn rate × (discounted total − points redeemed), half up:
//!    store credit is money the customer paid in earlier, so it earns.

use super::limits::{Bought, Enforcement, LimitCheck, Milli, PurchaseLimit};
use super::money::{Percent, allocate, mul_div_floor, mul_div_half_up};
use super::program::{GroupTerms, LoyaltySettings, Period, TypeDiscount, TypeTerms, benefits};
use crate::error::FieldError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub sku: String,
    pub name: String,
    pub category: String,
    /// Thousandths of `unit`.
    pub quantity: Milli,
    pub unit: String,
    /// Minor units per whole unit.
    pub unit_price: i64,
}

impl CartLine {
    pub fn total(&self) -> i64 {
        mul_div_half_up(self.quantity, self.unit_price, 1000)
    }

    pub fn bought(&self) -> Bought {
        Bought {
            category: self.category.clone(),
            unit: self.unit.clone(),
            quantity: self.quantity,
        }
    }
}

/// Points redeemed so far in each period, for spend limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedeemedSoFar {
    pub day: i64,
    pub week: i64,
    pub month: i64,
    pub year: i64,
}

impl RedeemedSoFar {
    pub fn get(&self, p: Period) -> i64 {
        match p {
            Period::Day => self.day,
            Period::Week => self.week,
            Period::Month => self.month,
            Period::Year => self.year,
        }
    }
}

pub struct QuoteInput<'a> {
    pub lines: &'a [CartLine],
    pub groups: &'a [GroupTerms],
    pub customer_type: Option<&'a TypeTerms>,
    pub age: Option<u32>,
    pub points_available: i64,
    pub credit_available: i64,
    pub redeemed: RedeemedSoFar,
    /// Each limit that applies, with what the customer bought in its period.
    pub limits: &'a [(PurchaseLimit, Vec<Bought>)],
    pub settings: &'a LoyaltySettings,
    pub redeem_points: i64,
    pub redeem_credit: i64,
    /// A sale a store already made, re-priced at HQ: the redemption the store
    /// allowed stands (up to what is left to pay), whatever HQ's balance and
    /// spend limits say; the caller reports any overdraft it causes.
    pub already_made: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscountSource {
    Group { id: String, name: String },
    Type { id: String, name: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discount {
    pub source: DiscountSource,
    pub percent: Option<Percent>,
    pub amount: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `age`, `purchase_limit`.
    pub code: &'static str,
    pub message: String,
    /// A manager may override it (audited); otherwise the sale cannot proceed.
    pub overridable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub subtotal: i64,
    pub discounts: Vec<Discount>,
    pub discount_total: i64,
    /// Subtotal less discounts.
    pub total: i64,
    /// Per cart line: its total less its share of the discount.
    pub line_net: Vec<i64>,
    pub tax_exempt: bool,
    pub tax_exempt_reason: Option<String>,
    pub max_points: i64,
    pub max_points_reasons: Vec<String>,
    pub max_credit: i64,
    pub points_redeemed: i64,
    pub credit_redeemed: i64,
    pub amount_due: i64,
    pub earn: i64,
    pub earn_rate: Percent,
    pub earn_reason: Option<String>,
    pub limits: Vec<LimitCheck>,
    pub refusals: Vec<Refusal>,
    /// Problems with the requested redemption, by field.
    pub errors: Vec<FieldError>,
}

impl Quote {
    /// Whether the sale may be committed; `can_override` for a manager's override.
    pub fn blocked(&self, can_override: bool) -> bool {
        self.refusals
            .iter()
            .any(|r| !(r.overridable && can_override))
    }
}

pub fn quote(input: &QuoteInput<'_>) -> Quote {
    let s = input.settings;
    let line_totals: Vec<i64> = input.lines.iter().map(CartLine::total).collect();
    let subtotal: i64 = line_totals.iter().sum();
    let b = benefits(input.groups);

    // Discounts.
    let group_discount = b.discount.map(|(g, p)| Discount {
        source: DiscountSource::Group {
            id: g.id.clone(),
            name: g.name.clone(),
        },
        percent: Some(p),
        amount: p.of(subtotal),
        reason: format!("{} % off as a member of {}", p, g.name),
    });
    let type_discount = |base: i64| {
        input.customer_type.and_then(|t| {
            let (percent, amount, what) = match t.discount {
                TypeDiscount::None => return None,
                TypeDiscount::Percent(p) => (Some(p), p.of(base), format!("{p} % off")),
                TypeDiscount::Fixed(a) => (
                    None,
                    a.clamp(0, base.max(0)),
                    format!("{} off", fmt_minor(a)),
                ),
            };
            Some(Discount {
                source: DiscountSource::Type {
                    id: t.id.clone(),
                    name: t.name.clone(),
                },
                percent,
                amount,
                reason: format!("{what} for customer type {}", t.name),
            })
        })
    };
    let mut discounts: Vec<Discount> = Vec::new();
    if s.stack_discounts {
        let g_amount = group_discount.as_ref().map_or(0, |d| d.amount);
        discounts.extend(group_discount.clone());
        if let Some(mut d) = type_discount(subtotal - g_amount) {
            d.reason.push_str(", applied after the group discount");
            discounts.push(d);
        }
    } else {
        let t = type_discount(subtotal);
        match (group_discount, t) {
            (Some(g), Some(t)) => {
                if t.amount > g.amount {
                    let mut t = t;
                    t.reason
                        .push_str(&format!(" (larger than the {} group discount)", g.reason));
                    discounts.push(t);
                } else {
                    discounts.push(g);
                }
            }
            (g, t) => discounts.extend(g.into_iter().chain(t)),
        }
    }
    discounts.retain(|d| d.amount > 0);
    let discount_total = discounts
        .iter()
        .map(|d| d.amount)
        .sum::<i64>()
        .min(subtotal);
    let total = subtotal - discount_total;
    let shares = allocate(discount_total, &line_totals);
    let line_net: Vec<i64> = line_totals
        .iter()
        .zip(&shares)
        .map(|(t, d)| t - d)
        .collect();

    // Redemption caps.
    let mut reasons = Vec::new();
    let max_pct = match b.max_redeem {
        Some(g) if g < s.max_redeem => {
            reasons.push(format!(
                "the group allows at most {g} % of an order in points"
            ));
            g
        }
        _ => {
            reasons.push(format!(
                "at most {} % of an order may be paid with points",
                s.max_redeem
            ));
            s.max_redeem
        }
    };
    let by_pct = if input.already_made {
        total
    } else {
        max_pct.of_floor(total)
    };
    let mut max_points = by_pct.min(input.points_available.max(0));
    if input.points_available < by_pct {
        reasons.push(format!(
            "{} points are available",
            fmt_minor(input.points_available.max(0))
        ));
    }
    if let Some((g, l)) = b.spend_limit.filter(|_| !input.already_made) {
        let left = (l.amount - input.redeemed.get(l.period)).max(0);
        if left < max_points {
            max_points = left;
            reasons.push(format!(
                "{} limits points spent to {} per {}; {} left",
                g.name,
                fmt_minor(l.amount),
                l.period.as_str(),
                fmt_minor(left)
            ));
        }
    }
    let mut errors = Vec::new();
    let points_redeemed = input.redeem_points;
    if points_redeemed < 0 {
        errors.push(FieldError::new("redeem_points", "must not be negative"));
    } else if points_redeemed > max_points {
        errors.push(FieldError::new(
            "redeem_points",
            format!(
                "at most {} may be redeemed: {}",
                max_points,
                reasons.join("; ")
            ),
        ));
    }
    let points_redeemed = points_redeemed.clamp(0, max_points);
    let max_credit = input.credit_available.max(0).min(total - points_redeemed);
    let credit_redeemed = input.redeem_credit;
    if credit_redeemed < 0 {
        errors.push(FieldError::new("redeem_credit", "must not be negative"));
    } else if credit_redeemed > max_credit {
        errors.push(FieldError::new(
            "redeem_credit",
            format!("at most {max_credit} of store credit may be used on this order"),
        ));
    }
    let credit_redeemed = credit_redeemed.clamp(0, max_credit);

    // Earning.
    let (earn_rate, earn_reason) = match b.earn {
        Some((g, p)) => (
            p,
            Some(format!(
                "{} % of the amount paid as a member of {}",
                p, g.name
            )),
        ),
        None => (Percent::ZERO, None),
    };
    let earn = earn_rate.of(total - points_redeemed);

    // Refusals.
    let mut refusals = Vec::new();
    for g in input.groups {
        if let Some(min) = g.min_age {
            match input.age {
                None => refusals.push(Refusal {
                    code: "age",
                    message: format!(
                        "{} requires age {min}+, and the customer's date of birth is unknown",
                        g.name
                    ),
                    overridable: false,
                }),
                Some(a) if a < min => refusals.push(Refusal {
                    code: "age",
                    message: format!("{} requires age {min}+; the customer is {a}", g.name),
                    overridable: false,
                }),
                _ => {}
            }
        }
    }
    let cart: Vec<Bought> = input.lines.iter().map(CartLine::bought).collect();
    let mut checks = Vec::new();
    for (limit, earlier) in input.limits {
        let c = limit.check(earlier, &cart);
        if c.breached() {
            let why = if c.unit_mismatch.is_empty() {
                format!(
                    "this sale brings {} to {} of its {} limit",
                    limit.name,
                    c.percent_after(),
                    limit.period.as_str()
                )
            } else {
                format!("{}: {}", limit.name, c.unit_mismatch.join("; "))
            };
            refusals.push(Refusal {
                code: "purchase_limit",
                message: why,
                overridable: limit.enforcement == Enforcement::Warn && c.unit_mismatch.is_empty(),
            });
        }
        checks.push(c);
    }

    let (tax_exempt, tax_exempt_reason) = match input.customer_type {
        Some(t) if t.tax_exempt => (
            true,
            Some(format!("customer type {} is tax exempt", t.name)),
        ),
        _ => (false, None),
    };
    Quote {
        subtotal,
        discounts,
        discount_total,
        total,
        line_net,
        tax_exempt,
        tax_exempt_reason,
        max_points,
        max_points_reasons: reasons,
        max_credit,
        points_redeemed,
        credit_redeemed,
        amount_due: total - points_redeemed - credit_redeemed,
        earn,
        earn_rate,
        earn_reason,
        limits: checks,
        refusals,
        errors,
    }
}

/// "12.50", for messages (two decimals).
pub fn fmt_minor(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// A line of a committed order, as returns see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoldLine {
    pub quantity: Milli,
    pub returned: Milli,
    /// Line total less its discount share.
    pub net: i64,
}

/// What an order paid and earned, and what its earlier returns gave back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OrderMoney {
    pub total: i64,
    pub points_redeemed: i64,
    pub credit_redeemed: i64,
    pub earned: i64,
    pub refunded_net: i64,
    pub points_refunded: i64,
    pub credit_refunded: i64,
    pub earned_reversed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReturnAmounts {
    /// Per requested line: (index, quantity, net value returned).
    pub lines: Vec<(usize, Milli, i64)>,
    pub net: i64,
    pub points_refund: i64,
    pub credit_refund: i64,
    /// Paid back in money (cash, card): net less the points and credit refunds.
    pub money_refund: i64,
    pub earned_reversal: i64,
}

/// The share `part/whole` of `amount`, rounded down, and all of it once
/// `part` reaches `whole` (so the last return settles every remainder).
fn share(amount: i64, part: i64, whole: i64) -> i64 {
    if part >= whole {
        amount
    } else {
        mul_div_floor(amount, part, whole)
    }
}

/// Works out a return of `requested` (line index, quantity) against an order.
/// Refuses quantities beyond what was sold and not yet returned.
pub fn return_amounts(
    sold: &[SoldLine],
    money: &OrderMoney,
    requested: &[(usize, Milli)],
) -> Result<ReturnAmounts, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut taking: Vec<Milli> = vec![0; sold.len()];
    for (i, (idx, qty)) in requested.iter().enumerate() {
        let field = |f: &str| format!("lines[{i}].{f}");
        let Some(line) = sold.get(*idx) else {
            errors.push(FieldError::new(field("line"), "the order has no such line"));
            continue;
        };
        if *qty <= 0 {
            errors.push(FieldError::new(field("quantity"), "must be more than zero"));
            continue;
        }
        let Some(t) = taking.get_mut(*idx) else {
            continue;
        };
        *t += qty;
        let left = line.quantity - line.returned;
        if *t > left {
            errors.push(FieldError::new(
                field("quantity"),
                format!(
                    "only {} of this line can still be returned",
                    fmt_milli(left)
                ),
            ));
        }
    }
    if requested.is_empty() {
        errors.push(FieldError::new("lines", "name at least one line to return"));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut out = ReturnAmounts::default();
    for (idx, qty) in taking.iter().enumerate() {
        let (Some(line), true) = (sold.get(idx), *qty > 0) else {
            continue;
        };
        let before = share(line.net, line.returned, line.quantity);
        let after = share(line.net, line.returned + qty, line.quantity);
        out.lines.push((idx, *qty, after - before));
        out.net += after - before;
    }
    // Split the returned value over the three ways it was paid (points, credit,
    // money), each in proportion, without ever giving back more through one of
    // them than was paid through it: rounding leftovers go where room remains.
    let r_after = money.refunded_net + out.net;
    let paid_money = money.total - money.points_redeemed - money.credit_redeemed;
    let money_refunded = money.refunded_net - money.points_refunded - money.credit_refunded;
    let buckets = [
        (money.points_redeemed, money.points_refunded),
        (money.credit_redeemed, money.credit_refunded),
        (paid_money, money_refunded),
    ];
    let mut give = [0i64; 3];
    let mut left = out.net;
    for (g, (paid, done)) in give.iter_mut().zip(buckets) {
        let want = (share(paid, r_after, money.total) - done).clamp(0, (paid - done).max(0));
        *g = want.min(left);
        left -= *g;
    }
    // Leftover cents go to money first: the customer sees them at once.
    for (g, (paid, done)) in give.iter_mut().zip(buckets).rev() {
        let room = (paid - done - *g).max(0);
        let more = room.min(left);
        *g += more;
        left -= more;
    }
    out.points_refund = give[0];
    out.credit_refund = give[1];
    out.money_refund = out.net - give[0] - give[1];
    out.earned_reversal =
        (share(money.earned, r_after, money.total) - money.earned_reversed).max(0);
    Ok(out)
}

/// "1.5", "2", "0.125": a thousandths quantity as text.
pub fn fmt_milli(q: Milli) -> String {
    let sign = if q < 0 { "-" } else { "" };
    let a = q.unsigned_abs();
    let (w, f) = (a / 1000, a % 1000);
    if f == 0 {
        format!("{sign}{w}")
    } else {
        let s = format!("{f:03}");
        format!("{sign}{w}.{}", s.trim_end_matches('0'))
    }
}
