//! The OpenAPI document, generated from the handlers' annotations.

use super::{
    auth, customers, duplicates, error, id_scans, loyalty, privacy, reports, settings, sync, users,
};
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
        loyalty::update_type, loyalty::set_customer_type, loyalty::list_profiles, loyalty::create_profile, loyalty::update_profile,
        loyalty::list_groups, loyalty::create_group, loyalty::get_group, loyalty::update_group,
        loyalty::group_members, loyalty::add_members, loyalty::bulk_members, loyalty::rule_preview,
        loyalty::ledger, loyalty::post_entry, loyalty::activity, loyalty::quote, loyalty::commit_order,
        loyalty::get_order, loyalty::return_order, loyalty::get_return, loyalty::run_maintenance,
        users::get, users::update, users::reset_password, users::change_own_password,
        users::list_roles, users::create_role, users::update_role, users::delete_role,
        users::security_report, duplicates::of_customer, duplicates::report, duplicates::merge, id_scans::scan, privacy::erase, privacy::export, customers::export_csv, reports::report,
        sync::refusals, sync::push, sync::feed, sync::authorize, sync::release, sync::snapshot,
        sync::codes, sync::status, sync::credentials, sync::overdrafts,
        sync::list_stores, sync::register_store, sync::rotate_token, sync::revoke,
        document, super::healthz, crate::observe::readyz, crate::observe::metrics,
    ),
    components(schemas(
        error::Problem, error::ProblemField, crate::observe::ReadyView, wire::CustomerView, wire::CustomerInput, wire::CustomerPage,
        wire::AuditView, wire::LoginInput, wire::LoginView, wire::UserView, wire::NewUserInput,
        wire::SettingsView, wire::SettingsInput, wire::RefusalView, wire::RefusalList,
        wire::UserUpdateInput, wire::PasswordResetInput, wire::PasswordChangeInput, wire::RoleInput,
        wire::RolePermissionsInput, wire::RoleView, wire::SecurityEventView, wire::SecurityEventList,
        sync::StoreTokenView, wire::StoreView, wire::StoreList, wire::OverdraftView,
        wire::OverdraftList, wire::CredentialView, loyalty::CustomerTypeView,
        loyalty::CustomerTypeList, loyalty::LimitProfileView, loyalty::PurchaseLimitView,
        loyalty::AllowanceView, loyalty::LimitProfileList, loyalty::ProgramView,
        loyalty::SpendLimitView, loyalty::GroupView, loyalty::GroupList,
        loyalty::LoyaltySettingsView, loyalty::TransitionView, wire::BalanceView,
        wire::NextExpiryView, wire::BalancesView, wire::LedgerEntryView, wire::LedgerView,
        loyalty::RulePreviewView, loyalty::MaintenanceView, loyalty::MembersChangedView,
        loyalty::GroupChangeView, sync::AuthorizedView, sync::ReleasedView,
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
            // A store's sync token (Bearer pst_...) with its id in X-Patron-Store.
            components.add_security_scheme(
                "store_token",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "A store's sync token; the store's id must be sent in X-Patron-Store",
                        ))
                        .build(),
                ),
            );
        }
    }
}

pub fn spec() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document's own outline: an OpenAPI 3.1 document, whose full schema is
/// the OpenAPI specification's (https://spec.openapis.org/oas/3.1/schema).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct OpenApiDocumentView {
    #[schema(example = "3.1.0")]
    openapi: String,
    #[schema(value_type = Object)]
    info: (),
    /// Every route, by path and method.
    #[schema(value_type = Object)]
    paths: (),
    #[schema(value_type = Object)]
    components: (),
}

/// This document. Public, like any API reference.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, body = OpenApiDocumentView, description = "This OpenAPI 3.1 document")))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(spec())
}
