use super::error::{ApiError, ProblemResponses, Result};
use super::extract::{Allowed, ApiJson, Authed, perm};
use crate::app::AppState;
use crate::auth::hash_password;
use crate::wire::{NewUserInput, UserView};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use patron_domain::auth::check_password_policy;
use patron_domain::{Permission, Role, Username, ValidationErrors};
use patron_storage::NewUser;

/// Every user of this node.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = [UserView]), ProblemResponses))]
pub async fn list(State(state): State<AppState>, user: Authed) -> Result<Json<Vec<UserView>>> {
    user.require(Permission::UsersManage)?;
    let users = state.storage.users().await?;
    Ok(Json(users.iter().map(UserView::from).collect()))
}

/// Create a user with a role.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUserInput, security(("bearer" = [])),
    responses((status = 201, body = UserView), ProblemResponses))]
pub async fn create(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::UsersManage>,
    ApiJson(input): ApiJson<NewUserInput>,
) -> Result<(StatusCode, Json<UserView>)> {
    super::sync::hq_only(&state)?;
    let mut errors = ValidationErrors::default();
    let username = errors.take(Username::parse(&input.username));
    let role = errors.take(Role::parse(&input.role));
    errors.take(check_password_policy(&input.username, &input.password));
    errors.into_result()?;
    let (Some(username), Some(role)) = (username, role) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let password = input.password;
    let name = username.as_str().to_owned();
    let (password_hash, op_key) = tokio::task::spawn_blocking(move || {
        hash_password(&password).map(|h| (h, crate::auth::op_key_hex(&name, &password)))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let created = state
        .storage
        .create_user(
            &user.actor(),
            NewUser {
                username,
                role,
                password_hash,
                store: None,
                op_key: Some(op_key),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&created))))
}
