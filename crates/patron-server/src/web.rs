//! The web back office and register screen: one HTML shell, a stylesheet and
//! plain ES modules, compiled into the binary (no front-end build, no CDN), so a store
//! node serves them with HQ out of reach. The pages use the same JSON API as
//! any other client, so the server refuses what a user may not do whatever the
//! page shows.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
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
<script type="module" src="/assets/app.js"></script>
</body>
</html>
"#;

/// Every file under `assets/`, by the path the browser asks for. A module
/// imports its neighbours by relative path, so this list is the whole UI.
const ASSETS: &[(&str, &str)] = &[
    ("app.css", include_str!("../assets/app.css")),
    ("app.js", include_str!("../assets/app.js")),
    ("session.js", include_str!("../assets/session.js")),
    ("dom.js", include_str!("../assets/dom.js")),
    ("layout.js", include_str!("../assets/layout.js")),
    (
        "customer_form.js",
        include_str!("../assets/customer_form.js"),
    ),
    ("id_scan.js", include_str!("../assets/id_scan.js")),
    ("pages/login.js", include_str!("../assets/pages/login.js")),
    (
        "pages/customers.js",
        include_str!("../assets/pages/customers.js"),
    ),
    ("pages/groups.js", include_str!("../assets/pages/groups.js")),
    (
        "pages/loyalty.js",
        include_str!("../assets/pages/loyalty.js"),
    ),
    ("pages/users.js", include_str!("../assets/pages/users.js")),
    (
        "pages/security.js",
        include_str!("../assets/pages/security.js"),
    ),
    (
        "pages/duplicates.js",
        include_str!("../assets/pages/duplicates.js"),
    ),
    ("pages/stores.js", include_str!("../assets/pages/stores.js")),
    (
        "pages/register.js",
        include_str!("../assets/pages/register.js"),
    ),
    (
        "pages/receipt.js",
        include_str!("../assets/pages/receipt.js"),
    ),
    (
        "pages/reports.js",
        include_str!("../assets/pages/reports.js"),
    ),
    ("chart.js", include_str!("../assets/chart.js")),
];

/// The paths the script routes; each serves the same shell.
pub const PAGES: [&str; 12] = [
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
    "/receipt",
    "/reports",
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

async fn asset(Path(path): Path<String>) -> Response {
    let Some((name, body)) = ASSETS.iter().find(|(name, _)| *name == path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let kind = if name.ends_with(".css") {
        "text/css; charset=utf-8"
    } else {
        "text/javascript; charset=utf-8"
    };
    with_type(body, kind)
}

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut r = Router::new().route("/assets/{*path}", get(asset));
    for p in PAGES {
        r = r.route(p, get(shell));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::ASSETS;
    use std::path::Path;

    fn files(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, base, out);
            } else {
                out.push(
                    p.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }

    /// A module left out of the table would answer 404 and break the page
    /// that imports it; markup strings and floats stay out of every module.
    #[test]
    fn every_asset_is_served_and_keeps_the_ui_rules() {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
        let mut found = Vec::new();
        files(&base, &base, &mut found);
        for f in &found {
            assert!(
                ASSETS.iter().any(|(n, _)| n == f),
                "assets/{f} is not in web::ASSETS"
            );
        }
        for (name, body) in ASSETS {
            for banned in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "parseFloat",
                "eval(",
            ] {
                assert!(!body.contains(banned), "assets/{name} uses {banned}");
            }
        }
        assert_eq!(found.len(), ASSETS.len());
    }
}
