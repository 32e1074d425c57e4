//! Groups, loyalty and checkout over real HTTP on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestApp, assert_problem, spawn_app, spawn_app_with};
use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn put(app: &TestApp, token: &str, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .put(app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn ok_json(r: reqwest::Response, status: u16) -> Value {
    let got = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

/// A rule over the complexity budget is refused like a syntax error; one
/// whose evaluation outlasts the preview's deadline is a 503, not a 500.
#[tokio::test]
async fn rule_budget_and_preview_deadline_over_http() {
    let app = spawn_app_with(|s| {
        s.set_rule_deadlines(patron_sqlite::RuleDeadlines {
            preview: std::time::Duration::ZERO,
            ..Default::default()
        })
    })
    .await;
    let admin = app.login("admin").await;

    // The testers' rule: nearly 4,000 characters of alternatives.
    let long = vec![r#"type = "x""#; 284].join(" or ");
    for (path, body) in [
        ("/api/v1/groups/rule-preview", json!({"rule": long})),
        (
            "/api/v1/groups",
            json!({"name": "Long", "kind": "auto", "rule": long}),
        ),
    ] {
        let p = assert_problem(app.post(&admin, path, &body).await, 422, Some("rule")).await;
        assert_eq!(p["type"], "/problems/rule-syntax");
        assert_eq!(p["position"], 100 * r#"type = "x" or "#.len());
        assert!(
            p["detail"]
                .as_str()
                .is_some_and(|d| d.contains("at most 100 conditions")),
            "{p}"
        );
    }

    // Enough customers that the scan outlasts a zero deadline at once.
    let ctx = patron_domain::customer::ParseContext {
        region: patron_domain::PhoneRegion::default(),
        today: time::OffsetDateTime::now_utc().date(),
    };
    let rows: Vec<_> = (0..300u64)
        .map(|i| {
            let fields = vec![
                (patron_domain::customer::Field::FirstName, format!("P{i}")),
                (patron_domain::customer::Field::LastName, "Test".to_owned()),
            ];
            Ok(patron_storage::ImportRow {
                line: i + 1,
                opening: Default::default(),
                groups: Vec::new(),
                source_key: None,
                customer: patron_storage::NewCustomer {
                    data: patron_domain::CustomerDraft::parse(fields, &ctx).unwrap(),
                    origin_store: None,
                },
            })
        })
        .collect();
    app.storage
        .import_customers(
            &patron_storage::Actor::new("test"),
            Box::new(rows.into_iter()),
            patron_storage::ImportOptions::default(),
        )
        .await
        .unwrap();
    let r = app
        .post(
            &admin,
            "/api/v1/groups/rule-preview",
            &json!({"rule": "visits >= 0"}),
        )
        .await;
    let p = assert_problem(r, 503, None).await;
    assert_eq!(p["type"], "/problems/timed-out");
    assert_eq!(
        p["detail"],
        "previewing the rule took longer than 0 ms; try a simpler rule, or again later"
    );
}

#[tokio::test]
async fn groups_rules_and_membership_over_http() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let cashier = app.login("cashier").await;
    let denver = app
        .create(
            &admin,
            json!({"first_name": "Dee", "last_name": "Ng", "address": {"city": "Denver"}}),
        )
        .await;
    let other = app
        .create(&admin, json!({"first_name": "Oz", "last_name": "Oh"}))
        .await;

    // A bad rule: 422 with where and what was expected.
    let r = app
        .post(
            &admin,
            "/api/v1/groups/rule-preview",
            &json!({"rule": "city = \"denver\" and age >="}),
        )
        .await;
    let p = assert_problem(r, 422, Some("rule")).await;
    assert_eq!(p["position"], 26);
    assert_eq!(p["found"], "end of input");
    assert!(p["expected"].as_array().is_some_and(|e| !e.is_empty()));
    let r = app
        .post(
            &admin,
            "/api/v1/groups/rule-preview",
            &json!({"rule": "city = \"denver\""}),
        )
        .await;
    let preview = ok_json(r, 200).await;
    assert_eq!(preview["count"], 1);
    assert_eq!(preview["sample"][0]["id"], denver["id"]);

    // Cashiers may not manage groups.
    let body = json!({"name": "Denver", "kind": "auto", "rule": "city = \"denver\"", "program": {"kind": "discount", "percent": 5}});
    assert_problem(app.post(&cashier, "/api/v1/groups", &body).await, 403, None).await;
    let g = ok_json(app.post(&admin, "/api/v1/groups", &body).await, 201).await;
    assert_eq!(g["members"], 1);
    assert_eq!(g["program"]["percent"], "5");
    let bad = json!({"name": "Broken", "kind": "auto", "rule": "agee > 3"});
    let p = assert_problem(
        app.post(&admin, "/api/v1/groups", &bad).await,
        422,
        Some("rule"),
    )
    .await;
    assert_eq!(p["position"], 0);
    assert_problem(
        app.post(&admin, "/api/v1/groups", &body).await,
        409,
        Some("name"),
    )
    .await;

    // Manual groups, filled in bulk.
    let vip = ok_json(
        app.post(&admin, "/api/v1/groups", &json!({"name": "VIP"}))
            .await,
        201,
    )
    .await;
    let staff = ok_json(
        app.post(
            &admin,
            "/api/v1/groups",
            &json!({"name": "Staff", "kind": "manual"}),
        )
        .await,
        201,
    )
    .await;
    let ids = json!([denver["id"], other["code"]]);
    let r = app
        .post(
            &admin,
            "/api/v1/groups/members",
            &json!({"customers": ids, "all_manual": true}),
        )
        .await;
    let changed = ok_json(r, 200).await;
    assert_eq!(changed["groups"].as_array().unwrap().len(), 2);
    let path = format!("/api/v1/groups/{}/members", staff["id"].as_str().unwrap());
    let r = app
        .post(
            &admin,
            &path,
            &json!({"customers": [other["id"]], "action": "remove"}),
        )
        .await;
    ok_json(r, 200).await;
    let members = ok_json(app.get(&admin, &format!("{path}?limit=1")).await, 200).await;
    assert_eq!(members["items"].as_array().unwrap().len(), 1);
    assert!(members["next_cursor"].is_null());
    let page = ok_json(
        app.get(
            &admin,
            &format!(
                "/api/v1/groups/{}/members?limit=1",
                vip["id"].as_str().unwrap()
            ),
        )
        .await,
        200,
    )
    .await;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let page2 = ok_json(
        app.get(
            &admin,
            &format!(
                "/api/v1/groups/{}/members?limit=1&cursor={cursor}",
                vip["id"].as_str().unwrap()
            ),
        )
        .await,
        200,
    )
    .await;
    assert_ne!(page["items"][0]["id"], page2["items"][0]["id"]);
    // The customer list takes a group filter that combines with search and
    // the other filters (Staff holds Dee only; VIP both).
    let staff_id = staff["id"].as_str().unwrap();
    let vip_id = vip["id"].as_str().unwrap();
    let names = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["last_name"].as_str().unwrap().to_owned())
            .collect()
    };
    for (query, want) in [
        (format!("group={vip_id}"), vec!["Ng", "Oh"]),
        (format!("group={vip_id}&q=oh"), vec!["Oh"]),
        (format!("group={staff_id}&q=oh"), vec![]),
        (format!("group={staff_id}&q=dee"), vec!["Ng"]),
    ] {
        let page = ok_json(
            app.get(&admin, &format!("/api/v1/customers?{query}")).await,
            200,
        )
        .await;
        assert_eq!(names(page), want, "{query}");
    }
    assert_problem(
        app.get(&admin, "/api/v1/customers?group=not-an-id").await,
        422,
        Some("group"),
    )
    .await;
    assert_problem(
        app.get(
            &admin,
            &format!("/api/v1/customers?group={}", uuid::Uuid::nil()),
        )
        .await,
        422,
        Some("group"),
    )
    .await;
    // The same filters export as CSV (customers.export), every page of them.
    let r = app
        .get(&admin, &format!("/api/v1/exports/customers?group={vip_id}"))
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"customers-")
    );
    let text = r.text().await.unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(&rows.headers().unwrap()[0], "code");
    let exported: Vec<String> = rows.records().map(|r| r.unwrap()[3].to_owned()).collect();
    assert_eq!(exported, vec!["Ng", "Oh"]);
    // Who exported which list is in the security log.
    let log: Value = app
        .get(&admin, "/api/v1/reports/security?kind=customers-exported")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(log["items"][0]["username"], "admin", "{log}");
    assert!(
        log["items"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("group=")
    );
    assert_problem(
        app.get(&cashier, "/api/v1/exports/customers").await,
        403,
        None,
    )
    .await;
    assert_problem(
        app.get(&admin, "/api/v1/exports/customers?limit=5").await,
        422,
        Some("limit"),
    )
    .await;
    // An auto group is not filled by hand.
    let r = app
        .post(
            &admin,
            "/api/v1/groups/members",
            &json!({"customers": ids, "groups": [g["id"]]}),
        )
        .await;
    assert_problem(r, 422, Some("groups[0]")).await;

    // Listing: counts, filter, sort.
    let list = ok_json(
        app.get(&cashier, "/api/v1/groups?kind=manual&sort=-members")
            .await,
        200,
    )
    .await;
    let names: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_owned(),
                g["members"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, vec![("VIP".to_owned(), 2), ("Staff".to_owned(), 1)]);
    let all = ok_json(app.get(&cashier, "/api/v1/groups").await, 200).await;
    let names: Vec<_> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        vec![
            "Common",
            "Denver",
            "Medical",
            "Recreational",
            "Staff",
            "VIP"
        ]
    );
    assert_problem(
        app.get(&admin, "/api/v1/groups?sort=size").await,
        422,
        Some("sort"),
    )
    .await;
}

