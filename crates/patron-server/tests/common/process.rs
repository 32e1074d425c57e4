//! Nodes as real `patron` processes.

use super::{KillOnDrop, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `patron serve` as store `id` of `hq`, on `dir`: the process and its base URL.
pub fn start_store(
    dir: &std::path::Path,
    hq: &TestApp,
    id: &str,
    token: &str,
) -> (KillOnDrop, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["serve", "--listen", "127.0.0.1:0", "--store", id])
        .arg("--data")
        .arg(dir)
        .arg("--hq")
        .arg(format!("http://{}", hq.addr))
        .arg("--token")
        .arg(token)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("store exited before listening")
            .unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().to_owned();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (KillOnDrop(child), format!("http://{addr}"))
}

/// Signs in as admin once the node lets HQ's users in (after its first pull).
pub async fn login_when_ready(base: &str) -> String {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": "admin", "password": super::PASSWORD}))
            .send()
            .await;
        if let Ok(r) = r
            && r.status() == StatusCode::OK
        {
            let v: Value = r.json().await.unwrap();
            return v["token"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "store never let admin sign in");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
