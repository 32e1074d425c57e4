//! The OpenAPI document, generated from the handlers' annotations.

use super::{auth, customers, error, loyalty, settings, sync, users};
use crate::wire;
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Patron API", description = "Shared customer base and loyalty engine for chains of stores."),
    paths(
        auth::login, auth::logout, auth::me,
        customers::create, customers::list, customers::get, customers::update,
        customers::deactivate, customers::reactivate, customers::audit,
        users::list, users::create, settings::get, settings::update,
        loyalty::get_settings, loyalty::update_settings, loyalty::list_types, loyalty::create_type,
        loyalty::update_type, loyalty::set_customer_type, loyalty::list_profiles, loyalty::create_profile,
        loyalty::list_groups, loyalty::create_group, loyalty::get_group, loyalty::update_group,
        loyalty::group_members, loyalty::add_members, loyalty::bulk_members, loyalty::rule_preview,
        loyalty::ledger, loyalty::post_entry, loyalty::activity, loyalty::quote, loyalty::commit_order,
        loyalty::get_order, loyalty::return_order, loyalty::run_maintenance,
        sync::refusals,
    ),
    components(schemas(
        error::Problem, error::ProblemField, wire::CustomerView, wire::CustomerInput, wire::CustomerPage,
        wire::AuditView, wire::LoginInput, wire::LoginView, wire::UserView, wire::NewUserInput,
        wire::SettingsView, wire::SettingsInput, wire::RefusalView, wire::RefusalList,
    )),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

pub fn spec() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// This document. Public, like any API reference.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(spec())
}