async fn order(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.post(token, "/api/v1/orders", body).await
}

#[tokio::test]
async fn checkout_quote_commit_retry_and_return_over_http() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let manager = app.login("manager").await;
    let cashier = app.login("cashier").await;
    let c = app
        .create(
            &admin,
            json!({"first_name": "Paula", "last_name": "Points"}),
        )
        .await;
    let cid = c["id"].as_str().unwrap();
    ok_json(
        app.post(
            &admin,
            "/api/v1/groups",
            &json!({"name": "Points", "kind": "auto", "rule": "visits >= 0",
            "program": {"kind": "points", "percent": 2.5, "max_redeem_percent": 30}}),
        )
        .await,
        201,
    )
    .await;
    // Only loyalty.manage may top up.
    let topup = json!({"account": "credit", "kind": "top-up", "amount": 2000, "reason": "gift card", "idempotency_key": "gc-1"});
    assert_problem(
        app.post(&cashier, &format!("/api/v1/customers/{cid}/ledger"), &topup)
            .await,
        403,
        None,
    )
    .await;
    ok_json(
        app.post(&manager, &format!("/api/v1/customers/{cid}/ledger"), &topup)
            .await,
        201,
    )
    .await;
    ok_json(
        app.post(&manager, &format!("/api/v1/customers/{cid}/ledger"), &topup)
            .await,
        201,
    )
    .await;

    let cart = json!({"customer": c["code"], "lines": [
        {"sku": "TEA-1", "name": "Green tea", "category": "tea", "quantity": 2, "unit_price": 1250},
        {"sku": "CUP-1", "name": "Cup", "quantity": 1, "unit_price": 799}
    ], "redeem_credit": 500});
    let q = ok_json(
        app.post(&cashier, "/api/v1/checkout/quote", &cart).await,
        200,
    )
    .await;
    assert_eq!(q["subtotal"], 3299);
    assert_eq!(q["max_credit_redeemable"], 2000);
    assert_eq!(q["amount_due"], 2799);
    assert_eq!(q["earn"], 82); // 2.5 % of 32.99 = 0.82475 → 0.82
    assert_eq!(q["balances"]["credit"]["balance"], 2000);
    assert_eq!(q["can_commit"], true);

    let mut body = cart.clone();
    body["id"] = json!("reg1-000001");
    let first = ok_json(order(&app, &cashier, &body).await, 201).await;
    assert_eq!(first["earned"], 82);
    let again = ok_json(order(&app, &cashier, &body).await, 200).await;
    assert_eq!(again, first);
    body["redeem_credit"] = json!(0);
    assert_problem(order(&app, &cashier, &body).await, 409, Some("id")).await;
    let ledger = ok_json(
        app.get(&cashier, &format!("/api/v1/customers/{cid}/ledger"))
            .await,
        200,
    )
    .await;
    let items = ledger["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "top-up, redeem, earn: {ledger}");
    let credit: i64 = items
        .iter()
        .filter(|e| e["account"] == "credit")
        .map(|e| e["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(
        ledger["balances"]["credit"]["balance"].as_i64(),
        Some(credit)
    );
    assert_eq!(credit, 1500);
    assert_eq!(ledger["balances"]["points"]["locked"], 82);

    // Returns need orders.refund.
    let ret = json!({"id": "ret-1", "lines": [{"line": 0, "quantity": 1}]});
    assert_problem(
        app.post(&cashier, "/api/v1/orders/reg1-000001/returns", &ret)
            .await,
        403,
        None,
    )
    .await;
    let r = ok_json(
        app.post(&manager, "/api/v1/orders/reg1-000001/returns", &ret)
            .await,
        201,
    )
    .await;
    assert_eq!(r["net"], 1250);
    assert_eq!(r["credit_refund"], 189); // 5.00 × 12.50 / 32.99, rounded down
    assert_eq!(r["earned_reversal"], 31);
    let over = json!({"id": "ret-2", "lines": [{"line": 0, "quantity": 2}]});
    assert_problem(
        app.post(&manager, "/api/v1/orders/reg1-000001/returns", &over)
            .await,
        422,
        Some("lines[0].quantity"),
    )
    .await;
    assert_problem(
        app.post(&manager, "/api/v1/orders/nope/returns", &over)
            .await,
        404,
        None,
    )
    .await;

    let act = ok_json(
        app.get(&cashier, &format!("/api/v1/customers/{cid}/activity"))
            .await,
        200,
    )
    .await;
    assert_eq!(act["visits"], 1);
    assert_eq!(act["total_spent"], 3299 - 1250);
    assert_eq!(act["orders"][0]["lines"][0]["returned"], "1");
    assert_eq!(act["returns"][0]["id"], "ret-1");
    assert_eq!(act["top_products"][0]["sku"], "TEA-1");
    let groups: Vec<_> = act["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(groups.contains(&"Common") && groups.contains(&"Points"));
}

#[tokio::test]
async fn bad_loyalty_input_is_4xx_naming_the_field_and_writes_nothing() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let c = app
        .create(&admin, json!({"first_name": "Bea", "last_name": "Bad"}))
        .await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let ledger = format!("/api/v1/customers/{cid}/ledger");
    let line = json!({"sku": "A", "name": "A", "quantity": 1, "unit_price": 100});
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("/api/v1/groups", json!({"name": ""}), 422, "name"),
        (
            "/api/v1/groups",
            json!({"name": "X", "colour": "red"}),
            422,
            "colour",
        ),
        (
            "/api/v1/groups",
            json!({"name": "X", "program": {"kind": "points", "percent": 101}}),
            422,
            "program.percent",
        ),
        (
            "/api/v1/groups",
            json!({"name": "X", "program": {"kind": "discount", "percent": 2.555}}),
            422,
            "program.percent",
        ),
        (
            "/api/v1/groups",
            json!({"name": "X", "program": {"kind": "gift"}}),
            422,
            "program.kind",
        ),
        (
            "/api/v1/groups",
            json!({"name": "X", "spend_limit": {"amount": -1, "period": "day"}}),
            422,
            "spend_limit.amount",
        ),
        (
            "/api/v1/groups",
            json!({"name": "X", "spend_limit": {"amount": 1, "period": "fortnight"}}),
            422,
            "spend_limit.period",
        ),
        (
            "/api/v1/groups",
            json!({"name": "X", "kind": "auto"}),
            422,
            "rule",
        ),
        (
            "/api/v1/groups",
            json!({"name": "X", "rule": "age > 3"}),
            422,
            "rule",
        ),
        (
            "/api/v1/groups",
            json!({"name": "X", "limit_profile": "nope"}),
            422,
            "limit_profile",
        ),
        (
            "/api/v1/groups",
            json!({"name": "X", "limit_profile": "00000000-0000-0000-0000-00000000abcd"}),
            422,
            "limit_profile",
        ),
        (
            "/api/v1/groups",
            json!({"name": "X", "min_age": "21"}),
            422,
            "min_age",
        ),
        (
            "/api/v1/groups/members",
            json!({"customers": [], "all_manual": true}),
            422,
            "customers",
        ),
        (
            "/api/v1/groups/members",
            json!({"customers": [cid]}),
            422,
            "groups",
        ),
        (
            "/api/v1/groups/members",
            json!({"customers": [cid], "groups": ["x"]}),
            422,
            "groups[0]",
        ),
        (
            "/api/v1/groups/members",
            json!({"customers": [cid], "all_manual": true, "action": "toggle"}),
            422,
            "action",
        ),
        (
            "/api/v1/groups/rule-preview",
            json!({"rule": 5}),
            422,
            "rule",
        ),
        (
            "/api/v1/groups/rule-preview",
            json!({"rule": "((((("}),
            422,
            "rule",
        ),
        (
            "/api/v1/customer-types",
            json!({"name": "T", "discount_percent": 5, "discount_amount": 5}),
            422,
            "discount_amount",
        ),
        (
            "/api/v1/customer-types",
            json!({"name": "T", "discount_amount": -5}),
            422,
            "discount_amount",
        ),
        (
            "/api/v1/limit-profiles",
            json!({"name": "L", "limits": [{"name": "d", "period": "day", "enforcement": "maybe", "allowances": []}]}),
            422,
            "limits[0].enforcement",
        ),
        (
            "/api/v1/limit-profiles",
            json!({"name": "L", "limits": [{"name": "d", "period": "day", "enforcement": "hard", "allowances": [{"category": "f", "unit": "g", "max_quantity": 0}]}]}),
            422,
            "limits[0].allowances[0].max_quantity",
        ),
        (
            &ledger,
            json!({"account": "points", "kind": "adjust", "amount": -1, "reason": "x"}),
            422,
            "amount",
        ),
        (
            &ledger,
            json!({"account": "gold", "kind": "adjust", "amount": 1, "reason": "x"}),
            422,
            "account",
        ),
        (
            &ledger,
            json!({"account": "points", "kind": "top-up", "amount": 1, "reason": "x"}),
            422,
            "account",
        ),
        (
            &ledger,
            json!({"account": "points", "kind": "earn", "amount": 1, "reason": "x"}),
            422,
            "kind",
        ),
        (
            &ledger,
            json!({"account": "points", "kind": "adjust", "amount": 1, "reason": " "}),
            422,
            "reason",
        ),
        (
            &ledger,
            json!({"account": "points", "kind": "adjust", "amount": 1.5, "reason": "x"}),
            422,
            "amount",
        ),
        (
            "/api/v1/checkout/quote",
            json!({"customer": cid, "lines": []}),
            422,
            "lines",
        ),
        (
            "/api/v1/checkout/quote",
            json!({"customer": "CUST-99999", "lines": [line]}),
            422,
            "customer",
        ),
        (
            "/api/v1/checkout/quote",
            json!({"customer": cid, "lines": [{"sku": "A", "name": "A", "quantity": -1, "unit_price": 100}]}),
            422,
            "lines[0].quantity",
        ),
        (
            "/api/v1/checkout/quote",
            json!({"customer": cid, "lines": [{"sku": "A", "name": "A", "quantity": 0.0001, "unit_price": 100}]}),
            422,
            "lines[0].quantity",
        ),
        (
            "/api/v1/checkout/quote",
            json!({"customer": cid, "lines": [{"sku": "A", "name": "A", "quantity": 1, "unit_price": -100}]}),
            422,
            "lines[0].unit_price",
        ),
        (
            "/api/v1/checkout/quote",
            json!({"customer": cid, "lines": [{"sku": "", "name": "A", "quantity": 1, "unit_price": 1}]}),
            422,
            "lines[0].sku",
        ),
        (
            "/api/v1/checkout/quote",
            json!({"customer": cid, "lines": [line], "redeem_points": -5}),
            422,
            "redeem_points",
        ),
        (
            "/api/v1/orders",
            json!({"customer": cid, "lines": [line]}),
            422,
            "id",
        ),
        (
            "/api/v1/orders",
            json!({"id": "", "customer": cid, "lines": [line]}),
            422,
            "id",
        ),
        (
            "/api/v1/orders",
            json!({"id": "o1", "customer": cid, "lines": [line], "redeem_points": 1}),
            422,
            "redeem_points",
        ),
        (
            "/api/v1/orders",
            json!({"id": "o1", "customer": cid, "lines": [line], "redeem_credit": 1}),
            422,
            "redeem_credit",
        ),
        (
            "/api/v1/orders",
            json!({"id": "o1", "customer": cid, "lines": [line], "tip": 1}),
            422,
            "tip",
        ),
        (
            "/api/v1/orders/o1/returns",
            json!({"id": "r1", "lines": [{"line": 0, "quantity": 1}]}),
            404,
            "",
        ),
    ];
    for (path, body, status, field) in &cases {
        let r = app.post(&admin, path, body).await;
        let field = (!field.is_empty()).then_some(*field);
        let p = assert_problem(r, *status, field).await;
        assert!(p["type"].is_string(), "{path} {body}: {p}");
    }
    let r = app
        .client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{\"id\": ")
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, None).await;
    let r = put(
        &app,
        &admin,
        "/api/v1/customers/CUST-99999/type",
        &json!({"type_id": null}),
    )
    .await;
    assert_problem(r, 404, None).await;
    let r = put(
        &app,
        &admin,
        &format!("/api/v1/customers/{cid}/type"),
        &json!({"type_id": "00000000-0000-0000-0000-00000000abcd"}),
    )
    .await;
    assert_problem(r, 422, Some("type_id")).await;
    let r = app
        .client
        .patch(app.url("/api/v1/loyalty/settings"))
        .bearer_auth(&admin)
        .json(&json!({"max_redeem_percent": 120}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 422, Some("max_redeem_percent")).await;
    let r = app.client.patch(app.url("/api/v1/loyalty/settings")).bearer_auth(&admin).json(&json!({"transitions": [{"threshold": 100, "group_id": "00000000-0000-0000-0000-000000000001"}]})).send().await.unwrap();
    assert_problem(r, 422, Some("transitions[0].group_id")).await;
    // Nothing was written by any of it.
    let groups = ok_json(app.get(&admin, "/api/v1/groups").await, 200).await;
    assert_eq!(groups["items"].as_array().unwrap().len(), 3);
    let l = ok_json(app.get(&admin, &ledger).await, 200).await;
    assert!(l["items"].as_array().unwrap().is_empty());
    assert!(app.get(&admin, "/api/v1/orders/o1").await.status() == StatusCode::NOT_FOUND);
    let types = ok_json(app.get(&admin, "/api/v1/customer-types").await, 200).await;
    assert!(types["items"].as_array().unwrap().is_empty());
}

