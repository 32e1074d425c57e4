//! `patron bench sync`: replication measured with real nodes as processes on
//! loopback (this same binary): HQ, two store nodes, and simulated stores that
//! only hold HQ's live feed open.

use crate::bench::{loaded, ms, percentile};
use anyhow::Context;
use patron_domain::{Role, StoreId, Username};
use patron_storage::{Actor, NewUser};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "bench-password";

struct Node {
    child: Child,
    base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn start(args: &[&str]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let out = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(out).lines();
        let addr = loop {
            let line = lines.next().context("node exited before listening")??;
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(Self {
            child,
            base: format!("http://{addr}"),
        })
    }

    /// Peak resident memory of the node's process, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        rss_field(self.child.id(), "VmHWM:")
    }

    fn rss_mib(&self) -> f64 {
        rss_field(self.child.id(), "VmRSS:")
    }
}

fn rss_field(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn login(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let r = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": "bench", "password": PASSWORD}))
            .send()
            .await;
        if let Ok(r) = r
            && r.status().is_success()
        {
            let v: Value = r.json().await?;
            return Ok(v["token"].as_str().context("no token")?.to_owned());
        }
        anyhow::ensure!(Instant::now() < deadline, "cannot sign in at {base}");
        // Each failed attempt costs the node an argon2 check: do not crowd it.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Waits until a store has applied HQ's feed up to `hq_head`; returns how long it took.
async fn until_caught_up(
    http: &reqwest::Client,
    store: &Node,
    hq_head: i64,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let token = login(http, &store.base).await?;
    loop {
        let r = http
            .get(format!("{}/api/v1/sync/status", store.base))
            .bearer_auth(&token)
            .send()
            .await?;
        let v: Value = r.json().await?;
        if v["peers"][0]["pulled_seq"].as_i64().unwrap_or(0) >= hq_head {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(1_800),
            "store never caught up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn hq_head(http: &reqwest::Client, hq: &Node, token: &str) -> anyhow::Result<i64> {
    let v: Value = http
        .get(format!("{}/api/v1/sync/status", hq.base))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    v["feed_head"].as_i64().context("no feed head")
}

async fn create(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    i: usize,
) -> anyhow::Result<String> {
    let r = http
        .post(format!("{base}/api/v1/customers"))
        .bearer_auth(token)
        .json(&json!({"first_name": format!("Prop{i}"), "last_name": "Agation"}))
        .send()
        .await?;
    anyhow::ensure!(r.status().as_u16() == 201, "create failed: {}", r.status());
    let v: Value = r.json().await?;
    Ok(v["id"].as_str().context("no id")?.to_owned())
}

fn token_for(i: usize) -> String {
    format!(
        "{}bench-store-{i:04}-0123456789abcdef",
        patron_sync::TOKEN_PREFIX
    )
}

async fn prepare_hq(dir: &Path, customers: usize, stores: usize) -> anyhow::Result<()> {
    let storage = loaded(dir, customers).await?;
    let username = Username::parse("bench").map_err(|e| anyhow::anyhow!("{e}"))?;
    if storage.user_credentials(&username).await?.is_none() {
        storage
            .create_user(
                &Actor::new("bench"),
                NewUser {
                    op_key: Some(crate::auth::op_key_hex(username.as_str(), PASSWORD)),
                    username,
                    role: Role::ADMIN,
                    password_hash: crate::auth::hash_password(PASSWORD)?,
                    store: None,
                },
            )
            .await?;
    }
    let known: Vec<String> = storage.stores().await?.into_iter().map(|s| s.id).collect();
    for i in 0..stores + 2 {
        let id = format!("B{i:04}");
        if !known.contains(&id) {
            let sid = StoreId::parse(&id).map_err(|e| anyhow::anyhow!("{e}"))?;
            storage
                .register_store(&sid, &id, &crate::auth::hash_token(&token_for(i)))
                .await?;
        }
    }
    Ok(())
}

pub async fn run(
    customers: usize,
    samples: usize,
    outage_changes: usize,
    stores: usize,
    data: Option<PathBuf>,
) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let hq_dir = data.unwrap_or_else(|| tmp.path().join("hq"));
    prepare_hq(&hq_dir, customers, stores).await?;
    let http = reqwest::Client::new();
    let hq_dir_s = hq_dir.to_string_lossy().to_string();
    let hq = Node::start(&["--data", &hq_dir_s])?;
    let th = login(&http, &hq.base).await?;
    println!("\nsync on loopback, nodes as processes; HQ holds {customers} customers");

    // Bootstrap: a new store reads HQ's whole feed.
    let s1_dir = tmp.path().join("s1").to_string_lossy().to_string();
    let s2_dir = tmp.path().join("s2").to_string_lossy().to_string();
    let head = hq_head(&http, &hq, &th).await?;
    let (t0, t1) = (token_for(0), token_for(1));
    let started = Instant::now();
    let s1 = Node::start(&[
        "--data", &s1_dir, "--store", "B0000", "--hq", &hq.base, "--token", &t0,
    ])?;
    until_caught_up(&http, &s1, head).await?;
    let took = started.elapsed();
    println!(
        "bootstrap of a new store (snapshot download, then the feed; process start included): {:.1} s, HQ feed head {head}; store peak RSS {:.0} MiB",
        took.as_secs_f64(),
        s1.peak_rss_mib()
    );
    let s2 = Node::start(&[
        "--data", &s2_dir, "--store", "B0001", "--hq", &hq.base, "--token", &t1,
    ])?;
    until_caught_up(&http, &s2, head).await?;

    // Propagation: created at S1, visible at S2.
    let (a1, a2) = (login(&http, &s1.base).await?, login(&http, &s2.base).await?);
    let mut times = Vec::with_capacity(samples);
    for i in 0..samples {
        let id = create(&http, &s1.base, &a1, i).await?;
        let started = Instant::now();
        loop {
            let r = http
                .get(format!("{}/api/v1/customers/{id}", s2.base))
                .bearer_auth(&a2)
                .send()
                .await?;
            if r.status().is_success() {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "change never arrived"
            );
        }
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "propagation store A → HQ → store B ({samples} changes): p50 {}  p99 {}  max {}",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(percentile(&times, 1.0))
    );

    // Catch-up: S2 offline while HQ takes `outage_changes` changes.
    drop(s2);
    for i in 0..outage_changes {
        create(&http, &hq.base, &th, 1_000_000 + i).await?;
    }
    let head = hq_head(&http, &hq, &th).await?;
    let started = Instant::now();
    let s2 = Node::start(&[
        "--data", &s2_dir, "--store", "B0001", "--hq", &hq.base, "--token", &t1,
    ])?;
    until_caught_up(&http, &s2, head).await?;
    let took = started.elapsed();
    println!(
        "catch-up after {outage_changes} changes offline: {:.2} s (restart included)",
        took.as_secs_f64()
    );
    drop((s1, s2));

    // Many stores, each holding the live feed open.
    let idle = hq.rss_mib();
    let head = hq_head(&http, &hq, &th).await?;
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(Vec<String>, Instant)>();
    let connected = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..stores {
        let token = token_for(i + 2);
        let base = hq.base.clone();
        let done = done_tx.clone();
        let connected = connected.clone();
        let client = reqwest::Client::new();
        tasks.push(tokio::spawn(async move {
            let mut after = head;
            let mut first = true;
            loop {
                let req = client
                    .get(format!("{base}/api/v1/sync/feed"))
                    .query(&[
                        ("after", after.to_string()),
                        ("limit", "100".into()),
                        ("wait", "20".into()),
                    ])
                    .bearer_auth(&token)
                    .send();
                if first {
                    connected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    first = false;
                }
                let Ok(r) = req.await else { break };
                let Ok(v) = r.json::<Value>().await else {
                    break;
                };
                let at = Instant::now();
                after = v["last"].as_i64().unwrap_or(after);
                let ids: Vec<String> = v["changes"]
                    .as_array()
                    .map(|c| {
                        c.iter()
                            .filter_map(|c| c["entity"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                if !ids.is_empty() {
                    let _ = done.send((ids, at));
                }
            }
        }));
    }
    while connected.load(std::sync::atomic::Ordering::Relaxed) < stores {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded_rss = hq.rss_mib();
    let mut times = Vec::new();
    let rounds = 20;
    for i in 0..rounds {
        // Drain what earlier rounds left.
        while done_rx.try_recv().is_ok() {}
        let started = Instant::now();
        let id = create(&http, &hq.base, &th, 2_000_000 + i).await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = 0;
        while got < stores && Instant::now() < deadline {
            if let Ok(Some((ids, at))) =
                tokio::time::timeout(Duration::from_millis(500), done_rx.recv()).await
                && ids.contains(&id)
            {
                times.push(at.duration_since(started));
                got += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for t in tasks {
        t.abort();
    }
    times.sort();
    println!(
        "{stores} stores with live feeds: change at HQ seen by all: p50 {}  p99 {}  ({} of {} deliveries timed); HQ RSS {:.0} MiB idle, {:.0} MiB connected: {:.1} KiB per store",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        times.len(),
        stores * rounds,
        idle,
        loaded_rss,
        (loaded_rss - idle).max(0.0) * 1024.0 / stores.max(1) as f64
    );
    Ok(())
}
