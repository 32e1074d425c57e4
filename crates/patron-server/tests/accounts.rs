//! Issue 10: accounts that can be taken back at once, roles as permission
//! sets, and the security log — through the real HTTP API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{PASSWORD, TestApp, assert_problem, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn login_as(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn token_of(r: reqwest::Response) -> String {
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn create_user(app: &TestApp, admin: &str, username: &str, role: &str) {
    let r = app
        .post(
            admin,
            "/api/v1/users",
            &json!({"username": username, "password": "a fine password", "role": role}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
}

#[tokio::test]
async fn deactivation_and_a_new_password_end_sessions_at_once() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    create_user(&app, &admin, "dana", "cashier").await;
    let dana = token_of(login_as(&app, "dana", "a fine password").await).await;
    assert_eq!(app.get(&dana, "/api/v1/customers").await.status(), 200);

    // Deactivated: the very next request is refused (no cache window).
    let r = app
        .patch(&admin, "/api/v1/users/dana", &json!({"active": false}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["active"], false);
    assert_eq!(app.get(&dana, "/api/v1/customers").await.status(), 401);
    assert_eq!(
        login_as(&app, "dana", "a fine password").await.status(),
        401
    );

    // Reactivated: signs in again, the old session stays ended.
    let r = app
        .patch(&admin, "/api/v1/users/dana", &json!({"active": true}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.get(&dana, "/api/v1/customers").await.status(), 401);
    let dana = token_of(login_as(&app, "dana", "a fine password").await).await;

    // An administrator's reset: the session ends, the old password is refused.
    let r = app
        .post(
            &admin,
            "/api/v1/users/dana/password",
            &json!({"password": "password"}),
        )
        .await;
    assert_problem(r, 422, Some("password")).await;
    let r = app
        .post(
            &admin,
            "/api/v1/users/dana/password",
            &json!({"password": "another fine one"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&dana, "/api/v1/customers").await.status(), 401);
    assert_eq!(
        login_as(&app, "dana", "a fine password").await.status(),
        401
    );
    let dana = token_of(login_as(&app, "dana", "another fine one").await).await;

    // Her own change needs the current password and ends every session of hers.
    let dana2 = token_of(login_as(&app, "dana", "another fine one").await).await;
    let r = app
        .post(
            &dana,
            "/api/v1/auth/password",
            &json!({"current_password": "wrong one!", "new_password": "my own choice 1"}),
        )
        .await;
    assert_problem(r, 422, Some("current_password")).await;
    let r = app
        .post(
            &dana,
            "/api/v1/auth/password",
            &json!({"current_password": "another fine one", "new_password": "dana"}),
        )
        .await;
    assert_problem(r, 422, Some("new_password")).await;
    let r = app
        .post(
            &dana,
            "/api/v1/auth/password",
            &json!({"current_password": "another fine one", "new_password": "my own choice 1"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&dana, "/api/v1/auth/me").await.status(), 401);
    assert_eq!(app.get(&dana2, "/api/v1/auth/me").await.status(), 401);
    token_of(login_as(&app, "dana", "my own choice 1").await).await;

    // Sign-out ends that session at once.
    let t = token_of(login_as(&app, "dana", "my own choice 1").await).await;
    let r = app.post(&t, "/api/v1/auth/logout", &json!({})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&t, "/api/v1/auth/me").await.status(), 401);
}

#[tokio::test]
async fn roles_are_permission_sets_and_nobody_grants_more_than_they_hold() {
    let app = spawn_app().await;
    let admin = app.login("admin").await;
    let r = app
        .post(
            &admin,
            "/api/v1/roles",
            &json!({"name": "View-Only", "permissions": ["customers.view", "reports.view"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["name"], "view-only");
    assert_eq!(v["built_in"], false);
    let r = app
        .post(
            &admin,
            "/api/v1/roles",
            &json!({"name": "bad", "permissions": ["customers.view", "root"]}),
        )
        .await;
    assert_problem(r, 422, Some("permissions[1]")).await;
    let r = app
        .post(
            &admin,
            "/api/v1/roles",
            &json!({"name": "admin", "permissions": []}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    create_user(&app, &admin, "viewer", "view-only").await;
    let viewer = token_of(login_as(&app, "viewer", "a fine password").await).await;
    let me: Value = app
        .get(&viewer, "/api/v1/auth/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "view-only");
    assert_eq!(me["permissions"], json!(["customers.view", "reports.view"]));
    assert_eq!(app.get(&viewer, "/api/v1/customers").await.status(), 200);
    let r = app
        .post(
            &viewer,
            "/api/v1/customers",
            &json!({"first_name": "A", "last_name": "B"}),
        )
        .await;
    assert_problem(r, 403, None).await;

    // Redefined: the user holds the new set on the next request.
    let r = app
        .client
        .put(app.url("/api/v1/roles/view-only"))
        .bearer_auth(&admin)
        .json(&json!({"permissions": ["customers.view", "customers.create"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .post(
            &viewer,
            "/api/v1/customers",
            &json!({"first_name": "A", "last_name": "B"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // A role in use cannot be deleted; a built-in one never.
    let del = |name: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.client
                .delete(app.url(&format!("/api/v1/roles/{name}")))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(del("view-only").await.status(), StatusCode::CONFLICT);
    assert_problem(del("cashier").await, 422, Some("name")).await;

    // A user manager who is not an admin cannot hand out what they lack.
    let r = app
        .post(
            &admin,
            "/api/v1/roles",
            &json!({"name": "people", "permissions": ["users.manage", "customers.view"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    create_user(&app, &admin, "hrpat", "people").await;
    let hr = token_of(login_as(&app, "hrpat", "a fine password").await).await;
    let r = app
        .post(
            &hr,
            "/api/v1/users",
            &json!({"username": "boss", "password": "a fine password", "role": "admin"}),
        )
        .await;
    assert_problem(r, 422, Some("role")).await;
    let r = app
        .post(
            &hr,
            "/api/v1/roles",
            &json!({"name": "sneaky", "permissions": ["settings.manage"]}),
        )
        .await;
    assert_problem(r, 422, Some("permissions")).await;
    let r = app
        .patch(&hr, "/api/v1/users/admin", &json!({"active": false}))
        .await;
    assert_problem(r, 403, None).await;
    // viewer's role now holds customers.create, which hr lacks.
    let r = app
        .patch(&hr, "/api/v1/users/viewer", &json!({"active": false}))
        .await;
    assert_problem(r, 403, None).await;
    let r = app
        .post(
            &admin,
            "/api/v1/roles",
            &json!({"name": "looker", "permissions": ["customers.view"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    create_user(&app, &admin, "lou", "looker").await;
    let r = app
        .patch(&hr, "/api/v1/users/lou", &json!({"active": false}))
        .await;
    assert_eq!(r.status(), 200);

    // Nothing may leave HQ without an active user who can manage users.
    let r = app
        .patch(&admin, "/api/v1/users/hrpat", &json!({"active": false}))
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .patch(&admin, "/api/v1/users/admin", &json!({"active": false}))
        .await;
    assert_problem(r, 409, Some("role")).await;
    let r = app
        .patch(&admin, "/api/v1/users/admin", &json!({"role": "manager"}))
        .await;
    assert_problem(r, 409, Some("role")).await;

    // A store must be registered before it has users.
    let r = app
        .post(
            &admin,
            "/api/v1/users",
            &json!({"username": "far", "password": "a fine password", "role": "cashier", "store": "S99"}),
        )
        .await;
    assert_problem(r, 422, Some("store")).await;
    let r = app
        .patch(&admin, "/api/v1/users/viewer", &json!({"store": "S99"}))
        .await;
    assert_problem(r, 422, Some("store")).await;
    let r = app
        .patch(&admin, "/api/v1/users/viewer", &json!({"colour": "red"}))
        .await;
    assert_problem(r, 422, Some("colour")).await;
    let r = app
        .patch(&admin, "/api/v1/users/nobody", &json!({"active": false}))
        .await;
    assert_problem(r, 404, None).await;
}

#[tokio::test]
async fn the_security_log_records_who_from_where_and_when() {
    let app = spawn_app().await;
    assert_eq!(
        login_as(&app, "cashier", "wrong password").await.status(),
        401
    );
    let cashier = app.login("cashier").await;
    // A refused request, with the user it came from.
    let r = app.get(&cashier, "/api/v1/users").await;
    assert_eq!(r.status(), 403);
    let r = app.get("not-a-token", "/api/v1/customers").await;
    assert_eq!(r.status(), 401);
    let admin = app.login("admin").await;
    create_user(&app, &admin, "erin", "cashier").await;
    let r = app
        .patch(&admin, "/api/v1/users/erin", &json!({"role": "manager"}))
        .await;
    assert_eq!(r.status(), 200);

    // Reading the log needs reports.view.
    let r = app.get(&cashier, "/api/v1/reports/security").await;
    assert_problem(r, 403, None).await;
    let manager = app.login("manager").await;
    let v: Value = app
        .get(&manager, "/api/v1/reports/security?limit=1000")
        .await
        .json()
        .await
        .unwrap();
    let items = v["items"].as_array().unwrap();
    let find = |kind: &str, user: &str| {
        items
            .iter()
            .find(|e| e["kind"] == kind && e["username"] == user)
            .unwrap_or_else(|| panic!("no {kind} event of {user} in {v}"))
    };
    let failed = find("sign-in-failed", "cashier");
    assert_eq!(failed["client"], "127.0.0.1");
    assert!(failed["at"].as_str().unwrap().ends_with('Z'));
    find("sign-in", "cashier");
    find("forbidden", "cashier");
    assert!(
        items.iter().any(|e| e["kind"] == "forbidden"
            && e["username"] == "cashier"
            && e["detail"]
                .as_str()
                .unwrap()
                .starts_with("GET /api/v1/users: this needs the users.manage permission")),
        "{v}"
    );
    assert!(
        items
            .iter()
            .any(|e| e["kind"] == "unauthenticated" && e["username"].is_null())
    );
    find("user-created", "admin");
    let changed = find("role-changed", "admin");
    assert!(
        changed["detail"]
            .as_str()
            .unwrap()
            .contains("erin: role cashier -> manager")
    );
    // Newest first, filtered, paged.
    let ids: Vec<i64> = items.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]));
    let v: Value = app
        .get(&manager, "/api/v1/reports/security?kind=sign-in&limit=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(v["items"][0]["kind"], "sign-in");
    let before = v["next_before"].as_i64().unwrap();
    let v: Value = app
        .get(
            &manager,
            &format!("/api/v1/reports/security?kind=sign-in&before={before}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["id"].as_i64().unwrap() < before && e["kind"] == "sign-in")
    );
    let r = app.get(&manager, "/api/v1/reports/security?limit=0").await;
    assert_problem(r, 422, Some("limit")).await;
    let r = app.get(&manager, "/api/v1/reports/security?limit=x").await;
    assert_problem(r, 422, Some("query")).await;
    let _ = PASSWORD;
}
