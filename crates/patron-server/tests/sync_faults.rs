//! Faults between real nodes: a slow link that answers after the store gave
//! up waiting, and HQ killed with SIGKILL while stores sell. After each, every
//! node holds the same orders and balances, each balance equals its ledger, no
//! acknowledged sale is lost and none is counted twice.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::nodes::*;
use common::{TestApp, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A TCP proxy in front of HQ whose answers can be held back.
struct SlowLink {
    addr: std::net::SocketAddr,
    delay_ms: Arc<AtomicU64>,
}

impl SlowLink {
    async fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let delay_ms = Arc::new(AtomicU64::new(0));
        let delay = delay_ms.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    continue;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                    let _ = sw.shutdown().await;
                });
                let delay = delay.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let d = delay.load(Ordering::SeqCst);
                        if d > 0 {
                            tokio::time::sleep(Duration::from_millis(d)).await;
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Self { addr, delay_ms }
    }
}

async fn credit_entries(app: &TestApp, t: &str, id: &str) -> (i64, Vec<Value>) {
    let v: Value = app
        .get(t, &format!("/api/v1/customers/{id}/ledger?account=credit"))
        .await
        .json()
        .await
        .unwrap();
    (
        v["balances"]["credit"]["balance"].as_i64().unwrap(),
        v["items"].as_array().unwrap().clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorisation_answered_too_late_redeems_once() {
    let hq = spawn_app().await;
    let th = hq.login("admin").await;
    let r = hq
        .patch(
            &th,
            "/api/v1/loyalty/settings",
            &json!({"offline_redeem_cap": 10_000}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let c = hq
        .create(&th, json!({"first_name": "Lena", "last_name": "Late"}))
        .await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let r = hq
        .post(
            &th,
            &format!("/api/v1/customers/{cid}/ledger"),
            &json!({"account": "credit", "kind": "top-up", "amount": 10_000, "reason": "gift"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let link = SlowLink::start(hq.addr).await;
    let s1 = spawn_store_via(&hq, "S01", &format!("http://{}", link.addr)).await;
    let t1 = s1.app.login("admin").await;
    eventually("credit at the store", || async {
        get_customer(&s1.app, &t1, &cid).await["balances"]["credit"]["balance"] == 10_000
    })
    .await;
    // HQ records the authorisation, but its answer comes after the store's
    // 2 s wait: the store sells on its offline path.
    link.delay_ms.store(3_000, Ordering::SeqCst);
    let order = json!({"id": "late-1", "customer": cid, "lines": [{"sku": "A", "name": "A", "quantity": 1, "unit_price": 5_000}], "redeem_credit": 3_000});
    let r = s1.app.post(&t1, "/api/v1/orders", &order).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    // Pressed again while the answer is still out: the same sale.
    let r = s1.app.post(&t1, "/api/v1/orders", &order).await;
    assert_eq!(r.status(), StatusCode::OK);
    link.delay_ms.store(0, Ordering::SeqCst);
    eventually("the sale at HQ", || async {
        hq.get(&th, "/api/v1/orders/late-1").await.status() == StatusCode::OK
    })
    .await;
    eventually("the same balance everywhere", || async {
        credit_entries(&hq, &th, &cid).await.0 == 7_000
            && credit_entries(&s1.app, &t1, &cid).await.0 == 7_000
    })
    .await;
    for (app, t) in [(&hq, &th), (&s1.app, &t1)] {
        let (balance, items) = credit_entries(app, t, &cid).await;
        let sum: i64 = items.iter().map(|e| e["amount"].as_i64().unwrap()).sum();
        assert_eq!(sum, balance, "balance equals its ledger");
        let redemptions = items.iter().filter(|e| e["kind"] == "redeem").count();
        assert_eq!(redemptions, 1, "{items:?}");
    }
    let od: Value = hq
        .get(&th, "/api/v1/reports/overdrafts")
        .await
        .json()
        .await
        .unwrap();
    assert!(od["items"].as_array().unwrap().is_empty(), "{od}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_hq(dir: &std::path::Path, port: u16) -> common::KillOnDrop {
    common::KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_patron"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data")
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

async fn wait_up(url: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = reqwest::get(format!("{url}/healthz")).await
            && r.status() == StatusCode::OK
        {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "HQ never came up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// HQ as a real process, killed with SIGKILL while a store sells with
/// redemptions, and started again on its data: afterwards both hold the same
/// sales and balances, each balance equals its ledger, every sale the store
/// acknowledged is at HQ once, and every redemption counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hq_killed_under_load_loses_and_doubles_nothing() {
    use patron_storage::Storage as _;
    let hq_dir = tempfile::tempdir().unwrap();
    let token = patron_server::http::sync::new_store_token().unwrap();
    let customer;
    {
        let storage = patron_sqlite::SqliteStorage::open(hq_dir.path()).unwrap();
        storage
            .create_user(
                &patron_storage::Actor::new("t"),
                patron_storage::NewUser {
                    username: patron_domain::Username::parse("admin").unwrap(),
                    role: patron_domain::Role::ADMIN,
                    password_hash: patron_server::auth::hash_password(common::PASSWORD).unwrap(),
                    store: None,
                    op_key: Some(common::op_key("admin")),
                },
            )
            .await
            .unwrap();
        storage
            .register_store(
                &patron_domain::StoreId::parse("S01").unwrap(),
                "Kill HQ",
                &patron_server::auth::hash_token(&token),
            )
            .await
            .unwrap();
        let mut s = storage.loyalty_settings().await.unwrap();
        s.offline_redeem_cap = 100_000;
        storage
            .update_loyalty_settings(&patron_storage::Actor::new("t"), &s)
            .await
            .unwrap();
        let c = storage
            .create_customer(
                &patron_storage::Actor::new("t"),
                patron_storage::NewCustomer {
                    data: patron_domain::CustomerDraft::parse(
                        [
                            (patron_domain::customer::Field::FirstName, "Kim".to_owned()),
                            (
                                patron_domain::customer::Field::LastName,
                                "Killed".to_owned(),
                            ),
                        ],
                        &patron_domain::customer::ParseContext {
                            region: Default::default(),
                            today: time::OffsetDateTime::now_utc().date(),
                        },
                    )
                    .unwrap(),
                    origin_store: None,
                },
            )
            .await
            .unwrap();
        storage
            .post_entry(
                &patron_storage::Actor::new("t"),
                &patron_storage::CustomerKey::Id(c.id),
                patron_storage::ManualEntry {
                    account: patron_domain::loyalty::Account::Credit,
                    kind: patron_domain::loyalty::EntryKind::TopUp,
                    amount: 100_000,
                    reason: "gift".into(),
                    idempotency_key: None,
                },
                time::OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
        customer = c.id.to_string();
    }
    let port = free_port();
    let hq_url = format!("http://127.0.0.1:{port}");
    let mut hq = start_hq(hq_dir.path(), port);
    wait_up(&hq_url).await;

    // The store, in this process, following HQ.
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn patron_storage::Storage> =
        Arc::new(patron_sqlite::SqliteStorage::open(dir.path()).unwrap());
    storage
        .become_store(&patron_domain::StoreId::parse("S01").unwrap())
        .await
        .unwrap();
    let sync = Arc::new(
        patron_sync::SyncClient::new(
            storage.clone(),
            &patron_sync::HqLink::new(&hq_url, &token, "S01", None).unwrap(),
        )
        .spawn(),
    );
    let app = patron_server::app::Application::build_with_sync(
        storage.clone(),
        "127.0.0.1:0".parse().unwrap(),
        Some(sync.clone()),
    )
    .await
    .unwrap();
    let store = TestApp {
        addr: app.spawn().unwrap(),
        client: reqwest::Client::new(),
        storage,
        dir,
    };
    eventually("the customer's credit at the store", || async {
        store
            .storage
            .balances(
                &patron_storage::CustomerKey::Id(customer.parse().unwrap()),
                time::OffsetDateTime::now_utc(),
            )
            .await
            .map(|b| b.credit.balance == 100_000)
            .unwrap_or(false)
    })
    .await;
    eventually("the admin's credentials at the store", || async {
        let admin = patron_domain::Username::parse("admin").unwrap();
        matches!(store.storage.user_credentials(&admin).await, Ok(Some((_, h))) if !h.is_empty())
    })
    .await;
    let t = store.login("admin").await;
    let mut sold = Vec::new();
    for i in 0..60 {
        if i == 20 {
            hq.kill().unwrap();
            hq.wait().unwrap();
        }
        if i == 40 {
            hq = start_hq(hq_dir.path(), port);
        }
        let id = format!("k-{i}");
        let r = store
            .post(
                &t,
                "/api/v1/orders",
                &json!({"id": id, "customer": customer, "lines": [{"sku": "A", "name": "A", "quantity": 1, "unit_price": 1_000}], "redeem_credit": 100}),
            )
            .await;
        assert!(r.status().is_success(), "{:?}", r.text().await);
        sold.push(id);
        let r = store
            .post(
                &t,
                "/api/v1/customers",
                &json!({"first_name": format!("Walk{i}"), "last_name": "In"}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    wait_up(&hq_url).await;
    let hq_app = TestApp {
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
        client: reqwest::Client::new(),
        storage: store.storage.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    let th = hq_app.login("admin").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut missing = 0;
        for id in &sold {
            if hq_app
                .get(&th, &format!("/api/v1/orders/{id}"))
                .await
                .status()
                != StatusCode::OK
            {
                missing += 1;
            }
        }
        if missing == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{missing} acknowledged sales never reached HQ"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eventually("the same credit everywhere", || async {
        credit_entries(&hq_app, &th, &customer).await.0 == 100_000 - 60 * 100
            && credit_entries(&store, &t, &customer).await.0 == 100_000 - 60 * 100
    })
    .await;
    for (app, tok) in [(&hq_app, &th), (&store, &t)] {
        let (balance, items) = credit_entries(app, tok, &customer).await;
        let sum: i64 = items.iter().map(|e| e["amount"].as_i64().unwrap()).sum();
        assert_eq!(sum, balance);
        assert_eq!(items.iter().filter(|e| e["kind"] == "redeem").count(), 60);
    }
    assert_eq!(
        hq_app.search(&th, "In").await.len(),
        store.search(&t, "In").await.len()
    );
    hq.kill().unwrap();
    hq.wait().unwrap();
    drop(sync);
}
