//! Starts the real server on a random loopback port over a fresh data directory.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod nodes;
pub mod openapi;
pub mod process;
pub mod smtp;

use patron_domain::{Role, Username};
use patron_server::app::Application;
use patron_sqlite::SqliteStorage;
use patron_storage::{Actor, NewUser, Storage};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

pub const PASSWORD: &str = "test-password-1";

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: Client,
    pub storage: Arc<dyn Storage>,
    pub dir: tempfile::TempDir,
}

/// A test user's operation key (argon2 as well), computed once per name.
pub fn op_key(name: &str) -> String {
    static KEYS: OnceLock<std::sync::Mutex<std::collections::HashMap<String, String>>> =
        OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    let mut keys = keys.lock().unwrap();
    keys.entry(name.to_owned())
        .or_insert_with(|| patron_server::auth::op_key_hex(name, PASSWORD))
        .clone()
}

fn password_hash() -> String {
    // Hashing is deliberately slow; every test user shares one hash.
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| patron_server::auth::hash_password(PASSWORD).unwrap())
        .clone()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with the storage adjusted first (its deadlines, say).
pub async fn spawn_app_with(configure: impl FnOnce(&SqliteStorage)) -> TestApp {
    spawn_app_built(configure, |a| a).await
}

/// Like [`spawn_app`], with the storage and the application adjusted first
/// (a mail server, say).
pub async fn spawn_app_built(
    configure: impl FnOnce(&SqliteStorage),
    build: impl FnOnce(Application) -> Application,
) -> TestApp {
    spawn_app_in(tempfile::tempdir().unwrap(), configure, build).await
}

/// Like [`spawn_app_built`], over a data directory the test chose (on a
/// small file system, say).
pub async fn spawn_app_in(
    dir: tempfile::TempDir,
    configure: impl FnOnce(&SqliteStorage),
    build: impl FnOnce(Application) -> Application,
) -> TestApp {
    let sqlite = SqliteStorage::open(dir.path()).unwrap();
    configure(&sqlite);
    let storage: Arc<dyn Storage> = Arc::new(sqlite);
    for (name, role) in [
        ("admin", Role::ADMIN),
        ("manager", Role::MANAGER),
        ("cashier", Role::CASHIER),
    ] {
        storage
            .create_user(
                &Actor::new("test"),
                NewUser {
                    username: Username::parse(name).unwrap(),
                    role,
                    password_hash: password_hash(),
                    store: None,
                    op_key: Some(op_key(name)),
                },
            )
            .await
            .unwrap();
    }
    let app = Application::build(storage.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = build(app).spawn().unwrap();
    TestApp {
        addr,
        client: Client::new(),
        storage,
        dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn login(&self, username: &str) -> String {
        let r = self
            .client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        let req = self.client.get(self.url(path)).bearer_auth(token);
        checked("GET", path, req).await
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        let req = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body);
        let r = checked("POST", path, req).await;
        openapi::validate_accepted_request("POST", path, r.status().as_u16(), body);
        r
    }

    pub async fn patch(&self, token: &str, path: &str, body: &Value) -> Response {
        let req = self
            .client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body);
        let r = checked("PATCH", path, req).await;
        openapi::validate_accepted_request("PATCH", path, r.status().as_u16(), body);
        r
    }

    /// Creates a customer as admin and returns its JSON.
    pub async fn create(&self, token: &str, body: Value) -> Value {
        let r = self.post(token, "/api/v1/customers", &body).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
        r.json().await.unwrap()
    }

    pub async fn search(&self, token: &str, q: &str) -> Vec<String> {
        let r = self
            .client
            .get(self.url("/api/v1/customers"))
            .query(&[("q", q)])
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.unwrap();
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// Sends `req` and checks the answer against the OpenAPI document (its status
/// declared, its JSON body matching the schema) before handing it back.
pub async fn checked(method: &str, path: &str, req: reqwest::RequestBuilder) -> Response {
    let r = req.send().await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap();
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    openapi::validate(method, path, status.as_u16(), ct, &bytes);
    let mut back = http::Response::new(bytes);
    *back.status_mut() = status;
    *back.headers_mut() = headers;
    Response::from(back)
}

/// A child process killed however the test ends: a failing test never leaves
/// a server running (holding the test's output pipe open).
pub struct KillOnDrop(pub std::process::Child);

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Asserts a problem+json response with `status`, naming `field` if given.
pub async fn assert_problem(r: Response, status: u16, field: Option<&str>) -> Value {
    let got = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "body: {body}");
    assert_eq!(
        ct.as_deref(),
        Some("application/problem+json"),
        "body: {body}"
    );
    assert_eq!(body["status"].as_u64(), Some(u64::from(status)));
    assert!(body["detail"].is_string(), "{body}");
    if let Some(f) = field {
        assert_eq!(body["field"].as_str(), Some(f), "body: {body}");
    }
    body
}
