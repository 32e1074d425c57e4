use super::error::{ProblemResponses, Result};
use super::extract::{Allowed, ApiJson, Authed, perm};
use crate::app::AppState;
use crate::wire::{SettingsInput, SettingsView};
use axum::Json;
use axum::extract::State;
use patron_domain::{CodeFormat, PhoneRegion, ValidationErrors};
use patron_storage::Settings;

fn view(s: &Settings) -> SettingsView {
    SettingsView {
        code_prefix: s.code_format.prefix().to_owned(),
        code_width: s.code_format.width(),
        phone_region: s.phone_region.code().to_owned(),
    }
}

/// Node settings: customer code format and default phone region.
#[utoipa::path(get, path = "/api/v1/settings", tag = "settings", security(("bearer" = [])),
    responses((status = 200, body = SettingsView), ProblemResponses))]
pub async fn get(State(state): State<AppState>, _user: Authed) -> Result<Json<SettingsView>> {
    Ok(Json(view(&state.storage.settings().await?)))
}

/// Change settings; members left out are kept. New codes use the new format;
/// numbering continues, so no code is ever issued twice.
#[utoipa::path(patch, path = "/api/v1/settings", tag = "settings", request_body = SettingsInput, security(("bearer" = [])),
    responses((status = 200, body = SettingsView), ProblemResponses))]
pub async fn update(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::SettingsManage>,
    ApiJson(input): ApiJson<SettingsInput>,
) -> Result<Json<SettingsView>> {
    super::sync::hq_only(&state)?;
    let current = state.storage.settings().await?;
    let mut errors = ValidationErrors::default();
    let prefix = input
        .code_prefix
        .unwrap_or_else(|| current.code_format.prefix().to_owned());
    let width = input.code_width.unwrap_or(current.code_format.width());
    let code_format = errors.take(CodeFormat::new(&prefix, width));
    let phone_region = match input.phone_region {
        Some(r) => errors.take(PhoneRegion::parse(&r)),
        None => Some(current.phone_region),
    };
    errors.into_result()?;
    let (Some(code_format), Some(phone_region)) = (code_format, phone_region) else {
        return Err(super::error::ApiError::Internal(
            "validated settings missing".into(),
        ));
    };
    let saved = state
        .storage
        .update_settings(
            &user.actor(),
            &Settings {
                code_format,
                phone_region,
            },
        )
        .await?;
    Ok(Json(view(&saved)))
}
