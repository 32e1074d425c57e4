//! A person's data, as handed to them on a request for access.

use super::{AuditView, CustomerView, GroupRefView, LedgerEntryView, OrderView, ReturnView};
use serde::Serialize;
use utoipa::ToSchema;

/// Everything held about one customer on this node.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerExportView {
    pub exported_at: String,
    /// The record, with balances.
    pub customer: CustomerView,
    /// The customer type's name, if any.
    pub customer_type: Option<String>,
    pub groups: Vec<GroupRefView>,
    pub total_spent: i64,
    pub visits: i64,
    /// Every change to the record: who, when, which field, old and new values.
    pub audit: Vec<AuditView>,
    /// Every ledger entry (points and store credit).
    pub ledger: Vec<LedgerEntryView>,
    /// Every order and return, newest first.
    pub orders: Vec<OrderView>,
    pub returns: Vec<ReturnView>,
}
