use super::error::{ApiError, ProblemResponses, Result};
use super::extract::{ApiJson, Authed};
use crate::app::AppState;
use crate::wire::{LoginInput, LoginView, UserView};
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use patron_domain::Username;
use time::format_description::well_known::Rfc3339;

/// A hash to verify against when the user does not exist, so that a wrong
/// username takes as long as a wrong password and does not reveal which it was.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| crate::auth::hash_password("not a real password").unwrap_or_default())
        .clone()
}

/// Exchange a username and password for a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginInput,
    responses((status = 200, body = LoginView), ProblemResponses))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<std::net::SocketAddr>,
    ApiJson(input): ApiJson<LoginInput>,
) -> Result<Json<LoginView>> {
    let refused = ApiError::Unauthenticated("wrong username or password");
    let name: String = input
        .username
        .trim()
        .to_lowercase()
        .chars()
        .take(64)
        .collect();
    let ip = client.ip();
    if let Some(wait) = state.login_throttle.wait(&name, ip) {
        tracing::warn!(username = %name, client = %ip, "refused: sign-in throttled");
        state.metrics.login_refused("throttled");
        state.security.record(
            "sign-in-throttled",
            Some(&name),
            Some(ip),
            format!("too many failures: wait {} s", wait.as_secs().max(1)),
        );
        return Err(ApiError::TooManyRequests(wait.as_secs().max(1)));
    }
    let found = match Username::parse(&input.username) {
        Ok(u) => state.storage.user_credentials(&u).await?,
        Err(_) => None,
    };
    let (user, hash) = match found {
        Some((u, h)) if u.active => (Some(u), h),
        _ => (None, String::new()),
    };
    let password = input.password;
    let password_again = password.clone();
    // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let hash = if hash.is_empty() { dummy_hash() } else { hash };
    let ok = crate::auth::verify_password_async(password, hash).await;
    let Some(user) = user.filter(|_| ok) else {
        state.login_throttle.failed(&name, ip);
        tracing::warn!(username = %name, client = %ip, "refused: failed sign-in");
        state.metrics.login_refused("wrong-password");
        state.security.record(
            "sign-in-failed",
            Some(&name),
            Some(ip),
            "wrong username or password, or the user is inactive",
        );
        return Err(refused);
    };
    state.login_throttle.succeeded(&name, ip);
    // A store's own users work at that store only; HQ users anywhere.
    if let Some(home) = &user.store
        && state.node.store() != Some(home.as_str())
    {
        // The same answer as a wrong password: a right password must not be
        // told apart from a wrong one where it cannot be used.
        tracing::warn!(user = %user.username, store = %home, node = %state.node.id, "refused: user belongs to another store");
        state.metrics.login_refused("other-store");
        state.security.record(
            "sign-in-failed",
            Some(user.username.as_str()),
            Some(ip),
            format!(
                "a user of store {home} tried to sign in at {}",
                state.node.id
            ),
        );
        return Err(refused);
    }
    // At a store, the user's operation key signs what they do for HQ; at HQ,
    // a user created before keys existed gets theirs now.
    let op_key = match state.node.role {
        patron_storage::NodeRole::Store => Some(
            crate::auth::op_key_async(user.username.as_str().to_owned(), password_again)
                .await
                .ok_or_else(|| ApiError::Internal("deriving the operation key failed".into()))?,
        ),
        patron_storage::NodeRole::Hq => {
            let missing = matches!(
                state.storage.user_op_key(&user.username).await?,
                Some((_, None))
            );
            if missing
                && let Some(k) =
                    crate::auth::op_key_async(user.username.as_str().to_owned(), password_again)
                        .await
            {
                state
                    .storage
                    .set_user_op_key(&user.username, &patron_storage::ops::hex(&k.0))
                    .await?;
            }
            None
        }
    };
    let (token, expires_at) = state.sessions.start(&user, op_key).await?;
    tracing::info!(user = %user.username, client = %ip, "signed in");
    state.security.record(
        "sign-in",
        Some(user.username.as_str()),
        Some(ip),
        "signed in",
    );
    Ok(Json(LoginView {
        token,
        expires_at: expires_at.format(&Rfc3339).unwrap_or_default(),
        user: UserView::from(&user),
    }))
}

/// End the session of the token sent.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Signed out"), ProblemResponses))]
pub async fn logout(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<std::net::SocketAddr>,
    user: Authed,
    headers: HeaderMap,
) -> Result<StatusCode> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .map(|(_, t)| t.trim().to_owned())
        .unwrap_or_default();
    state.sessions.end(&token).await?;
    state.security.record(
        "sign-out",
        Some(user.0.username.as_str()),
        Some(client.ip()),
        "signed out",
    );
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user and their permissions.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), ProblemResponses))]
pub async fn me(user: Authed) -> Json<UserView> {
    Json(UserView::from(&user.0))
}
