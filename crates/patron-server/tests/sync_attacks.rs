//! An attacker holding one store's sync token (and, where said, the password
//! of one of that store's cashiers) against a real HQ over HTTP. Every attack
//! is refused with a recorded reason, answered without a 5xx, moves no value,
//! and afterwards HQ and an honest store still sign customers up, sell and
//! redeem.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::nodes::*;
use common::{TestApp, spawn_app};
use patron_storage::ops::{key_from_hex, sign};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

/// Signs an operation's text as `user` (the key their password gives).
fn signed(seq: i64, op: &Value, user: Option<&str>) -> Value {
    let text = op.to_string();
    let sig = match user {
        Some(u) => sign(&key_from_hex(&common::op_key(u)).unwrap(), &text),
        None => String::new(),
    };
    json!({"seq": seq, "op": text, "sig": sig})
}

fn op(store: &str, actor: &str, body: Value) -> Value {
    json!({
        "id": Uuid::now_v7(), "store": store, "actor": actor,
        "at": time::OffsetDateTime::now_utc().unix_timestamp() * 1_000_000,
        "hlc": format!("{:016}-000000000-{store}", time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000),
        "body": body,
    })
}

/// Pushes signed operations with `token`; returns HQ's per-operation results.
async fn push(hq: &TestApp, token: &str, ops: Vec<Value>) -> Vec<Value> {
    let r = hq
        .client
        .post(hq.url("/api/v1/sync/push"))
        .bearer_auth(token)
        .header("x-patron-store", "S01")
        .json(&json!({"ops": ops, "up_to": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    let v: Value = r.json().await.unwrap();
    v["results"].as_array().unwrap().clone()
}

/// Pushes one operation and asserts HQ refused it with a reason containing `why`.
async fn refused(hq: &TestApp, token: &str, op: Value, why: &str) {
    let results = push(hq, token, vec![op]).await;
    let reason = results[0]["refused"].as_str().unwrap_or_else(|| {
        panic!("HQ applied an attack: {results:?}");
    });
    assert!(
        reason.to_lowercase().contains(&why.to_lowercase()),
        "refused for {reason:?}, expected {why:?}"
    );
}

async fn balances(hq: &TestApp, t: &str, id: &str) -> (i64, i64) {
    let v: Value = hq
        .get(t, &format!("/api/v1/customers/{id}"))
        .await
        .json()
        .await
        .unwrap();
    (
        v["balances"]["points"]["balance"].as_i64().unwrap(),
        v["balances"]["credit"]["balance"].as_i64().unwrap(),
    )
}

async fn store_user(hq: &TestApp, name: &str, role: patron_domain::Role, store: &str) {
    hq.storage
        .create_user(
            &patron_storage::Actor::new("t"),
            patron_storage::NewUser {
                username: patron_domain::Username::parse(name).unwrap(),
                role,
                password_hash: patron_server::auth::hash_password(common::PASSWORD).unwrap(),
                store: Some(patron_domain::StoreId::parse(store).unwrap()),
                op_key: Some(common::op_key(name)),
            },
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_token_alone_moves_nothing_and_breaks_nobody() {
    let hq = spawn_app().await;
    let th = hq.login("admin").await;
    // S02 is an honest store node; S01's token is in the attacker's hands.
    let s2 = spawn_store(&hq, "S02").await;
    let t2 = s2.app.login("admin").await;
    // S02 leases its first block (1–1,000) before S01's token is used.
    eventually("S02 holds codes", || async {
        s2.app.storage.codes_left().await.unwrap_or(0) >= 250
    })
    .await;
    let evil = register(&hq, "S01").await;
    store_user(&hq, "s1cashier", patron_domain::Role::CASHIER, "S01").await;
    store_user(&hq, "s1manager", patron_domain::Role::MANAGER, "S01").await;
    store_user(&hq, "s2cashier", patron_domain::Role::CASHIER, "S02").await;
    let r = hq
        .client
        .post(hq.url("/api/v1/sync/codes"))
        .bearer_auth(&evil)
        .header("x-patron-store", "S01")
        .json(&json!({"count": 10}))
        .send()
        .await
        .unwrap();
    let lease: Value = r.json().await.unwrap();
    let s1_first = lease["first"].as_u64().unwrap();

    let victim = hq
        .create(&th, json!({"first_name": "Vera", "last_name": "Victim", "email": "vera@example.com", "phone": "+15125550100", "notes": "VIP since 2019"}))
        .await;
    let vid = victim["id"].as_str().unwrap().to_owned();
    let victim_number: u64 = victim["code"].as_str().unwrap()[5..].parse().unwrap();
    let hq_next = format!("CUST-{:05}", victim_number + 1);
    let r = hq
        .post(
            &th,
            &format!("/api/v1/customers/{vid}/ledger"),
            &json!({"account": "credit", "kind": "top-up", "amount": 20_000, "reason": "gift card"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let before = balances(&hq, &th, &vid).await;
    let new_customer = |code: String| {
        json!({"op": "create_customer", "id": Uuid::now_v7(), "code": code,
               "fields": {"first_name": "Eve", "last_name": "Forger"}})
    };

    // Nothing signed: the token alone.
    refused(
        &hq,
        &evil,
        signed(
            1,
            &op("S01", "admin", new_customer(format!("CUST-{s1_first:05}"))),
            None,
        ),
        "not signed by admin",
    )
    .await;
    // Signed with a key that is not the user's.
    let text = op("S01", "admin", new_customer(format!("CUST-{s1_first:05}"))).to_string();
    let forged = sign(&[7u8; 32], &text);
    refused(
        &hq,
        &evil,
        json!({"seq": 2, "op": text, "sig": forged}),
        "not signed",
    )
    .await;
    // A user HQ does not know.
    refused(
        &hq,
        &evil,
        signed(
            3,
            &op("S01", "mallory", new_customer("CUST-S01-0001".into())),
            Some("mallory"),
        ),
        "knows no user",
    )
    .await;
    // HQ's own next code, and S02's leased codes: never a store's to issue.
    refused(
        &hq,
        &evil,
        signed(
            4,
            &op("S01", "s1cashier", new_customer(hq_next.clone())),
            Some("s1cashier"),
        ),
        "neither in a block leased",
    )
    .await;
    let s2_code = "CUST-00005".to_owned();
    refused(
        &hq,
        &evil,
        signed(
            5,
            &op("S01", "s1cashier", new_customer(s2_code)),
            Some("s1cashier"),
        ),
        "neither in a block leased",
    )
    .await;
    // Another store's overflow series.
    refused(
        &hq,
        &evil,
        signed(
            6,
            &op("S01", "s1cashier", new_customer("CUST-S02-0001".into())),
            Some("s1cashier"),
        ),
        "neither in a block leased",
    )
    .await;
    // An operation of S02 sent with S01's token, signed by S02's cashier.
    refused(
        &hq,
        &evil,
        signed(
            7,
            &op("S02", "s2cashier", new_customer("CUST-S02-0001".into())),
            Some("s2cashier"),
        ),
        "sent with the token of S01",
    )
    .await;
    // S02's cashier named in an S01 operation.
    refused(
        &hq,
        &evil,
        signed(
            8,
            &op("S01", "s2cashier", new_customer("CUST-S01-0001".into())),
            Some("s2cashier"),
        ),
        "belongs to store S02",
    )
    .await;

    // Value: a 10,000.00 top-up by a cashier (no loyalty.manage), or unsigned as admin.
    let topup = |amount: i64| {
        json!({"op": "entry", "entry_id": Uuid::now_v7(), "customer": vid, "account": "credit",
               "kind": "top-up", "amount": amount, "reason": "made up", "idempotency_key": null})
    };
    refused(
        &hq,
        &evil,
        signed(
            9,
            &op("S01", "s1cashier", topup(1_000_000)),
            Some("s1cashier"),
        ),
        "lacks the loyalty.manage permission",
    )
    .await;
    refused(
        &hq,
        &evil,
        signed(10, &op("S01", "admin", topup(1_000_000)), None),
        "not signed",
    )
    .await;
    // A birthday for next year, an earn entry, a bogus account: HQ's own work or nonsense.
    let entry = |kind: &str, account: &str| {
        json!({"op": "entry", "entry_id": Uuid::now_v7(), "customer": vid, "account": account,
               "kind": kind, "amount": 5000, "reason": "birthday 2027", "idempotency_key": null})
    };
    refused(
        &hq,
        &evil,
        signed(
            11,
            &op("S01", "s1manager", entry("birthday", "points")),
            Some("s1manager"),
        ),
        "made by HQ",
    )
    .await;
    refused(
        &hq,
        &evil,
        signed(
            12,
            &op("S01", "s1manager", entry("earn", "points")),
            Some("s1manager"),
        ),
        "made by HQ",
    )
    .await;
    refused(
        &hq,
        &evil,
        signed(
            13,
            &op("S01", "s1manager", entry("adjust", "bogus")),
            Some("s1manager"),
        ),
        "unknown account",
    )
    .await;
    refused(
        &hq,
        &evil,
        signed(
            14,
            &op("S01", "s1manager", entry("top-up", "points")),
            Some("s1manager"),
        ),
        "cannot be topped up",
    )
    .await;
    // An opening balance is what an import at HQ brings, never a store's to send.
    refused(
        &hq,
        &evil,
        signed(
            16,
            &op("S01", "s1manager", entry("opening", "credit")),
            Some("s1manager"),
        ),
        "made by HQ",
    )
    .await;
    // A store manager may top up store credit, within the store's daily cap
    // (1,000.00 by default): the second 600.00 today is refused.
    let results = push(
        &hq,
        &evil,
        vec![signed(
            40,
            &op("S01", "s1manager", topup(60_000)),
            Some("s1manager"),
        )],
    )
    .await;
    assert!(results[0]["refused"].is_null(), "{results:?}");
    refused(
        &hq,
        &evil,
        signed(
            41,
            &op("S01", "s1manager", topup(60_000)),
            Some("s1manager"),
        ),
        "a store may top up at most",
    )
    .await;
    // Amounts out of range.
    refused(
        &hq,
        &evil,
        signed(
            15,
            &op("S01", "s1manager", topup(i64::MAX)),
            Some("s1manager"),
        ),
        "at most 100,000,000.00",
    )
    .await;
    // Unknown fields, wrong types, unknown kinds: refused, never dropped.
    let mut extra = new_customer("CUST-S01-0009".into());
    extra["balance"] = json!(100);
    refused(
        &hq,
        &evil,
        signed(16, &op("S01", "s1cashier", extra), Some("s1cashier")),
        "unknown field",
    )
    .await;
    refused(
        &hq,
        &evil,
        signed(
            17,
            &op(
                "S01",
                "s1manager",
                json!({"op": "set_active", "id": vid, "active": "yes"}),
            ),
            Some("s1manager"),
        ),
        "unreadable",
    )
    .await;
    refused(
        &hq,
        &evil,
        signed(
            18,
            &op(
                "S01",
                "s1manager",
                json!({"op": "birthday", "customer": vid}),
            ),
            Some("s1manager"),
        ),
        "unreadable",
    )
    .await;
    let mut customer_fields = new_customer("CUST-S01-0010".into());
    customer_fields["fields"]["balance"] = json!("100");
    refused(
        &hq,
        &evil,
        signed(
            19,
            &op("S01", "s1cashier", customer_fields),
            Some("s1cashier"),
        ),
        "unknown customer field",
    )
    .await;
    // A cashier cannot deactivate (customers.deactivate) nor manage groups.
    refused(
        &hq,
        &evil,
        signed(
            20,
            &op(
                "S01",
                "s1cashier",
                json!({"op": "set_active", "id": vid, "active": false}),
            ),
            Some("s1cashier"),
        ),
        "lacks the customers.deactivate permission",
    )
    .await;
    // A manager's edit of the names only leaves every other field as it was.
    let results = push(
        &hq,
        &evil,
        vec![signed(
            21,
            &op(
                "S01",
                "s1manager",
                json!({"op": "edit_customer", "id": vid, "fields": {"first_name": "Vera", "last_name": "Renamed"}}),
            ),
            Some("s1manager"),
        )],
    )
    .await;
    assert!(results[0]["refused"].is_null(), "{results:?}");
    let v: Value = hq
        .get(&th, &format!("/api/v1/customers/{vid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["last_name"], "Renamed");
    assert_eq!(v["email"], "vera@example.com");
    assert_eq!(v["phone"], "+15125550100");
    assert_eq!(v["notes"], "VIP since 2019");

    // A return of 999 units against S02's sale of 2.
    let r = s2
        .app
        .post(
            &t2,
            "/api/v1/orders",
            &json!({"id": "s2-sale-1", "customer": vid, "lines": [{"sku": "A", "name": "A", "quantity": 2, "unit_price": 1000}]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    eventually("S02's sale at HQ", || async {
        hq.get(&th, "/api/v1/orders/s2-sale-1").await.status() == StatusCode::OK
    })
    .await;
    refused(
        &hq,
        &evil,
        signed(
            22,
            &op(
                "S01",
                "s1manager",
                json!({"op": "return", "id": "evil-return", "fingerprint": "x", "order_id": "s2-sale-1",
                       "lines": [{"line": 0, "quantity": 999_000}]}),
            ),
            Some("s1manager"),
        ),
        "quantity",
    )
    .await;
    // An order by a user without orders.create: nobody at S01 has that role,
    // so a made-up one is used.
    refused(
        &hq,
        &evil,
        signed(
            23,
            &op(
                "S01",
                "nobody",
                json!({"op": "order", "id": "evil-1", "fingerprint": "x", "customer": vid,
                       "lines": [{"sku": "X", "name": "X", "category": "", "quantity": 1000, "unit": "ea", "unit_price": 100_000_000}],
                       "redeem_points": 0, "redeem_credit": 0, "override_limits": false}),
            ),
            None,
        ),
        "knows no user",
    )
    .await;
    // Spending the victim's credit without HQ's authorisation, by a real cashier:
    // the sale counts, the redemption beyond the offline cap is reported.
    let spend = signed(
        24,
        &op(
            "S01",
            "s1cashier",
            json!({"op": "order", "id": "s1-spend", "fingerprint": "x", "customer": vid,
                   "lines": [{"sku": "X", "name": "X", "category": "", "quantity": 1000, "unit": "ea", "unit_price": 20_000}],
                   "redeem_points": 0, "redeem_credit": 10_000, "override_limits": false}),
        ),
        Some("s1cashier"),
    );
    let results = push(&hq, &evil, vec![spend.clone()]).await;
    assert!(results[0]["refused"].is_null(), "{results:?}");
    // The same operation again counts once.
    let results = push(&hq, &evil, vec![spend]).await;
    assert!(results[0]["refused"].is_null(), "{results:?}");
    let after = balances(&hq, &th, &vid).await;
    assert_eq!(
        after.1,
        before.1 + 60_000 - 10_000,
        "topped up once, spent once"
    );
    let overdrafts: Value = hq
        .get(&th, "/api/v1/reports/overdrafts")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        overdrafts["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["store"] == "S01"
                && o["reason"].as_str().unwrap_or("").contains("offline cap")),
        "{overdrafts}"
    );

    // Holding a customer's balance through HQ's authorisation needs a
    // cashier's signature too; a release as well.
    for (path, body) in [
        (
            "/api/v1/sync/authorize",
            json!({"customer_id": vid, "order_id": "hold-1", "entries": [{"account": "credit", "amount": 1_000}],
                   "actor": "s1cashier", "sig": ""}),
        ),
        (
            "/api/v1/sync/authorize",
            json!({"customer_id": vid, "order_id": "hold-2", "entries": [{"account": "credit", "amount": 1_000}],
                   "actor": "admin", "sig": "00"}),
        ),
        (
            "/api/v1/sync/release",
            json!({"order_id": "s2-sale-1", "actor": "s1cashier", "sig": ""}),
        ),
    ] {
        let r = hq
            .client
            .post(hq.url(path))
            .bearer_auth(&evil)
            .header("x-patron-store", "S01")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "{path}: {:?}",
            r.text().await
        );
    }
    // A real cashier's signature (their key comes only from their password).
    let mut hold = patron_sync::AuthorizeRequest {
        customer_id: vid.clone(),
        order_id: "hold-3".into(),
        entries: vec![patron_sync::AuthorizeEntry {
            account: "credit".into(),
            amount: 1_000,
        }],
        actor: "s1cashier".into(),
        sig: String::new(),
    };
    hold.sig = sign(
        &key_from_hex(&common::op_key("s1cashier")).unwrap(),
        &patron_sync::authorize_text("S01", &hold),
    );
    let r = hq
        .client
        .post(hq.url("/api/v1/sync/authorize"))
        .bearer_auth(&evil)
        .header("x-patron-store", "S01")
        .json(&hold)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    // Signed for S01, it cannot be replayed with another store's token.
    let s2_token = register(&hq, "S03").await;
    let r = hq
        .client
        .post(hq.url("/api/v1/sync/authorize"))
        .bearer_auth(&s2_token)
        .header("x-patron-store", "S03")
        .json(&hold)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A token cannot burn HQ's numbering: leases are capped per store and day.
    let mut refused_lease = false;
    for _ in 0..5 {
        let r = hq
            .client
            .post(hq.url("/api/v1/sync/codes"))
            .bearer_auth(&evil)
            .header("x-patron-store", "S01")
            .json(&json!({"count": 10_000}))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::UNPROCESSABLE_ENTITY {
            refused_lease = true;
            break;
        }
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert!(refused_lease, "leases were never capped");

    // A malformed page is a 4xx, not a 5xx.
    let r = hq
        .client
        .post(hq.url("/api/v1/sync/push"))
        .bearer_auth(&evil)
        .header("x-patron-store", "S01")
        .json(&json!({"changes": [], "up_to": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = hq
        .client
        .post(hq.url("/api/v1/sync/push"))
        .bearer_auth(&evil)
        .header("x-patron-store", "S01")
        .json(&json!({"ops": [{"seq": 1, "op": "{", "sig": "zz"}], "up_to": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Every refusal is on record with its reason.
    let refusals: Value = hq
        .get(&th, "/api/v1/sync/refusals")
        .await
        .json()
        .await
        .unwrap();
    let items = refusals["items"].as_array().unwrap();
    assert!(items.len() >= 20, "{refusals}");
    assert!(
        items
            .iter()
            .all(|r| r["store"] == "S01" && r["reason"].as_str().is_some_and(|s| !s.is_empty()))
    );
    assert!(find(&hq, &th, "Forger").await.is_empty());
    assert_eq!(balances(&hq, &th, &vid).await.0, before.0);

    // And nothing is broken: HQ and the honest store sign up, sell and redeem.
    let c = hq
        .create(&th, json!({"first_name": "After", "last_name": "Attack"}))
        .await;
    assert!(c["code"].as_str().unwrap().starts_with("CUST-"));
    let r = s2
        .app
        .post(
            &t2,
            "/api/v1/customers",
            &json!({"first_name": "Store", "last_name": "Fine"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let sc: Value = r.json().await.unwrap();
    eventually("S02's customer at HQ", || async {
        !find(&hq, &th, "Fine").await.is_empty()
    })
    .await;
    let r = hq
        .post(
            &th,
            &format!("/api/v1/customers/{}/ledger", sc["id"].as_str().unwrap()),
            &json!({"account": "credit", "kind": "top-up", "amount": 500, "reason": "gift"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    eventually("credit at S02", || async {
        get_customer(&s2.app, &t2, sc["id"].as_str().unwrap()).await["balances"]["credit"]["balance"] == 500
    })
    .await;
    let r = s2
        .app
        .post(
            &t2,
            "/api/v1/orders",
            &json!({"id": "s2-sale-2", "customer": sc["id"], "lines": [{"sku": "B", "name": "B", "quantity": 1, "unit_price": 1000}], "redeem_credit": 500}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    eventually("S02's redemption at HQ, once", || async {
        let (_, credit) = balances(&hq, &th, sc["id"].as_str().unwrap()).await;
        credit == 0
    })
    .await;
    drop(s2);
}
