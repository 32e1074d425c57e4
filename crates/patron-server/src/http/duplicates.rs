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
