//! The JSON shapes of sales: quotes, orders, returns and a customer's activity.
//! Quantities travel as decimal strings (thousandths are exact), money as
//! integer minor units.

use super::{BalancesView, RefusalView, rfc3339};
use patron_domain::loyalty::checkout::fmt_milli;
use patron_domain::loyalty::{DiscountSource, Enforcement, Quote};
use patron_storage::{CustomerActivity, OrderRecord, QuoteOutcome, ReceiptFacts, ReturnRecord};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A group or type named where it applies.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupRefView {
    pub id: Uuid,
    pub name: String,
}

pub fn group_refs(groups: &[(Uuid, String)]) -> Vec<GroupRefView> {
    groups
        .iter()
        .map(|(id, name)| GroupRefView {
            id: *id,
            name: name.clone(),
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLineView {
    /// The line's index in the order (what a return names).
    pub line: usize,
    pub sku: String,
    pub name: String,
    pub category: String,
    /// Decimal, up to three places.
    #[schema(example = "1.5")]
    pub quantity: String,
    pub unit: String,
    pub unit_price: i64,
    /// Quantity × unit price.
    pub total: i64,
    /// The total less the line's share of the discounts.
    pub net: i64,
    /// Decimal quantity returned so far.
    pub returned: String,
}

/// What a receipt prints about the customer: who they are, and their
/// balances right after this sale or return.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptView {
    pub customer_name: String,
    pub customer_code: String,
    /// Printed when the customer has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    /// Hundredths of a point.
    pub points_balance_after: i64,
    pub credit_balance_after: i64,
}

impl From<&ReceiptFacts> for ReceiptView {
    fn from(f: &ReceiptFacts) -> Self {
        ReceiptView {
            customer_name: f.name.clone(),
            customer_code: f.code.clone(),
            tax_id: f.tax_id.clone(),
            points_balance_after: f.points_after,
            credit_balance_after: f.credit_after,
        }
    }
}

/// A recorded sale.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: String,
    pub customer_id: Uuid,
    pub store: Option<String>,
    pub actor: String,
    pub at: String,
    pub lines: Vec<OrderLineView>,
    pub subtotal: i64,
    pub discount: i64,
    pub total: i64,
    /// Hundredths of a point.
    pub points_redeemed: i64,
    pub credit_redeemed: i64,
    pub amount_paid: i64,
    /// Hundredths of a point.
    pub earned: i64,
    pub tax_exempt: bool,
    /// What each discount was and why.
    pub discounts: Vec<String>,
    /// The limit refusals a manager overrode.
    pub overrides: Vec<String>,
    /// On a single order read, when HQ refused a store's record of it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RefusalView>,
    /// The customer as the receipt names them, and their balances after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptView>,
}

impl From<&OrderRecord> for OrderView {
    fn from(o: &OrderRecord) -> Self {
        OrderView {
            id: o.id.clone(),
            customer_id: o.customer_id,
            store: o.store.clone(),
            actor: o.actor.clone(),
            at: rfc3339(o.at),
            lines: o
                .lines
                .iter()
                .enumerate()
                .map(|(i, l)| OrderLineView {
                    line: i,
                    sku: l.line.sku.clone(),
                    name: l.line.name.clone(),
                    category: l.line.category.clone(),
                    quantity: fmt_milli(l.line.quantity),
                    unit: l.line.unit.clone(),
                    unit_price: l.line.unit_price,
                    total: l.total,
                    net: l.net,
                    returned: fmt_milli(l.returned),
                })
                .collect(),
            subtotal: o.subtotal,
            discount: o.discount,
            total: o.total,
            points_redeemed: o.points_redeemed,
            credit_redeemed: o.credit_redeemed,
            amount_paid: o.amount_paid,
            earned: o.earned,
            tax_exempt: o.tax_exempt,
            discounts: o.discounts.clone(),
            overrides: o.overrides.clone(),
            refused: Vec::new(),
            receipt: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnLineView {
    /// The order line's index.
    pub line: usize,
    /// Decimal quantity returned.
    pub quantity: String,
    /// Net amount refunded for the line.
    pub net: i64,
}

/// A recorded return.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnView {
    pub id: String,
    pub order_id: String,
    pub at: String,
    pub actor: String,
    pub lines: Vec<ReturnLineView>,
    pub net: i64,
    /// Redeemed points given back (hundredths).
    pub points_refund: i64,
    pub credit_refund: i64,
    pub money_refund: i64,
    /// Earned points taken back (hundredths).
    pub earned_reversal: i64,
    /// Earned points already spent, that could not be taken back.
    pub unrecovered_points: i64,
    /// The customer as the receipt names them, and their balances after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptView>,
}

impl From<&ReturnRecord> for ReturnView {
    fn from(r: &ReturnRecord) -> Self {
        ReturnView {
            id: r.id.clone(),
            order_id: r.order_id.clone(),
            at: rfc3339(r.at),
            actor: r.actor.clone(),
            lines: r
                .lines
                .iter()
                .map(|(line, q, net)| ReturnLineView {
                    line: *line,
                    quantity: fmt_milli(*q),
                    net: *net,
                })
                .collect(),
            net: r.net,
            points_refund: r.points_refund,
            credit_refund: r.credit_refund,
            money_refund: r.money_refund,
            earned_reversal: r.earned_reversal,
            unrecovered_points: r.unrecovered_points,
            receipt: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopProductView {
    pub sku: String,
    pub name: String,
    /// Decimal quantity bought.
    pub quantity: String,
    pub amount: i64,
}

/// What a customer's panel shows beyond the record.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityView {
    pub total_spent: i64,
    pub visits: i64,
    /// A date, `YYYY-MM-DD`.
    pub last_visit: Option<String>,
    pub balances: BalancesView,
    pub customer_type: Option<Uuid>,
    pub groups: Vec<GroupRefView>,
    /// The latest orders, newest first.
    pub orders: Vec<OrderView>,
    pub returns: Vec<ReturnView>,
    pub top_products: Vec<TopProductView>,
}

impl ActivityView {
    pub fn new(a: &CustomerActivity, balances: BalancesView) -> Self {
        ActivityView {
            total_spent: a.stats.total_spent,
            visits: a.stats.visits,
            last_visit: a.stats.last_visit.map(|d| d.to_string()),
            balances,
            customer_type: a.customer_type,
            groups: group_refs(&a.groups),
            orders: a.orders.iter().map(OrderView::from).collect(),
            returns: a.returns.iter().map(ReturnView::from).collect(),
            top_products: a
                .top_products
                .iter()
                .map(|p| TopProductView {
                    sku: p.sku.clone(),
                    name: p.name.clone(),
                    quantity: fmt_milli(p.quantity),
                    amount: p.amount,
                })
                .collect(),
        }
    }
}

/// Where a discount comes from.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DiscountSourceKind {
    Group,
    Type,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteDiscountView {
    pub source: DiscountSourceKind,
    /// The group's or customer type's id.
    pub id: String,
    pub name: String,
    /// Decimal percent, when the discount is one.
    pub percent: Option<String>,
    pub amount: i64,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EnforcementView {
    /// The sale is refused past the limit (a manager may override).
    Hard,
    /// The cashier is warned.
    Warn,
}

/// A purchase limit, with this cart.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimitUseView {
    pub limit: String,
    /// Parts per billion of the limit used before this cart.
    pub used_before_ppb: i64,
    /// Parts per billion used with it.
    pub used_after_ppb: i64,
    /// The same, as a percentage for display, e.g. `"42.5 %"`.
    pub used_after: String,
    pub enforcement: EnforcementView,
}

/// Why a cart cannot be sold as it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartRefusalView {
    /// `age`, `purchase_limit`.
    pub code: String,
    pub message: String,
    /// A manager may override it.
    pub overridable: bool,
}

/// A problem with a requested redemption.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteErrorView {
    pub field: String,
    pub message: String,
}

/// A priced cart: discounts, redeemable maximum, earnings, limits and refusals.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteView {
    pub customer_id: Uuid,
    pub subtotal: i64,
    pub discounts: Vec<QuoteDiscountView>,
    pub discount_total: i64,
    pub total: i64,
    pub tax_exempt: bool,
    pub tax_exempt_reason: Option<String>,
    pub balances: BalancesView,
    /// Hundredths of a point.
    pub max_points_redeemable: i64,
    /// Why the maximum is lower than the balance.
    pub max_points_reasons: Vec<String>,
    pub max_credit_redeemable: i64,
    pub points_redeemed: i64,
    pub credit_redeemed: i64,
    pub amount_due: i64,
    /// Points this sale earns (hundredths).
    pub earn: i64,
    /// Decimal percent.
    pub earn_percent: String,
    pub earn_reason: Option<String>,
    pub groups: Vec<GroupRefView>,
    pub limits: Vec<LimitUseView>,
    pub refusals: Vec<CartRefusalView>,
    pub errors: Vec<QuoteErrorView>,
    /// Whether this user may commit the cart as it is.
    pub can_commit: bool,
}

impl QuoteView {
    /// `can_override`: the user may override overridable refusals.
    pub fn new(out: &QuoteOutcome, balances: BalancesView, can_override: bool) -> Self {
        let q: &Quote = &out.quote;
        QuoteView {
            customer_id: out.customer_id,
            subtotal: q.subtotal,
            discounts: q
                .discounts
                .iter()
                .map(|d| {
                    let (source, id, name) = match &d.source {
                        DiscountSource::Group { id, name } => (DiscountSourceKind::Group, id, name),
                        DiscountSource::Type { id, name } => (DiscountSourceKind::Type, id, name),
                    };
                    QuoteDiscountView {
                        source,
                        id: id.clone(),
                        name: name.clone(),
                        percent: d.percent.map(|p| p.to_string()),
                        amount: d.amount,
                        reason: d.reason.clone(),
                    }
                })
                .collect(),
            discount_total: q.discount_total,
            total: q.total,
            tax_exempt: q.tax_exempt,
            tax_exempt_reason: q.tax_exempt_reason.clone(),
            balances,
            max_points_redeemable: q.max_points,
            max_points_reasons: q.max_points_reasons.clone(),
            max_credit_redeemable: q.max_credit,
            points_redeemed: q.points_redeemed,
            credit_redeemed: q.credit_redeemed,
            amount_due: q.amount_due,
            earn: q.earn,
            earn_percent: q.earn_rate.to_string(),
            earn_reason: q.earn_reason.clone(),
            groups: group_refs(&out.groups),
            limits: q
                .limits
                .iter()
                .map(|l| LimitUseView {
                    limit: l.limit.clone(),
                    used_before_ppb: l.used_before,
                    used_after_ppb: l.used_after,
                    used_after: l.percent_after(),
                    enforcement: match l.enforcement {
                        Enforcement::Hard => EnforcementView::Hard,
                        Enforcement::Warn => EnforcementView::Warn,
                    },
                })
                .collect(),
            refusals: q
                .refusals
                .iter()
                .map(|r| CartRefusalView {
                    code: r.code.to_owned(),
                    message: r.message.clone(),
                    overridable: r.overridable,
                })
                .collect(),
            errors: q
                .errors
                .iter()
                .map(|e| QuoteErrorView {
                    field: e.field.clone(),
                    message: e.message.clone(),
                })
                .collect(),
            can_commit: q.errors.is_empty() && !q.blocked(can_override),
        }
    }
}
