//! Issue 10, "every number has a range": settings, group programs and orders
//! driven to their bounds and past them. Whatever the API accepts must never
//! make a later request answer 5xx; whatever it refuses is a 422 naming a field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::spawn_app;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Values at, around and far past each documented bound.
fn edge_amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0i64),
        Just(1),
        Just(-1),
        Just(10_000_000_000),
        Just(10_000_000_001),
        Just(i64::MAX),
        Just(i64::MIN),
        0i64..1_000_000,
    ]
}

fn edge_days() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0i64),
        Just(1),
        Just(36_500),
        Just(36_501),
        Just(3_000_000),
        Just(i64::from(u32::MAX) + 1),
        Just(-5),
        1i64..400,
    ]
}

fn edge_percent() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(0)),
        Just(json!(100)),
        Just(json!(100.01)),
        Just(json!(-1)),
        Just(json!(1e300)),
        Just(json!(12.5)),
        Just(json!("5")),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    lifetime: i64,
    registration_bonus: i64,
    birthday_bonus: i64,
    group_registration_bonus: i64,
    percent: Value,
    max_redeem: Value,
    return_window: i64,
    offline_cap: i64,
    topup_cap: i64,
    utc_offset: i64,
    price: i64,
    quantity: i64,
    adjust: i64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (edge_days(), edge_amount(), edge_amount(), edge_amount()),
        (edge_percent(), edge_percent(), edge_days(), edge_amount()),
        (
            edge_amount(),
            prop_oneof![Just(0i64), Just(840), Just(841), Just(-841), Just(i64::MAX)],
        ),
        (
            edge_amount(),
            prop_oneof![Just(1i64), Just(1_000), Just(1_000_001), Just(0), Just(-1)],
            edge_amount(),
        ),
    )
        .prop_map(
            |(
                (lifetime, rb, bb, grb),
                (percent, max_redeem, rw, oc),
                (tc, off),
                (price, quantity, adjust),
            )| Case {
                lifetime,
                registration_bonus: rb,
                birthday_bonus: bb,
                group_registration_bonus: grb,
                percent,
                max_redeem,
                return_window: rw,
                offline_cap: oc,
                topup_cap: tc,
                utc_offset: off,
                price,
                quantity,
                adjust,
            },
        )
}

/// Below 500, and a 4xx is problem+json naming a field or saying why.
async fn checked(r: reqwest::Response, what: &str) -> Result<(u16, Value), TestCaseError> {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    prop_assert!(status < 500, "{what}: {status} {body}");
    if status >= 400 {
        prop_assert_eq!(
            ct.as_str(),
            "application/problem+json",
            "{}: {}",
            what,
            body
        );
        prop_assert!(body["detail"].is_string(), "{what}: {body}");
    }
    Ok((status, body))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn nothing_the_api_accepts_makes_a_later_request_fail(c in case()) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let app = spawn_app().await;
            let t = app.login("admin").await;
            // One field at a time, so every value the API accepts is in effect.
            let mut accepted = 0;
            for (name, value) in [
                ("points_lifetime_days", json!(c.lifetime)),
                ("registration_bonus", json!(c.registration_bonus)),
                ("max_redeem_percent", c.max_redeem.clone()),
                ("return_window_days", json!(c.return_window)),
                ("offline_redeem_cap", json!(c.offline_cap)),
                ("store_topup_daily_cap", json!(c.topup_cap)),
                ("utc_offset_minutes", json!(c.utc_offset)),
            ] {
                let r = app.patch(&t, "/api/v1/loyalty/settings", &json!({name: value})).await;
                let (status, body) = checked(r, name).await?;
                prop_assert!(status == 200 || status == 422, "{name}: {status} {body}");
                if status == 422 {
                    prop_assert_eq!(body["field"].as_str(), Some(name), "{}", body);
                } else {
                    accepted += 1;
                }
            }
            let _ = accepted;
            let r = app.post(&t, "/api/v1/groups", &json!({
                "name": "Edge", "kind": "auto", "rule": "visits >= 0",
                "program": {"kind": "points", "percent": c.percent,
                    "birthday_bonus": c.birthday_bonus, "registration_bonus": c.group_registration_bonus,
                    "max_redeem_percent": c.max_redeem},
                "spend_limit": {"amount": c.price, "period": "day"},
            })).await;
            let (status, body) = checked(r, "group").await?;
            prop_assert!(status == 201 || status == 422, "group: {status} {body}");
            // Everything that earns, registers or adjusts after the settings.
            let r = app.post(&t, "/api/v1/customers", &json!({"first_name": "Edge", "last_name": "Case"})).await;
            let (status, customer) = checked(r, "customer").await?;
            prop_assert_eq!(status, 201);
            let cid = customer["id"].as_str().unwrap().to_owned();
            let r = app.post(&t, &format!("/api/v1/customers/{cid}/ledger"),
                &json!({"account": "points", "kind": "adjust", "amount": c.adjust, "reason": "edge"})).await;
            checked(r, "adjust").await?;
            let r = app.post(&t, &format!("/api/v1/customers/{cid}/ledger"),
                &json!({"account": "credit", "kind": "top-up", "amount": c.adjust, "reason": "edge"})).await;
            checked(r, "top-up").await?;
            for i in 0..2 {
                let order = json!({"id": format!("edge-{i}"), "customer": cid,
                    "lines": [{"sku": "S", "name": "S", "quantity": c.quantity, "unit_price": c.price}]});
                let r = app.post(&t, "/api/v1/checkout/quote", &order).await;
                checked(r, "quote").await?;
                let r = app.post(&t, "/api/v1/orders", &order).await;
                let (status, body) = checked(r, "order").await?;
                if status == 201 {
                    let r = app.post(&t, &format!("/api/v1/orders/edge-{i}/returns"),
                        &json!({"id": format!("ret-{i}"), "lines": [{"line": 0, "quantity": 1}]})).await;
                    checked(r, "return").await?;
                } else {
                    prop_assert!(body["field"].is_string() || body["errors"].is_array(), "{body}");
                }
            }
            for path in [format!("/api/v1/customers/{cid}"), format!("/api/v1/customers/{cid}/ledger"),
                         format!("/api/v1/customers/{cid}/activity"), "/api/v1/loyalty/settings".into(),
                         "/api/v1/groups".into()] {
                let r = app.get(&t, &path).await;
                let (status, _) = checked(r, &path).await?;
                prop_assert_eq!(status, 200, "{}", path);
            }
            let r = app.post(&t, "/api/v1/loyalty/maintenance", &json!({})).await;
            checked(r, "maintenance").await?;
            Ok(())
        })?;
    }
}
