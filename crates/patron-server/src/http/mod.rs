//! The HTTP API under `/api/v1`. Handlers are thin: extract, check the
//! permission, call storage, map the result.

pub mod auth;
pub mod customers;
pub mod error;
pub mod extract;
pub mod loyalty;
pub mod openapi;
pub mod settings;
pub mod sync;
pub mod users;

use crate::app::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use error::ApiError;
use tracing::Instrument;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(auth::me))
        .route("/auth/password", post(users::change_own_password))
        .route("/customers", post(customers::create).get(customers::list))
        .route(
            "/customers/{key}",
            get(customers::get).patch(customers::update),
        )
        .route("/customers/{key}/deactivate", post(customers::deactivate))
        .route("/customers/{key}/reactivate", post(customers::reactivate))
        .route("/customers/{key}/audit", get(customers::audit))
        .route(
            "/customers/{key}/ledger",
            get(loyalty::ledger).post(loyalty::post_entry),
        )
        .route("/customers/{key}/activity", get(loyalty::activity))
        .route("/customers/{key}/type", put(loyalty::set_customer_type))
        .route(
            "/groups",
            get(loyalty::list_groups).post(loyalty::create_group),
        )
        .route("/groups/members", post(loyalty::bulk_members))
        .route("/groups/rule-preview", post(loyalty::rule_preview))
        .route(
            "/groups/{id}",
            get(loyalty::get_group).put(loyalty::update_group),
        )
        .route(
            "/groups/{id}/members",
            get(loyalty::group_members).post(loyalty::add_members),
        )
        .route(
            "/customer-types",
            get(loyalty::list_types).post(loyalty::create_type),
        )
        .route("/customer-types/{id}", put(loyalty::update_type))
        .route(
            "/limit-profiles",
            get(loyalty::list_profiles).post(loyalty::create_profile),
        )
        .route(
            "/loyalty/settings",
            get(loyalty::get_settings).patch(loyalty::update_settings),
        )
        .route("/loyalty/maintenance", post(loyalty::run_maintenance))
        .route("/checkout/quote", post(loyalty::quote))
        .route("/orders", post(loyalty::commit_order))
        .route("/orders/{id}", get(loyalty::get_order))
        .route("/orders/{id}/returns", post(loyalty::return_order))
        .route(
            "/sync/push",
            post(sync::push).layer(DefaultBodyLimit::max(sync::MAX_PUSH_BODY)),
        )
        .route("/sync/refusals", get(sync::refusals))
        .route("/sync/feed", get(sync::feed))
        .route("/sync/codes", post(sync::codes))
        .route("/sync/snapshot", get(sync::snapshot))
        .route("/sync/authorize", post(sync::authorize))
        .route("/sync/release", post(sync::release))
        .route("/sync/status", get(sync::status))
        .route("/stores", get(sync::list_stores).post(sync::register_store))
        .route("/reports/overdrafts", get(sync::overdrafts))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{username}", get(users::get).patch(users::update))
        .route("/users/{username}/password", post(users::reset_password))
        .route("/roles", get(users::list_roles).post(users::create_role))
        .route(
            "/roles/{name}",
            put(users::update_role).delete(users::delete_role),
        )
        .route("/reports/security", get(users::security_report))
        .route("/sync/credentials", get(sync::credentials))
        .route("/stores/{id}/rotate-token", post(sync::rotate_token))
        .route("/stores/{id}/revoke", post(sync::revoke))
        .route("/settings", get(settings::get).patch(settings::update))
        .route("/openapi.json", get(openapi::document));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(crate::web::routes())
        .nest("/api/v1", api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::MAX_JSON_BODY))
        .layer(middleware::from_fn_with_state(
            state.security.clone(),
            crate::security::record_refusals,
        ))
        .layer(middleware::from_fn(trace_request))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method.to_string())
}

/// The longest request URI answered (path and query); longer is a 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// One span per request, so every log line of a request carries its method and path.
async fn trace_request(req: Request, next: Next) -> Response {
    use axum::response::IntoResponse;
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return ApiError::UriTooLong(MAX_URI_BYTES).into_response();
    }
    let span = tracing::info_span!("request", method = %req.method(), path = %req.uri().path());
    async move {
        let started = std::time::Instant::now();
        let resp = next.run(req).await;
        tracing::debug!(
            status = resp.status().as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "answered"
        );
        resp
    }
    .instrument(span)
    .await
}
