//! What an operator relies on: metrics, request ids, readiness, and a full
//! disk met with a clear answer and a recovery nobody has to start.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::nodes::{eventually, spawn_store_built};
use common::{assert_problem, spawn_app, spawn_app_in};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// The value of the sample `name{labels}` (labels as written, in order).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn metrics(app: &common::TestApp) -> String {
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    r.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_report_the_database() {
    let app = spawn_app().await;
    let token = app.login("admin").await;
    for name in ["Ann", "Bea", "Cid"] {
        app.create(&token, json!({"first_name": name, "last_name": "Lee"}))
            .await;
    }
    let r = app.get(&token, "/api/v1/customers/CUST-00001").await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.get(&token, "/api/v1/customers/CUST-99999").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let _ = app.get(&token, "/no/such/page/4711").await;
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": "wrong-password-9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let text = metrics(&app).await;
    let count = |s: &str| sample(&text, s).unwrap_or_else(|| panic!("no {s} in:\n{text}"));
    // Routes by template: one series for every customer code, not one each.
    assert_eq!(
        count(
            r#"patron_http_requests_total{method="POST",route="/api/v1/customers",status="201"}"#
        ),
        3.0
    );
    assert_eq!(
        count(
            r#"patron_http_requests_total{method="GET",route="/api/v1/customers/{key}",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        count(
            r#"patron_http_requests_total{method="GET",route="/api/v1/customers/{key}",status="404"}"#
        ),
        1.0
    );
    assert_eq!(
        count(r#"patron_http_requests_total{method="GET",route="unmatched",status="404"}"#),
        1.0
    );
    assert!(!text.contains("4711"), "raw paths never become labels");
    assert_eq!(
        count(
            r#"patron_http_request_duration_seconds_count{method="POST",route="/api/v1/customers"}"#
        ),
        3.0
    );
    assert_eq!(
        count(r#"patron_logins_refused_total{reason="wrong-password"}"#),
        1.0
    );
    assert!(count(r#"patron_database_bytes{file="database"}"#) > 0.0);
    assert!(sample(&text, r#"patron_database_bytes{file="wal"}"#).is_some());
    // Every write went through the writer: at least the three creates.
    assert!(count("patron_writer_batch_size_count") >= 3.0);
    assert!(count("patron_writer_batch_size_sum") >= count("patron_writer_batch_size_count"));
    // Background writers (the security log, sessions) may have one queued.
    assert!(count("patron_writer_queue_depth") < 8.0);
    assert_eq!(count("patron_disk_full"), 0.0);
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_problems_quote_it() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    let made = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made.len(), 32, "{made}");

    // A caller's plain id is kept, end to end, and quoted in the problem.
    let r = app
        .client
        .get(app.url("/api/v1/customers"))
        .header("x-request-id", "till-3.sale-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "till-3.sale-42");
    let body = assert_problem(r, 401, None).await;
    assert_eq!(body["request_id"], "till-3.sale-42");

    // Anything else is replaced, never echoed.
    let r = app
        .client
        .get(app.url("/api/v1/customers"))
        .header("x-request-id", "<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    let body = assert_problem(r, 401, None).await;
    assert_eq!(body["request_id"].as_str(), Some(id.as_str()));
}

#[tokio::test]
async fn a_store_is_not_ready_while_hq_is_out_of_reach_and_hq_reports_its_stores() {
    let hq = spawn_app().await;
    let store = spawn_store_built(&hq, "S01", &format!("http://{}", hq.addr), |a| {
        a.with_readiness(patron_server::observe::Readiness {
            hq_unreachable_after: Duration::from_secs(1),
            started: std::time::Instant::now(),
        })
    })
    .await;
    let readyz = |app: &common::TestApp| {
        let (client, url) = (app.client.clone(), app.url("/readyz"));
        async move {
            let r = client.get(url).send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(readyz(&store.app).await.0, StatusCode::OK);

    store.cut();
    eventually("the store turns not ready", || async {
        let (status, body) = readyz(&store.app).await;
        status == StatusCode::SERVICE_UNAVAILABLE
            && body["reasons"][0]
                .as_str()
                .is_some_and(|r| r.contains("HQ has not been reached"))
    })
    .await;
    store.heal();
    // A change at HQ answers the store's waiting feed request at once (an
    // idle one returns only after its long-poll time).
    let t = hq.login("admin").await;
    hq.create(&t, json!({"first_name": "Wake", "last_name": "Up"}))
        .await;
    eventually("the store is ready again", || async {
        readyz(&store.app).await.0 == StatusCode::OK
    })
    .await;

    // HQ's metrics carry each store's sync figures.
    eventually("HQ reports S01", || async {
        let text = metrics(&hq).await;
        sample(&text, r#"patron_sync_online{store="S01"}"#) == Some(1.0)
            && sample(&text, r#"patron_sync_behind_changes{store="S01"}"#).is_some()
            && sample(&text, r#"patron_sync_refused_changes{store="S01"}"#) == Some(0.0)
    })
    .await;
    let text = metrics(&store.app).await;
    assert!(
        sample(&text, r#"patron_sync_pending_outbound{store="HQ"}"#).is_some(),
        "{text}"
    );
}

/// A small tmpfs, unmounted however the test ends.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap().keep();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Self(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Fills the file system holding `dir` with one file, to the last byte.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 * 1024];
    let mut small = vec![0u8; 4096];
    loop {
        if f.write_all(&block).is_err() {
            break;
        }
    }
    // What a 64 KiB write could not take, smaller ones can.
    while !small.is_empty() {
        if f.write_all(&small).is_err() {
            small.truncate(small.len() / 2);
        }
    }
    let _ = f.sync_all();
    path
}

/// Writes until the disk refuses one (after `fill`), then checks the answers,
/// readiness (when `readiness_probed`) and metrics; `free` gives space back and
/// writes resume.
async fn full_disk_then_room(
    app: &common::TestApp,
    fill: impl AsyncFnOnce(),
    free: impl AsyncFnOnce(),
    readiness_probed: bool,
) {
    let token = app.login("admin").await;
    let before = app
        .create(&token, json!({"first_name": "Before", "last_name": "Full"}))
        .await;
    fill().await;

    // Writes go on while the log has room; then the disk refuses one.
    let mut refused = None;
    let mut written = Vec::new();
    for i in 0..400 {
        let r = app
            .post(
                &token,
                "/api/v1/customers",
                &json!({"first_name": format!("Fill{i}"), "last_name": "Disk",
                        "email": format!("fill{i}@example.com"),
                        "notes": "x".repeat(900)}),
            )
            .await;
        match r.status() {
            StatusCode::CREATED => written.push(r.json::<Value>().await.unwrap()["id"].clone()),
            _ => {
                refused = Some((i, r));
                break;
            }
        }
    }
    let (i, r) = refused.expect("the disk never filled");
    let body = assert_problem(r, 507, None).await;
    assert_eq!(body["type"], "/problems/insufficient-storage");
    assert!(body["detail"].as_str().unwrap().contains("disk"), "{body}");
    assert!(body["request_id"].is_string());

    let text = metrics(app).await;
    assert_eq!(sample(&text, "patron_disk_full"), Some(1.0));
    if readiness_probed {
        let r = app.client.get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        let ready: Value = r.json().await.unwrap();
        assert!(
            ready["reasons"][0].as_str().unwrap().contains("disk"),
            "{ready}"
        );
    }
    // Reads still answer.
    let r = app
        .get(
            &token,
            &format!("/api/v1/customers/{}", before["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Space comes back: nobody restarts anything.
    free().await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post(
            &token,
            "/api/v1/customers",
            &json!({"first_name": "After", "last_name": "Full"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // Nothing half-written: every create answered 201 is there, the refused
    // one is not.
    for id in &written {
        let r = app
            .get(
                &token,
                &format!("/api/v1/customers/{}", id.as_str().unwrap()),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let found = app.search(&token, &format!("Fill{i}")).await;
    assert!(found.is_empty(), "the refused create left {found:?}");
    let problems = app.storage.check_integrity().await.unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test]
async fn a_full_disk_answers_507_turns_readyz_red_and_recovers_by_itself() {
    let Some(fs) = Tmpfs::mount("16m") else {
        eprintln!(
            "skipped: cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN); \
             the size-limited database test below still runs"
        );
        return;
    };
    let dir = tempfile::tempdir_in(&fs.0).unwrap();
    let app = spawn_app_in(dir, |_| {}, |a| a).await;
    let filler = fs.0.join("filler");
    full_disk_then_room(
        &app,
        async || {
            fill(&fs.0);
        },
        async || std::fs::remove_file(&filler).unwrap(),
        true,
    )
    .await;
}

/// Where no tmpfs can be mounted, the database capped at its size stands in.
#[tokio::test]
async fn a_size_limited_database_fails_and_recovers_like_a_full_disk() {
    let mut sqlite = None;
    let app = common::spawn_app_with(|s| sqlite = Some(s.clone())).await;
    let sqlite = sqlite.unwrap();
    full_disk_then_room(
        &app,
        async || sqlite.cap_size_for_tests(true).await.unwrap(),
        async || sqlite.cap_size_for_tests(false).await.unwrap(),
        // A size cap leaves free pages inside the file, where readiness's small
        // probe write still fits; a full disk (above) leaves none.
        false,
    )
    .await;
}

fn doctor(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_patron"))
        .arg("doctor")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_a_node_and_says_what_to_do() {
    let hq = spawn_app().await;
    let hq_dir = hq.dir.path().to_str().unwrap().to_owned();
    let (fine, text) = doctor(&["--data", &hq_dir]);
    assert!(fine, "{text}");
    for line in [
        "ok   database: integrity ok; HQ",
        "ok   disk:",
        "ok   files: database",
    ] {
        assert!(text.contains(line), "{line} in:\n{text}");
    }

    // A store: its backlog and its clock against HQ's.
    let store = common::nodes::spawn_store(&hq, "S03").await;
    let store_dir = store.app.dir.path().to_str().unwrap().to_owned();
    let hq_url = format!("http://{}", hq.addr);
    let (fine, text) = doctor(&[
        "--data", &store_dir, "--store", "S03", "--hq", &hq_url, "--token", "unused",
    ]);
    assert!(fine, "{text}");
    assert!(text.contains("ok   pending changes: 0 changes"), "{text}");
    // HQ's Date header has one-second steps: "ok" means within 2 s.
    assert!(text.contains("ok   clock: "), "{text}");
    // HQ names the store it has heard from.
    let (_, text) = doctor(&["--data", &hq_dir]);
    assert!(text.contains("ok   store: S03: last heard"), "{text}");

    // A certificate close to its end.
    let certs = tempfile::tempdir().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["hq.example".into()]).unwrap();
    let soon = time::OffsetDateTime::now_utc() + time::Duration::days(10);
    params.not_after = rcgen::date_time_ymd(soon.year(), soon.month() as u8, soon.day());
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (certs.path().join("c.pem"), certs.path().join("k.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let (fine, text) = doctor(&[
        "--data",
        &hq_dir,
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    assert!(fine, "a warning is not a failure: {text}");
    assert!(text.contains("WARN certificate:"), "{text}");
    assert!(text.contains("renew it"), "{text}");

    // A damaged database fails, with what to do.
    let broken = tempfile::tempdir().unwrap();
    let db = broken.path().join("patron.db");
    hq.storage.backup_into(&db).await.unwrap();
    let mut bytes = std::fs::read(&db).unwrap();
    let page = 4096;
    for b in &mut bytes[page * 3..page * 3 + 2000] {
        *b = 0x5a;
    }
    std::fs::write(&db, bytes).unwrap();
    let (fine, text) = doctor(&["--data", broken.path().to_str().unwrap()]);
    assert!(!fine, "{text}");
    assert!(text.contains("FAIL database:"), "{text}");
    assert!(text.contains("restore the latest backup"), "{text}");
}

#[tokio::test]
async fn stores_of_adjacent_versions_sync_and_one_too_old_is_told_to_upgrade() {
    let hq = spawn_app().await;
    let token = common::nodes::register(&hq, "S09").await;
    let feed = |headers: &[(&str, &str)]| {
        let mut req = hq
            .client
            .get(hq.url("/api/v1/sync/feed"))
            .query(&[("after", "0"), ("limit", "10")])
            .bearer_auth(&token)
            .header("x-patron-store", "S09");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
    };
    // Today's store, and one from before the protocol carried a number.
    let current = patron_sync::PROTOCOL.to_string();
    let r = feed(&[
        ("x-patron-protocol", &current),
        ("x-patron-protocol-min", &current),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(feed(&[]).await.unwrap().status(), StatusCode::OK);
    // A store newer than HQ that still speaks HQ's version is served.
    let next = (patron_sync::PROTOCOL + 1).to_string();
    let r = feed(&[
        ("x-patron-protocol", &next),
        ("x-patron-protocol-min", &current),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let r = feed(&[("x-patron-protocol", "0"), ("x-patron-protocol-min", "0")])
        .await
        .unwrap();
    let body = assert_problem(r, 426, None).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("upgrade the store"),
        "{body}"
    );
    let r = feed(&[("x-patron-protocol", "99"), ("x-patron-protocol-min", "98")])
        .await
        .unwrap();
    let body = assert_problem(r, 426, None).await;
    assert!(
        body["detail"].as_str().unwrap().contains("upgrade HQ"),
        "{body}"
    );
    let r = feed(&[("x-patron-protocol", "one")]).await.unwrap();
    assert_problem(r, 400, None).await;
}

#[tokio::test]
async fn a_starting_node_is_alive_but_not_ready_and_keeps_its_port() {
    use patron_server::starting::Starting;
    let starting = Starting::bind(
        "127.0.0.1:0".parse().unwrap(),
        None,
        patron_server::serve::Limits::default(),
    )
    .await
    .unwrap();
    let addr = starting.local_addr();
    starting.doing("upgrading the database");
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("http://{addr}{path}")).send();
    assert_eq!(get("/healthz").await.unwrap().status(), StatusCode::OK);
    let r = get("/readyz").await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["reasons"][0], "starting: upgrading the database");
    let r = get("/api/v1/customers").await.unwrap();
    assert_eq!(r.headers()["retry-after"], "5");
    let body = assert_problem(r, 503, None).await;
    assert_eq!(body["type"], "/problems/starting");

    // The same port goes on to serve the full API.
    let listener = starting.finish().await.unwrap();
    let storage: std::sync::Arc<dyn patron_storage::Storage> = std::sync::Arc::new(
        patron_sqlite::SqliteStorage::open(tempfile::tempdir().unwrap().keep().as_path()).unwrap(),
    );
    let app = patron_server::app::Application::build_on(listener, storage, None)
        .await
        .unwrap();
    assert_eq!(app.spawn().unwrap(), addr);
    let r = get("/readyz").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[test]
fn a_database_from_a_newer_release_is_refused_with_a_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    drop(patron_sqlite::SqliteStorage::open(dir.path()).unwrap());
    let db = dir.path().join(patron_sqlite::DB_FILE);
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_patron"))
            .args(args)
            .env("RUST_LOG", "off")
            .output()
            .unwrap()
    };
    let data = dir.path().to_str().unwrap();
    let out = run(&["serve", "--data", data, "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("the database is from a newer Patron (schema 999"),
        "{err}"
    );

    let (fine, text) = doctor(&["--data", data]);
    assert!(!fine);
    assert!(
        text.contains("FAIL database: schema 999 is newer"),
        "{text}"
    );

    let other = tempfile::tempdir().unwrap();
    let out = run(&[
        "restore",
        "--from",
        db.to_str().unwrap(),
        "--data",
        other.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is from a newer Patron (schema 999"), "{err}");
}

#[test]
fn settings_come_from_the_file_then_the_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("patron.toml");
    let from_file = dir.path().join("from-file");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:0\"\ndata = \"{}\"\n[log]\nlevel = \"warn\"\nformat = \"json\"\n[sync]\nmax_skew_ms = 5000\n",
            from_file.display()
        ),
    )
    .unwrap();
    let patron = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_patron"));
        cmd.args(args).env_remove("RUST_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    };
    let out = patron(
        &[
            "config",
            "check",
            "--config",
            file.to_str().unwrap(),
            "--max-skew-ms",
            "7000",
        ],
        &[("PATRON_LOG_LEVEL", "debug")],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("{key} in {text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line("listen"), "listen = 127.0.0.1:0 (file)");
    assert_eq!(line("log.level"), "log.level = debug (environment)");
    assert_eq!(line("sync.max_skew_ms"), "sync.max_skew_ms = 7000 (flag)");
    assert!(text.ends_with("ok\n"), "{text}");

    // serve runs with what the file says: its data directory, its log format.
    let mut child = patron(&["serve", "--config", file.to_str().unwrap()], &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let lines: Vec<String> = std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .take(3)
        .map(Result::unwrap)
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines[2].contains(from_file.to_str().unwrap()), "{lines:?}");
    assert!(from_file.join("patron.db").exists());

    // A mistake in the file stops serve with one line naming the key.
    std::fs::write(&file, "[sync]\nmax_skew_ms = -1\n").unwrap();
    let out = patron(&["serve", "--config", file.to_str().unwrap()], &[])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("max_skew_ms"), "{err}");
}