#[derive(Debug, Clone)]
enum Op {
    TopUp(i64),
    Adjust(i64),
    Order {
        price: i64,
        qty: i64,
        points: i64,
        credit: i64,
    },
    Return {
        line_qty: i64,
    },
    RetryLastOrder,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1i64..5_000).prop_map(Op::TopUp),
        (-3_000i64..3_000).prop_map(Op::Adjust),
        (1i64..20_000, 1i64..4, 0i64..3_000, 0i64..3_000).prop_map(
            |(price, qty, points, credit)| Op::Order {
                price,
                qty,
                points,
                credit
            }
        ),
        (1i64..4).prop_map(|line_qty| Op::Return { line_qty }),
        Just(Op::RetryLastOrder),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Whatever a client does, through the API only: every balance equals the
    /// sum of its ledger, never goes below zero, a retried commit changes
    /// nothing, and no request gets a 5xx.
    #[test]
    fn balances_always_equal_their_ledger(ops in proptest::collection::vec(op(), 1..14)) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let app = spawn_app().await;
            let t = app.login("admin").await;
            let c = app.create(&t, json!({"first_name": "Prop", "last_name": "Test"})).await;
            let cid = c["id"].as_str().unwrap().to_owned();
            app.post(&t, "/api/v1/groups", &json!({"name": "P", "kind": "auto", "rule": "visits >= 0",
                "program": {"kind": "points", "percent": 10, "max_redeem_percent": 100}})).await;
            app.client.patch(app.url("/api/v1/loyalty/settings")).bearer_auth(&t)
                .json(&json!({"return_window_days": 0, "max_redeem_percent": 100})).send().await.unwrap();
            let mut last_order: Option<Value> = None;
            let mut n = 0;
            for op in ops {
                n += 1;
                let r = match &op {
                    Op::TopUp(a) => app.post(&t, &format!("/api/v1/customers/{cid}/ledger"),
                        &json!({"account": "credit", "kind": "top-up", "amount": a, "reason": "p"})).await,
                    Op::Adjust(a) => app.post(&t, &format!("/api/v1/customers/{cid}/ledger"),
                        &json!({"account": "points", "kind": "adjust", "amount": a, "reason": "p"})).await,
                    Op::Order { price, qty, points, credit } => {
                        let body = json!({"id": format!("o{n}"), "customer": cid, "lines": [{"sku": "S", "name": "S", "quantity": qty, "unit_price": price}],
                            "redeem_points": points, "redeem_credit": credit});
                        let r = app.post(&t, "/api/v1/orders", &body).await;
                        if r.status() == StatusCode::CREATED {
                            last_order = Some(body);
                        }
                        r
                    }
                    Op::Return { line_qty } => {
                        let Some(o) = &last_order else { continue };
                        app.post(&t, &format!("/api/v1/orders/{}/returns", o["id"].as_str().unwrap()),
                            &json!({"id": format!("r{n}"), "lines": [{"line": 0, "quantity": line_qty}]})).await
                    }
                    Op::RetryLastOrder => {
                        let Some(o) = &last_order else { continue };
                        let before: Value = app.get(&t, &format!("/api/v1/customers/{cid}/ledger")).await.json().await.unwrap();
                        let r = app.post(&t, "/api/v1/orders", o).await;
                        prop_assert_eq!(r.status(), StatusCode::OK);
                        let after: Value = app.get(&t, &format!("/api/v1/customers/{cid}/ledger")).await.json().await.unwrap();
                        prop_assert_eq!(&before["items"], &after["items"]);
                        continue;
                    }
                };
                prop_assert!(r.status().as_u16() < 500, "{:?}: {}", op, r.status());
                let l: Value = app.get(&t, &format!("/api/v1/customers/{cid}/ledger")).await.json().await.unwrap();
                for account in ["points", "credit"] {
                    let sum: i64 = l["items"].as_array().unwrap().iter()
                        .filter(|e| e["account"] == account).map(|e| e["amount"].as_i64().unwrap()).sum();
                    prop_assert_eq!(l["balances"][account]["balance"].as_i64(), Some(sum), "{} after {:?}", account, op);
                    prop_assert!(sum >= 0, "{} went negative after {:?}: {}", account, op, l);
                }
            }
            Ok(())
        })?;
    }

    /// Rule text from anywhere never breaks the server.
    #[test]
    fn arbitrary_rules_are_answered_not_crashed(rule in "\\PC{0,40}") {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let app = spawn_app().await;
            let t = app.login("admin").await;
            let r = app.post(&t, "/api/v1/groups/rule-preview", &json!({"rule": rule})).await;
            prop_assert!(r.status() == StatusCode::OK || r.status() == StatusCode::UNPROCESSABLE_ENTITY, "{}", r.status());
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn customers_filter_by_type() {
    let app = spawn_app().await;
    let t = app.login("admin").await;
    let a = app
        .create(&t, json!({"first_name": "Val", "last_name": "Veteran"}))
        .await;
    app.create(&t, json!({"first_name": "Nat", "last_name": "Nobody"}))
        .await;
    let ty = ok_json(
        app.post(
            &t,
            "/api/v1/customer-types",
            &json!({"name": "Veteran", "discount_percent": 10}),
        )
        .await,
        201,
    )
    .await;
    let r = put(
        &app,
        &t,
        &format!("/api/v1/customers/{}/type", a["id"].as_str().unwrap()),
        &json!({"type_id": ty["id"]}),
    )
    .await;
    ok_json(r, 200).await;
    let v = ok_json(
        app.get(
            &t,
            &format!("/api/v1/customers?type={}", ty["id"].as_str().unwrap()),
        )
        .await,
        200,
    )
    .await;
    let names: Vec<_> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["last_name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, vec!["Veteran"]);
    assert_problem(
        app.get(&t, "/api/v1/customers?type=nope").await,
        422,
        Some("type"),
    )
    .await;
}

/// Every number a setting or program takes has a range: values that would
/// later overflow a date or a sum are refused when set, and checkout keeps
/// working.
#[tokio::test]
async fn settings_and_programs_beyond_their_ranges_are_refused() {
    let app = spawn_app().await;
    let t = app.login("admin").await;
    for (body, field) in [
        (
            json!({"points_lifetime_days": 3_000_000}),
            "points_lifetime_days",
        ),
        (json!({"points_lifetime_days": 0}), "points_lifetime_days"),
        (
            json!({"registration_bonus": 9_200_000_000_000_000_000i64}),
            "registration_bonus",
        ),
        (json!({"offline_redeem_cap": -1}), "offline_redeem_cap"),
        (
            json!({"store_topup_daily_cap": 10_000_000_001i64}),
            "store_topup_daily_cap",
        ),
        (
            json!({"transitions": [{"threshold": 9_000_000_000_000_000_000i64, "group_id": "0190f5d2-0000-7000-8000-000000000000"}]}),
            "transitions[0].threshold",
        ),
    ] {
        let r = app.patch(&t, "/api/v1/loyalty/settings", &body).await;
        assert_problem(r, 422, Some(field)).await;
    }
    let r = app
        .post(
            &t,
            "/api/v1/groups",
            &json!({"name": "Huge", "program": {"kind": "points", "percent": 2, "max_redeem_percent": 50,
                    "birthday_bonus": 9_200_000_000_000_000_000i64}}),
        )
        .await;
    assert_problem(r, 422, Some("program.birthday_bonus")).await;
    // The longest lifetime allowed still works for orders that earn points.
    let r = app
        .patch(
            &t,
            "/api/v1/loyalty/settings",
            &json!({"points_lifetime_days": 36_500, "registration_bonus": 10_000_000_000i64}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .post(
            &t,
            "/api/v1/groups",
            &json!({"name": "Everyone earns", "kind": "auto", "rule": "visits >= 0",
                    "program": {"kind": "points", "percent": 100, "max_redeem_percent": 100}}),
        )
        .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let c = app
        .create(&t, json!({"first_name": "Max", "last_name": "Range"}))
        .await;
    let r = order(
        &app,
        &t,
        &json!({"id": "range-1", "customer": c["id"], "lines": [{"sku": "A", "name": "A", "quantity": 1_000_000, "unit_price": 100_000_000}]}),
    )
    .await;
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
}

/// A purchase-limit profile is changed in place: name and limits; an unknown
/// id is a 404, a bad limit a 422 naming it, and a cashier may not.
#[tokio::test]
async fn limit_profiles_are_edited_in_place() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let cashier = app.login("cashier").await;
    let limit = |max: f64| {
        json!({"name": "Daily", "period": "day", "enforcement": "hard",
               "allowances": [{"category": "flower", "unit": "g", "max_quantity": max}]})
    };
    let p = ok_json(
        app.post(
            &admin,
            "/api/v1/limit-profiles",
            &json!({"name": "Adult use", "limits": [limit(28.0)]}),
        )
        .await,
        201,
    )
    .await;
    let id = p["id"].as_str().unwrap();
    let put = |token: &str, id: &str, body: Value| {
        let req = app
            .client
            .put(app.url(&format!("/api/v1/limit-profiles/{id}")))
            .bearer_auth(token)
            .json(&body);
        async move { req.send().await.unwrap() }
    };
    let changed = ok_json(
        put(
            &admin,
            id,
            json!({"name": "Adult use (2027)", "limits": [limit(14.5), {"name": "Weekly", "period": "week",
                   "enforcement": "warn", "allowances": [{"category": "edible", "unit": "mg", "max_quantity": 500}]}]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["id"], p["id"]);
    let list = ok_json(app.get(&admin, "/api/v1/limit-profiles").await, 200).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "Adult use (2027)");
    assert_eq!(items[0]["limits"].as_array().unwrap().len(), 2);
    assert_eq!(
        items[0]["limits"][0]["allowances"][0]["max_quantity"],
        "14.5"
    );
    assert_eq!(
        put(
            &admin,
            &uuid::Uuid::now_v7().to_string(),
            json!({"name": "X", "limits": []})
        )
        .await
        .status(),
        404
    );
    assert_problem(
        put(
            &admin,
            id,
            json!({"name": "Adult use", "limits": [limit(0.0)]}),
        )
        .await,
        422,
        Some("limits[0].allowances[0].max_quantity"),
    )
    .await;
    assert_problem(
        put(&cashier, id, json!({"name": "Z", "limits": []})).await,
        403,
        None,
    )
    .await;
}
