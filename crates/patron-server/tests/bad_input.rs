//! Bad input never panics, never answers 5xx, always says what was wrong as
//! problem+json, and never writes anything.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestApp, assert_problem, spawn_app};
use proptest::prelude::*;
use serde_json::{Value, json};

async fn send_raw(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    req.send().await.unwrap()
}

/// Everything observable that a bad request must not change.
async fn snapshot(app: &TestApp, token: &str, id: &str) -> (Value, Value, u64) {
    let c: Value = app
        .get(token, &format!("/api/v1/customers/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let a: Value = app
        .get(token, &format!("/api/v1/customers/{id}/audit"))
        .await
        .json()
        .await
        .unwrap();
    (c, a, app.storage.count_customers().await.unwrap())
}

#[tokio::test]
async fn bad_customer_bodies_are_4xx_naming_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let t = app.login("admin").await;
    let existing = app
        .create(
            &t,
            json!({"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}),
        )
        .await;
    let id = existing["id"].as_str().unwrap().to_owned();
    let before = snapshot(&app, &t, &id).await;

    let long = "x".repeat(101);
    let deep = format!("{{\"notes\": {}{}}}", "[".repeat(5000), "]".repeat(5000));
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        (
            "truncated JSON",
            r#"{"first_name": "A", "#.into(),
            400,
            None,
        ),
        ("empty body", "".into(), 400, None),
        ("array body", "[]".into(), 422, Some("body")),
        ("string body", r#""Ann""#.into(), 422, Some("body")),
        (
            "number for a string",
            r#"{"first_name": 5, "last_name": "B"}"#.into(),
            422,
            Some("first_name"),
        ),
        (
            "unknown field",
            r#"{"first_name": "A", "last_name": "B", "favourite_colour": "red"}"#.into(),
            422,
            Some("favourite_colour"),
        ),
        (
            "unknown nested field",
            r#"{"first_name": "A", "last_name": "B", "address": {"planet": "Mars"}}"#.into(),
            422,
            Some("address.planet"),
        ),
        (
            "string for an object",
            r#"{"first_name": "A", "last_name": "B", "address": "1 Main St"}"#.into(),
            422,
            Some("address"),
        ),
        (
            "string for a bool",
            r#"{"first_name": "A", "last_name": "B", "marketing_consent": "yes"}"#.into(),
            422,
            Some("marketing_consent"),
        ),
        (
            "duplicate key",
            r#"{"first_name": "A", "first_name": "B", "last_name": "C"}"#.into(),
            422,
            Some("first_name"),
        ),
        (
            "missing first name",
            r#"{"last_name": "B"}"#.into(),
            422,
            Some("first_name"),
        ),
        (
            "blank first name",
            r#"{"first_name": "   ", "last_name": "B"}"#.into(),
            422,
            Some("first_name"),
        ),
        (
            "null last name",
            r#"{"first_name": "A", "last_name": null}"#.into(),
            422,
            Some("last_name"),
        ),
        (
            "too long name",
            format!(r#"{{"first_name": "{long}", "last_name": "B"}}"#),
            422,
            Some("first_name"),
        ),
        (
            "bad email",
            r#"{"first_name": "A", "last_name": "B", "email": "not-an-email"}"#.into(),
            422,
            Some("email"),
        ),
        (
            "taken email",
            r#"{"first_name": "A", "last_name": "B", "email": "ANN@example.com"}"#.into(),
            409,
            Some("email"),
        ),
        (
            "bad phone",
            r#"{"first_name": "A", "last_name": "B", "phone": "12"}"#.into(),
            422,
            Some("phone"),
        ),
        (
            "letters for a phone",
            r#"{"first_name": "A", "last_name": "B", "phone": "call me maybe"}"#.into(),
            422,
            Some("phone"),
        ),
        (
            "impossible date",
            r#"{"first_name": "A", "last_name": "B", "date_of_birth": "1990-13-45"}"#.into(),
            422,
            Some("date_of_birth"),
        ),
        (
            "future birth date",
            r#"{"first_name": "A", "last_name": "B", "date_of_birth": "2999-01-01"}"#.into(),
            422,
            Some("date_of_birth"),
        ),
        (
            "US date format",
            r#"{"first_name": "A", "last_name": "B", "date_of_birth": "05/17/1990"}"#.into(),
            422,
            Some("date_of_birth"),
        ),
        (
            "control character",
            r#"{"first_name": "A\u0000", "last_name": "B"}"#.into(),
            422,
            Some("first_name"),
        ),
        (
            "country name",
            r#"{"first_name": "A", "last_name": "B", "address": {"country": "Germany"}}"#.into(),
            422,
            Some("address.country"),
        ),
        (
            "bad expiry",
            r#"{"first_name": "A", "last_name": "B", "medical": {"expiry": "tomorrow"}}"#.into(),
            422,
            Some("medical.expiry"),
        ),
        (
            "number too large",
            r#"{"first_name": "A", "last_name": "B", "marketing_consent": 1e999}"#.into(),
            400,
            None,
        ),
        ("deeply nested", deep, 422, Some("notes")),
    ];
    for (what, body, status, field) in cases {
        let r = send_raw(
            &app,
            &t,
            reqwest::Method::POST,
            "/api/v1/customers",
            Some("application/json"),
            body.into_bytes(),
        )
        .await;
        let got = r.status().as_u16();
        if got != status {
            panic!(
                "{what}: expected {status}, got {got}: {}",
                r.text().await.unwrap_or_default()
            );
        }
        assert_problem(r, status, field).await;
    }

    // Bodies that are not JSON at all, or too large.
    let r = send_raw(
        &app,
        &t,
        reqwest::Method::POST,
        "/api/v1/customers",
        Some("application/json"),
        vec![0xff, 0xfe, b'{'],
    )
    .await;
    assert!(r.status().is_client_error());
    let r = send_raw(
        &app,
        &t,
        reqwest::Method::POST,
        "/api/v1/customers",
        Some("text/plain"),
        br#"{"first_name":"A","last_name":"B"}"#.to_vec(),
    )
    .await;
    assert_problem(r, 415, None).await;
    let r = send_raw(
        &app,
        &t,
        reqwest::Method::POST,
        "/api/v1/customers",
        None,
        br#"{"first_name":"A","last_name":"B"}"#.to_vec(),
    )
    .await;
    assert_problem(r, 415, None).await;
    let huge = format!(
        r#"{{"first_name": "A", "last_name": "B", "notes": "{}"}}"#,
        "n".repeat(200_000)
    );
    let r = send_raw(
        &app,
        &t,
        reqwest::Method::POST,
        "/api/v1/customers",
        Some("application/json"),
        huge.into_bytes(),
    )
    .await;
    assert_problem(r, 413, None).await;

    // Bad patches leave the customer exactly as it was.
    let path = format!("/api/v1/customers/{id}");
    for (body, status, field) in [
        (json!({"first_name": null}), 422, Some("first_name")),
        (
            json!({"first_name": "Anne", "email": "broken"}),
            422,
            Some("email"),
        ),
        (json!({"phone": 12345}), 422, Some("phone")),
        (json!({"id": "x"}), 422, Some("id")),
        (json!({"code": "CUST-99999"}), 422, Some("code")),
        (json!({"active": false}), 422, Some("active")),
    ] {
        assert_problem(app.patch(&t, &path, &body).await, status, field).await;
    }
    assert_problem(
        app.patch(&t, "/api/v1/customers/CUST-99999", &json!({"notes": "x"}))
            .await,
        404,
        None,
    )
    .await;

    assert_eq!(
        snapshot(&app, &t, &id).await,
        before,
        "a bad request changed something"
    );
}

#[tokio::test]
async fn bad_list_parameters_are_422_naming_the_parameter() {
    let app = spawn_app().await;
    let t = app.login("cashier").await;
    let long_q = "q".repeat(101);
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("limit=-1", "limit"),
        ("cursor=garbage", "cursor"),
        ("cursor=MTpub3RhbnVtYmVyOng", "cursor"),
        ("active=maybe", "active"),
        ("origin_store=not%20a%20store", "origin_store"),
        ("colour=red", "colour"),
        (&format!("q={long_q}"), "q"),
        ("sort=age", "sort"),
        ("sort=spent&q=ann", "sort"),
        // A spend-order cursor whose key is not a number (base64 of "s:1:x").
        ("sort=spent&cursor=czoxOng", "cursor"),
        // A code-order cursor sent with another order.
        ("sort=newest&cursor=YzoxOkNVU1QtMDAwMDE", "cursor"),
    ] {
        let r = app.get(&t, &format!("/api/v1/customers?{query}")).await;
        assert_problem(r, 422, Some(field)).await;
    }
    // Odd but harmless queries are fine.
    for q in [
        "%25",
        "_",
        "%22",
        "'",
        "\\",
        "%F0%9F%98%80",
        "a%00b",
        "*",
        "(",
        "\"\"\"",
        "NEAR",
        "AND",
        "OR%20OR",
    ] {
        let r = app.get(&t, &format!("/api/v1/customers?q={q}")).await;
        assert_eq!(r.status(), 200, "q={q}");
    }
}

#[tokio::test]
async fn unknown_routes_methods_and_customers_are_problems() {
    let app = spawn_app().await;
    let t = app.login("admin").await;
    assert_problem(app.get(&t, "/api/v1/nothing-here").await, 404, None).await;
    assert_problem(app.get(&t, "/api/v1/customers/CUST-00042").await, 404, None).await;
    assert_problem(
        app.get(&t, "/api/v1/customers/01890a5d-ac96-774b-bcce-b302099a8057")
            .await,
        404,
        None,
    )
    .await;
    assert_problem(app.get(&t, "/api/v1/customers/%00").await, 404, None).await;
    assert_problem(app.get(&t, "/api/v1/customers/x/audit").await, 404, None).await;
    assert_problem(
        app.post(&t, "/api/v1/customers/x/deactivate", &json!({}))
            .await,
        404,
        None,
    )
    .await;
    let r = app
        .client
        .delete(app.url("/api/v1/customers/x"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_problem(r, 405, None).await;
    // Login with bad bodies.
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, None).await;
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "admin"}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 422, Some("password")).await;
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "a".repeat(10_000), "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, None).await;
    // A header that is not even ASCII.
    let r = app
        .client
        .get(app.url("/api/v1/customers"))
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, None).await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Arbitrary bodies, built from JSON-ish fragments, never get a 5xx.
    #[test]
    fn arbitrary_bodies_never_cause_a_server_error(parts in proptest::collection::vec(prop_oneof![
        Just("{".to_owned()), Just("}".to_owned()), Just("\"first_name\"".to_owned()), Just("\"last_name\"".to_owned()),
        Just(":".to_owned()), Just(",".to_owned()), Just("null".to_owned()), Just("[".to_owned()), Just("]".to_owned()),
        Just("\"address\"".to_owned()), Just("\"phone\"".to_owned()), Just("\"email\"".to_owned()), Just("1e5".to_owned()),
        "\\PC{0,12}".prop_map(|s| format!("{s:?}")),
    ], 0..24)) {
        let body = parts.concat();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let app = shared_app().await;
            let t = app.login("admin").await;
            for path in ["/api/v1/customers", "/api/v1/auth/login", "/api/v1/users"] {
                let r = send_raw(&app, &t, reqwest::Method::POST, path, Some("application/json"), body.clone().into_bytes()).await;
                prop_assert!(r.status().as_u16() < 500, "{} on {path} for {body:?}", r.status());
            }
            let r = send_raw(&app, &t, reqwest::Method::PATCH, "/api/v1/customers/CUST-00001", Some("application/json"), body.clone().into_bytes()).await;
            prop_assert!(r.status().as_u16() < 500);
            Ok(())
        })?;
    }
}

