use super::error::ProblemResponses;
use super::error::{ApiError, Result};
use super::extract::{Allowed, ApiJson, ApiPath, Authed, perm};
use crate::app::AppState;
use crate::wire::{AuditView, CustomerInput, CustomerPage, CustomerView, RefusalView};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use patron_domain::customer::ParseContext;
use patron_domain::search::SearchQuery;
use patron_domain::{CustomerDraft, Permission, StoreId, ValidationErrors};
use patron_storage::{
    ActiveFilter, Cursor, CustomerKey, CustomerQuery, ListOrder, MAX_PAGE_SIZE, NewCustomer,
    OriginFilter,
};
use std::collections::HashMap;

/// The default page size of customer lists.
pub const DEFAULT_PAGE_SIZE: usize = 50;

async fn parse_context(state: &AppState) -> Result<ParseContext> {
    Ok(ParseContext {
        region: state.storage.settings().await?.phone_region,
        today: time::OffsetDateTime::now_utc().date(),
    })
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CreateParams {
    /// Create the customer even if someone on file is likely the same person.
    #[serde(default)]
    pub allow_duplicate: bool,
}

/// Create a customer; the code is assigned automatically. If someone on file
/// is likely the same person (same phone, email, ID document number, or name
/// and date of birth), the answer is a 409 `/problems/likely-duplicate` with
/// the `candidates`; send again with `allow_duplicate=true` to create anyway.
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", request_body = CustomerInput,
    params(CreateParams),
    security(("bearer" = [])),
    responses((status = 201, description = "Created", body = CustomerView), (status = 200, description = "The same customer sent again under its id: created once", body = CustomerView), ProblemResponses))]
pub async fn create(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::CustomersCreate>,
    params: Result<Query<CreateParams>, QueryRejection>,
    ApiJson(input): ApiJson<CustomerInput>,
) -> Result<(StatusCode, HeaderMap, Json<CustomerView>)> {
    let Query(params) = params.map_err(|e| ApiError::field("query", e.body_text()))?;
    let ctx = parse_context(&state).await?;
    let id = match input.id.as_deref().map(str::trim) {
        Some(s) => Some(
            uuid::Uuid::parse_str(s)
                .ok()
                .filter(|u| !u.is_nil())
                .ok_or_else(|| ApiError::field("id", "must be a UUID"))?,
        ),
        None => None,
    };
    let data = CustomerDraft::parse(input.into_fields(), &ctx)?;
    if !params.allow_duplicate {
        // A retry of a create that went through is answered below, as before.
        let retry = match id {
            Some(id) => state.storage.customer(&CustomerKey::Id(id)).await.is_ok(),
            None => false,
        };
        if !retry {
            super::duplicates::refuse_likely_duplicate(&state, &data, id).await?;
        }
    }
    let (created, replay) = state
        .storage
        .create_customer_with_id(
            &user.actor(),
            id.unwrap_or_else(uuid::Uuid::now_v7),
            NewCustomer {
                data,
                origin_store: None,
            },
        )
        .await?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/customers/{}", created.id)) {
        headers.insert(header::LOCATION, v);
    }
    Ok((
        if replay {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        headers,
        Json(CustomerView::from(&created)),
    ))
}

const LIST_PARAMS: [&str; 8] = [
    "q",
    "sort",
    "limit",
    "cursor",
    "active",
    "origin_store",
    "type",
    "group",
];

/// List customers alphabetically (last, then first name) or search them.
///
/// `q` matches first name, last name, full name, phone (any format, or its last
/// 4+ digits), email or code, by prefix and (3+ characters) substring, ignoring
/// case and accents. Prefix matches come first, then substring matches; each
/// group is alphabetical.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers",
    params(
        ("q" = Option<String>, Query, description = "Search text"),
        ("sort" = Option<String>, Query, description = "Without q: name (default), code, newest or spent (highest first)"),
        ("limit" = Option<usize>, Query, description = "Page size, 1 to 500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("active" = Option<String>, Query, description = "true (default), false or all"),
        ("origin_store" = Option<String>, Query, description = "A store id, or HQ for customers created at HQ"),
        ("type" = Option<String>, Query, description = "A customer type id"),
        ("group" = Option<String>, Query, description = "A group id: only its members (combines with q and the other filters)"),
    ),
    security(("bearer" = [])),
    responses((status = 200, body = CustomerPage), ProblemResponses))]
