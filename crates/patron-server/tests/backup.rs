//! `patron backup` while a store node serves, its disk lost, `patron restore`,
//! and the restored store catching up with HQ: nothing lost, nothing twice.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::nodes::eventually;
use common::process::{login_when_ready, start_store};
use common::{TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::{Command, Output};

fn patron(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every customer a node holds: code → name.
async fn customers(base: &str, token: &str) -> BTreeMap<String, String> {
    let client = reqwest::Client::new();
    let mut out = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![("limit", "200".to_owned()), ("active", "all".to_owned())];
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let v: Value = client
            .get(format!("{base}/api/v1/customers"))
            .query(&q)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for c in v["items"].as_array().unwrap() {
            let code = c["code"].as_str().unwrap().to_owned();
            let name = format!("{} {}", c["first_name"], c["last_name"]);
            assert!(out.insert(code.clone(), name).is_none(), "{code} twice");
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

async fn create(base: &str, token: &str, first: &str) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/customers"))
        .bearer_auth(token)
        .json(&json!({"first_name": first, "last_name": "Backup"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

async fn sell(base: &str, token: &str, id: &str, customer: &str) {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/orders"))
        .bearer_auth(token)
        .json(&json!({"id": id, "customer": customer,
            "lines": [{"sku": "A", "name": "A", "quantity": 1, "unit_price": 1250}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
}

async fn order_exists(app: &TestApp, token: &str, id: &str) -> bool {
    app.get(token, &format!("/api/v1/orders/{id}"))
        .await
        .status()
        == StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_restored_from_a_backup_catches_up_without_loss_or_duplicates() {
    let hq = spawn_app().await;
    let th = hq.login("admin").await;
    let token = common::nodes::register(&hq, "S07").await;
    for i in 0..5 {
        hq.create(
            &th,
            json!({"first_name": format!("Hq{i}"), "last_name": "Backup"}),
        )
        .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("s07.patron-backup");

    let (mut store, base) = start_store(&data, &hq, "S07", &token);
    let t = login_when_ready(&base).await;
    let first = create(&base, &t, "Before0").await;
    sell(&base, &t, "s07-before", first["id"].as_str().unwrap()).await;
    for i in 1..5 {
        create(&base, &t, &format!("Before{i}")).await;
    }

    // The backup is taken while the store keeps taking customers.
    let writer = {
        let (base, t) = (base.clone(), t.clone());
        tokio::spawn(async move {
            for i in 0..10 {
                create(&base, &t, &format!("During{i}")).await;
            }
        })
    };
    let out = patron(&[
        "backup",
        "--data",
        data.to_str().unwrap(),
        "--to",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("backed up S07"),
        "{}",
        text(&out.stdout)
    );
    writer.await.unwrap();
    // A backup is never written over.
    let again = patron(&[
        "backup",
        "--data",
        data.to_str().unwrap(),
        "--to",
        file.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("never overwritten"));
    // Nor restored over a running node.
    let busy = patron(&[
        "restore",
        "--from",
        file.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(!busy.status.success());
    assert!(
        text(&busy.stderr).contains("a Patron node is running"),
        "{}",
        text(&busy.stderr)
    );

    // After the backup: more customers and a sale, all sent to HQ.
    let mut after = Vec::new();
    for i in 0..5 {
        after.push(create(&base, &t, &format!("After{i}")).await);
    }
    sell(&base, &t, "s07-after", after[0]["id"].as_str().unwrap()).await;
    let before_loss = customers(&base, &t).await;
    assert_eq!(before_loss.len(), 5 + 5 + 10 + 5);
    eventually("HQ has everything the store made", || async {
        customers(&format!("http://{}", hq.addr), &th).await == before_loss
            && order_exists(&hq, &th, "s07-after").await
    })
    .await;

    // The disk dies.
    store.kill().unwrap();
    store.wait().unwrap();
    std::fs::remove_dir_all(&data).unwrap();

    // A damaged file is refused; the backup is restored.
    let junk = backups.path().join("junk.db");
    std::fs::write(&junk, b"SQLite format 3\0 but not really").unwrap();
    let bad = patron(&[
        "restore",
        "--from",
        junk.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert_eq!(
        text(&bad.stderr).lines().count(),
        1,
        "{}",
        text(&bad.stderr)
    );
    let out = patron(&[
        "restore",
        "--from",
        file.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("restored S07"),
        "{}",
        text(&out.stdout)
    );

    let (_store, base) = start_store(&data, &hq, "S07", &token);
    let t = login_when_ready(&base).await;
    eventually("the restored store has caught up", || async {
        customers(&base, &t).await == before_loss
    })
    .await;
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/orders/s07-after"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the sale made after the backup");

    // New work at the restored store gets codes never used before, and HQ
    // takes it without refusing anything.
    let fresh = create(&base, &t, "Restored").await;
    let code = fresh["code"].as_str().unwrap().to_owned();
    assert!(!before_loss.contains_key(&code), "{code} was issued twice");
    sell(&base, &t, "s07-restored", fresh["id"].as_str().unwrap()).await;
    eventually("HQ has the restored store's new work", || async {
        customers(&format!("http://{}", hq.addr), &th)
            .await
            .contains_key(&code)
            && order_exists(&hq, &th, "s07-restored").await
    })
    .await;
    let at_hq = customers(&format!("http://{}", hq.addr), &th).await;
    assert_eq!(at_hq, customers(&base, &t).await);
    assert_eq!(at_hq.len(), before_loss.len() + 1);
    let refusals: Value = hq
        .get(&th, "/api/v1/sync/refusals")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        refusals["items"].as_array().map(Vec::len),
        Some(0),
        "{refusals}"
    );
}
