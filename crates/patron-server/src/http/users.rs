//! Users, their roles and passwords: everything an administrator needs to
//! give access and take it back (deactivation, a new password or a move to
//! another store ends the user's sessions at once, on every node).

use super::error::{ApiError, ProblemResponses, Result};
use super::extract::{Allowed, ApiJson, ApiPath, Authed, perm};
use crate::app::AppState;
use crate::auth::hash_password;
use crate::wire::{
    NewUserInput, PasswordChangeInput, PasswordResetInput, RoleInput, RolePermissionsInput,
    RoleView, SecurityEventList, SecurityEventView, UserUpdateInput, UserView,
};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use patron_domain::auth::check_password_policy;
use patron_domain::{PermissionSet, Role, StoreId, Username, ValidationErrors};
use patron_storage::{NewPassword, NewUser, User, UserChange};
use std::net::SocketAddr;

/// Every user of this node.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = [UserView]), ProblemResponses))]
pub async fn list(
    State(state): State<AppState>,
    _user: Allowed<perm::UsersManage>,
) -> Result<Json<Vec<UserView>>> {
    let users = state.storage.users().await?;
    Ok(Json(users.iter().map(UserView::from).collect()))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{username}", tag = "users", security(("bearer" = [])),
    params(("username" = String, Path)),
    responses((status = 200, body = UserView), ProblemResponses))]
pub async fn get(
    State(state): State<AppState>,
    _user: Allowed<perm::UsersManage>,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<UserView>> {
    let user = find(&state, &username).await?;
    Ok(Json(UserView::from(&user)))
}

async fn find(state: &AppState, username: &str) -> Result<User> {
    let name = Username::parse(username).map_err(|_| ApiError::NotFound)?;
    state
        .storage
        .user_credentials(&name)
        .await?
        .map(|(u, _)| u)
        .ok_or(ApiError::NotFound)
}

/// A user the acting user may change: nobody changes an account that holds
/// more than they do.
async fn find_changeable(state: &AppState, actor: &User, username: &str) -> Result<User> {
    let target = find(state, username).await?;
    if actor
        .role
        .permission_set()
        .covers(target.role.permission_set())
    {
        Ok(target)
    } else {
        Err(ApiError::Forbidden("users.manage"))
    }
}

/// A role by name (built-in or the chain's), which the acting user may grant:
/// nobody hands out a permission they do not hold themselves.
async fn grantable_role(state: &AppState, actor: &User, name: &str) -> Result<Role> {
    let role = state
        .storage
        .role(name)
        .await?
        .ok_or_else(|| ApiError::field("role", format!("there is no role named {name:?}")))?;
    if !actor.role.permission_set().covers(role.permission_set()) {
        return Err(ApiError::field(
            "role",
            "grants permissions you do not hold yourself",
        ));
    }
    Ok(role)
}

fn parse_store(field: &str, s: &str) -> Result<StoreId> {
    StoreId::parse(s).map_err(|e| ApiError::field(field, e.message))
}

/// The hash and operation key of a new password, off the async workers.
async fn new_password(username: &Username, password: String) -> Result<NewPassword> {
    let name = username.as_str().to_owned();
    tokio::task::spawn_blocking(move || {
        hash_password(&password).map(|hash| NewPassword {
            hash,
            op_key: crate::auth::op_key_hex(&name, &password),
        })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Create a user with a role, at HQ or for one store.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUserInput, security(("bearer" = [])),
    responses((status = 201, body = UserView), ProblemResponses))]
pub async fn create(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Allowed(user, _): Allowed<perm::UsersManage>,
    ApiJson(input): ApiJson<NewUserInput>,
) -> Result<(StatusCode, Json<UserView>)> {
    super::sync::hq_only(&state)?;
    let mut errors = ValidationErrors::default();
    let username = errors.take(Username::parse(&input.username));
    errors.take(check_password_policy(&input.username, &input.password));
    let store = match input.store.as_deref().map(|s| parse_store("store", s)) {
        Some(Err(ApiError::Invalid(v))) => {
            errors.0.extend(v.0);
            None
        }
        Some(Ok(s)) => Some(s),
        _ => None,
    };
    errors.into_result()?;
    let Some(username) = username else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let role = grantable_role(&state, &user.0, &input.role).await?;
    let password = new_password(&username, input.password).await?;
    let created = state
        .storage
        .create_user(
            &user.actor(),
            NewUser {
                username,
                role,
                password_hash: password.hash,
                store,
                op_key: Some(password.op_key),
            },
        )
        .await?;
    state.security.record(
        "user-created",
        Some(user.0.username.as_str()),
        Some(client.ip()),
        format!(
            "created {} with role {}{}",
            created.username,
            created.role.name(),
            created
                .store
                .as_deref()
                .map(|s| format!(" at store {s}"))
                .unwrap_or_default()
        ),
    );
    Ok((StatusCode::CREATED, Json(UserView::from(&created))))
}

/// Change a user's role, store or state. Deactivating a user, or moving them
/// to another store, ends their sessions at once, here and at every store.
#[utoipa::path(patch, path = "/api/v1/users/{username}", tag = "users", request_body = UserUpdateInput, security(("bearer" = [])),
    params(("username" = String, Path)),
    responses((status = 200, body = UserView), ProblemResponses))]
