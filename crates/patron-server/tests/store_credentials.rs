//! Issue 10: a store's credentials are bound to it and can be taken back; a
//! store's replica holds what that store needs and nothing more; account
//! changes at HQ end sessions at the stores.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::nodes::{eventually, register, spawn_store};
use common::{TestApp, assert_problem, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn feed(hq: &TestApp, token: &str, store: Option<&str>) -> reqwest::Response {
    let mut req = hq
        .client
        .get(hq.url("/api/v1/sync/feed?after=0&limit=1"))
        .bearer_auth(token);
    if let Some(s) = store {
        req = req.header("x-patron-store", s);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_token_is_bound_to_its_store_and_can_be_revoked_and_rotated() {
    let hq = spawn_app().await;
    let admin = hq.login("admin").await;
    let s1 = register(&hq, "S01").await;
    register(&hq, "S02").await;
    assert_eq!(feed(&hq, &s1, Some("S01")).await.status(), 200);
    // S01's token on a node that says it is S02, or says nothing: refused.
    assert_problem(feed(&hq, &s1, Some("S02")).await, 401, None).await;
    assert_problem(feed(&hq, &s1, None).await, 401, None).await;

    // Only stores.manage revokes; a revocation takes effect on the next request.
    let cashier = hq.login("cashier").await;
    let r = hq
        .post(&cashier, "/api/v1/stores/S01/revoke", &json!({}))
        .await;
    assert_problem(r, 403, None).await;
    let r = hq
        .post(&admin, "/api/v1/stores/S01/revoke", &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap()["revoked_at"].is_string());
    assert_problem(feed(&hq, &s1, Some("S01")).await, 401, None).await;
    let r = hq
        .post(&admin, "/api/v1/stores/S77/revoke", &json!({}))
        .await;
    assert_problem(r, 404, None).await;

    // A new token works at once; the old one never again.
    let r = hq
        .post(&admin, "/api/v1/stores/S01/rotate-token", &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let fresh = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(fresh, s1);
    assert_eq!(feed(&hq, &fresh, Some("S01")).await.status(), 200);
    assert_problem(feed(&hq, &s1, Some("S01")).await, 401, None).await;

    // Each of these is in the security log, with who did it.
    let v: Value = hq
        .get(&admin, "/api/v1/reports/security?kind=store-token")
        .await
        .json()
        .await
        .unwrap();
    let details: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert!(details.contains(&"revoked the sync token of store S01"));
    assert!(details.contains(&"rotated the sync token of store S01"));
}

async fn create_user(hq: &TestApp, admin: &str, name: &str, role: &str, store: Option<&str>) {
    let r = hq
        .post(
            admin,
            "/api/v1/users",
            &json!({"username": name, "password": "a fine password", "role": role, "store": store}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
}

async fn hash_at(app: &TestApp, name: &str) -> Option<String> {
    let u = patron_domain::Username::parse(name).unwrap();
    app.storage
        .user_credentials(&u)
        .await
        .unwrap()
        .map(|(_, h)| h)
}

async fn sign_in(app: &TestApp, name: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": name, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_holds_only_its_own_credentials_and_loses_them_with_hq() {
    let hq = spawn_app().await;
    let admin = hq.login("admin").await;
    let s1 = spawn_store(&hq, "S01").await;
    register(&hq, "S02").await;
    create_user(&hq, &admin, "ann.s1", "cashier", Some("S01")).await;
    create_user(&hq, &admin, "bob.s2", "cashier", Some("S02")).await;
    eventually(
        "S01's user can sign in at S01, S02's is known there",
        || async {
            hash_at(&s1.app, "ann.s1")
                .await
                .is_some_and(|h| !h.is_empty())
                && hash_at(&s1.app, "bob.s2").await.is_some()
        },
    )
    .await;
    // S02's user is known at S01 (a name, a role) but has no password hash there.
    assert_eq!(hash_at(&s1.app, "bob.s2").await.as_deref(), Some(""));
    assert_eq!(
        sign_in(&s1.app, "bob.s2", "a fine password").await.status(),
        401
    );
    let r = sign_in(&s1.app, "ann.s1", "a fine password").await;
    assert_eq!(r.status(), 200);
    let ann = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s1.app.get(&ann, "/api/v1/auth/me").await.status(), 200);
    let manager = s1.app.login("manager").await;

    // Deactivated at HQ: her session at the store ends as the change arrives.
    let r = hq
        .patch(&admin, "/api/v1/users/ann.s1", &json!({"active": false}))
        .await;
    assert_eq!(r.status(), 200);
    eventually("the deactivation reached S01", || async {
        s1.app.get(&ann, "/api/v1/auth/me").await.status() == 401
    })
    .await;
    assert_eq!(
        sign_in(&s1.app, "ann.s1", "a fine password").await.status(),
        401
    );

    // A password reset at HQ ends the manager's session at the store, and the
    // new password works there.
    let r = hq
        .post(
            &admin,
            "/api/v1/users/manager/password",
            &json!({"password": "a brand new secret"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    eventually("the new password reached S01", || async {
        s1.app.get(&manager, "/api/v1/auth/me").await.status() == 401
            && sign_in(&s1.app, "manager", "a brand new secret")
                .await
                .status()
                == 200
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_holds_nothing_that_is_hqs_alone_or_another_stores() {
    let hq = spawn_app().await;
    let admin = hq.login("admin").await;
    let s1 = register(&hq, "S01").await;
    let s2 = register(&hq, "S02").await;
    create_user(&hq, &admin, "ann.s1", "cashier", Some("S01")).await;
    create_user(&hq, &admin, "bob.s2", "cashier", Some("S02")).await;
    create_user(&hq, &admin, "gone", "cashier", None).await;
    let r = hq
        .patch(&admin, "/api/v1/users/gone", &json!({"active": false}))
        .await;
    assert_eq!(r.status(), 200);
    // S02 leases codes: a lease S01 must not see.
    let r = hq
        .client
        .post(hq.url("/api/v1/sync/codes"))
        .bearer_auth(&s2)
        .header("x-patron-store", "S02")
        .json(&json!({"count": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.db");
    let link = patron_sync::HqLink::new(&format!("http://{}", hq.addr), &s1, "S01", None).unwrap();
    patron_sync::download_snapshot(&link, &file).await.unwrap();
    let c = rusqlite::Connection::open(&file).unwrap();
    let count = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM sessions"), 0, "HQ's sessions");
    assert_eq!(
        count("SELECT count(*) FROM stores"),
        0,
        "stores' token hashes"
    );
    assert_eq!(count("SELECT count(*) FROM code_blocks"), 0, "leases");
    assert_eq!(count("SELECT count(*) FROM security_events"), 0);
    assert_eq!(
        count("SELECT count(*) FROM users WHERE op_key IS NOT NULL"),
        0,
        "operation keys"
    );
    let hash = |name: &str| -> String {
        c.query_row(
            "SELECT password_hash FROM users WHERE username = ?1",
            [name],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert!(hash("ann.s1").starts_with("$argon2id$"));
    assert!(hash("admin").starts_with("$argon2id$"));
    assert_eq!(hash("bob.s2"), "", "another store's user");
    assert_eq!(hash("gone"), "", "an inactive user");
    // Deleted rows are zeroed, not left in free pages.
    let bytes = std::fs::read(&file).unwrap();
    let token_hash = patron_server::auth::hash_token(&s2);
    assert!(
        !bytes
            .windows(token_hash.len())
            .any(|w| w == token_hash.as_bytes()),
        "S02's token hash is in S01's snapshot"
    );
}
