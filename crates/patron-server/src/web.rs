//! The web back office and register screen: one HTML shell, a stylesheet and a
//! script, compiled into the binary (no front-end build, no CDN), so a store
//! node serves them with HQ out of reach. The pages use the same JSON API as
//! any other client, so the server refuses what a user may not do whatever the
//! page shows.

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const SHELL: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Patron</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<div id="app"><noscript>Patron's back office needs JavaScript.</noscript></div>
<script src="/assets/app.js"></script>
</body>
</html>
"#;

const CSS: &str = include_str!("../assets/app.css");
const JS: &str = include_str!("../assets/app.js");

/// The paths the script routes; each serves the same shell.
pub const PAGES: [&str; 10] = [
    "/",
    "/login",
    "/customers",
    "/groups",
    "/loyalty",
    "/users",
    "/security",
    "/duplicates",
    "/stores",
    "/register",
];

/// Script only from this server's own file (never inline, never eval), no
/// framing by other sites, no MIME sniffing, no referrer leaking customer
/// URLs. Styles may be inline (the script sets a few `style` attributes).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

fn with_type(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        body,
    )
        .into_response()
}

async fn shell() -> Response {
    with_type(SHELL, "text/html; charset=utf-8")
}

async fn css() -> Response {
    with_type(CSS, "text/css; charset=utf-8")
}

async fn js() -> Response {
    with_type(JS, "text/javascript; charset=utf-8")
}

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut r = Router::new()
        .route("/assets/app.css", get(css))
        .route("/assets/app.js", get(js));
    for p in PAGES {
        r = r.route(p, get(shell));
    }
    r
}
