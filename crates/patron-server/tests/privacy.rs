//! Privacy requests with real nodes: an erasure at HQ reaches every store and
//! wins over what an offline store did meanwhile; a person's data export.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::nodes::*;
use common::{assert_problem, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_reaches_every_store_and_beats_an_offline_edit() {
    let hq = spawn_app().await;
    let th = hq.login("admin").await;
    let s1 = spawn_store(&hq, "S01").await;
    let t1 = s1.app.login("admin").await;
    let c = hq
        .create(&th, json!({"first_name": "Maria", "last_name": "Gonzalez",
            "phone": "(415) 555-0199", "email": "maria.g@example.com", "date_of_birth": "1980-02-03",
            "notes": "likes tea"}))
        .await;
    let id = c["id"].as_str().unwrap().to_owned();
    let r = hq
        .post(
            &th,
            &format!("/api/v1/customers/{id}/ledger"),
            &json!({"account": "credit", "kind": "top-up", "amount": 2500, "reason": "gift card"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    eventually("the customer at the store", || async {
        find(&s1.app, &t1, "Gonzalez").await.len() == 1
    })
    .await;

    // The store goes offline and edits her; HQ erases her meanwhile.
    s1.cut();
    let r = s1
        .app
        .patch(
            &t1,
            &format!("/api/v1/customers/{id}"),
            &json!({"notes": "likes green tea", "last_name": "Gonzales"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // A manager may not erase (admin, or a role granted customers.erase).
    let tm = hq.login("manager").await;
    let r = hq
        .post(&tm, &format!("/api/v1/customers/{id}/erase"), &json!({}))
        .await;
    assert_problem(r, 403, None).await;
    let r = hq
        .post(&th, &format!("/api/v1/customers/{id}/erase"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let erased: Value = r.json().await.unwrap();
    assert_eq!(erased["first_name"], "Erased");
    assert!(erased["erased_at"].is_string());
    assert_eq!(erased["phone"], Value::Null);
    // Stores do not erase: one place decides.
    let r = s1
        .app
        .post(&t1, &format!("/api/v1/customers/{id}/erase"), &json!({}))
        .await;
    assert_problem(r, 409, Some("node")).await;

    s1.heal();
    eventually("the erasure at the store", || async {
        let c = get_customer(&s1.app, &t1, &id).await;
        c["first_name"] == "Erased" && c["notes"].is_null() && c["last_name"] == "customer"
    })
    .await;
    // HQ refused the offline edit: nothing of it came back.
    eventually("the offline edit refused at HQ", || async {
        let v: Value = hq
            .get(&th, "/api/v1/sync/refusals")
            .await
            .json()
            .await
            .unwrap();
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["reason"].as_str().unwrap_or("").contains("erased"))
    })
    .await;
    let at_hq = get_customer(&hq, &th, &id).await;
    assert_eq!(at_hq["notes"], Value::Null);
    assert_eq!(at_hq["last_name"], "customer");
    // Not found by the old data on either node; the money is still hers.
    for (node, token) in [(&hq, &th), (&s1.app, &t1)] {
        assert!(find(node, token, "Gonzalez").await.is_empty());
        assert!(find(node, token, "4155550199").await.is_empty());
        let audit: Value = node
            .get(token, &format!("/api/v1/customers/{id}/audit"))
            .await
            .json()
            .await
            .unwrap();
        let items = audit["items"]
            .as_array()
            .unwrap_or_else(|| audit.as_array().unwrap());
        assert!(
            items
                .iter()
                .all(|e| e["old"].is_null() && e["new"].is_null()),
            "{audit}"
        );
        let c = get_customer(node, token, &id).await;
        assert_eq!(c["balances"]["credit"]["balance"], 2500, "{c}");
    }
    // And it cannot be edited back, at HQ or at the store.
    for (node, token) in [(&hq, &th), (&s1.app, &t1)] {
        let r = node
            .patch(
                token,
                &format!("/api/v1/customers/{id}"),
                &json!({"first_name": "Maria"}),
            )
            .await;
        assert_problem(r, 409, Some("customer")).await;
    }
}

#[tokio::test]
async fn a_person_gets_their_data() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let c = app
        .create(
            &admin,
            json!({"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}),
        )
        .await;
    let id = c["id"].as_str().unwrap();
    let r = app
        .patch(
            &admin,
            &format!("/api/v1/customers/{id}"),
            &json!({"notes": "VIP"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post(
            &admin,
            "/api/v1/orders",
            &json!({"id": "o-1", "customer": id,
            "lines": [{"sku": "A", "name": "Tea", "quantity": 2, "unit_price": 450}]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = app
        .get(&admin, &format!("/api/v1/customers/{id}/export"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let x: Value = r.json().await.unwrap();
    assert_eq!(x["customer"]["email"], "ann@example.com");
    assert_eq!(x["orders"][0]["id"], "o-1");
    assert_eq!(x["total_spent"], 900);
    assert!(
        x["audit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["new"] == "VIP")
    );
    assert!(
        x["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "Common")
    );
    let cashier = app.login("cashier").await;
    let r = app
        .get(&cashier, &format!("/api/v1/customers/{id}/export"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.get(&admin, "/api/v1/customers/CUST-99999/export").await;
    assert_problem(r, 404, None).await;
}
