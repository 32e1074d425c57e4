//! A store node as a real `patron` process, killed with SIGKILL while it is
//! creating customers and pushing them, then restarted on the same data: every
//! customer it accepted reaches HQ exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::process::{login_when_ready, start_store};
use common::spawn_app;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

async fn codes(base: &str, token: &str) -> Vec<String> {
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/customers"))
        .query(&[("origin_store", "S05"), ("limit", "500"), ("active", "all")])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_killed_mid_push_delivers_every_accepted_change_once() {
    let hq = spawn_app().await;
    let th = hq.login("admin").await;
    let r = hq
        .post(
            &th,
            "/api/v1/stores",
            &json!({"id": "S05", "name": "Kill test"}),
        )
        .await;
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    // Customers HQ already has reach the new store in its snapshot.
    for i in 0..30 {
        hq.create(
            &th,
            json!({"first_name": format!("Pre{i}"), "last_name": "Existing"}),
        )
        .await;
    }

    let (mut child, base) = start_store(dir.path(), &hq, "S05", &token);
    let t = login_when_ready(&base).await;
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/customers"))
        .query(&[("q", "Existing"), ("limit", "100")])
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["items"].as_array().unwrap().len(),
        30,
        "the snapshot lacks HQ's customers"
    );
    let status: Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/sync/status"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["role"], "store");
    let client = reqwest::Client::new();
    let mut accepted = BTreeSet::new();
    for i in 0..120 {
        let r = client
            .post(format!("{base}/api/v1/customers"))
            .bearer_auth(&t)
            .json(&json!({"first_name": format!("K{i}"), "last_name": "Killed"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let v: Value = r.json().await.unwrap();
        accepted.insert(v["code"].as_str().unwrap().to_owned());
        if i == 80 {
            // Mid-stream: the pusher is busy with earlier pages right now.
            child.kill().unwrap();
            child.wait().unwrap();
            break;
        }
    }
    let (mut child, base) = start_store(dir.path(), &hq, "S05", &token);
    let t = login_when_ready(&base).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let at_hq = codes(&format!("http://{}", hq.addr), &th).await;
        if at_hq.len() >= accepted.len() || Instant::now() > deadline {
            let at_store = codes(&base, &t).await;
            let unique: BTreeSet<_> = at_hq.iter().cloned().collect();
            assert_eq!(unique.len(), at_hq.len(), "a customer arrived twice at HQ");
            assert!(
                accepted.is_subset(&unique),
                "an accepted customer never reached HQ"
            );
            assert_eq!(unique, at_store.iter().cloned().collect::<BTreeSet<_>>());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A new store killed at any moment of its bootstrap (downloading HQ's
/// snapshot, making it its own, moving it into place) starts on the next try
/// with HQ's customers, never wedged half-way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_killed_during_bootstrap_starts_again() {
    let hq = spawn_app().await;
    let th = hq.login("admin").await;
    let r = hq
        .post(&th, "/api/v1/stores", &json!({"id": "S05", "name": "Boot"}))
        .await;
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..30 {
        hq.create(
            &th,
            json!({"first_name": format!("Boot{i}"), "last_name": "Strap"}),
        )
        .await;
    }
    let dir = tempfile::tempdir().unwrap();
    for delay_ms in [0u64, 20, 40, 60, 90, 120, 160, 220] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_patron"))
            .args(["serve", "--listen", "127.0.0.1:0", "--store", "S05"])
            .arg("--data")
            .arg(dir.path())
            .arg("--hq")
            .arg(format!("http://{}", hq.addr))
            .arg("--token")
            .arg(&token)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let (mut child, base) = start_store(dir.path(), &hq, "S05", &token);
    let t = login_when_ready(&base).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = reqwest::Client::new()
            .get(format!("{base}/api/v1/customers"))
            .query(&[("q", "Strap"), ("limit", "100")])
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        let n = v["items"].as_array().unwrap().len();
        if n == 30 {
            break;
        }
        assert!(Instant::now() < deadline, "only {n} of HQ's customers");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!dir.path().join("bootstrap").exists());
    child.kill().unwrap();
    child.wait().unwrap();
}