pub async fn list(
    State(state): State<AppState>,
    user: Authed,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<CustomerPage>> {
    user.require(Permission::CustomersView)?;
    let Query(params) = params.map_err(|e| ApiError::field("query", e.body_text()))?;
    let query = list_query(&state, &params, &LIST_PARAMS).await?;
    let page = state.storage.list_customers(&query).await?;
    Ok(Json(CustomerPage {
        items: page.items.iter().map(CustomerView::from).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

/// The list's query from its parameters (`allowed` names the ones this
/// endpoint takes); every bad one is named in one 422.
async fn list_query(
    state: &AppState,
    params: &HashMap<String, String>,
    allowed: &[&str],
) -> Result<CustomerQuery> {
    let mut errors = ValidationErrors::default();
    if let Some(unknown) = params.keys().find(|k| !allowed.contains(&k.as_str())) {
        errors.push(patron_domain::FieldError::new(
            unknown.as_str(),
            "is not a parameter of this list",
        ));
    }
    let limit = match params.get("limit") {
        None => DEFAULT_PAGE_SIZE,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                errors.push(patron_domain::FieldError::new(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                ));
                DEFAULT_PAGE_SIZE
            }
        },
    };
    let cursor = match params.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => {
            let decoded = Cursor::decode(c);
            if decoded.is_none() {
                errors.push(patron_domain::FieldError::new(
                    "cursor",
                    "is not a cursor this server issued",
                ));
            }
            decoded
        }
    };
    let active = match params.get("active").map(String::as_str) {
        None | Some("true") => ActiveFilter::Active,
        Some("false") => ActiveFilter::Inactive,
        Some("all") => ActiveFilter::All,
        Some(_) => {
            errors.push(patron_domain::FieldError::new(
                "active",
                "must be true, false or all",
            ));
            ActiveFilter::Active
        }
    };
    let origin = match params.get("origin_store").map(|s| s.trim()) {
        None | Some("") => OriginFilter::Any,
        Some(s) if s.eq_ignore_ascii_case("hq") => OriginFilter::Hq,
        Some(s) => match StoreId::parse(s) {
            Ok(id) => OriginFilter::Store(id),
            Err(e) => {
                errors.push(patron_domain::FieldError::new("origin_store", e.message));
                OriginFilter::Any
            }
        },
    };
    let customer_type = match params
        .get("type")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(t) => match uuid::Uuid::parse_str(t) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(patron_domain::FieldError::new(
                    "type",
                    "is not a customer type id",
                ));
                None
            }
        },
    };
    // Whether it names a group is the storage's answer (422 `group`).
    let group = match params
        .get("group")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(g) => match uuid::Uuid::parse_str(g) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(patron_domain::FieldError::new("group", "is not a group id"));
                None
            }
        },
    };
    let order = match params.get("sort").map(|s| s.trim()) {
        None | Some("") => ListOrder::Name,
        Some(s) => ListOrder::parse(s).unwrap_or_else(|| {
            errors.push(patron_domain::FieldError::new(
                "sort",
                "must be name, code, newest or spent",
            ));
            ListOrder::Name
        }),
    };
    let q = params.get("q").map(String::as_str).unwrap_or("");
    if q.chars().count() > 100 {
        errors.push(patron_domain::FieldError::new(
            "q",
            "must be at most 100 characters",
        ));
    }
    errors.into_result()?;
    let search = if q.trim().is_empty() {
        None
    } else {
        Some(SearchQuery::parse(
            q,
            state.storage.settings().await?.phone_region,
        ))
    };
    Ok(CustomerQuery {
        search,
        order,
        active,
        origin,
        customer_type,
        group,
        limit,
        cursor,
    })
}

const EXPORT_PARAMS: [&str; 6] = ["q", "sort", "active", "origin_store", "type", "group"];

/// Download customers as CSV: the same filters and search as the list (all of
/// its pages), the columns `patron import` reads. Needs `customers.view` and
/// `customers.export`; every export is written to the security log.
#[utoipa::path(get, path = "/api/v1/exports/customers", tag = "customers",
    params(
        ("q" = Option<String>, Query, description = "Search text"),
        ("active" = Option<String>, Query, description = "true (default), false or all"),
        ("origin_store" = Option<String>, Query, description = "A store id, or HQ"),
        ("type" = Option<String>, Query, description = "A customer type id"),
        ("group" = Option<String>, Query, description = "A group id"),
    ),
    security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", body = String), ProblemResponses))]
