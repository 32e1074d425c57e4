//! The customer API end to end, over real HTTP on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_problem, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn healthz_and_openapi_need_no_token() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["openapi"].as_str().map(|s| s.starts_with("3.")),
        Some(true)
    );
    for path in [
        "/api/v1/customers",
        "/api/v1/customers/{key}",
        "/api/v1/customers/{key}/audit",
        "/api/v1/auth/login",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn create_read_update_deactivate_and_audit() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let c = app
        .create(&admin, json!({
            "first_name": "Anna", "last_name": "Müller", "email": "Anna.Muller@Example.com",
            "phone": "(201) 555-0123", "tax_id": "DE123", "date_of_birth": "1990-05-17",
            "address": {"line1": "1 Main St", "city": "Springfield", "region": "IL", "postal_code": "62701", "country": "us"},
            "notes": "prefers email", "marketing_consent": true,
            "medical": {"card_number": "MED-1", "issuing_state": "CA", "expiry": "2027-01-31"},
            "id_document": {"number": "D123", "issuing_state": "IL", "issuing_country": "US", "expiry": "2030-01-01"}
        }))
        .await;
    assert_eq!(c["code"], "CUST-00001");
    assert_eq!(c["phone"], "+12015550123");
    assert_eq!(c["phone_display"], "(201) 555-0123");
    assert_eq!(c["email"], "Anna.Muller@example.com");
    assert_eq!(c["address"]["country"], "US");
    assert_eq!(c["medical"]["expiry"], "2027-01-31");
    assert_eq!(c["origin_store"], Value::Null);
    assert_eq!(c["active"], true);
    let id = c["id"].as_str().unwrap();

    // Read by id and by code, in any case.
    for key in [id.to_owned(), "CUST-00001".into(), "cust-00001".into()] {
        let r = app.get(&admin, &format!("/api/v1/customers/{key}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.json::<Value>().await.unwrap()["id"], id);
    }

    // Partial update: merge semantics; nested objects merge; null clears.
    let r = app
        .patch(
            &admin,
            &format!("/api/v1/customers/{id}"),
            &json!({"first_name": "Anne", "address": {"city": "Chicago"}, "notes": null}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let u: Value = r.json().await.unwrap();
    assert_eq!(u["first_name"], "Anne");
    assert_eq!(u["address"]["city"], "Chicago");
    assert_eq!(u["address"]["line1"], "1 Main St");
    assert_eq!(u["notes"], Value::Null);
    assert_eq!(u["last_name"], "Müller");

    let manager = app.login("manager").await;
    let r = app
        .post(
            &manager,
            &format!("/api/v1/customers/{id}/deactivate"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["active"], false);
    assert!(app.search(&admin, "muller").await.is_empty());
    let all: Value = app
        .get(&admin, "/api/v1/customers?q=muller&active=all")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    let r = app
        .post(
            &manager,
            &format!("/api/v1/customers/{id}/reactivate"),
            &json!({}),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["active"], true);
    assert_eq!(app.search(&admin, "muller").await, vec!["CUST-00001"]);

    let audit: Vec<Value> = app
        .get(&admin, &format!("/api/v1/customers/{id}/audit"))
        .await
        .json()
        .await
        .unwrap();
    let rows: Vec<(String, String, Value, Value, String)> = audit
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["field"].as_str().unwrap_or("").into(),
                e["old"].clone(),
                e["new"].clone(),
                e["actor"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(rows[0].0, "create");
    assert_eq!(rows[0].4, "admin");
    assert!(rows.contains(&(
        "update".into(),
        "first_name".into(),
        json!("Anna"),
        json!("Anne"),
        "admin".into()
    )));
    assert!(rows.contains(&(
        "update".into(),
        "address.city".into(),
        json!("Springfield"),
        json!("Chicago"),
        "admin".into()
    )));
    assert!(rows.contains(&(
        "update".into(),
        "notes".into(),
        json!("prefers email"),
        Value::Null,
        "admin".into()
    )));
    assert!(rows.contains(&(
        "deactivate".into(),
        "active".into(),
        json!("true"),
        json!("false"),
        "manager".into()
    )));
    assert!(rows.contains(&(
        "reactivate".into(),
        "active".into(),
        json!("false"),
        json!("true"),
        "manager".into()
    )));
    assert!(
        audit
            .iter()
            .all(|e| e["at"].as_str().is_some_and(|t| t.ends_with('Z')))
    );
}

#[tokio::test]
async fn search_by_phone_in_any_format_and_by_every_field() {
    let app = spawn_app().await;
    let t = app.login("cashier").await;
    app.create(&t, json!({"first_name": "José", "last_name": "Núñez", "phone": "+1 415 555 0199", "email": "jose@example.org"})).await;
    app.create(
        &t,
        json!({"first_name": "Mary", "last_name": "Smith", "phone": "212-555-0143"}),
    )
    .await;
    for q in [
        "(415) 555-0199",
        "415.555.0199",
        "4155550199",
        "+14155550199",
        "0199",
        "50199",
        "jose",
        "NUNEZ",
        "núñez",
        "jose nunez",
        "nunez jose",
        "jose@example.org",
        "jose@",
        "cust-00001",
        "1",
        "une",
    ] {
        assert_eq!(app.search(&t, q).await, vec!["CUST-00001"], "query {q:?}");
    }
    assert_eq!(app.search(&t, "0143").await, vec!["CUST-00002"]);
    assert_eq!(
        app.search(&t, "555").await.len(),
        0,
        "fewer than 4 digits is not a phone lookup"
    );
}

#[tokio::test]
async fn list_is_alphabetical_with_cursor_pagination() {
    let app = spawn_app().await;
    let t = app.login("admin").await;
    let names = [
        ("Cy", "Brown"),
        ("Al", "adams"),
        ("Bo", "Brown"),
        ("Di", "Zed"),
        ("Ed", "Çelik"),
        ("Flo", "Ng"),
    ];
    for (f, l) in names {
        app.create(&t, json!({"first_name": f, "last_name": l}))
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = "/api/v1/customers?limit=2".to_owned();
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = app.get(&t, &url).await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|c| {
            format!(
                "{} {}",
                c["first_name"].as_str().unwrap(),
                c["last_name"].as_str().unwrap()
            )
        }));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![
            "Al adams",
            "Bo Brown",
            "Cy Brown",
            "Ed Çelik",
            "Flo Ng",
            "Di Zed"
        ]
    );
}

#[tokio::test]
async fn origin_store_filter_accepts_hq() {
    let app = spawn_app().await;
    let t = app.login("admin").await;
    app.create(&t, json!({"first_name": "A", "last_name": "B"}))
        .await;
    let hq: Value = app
        .get(&t, "/api/v1/customers?origin_store=HQ")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hq["items"].as_array().unwrap().len(), 1);
    let s01: Value = app
        .get(&t, "/api/v1/customers?origin_store=S01")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s01["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn duplicate_email_is_a_409_naming_the_field() {
    let app = spawn_app().await;
    let t = app.login("admin").await;
    app.create(
        &t,
        json!({"first_name": "A", "last_name": "B", "email": "a@example.com"}),
    )
    .await;
    let r = app
        .post(
            &t,
            "/api/v1/customers",
            &json!({"first_name": "C", "last_name": "D", "email": "A@EXAMPLE.com"}),
        )
        .await;
    assert_problem(r, 409, Some("email")).await;
    assert_eq!(app.storage.count_customers().await.unwrap(), 1);
}

#[tokio::test]
async fn tokens_and_permissions() {
    let app = spawn_app().await;
    // No token, a malformed header, an unknown token: 401 problem+json.
    let r = app
        .client
        .get(app.url("/api/v1/customers"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("www-authenticate").unwrap(), "Bearer");
    assert_problem(r, 401, None).await;
    let r = app
        .client
        .get(app.url("/api/v1/customers"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, None).await;
    assert_problem(app.get("not-a-token", "/api/v1/customers").await, 401, None).await;
    // Wrong password and unknown user look the same.
    for (u, p) in [("admin", "wrong-password"), ("nobody", "whatever-1")] {
        let r = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"username": u, "password": p}))
            .send()
            .await
            .unwrap();
        let body = assert_problem(r, 401, None).await;
        assert_eq!(body["detail"], "wrong username or password");
    }
    // A cashier may create and edit but not deactivate, nor manage users or settings.
    let cashier = app.login("cashier").await;
    let c = app
        .create(&cashier, json!({"first_name": "A", "last_name": "B"}))
        .await;
    let id = c["id"].as_str().unwrap();
    let body = assert_problem(
        app.post(
            &cashier,
            &format!("/api/v1/customers/{id}/deactivate"),
            &json!({}),
        )
        .await,
        403,
        None,
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("customers.deactivate")
    );
    assert_problem(app.get(&cashier, "/api/v1/users").await, 403, None).await;
    assert_problem(
        app.patch(&cashier, "/api/v1/settings", &json!({"code_prefix": "X-"}))
            .await,
        403,
        None,
    )
    .await;
    let me: Value = app
        .get(&cashier, "/api/v1/auth/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "cashier");
    assert!(
        me["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("customers.create"))
    );
    // Logout ends the token.
    let r = app.post(&cashier, "/api/v1/auth/logout", &json!({})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&cashier, "/api/v1/customers").await, 401, None).await;
}

#[tokio::test]
async fn admins_manage_users_and_settings() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let r = app
        .post(
            &admin,
            "/api/v1/users",
            &json!({"username": "Till.One", "password": "long-enough-pw", "role": "cashier"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["username"], "till.one");
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "TILL.ONE", "password": "long-enough-pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_problem(
        app.post(
            &admin,
            "/api/v1/users",
            &json!({"username": "till.one", "password": "long-enough-pw", "role": "cashier"}),
        )
        .await,
        409,
        Some("username"),
    )
    .await;
    assert_problem(
        app.post(
            &admin,
            "/api/v1/users",
            &json!({"username": "x y", "password": "short", "role": "root"}),
        )
        .await,
        422,
        Some("username"),
    )
    .await;

    let s: Value = app
        .patch(
            &admin,
            "/api/v1/settings",
            &json!({"code_prefix": "M-", "code_width": 3, "phone_region": "de"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        s,
        json!({"code_prefix": "M-", "code_width": 3, "phone_region": "DE"})
    );
    let c = app
        .create(
            &admin,
            json!({"first_name": "Hans", "last_name": "Weber", "phone": "030 12345678"}),
        )
        .await;
    assert_eq!(c["code"], "M-001");
    assert_eq!(c["phone"], "+493012345678");
    assert_eq!(c["phone_display"], "030 12345678");
    assert_problem(
        app.patch(&admin, "/api/v1/settings", &json!({"phone_region": "XX"}))
            .await,
        422,
        Some("phone_region"),
    )
    .await;
}

/// A create sent again after its answer was lost (same client id) returns the
/// first customer instead of making a second one.
#[tokio::test]
async fn a_retried_create_with_the_clients_id_makes_one_customer() {
    let app = spawn_app().await;
    let t = app.login("cashier").await;
    let id = uuid::Uuid::now_v7().to_string();
    let body =
        json!({"id": id, "first_name": "Rhea", "last_name": "Retry", "phone": "512 555 0199"});
    let r = app.post(&t, "/api/v1/customers", &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["id"], id);
    let r = app.post(&t, "/api/v1/customers", &body).await;
    assert_eq!(r.status(), StatusCode::OK);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["code"], first["code"]);
    assert_eq!(app.search(&t, "Retry").await.len(), 1);
    let other = json!({"id": id, "first_name": "Someone", "last_name": "Else"});
    assert_problem(
        app.post(&t, "/api/v1/customers", &other).await,
        409,
        Some("id"),
    )
    .await;
    let bad = json!({"id": "not-a-uuid", "first_name": "A", "last_name": "B"});
    assert_problem(
        app.post(&t, "/api/v1/customers", &bad).await,
        422,
        Some("id"),
    )
    .await;
    let r = app
        .patch(
            &t,
            &format!("/api/v1/customers/{id}"),
            &json!({"id": uuid::Uuid::now_v7().to_string()}),
        )
        .await;
    assert_problem(r, 422, Some("id")).await;
}

/// The back office's pages and assets cannot be framed or sniffed, and run no
/// script but the server's own file.
#[tokio::test]
async fn html_and_assets_carry_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/login",
        "/customers",
        "/assets/app.js",
        "/assets/app.css",
        "/assets/pages/register.js",
    ] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("script-src 'self' 'unsafe"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
    }
}

/// Guessing a password is throttled: after a few wrong tries for an account
/// from one address, the next waits (429 with Retry-After), growing; the
/// other accounts still sign in.
#[tokio::test]
async fn failed_sign_ins_are_throttled() {
    let app = spawn_app().await;
    let login = |user: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/auth/login"))
                .json(&json!({"username": user, "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..5 {
        assert_eq!(
            login("admin", "wrong-guess-1").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login("admin", "wrong-guess-2").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let r = login("admin", common::PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(
        login("manager", common::PASSWORD).await.status(),
        StatusCode::OK
    );
}

/// A new user's password is not the username, not blank, not a common one.
#[tokio::test]
async fn weak_passwords_are_refused() {
    let app = spawn_app().await;
    let t = app.login("admin").await;
    for password in ["password", "12345678", "        ", "till.two", "Passw0rd"] {
        let r = app
            .post(
                &t,
                "/api/v1/users",
                &json!({"username": "till.two", "password": password, "role": "cashier"}),
            )
            .await;
        assert_problem(r, 422, Some("password")).await;
    }
}

/// Every route the router serves is in the OpenAPI document, with its method
/// and its path parameters; no route in the document is unserved.
#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut served: Vec<(String, String)> = patron_server::http::API_ROUTES
        .iter()
        .chain(patron_server::http::LARGE_BODY_ROUTES)
        .map(|(m, p)| (m.to_string(), format!("/api/v1{p}")))
        .collect();
    for meta in ["/healthz", "/readyz", "/metrics"] {
        served.push(("get".into(), meta.into()));
    }
    let mut missing = Vec::new();
    for (method, path) in &served {
        let op = &doc["paths"][path][method];
        if !op.is_object() {
            missing.push(format!("{method} {path}"));
            continue;
        }
        // Each `{param}` of the path is declared as a path parameter.
        for param in path.split('{').skip(1).filter_map(|s| s.split('}').next()) {
            let declared = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == param && p["in"] == "path"));
            assert!(
                declared,
                "{method} {path}: path parameter {param} undeclared"
            );
        }
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path}: no responses"
        );
    }
    assert!(
        missing.is_empty(),
        "routes missing from the document: {missing:?}"
    );
    // And the document names no route that is not served.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            assert!(
                served.iter().any(|(m, p)| m == method && p == path),
                "the document lists {method} {path}, which is not served"
            );
        }
    }
}

