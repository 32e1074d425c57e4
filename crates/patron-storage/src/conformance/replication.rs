//! Replication, as every backend must do it: a store records its users'
//! operations, HQ re-applies them through its own rules (refusing what a store
//! could not have done), and HQ's feed brings the result back.

use super::*;
use crate::ops::{Op, OpBody, derived_id, redemption_id};
use patron_domain::loyalty::Account;

/// HQ and a store of the same backend, the store following HQ.
async fn pair(hq: &Store, store: &Store, id: &str) {
    store
        .become_store(&patron_domain::StoreId::parse(id).unwrap())
        .await
        .unwrap();
    let (first, last) = hq.lease_codes(id, 100).await.unwrap();
    store.add_code_block(first, last).await.unwrap();
    pull_all(hq, store).await;
}

async fn pull_all(hq: &Store, store: &Store) {
    loop {
        let after: i64 = store
            .sync_value("pull_cursor")
            .await
            .unwrap()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let page = hq.feed(after, 100).await.unwrap();
        if page.last <= after {
            return;
        }
        store
            .apply_changes(
                &Peer::Hq,
                page.changes,
                Some(("pull_cursor".into(), page.last)),
            )
            .await
            .unwrap();
    }
}

/// Sends the store's whole outbox to HQ; returns HQ's answers.
async fn push_all(hq: &Store, store: &Store, id: &str) -> Vec<crate::ops::OpResult> {
    let page = store.outbox(0, 10_000, usize::MAX).await.unwrap();
    let ops: Vec<Op> = page
        .ops
        .iter()
        .map(|o| serde_json::from_str(&o.op).unwrap())
        .collect();
    hq.apply_ops(id, ops, Vec::new(), OffsetDateTime::now_utc())
        .await
        .unwrap()
}

pub async fn store_operations_are_reapplied_at_hq(hq: Store, store: Store) {
    pair(&hq, &store, "S01").await;
    let c = store
        .create_customer(&actor(), person("Rita", "Replica"))
        .await
        .unwrap();
    store
        .update_customer(
            &actor(),
            &CustomerKey::Id(c.id),
            vec![(Field::Notes, Patch::Set("likes tea".into()))],
            ctx(),
        )
        .await
        .unwrap();
    let results = push_all(&hq, &store, "S01").await;
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r.refused.is_none()), "{results:?}");
    let at_hq = hq.customer(&CustomerKey::Id(c.id)).await.unwrap();
    assert_eq!(at_hq.code, c.code);
    assert_eq!(at_hq.data.notes.as_deref(), Some("likes tea"));
    assert_eq!(at_hq.origin_store.as_ref().map(|s| s.as_str()), Some("S01"));
    // The same page again changes nothing.
    let again = push_all(&hq, &store, "S01").await;
    assert_eq!(again, results);
    assert_eq!(hq.count_customers().await.unwrap(), 1);
    // Acknowledged, the operations leave the outbox; positions are never reused.
    let head = store.outbox_head().await.unwrap();
    store.acknowledge_outbox(head).await.unwrap();
    assert!(
        store
            .outbox(0, 100, usize::MAX)
            .await
            .unwrap()
            .ops
            .is_empty()
    );
    store
        .create_customer(&actor(), person("Nora", "Next"))
        .await
        .unwrap();
    let page = store.outbox(head, 100, usize::MAX).await.unwrap();
    assert_eq!(page.ops.len(), 1);
    assert!(page.ops[0].seq > head);
    // HQ's feed brings it back unchanged.
    pull_all(&hq, &store).await;
    assert_eq!(
        store.customer(&CustomerKey::Id(c.id)).await.unwrap().data,
        at_hq.data
    );
}

