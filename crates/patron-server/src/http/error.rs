//! The API's one error type and its `application/problem+json` rendering (RFC 9457).
//! Every refusal the API makes goes through here, so every client sees one shape:
//! `type`, `title`, `status`, `detail`, and `field` / `errors` naming bad input.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use patron_domain::{FieldError, ValidationErrors};
use patron_storage::StorageError;
use serde::Serialize;
use utoipa::ToSchema;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// A rule that does not parse: where, and what was expected there.
    #[error("rule: {message}")]
    RuleSyntax {
        message: String,
        position: usize,
        line: usize,
        column: usize,
        expected: Vec<String>,
        found: String,
    },
    #[error("invalid input")]
    Invalid(ValidationErrors),
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("this needs the {0} permission")]
    Forbidden(&'static str),
    /// Refused for a reason other than a missing permission (a store's
    /// request nobody signed, say).
    #[error("{0}")]
    Refused(String),
    /// A request that cannot be read at all (its path does not decode).
    #[error("{0}")]
    BadRequest(String),
    /// Too many failed attempts from here: try again after this many seconds.
    #[error("too many failed sign-ins from here; try again in {0} s")]
    TooManyRequests(u64),
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Conflict { field: String, message: String },
    /// A new customer who is likely someone already on file: the candidates,
    /// for the user to pick one or to create the new record anyway.
    #[error("this may be a customer already on file: {} likely the same person; send again with allow_duplicate=true to create anyway", .0.len())]
    LikelyDuplicate(Vec<crate::wire::DuplicateCandidateView>),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the request's URI is longer than {0} bytes")]
    UriTooLong(usize),
    #[error("the request body did not arrive in time, or broke off")]
    BodyTimeout,
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("{0} is not allowed on this resource")]
    MethodNotAllowed(String),
    /// Work the request asked for was stopped at its deadline.
    #[error("{0}")]
    TimedOut(String),
    #[error("the disk holding the database is full; nothing was written")]
    InsufficientStorage,
    /// The node is starting (opening or upgrading its database): what it is doing.
    #[error("{0}; try again shortly")]
    Starting(String),
    /// The store and HQ speak no common sync protocol: which side to upgrade.
    #[error("{0}")]
    UpgradeRequired(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Invalid(FieldError::new(field, message).into())
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Invalid(_) | ApiError::RuleSyntax { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Refused(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } | ApiError::LikelyDuplicate(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TimedOut(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::UpgradeRequired(_) => StatusCode::UPGRADE_REQUIRED,
            ApiError::Starting(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed-json",
            ApiError::BadRequest(_) => "bad-request",
            ApiError::TooManyRequests(_) => "too-many-requests",
            ApiError::RuleSyntax { .. } => "rule-syntax",
            ApiError::Invalid(_) => "validation",
            ApiError::Unauthenticated(_) => "unauthenticated",
            ApiError::Forbidden(_) | ApiError::Refused(_) => "forbidden",
            ApiError::NotFound => "not-found",
            ApiError::Conflict { .. } => "conflict",
            ApiError::LikelyDuplicate(_) => "likely-duplicate",
            ApiError::TooLarge(_) => "body-too-large",
            ApiError::UriTooLong(_) => "uri-too-long",
            ApiError::BodyTimeout => "body-timeout",
            ApiError::UnsupportedMediaType => "unsupported-media-type",
            ApiError::MethodNotAllowed(_) => "method-not-allowed",
            ApiError::TimedOut(_) => "timed-out",
            ApiError::InsufficientStorage => "insufficient-storage",
            ApiError::UpgradeRequired(_) => "upgrade-required",
            ApiError::Starting(_) => "starting",
            ApiError::Internal(_) => "internal",
        }
    }
}

/// An `application/problem+json` body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem, e.g. `/problems/validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The first offending input field, when the problem is about input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every offending field with its message.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// Rule syntax errors: where the problem starts (0-based character offset,
    /// 1-based line and column), what would have been accepted, what was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
    /// A likely duplicate (409, `/problems/likely-duplicate`): the customers
    /// already on file who are likely the same person.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<crate::wire::DuplicateCandidateView>,
    /// The request's id, as in the `X-Request-Id` header and the server's log
    /// lines: quote it when reporting a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(detail) = &self {
            // The detail may hold paths or SQL: log it, never send it.
            tracing::error!(%detail, "internal error");
        }
        let (field, errors) = match &self {
            ApiError::Invalid(v) => (
                v.0.first().map(|e| e.field.clone()),
                v.0.iter()
                    .map(|e| ProblemField {
                        field: e.field.clone(),
                        message: e.message.clone(),
                    })
                    .collect(),
            ),
            ApiError::Conflict { field, message } => (
                Some(field.clone()),
                vec![ProblemField {
                    field: field.clone(),
                    message: message.clone(),
                }],
            ),
            ApiError::RuleSyntax { message, .. } => (
                Some("rule".to_owned()),
                vec![ProblemField {
                    field: "rule".to_owned(),
                    message: message.clone(),
                }],
            ),
            ApiError::LikelyDuplicate(c) => (
                c.first()
                    .and_then(|c| c.same.first())
                    .map(|by| by.field().to_owned()),
                Vec::new(),
            ),
            _ => (None, Vec::new()),
        };
        let (position, line, column, expected, found) = match &self {
            ApiError::RuleSyntax {
                position,
                line,
                column,
                expected,
                found,
                ..
            } => (
                Some(*position),
                Some(*line),
                Some(*column),
                Some(expected.clone()),
                Some(found.clone()),
            ),
            _ => (None, None, None, None, None),
        };
        let detail = match &self {
            ApiError::Invalid(v) => v.to_string(),
            other => other.to_string(),
        };
        let kind = format!("/problems/{}", self.slug());
        let refusal = matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
            .then(|| self.to_string());
        let retry_after = match &self {
            ApiError::TooManyRequests(secs) => Some(*secs),
            ApiError::Starting(_) => Some(5),
            _ => None,
        };
        let candidates = match self {
            ApiError::LikelyDuplicate(c) => c,
            _ => Vec::new(),
        };
        let body = Problem {
            kind,
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            field,
            errors,
            position,
            line,
            column,
            expected,
            found,
            candidates,
            request_id: crate::observe::request_id(),
        };
        let mut resp = (status, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(reason) = refusal {
            // For the security log, which sees only the response.
            resp.extensions_mut()
                .insert(crate::security::RefusalReason(reason));
        }
        resp
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => ApiError::NotFound,
            StorageError::Conflict { field, message } => ApiError::Conflict { field, message },
            StorageError::Invalid(v) => ApiError::Invalid(v),
            StorageError::BadCursor => {
                ApiError::field("cursor", "is not a cursor this server issued")
            }
            StorageError::TimedOut(m) => ApiError::TimedOut(m),
            StorageError::DiskFull => ApiError::InsufficientStorage,
            StorageError::Backend(m) => ApiError::Internal(m),
        }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(e: ValidationErrors) -> Self {
        ApiError::Invalid(e)
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Invalid(e.into())
    }
}