/// Every success answer's body is described: no answer without a schema, and
/// no object schema without properties.
#[test]
fn every_success_body_is_typed() {
    let doc = serde_json::to_value(patron_server::http::openapi::spec()).unwrap();
    let mut untyped = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, resp) in op["responses"].as_object().unwrap() {
                if !status.starts_with('2') || status == "204" {
                    continue;
                }
                let content = resp["content"].as_object();
                let json_schema = content.and_then(|c| {
                    c.iter()
                        .find(|(mime, _)| mime.ends_with("json"))
                        .map(|(_, v)| v["schema"].clone())
                });
                let typed = match (&json_schema, content) {
                    // Not JSON (text, a database file): described by its type.
                    (None, Some(c)) if !c.is_empty() => true,
                    (Some(s), _) => {
                        s.get("$ref").is_some()
                            || s.get("items").is_some()
                            || s.get("properties").is_some()
                            || s.get("oneOf").is_some()
                            || s["type"] == "string"
                    }
                    _ => false,
                };
                if !typed {
                    untyped.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    untyped.sort();
    assert!(untyped.is_empty(), "untyped success bodies: {untyped:#?}");
}

/// A bound the document states for a request field.
fn documented(schema: &str, field: &str, bound: &str) -> u64 {
    let doc = serde_json::to_value(patron_server::http::openapi::spec()).unwrap();
    doc["components"]["schemas"][schema]["properties"][field][bound]
        .as_f64()
        .unwrap_or_else(|| panic!("{schema}.{field} has no {bound} in the document")) as u64
}

/// The document's bounds are the server's: a value at the bound is taken, one
/// past it is a 422 naming the field.
#[tokio::test]
async fn the_documented_bounds_are_the_servers() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    for field in [
        "points_lifetime_days",
        "return_window_days",
        "utc_offset_minutes",
    ] {
        let max = documented("LoyaltySettingsInput", field, "maximum");
        let r = app
            .patch(&admin, "/api/v1/loyalty/settings", &json!({ field: max }))
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{field} = {max}");
        let r = app
            .patch(
                &admin,
                "/api/v1/loyalty/settings",
                &json!({ field: max + 1 }),
            )
            .await;
        assert_problem(r, 422, Some(field)).await;
    }
    for field in ["first_name", "notes"] {
        let max = documented("CustomerInput", field, "maxLength") as usize;
        let mut body = json!({"first_name": "Ann", "last_name": "Lee"});
        body[field] = json!("é".repeat(max));
        let r = app.post(&admin, "/api/v1/customers", &body).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{field}: {max} characters");
        body[field] = json!("é".repeat(max + 1));
        let r = app.post(&admin, "/api/v1/customers", &body).await;
        assert_problem(r, 422, Some(field)).await;
    }
    let max = documented("GroupInput", "description", "maxLength") as usize;
    for (i, (len, status)) in [(max, 201), (max + 1, 422)].into_iter().enumerate() {
        let body = json!({"name": format!("G{i}"), "description": "d".repeat(len)});
        let r = app.post(&admin, "/api/v1/groups", &body).await;
        if status == 201 {
            assert_eq!(r.status(), StatusCode::CREATED);
        } else {
            assert_problem(r, 422, Some("description")).await;
        }
    }
}
