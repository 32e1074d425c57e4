//! ID scans over HTTP: scanner text and photos of a licence, matched against
//! the customers on file and checked before a sale.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestApp, assert_problem, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A Texas card (AAMVA v9) as a keyboard-wedge scanner types it: the
/// separators turned into newlines, `DAQ` on the header's line.
fn texas(number: &str, dob: &str, expiry: &str, veteran: bool) -> String {
    format!(
        "@\n\nANSI 636015090002DL00410278ZT03190008DLDAQ{number}\nDCSPUBLIC\nDDEN\nDACJOHN\nDDFN\nDADQUINCY\nDDGN\nDCAC\nDCBNONE\nDCDNONE\nDBD01022020\nDBB{dob}\nDBA{expiry}\nDBC1\nDAU070 IN\nDAYBRO\nDAG123 MAIN STREET\nDAIAUSTIN\nDAJTX\nDAK787010000  \nDCF1234567890123456789\nDCGUSA\n{}DDAF\nZTZTAN\n",
        if veteran { "DDL1\n" } else { "" }
    )
}

async fn scan(app: &TestApp, token: &str, text: &str) -> Value {
    let r = app
        .post(token, "/api/v1/id-scans", &json!({ "text": text }))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn set_recreational_min_age(app: &TestApp, admin: &str, age: u32) {
    let r = app.get(admin, "/api/v1/groups?name=Recreational").await;
    let groups: Value = r.json().await.unwrap();
    let g = &groups["items"][0];
    let r = app
        .client
        .put(app.url(&format!("/api/v1/groups/{}", g["id"].as_str().unwrap())))
        .bearer_auth(admin)
        .json(&json!({"name": "Recreational", "rule": g["rule"], "min_age": age}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
}

#[tokio::test]
async fn a_scan_reads_the_card_matches_customers_and_checks_age_expiry_and_veterans() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let cashier = app.login("cashier").await;
    set_recreational_min_age(&app, &admin, 21).await;

    // A new adult: every field the card gives, in everyday case, no match.
    let s = scan(
        &app,
        &cashier,
        &texas("12345678", "05171990", "12312099", false),
    )
    .await;
    assert_eq!(s["document"]["document_number"], "12345678");
    assert_eq!(s["document"]["issuing_jurisdiction"], "TX");
    assert_eq!(s["document"]["issuing_country"], "US");
    assert_eq!(s["document"]["kind"], "driver_licence");
    assert_eq!(s["customer"]["first_name"], "John");
    assert_eq!(s["customer"]["last_name"], "Public");
    assert_eq!(s["customer"]["date_of_birth"], "1990-05-17");
    assert_eq!(s["customer"]["address"]["line1"], "123 Main Street");
    assert_eq!(s["customer"]["address"]["postal_code"], "78701");
    assert_eq!(s["customer"]["id_document"]["expiry"], "2099-12-31");
    assert_eq!(s["matches"], json!([]));
    assert_eq!(s["checks"]["expired"], false);
    assert_eq!(s["checks"]["under_age"], false);
    assert_eq!(s["checks"]["min_age"], 21);
    assert_eq!(s["checks"]["min_age_group"], "Recreational");

    // The prefill is a body POST /customers takes as it is.
    let mut body = s["customer"].clone();
    body["first_name"] = json!("John");
    let created = app.create(&admin, body).await;

    // Scanned again: found by the document number.
    let s = scan(
        &app,
        &cashier,
        &texas("12345678", "05171990", "12312099", false),
    )
    .await;
    assert_eq!(s["matches"][0]["customer"]["id"], created["id"]);
    assert_eq!(s["matches"][0]["same"][0], "id_document");

    // A new card with another number: found by name and date of birth.
    let s = scan(
        &app,
        &cashier,
        &texas("99999999", "05171990", "12312099", false),
    )
    .await;
    assert_eq!(s["matches"][0]["customer"]["id"], created["id"]);
    assert_eq!(s["matches"][0]["same"], json!(["name_and_date_of_birth"]));

    // Under age for the group a new customer would be in; an expired card.
    let s = scan(
        &app,
        &cashier,
        &texas("55555555", "01012012", "01012020", false),
    )
    .await;
    assert_eq!(s["checks"]["under_age"], true);
    assert_eq!(s["checks"]["expired"], true);
    let warnings = s["checks"]["warnings"].as_array().unwrap();
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("expired on 2020-01-01"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].as_str().unwrap().starts_with("Under age"),
        "{warnings:?}"
    );

    // The veteran indicator suggests the chain's Veteran type once mapped.
    let s = scan(
        &app,
        &cashier,
        &texas("77777777", "03031970", "12312099", true),
    )
    .await;
    assert_eq!(s["checks"]["veteran"], true);
    assert_eq!(s["checks"]["veteran_type"], Value::Null);
    let r = app
        .post(
            &admin,
            "/api/v1/customer-types",
            &json!({"name": "Veteran", "discount_percent": 10}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let vt: Value = r.json().await.unwrap();
    let r = app
        .patch(
            &admin,
            "/api/v1/loyalty/settings",
            &json!({"veteran_type_id": vt["id"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let s = scan(
        &app,
        &cashier,
        &texas("77777777", "03031970", "12312099", true),
    )
    .await;
    assert_eq!(s["checks"]["veteran_type"]["name"], "Veteran");
    let r = app
        .patch(
            &admin,
            "/api/v1/loyalty/settings",
            &json!({"veteran_type_id": "0190f0a0-0000-7000-8000-000000000001"}),
        )
        .await;
    assert_problem(r, 422, Some("veteran_type_id")).await;

    // Not a licence; not a type this endpoint reads.
    let r = app
        .post(
            &cashier,
            "/api/v1/id-scans",
            &json!({"text": "hello there"}),
        )
        .await;
    assert_problem(r, 422, Some("text")).await;
    let r = app
        .client
        .post(app.url("/api/v1/id-scans"))
        .bearer_auth(&cashier)
        .header("content-type", "text/plain")
        .body("@ANSI")
        .send()
        .await
        .unwrap();
    assert_problem(r, 415, None).await;
    let r = app
        .client
        .post(app.url("/api/v1/id-scans"))
        .header("content-type", "application/json")
        .body(json!({"text": "x"}).to_string())
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, None).await;
}

#[path = "../../patron-barcode/tests/support/mod.rs"]
mod photos;

/// A photo of the card's back, as a phone takes it: tilted, a little blurred,
/// saved as JPEG; and the same as PNG.
#[tokio::test]
async fn a_photo_of_the_licence_is_read_like_its_text() {
    let app = spawn_app().await;
    let cashier = app.login("cashier").await;
    let text = texas("31415926", "02291992", "12312099", false);
    let modules = photos::pdf417_modules(&text, 4, 15, 3);
    let straight = photos::card_photo(&modules, 3, 1600, 1000, 7);
    let tilted = photos::box_blur(&photos::rotate(&straight, 9.0), 1);
    for (mime, bytes) in [
        ("image/jpeg", photos::jpeg(&tilted, 75)),
        ("image/png", photos::png(&straight)),
    ] {
        let r = app
            .client
            .post(app.url("/api/v1/id-scans"))
            .bearer_auth(&cashier)
            .header("content-type", mime)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{mime}");
        let s: Value = r.json().await.unwrap();
        assert_eq!(s["document"]["document_number"], "31415926", "{mime}");
        assert_eq!(s["customer"]["date_of_birth"], "1992-02-29", "{mime}");
    }

    // A photo with no barcode, and bytes that are no photo.
    let blank = photos::png(&photos::card_photo(
        &vec![vec![false; 4]; 4],
        2,
        400,
        300,
        1,
    ));
    for (mime, bytes, field) in [
        ("image/png", blank, "image"),
        ("image/jpeg", b"not a jpeg at all".to_vec(), "image"),
    ] {
        let r = app
            .client
            .post(app.url("/api/v1/id-scans"))
            .bearer_auth(&cashier)
            .header("content-type", mime)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_problem(r, 422, Some(field)).await;
    }
    // Over the photo limit: refused before it is decoded.
    let r = app
        .client
        .post(app.url("/api/v1/id-scans"))
        .bearer_auth(&cashier)
        .header("content-type", "image/png")
        .body(vec![0u8; 16 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_problem(r, 413, None).await;
}
