//! Request extractors that fail with problem+json instead of axum's plain text.

use super::error::ApiError;
use crate::app::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use patron_domain::Permission;
use patron_storage::User;
use serde::de::DeserializeOwned;

/// The largest JSON body the API reads.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// A JSON body whose errors name the offending field (`address.city`), from
/// serde's own path, so that a wrong type or an unknown field is a 422 that says
/// where, and malformed JSON is a 400.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || mime.to_ascii_lowercase().ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A body that could not be read: too large (413), or late or broken off (408).
pub fn body_error(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(MAX_JSON_BODY)
    } else {
        ApiError::BodyTimeout
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde would also read a struct from an array; every API body is an object.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => return Err(ApiError::MalformedJson("the body is empty".into())),
        Some(_) => return Err(ApiError::field("body", "must be a JSON object")),
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            use serde_json::error::Category;
            match inner.classify() {
                Category::Syntax | Category::Eof | Category::Io => {
                    Err(ApiError::MalformedJson(inner.to_string()))
                }
                Category::Data => {
                    // serde names unknown/missing fields in the message, not the path.
                    let msg = inner.to_string();
                    let field = match (field_from_message(&msg), path.as_str()) {
                        (Some(name), ".") => name,
                        (Some(name), p) if !p.ends_with(&name) => format!("{p}.{name}"),
                        (_, ".") => "body".to_owned(),
                        _ => path,
                    };
                    let message = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
                    Err(ApiError::field(&field, message))
                }
            }
        }
    }
}

/// Pulls the field name out of serde's "unknown field `x`" / "missing field `x`".
fn field_from_message(msg: &str) -> Option<String> {
    for lead in ["unknown field `", "missing field `", "duplicate field `"] {
        if let Some(rest) = msg.strip_prefix(lead) {
            return rest.split('`').next().map(str::to_owned);
        }
    }
    None
}

/// A path parameter whose decoding errors (invalid UTF-8, say) are a
/// problem+json 400 like every other error, not axum's plain text.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|e| ApiError::BadRequest(format!("the path is not valid: {}", e.body_text())))
    }
}

/// A permission as a type, so a handler can ask for it in its signature and
/// have it checked before its body is read (a cashier's malformed body to a
/// manager's endpoint is a 403, not a 422).
pub trait Perm {
    const P: Permission;
}

macro_rules! perm_types {
    ($($name:ident),* $(,)?) => {
        /// One type per permission, for [`Allowed`].
        pub mod perm {
            $(
                pub struct $name;
                impl super::Perm for $name {
                    const P: patron_domain::Permission = patron_domain::Permission::$name;
                }
            )*
        }
    };
}

perm_types!(
    CustomersView,
    CustomersCreate,
    CustomersEdit,
    CustomersDeactivate,
    UsersManage,
    SettingsManage,
    GroupsManage,
    LoyaltyManage,
    OrdersCreate,
    OrdersRefund,
    LimitsOverride,
    ReportsView,
    StoresManage,
    CustomersErase,
    CustomersMerge,
);

/// A signed-in user holding permission `P`, checked from the request's head.
pub struct Allowed<P>(pub Authed, pub std::marker::PhantomData<P>);

impl<P: Perm + Send + Sync> FromRequestParts<AppState> for Allowed<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = Authed::from_request_parts(parts, state).await?;
        user.require(P::P)?;
        Ok(Allowed(user, std::marker::PhantomData))
    }
}

/// The signed-in user of a request, from its `Authorization: Bearer` token,
/// and (at a store) the key their operations are signed with for HQ.
pub struct Authed(pub User, pub Option<patron_storage::OpKey>);

impl Authed {
    /// Refuses with 403 unless the user's role grants `p`.
    pub fn require(&self, p: Permission) -> Result<&User, ApiError> {
        if self.0.role.allows(p) {
            Ok(&self.0)
        } else {
            tracing::warn!(user = %self.0.username, permission = p.name(), "refused: missing permission");
            Err(ApiError::Forbidden(p.name()))
        }
    }

    pub fn actor(&self) -> patron_storage::Actor {
        patron_storage::Actor::new(self.0.username.as_str()).with_op_key(self.1)
    }
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(ApiError::Unauthenticated(
                "sign in first: send Authorization: Bearer <token>",
            ))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| {
                let (scheme, token) = h.split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then_some(token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthenticated(
                "the Authorization header must be: Bearer <token>",
            ))?;
        let user = state.sessions.user_for_token(token).await?;
        if let (Some(u), Some(who)) = (&user, parts.extensions.get::<crate::security::Who>()) {
            who.set(u.username.as_str());
        }
        match user {
            Some(user) if state.node.role == patron_storage::NodeRole::Store => {
                // What a user does at a store reaches HQ signed with a key only
                // their password gives; a session this process did not start
                // (before a restart) cannot sign, so it signs in again.
                match state.sessions.op_key(token) {
                    Some(k) => Ok(Authed(user, Some(k))),
                    None => Err(ApiError::Unauthenticated(
                        "this store node restarted since you signed in; sign in again",
                    )),
                }
            }
            Some(user) => Ok(Authed(user, None)),
            None => {
                // An expired session's signing key goes with it.
                state.sessions.forget_op_key(token);
                tracing::warn!("refused: unknown or expired token");
                Err(ApiError::Unauthenticated(
                    "the token is unknown or has expired; sign in again",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        city: Option<String>,
    }

    fn field_of(json: &str) -> Option<String> {
        match parse_json::<Body>(json.as_bytes()) {
            Err(ApiError::Invalid(v)) => Some(v.0[0].field.clone()),
            Err(ApiError::MalformedJson(_)) => Some("<malformed>".into()),
            _ => None,
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(r#"{"name": 5}"#).as_deref(), Some("name"));
        assert_eq!(
            field_of(r#"{"name": "a", "inner": {"city": 1}}"#).as_deref(),
            Some("inner.city")
        );
        assert_eq!(
            field_of(r#"{"name": "a", "nope": 1}"#).as_deref(),
            Some("nope")
        );
        assert_eq!(field_of(r#"{"inner": null}"#).as_deref(), Some("name"));
        assert_eq!(field_of(r#"{"name": "#).as_deref(), Some("<malformed>"));
        assert_eq!(field_of(r#"[1]"#).as_deref(), Some("body"));
        assert_eq!(field_of(r#"  "#).as_deref(), Some("<malformed>"));
        assert_eq!(
            field_of(r#"{"name": "a", "inner": {"x": 1}}"#).as_deref(),
            Some("inner.x")
        );
        assert_eq!(field_of(r#"{"name": "a"}"#), None);
    }
}
