//! Merging two records of one person with real nodes: what an offline store
//! sold to, or changed on, the merged-away record lands on the survivor at HQ
//! and at the store, nothing lost and nothing counted twice.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::nodes::*;
use common::{assert_problem, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_meets_an_offline_stores_sale_and_edit() {
    let hq = spawn_app().await;
    let th = hq.login("admin").await;
    let s1 = spawn_store(&hq, "S01").await;
    let t1 = s1.app.login("admin").await;
    let ann = hq
        .create(
            &th,
            json!({"first_name": "Ann", "last_name": "Lee", "phone": "(512) 561-0721"}),
        )
        .await;
    let r = hq
        .post(&th, "/api/v1/customers?allow_duplicate=true",
            &json!({"first_name": "Annie", "last_name": "Lee", "email": "annie@example.com", "phone": "512 561 0721"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let annie: Value = r.json().await.unwrap();
    let (a, b) = (ann["id"].as_str().unwrap(), annie["id"].as_str().unwrap());
    for (id, amount) in [(a, 1_000), (b, 2_500)] {
        let r = hq
            .post(&th, &format!("/api/v1/customers/{id}/ledger"),
                &json!({"account": "credit", "kind": "top-up", "amount": amount, "reason": "gift card"}))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let r = hq
        .post(
            &th,
            "/api/v1/orders",
            &json!({"id": "hq-1", "customer": a,
            "lines": [{"sku": "A", "name": "Tea", "quantity": 1, "unit_price": 700}]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    eventually("both at the store with their credit", || async {
        let c = get_customer(&s1.app, &t1, b).await;
        c["balances"]["credit"]["balance"] == 2500
    })
    .await;

    // Offline, the store sells to Annie and edits her record.
    s1.cut();
    let r = s1
        .app
        .post(
            &t1,
            "/api/v1/orders",
            &json!({"id": "s1-1", "customer": annie["code"],
            "lines": [{"sku": "B", "name": "Cake", "quantity": 2, "unit_price": 450}]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = s1
        .app
        .patch(
            &t1,
            &format!("/api/v1/customers/{b}"),
            &json!({"notes": "allergic to nuts"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Meanwhile HQ merges Annie into Ann. Cashiers may not; stores do not.
    let tc = hq.login("cashier").await;
    let body = json!({"others": [annie["code"]]});
    let r = hq
        .post(&tc, &format!("/api/v1/customers/{a}/merge"), &body)
        .await;
    assert_problem(r, 403, None).await;
    let r = s1
        .app
        .post(&t1, &format!("/api/v1/customers/{a}/merge"), &body)
        .await;
    assert_problem(r, 409, Some("node")).await;
    let r = hq
        .post(&th, &format!("/api/v1/customers/{a}/merge"), &body)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let merged: Value = r.json().await.unwrap();
    assert_eq!(merged["code"], ann["code"]);
    assert_eq!(
        merged["email"], "annie@example.com",
        "the survivor takes what it lacked"
    );
    assert_eq!(merged["balances"]["credit"]["balance"], 3_500);
    // Annie's code finds Ann.
    let via_old = get_customer(&hq, &th, annie["code"].as_str().unwrap()).await;
    assert_eq!(via_old["id"], ann["id"]);

    s1.heal();
    // At HQ, the store's sale and edit land on Ann, once.
    eventually("the offline sale on the survivor at HQ", || async {
        let o: Value = hq
            .get(&th, "/api/v1/orders/s1-1")
            .await
            .json()
            .await
            .unwrap();
        o["customer_id"] == ann["id"]
    })
    .await;
    eventually("the offline edit on the survivor at HQ", || async {
        get_customer(&hq, &th, a).await["notes"] == "allergic to nuts"
    })
    .await;
    let at_hq = activity(&hq, &th, a).await;
    assert_eq!(at_hq["total_spent"], 700 + 900);
    assert_eq!(at_hq["visits"], 2);
    assert_eq!(at_hq["orders"].as_array().unwrap().len(), 2);
    // The store converges to the same: one customer, the same money.
    eventually("the store agrees", || async {
        let c = get_customer(&s1.app, &t1, annie["code"].as_str().unwrap()).await;
        let act = activity(&s1.app, &t1, a).await;
        c["id"] == ann["id"]
            && c["notes"] == "allergic to nuts"
            && c["balances"] == get_customer(&hq, &th, a).await["balances"]
            && act["total_spent"] == at_hq["total_spent"]
            && act["visits"] == at_hq["visits"]
            && act["orders"].as_array().map(Vec::len) == Some(2)
    })
    .await;
    // The register's search finds Ann only (she has Annie's email now); the
    // merged-away record shows only among inactive ones, saying where it went.
    for (node, token) in [(&hq, &th), (&s1.app, &t1)] {
        let v: Value = node
            .get(token, "/api/v1/customers?q=Annie")
            .await
            .json()
            .await
            .unwrap();
        let ids: Vec<&Value> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["id"])
            .collect();
        assert_eq!(ids, vec![&ann["id"]], "{v}");
        let all = find(node, token, "Annie").await;
        assert!(
            all.iter()
                .all(|c| c["id"] == ann["id"] || c["merged_into"] == ann["id"]),
            "{all:?}"
        );
    }
    let hq_balance = get_customer(&hq, &th, a).await["balances"]["credit"]["balance"].clone();
    assert_eq!(hq_balance, 3_500);
    // Nothing refused: the store's work counted.
    let refusals: Value = hq
        .get(&th, "/api/v1/sync/refusals")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(refusals["items"], json!([]), "{refusals}");
}
