//! Storage-side types for groups, customer types, the ledger and orders.

use patron_domain::loyalty::{
    Account, CartLine, EntryKind, Period, Program, PurchaseLimit, Quote, SpendLimit, TypeDiscount,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::CustomerKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupKind {
    /// Everyone; cannot be renamed, filled or removed.
    Common,
    /// Members added and removed by hand (and by transitions).
    Manual,
    /// Members are the customers matching the group's rule.
    Auto,
    /// Created with every database (Medical, Recreational); rule fixed.
    System,
}

impl GroupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::Common => "common",
            GroupKind::Manual => "manual",
            GroupKind::Auto => "auto",
            GroupKind::System => "system",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "common" => Some(GroupKind::Common),
            "manual" => Some(GroupKind::Manual),
            "auto" => Some(GroupKind::Auto),
            "system" => Some(GroupKind::System),
            _ => None,
        }
    }
}

/// A group as created or edited (everything but its id and counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    pub name: String,
    pub description: Option<String>,
    pub kind: GroupKind,
    /// Rule source, for auto groups.
    pub rule: Option<String>,
    pub program: Program,
    pub spend_limit: Option<SpendLimit>,
    pub min_age: Option<u32>,
    pub limit_profile: Option<Uuid>,
}

impl GroupSpec {
    /// A manual group with no program or limits.
    pub fn manual(name: impl Into<String>, description: Option<String>) -> Self {
        Self {
            name: name.into(),
            description,
            kind: GroupKind::Manual,
            rule: None,
            program: Program::None,
            spend_limit: None,
            min_age: None,
            limit_profile: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: Uuid,
    pub spec: GroupSpec,
    pub members: u64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupSort {
    #[default]
    Name,
    Members,
    Created,
}

#[derive(Debug, Clone, Default)]
pub struct GroupQuery {
    pub kind: Option<GroupKind>,
    /// Case-insensitive part of the name.
    pub name: Option<String>,
    pub program: Option<String>,
    pub sort: GroupSort,
    pub descending: bool,
}

/// Which groups a bulk membership change targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberTarget {
    Groups(Vec<Uuid>),
    AllManual,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipChange {
    /// (group, customers whose membership changed).
    pub changed: Vec<(Uuid, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerTypeSpec {
    pub name: String,
    pub tax_exempt: bool,
    pub discount: TypeDiscount,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerType {
    pub id: Uuid,
    pub spec: CustomerTypeSpec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitProfile {
    pub id: Uuid,
    pub name: String,
    pub limits: Vec<PurchaseLimit>,
}

/// A ledger entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: Uuid,
    pub seq: i64,
    pub account: Account,
    pub kind: EntryKind,
    pub amount: i64,
    pub at: OffsetDateTime,
    pub order_id: Option<String>,
    pub store: Option<String>,
    pub actor: String,
    pub reason: Option<String>,
    pub available_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
}

/// A balance, always computed from the ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Balance {
    pub balance: i64,
    pub available: i64,
    pub locked: i64,
    pub next_expiry: Option<(OffsetDateTime, i64)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Balances {
    pub points: Balance,
    pub credit: Balance,
}

/// A manual ledger entry: an adjustment or a store-credit top-up.
#[derive(Debug, Clone)]
pub struct ManualEntry {
    pub account: Account,
    pub kind: EntryKind,
    pub amount: i64,
    pub reason: String,
    /// A retry with the same key returns the first entry.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub customer: CustomerKey,
    pub lines: Vec<CartLine>,
    pub redeem_points: i64,
    pub redeem_credit: i64,
    pub store: Option<String>,
}

#[derive(Debug, Clone)]
pub struct QuoteOutcome {
    pub customer_id: Uuid,
    pub quote: Quote,
    pub balances: Balances,
    pub groups: Vec<(Uuid, String)>,
}

#[derive(Debug, Clone)]
pub struct OrderRequest {
    /// Chosen by the client; a retry with the same id and body returns the first result.
    pub id: String,
    pub checkout: CheckoutRequest,
    /// Proceed past overridable limit refusals (the caller has checked the permission).
    pub override_limits: bool,
    /// A fingerprint of the request body, to tell a retry from a different order.
    pub fingerprint: String,
    /// `Some(store)` when HQ re-applies a sale a store already made: HQ prices
    /// it again, but a sale that happened is recorded even where HQ's own data
    /// would have refused it (a redemption beyond the balance or the offline
    /// cap, a limit counted across stores), and the exception is reported.
    pub from_store: Option<String>,
    /// When the sale was made where it was made (`None`: now). The ids of the
    /// entries it implies follow from it and the order id, so they sort by
    /// time (cheap to index) and are the same at the store and at HQ.
    pub placed_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLineRecord {
    pub line: CartLine,
    pub total: i64,
    pub net: i64,
    pub returned: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    pub id: String,
    pub customer_id: Uuid,
    pub store: Option<String>,
    pub actor: String,
    pub at: OffsetDateTime,
    pub lines: Vec<OrderLineRecord>,
    pub subtotal: i64,
    pub discount: i64,
    pub total: i64,
    pub points_redeemed: i64,
    pub credit_redeemed: i64,
    pub amount_paid: i64,
    pub earned: i64,
    pub tax_exempt: bool,
    /// The overridden refusals, when a manager overrode a limit.
    pub overrides: Vec<String>,
    pub discounts: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ReturnRequest {
    pub id: String,
    pub order_id: String,
    /// (line index in the order, quantity in thousandths).
    pub lines: Vec<(usize, i64)>,
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnRecord {
    pub id: String,
    pub order_id: String,
    pub at: OffsetDateTime,
    pub actor: String,
    pub lines: Vec<(usize, i64, i64)>,
    pub net: i64,
    pub points_refund: i64,
    pub credit_refund: i64,
    pub money_refund: i64,
    pub earned_reversal: i64,
    /// Earned points that had already been spent and could not be taken back.
    pub unrecovered_points: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerStats {
    pub total_spent: i64,
    pub visits: i64,
    pub last_visit: Option<time::Date>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopProduct {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub amount: i64,
}

/// What a customer's detail panel shows beyond the record.
#[derive(Debug, Clone, Default)]
pub struct CustomerActivity {
    pub stats: CustomerStats,
    pub balances: Balances,
    pub customer_type: Option<Uuid>,
    pub groups: Vec<(Uuid, String)>,
    pub orders: Vec<OrderRecord>,
    pub returns: Vec<ReturnRecord>,
    pub top_products: Vec<TopProduct>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    pub birthday_bonuses: u64,
    pub expired_entries: u64,
    pub groups_refreshed: u64,
    pub membership_changes: u64,
    /// Authorised redemptions given back because their sale never arrived.
    pub released_authorisations: u64,
}

pub fn period_names() -> [&'static str; 4] {
    [Period::Day, Period::Week, Period::Month, Period::Year].map(Period::as_str)
}
