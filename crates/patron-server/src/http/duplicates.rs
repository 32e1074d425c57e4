//! Likely-same customers: a customer's candidates and HQ's duplicates report.

use super::error::{ApiError, ProblemResponses, Result};
use super::extract::{Allowed, ApiPath, Authed, perm};
use crate::app::AppState;
use crate::wire::{DuplicateCandidateList, DuplicateCandidateView, DuplicateReportView};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use patron_domain::{CustomerDraft, Permission};
use patron_storage::CustomerKey;
use uuid::Uuid;

/// Candidates shown for one customer at most.
pub const MAX_CANDIDATES: usize = 20;

/// The customers on file likely the same person as `data` (leaving out
/// `except`, the record itself), as the 409 a create answers with.
pub async fn refuse_likely_duplicate(
    state: &AppState,
    data: &CustomerDraft,
    except: Option<Uuid>,
) -> Result<()> {
    let found = state
        .storage
        .likely_same(&data.duplicate_keys(), except, MAX_CANDIDATES)
        .await?;
    if found.is_empty() {
        return Ok(());
    }
    Err(ApiError::LikelyDuplicate(
        found.iter().map(DuplicateCandidateView::from).collect(),
    ))
}

/// The customers likely the same person as this one: same phone, email, ID
/// document number, or name and date of birth (case and accents aside).
#[utoipa::path(get, path = "/api/v1/customers/{key}/duplicates", tag = "customers",
    params(("key" = String, Path, description = "A customer id (UUID) or code")),
    security(("bearer" = [])),
    responses((status = 200, body = DuplicateCandidateList), ProblemResponses))]
pub async fn of_customer(
    State(state): State<AppState>,
    user: Authed,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<DuplicateCandidateList>> {
    user.require(Permission::CustomersView)?;
    let c = state.storage.customer(&CustomerKey::parse(&key)).await?;
    let found = state
        .storage
        .likely_same(&c.data.duplicate_keys(), Some(c.id), MAX_CANDIDATES)
        .await?;
    Ok(Json(DuplicateCandidateList {
        items: found.iter().map(DuplicateCandidateView::from).collect(),
    }))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// Clusters per page (1–500; default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// Clusters to skip (the previous page's `next_offset`).
    #[param(minimum = 0, maximum = 10000000)]
    pub offset: Option<usize>,
}

/// Groups of customers who are likely one person, biggest first: linked by a
/// shared phone, email, ID document number, or name and date of birth,
/// directly or through one another.
#[utoipa::path(get, path = "/api/v1/reports/duplicates", tag = "reports", security(("bearer" = [])),
    params(ReportParams),
    responses((status = 200, body = DuplicateReportView), ProblemResponses))]
pub async fn report(
    State(state): State<AppState>,
    _user: Allowed<perm::ReportsView>,
    params: std::result::Result<Query<ReportParams>, QueryRejection>,
) -> Result<Json<DuplicateReportView>> {
    let Query(p) = params.map_err(|e| ApiError::field("query", e.body_text()))?;
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1 to 500"));
    }
    let offset = p.offset.unwrap_or(0);
    if offset > 10_000_000 {
        return Err(ApiError::field("offset", "must be at most 10,000,000"));
    }
    let r = state.storage.duplicate_clusters(limit, offset).await?;
    Ok(Json(DuplicateReportView::new(&r, offset)))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    /// The records to merge into this one: ids or codes.
    #[schema(min_items = 1, max_items = 20)]
    pub others: Vec<String>,
}

/// Merge other records of the same person into this one (`customers.merge`,
/// at HQ): their orders, returns, ledger entries (balances add up exactly),
/// manual memberships, visits and totals move here; this record keeps its
/// code and values and fills only what it lacks; their codes and ids keep
/// finding it, and what a store later sends about them lands here. Audited;
/// replicated to every store.
#[utoipa::path(post, path = "/api/v1/customers/{key}/merge", tag = "customers",
    params(("key" = String, Path, description = "The survivor: a customer id (UUID) or code")),
    request_body = MergeInput,
    security(("bearer" = [])),
    responses((status = 200, body = crate::wire::CustomerView), ProblemResponses))]
pub async fn merge(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::CustomersMerge>,
    ApiPath(key): ApiPath<String>,
    super::extract::ApiJson(input): super::extract::ApiJson<MergeInput>,
) -> Result<Json<crate::wire::CustomerView>> {
    if state.node.role != patron_storage::NodeRole::Hq {
        return Err(ApiError::Conflict {
            field: "node".into(),
            message: "merges are done at HQ; they then reach every store".into(),
        });
    }
    if input.others.is_empty() || input.others.len() > 20 {
        return Err(ApiError::field("others", "name 1 to 20 customers"));
    }
    let settings = state.storage.settings().await?;
    let ctx = patron_domain::ParseContext {
        region: settings.phone_region,
        today: time::OffsetDateTime::now_utc().date(),
    };
    let c = state
        .storage
        .merge_customers(
            &user.actor(),
            &CustomerKey::parse(&key),
            input.others.iter().map(|k| CustomerKey::parse(k)).collect(),
            ctx,
        )
        .await?;
    let balances = state
        .storage
        .balances(&CustomerKey::Id(c.id), time::OffsetDateTime::now_utc())
        .await?;
    let mut view = crate::wire::CustomerView::from(&c);
    view.balances = Some(super::loyalty::balances_view(&balances));
    Ok(Json(view))
}
