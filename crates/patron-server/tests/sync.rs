//! HQ and store nodes as real servers on loopback, syncing over HTTP, with
//! partitions injected by cutting a store's link.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::nodes::*;
use common::spawn_app;
use patron_sqlite::SqliteStorage;
use patron_storage::Storage;
use patron_sync::SyncClient;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_flow_between_hq_and_stores() {
    let hq = spawn_app().await;
    let s1 = spawn_store(&hq, "S01").await;
    let s2 = spawn_store(&hq, "S02").await;
    let (th, t1, t2) = (
        hq.login("admin").await,
        s1.app.login("admin").await,
        s2.app.login("cashier").await,
    );

    // Created at HQ: at both stores.
    let a = hq
        .create(
            &th,
            json!({"first_name": "Hana", "last_name": "Quist", "phone": "+1 303 555 0101"}),
        )
        .await;
    for (s, t) in [(&s1, &t1), (&s2, &t2)] {
        eventually("HQ customer at store", || async {
            find(&s.app, t, "Quist").await.len() == 1
        })
        .await;
    }
    // Created at S01: at HQ and S02, with S01 as its origin.
    let b = s1
        .app
        .create(&t1, json!({"first_name": "Sam", "last_name": "Storey"}))
        .await;
    assert_eq!(b["origin_store"], "S01");
    eventually("S01 customer at HQ", || async {
        find(&hq, &th, "Storey").await.len() == 1
    })
    .await;
    eventually("S01 customer at S02", || async {
        find(&s2.app, &t2, "Storey").await.len() == 1
    })
    .await;
    let at_s2 = find(&s2.app, &t2, "Storey").await;
    assert_eq!(at_s2[0]["code"], b["code"]);

    // Both stores offline sign up the same person: two records, two codes, everywhere.
    s1.cut();
    s2.cut();
    let p1 = s1
        .app
        .create(
            &t1,
            json!({"first_name": "Dana", "last_name": "Double", "email": "dana@example.com"}),
        )
        .await;
    let p2 = s2
        .app
        .create(
            &t2,
            json!({"first_name": "Dana", "last_name": "Double", "email": "dana@example.com"}),
        )
        .await;
    assert_ne!(p1["code"], p2["code"]);
    // Concurrent edits of one field while apart: S02 writes last.
    let aid = a["id"].as_str().unwrap();
    let r = s1
        .app
        .patch(
            &t1,
            &format!("/api/v1/customers/{aid}"),
            &json!({"notes": "from S01"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let r = s2
        .app
        .patch(
            &t2,
            &format!("/api/v1/customers/{aid}"),
            &json!({"notes": "from S02"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    s1.heal();
    s2.heal();
    for (app, t) in [(&hq, &th), (&s1.app, &t1), (&s2.app, &t2)] {
        eventually("both Danas everywhere", || async {
            find(app, t, "Double").await.len() == 2
        })
        .await;
        eventually("same winner everywhere", || async {
            get_customer(app, t, aid).await["notes"] == "from S02"
        })
        .await;
    }
    let codes: Vec<_> = find(&hq, &th, "Double")
        .await
        .iter()
        .map(|c| c["code"].clone())
        .collect();
    assert_ne!(codes[0], codes[1]);
    // The losing write is not lost: S01's value stays in the audit trail.
    let r = s1
        .app
        .get(&t1, &format!("/api/v1/customers/{aid}/audit"))
        .await;
    let audit: Value = r.json().await.unwrap();
    let shows_s01 = audit
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["old"] == "from S01" || e["new"] == "from S01");
    assert!(shows_s01, "{audit}");

    // Sync status on each side.
    let st: Value = hq
        .get(&th, "/api/v1/sync/status")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(st["peers"].as_array().unwrap().len(), 2);
    let st: Value = s1
        .app
        .get(&t1, "/api/v1/sync/status")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(st["peers"][0]["online"], true);
    assert_eq!(st["role"], "store");
    drop((s1, s2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_write_only_as_themselves_and_config_is_hqs() {
    let hq = spawn_app().await;
    let s1 = spawn_store(&hq, "S01").await;
    let t1 = s1.app.login("admin").await;
    // Configuration is HQ's.
    let r = s1
        .app
        .post(&t1, "/api/v1/groups", &json!({"name": "Local"}))
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = s1
        .app
        .post(&t1, "/api/v1/stores", &json!({"id": "S09", "name": "x"}))
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // A groups created at HQ reaches the store.
    let th = hq.login("admin").await;
    let r = hq
        .post(&th, "/api/v1/groups", &json!({"name": "VIP"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    eventually("group at store", || async {
        let v: Value = s1
            .app
            .get(&t1, "/api/v1/groups")
            .await
            .json()
            .await
            .unwrap();
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "VIP")
    })
    .await;
    // A store's token cannot push a customer as another store, nor configuration.
    let token = register(&hq, "S02").await;
    let forged = json!({"changes": [{"seq": 1, "kind": "customer", "entity": "00000000-0000-7000-8000-000000000001",
        "body": {"id": "00000000-0000-7000-8000-000000000001", "code": "CUST-90001", "origin_store": "S01",
                 "hlc": "0000000000000001-000000000-S02", "fields": {"first_name": "Eve", "last_name": "Forger"}}}], "up_to": 1});
    let r = hq
        .client
        .post(hq.url("/api/v1/sync/push"))
        .bearer_auth(&token)
        .header("x-patron-store", "S02")
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let cfg = json!({"changes": [{"seq": 1, "kind": "user", "entity": "mallory", "body": {"username": "mallory", "password_hash": "x", "role": "admin", "active": 1, "created_at": 0}}], "up_to": 1});
    let r = hq
        .client
        .post(hq.url("/api/v1/sync/push"))
        .bearer_auth(&token)
        .header("x-patron-store", "S02")
        .json(&cfg)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(find(&hq, &th, "Forger").await.is_empty());
    let r = hq
        .client
        .post(hq.url("/api/v1/sync/push"))
        .bearer_auth("pst_nope")
        .json(&cfg)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A user of S02 cannot sign in at S01.
    hq.storage
        .create_user(
            &patron_storage::Actor::new("t"),
            patron_storage::NewUser {
                username: patron_domain::Username::parse("s2clerk").unwrap(),
                role: patron_domain::Role::CASHIER,
                password_hash: patron_server::auth::hash_password(common::PASSWORD).unwrap(),
                store: Some(patron_domain::StoreId::parse("S02").unwrap()),
                op_key: Some(common::op_key("s2clerk")),
            },
        )
        .await
        .unwrap();
    eventually("user at store", || async {
        s1.app
            .storage
            .users()
            .await
            .map(|u| u.iter().any(|u| u.username.as_str() == "s2clerk"))
            .unwrap_or(false)
    })
    .await;
    let r = s1
        .app
        .client
        .post(s1.app.url("/api/v1/auth/login"))
        .json(&json!({"username": "s2clerk", "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    drop(s1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_codes_ledger_union_and_overdrafts() {
    let hq = spawn_app().await;
    let th = hq.login("admin").await;
    let s1 = spawn_store(&hq, "S01").await;
    let s2 = spawn_store(&hq, "S02").await;
    let (t1, t2) = (s1.app.login("admin").await, s2.app.login("admin").await);
    // A customer with 10.00 of points, everywhere.
    let c = hq
        .create(&th, json!({"first_name": "Pia", "last_name": "Points"}))
        .await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let r = hq
        .post(
            &th,
            &format!("/api/v1/customers/{cid}/ledger"),
            &json!({"account": "points", "kind": "adjust", "amount": 1000, "reason": "welcome"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    for (s, t) in [(&s1, &t1), (&s2, &t2)] {
        eventually("points at store", || async {
            get_customer(&s.app, t, &cid).await["balances"]["points"]["balance"] == 1000
        })
        .await;
    }
    // Both stores offline spend 8.00 each.
    s1.cut();
    s2.cut();
    for (s, t, id) in [(&s1, &t1, "s1-o1"), (&s2, &t2, "s2-o1")] {
        let body = json!({"id": id, "customer": cid, "lines": [{"sku": "A", "name": "A", "quantity": 1, "unit_price": 5000}], "redeem_points": 800});
        let r = s.app.post(t, "/api/v1/orders", &body).await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap()
        );
    }
    s1.heal();
    s2.heal();
    // The overdraft is reported at HQ; every node holds both orders and the same ledger.
    eventually("overdraft reported", || async {
        let v: Value = hq
            .get(&th, "/api/v1/reports/overdrafts")
            .await
            .json()
            .await
            .unwrap();
        v["items"].as_array().is_some_and(|i| !i.is_empty())
    })
    .await;
    for (app, t) in [(&hq, &th), (&s1.app, &t1), (&s2.app, &t2)] {
        eventually("ledger converged", || async {
            let l: Value = app
                .get(t, &format!("/api/v1/customers/{cid}/ledger?account=points"))
                .await
                .json()
                .await
                .unwrap();
            let items = l["items"].as_array().unwrap();
            let sum: i64 = items.iter().map(|e| e["amount"].as_i64().unwrap()).sum();
            items.iter().filter(|e| e["kind"] == "redeem").count() == 2
                && l["balances"]["points"]["balance"].as_i64() == Some(sum)
                && sum
                    == 1000 - 1600
                        + items
                            .iter()
                            .filter(|e| e["kind"] == "earn")
                            .map(|e| e["amount"].as_i64().unwrap())
                            .sum::<i64>()
        })
        .await;
        eventually("orders everywhere", || async {
            let a: Value = app
                .get(t, &format!("/api/v1/customers/{cid}/activity"))
                .await
                .json()
                .await
                .unwrap();
            a["orders"].as_array().unwrap().len() == 2
        })
        .await;
    }
    drop((s1, s2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_codes_uses_its_overflow_series() {
    let hq = spawn_app().await;
    let th = hq.login("admin").await;
    let token = register(&hq, "S03").await;
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(dir.path()).unwrap());
    storage
        .become_store(&patron_domain::StoreId::parse("S03").unwrap())
        .await
        .unwrap();
    // Never reached HQ: no leased block yet.
    assert_eq!(storage.codes_left().await.unwrap(), 0);
    let new = patron_storage::NewCustomer {
        data: patron_domain::CustomerDraft::parse(
            [
                (patron_domain::customer::Field::FirstName, "Ola".to_owned()),
                (
                    patron_domain::customer::Field::LastName,
                    "Offline".to_owned(),
                ),
            ],
            &patron_domain::customer::ParseContext {
                region: Default::default(),
                today: time::OffsetDateTime::now_utc().date(),
            },
        )
        .unwrap(),
        origin_store: None,
    };
    // An HQ admin signed in at the store: their operations carry their key.
    let admin = patron_storage::Actor::new("admin").with_op_key(Some(patron_storage::OpKey(
        patron_storage::ops::key_from_hex(&common::op_key("admin")).unwrap(),
    )));
    let c = storage.create_customer(&admin, new.clone()).await.unwrap();
    assert_eq!(c.code.as_str(), "CUST-S03-0001");
    let c2 = storage.create_customer(&admin, new).await.unwrap();
    assert_eq!(c2.code.as_str(), "CUST-S03-0002");
    // Once connected it leases a block, and its overflow customers reach HQ unchanged.
    let sync = SyncClient::new(
        storage.clone(),
        &patron_sync::HqLink::new(&format!("http://{}", hq.addr), &token, "S03", None).unwrap(),
    )
    .spawn();
    eventually("block leased", || async {
        storage.codes_left().await.unwrap_or(0) >= 250
    })
    .await;
    eventually("overflow customers at HQ", || async {
        find(&hq, &th, "Offline").await.len() == 2
    })
    .await;
    let codes: Vec<_> = find(&hq, &th, "Offline")
        .await
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect();
    assert!(codes.contains(&"CUST-S03-0001".to_owned()));
    let next = storage
        .create_customer(
            &patron_storage::Actor::new("t"),
            patron_storage::NewCustomer {
                data: patron_domain::CustomerDraft::parse(
                    [
                        (patron_domain::customer::Field::FirstName, "Bo".to_owned()),
                        (patron_domain::customer::Field::LastName, "Block".to_owned()),
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
    assert!(
        next.code.as_str().starts_with("CUST-0"),
        "{}",
        next.code.as_str()
    );
    // HQ's own numbering continues after the leased block: no code twice.
    let h = hq
        .create(&th, json!({"first_name": "Hq", "last_name": "After"}))
        .await;
    assert_ne!(h["code"], json!(next.code.as_str()));
    drop(sync);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_redemptions_are_authorised_at_hq_and_offline_ones_capped() {
    let hq = spawn_app().await;
    let th = hq.login("admin").await;
    let s1 = spawn_store(&hq, "S01").await;
    let s2 = spawn_store(&hq, "S02").await;
    let (t1, t2) = (s1.app.login("admin").await, s2.app.login("admin").await);
    let r = hq
        .client
        .patch(hq.url("/api/v1/loyalty/settings"))
        .bearer_auth(&th)
        .json(&json!({"max_redeem_percent": 100, "offline_redeem_cap": 300}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let c = hq
        .create(&th, json!({"first_name": "Alma", "last_name": "Auth"}))
        .await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let r = hq
        .post(
            &th,
            &format!("/api/v1/customers/{cid}/ledger"),
            &json!({"account": "points", "kind": "adjust", "amount": 1000, "reason": "welcome"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    for (s, t) in [(&s1, &t1), (&s2, &t2)] {
        eventually("points and settings at store", || async {
            get_customer(&s.app, t, &cid).await["balances"]["points"]["balance"] == 1000
                && s.app
                    .storage
                    .loyalty_settings()
                    .await
                    .map(|l| l.offline_redeem_cap == 300)
                    .unwrap_or(false)
        })
        .await;
    }
    // S02 is cut off from receiving S01's news (its pulls stop) but both are online
    // for authorisation: S01 spends 8.00, then S02 tries to spend 8.00 of the same 10.00.
    let order = |id: &str, points: i64| json!({"id": id, "customer": cid, "lines": [{"sku": "A", "name": "A", "quantity": 1, "unit_price": 5000}], "redeem_points": points});
    let r = s1.app.post(&t1, "/api/v1/orders", &order("a-1", 800)).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let r = s2.app.post(&t2, "/api/v1/orders", &order("b-1", 800)).await;
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["status"], 422, "{p}");
    assert_eq!(p["field"], "redeem_points");
    // Within what HQ shows, it goes through; the entry is not counted twice.
    let r = s2.app.post(&t2, "/api/v1/orders", &order("b-2", 200)).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    eventually("HQ ledger settled", || async {
        let l: Value = hq
            .get(
                &th,
                &format!("/api/v1/customers/{cid}/ledger?account=points"),
            )
            .await
            .json()
            .await
            .unwrap();
        let redeems: Vec<i64> = l["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "redeem")
            .map(|e| e["amount"].as_i64().unwrap())
            .collect();
        redeems.len() == 2 && redeems.iter().sum::<i64>() == -1000
    })
    .await;
    let v: Value = hq
        .get(&th, "/api/v1/reports/overdrafts")
        .await
        .json()
        .await
        .unwrap();
    assert!(v["items"].as_array().unwrap().is_empty(), "{v}");
    // Offline, the cap (3.00 per customer) bounds what S01 may let go.
    let r = hq
        .post(
            &th,
            &format!("/api/v1/customers/{cid}/ledger"),
            &json!({"account": "points", "kind": "adjust", "amount": 5000, "reason": "top"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    eventually("points at S01", || async {
        get_customer(&s1.app, &t1, &cid).await["balances"]["points"]["available"]
            .as_i64()
            .unwrap_or(0)
            >= 5000
    })
    .await;
    s1.cut();
    let r = s1.app.post(&t1, "/api/v1/orders", &order("a-2", 200)).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let r = s1.app.post(&t1, "/api/v1/orders", &order("a-3", 200)).await;
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["status"], 422, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("unreachable"), "{p}");
    s1.heal();
    drop((s1, s2));
}

/// A store cut off from HQ while its users make 10,000 changes catches up
/// completely once the link is back: its pushes are sized to what HQ reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_of_ten_thousand_changes_arrives_whole() {
    let hq = spawn_app().await;
    let th = hq.login("admin").await;
    let s1 = spawn_store(&hq, "S01").await;
    eventually("codes leased", || async {
        s1.app.storage.codes_left().await.unwrap_or(0) >= 250
    })
    .await;
    s1.cut();
    let admin = patron_storage::Actor::new("admin").with_op_key(Some(patron_storage::OpKey(
        patron_storage::ops::key_from_hex(&common::op_key("admin")).unwrap(),
    )));
    let ctx = patron_domain::customer::ParseContext {
        region: Default::default(),
        today: time::OffsetDateTime::now_utc().date(),
    };
    let mut ids = Vec::new();
    for chunk in 0..50 {
        let futs = (0..100).map(|i| {
            let n = chunk * 100 + i;
            let storage = s1.app.storage.clone();
            let admin = admin.clone();
            async move {
                let data = patron_domain::CustomerDraft::parse(
                    [
                        (
                            patron_domain::customer::Field::FirstName,
                            format!("Back{n}"),
                        ),
                        (patron_domain::customer::Field::LastName, "Log".to_owned()),
                    ],
                    &ctx,
                )
                .unwrap();
                let c = storage
                    .create_customer(
                        &admin,
                        patron_storage::NewCustomer {
                            data,
                            origin_store: None,
                        },
                    )
                    .await
                    .unwrap();
                storage
                    .update_customer(
                        &admin,
                        &patron_storage::CustomerKey::Id(c.id),
                        vec![(
                            patron_domain::customer::Field::Notes,
                            patron_domain::Patch::Set(format!("offline note {n}")),
                        )],
                        ctx,
                    )
                    .await
                    .unwrap();
                c.id
            }
        });
        ids.extend(futures_util::future::join_all(futs).await);
    }
    assert_eq!(s1.app.storage.outbox_head().await.unwrap(), 10_000);
    s1.heal();
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        let n = hq.storage.count_customers().await.unwrap();
        if n == 5_000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {n} of 5,000 customers reached HQ"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every edit too, and nothing refused.
    eventually("last edit at HQ", || async {
        hq.storage
            .customer(&patron_storage::CustomerKey::Id(ids[4_999]))
            .await
            .map(|c| c.data.notes.as_deref() == Some("offline note 4999"))
            .unwrap_or(false)
    })
    .await;
    assert!(hq.storage.refusals(10).await.unwrap().is_empty());
    let _ = th;
}

/// An operation HQ refuses is acknowledged, recorded at HQ and shown at the
/// store with HQ's reason, and the link goes on with what follows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_operation_is_shown_at_the_store_and_the_link_keeps_going() {
    let hq = spawn_app().await;
    let th = hq.login("admin").await;
    // A user from before operation keys: HQ holds none for them yet.
    hq.storage
        .create_user(
            &patron_storage::Actor::new("t"),
            patron_storage::NewUser {
                username: patron_domain::Username::parse("oldtimer").unwrap(),
                role: patron_domain::Role::CASHIER,
                password_hash: patron_server::auth::hash_password(common::PASSWORD).unwrap(),
                store: None,
                op_key: None,
            },
        )
        .await
        .unwrap();
    let s1 = spawn_store(&hq, "S01").await;
    eventually("user at store", || async {
        s1.app
            .storage
            .users()
            .await
            .map(|u| u.iter().any(|u| u.username.as_str() == "oldtimer"))
            .unwrap_or(false)
    })
    .await;
    let old = s1.app.login("oldtimer").await;
    let t1 = s1.app.login("admin").await;
    let r = s1
        .app
        .post(
            &old,
            "/api/v1/customers",
            &json!({"first_name": "Not", "last_name": "Counted"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let not_counted: Value = r.json().await.unwrap();
    let r = s1
        .app
        .post(
            &t1,
            "/api/v1/customers",
            &json!({"first_name": "Is", "last_name": "Counted"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    eventually("the next operation at HQ", || async {
        find(&hq, &th, "Counted").await.len() == 1
    })
    .await;
    eventually("the refusal at the store", || async {
        let v: Value = s1
            .app
            .get(&t1, "/api/v1/sync/refusals")
            .await
            .json()
            .await
            .unwrap();
        v["items"].as_array().unwrap().iter().any(|r| {
            r["actor"] == "oldtimer"
                && r["kind"] == "create_customer"
                && r["reason"].as_str().unwrap().contains("no signing key")
        })
    })
    .await;
    // The customer itself says so at the store.
    let c = get_customer(&s1.app, &t1, not_counted["id"].as_str().unwrap()).await;
    assert!(
        c["refused"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no signing key"),
        "{c}"
    );
    // The refusal is recorded as HQ answers; the page leaves the outbox just after.
    eventually("the refused page acknowledged", || async {
        let st: Value = s1
            .app
            .get(&t1, "/api/v1/sync/status")
            .await
            .json()
            .await
            .unwrap();
        st["peers"][0]["refused"] == 1 && st["peers"][0]["pending_outbound"] == 0
    })
    .await;
    let hq_status: Value = hq
        .get(&th, "/api/v1/sync/status")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hq_status["peers"][0]["refused"], 1, "{hq_status}");
    // Once they sign in at HQ, HQ holds their key and their next work counts.
    hq.login("oldtimer").await;
    let r = s1
        .app
        .post(
            &old,
            "/api/v1/customers",
            &json!({"first_name": "Now", "last_name": "Fine"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    eventually("their next operation at HQ", || async {
        find(&hq, &th, "Fine").await.len() == 1
    })
    .await;
}

/// An auto group on `points_balance`: points credited at HQ reach the store
/// through the feed, and the store re-checks the group, so both quote the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_groups_follow_replicated_ledger_entries() {
    let hq = spawn_app().await;
    let th = hq.login("admin").await;
    let r = hq
        .post(
            &th,
            "/api/v1/groups",
            &json!({"name": "Savers", "kind": "auto", "rule": "points_balance >= 50",
                    "program": {"kind": "discount", "percent": 10}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    let s1 = spawn_store(&hq, "S01").await;
    let t1 = s1.app.login("admin").await;
    let c = hq
        .create(&th, json!({"first_name": "Sam", "last_name": "Saver"}))
        .await;
    let cid = c["id"].as_str().unwrap().to_owned();
    eventually("customer at store", || async {
        !get_customer(&s1.app, &t1, &cid).await.is_null()
    })
    .await;
    let r = hq
        .post(
            &th,
            &format!("/api/v1/customers/{cid}/ledger"),
            &json!({"account": "points", "kind": "adjust", "amount": 6_000, "reason": "welcome"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let cart = json!({"customer": cid, "lines": [{"sku": "A", "name": "A", "quantity": 1, "unit_price": 10_000}]});
    for (app, t) in [(&hq, &th), (&s1.app, &t1)] {
        eventually("the 10 % discount", || async {
            let v: Value = app
                .post(t, "/api/v1/checkout/quote", &cart)
                .await
                .json()
                .await
                .unwrap();
            v["total"] == 9_000
        })
        .await;
    }
}

/// HQ changes a group's program while a store is cut off; the store sells on
/// the old terms. HQ re-prices the sale when it arrives, and its record
/// replaces the store's provisional one: afterwards both show the same order
/// and the same balance, each equal to its ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hqs_record_of_a_store_sale_replaces_the_stores() {
    let hq = spawn_app().await;
    let th = hq.login("admin").await;
    let r = hq
        .post(
            &th,
            "/api/v1/groups",
            &json!({"name": "Earners", "kind": "auto", "rule": "visits >= 0",
                    "program": {"kind": "points", "percent": 10, "max_redeem_percent": 50}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    let group: Value = r.json().await.unwrap();
    let s1 = spawn_store(&hq, "S01").await;
    let t1 = s1.app.login("admin").await;
    let c = hq
        .create(&th, json!({"first_name": "Ria", "last_name": "Reprice"}))
        .await;
    let cid = c["id"].as_str().unwrap().to_owned();
    eventually("customer at store", || async {
        !get_customer(&s1.app, &t1, &cid).await.is_null()
    })
    .await;
    s1.cut();
    let r = hq
        .client
        .put(hq.url(&format!("/api/v1/groups/{}", group["id"].as_str().unwrap())))
        .bearer_auth(&th)
        .json(
            &json!({"name": "Earners", "kind": "auto", "rule": "visits >= 0",
                      "program": {"kind": "points", "percent": 20, "max_redeem_percent": 50}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    let r = s1
        .app
        .post(
            &t1,
            "/api/v1/orders",
            &json!({"id": "re-1", "customer": cid, "lines": [{"sku": "A", "name": "A", "quantity": 1, "unit_price": 10_000}]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let local: Value = r.json().await.unwrap();
    assert_eq!(local["earned"], 1_000, "10 % on the store's terms");
    s1.heal();
    for (app, t) in [(&hq, &th), (&s1.app, &t1)] {
        eventually("HQ's 20 % everywhere", || async {
            let o: Value = app
                .get(t, "/api/v1/orders/re-1")
                .await
                .json()
                .await
                .unwrap_or(Value::Null);
            let cust = get_customer(app, t, &cid).await;
            o["earned"] == 2_000 && cust["balances"]["points"]["balance"] == 2_000
        })
        .await;
        let v: Value = app
            .get(t, &format!("/api/v1/customers/{cid}/ledger?account=points"))
            .await
            .json()
            .await
            .unwrap();
        let sum: i64 = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["amount"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, 2_000);
    }
}

async fn trail(app: &common::TestApp, t: &str, id: &str) -> Vec<Value> {
    let r = app.get(t, &format!("/api/v1/customers/{id}/audit")).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap().as_array().unwrap().clone()
}

/// Who the trail says did `action` (to `field`).
fn audited_by(entries: &[Value], action: &str, field: Option<&str>) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e["action"] == action && field.is_none_or(|f| e["field"] == f))
        .map(|e| e["actor"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The audit trail names the person and the store that made a change, at HQ
/// and at every other store, never the sync link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_names_the_person_and_store_everywhere() {
    let hq = spawn_app().await;
    let s1 = spawn_store(&hq, "S01").await;
    let s2 = spawn_store(&hq, "S02").await;
    let (th, t1, t2) = (
        hq.login("manager").await,
        s1.app.login("cashier").await,
        s2.app.login("admin").await,
    );
    // Made at HQ by the manager: "manager (HQ)" at the stores.
    let a = hq
        .create(&th, json!({"first_name": "Ada", "last_name": "Audit"}))
        .await;
    let aid = a["id"].as_str().unwrap().to_owned();
    eventually("HQ's customer at S02", || async {
        !find(&s2.app, &t2, "Audit").await.is_empty()
    })
    .await;
    let at_s2 = trail(&s2.app, &t2, &aid).await;
    assert_eq!(
        audited_by(&at_s2, "create", None),
        ["manager (HQ)"],
        "{at_s2:?}"
    );

    // Edited at S01 by its cashier: "cashier (S01)" at HQ and at S02; at
    // S01 itself under the cashier's own name.
    eventually("HQ's customer at S01", || async {
        !find(&s1.app, &t1, "Audit").await.is_empty()
    })
    .await;
    let r = s1
        .app
        .patch(
            &t1,
            &format!("/api/v1/customers/{aid}"),
            &json!({"notes": "prefers email"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    for (app, t) in [(&hq, &th), (&s2.app, &t2)] {
        eventually("the edit everywhere", || async {
            get_customer(app, t, &aid).await["notes"] == "prefers email"
        })
        .await;
        let entries = trail(app, t, &aid).await;
        assert_eq!(
            audited_by(&entries, "update", Some("notes")),
            ["cashier (S01)"],
            "{entries:?}"
        );
        assert!(
            !entries
                .iter()
                .any(|e| e["actor"].as_str().unwrap_or("").starts_with("sync:")),
            "{entries:?}"
        );
    }
    let at_s1 = trail(&s1.app, &t1, &aid).await;
    assert_eq!(
        audited_by(&at_s1, "update", Some("notes")),
        ["cashier"],
        "{at_s1:?}"
    );

    // Created at S01: its creator at HQ and S02.
    let b = s1
        .app
        .create(&t1, json!({"first_name": "Bo", "last_name": "Beacon"}))
        .await;
    let bid = b["id"].as_str().unwrap().to_owned();
    for (app, t) in [(&hq, &th), (&s2.app, &t2)] {
        eventually("S01's customer everywhere", || async {
            !find(app, t, "Beacon").await.is_empty()
        })
        .await;
        let entries = trail(app, t, &bid).await;
        assert_eq!(
            audited_by(&entries, "create", None),
            ["cashier (S01)"],
            "{entries:?}"
        );
    }
}
