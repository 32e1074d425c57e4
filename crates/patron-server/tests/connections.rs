//! Issue 10: bounded connections, timeouts, hyper's own errors as
//! problem+json, 1,000 concurrent searches under `ulimit -n 1024`, and HTTPS
//! between a store and HQ.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::nodes::{eventually, register};
use common::{KillOnDrop, TestApp, spawn_app};
use patron_server::app::Application;
use patron_server::serve::Limits;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Sends raw bytes and reads the whole answer (until the server closes or
/// `wait` passes).
fn raw(addr: SocketAddr, bytes: &[u8], wait: Duration) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn status_and_body(answer: &str) -> (u16, String, Value) {
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
    (
        status,
        head.to_ascii_lowercase(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_hyper_answers_itself_is_problem_json() {
    let app = spawn_app().await;
    let addr = app.addr;
    tokio::task::spawn_blocking(move || {
        let long_uri = format!(
            "GET /api/v1/customers?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a".repeat(9_000)
        );
        let huge_header = format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "b".repeat(70_000)
        );
        let huge_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "c".repeat(70_000));
        for (request, status) in [
            (long_uri.as_str(), 414),
            (huge_header.as_str(), 431),
            (huge_uri.as_str(), 0),
            ("HELLO THERE\r\n\r\n", 400),
        ] {
            let answer = raw(addr, request.as_bytes(), Duration::from_secs(5));
            let (got, head, body) = status_and_body(&answer);
            if status != 0 {
                assert_eq!(got, status, "{answer}");
            } else {
                assert!(got == 414 || got == 431, "{answer}");
            }
            assert!(
                head.contains("content-type: application/problem+json"),
                "{answer}"
            );
            assert_eq!(body["status"].as_u64(), Some(u64::from(got)), "{answer}");
            assert!(body["detail"].is_string());
        }
    })
    .await
    .unwrap();
}

async fn app_with(limits: Limits) -> TestApp {
    let base = spawn_app().await;
    let app = Application::build(base.storage.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .with_limits(limits);
    TestApp {
        addr: app.spawn().unwrap(),
        client: reqwest::Client::new(),
        storage: base.storage,
        dir: base.dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_timed_out() {
    let app = app_with(Limits {
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let addr = app.addr;
    let token = app.login("admin").await;
    tokio::task::spawn_blocking(move || {
        // Headers trickled: the connection is closed, well before the client gives up.
        let started = Instant::now();
        let answer = raw(
            addr,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
            Duration::from_secs(10),
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{answer}");

        // A body that never arrives: 408 problem+json.
        let request = format!(
            "POST /api/v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"first_"
        );
        let started = Instant::now();
        let answer = raw(addr, request.as_bytes(), Duration::from_secs(10));
        let (status, head, body) = status_and_body(&answer);
        assert_eq!(status, 408, "{answer}");
        assert!(head.contains("application/problem+json"));
        assert_eq!(body["status"], 408);
        assert!(started.elapsed() < Duration::from_secs(5));

        // An idle keep-alive connection is closed after the idle time.
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        let started = Instant::now();
        let closed = loop {
            match s.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(_) => break false,
            }
        };
        assert!(closed, "the idle connection was not closed");
        assert!(started.elapsed() < Duration::from_secs(5));
    })
    .await
    .unwrap();
}

/// What a process holds open, by kind: sockets, and database files.
fn open_files(pid: u32) -> (usize, usize, Vec<String>) {
    let listing: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default();
    let sockets = listing.iter().filter(|l| l.starts_with("socket:")).count();
    let db = listing.iter().filter(|l| l.contains("patron.db")).count();
    (sockets, db, listing)
}

/// The real binary under `ulimit -n 1024` answers 1,000 concurrent searches,
/// all of them, and gives its file handles back afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_searches_under_ulimit_1024() {
    // This process opens the thousand client connections: it needs the room.
    if let Ok(mut l) =
        std::panic::catch_unwind(|| rustix::process::getrlimit(rustix::process::Resource::Nofile))
    {
        l.current = l.maximum.map(|m| m.min(65_536));
        let _ = rustix::process::setrlimit(rustix::process::Resource::Nofile, l);
    }
    let bin = env!("CARGO_BIN_EXE_patron");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let mut add = std::process::Command::new(bin)
        .args([
            "user",
            "add",
            "--data",
            &data,
            "--username",
            "admin",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"a fine password\n")
        .unwrap();
    assert!(add.wait().unwrap().success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 1024 && exec {bin} serve --data {data} --listen 127.0.0.1:{port}"
        ))
        .env("RUST_LOG", "error")
        .spawn()
        .unwrap();
    // Killed however the test ends, so a failure never leaves it running.
    let server = KillOnDrop(server);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    eventually("the server is up", || async {
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;
    let r = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": "a fine password"}))
        .send()
        .await
        .unwrap();
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..20 {
        let r = client
            .post(format!("{base}/api/v1/customers"))
            .bearer_auth(&token)
            .json(&json!({"first_name": format!("Ann{i}"), "last_name": "Lee"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    // Warm: every reader connection open, as after any busy minute.
    let warm: Vec<_> = (0..16)
        .map(|_| {
            let c = client.clone();
            let url = format!("{base}/api/v1/customers?q=ann");
            let t = token.clone();
            tokio::spawn(async move { c.get(url).bearer_auth(t).send().await })
        })
        .collect();
    for w in warm {
        let _ = w.await;
    }
    drop(client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (idle_sockets, _, _) = open_files(server.id());

    let mut tasks = Vec::new();
    for _ in 0..1_000 {
        // One client each: a thousand connections at once, not a pool.
        let c = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let url = format!("{base}/api/v1/customers?q=lee");
        let t = token.clone();
        tasks.push(tokio::spawn(async move {
            match c.get(url).bearer_auth(t).send().await {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            }
        }));
    }
    let mut statuses = std::collections::BTreeMap::new();
    for t in tasks {
        *statuses.entry(t.await.unwrap()).or_insert(0) += 1;
    }
    assert_eq!(statuses.get(&200), Some(&1_000), "{statuses:?}");
    let pid = server.id();
    let back = async {
        for _ in 0..100 {
            if open_files(pid).0 <= idle_sockets {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
    .await;
    let (sockets, db, listing) = open_files(pid);
    assert!(
        back,
        "{idle_sockets} sockets open when idle, {sockets} after: {listing:?}"
    );
    // The database: the writer and at most 8 readers, each its file and WAL,
    // and the shared memory file.
    assert!(db <= 2 * (1 + 8) + 1, "{db} database handles: {listing:?}");
}

fn certificates(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Patron test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let (cert_file, key_file) = (dir.join("hq.crt"), dir.join("hq.key"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (cert_file, key_file, ca.pem().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_syncs_with_hq_over_https_and_trusts_only_what_it_is_told() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key, ca_pem) = certificates(certs.path());
    let tls = patron_server::tls::server_config(&cert, &key).unwrap();
    let base = spawn_app().await;
    let app = Application::build(base.storage.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .with_tls(Some(tls));
    let addr = app.spawn().unwrap();
    let hq = TestApp {
        addr,
        client: reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca_pem).unwrap())
            .build()
            .unwrap(),
        storage: base.storage.clone(),
        dir: base.dir,
    };
    let https = format!("https://127.0.0.1:{}", addr.port());
    let r = hq
        .client
        .get(format!("{https}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Plain HTTP to the HTTPS port gets no answer it could mistake for one.
    let plain = reqwest::get(format!("http://127.0.0.1:{}/healthz", addr.port())).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    // Registering a store over HTTPS.
    let admin = {
        let r = hq
            .client
            .post(format!("{https}/api/v1/auth/login"))
            .json(&json!({"username": "admin", "password": common::PASSWORD}))
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let r = hq
        .client
        .post(format!("{https}/api/v1/stores"))
        .bearer_auth(&admin)
        .json(&json!({"id": "S01", "name": "Store 1"}))
        .send()
        .await
        .unwrap();
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Without HQ's CA the store refuses the connection.
    let d = tempfile::tempdir().unwrap();
    let untrusting = patron_sync::HqLink::new(&https, &token, "S01", None).unwrap();
    let err = patron_sync::download_snapshot(&untrusting, &d.path().join("x.db"))
        .await
        .unwrap_err();
    assert!(!err.is_empty());

    // With it, the store follows HQ.
    let link = patron_sync::HqLink::new(&https, &token, "S01", Some(&ca_pem)).unwrap();
    let storage: std::sync::Arc<dyn patron_storage::Storage> =
        std::sync::Arc::new(patron_sqlite::SqliteStorage::open(d.path()).unwrap());
    storage
        .become_store(&patron_domain::StoreId::parse("S01").unwrap())
        .await
        .unwrap();
    let _sync = patron_sync::SyncClient::new(storage.clone(), &link).spawn();
    let r = hq
        .client
        .post(format!("{https}/api/v1/customers"))
        .bearer_auth(&admin)
        .json(&json!({"first_name": "Tess", "last_name": "Ellis"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    eventually("the customer reached the store over HTTPS", || async {
        storage.count_customers().await.unwrap_or(0) == 1
    })
    .await;
    let _ = register;
}
