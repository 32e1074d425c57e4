//! A seeded, deterministic simulation of HQ and two stores: random writes at
//! every node, random partitions and heals, duplicated and lost acknowledgements,
//! and sync steps taken in random order — the same push/pull steps the real
//! client makes, through the same storage calls. After a final heal every node
//! must hold the same customers, ledger, orders and memberships, with every
//! balance equal to its ledger sum.
//!
//! Written against the `Storage` trait, so every backend runs it unchanged:
//! a backend's test calls [`converge_seeds`] and the clock tests with a
//! function that makes a fresh, empty store. `PATRON_SIM_SEEDS` sets how many
//! seeds run (default 1000); a failure prints its seed, and
//! `PATRON_SIM_SEED=N` replays just that one.

use crate::*;
use patron_domain::customer::{Field, ParseContext};
use patron_domain::loyalty::{Account, CartLine, EntryKind, Program};
use patron_domain::{CustomerDraft, Patch, StoreId};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use time::OffsetDateTime;

/// Makes a fresh, empty store, and whatever must live as long as it (its
/// temporary directory, say), dropped with the node.
pub type Maker = dyn Fn() -> (Store, Box<dyn std::any::Any + Send + Sync>) + Send + Sync;

use super::Store;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: tiny, deterministic, good enough to pick actions.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct Node {
    store: Option<String>,
    db: Arc<dyn Storage>,
    link_up: bool,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

impl Node {
    fn new(store: Option<&str>, make: &Maker) -> Self {
        let (db, keep) = make();
        Self {
            store: store.map(str::to_owned),
            db,
            link_up: true,
            _keep: keep,
        }
    }
}

fn ctx() -> ParseContext {
    ParseContext {
        region: Default::default(),
        today: OffsetDateTime::now_utc().date(),
    }
}

async fn cursor(db: &Arc<dyn Storage>, key: &str) -> i64 {
    db.sync_value(key)
        .await
        .unwrap()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One push page from a store to HQ. `lose_ack`: HQ applies it but the store
/// never hears back, so it will send it again.
async fn push(hq: &Node, s: &Node, lose_ack: bool) -> bool {
    let after = cursor(&s.db, "push_cursor").await;
    let page = s.db.outbox(after, 7, 64 * 1024).await.unwrap();
    if page.ops.is_empty() {
        return false;
    }
    // The HTTP layer checks signatures and rights first; the simulation's
    // actor is trusted, so the operations go straight to HQ's rules.
    let ops = page
        .ops
        .iter()
        .map(|o| serde_json::from_str(&o.op).unwrap())
        .collect();
    let results = hq
        .db
        .apply_ops(
            s.store.as_deref().unwrap(),
            ops,
            Vec::new(),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    for r in &results {
        assert!(
            r.refused.is_none(),
            "HQ refused an honest store's operation: {r:?}"
        );
    }
    if !lose_ack {
        s.db.acknowledge_outbox(page.last).await.unwrap();
    }
    true
}

/// One pull page from HQ's feed into a store; `duplicate` delivers it twice.
async fn pull(hq: &Node, s: &Node, duplicate: bool) -> bool {
    let after = cursor(&s.db, "pull_cursor").await;
    let page = hq.db.feed(after, 7).await.unwrap();
    if page.last <= after {
        return false;
    }
    if duplicate {
        s.db.apply_changes(&Peer::Hq, page.changes.clone(), None)
            .await
            .unwrap();
    }
    s.db.apply_changes(
        &Peer::Hq,
        page.changes,
        Some(("pull_cursor".into(), page.last)),
    )
    .await
    .unwrap();
    true
}

async fn customers(db: &Arc<dyn Storage>) -> Vec<Customer> {
    let q = CustomerQuery {
        active: ActiveFilter::All,
        limit: 500,
        ..Default::default()
    };
    db.list_customers(&q).await.unwrap().items
}

/// Code, fields, active, type.
type CustomerState = (String, Vec<Option<String>>, bool, Option<String>);

#[derive(Debug, PartialEq)]
struct Snapshot {
    customers: BTreeMap<String, CustomerState>,
    ledger: BTreeSet<(String, String, String, i64)>,
    balances: BTreeMap<String, (i64, i64)>,
    orders: BTreeSet<(String, i64, i64)>,
    members: BTreeSet<String>,
    totals: BTreeMap<String, (i64, i64)>,
}

async fn snapshot(db: &Arc<dyn Storage>, group: uuid::Uuid) -> Snapshot {
    let mut s = Snapshot {
        customers: BTreeMap::new(),
        ledger: BTreeSet::new(),
        balances: BTreeMap::new(),
        orders: BTreeSet::new(),
        members: BTreeSet::new(),
        totals: BTreeMap::new(),
    };
    let now = OffsetDateTime::now_utc();
    for c in customers(db).await {
        let key = CustomerKey::Id(c.id);
        let fields = Field::ALL.iter().map(|f| c.data.get(*f)).collect();
        let act = db.customer_activity(&key, now).await.unwrap();
        s.customers.insert(
            c.id.to_string(),
            (
                c.code.as_str().to_owned(),
                fields,
                c.active,
                act.customer_type.map(|t| t.to_string()),
            ),
        );
        let entries = db.ledger(&key, None).await.unwrap();
        let mut sums = (0, 0);
        for e in &entries {
            s.ledger.insert((
                e.id.to_string(),
                c.id.to_string(),
                e.kind.as_str().to_owned(),
                e.amount,
            ));
            match e.account {
                Account::Points => sums.0 += e.amount,
                Account::Credit => sums.1 += e.amount,
            }
        }
        let b = db.balances(&key, now).await.unwrap();
        assert_eq!(
            (b.points.balance, b.credit.balance),
            sums,
            "a balance differs from its ledger sum"
        );
        s.balances.insert(c.id.to_string(), sums);
        for o in &act.orders {
            s.orders.insert((o.id.clone(), o.total, o.points_redeemed));
        }
        s.totals
            .insert(c.id.to_string(), (act.stats.total_spent, act.stats.visits));
    }
    let q = CustomerQuery {
        active: ActiveFilter::All,
        limit: 500,
        ..Default::default()
    };
    for c in db.group_members(group, &q).await.unwrap().items {
        s.members.insert(c.id.to_string());
    }
    s
}

/// An operation a store could not honestly have sent, pushed with a store's
/// token: HQ must refuse it, whatever the state.
async fn attack(hq: &Node, rng: &mut Rng, s9_last: u64) {
    let cs = customers(&hq.db).await;
    let victim = cs.first().map(|c| c.id).unwrap_or_else(uuid::Uuid::now_v7);
    let now = OffsetDateTime::now_utc();
    let code = |n: u64| format!("CUST-{n:05}");
    let body = match rng.below(7) {
        // HQ's next numbers (past every block leased so far).
        0 => crate::ops::OpBody::CreateCustomer {
            id: uuid::Uuid::now_v7(),
            code: code(s9_last + 1 + rng.below(3)),
            fields: [("first_name", "Eve"), ("last_name", "Forger")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        },
        1 => crate::ops::OpBody::CreateCustomer {
            id: uuid::Uuid::now_v7(),
            code: "CUST-S1-0001".into(),
            fields: [("first_name", "Eve"), ("last_name", "Forger")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        },
        2 => crate::ops::OpBody::Entry {
            entry_id: uuid::Uuid::now_v7(),
            customer: victim,
            account: "points".into(),
            kind: ["birthday", "registration", "expire", "earn", "redeem"][rng.below(5) as usize]
                .into(),
            amount: 1 + rng.below(100_000) as i64,
            reason: "forged".into(),
            idempotency_key: None,
        },
        3 => crate::ops::OpBody::Entry {
            entry_id: uuid::Uuid::now_v7(),
            customer: victim,
            account: "bogus".into(),
            kind: "adjust".into(),
            amount: 1_000,
            reason: "forged".into(),
            idempotency_key: None,
        },
        4 => crate::ops::OpBody::EditCustomer {
            id: victim,
            fields: [("points_balance".to_owned(), Some("9999".to_owned()))]
                .into_iter()
                .collect(),
        },
        5 => crate::ops::OpBody::Return {
            id: format!("forged-{}", rng.below(1_000_000)),
            fingerprint: "x".into(),
            order_id: "no-such-order".into(),
            lines: vec![crate::ops::OpReturnLine {
                line: 0,
                quantity: 1_000,
            }],
        },
        _ => crate::ops::OpBody::Entry {
            entry_id: uuid::Uuid::now_v7(),
            customer: victim,
            account: "credit".into(),
            kind: "top-up".into(),
            amount: i64::MAX,
            reason: "forged".into(),
            idempotency_key: None,
        },
    };
    let op = crate::ops::Op {
        id: uuid::Uuid::now_v7(),
        store: "S9".into(),
        actor: "sim".into(),
        at: (now.unix_timestamp_nanos() / 1000) as i64,
        hlc: format!(
            "{:016}-000000000-S9",
            now.unix_timestamp_nanos() / 1_000_000
        ),
        seen: None,
        body,
    };
    let results = hq
        .db
        .apply_ops("S9", vec![op.clone()], Vec::new(), now)
        .await
        .unwrap();
    assert!(
        results[0].refused.is_some(),
        "HQ applied a forged operation: {op:?}"
    );
}

/// One seed of the simulation.
pub async fn run_simulation(seed: u64, make: &Maker) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let hq = Node::new(None, make);
    let hq_db = hq.db.clone();
    let actor = Actor::new("sim");
    let today = OffsetDateTime::now_utc().date();
    let group = hq_db
        .save_group(&actor, None, GroupSpec::manual("VIP", None), today)
        .await
        .unwrap()
        .id;
    hq_db
        .save_group(
            &actor,
            None,
            GroupSpec {
                name: "Earners".into(),
                description: None,
                kind: GroupKind::Auto,
                rule: Some("visits >= 0".into()),
                program: Program::Cashback {
                    percent: patron_domain::loyalty::Percent::parse("10").unwrap(),
                },
                spend_limit: None,
                min_age: None,
                limit_profile: None,
            },
            today,
        )
        .await
        .unwrap();
    let mut settings = hq_db.loyalty_settings().await.unwrap();
    settings.return_window_days = 0;
    settings.registration_bonus = 100;
    hq_db
        .update_loyalty_settings(&actor, &settings)
        .await
        .unwrap();
    let mut stores = Vec::new();
    for id in ["S1", "S2"] {
        let node = Node::new(Some(id), make);
        let db = node.db.clone();
        db.become_store(&StoreId::parse(id).unwrap()).await.unwrap();
        hq.db
            .register_store(&StoreId::parse(id).unwrap(), id, &format!("hash-{id}"))
            .await
            .unwrap();
        // Half the seeds start a store with a block, half with none (overflow codes).
        if rng.chance(50) {
            let (first, last) = hq.db.lease_codes(id, 5).await.unwrap();
            db.add_code_block(first, last).await.unwrap();
        }
        stores.push(node);
    }
    // Everyone starts from HQ's state.
    for s in &stores {
        while pull(&hq, s, false).await {}
    }
    let steps = 40 + rng.below(50);
    let mut order_no = 0;
    let mut lost_sales = 0u32;
    // A third store whose token is in an attacker's hands.
    hq.db
        .register_store(&StoreId::parse("S9").unwrap(), "S9", "hash-S9")
        .await
        .unwrap();
    let (_, s9_last) = hq.db.lease_codes("S9", 5).await.unwrap();
    for _ in 0..steps {
        let pick = rng.below(100);
        let n = rng.below(3) as usize;
        let node = if n == 0 { &hq } else { &stores[n - 1] };
        match pick {
            0..=11 => {
                let first = ["Ann", "Bo", "Cy", "Di"][rng.below(4) as usize];
                let data = CustomerDraft::parse(
                    [
                        (Field::FirstName, first.to_owned()),
                        (Field::LastName, format!("Sim{}", rng.below(5))),
                    ],
                    &ctx(),
                )
                .unwrap();
                node.db
                    .create_customer(
                        &actor,
                        NewCustomer {
                            data,
                            origin_store: None,
                        },
                    )
                    .await
                    .unwrap();
            }
            12..=29 => {
                let cs = customers(&node.db).await;
                if cs.is_empty() {
                    continue;
                }
                let c = &cs[rng.below(cs.len() as u64) as usize];
                let (field, value) = match rng.below(3) {
                    0 => (
                        Field::Notes,
                        Patch::Set(format!("note {}", rng.below(1000))),
                    ),
                    1 => (
                        Field::AddressCity,
                        Patch::Set(["Denver", "Austin", "Reno"][rng.below(3) as usize].to_owned()),
                    ),
                    _ => (Field::Notes, Patch::Clear),
                };
                node.db
                    .update_customer(&actor, &CustomerKey::Id(c.id), vec![(field, value)], ctx())
                    .await
                    .unwrap();
            }
            30..=34 => {
                let cs = customers(&node.db).await;
                if let Some(c) = cs.get(rng.below(cs.len().max(1) as u64) as usize) {
                    node.db
                        .set_customer_active(&actor, &CustomerKey::Id(c.id), !c.active)
                        .await
                        .unwrap();
                }
            }
            35..=44 => {
                let cs = customers(&node.db).await;
                if let Some(c) = cs.get(rng.below(cs.len().max(1) as u64) as usize) {
                    let amount = rng.below(2_000) as i64 - 500;
                    let e = ManualEntry {
                        account: if rng.chance(50) {
                            Account::Points
                        } else {
                            Account::Credit
                        },
                        kind: if amount > 0 && rng.chance(30) {
                            EntryKind::TopUp
                        } else {
                            EntryKind::Adjust
                        },
                        amount,
                        reason: "sim".into(),
                        idempotency_key: None,
                    };
                    // Refusals (zero, or more than available) are part of the game.
                    let _ = node
                        .db
                        .post_entry(
                            &actor,
                            &CustomerKey::Id(c.id),
                            ManualEntry {
                                account: if e.kind == EntryKind::TopUp {
                                    Account::Credit
                                } else {
                                    e.account
                                },
                                ..e
                            },
                            OffsetDateTime::now_utc(),
                        )
                        .await;
                }
            }
            45..=54 => {
                let cs = customers(&node.db).await;
                if let Some(c) = cs
                    .get(rng.below(cs.len().max(1) as u64) as usize)
                    .filter(|c| c.active)
                {
                    order_no += 1;
                    let key = CustomerKey::Id(c.id);
                    let avail = node
                        .db
                        .balances(&key, OffsetDateTime::now_utc())
                        .await
                        .unwrap();
                    let redeem = if rng.chance(50) {
                        (avail.points.available / 2).clamp(0, 1_000)
                    } else {
                        0
                    };
                    let checkout = CheckoutRequest {
                        customer: key,
                        lines: vec![CartLine {
                            sku: "X".into(),
                            name: "X".into(),
                            category: "x".into(),
                            quantity: 1000,
                            unit: "ea".into(),
                            unit_price: 1 + rng.below(10_000) as i64,
                        }],
                        redeem_points: redeem,
                        redeem_credit: 0,
                        store: None,
                    };
                    let id = format!(
                        "{}-{seed}-{order_no}",
                        node.store.clone().unwrap_or("HQ".into())
                    );
                    let mut authorised_here = false;
                    // An online store asks HQ first. HQ records the
                    // authorisation; the store may then die before its own
                    // commit (the sale never happens), or get the answer late
                    // and sell anyway on its offline path: either way each
                    // committed sale must redeem once and a lost one not at all.
                    if let Some(store) = node.store.as_deref()
                        && redeem > 0
                        && stores[n - 1].link_up
                    {
                        let authorised = hq
                            .db
                            .authorize_redemption(
                                store,
                                "cashier",
                                c.id,
                                &id,
                                vec![(Account::Points, redeem)],
                                OffsetDateTime::now_utc(),
                            )
                            .await;
                        if authorised.is_err() {
                            continue;
                        }
                        if rng.chance(15) {
                            lost_sales += 1;
                            continue;
                        }
                        authorised_here = true;
                    }
                    let committed = node
                        .db
                        .commit_order(
                            &actor,
                            OrderRequest {
                                fingerprint: id.clone(),
                                id,
                                checkout,
                                override_limits: false,
                                from_store: None,
                                placed_at: None,
                            },
                            OffsetDateTime::now_utc(),
                        )
                        .await;
                    // A sale refused after HQ authorised it is a lost sale too
                    // (the HTTP path releases it at once; here the scheduler does).
                    if authorised_here && committed.is_err() {
                        lost_sales += 1;
                    }
                }
            }
            55..=61 => {
                let cs = customers(&node.db).await;
                if let Some(c) = cs.get(rng.below(cs.len().max(1) as u64) as usize) {
                    let _ = node
                        .db
                        .change_members(
                            &actor,
                            &MemberTarget::Groups(vec![group]),
                            &[CustomerKey::Id(c.id)],
                            rng.chance(60),
                        )
                        .await;
                }
            }
            62..=66 => {
                let i = rng.below(2) as usize;
                stores[i].link_up = !stores[i].link_up;
            }
            67..=69 => attack(&hq, &mut rng, s9_last).await,
            _ => {
                let i = rng.below(2) as usize;
                if stores[i].link_up {
                    if rng.chance(50) {
                        push(&hq, &stores[i], rng.chance(15)).await;
                    } else {
                        pull(&hq, &stores[i], rng.chance(15)).await;
                    }
                }
            }
        }
    }
    // Heal everything and sync until nothing moves.
    for s in &mut stores {
        s.link_up = true;
    }
    for _ in 0..1_000 {
        let mut moved = false;
        for s in &stores {
            moved |= push(&hq, s, false).await;
        }
        for s in &stores {
            moved |= pull(&hq, s, false).await;
        }
        if !moved {
            break;
        }
    }
    // Authorisations whose sale never came are given back by HQ's scheduler,
    // and the stores hear of it.
    let report = hq
        .db
        .run_maintenance(OffsetDateTime::now_utc() + time::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        u64::from(lost_sales),
        report.released_authorisations,
        "every lost sale's authorisation is released, and only those"
    );
    for s in &stores {
        while pull(&hq, s, false).await {}
    }
    let want = snapshot(&hq.db, group).await;
    for s in &stores {
        let got = snapshot(&s.db, group).await;
        assert_eq!(got, want, "store {:?} differs from HQ", s.store);
    }
    if std::env::var("PATRON_SIM_VERBOSE").is_ok() {
        eprintln!(
            "seed {seed}: {} customers, {} ledger entries, {} orders, {} members",
            want.customers.len(),
            want.ledger.len(),
            want.orders.len(),
            want.members.len()
        );
    }
    // Codes are unique chain-wide.
    let codes: BTreeSet<_> = want.customers.values().map(|c| c.0.clone()).collect();
    assert_eq!(codes.len(), want.customers.len(), "a code was issued twice");
}

/// Runs the simulation over `PATRON_SIM_SEEDS` seeds (default 1,000) on two
/// threads, or just `PATRON_SIM_SEED`; a failure names its seed.
pub fn converge_seeds(make: Arc<Maker>) {
    let seeds: Vec<u64> = match std::env::var("PATRON_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(one) => vec![one],
        None => {
            let n = std::env::var("PATRON_SIM_SEEDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1000u64);
            (1..=n).collect()
        }
    };
    // Two workers, each its own runtime; every seed still runs deterministically.
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let mine: Vec<u64> = seeds.iter().copied().skip(w).step_by(2).collect();
            let make = make.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                for seed in mine {
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(run_simulation(seed, &*make))));
                    if let Err(e) = outcome {
                        eprintln!("sync simulation failed for seed {seed}; replay with PATRON_SIM_SEED={seed}");
                        std::panic::resume_unwind(e);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        if let Err(e) = w.join() {
            std::panic::resume_unwind(e);
        }
    }
}

/// HQ, a store following it, and a customer of HQ's both hold.
async fn hq_store_and_customer(
    make: &Maker,
    actor: &Actor,
    first: &str,
    last: &str,
) -> (Node, Node, CustomerKey) {
    let hq = Node::new(None, make);
    let s = Node::new(Some("S1"), make);
    s.db.become_store(&StoreId::parse("S1").unwrap())
        .await
        .unwrap();
    let data = CustomerDraft::parse(
        [
            (Field::FirstName, first.to_owned()),
            (Field::LastName, last.to_owned()),
        ],
        &ctx(),
    )
    .unwrap();
    let c = hq
        .db
        .create_customer(
            actor,
            NewCustomer {
                data,
                origin_store: None,
            },
        )
        .await
        .unwrap();
    while pull(&hq, &s, false).await {}
    (hq, s, CustomerKey::Id(c.id))
}

/// A store whose clock runs three hours fast: HQ accepts its writes (never
/// rejects them) but stamps them with its own time, so a later write anywhere
/// still wins, on every node; and HQ's own clock is not dragged ahead.
pub fn a_store_clock_hours_ahead_cannot_win_later_conflicts(make: &Maker) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let actor = Actor::new("skew");
        let (hq, s, key) = hq_store_and_customer(make, &actor, "Tim", "Skew").await;
        let note = |v: &str| vec![(Field::Notes, Patch::Set(v.to_owned()))];

        // Offline, with a clock three hours fast.
        s.db.set_sync_value("clock_offset_ms", &(3 * 3_600_000).to_string())
            .await
            .unwrap();
        s.db.update_customer(&actor, &key, note("from the future"), ctx())
            .await
            .unwrap();
        while push(&hq, &s, false).await {}
        assert_eq!(
            hq.db.customer(&key).await.unwrap().data.notes.as_deref(),
            Some("from the future")
        );
        let hq_clock = hq.db.sync_value("hlc").await.unwrap().unwrap();
        let hq_millis: u64 = hq_clock.split('-').next().unwrap().parse().unwrap();
        let now_ms = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64;
        assert!(
            hq_millis < now_ms + 120_000,
            "HQ's clock was dragged ahead: {hq_clock}"
        );

        // Back in touch: the store's clock follows HQ's again.
        s.db.set_sync_value("clock_offset_ms", "0").await.unwrap();
        while pull(&hq, &s, false).await {}
        // A later write at HQ wins everywhere, although it is stamped hours
        // before the store's original stamp.
        hq.db
            .update_customer(&actor, &key, note("hq, later"), ctx())
            .await
            .unwrap();
        while pull(&hq, &s, false).await {}
        for db in [&hq.db, &s.db] {
            assert_eq!(
                db.customer(&key).await.unwrap().data.notes.as_deref(),
                Some("hq, later")
            );
        }
        // And the store's next write wins in turn.
        s.db.update_customer(&actor, &key, note("store, last"), ctx())
            .await
            .unwrap();
        while push(&hq, &s, false).await {}
        while pull(&hq, &s, false).await {}
        for db in [&hq.db, &s.db] {
            assert_eq!(
                db.customer(&key).await.unwrap().data.notes.as_deref(),
                Some("store, last")
            );
        }
    });
}

/// A store's clock jumps an hour ahead while it is cut off; a cashier edits a
/// field there, and two seconds' worth later an HQ user edits the same field.
/// When the link returns, the later edit (HQ's) wins everywhere: the store's
/// operation is dated from the last HQ stamp it had seen, not from its clock
/// nor from when it arrived.
pub fn an_edit_from_a_clock_that_jumped_never_beats_a_later_one(make: &Maker) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let actor = Actor::new("jump");
        let (hq, s, key) = hq_store_and_customer(make, &actor, "Jo", "Jump").await;
        let note = |v: &str| vec![(Field::Notes, Patch::Set(v.to_owned()))];
        // Cut off; the shop PC's clock jumps an hour ahead; the cashier edits.
        s.db.set_sync_value("clock_offset_ms", &(3_600_000).to_string())
            .await
            .unwrap();
        s.db.update_customer(&actor, &key, note("store, earlier"), ctx())
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        hq.db
            .update_customer(&actor, &key, note("hq, later"), ctx())
            .await
            .unwrap();
        // Back: the store's clock follows HQ's again, then both directions sync.
        s.db.set_sync_value("clock_offset_ms", "0").await.unwrap();
        while push(&hq, &s, false).await {}
        while pull(&hq, &s, false).await {}
        for db in [&hq.db, &s.db] {
            assert_eq!(
                db.customer(&key).await.unwrap().data.notes.as_deref(),
                Some("hq, later")
            );
        }
        // The store's edit is not lost: it is in the audit trail.
        let audit = hq.db.customer_audit(&key).await.unwrap();
        assert!(
            audit
                .iter()
                .any(|a| a.action == "sync-conflict-lost"
                    && a.old.as_deref() == Some("store, earlier")),
            "{audit:?}"
        );
    });
}