pub async fn update(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Allowed(user, _): Allowed<perm::UsersManage>,
    ApiPath(username): ApiPath<String>,
    ApiJson(input): ApiJson<UserUpdateInput>,
) -> Result<Json<UserView>> {
    super::sync::hq_only(&state)?;
    let target = find_changeable(&state, &user.0, &username).await?;
    let role = match &input.role {
        Some(r) => Some(grantable_role(&state, &user.0, r).await?),
        None => None,
    };
    let store = match &input.store {
        Some(Some(s)) => Some(Some(parse_store("store", s)?)),
        Some(None) => Some(None),
        None => None,
    };
    let change = UserChange {
        role,
        store,
        active: input.active,
        password: None,
    };
    let updated = state
        .storage
        .update_user(&user.actor(), &target.username, change)
        .await?;
    let mut what = Vec::new();
    if updated.role != target.role {
        what.push(format!(
            "role {} -> {}",
            target.role.name(),
            updated.role.name()
        ));
    }
    if updated.store != target.store {
        what.push(format!(
            "store {} -> {}",
            target.store.as_deref().unwrap_or("HQ"),
            updated.store.as_deref().unwrap_or("HQ")
        ));
    }
    if updated.active != target.active {
        what.push(
            if updated.active {
                "reactivated"
            } else {
                "deactivated"
            }
            .to_owned(),
        );
    }
    if !what.is_empty() {
        state.security.record(
            if updated.role != target.role {
                "role-changed"
            } else {
                "user-changed"
            },
            Some(user.0.username.as_str()),
            Some(client.ip()),
            format!("{}: {}", updated.username, what.join(", ")),
        );
    }
    Ok(Json(UserView::from(&updated)))
}

/// Set a new password for another user; their sessions end everywhere.
#[utoipa::path(post, path = "/api/v1/users/{username}/password", tag = "users", request_body = PasswordResetInput, security(("bearer" = [])),
    params(("username" = String, Path)),
    responses((status = 204, description = "Password set; the user's sessions ended"), ProblemResponses))]
pub async fn reset_password(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Allowed(user, _): Allowed<perm::UsersManage>,
    ApiPath(username): ApiPath<String>,
    ApiJson(input): ApiJson<PasswordResetInput>,
) -> Result<StatusCode> {
    super::sync::hq_only(&state)?;
    let target = find_changeable(&state, &user.0, &username).await?;
    check_password_policy(target.username.as_str(), &input.password)
        .map_err(|e| ApiError::Invalid(e.into()))?;
    let password = new_password(&target.username, input.password).await?;
    state
        .storage
        .update_user(
            &user.actor(),
            &target.username,
            UserChange {
                password: Some(password),
                ..UserChange::default()
            },
        )
        .await?;
    state.security.record(
        "password-reset",
        Some(user.0.username.as_str()),
        Some(client.ip()),
        format!("reset the password of {}", target.username),
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Change your own password (the current one is required). Every session of
/// yours ends, this one included: sign in again with the new password.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordChangeInput, security(("bearer" = [])),
    responses((status = 204, description = "Password changed; every session ended"), ProblemResponses))]
pub async fn change_own_password(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    user: Authed,
    ApiJson(input): ApiJson<PasswordChangeInput>,
) -> Result<StatusCode> {
    super::sync::hq_only(&state)?;
    let me = user.0.username.clone();
    let hash = state
        .storage
        .user_credentials(&me)
        .await?
        .map(|(_, h)| h)
        .unwrap_or_default();
    if !crate::auth::verify_password_async(input.current_password, hash).await {
        state.security.record(
            "password-change-refused",
            Some(me.as_str()),
            Some(client.ip()),
            "the current password was wrong",
        );
        return Err(ApiError::field(
            "current_password",
            "is not your current password",
        ));
    }
    check_password_policy(me.as_str(), &input.new_password)
        .map_err(|e| ApiError::field("new_password", e.message))?;
    let password = new_password(&me, input.new_password).await?;
    state
        .storage
        .update_user(
            &user.actor(),
            &me,
            UserChange {
                password: Some(password),
                ..UserChange::default()
            },
        )
        .await?;
    state.security.record(
        "password-changed",
        Some(me.as_str()),
        Some(client.ip()),
        "changed their own password; every session ended",
    );
    Ok(StatusCode::NO_CONTENT)
}

/// The built-in roles and the chain's own.
#[utoipa::path(get, path = "/api/v1/roles", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = [RoleView]), ProblemResponses))]
pub async fn list_roles(
    State(state): State<AppState>,
    _user: Allowed<perm::UsersManage>,
) -> Result<Json<Vec<RoleView>>> {
    let mut roles: Vec<RoleView> = Role::BUILT_IN.iter().map(RoleView::from).collect();
    roles.extend(
        state
            .storage
            .custom_roles()
            .await?
            .iter()
            .map(RoleView::from),
    );
    Ok(Json(roles))
}

