//! The HTTP API under `/api/v1`. Handlers are thin: extract, check the
//! permission, call storage, map the result.

pub mod auth;
pub mod customers;
pub mod duplicates;
pub mod error;
pub mod extract;
pub mod id_scans;
pub mod loyalty;
pub mod openapi;
pub mod privacy;
pub mod reports;
pub mod settings;
pub mod sync;
pub mod users;

use crate::app::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::middleware;
use axum::routing::{get, post};
use error::ApiError;

/// Declares the API's routes once: the router is built from this list, and
/// the list is what the OpenAPI completeness test checks the document against.
macro_rules! api_routes {
    ($( $path:literal => $m:ident($h:path) $(, $mm:ident($hh:path))* ; )*) => {
        /// Every `(method, path)` under `/api/v1`.
        pub const API_ROUTES: &[(&str, &str)] = &[
            $( (stringify!($m), $path), $( (stringify!($mm), $path), )* )*
        ];

        fn api_router() -> Router<AppState> {
            Router::new()
                $( .route($path, axum::routing::$m($h) $( .$mm($hh) )* ) )*
                // Pages of a store's operations are larger than any other body.
                .route(
                    "/sync/push",
                    post(sync::push).layer(DefaultBodyLimit::max(sync::MAX_PUSH_BODY)),
                )
                // Photos of licences.
                .route(
                    "/id-scans",
                    post(id_scans::scan).layer(DefaultBodyLimit::max(id_scans::MAX_IMAGE_BODY)),
                )
        }
    };
}

api_routes! {
    "/auth/login" => post(auth::login);
    "/auth/logout" => post(auth::logout);
    "/auth/me" => get(auth::me);
    "/auth/password" => post(users::change_own_password);
    "/customers" => post(customers::create), get(customers::list);
    "/customers/{key}" => get(customers::get), patch(customers::update);
    "/customers/{key}/deactivate" => post(customers::deactivate);
    "/customers/{key}/reactivate" => post(customers::reactivate);
    "/customers/{key}/audit" => get(customers::audit);
    "/customers/{key}/duplicates" => get(duplicates::of_customer);
    "/customers/{key}/erase" => post(privacy::erase);
    "/customers/{key}/merge" => post(duplicates::merge);
    "/customers/{key}/export" => get(privacy::export);
    "/exports/customers" => get(customers::export_csv);
    "/customers/{key}/ledger" => get(loyalty::ledger), post(loyalty::post_entry);
    "/customers/{key}/activity" => get(loyalty::activity);
    "/customers/{key}/type" => put(loyalty::set_customer_type);
    "/groups" => get(loyalty::list_groups), post(loyalty::create_group);
    "/groups/members" => post(loyalty::bulk_members);
    "/groups/rule-preview" => post(loyalty::rule_preview);
    "/groups/{id}" => get(loyalty::get_group), put(loyalty::update_group);
    "/groups/{id}/members" => get(loyalty::group_members), post(loyalty::add_members);
    "/customer-types" => get(loyalty::list_types), post(loyalty::create_type);
    "/customer-types/{id}" => put(loyalty::update_type);
    "/limit-profiles" => get(loyalty::list_profiles), post(loyalty::create_profile);
    "/limit-profiles/{id}" => put(loyalty::update_profile);
    "/loyalty/settings" => get(loyalty::get_settings), patch(loyalty::update_settings);
    "/loyalty/maintenance" => post(loyalty::run_maintenance);
    "/checkout/quote" => post(loyalty::quote);
    "/orders" => post(loyalty::commit_order);
    "/orders/{id}" => get(loyalty::get_order);
    "/orders/{id}/returns" => post(loyalty::return_order);
    "/returns/{id}" => get(loyalty::get_return);
    "/sync/refusals" => get(sync::refusals);
    "/sync/feed" => get(sync::feed);
    "/sync/codes" => post(sync::codes);
    "/sync/snapshot" => get(sync::snapshot);
    "/sync/authorize" => post(sync::authorize);
    "/sync/release" => post(sync::release);
    "/sync/status" => get(sync::status);
    "/sync/credentials" => get(sync::credentials);
    "/stores" => get(sync::list_stores), post(sync::register_store);
    "/stores/{id}/rotate-token" => post(sync::rotate_token);
    "/stores/{id}/revoke" => post(sync::revoke);
    "/reports/overdrafts" => get(sync::overdrafts);
    "/reports/security" => get(users::security_report);
    "/reports/duplicates" => get(duplicates::report);
    "/reports/{name}" => get(reports::report);
    "/users" => get(users::list), post(users::create);
    "/users/{username}" => get(users::get), patch(users::update);
    "/users/{username}/password" => post(users::reset_password);
    "/roles" => get(users::list_roles), post(users::create_role);
    "/roles/{name}" => put(users::update_role), delete(users::delete_role);
    "/settings" => get(settings::get), patch(settings::update);
    "/openapi.json" => get(openapi::document);
}

/// The routes added beside the macro for their own body limits.
pub const LARGE_BODY_ROUTES: &[(&str, &str)] = &[("post", "/sync/push"), ("post", "/id-scans")];

pub fn router(state: AppState) -> Router {
    let api = api_router().route_layer(middleware::from_fn(crate::observe::tag_route));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(crate::observe::readyz))
        .route("/metrics", get(crate::observe::metrics))
        .merge(crate::web::routes())
        .route_layer(middleware::from_fn(crate::observe::tag_route))
        .nest("/api/v1", api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::MAX_JSON_BODY))
        .layer(middleware::from_fn_with_state(
            state.security.clone(),
            crate::security::record_refusals,
        ))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::observe::observe_request,
        ))
        .with_state(state)
}

/// Liveness: answers `ok` while the node serves.
#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses((status = 200, content_type = "text/plain", body = String, description = "ok")))]
pub async fn healthz() -> &'static str {
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
