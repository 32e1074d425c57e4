//! HQ and store nodes as real servers on loopback, for the sync suites.

use super::TestApp;
use patron_server::app::Application;
use patron_sqlite::SqliteStorage;
use patron_storage::Storage;
use patron_sync::{SyncClient, SyncHandle};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Store {
    pub app: TestApp,
    pub sync: Arc<SyncHandle>,
}

impl Store {
    pub fn cut(&self) {
        self.sync.link.set_up(false);
    }
    pub fn heal(&self) {
        self.sync.link.set_up(true);
    }
}

pub async fn register(hq: &TestApp, id: &str) -> String {
    let t = hq.login("admin").await;
    let r = hq
        .post(
            &t,
            "/api/v1/stores",
            &json!({"id": id, "name": format!("Store {id}")}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    v["token"].as_str().unwrap().to_owned()
}

pub async fn spawn_store(hq: &TestApp, id: &str) -> Store {
    spawn_store_via(hq, id, &format!("http://{}", hq.addr)).await
}

/// A store reaching HQ at `hq_url` (a proxy in front of HQ, say).
pub async fn spawn_store_via(hq: &TestApp, id: &str, hq_url: &str) -> Store {
    spawn_store_built(hq, id, hq_url, |a| a).await
}

/// Like [`spawn_store_via`], with the application adjusted first.
pub async fn spawn_store_built(
    hq: &TestApp,
    id: &str,
    hq_url: &str,
    build: impl FnOnce(Application) -> Application,
) -> Store {
    let token = register(hq, id).await;
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(dir.path()).unwrap());
    storage
        .become_store(&patron_domain::StoreId::parse(id).unwrap())
        .await
        .unwrap();
    let sync = Arc::new(
        SyncClient::new(
            storage.clone(),
            &patron_sync::HqLink::new(hq_url, &token, id, None).unwrap(),
        )
        .spawn(),
    );
    let app = Application::build_with_sync(
        storage.clone(),
        "127.0.0.1:0".parse().unwrap(),
        Some(sync.clone()),
    )
    .await
    .unwrap();
    let addr = build(app).spawn().unwrap();
    let app = TestApp {
        addr,
        client: reqwest::Client::new(),
        storage,
        dir,
    };
    // HQ's users arrive with the first pull, their password hashes just after.
    eventually("users replicated", || async {
        let admin = patron_domain::Username::parse("admin").unwrap();
        app.storage.users().await.map(|u| u.len() >= 3).unwrap_or(false)
            && matches!(app.storage.user_credentials(&admin).await, Ok(Some((_, h))) if !h.is_empty())
    })
    .await;
    Store { app, sync }
}

pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

pub async fn find(app: &TestApp, token: &str, q: &str) -> Vec<Value> {
    let r = app
        .client
        .get(app.url("/api/v1/customers"))
        .query(&[("q", q), ("active", "all")])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    v["items"].as_array().unwrap().clone()
}

/// A customer's totals, balances, groups and history, as `GET …/activity` answers.
pub async fn activity(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(token, &format!("/api/v1/customers/{id}/activity"))
        .await
        .json()
        .await
        .unwrap()
}

pub async fn get_customer(app: &TestApp, token: &str, id: &str) -> Value {
    // Not there yet (still replicating) reads as null.
    let r = app.get(token, &format!("/api/v1/customers/{id}")).await;
    if r.status() != StatusCode::OK {
        return Value::Null;
    }
    r.json().await.unwrap()
}
