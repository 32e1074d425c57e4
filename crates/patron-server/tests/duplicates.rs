//! Likely-same customers over HTTP: a create that looks like someone on file
//! shows the candidates first; the user may go on; HQ's report clusters them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_problem, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn a_likely_duplicate_create_shows_the_candidates_and_may_go_on() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let ann = app
        .create(
            &admin,
            json!({"first_name": "Ann", "last_name": "Lee", "phone": "(512) 561-0721",
            "date_of_birth": "1990-05-17", "id_document": {"number": "D123-4567"}}),
        )
        .await;

    // Same phone in another format: the candidates, not a new record.
    let body = json!({"first_name": "Annie", "last_name": "Leigh", "phone": "+1 512 561 0721"});
    let r = app.post(&admin, "/api/v1/customers", &body).await;
    let p = assert_problem(r, 409, Some("phone")).await;
    assert_eq!(p["type"], "/problems/likely-duplicate");
    assert_eq!(p["candidates"][0]["customer"]["code"], ann["code"]);
    assert_eq!(p["candidates"][0]["same"], json!(["phone"]));

    // Same name and birth date, accents and case aside; same document.
    for (body, same) in [
        (
            json!({"first_name": "ÄNN", "last_name": "lee", "date_of_birth": "1990-05-17"}),
            "name_and_date_of_birth",
        ),
        (
            json!({"first_name": "X", "last_name": "Y", "id_document": {"number": "d 1234567"}}),
            "id_document",
        ),
    ] {
        let r = app.post(&admin, "/api/v1/customers", &body).await;
        let p = assert_problem(r, 409, None).await;
        assert_eq!(p["candidates"][0]["same"], json!([same]), "{p}");
    }

    // The user goes on: created, and now both are each other's candidates.
    let r = app
        .post(&admin, "/api/v1/customers?allow_duplicate=true", &body)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let annie: Value = r.json().await.unwrap();
    let r = app
        .get(
            &admin,
            &format!(
                "/api/v1/customers/{}/duplicates",
                annie["code"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["items"].as_array().unwrap().len(), 1);
    assert_eq!(d["items"][0]["customer"]["id"], ann["id"]);

    // Nobody like them: created at once.
    let r = app
        .post(
            &admin,
            "/api/v1/customers",
            &json!({"first_name": "Cy", "last_name": "Young"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // A retry of a create that went through is still answered with it.
    let id = "0190f0a0-0000-7000-8000-000000000abc";
    let body = json!({"id": id, "first_name": "Di", "last_name": "Ng", "phone": "+1 512 555 0101"});
    assert_eq!(
        app.post(&admin, "/api/v1/customers", &body).await.status(),
        StatusCode::CREATED
    );
    let twin = json!({"first_name": "Dee", "last_name": "Ng", "phone": "+1 512 555 0101"});
    let r = app
        .post(&admin, "/api/v1/customers?allow_duplicate=true", &twin)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        app.post(&admin, "/api/v1/customers", &body).await.status(),
        StatusCode::OK
    );

    // The report: two clusters, the biggest (Ann's) first; reports.view only.
    let cashier = app.login("cashier").await;
    let r = app.get(&cashier, "/api/v1/reports/duplicates").await;
    assert_problem(r, 403, None).await;
    let r = app.get(&admin, "/api/v1/reports/duplicates?limit=1").await;
    assert_eq!(r.status(), StatusCode::OK);
    let rep: Value = r.json().await.unwrap();
    assert_eq!(rep["total_clusters"], 2);
    assert_eq!(rep["total_customers"], 4);
    assert_eq!(rep["items"][0]["customers"].as_array().unwrap().len(), 2);
    assert_eq!(rep["next_offset"], 1);
    let r = app.get(&admin, "/api/v1/reports/duplicates?limit=0").await;
    assert_problem(r, 422, Some("limit")).await;
}