/// The problem responses any API call may give, for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ProblemResponses {
    #[response(
        status = 400,
        description = "Malformed JSON",
        content_type = "application/problem+json"
    )]
    Malformed(Problem),
    #[response(
        status = 401,
        description = "Missing, unknown or expired token",
        content_type = "application/problem+json"
    )]
    Unauthenticated(Problem),
    #[response(
        status = 403,
        description = "The user's role lacks the permission",
        content_type = "application/problem+json"
    )]
    Forbidden(Problem),
    #[response(
        status = 404,
        description = "No such resource",
        content_type = "application/problem+json"
    )]
    NotFound(Problem),
    #[response(
        status = 409,
        description = "A unique value is taken",
        content_type = "application/problem+json"
    )]
    Conflict(Problem),
    #[response(
        status = 422,
        description = "Invalid input; `field` and `errors` say which",
        content_type = "application/problem+json"
    )]
    Invalid(Problem),
    #[response(
        status = 405,
        description = "The method is not allowed on this resource",
        content_type = "application/problem+json"
    )]
    MethodNotAllowed(Problem),
    #[response(
        status = 408,
        description = "The request body did not arrive within 30 s",
        content_type = "application/problem+json"
    )]
    BodyTimeout(Problem),
    #[response(
        status = 413,
        description = "The body is larger than this endpoint reads",
        content_type = "application/problem+json"
    )]
    TooLarge(Problem),
    #[response(
        status = 414,
        description = "The URI is longer than 8 KiB",
        content_type = "application/problem+json"
    )]
    UriTooLong(Problem),
    #[response(
        status = 415,
        description = "The body is not JSON",
        content_type = "application/problem+json"
    )]
    UnsupportedMediaType(Problem),
    #[response(
        status = 429,
        description = "Too many failed sign-ins from here; `Retry-After` says when to try again",
        content_type = "application/problem+json"
    )]
    TooManyRequests(Problem),
    #[response(
        status = 431,
        description = "The request head is larger than 64 KiB",
        content_type = "application/problem+json"
    )]
    HeadersTooLarge(Problem),
    #[response(
        status = 503,
        description = "Evaluating a rule took longer than its deadline (5 s for a preview, 60 s for a group's fill; the group itself is saved)",
        content_type = "application/problem+json"
    )]
    TimedOut(Problem),
    #[response(
        status = 507,
        description = "The disk holding the database is full: nothing was written; writes work again once space is freed",
        content_type = "application/problem+json"
    )]
    InsufficientStorage(Problem),
    #[response(
        status = 426,
        description = "A store's sync protocol and HQ's do not meet; the detail says which to upgrade",
        content_type = "application/problem+json"
    )]
    UpgradeRequired(Problem),
    #[response(
        status = 500,
        description = "An internal error (logged; its detail is never sent)",
        content_type = "application/problem+json"
    )]
    Internal(Problem),
}