fn permissions(list: &[String]) -> Result<PermissionSet> {
    if list.len() > 64 {
        return Err(ApiError::field(
            "permissions",
            "lists at most 64 permissions",
        ));
    }
    PermissionSet::parse(list).map_err(|e| ApiError::Invalid(e.into()))
}

async fn save_role(
    state: &AppState,
    user: &Authed,
    client: SocketAddr,
    name: &str,
    list: &[String],
) -> Result<Role> {
    super::sync::hq_only(state)?;
    let set = permissions(list)?;
    let role = Role::custom(name, set).map_err(|e| ApiError::Invalid(e.into()))?;
    if !user.0.role.permission_set().covers(set) {
        return Err(ApiError::field(
            "permissions",
            "include permissions you do not hold yourself",
        ));
    }
    let saved = state.storage.put_role(&user.actor(), role).await?;
    let names: Vec<&str> = saved.permissions().iter().map(|p| p.name()).collect();
    state.security.record(
        "role-defined",
        Some(user.0.username.as_str()),
        Some(client.ip()),
        format!("role {}: {}", saved.name(), names.join(", ")),
    );
    Ok(saved)
}

/// Define a role as a named set of permissions.
#[utoipa::path(post, path = "/api/v1/roles", tag = "users", request_body = RoleInput, security(("bearer" = [])),
    responses((status = 201, body = RoleView), ProblemResponses))]
pub async fn create_role(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Allowed(user, _): Allowed<perm::UsersManage>,
    ApiJson(input): ApiJson<RoleInput>,
) -> Result<(StatusCode, Json<RoleView>)> {
    if state.storage.role(&input.name).await?.is_some() {
        return Err(ApiError::Conflict {
            field: "name".into(),
            message: format!("a role named {:?} exists", input.name.trim()),
        });
    }
    let role = save_role(&state, &user, client, &input.name, &input.permissions).await?;
    Ok((StatusCode::CREATED, Json(RoleView::from(&role))))
}

/// Redefine a chain's role; its users hold the new permissions on their next request.
#[utoipa::path(put, path = "/api/v1/roles/{name}", tag = "users", request_body = RolePermissionsInput, security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = RoleView), ProblemResponses))]
pub async fn update_role(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Allowed(user, _): Allowed<perm::UsersManage>,
    ApiPath(name): ApiPath<String>,
    ApiJson(input): ApiJson<RolePermissionsInput>,
) -> Result<Json<RoleView>> {
    match state.storage.role(&name).await? {
        None => return Err(ApiError::NotFound),
        Some(r) if r.is_built_in() => {
            return Err(ApiError::field(
                "name",
                "is a built-in role, which cannot be redefined",
            ));
        }
        Some(_) => {}
    }
    let role = save_role(&state, &user, client, &name, &input.permissions).await?;
    Ok(Json(RoleView::from(&role)))
}

/// Delete a chain's role that no user holds.
#[utoipa::path(delete, path = "/api/v1/roles/{name}", tag = "users", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"), ProblemResponses))]
pub async fn delete_role(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Allowed(user, _): Allowed<perm::UsersManage>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode> {
    super::sync::hq_only(&state)?;
    state.storage.delete_role(&user.actor(), &name).await?;
    state.security.record(
        "role-deleted",
        Some(user.0.username.as_str()),
        Some(client.ip()),
        format!("role {}", name.trim()),
    );
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SecurityParams {
    /// Only events of this kind.
    pub kind: Option<String>,
    /// Only events about this username.
    pub username: Option<String>,
    /// Events older than this id (the previous page's `next_before`).
    #[param(minimum = 1)]
    pub before: Option<i64>,
    /// At most this many (1–1,000; default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// The security log of this node, newest first: sign-ins, sign-outs, refused
/// requests and account changes, with who, from where and when.
#[utoipa::path(get, path = "/api/v1/reports/security", tag = "reports", security(("bearer" = [])),
    params(SecurityParams),
    responses((status = 200, body = SecurityEventList), ProblemResponses))]
pub async fn security_report(
    State(state): State<AppState>,
    _user: Allowed<perm::ReportsView>,
    params: std::result::Result<Query<SecurityParams>, QueryRejection>,
) -> Result<Json<SecurityEventList>> {
    let Query(p) = params.map_err(|e| ApiError::field("query", e.body_text()))?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=1_000).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1 to 1000"));
    }
    state.security.flush().await;
    let items = state
        .storage
        .security_events(&patron_storage::SecurityQuery {
            kind: p.kind.map(|k| k.chars().take(64).collect()),
            username: p
                .username
                .map(|u| u.trim().to_lowercase().chars().take(64).collect()),
            before: p.before,
            limit,
        })
        .await?;
    let next_before = (items.len() == limit)
        .then(|| items.last().map(|e| e.id))
        .flatten();
    Ok(Json(SecurityEventList {
        items: items.iter().map(SecurityEventView::from).collect(),
        next_before,
    }))
}