pub async fn hq_refuses_what_a_store_could_not_have_done(hq: Store, store: Store) {
    pair(&hq, &store, "S01").await;
    let hq_customer = hq
        .create_customer(&actor(), person("Hana", "Headoffice"))
        .await
        .unwrap();
    let at = OffsetDateTime::now_utc();
    let op = |body: OpBody| Op {
        id: uuid::Uuid::now_v7(),
        store: "S01".into(),
        actor: "tester".into(),
        at: (at.unix_timestamp_nanos() / 1000) as i64,
        hlc: format!(
            "{:016}-000000000-S01",
            at.unix_timestamp_nanos() / 1_000_000
        ),
        seen: None,
        body,
    };
    let create = |code: &str| OpBody::CreateCustomer {
        id: uuid::Uuid::now_v7(),
        code: code.into(),
        fields: [("first_name", "Eve"), ("last_name", "Forger")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    };
    let next_hq = format!(
        "CUST-{:05}",
        hq_customer.code.number().unwrap_or_default() + 1
    );
    let ops = vec![
        op(create(&next_hq)),
        op(create("CUST-S02-0001")),
        op(create(hq_customer.code.as_str())),
        op(OpBody::Entry {
            entry_id: uuid::Uuid::now_v7(),
            customer: hq_customer.id,
            account: "points".into(),
            kind: "birthday".into(),
            amount: 5_000,
            reason: "next year".into(),
            idempotency_key: None,
        }),
        op(OpBody::Entry {
            entry_id: uuid::Uuid::now_v7(),
            customer: hq_customer.id,
            account: "bogus".into(),
            kind: "adjust".into(),
            amount: 5_000,
            reason: "x".into(),
            idempotency_key: None,
        }),
        op(OpBody::EditCustomer {
            id: hq_customer.id,
            fields: [("balance".to_owned(), Some("1".to_owned()))]
                .into_iter()
                .collect(),
        }),
        op(OpBody::Return {
            id: "r-1".into(),
            fingerprint: "x".into(),
            order_id: "no-such-order".into(),
            lines: vec![crate::ops::OpReturnLine {
                line: 0,
                quantity: 1_000,
            }],
        }),
    ];
    let n = ops.len();
    let results = hq
        .apply_ops("S01", ops, Vec::new(), OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(results.len(), n);
    for r in &results {
        assert!(r.refused.is_some(), "applied: {r:?}");
    }
    assert_eq!(hq.count_customers().await.unwrap(), 1);
    let b = hq
        .balances(&CustomerKey::Id(hq_customer.id), OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!((b.points.balance, b.credit.balance), (0, 0));
    let refusals = hq.refusals(100).await.unwrap();
    assert_eq!(refusals.len(), n);
    assert!(
        refusals
            .iter()
            .all(|r| r.store == "S01" && !r.reason.is_empty())
    );
    // HQ still creates customers under its own next code.
    let after = hq
        .create_customer(&actor(), person("Still", "Fine"))
        .await
        .unwrap();
    assert_eq!(after.code.as_str(), next_hq);
}

pub async fn an_authorised_redemption_and_its_sale_are_one_entry(hq: Store, store: Store) {
    pair(&hq, &store, "S01").await;
    let c = hq
        .create_customer(&actor(), person("Otto", "Once"))
        .await
        .unwrap();
    let key = CustomerKey::Id(c.id);
    hq.post_entry(
        &actor(),
        &key,
        ManualEntry {
            account: Account::Credit,
            kind: patron_domain::loyalty::EntryKind::TopUp,
            amount: 1_000,
            reason: "gift".into(),
            idempotency_key: None,
        },
        OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    pull_all(&hq, &store).await;
    let now = OffsetDateTime::now_utc();
    // Authorised twice (the first answer lost), recorded once.
    for _ in 0..2 {
        hq.authorize_redemption(
            "S01",
            "tester",
            c.id,
            "o-1",
            vec![(Account::Credit, 600)],
            now,
        )
        .await
        .unwrap();
    }
    // The store committed it offline meanwhile, with the same derived id.
    let order = crate::OrderRequest {
        id: "o-1".into(),
        checkout: crate::CheckoutRequest {
            customer: key.clone(),
            lines: vec![patron_domain::loyalty::CartLine {
                sku: "A".into(),
                name: "A".into(),
                category: String::new(),
                quantity: 1_000,
                unit: "ea".into(),
                unit_price: 1_000,
            }],
            redeem_points: 0,
            redeem_credit: 600,
            store: None,
        },
        override_limits: false,
        fingerprint: "f".into(),
        from_store: None,
        placed_at: None,
    };
    store.commit_order(&actor(), order, now).await.unwrap();
    let results = push_all(&hq, &store, "S01").await;
    assert!(results.iter().all(|r| r.refused.is_none()), "{results:?}");
    pull_all(&hq, &store).await;
    for db in [&hq, &store] {
        let b = db.balances(&key, OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(b.credit.balance, 400, "redeemed exactly once");
        let ledger = db.ledger(&key, Some(Account::Credit)).await.unwrap();
        let redeemed: Vec<_> = ledger
            .iter()
            .filter(|e| e.id == redemption_id("o-1", "credit"))
            .collect();
        assert_eq!(redeemed.len(), 1);
        // Under the cashier who asked, at their store (not the sync link).
        assert_eq!(
            (redeemed[0].actor.as_str(), redeemed[0].store.as_deref()),
            ("tester", Some("S01"))
        );
    }
    // A release after the sale arrived changes nothing.
    assert_eq!(
        hq.release_redemption("S01", "tester", "o-1", OffsetDateTime::now_utc())
            .await
            .unwrap(),
        0
    );
    // An authorisation whose sale never comes is given back, once.
    hq.authorize_redemption(
        "S01",
        "tester",
        c.id,
        "o-lost",
        vec![(Account::Credit, 100)],
        now,
    )
    .await
    .unwrap();
    let later = now + time::Duration::hours(1);
    let report = hq.run_maintenance(later).await.unwrap();
    assert_eq!(report.released_authorisations, 1);
    let report = hq.run_maintenance(later).await.unwrap();
    assert_eq!(report.released_authorisations, 0);
    let b = hq.balances(&key, later).await.unwrap();
    assert_eq!(b.credit.balance, 400);
    let _ = derived_id("unused");
}

pub async fn creates_are_idempotent_by_client_id(store: Store) {
    let id = uuid::Uuid::now_v7();
    let (a, replay) = store
        .create_customer_with_id(&actor(), id, person("Ida", "Idem"))
        .await
        .unwrap();
    assert!(!replay);
    let (b, replay) = store
        .create_customer_with_id(&actor(), id, person("Ida", "Idem"))
        .await
        .unwrap();
    assert!(replay);
    assert_eq!(a, b);
    let other = store
        .create_customer_with_id(&actor(), id, person("Someone", "Else"))
        .await;
    assert!(
        matches!(other, Err(StorageError::Conflict { ref field, .. }) if field == "id"),
        "{other:?}"
    );
    assert_eq!(store.count_customers().await.unwrap(), 1);
}
