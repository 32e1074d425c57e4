//! Privacy requests: erase a person (keeping their anonymous history), and
//! hand a person their data.

use super::error::{ApiError, ProblemResponses, Result};
use super::extract::{Allowed, ApiPath, Authed, perm};
use crate::app::AppState;
use crate::wire::{AuditView, CustomerExportView, CustomerView, OrderView, ReturnView, group_refs};
use axum::Json;
use axum::extract::State;
use patron_domain::Permission;
use patron_storage::{CustomerKey, NodeRole};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Erase a person's data (`customers.erase`, at HQ): names, contacts,
/// address, dates, documents, notes and the values in the audit trail go, on
/// every node; orders, ledger, totals and memberships stay with an anonymous
/// record, which can no longer be edited or found by the old data. The audit
/// trail records who erased it and when. Erasing again changes nothing.
#[utoipa::path(post, path = "/api/v1/customers/{key}/erase", tag = "customers",
    params(("key" = String, Path, description = "A customer id (UUID) or code")),
    security(("bearer" = [])),
    responses((status = 200, body = CustomerView), ProblemResponses))]
pub async fn erase(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::CustomersErase>,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<CustomerView>> {
    if state.node.role != NodeRole::Hq {
        // One place decides, so an erasure is never undone by a store's clock.
        return Err(ApiError::Conflict {
            field: "node".into(),
            message: "erasure is done at HQ; it then reaches every store".into(),
        });
    }
    let c = state
        .storage
        .erase_customer(&user.actor(), &CustomerKey::parse(&key))
        .await?;
    tracing::info!(customer = %c.id, by = %user.0.username.as_str(), "erased a customer's personal data");
    Ok(Json(CustomerView::from(&c)))
}

/// Everything held about a customer, as JSON (a person's right of access):
/// the record with balances, type and groups, the audit trail, every ledger
/// entry, order and return.
#[utoipa::path(get, path = "/api/v1/customers/{key}/export", tag = "customers",
    params(("key" = String, Path, description = "A customer id (UUID) or code")),
    security(("bearer" = [])),
    responses((status = 200, body = CustomerExportView), ProblemResponses))]
pub async fn export(
    State(state): State<AppState>,
    user: Authed,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<CustomerExportView>> {
    user.require(Permission::CustomersView)?;
    let now = OffsetDateTime::now_utc();
    let key = CustomerKey::parse(&key);
    let c = state.storage.customer(&key).await?;
    let key = CustomerKey::Id(c.id);
    let history = state.storage.customer_history(&key, now).await?;
    let customer_type = match history.customer_type {
        Some(t) => state
            .storage
            .customer_types()
            .await?
            .into_iter()
            .find(|ct| ct.id == t)
            .map(|ct| ct.spec.name),
        None => None,
    };
    let mut view = CustomerView::from(&c);
    view.balances = Some(super::loyalty::balances_view(&history.balances));
    Ok(Json(CustomerExportView {
        exported_at: now.format(&Rfc3339).unwrap_or_default(),
        customer: view,
        customer_type,
        groups: group_refs(&history.groups),
        total_spent: history.stats.total_spent,
        visits: history.stats.visits,
        audit: state
            .storage
            .customer_audit(&key)
            .await?
            .into_iter()
            .map(AuditView::from)
            .collect(),
        ledger: state
            .storage
            .ledger(&key, None)
            .await?
            .iter()
            .map(super::loyalty::entry_view)
            .collect(),
        orders: history.orders.iter().map(OrderView::from).collect(),
        returns: history.returns.iter().map(ReturnView::from).collect(),
    }))
}