pub async fn export_csv(
    State(state): State<AppState>,
    user: Authed,
    client: axum::extract::ConnectInfo<std::net::SocketAddr>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<axum::response::Response> {
    user.require(Permission::CustomersView)?;
    user.require(Permission::CustomersExport)?;
    let Query(params) = params.map_err(|e| ApiError::field("query", e.body_text()))?;
    let mut query = list_query(&state, &params, &EXPORT_PARAMS).await?;
    query.limit = MAX_PAGE_SIZE;
    state.security.record(
        "customers-exported",
        Some(user.0.username.as_str()),
        Some(client.ip()),
        format!("customer list exported as CSV ({})", describe(&params)),
    );
    // A page at a time: a million customers stream out without being held.
    let storage = state.storage.clone();
    let header = {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(crate::export::header())
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        w.into_inner()
            .map_err(|e| ApiError::Internal(e.to_string()))?
    };
    let pages = futures_util::stream::unfold(Some(query), move |next| {
        let storage = storage.clone();
        async move {
            let query = next?;
            match storage.list_customers(&query).await {
                Ok(page) => {
                    let mut w = csv::Writer::from_writer(Vec::new());
                    for c in &page.items {
                        if let Err(e) = w.write_record(crate::export::row(c)) {
                            return Some((Err(std::io::Error::other(e)), None));
                        }
                    }
                    let bytes = w
                        .into_inner()
                        .map_err(|e| std::io::Error::other(e.to_string()));
                    let following = page.next_cursor.map(|cursor| CustomerQuery {
                        cursor: Some(cursor),
                        ..query
                    });
                    Some((bytes.map(axum::body::Bytes::from), following))
                }
                // The answer has begun: the connection is cut, so the file is
                // visibly incomplete rather than silently short.
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    });
    use axum::response::IntoResponse;
    use futures_util::StreamExt;
    let body = futures_util::stream::once(async move {
        Ok::<_, std::io::Error>(axum::body::Bytes::from(header))
    })
    .chain(pages);
    let day = time::OffsetDateTime::now_utc().date();
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"customers-{day}.csv\""),
            ),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// The filters of an export, for the security log.
fn describe(params: &HashMap<String, String>) -> String {
    let mut parts: Vec<String> = EXPORT_PARAMS
        .iter()
        .filter_map(|k| params.get(*k).map(|v| format!("{k}={v}")))
        .collect();
    if parts.is_empty() {
        parts.push("every active customer".into());
    }
    parts.join(", ")
}

/// One customer, by id or by code (`CUST-00042`, case-insensitive).
#[utoipa::path(get, path = "/api/v1/customers/{key}", tag = "customers",
    params(("key" = String, Path, description = "Customer id or code")),
    security(("bearer" = [])),
    responses((status = 200, body = CustomerView), ProblemResponses))]
pub async fn get(
    State(state): State<AppState>,
    user: Authed,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<CustomerView>> {
    user.require(Permission::CustomersView)?;
    let key = CustomerKey::parse(&key);
    let c = state.storage.customer(&key).await?;
    let balances = state
        .storage
        .balances(&key, time::OffsetDateTime::now_utc())
        .await?;
    let mut view = CustomerView::from(&c);
    view.balances = Some(super::loyalty::balances_view(&balances));
    view.refused = state
        .storage
        .refusals_of(&c.id.to_string())
        .await?
        .iter()
        .map(RefusalView::from)
        .collect();
    Ok(Json(view))
}

/// Partial update (JSON merge patch). Each changed field is audited.
#[utoipa::path(patch, path = "/api/v1/customers/{key}", tag = "customers", request_body = CustomerInput,
    params(("key" = String, Path, description = "Customer id or code")),
    security(("bearer" = [])),
    responses((status = 200, body = CustomerView), ProblemResponses))]
pub async fn update(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::CustomersEdit>,
    ApiPath(key): ApiPath<String>,
    ApiJson(input): ApiJson<CustomerInput>,
) -> Result<Json<CustomerView>> {
    if input.id.is_some() {
        return Err(ApiError::field("id", "a customer's id never changes"));
    }
    let ctx = parse_context(&state).await?;
    let c = state
        .storage
        .update_customer(
            &user.actor(),
            &CustomerKey::parse(&key),
            input.into_patch(),
            ctx,
        )
        .await?;
    Ok(Json(CustomerView::from(&c)))
}

/// Hide a customer from register search; history and reports keep them.
#[utoipa::path(post, path = "/api/v1/customers/{key}/deactivate", tag = "customers",
    params(("key" = String, Path, description = "Customer id or code")),
    security(("bearer" = [])),
    responses((status = 200, body = CustomerView), ProblemResponses))]
pub async fn deactivate(
    State(state): State<AppState>,
    user: Authed,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<CustomerView>> {
    set_active(state, user, key, false).await
}

/// Make a deactivated customer findable again.
#[utoipa::path(post, path = "/api/v1/customers/{key}/reactivate", tag = "customers",
    params(("key" = String, Path, description = "Customer id or code")),
    security(("bearer" = [])),
    responses((status = 200, body = CustomerView), ProblemResponses))]
pub async fn reactivate(
    State(state): State<AppState>,
    user: Authed,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<CustomerView>> {
    set_active(state, user, key, true).await
}

async fn set_active(
    state: AppState,
    user: Authed,
    key: String,
    active: bool,
) -> Result<Json<CustomerView>> {
    user.require(Permission::CustomersDeactivate)?;
    let c = state
        .storage
        .set_customer_active(&user.actor(), &CustomerKey::parse(&key), active)
        .await?;
    Ok(Json(CustomerView::from(&c)))
}

/// Who changed what and when, oldest first.
#[utoipa::path(get, path = "/api/v1/customers/{key}/audit", tag = "customers",
    params(("key" = String, Path, description = "Customer id or code")),
    security(("bearer" = [])),
    responses((status = 200, body = [AuditView]), ProblemResponses))]
pub async fn audit(
    State(state): State<AppState>,
    user: Authed,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<Vec<AuditView>>> {
    user.require(Permission::CustomersView)?;
    let entries = state
        .storage
        .customer_audit(&CustomerKey::parse(&key))
        .await?;
    Ok(Json(entries.into_iter().map(AuditView::from).collect()))
}
