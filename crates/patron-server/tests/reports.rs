//! Reports over HTTP: sales per store and day (a store's sales counted at HQ
//! once they sync), loyalty movements and the outstanding liability, sign-ups,
//! group sizes and top customers, as JSON and CSV, with their bounds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::nodes::{eventually, spawn_store};
use common::{TestApp, assert_problem, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn report(app: &TestApp, t: &str, query: &str) -> Value {
    let r = app.get(t, &format!("/api/v1/reports/{query}")).await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The value of `key` in a report row.
fn cell<'a>(rep: &'a Value, row: &'a [Value], key: &str) -> &'a Value {
    let i = rep["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no column {key}"));
    &row[i]
}

fn rows(rep: &Value) -> Vec<Vec<Value>> {
    rep["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().clone())
        .collect()
}

async fn sell(app: &TestApp, t: &str, id: &str, code: &Value, price: i64, redeem: i64) {
    let r = app
        .post(
            t,
            "/api/v1/orders",
            &json!({"id": id, "customer": code, "redeem_credit": redeem,
                    "lines": [{"sku": "A", "name": "A", "quantity": 1, "unit_price": price}]}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_count_sales_loyalty_signups_groups_and_top_customers() {
    let hq = spawn_app().await;
    let s1 = spawn_store(&hq, "S01").await;
    let admin = hq.login("admin").await;
    let at_store = s1.app.login("admin").await;
    let ann = hq
        .create(&admin, json!({"first_name": "Ann", "last_name": "Able"}))
        .await;
    let bob = hq
        .create(&admin, json!({"first_name": "Bob", "last_name": "Baker"}))
        .await;
    let r = hq
        .post(
            &admin,
            "/api/v1/groups",
            &json!({"name": "Cash back", "kind": "auto", "rule": "visits >= 0",
                    "program": {"kind": "cashback", "percent": 10}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = hq
        .post(
            &admin,
            &format!("/api/v1/customers/{}/ledger", ann["id"].as_str().unwrap()),
            &json!({"account": "credit", "kind": "top-up", "amount": 5000, "reason": "gift card",
                    "idempotency_key": "gc-r1"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    sell(&hq, &admin, "hq-1", &ann["code"], 10_000, 1_000).await;
    sell(&hq, &admin, "hq-2", &bob["code"], 2_000, 0).await;
    let r = hq
        .post(
            &admin,
            "/api/v1/orders/hq-2/returns",
            &json!({"id": "hq-2-r", "lines": [{"line": 0, "quantity": 1}]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // A sale at the store, counted at HQ under S01 once it arrives.
    eventually("Ann at S01", || async {
        !common::nodes::find(&s1.app, &at_store, "Able")
            .await
            .is_empty()
    })
    .await;
    sell(&s1.app, &at_store, "s1-1", &ann["code"], 3_000, 0).await;

    eventually("the store's sale in HQ's report", || async {
        let rep = report(&hq, &admin, "sales").await;
        rows(&rep)
            .iter()
            .any(|r| *cell(&rep, r, "store") == "S01" && *cell(&rep, r, "orders") == 1)
    })
    .await;
    let rep = report(&hq, &admin, "sales").await;
    let hq_row = rows(&rep)
        .into_iter()
        .find(|r| *cell(&rep, r, "store") == "HQ")
        .unwrap();
    assert_eq!(*cell(&rep, &hq_row, "orders"), 2);
    assert_eq!(*cell(&rep, &hq_row, "total"), 12_000);
    assert_eq!(*cell(&rep, &hq_row, "credit_redeemed"), 1_000);
    assert_eq!(*cell(&rep, &hq_row, "returns"), 1);
    assert_eq!(*cell(&rep, &hq_row, "returned_net"), 2_000);
    let totals = rep["totals"].as_array().unwrap().clone();
    assert_eq!(*cell(&rep, &totals, "orders"), 3);
    assert_eq!(*cell(&rep, &totals, "total"), 15_000);
    // One store only.
    let only = report(&hq, &admin, "sales?store=S01").await;
    assert_eq!(rows(&only).len(), 1);
    assert_eq!(only["totals"][2], 1);

    // Loyalty: 10 % cash-back issued on 100 + 20 + 30, 20 taken back by the
    // return; credit 50 issued, 10 redeemed; what is owed equals every balance.
    let loy = report(&hq, &admin, "loyalty").await;
    let t = loy["totals"].as_array().unwrap().clone();
    assert_eq!(*cell(&loy, &t, "points_issued"), 1_300, "{loy}");
    assert_eq!(*cell(&loy, &t, "credit_issued"), 5_000);
    assert_eq!(*cell(&loy, &t, "credit_redeemed"), 1_000);
    let owed = |k: &str| {
        loy["summary"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == k)
            .unwrap()["value"]
            .as_i64()
            .unwrap()
    };
    let mut points = 0;
    let mut credit = 0;
    for c in [&ann, &bob] {
        let l: Value = hq
            .get(
                &admin,
                &format!("/api/v1/customers/{}/ledger", c["id"].as_str().unwrap()),
            )
            .await
            .json()
            .await
            .unwrap();
        points += l["balances"]["points"]["balance"].as_i64().unwrap();
        credit += l["balances"]["credit"]["balance"].as_i64().unwrap();
    }
    assert_eq!(
        (owed("points_outstanding"), owed("credit_outstanding")),
        (points, credit)
    );
    assert_eq!(credit, 4_000);

    // Sign-ups, group sizes (after the day's maintenance), top customers.
    let sign = report(&hq, &admin, "signups").await;
    assert_eq!(sign["totals"][2], 2);
    let r = hq
        .post(&admin, "/api/v1/loyalty/maintenance", &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let groups = report(&hq, &admin, "groups").await;
    assert!(
        rows(&groups)
            .iter()
            .any(|r| *cell(&groups, r, "group") == "Cash back" && *cell(&groups, r, "members") == 2),
        "{groups}"
    );
    let top = report(&hq, &admin, "top-customers?limit=1").await;
    assert_eq!(rows(&top).len(), 1);
    assert_eq!(*cell(&top, &rows(&top)[0], "code"), ann["code"]);

    // CSV: the same table, money as decimals.
    let r = hq
        .get(&admin, "/api/v1/reports/sales?format=csv&store=HQ")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = r.text().await.unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("Day,Store,Orders,Subtotal")
    );
    assert!(lines.next().unwrap().contains(",HQ,2,"), "{text}");
    assert!(text.contains("120.00"), "{text}");

    // Bounds: every one a 422 naming the field; a cashier may not look.
    for (q, field) in [
        ("sales?from=2026-13-01", "from"),
        ("sales?to=yesterday", "to"),
        ("sales?from=2026-02-01&to=2026-01-01", "from"),
        ("sales?from=1990-01-01&to=2026-01-01", "from"),
        ("sales?store=no%20such", "store"),
        ("sales?store=S77", "store"),
        ("sales?format=xml", "format"),
        ("sales?colour=red", "query"),
        ("top-customers?limit=0", "limit"),
        ("top-customers?limit=100000", "limit"),
        ("weather", "name"),
    ] {
        assert_problem(
            hq.get(&admin, &format!("/api/v1/reports/{q}")).await,
            422,
            Some(field),
        )
        .await;
    }
    let cashier = hq.login("cashier").await;
    assert_problem(hq.get(&cashier, "/api/v1/reports/sales").await, 403, None).await;
}