/// Each proptest case has its own runtime, so each starts its own server.
async fn shared_app() -> TestApp {
    let app = spawn_app().await;
    let t = app.login("admin").await;
    app.create(&t, json!({"first_name": "Ann", "last_name": "Lee"}))
        .await;
    app
}

/// Permission comes before the body: a cashier's malformed body to a
/// manager's endpoint is refused as forbidden, not read.
#[tokio::test]
async fn permission_is_checked_before_the_body_is_read() {
    let app = spawn_app().await;
    let t = app.login("cashier").await;
    for (method, path) in [
        ("PATCH", "/api/v1/loyalty/settings"),
        ("POST", "/api/v1/groups"),
        ("POST", "/api/v1/users"),
        ("POST", "/api/v1/stores"),
        ("PATCH", "/api/v1/settings"),
        ("POST", "/api/v1/customer-types"),
    ] {
        let r = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&t)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_problem(r, 403, None).await;
    }
}

/// A path that does not decode (invalid UTF-8) is a problem+json 400 too.
#[tokio::test]
async fn an_undecodable_path_is_a_problem() {
    let app = spawn_app().await;
    let t = app.login("admin").await;
    let r = app.get(&t, "/api/v1/customers/%FF%FE").await;
    assert_problem(r, 400, None).await;
    let r = app.get(&t, "/api/v1/orders/%C3%28").await;
    assert_problem(r, 400, None).await;
}
