//! The web UI in a real headless Chromium, driven by playwright-core
//! (tests/browser/run.mjs). Needs Debian's `chromium` and `npm install` in
//! tests/browser (`.ci/run` does both and sets PATRON_BROWSER_TESTS=1, which
//! makes a missing browser a failure instead of a skip). Screenshots of every
//! main page go to test-artifacts/ at the workspace root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "../../patron-barcode/tests/support/mod.rs"]
mod photos;

use common::spawn_app;
use serde_json::json;
use std::path::Path;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_office_and_register_in_chromium() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready = dir.join("node_modules/playwright-core").is_dir() && Path::new(&chromium).exists();
    let required = std::env::var("PATRON_BROWSER_TESTS").is_ok_and(|v| v == "1");
    if !ready {
        assert!(
            !required,
            "PATRON_BROWSER_TESTS=1 but chromium or playwright-core is missing (see .ci/run)"
        );
        eprintln!(
            "browser tests skipped: install chromium and run `npm install` in {} (or run .ci/run)",
            dir.display()
        );
        return;
    }
    let app = spawn_app().await;
    let t = app.login("admin").await;
    let c = app
        .create(
            &t,
            json!({"first_name": "Ada", "last_name": "Okafor", "phone": "+1 303 555 0142",
            "address": {"city": "Denver"}, "medical": {"card_number": "MED-7"}}),
        )
        .await;
    app.create(
        &t,
        json!({"first_name": "Bo", "last_name": "Brandt", "phone": "+1 303 555 0177"}),
    )
    .await;
    app.create(&t, json!({"first_name": "Cy", "last_name": "Castro"}))
        .await;
    let id = c["id"].as_str().unwrap();
    let r = app
        .post(
            &t,
            &format!("/api/v1/customers/{id}/ledger"),
            &json!({"account": "points", "kind": "adjust", "amount": 2000, "reason": "welcome"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .post(
            &t,
            "/api/v1/groups",
            &json!({"name": "Points club", "kind": "auto", "rule": "visits >= 0",
            "program": {"kind": "points", "percent": 2, "max_redeem_percent": 50}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    // ID scans: the Recreational group requires 21, so a young holder is
    // under age; the veteran indicator maps to the Veteran type.
    let r = app.get(&t, "/api/v1/groups?name=Recreational").await;
    let groups: serde_json::Value = r.json().await.unwrap();
    let rec = &groups["items"][0];
    let r = app
        .client
        .put(app.url(&format!("/api/v1/groups/{}", rec["id"].as_str().unwrap())))
        .bearer_auth(&t)
        .json(&json!({"name": "Recreational", "rule": rec["rule"], "min_age": 21}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let r = app
        .post(
            &t,
            "/api/v1/customer-types",
            &json!({"name": "Veteran", "discount_percent": 10}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let veteran: serde_json::Value = r.json().await.unwrap();
    let r = app
        .patch(
            &t,
            "/api/v1/loyalty/settings",
            &json!({"veteran_type_id": veteran["id"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    // A customer on file with a licence, and a photo of that licence's back
    // (PNG, as a phone's upload would be) for the Upload Driver's License step.
    app.create(
        &t,
        json!({"first_name": "Jane", "last_name": "Roe", "date_of_birth": "1985-03-02",
        "id_document": {"number": "P7654321", "issuing_state": "TX", "issuing_country": "US"}}),
    )
    .await;
    let licence = "@\n\u{1e}\rANSI 636015090002DL00410209ZT02500007DLDAQP7654321\nDCSROE\nDDEN\nDACJANE\nDDFN\nDADNONE\nDDGN\nDCAC\nDCBNONE\nDCDNONE\nDBD01022020\nDBB03021985\nDBA03022099\nDBC2\nDAU065 IN\nDAYBLU\nDAG9 ELM ST\nDAIDALLAS\nDAJTX\nDAK752010000  \nDCF0000000000000000001\nDCGUSA\nDDAF\rZTZTAN\r";
    let photo = photos::png(&photos::card_photo(
        &photos::pdf417_modules(licence, 4, 15, 3),
        3,
        1600,
        1000,
        11,
    ));
    let scratch = tempfile::tempdir().unwrap();
    let photo_path = scratch.path().join("licence-back.png");
    std::fs::write(&photo_path, photo).unwrap();

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts/browser");
    let base = format!("http://{}", app.addr);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("run.mjs")
            .arg(&base)
            .arg(&artifacts)
            .current_dir(&dir)
            .env("CHROMIUM", chromium)
            .env("PATRON_LICENCE_PHOTO", &photo_path)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser checks failed:\n{stdout}\n{stderr}"
    );
}
