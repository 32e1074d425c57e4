//! Rule evaluations are bounded: a preview stops at its deadline or when
//! nobody waits for it, and saving an auto group fills it in steps that reach
//! the same members as one evaluation. No assertion here depends on timing:
//! deadlines are zero or an hour.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use patron_domain::customer::{Field, ParseContext};
use patron_domain::loyalty::Program;
use patron_domain::rules::Rule;
use patron_domain::{CustomerDraft, PhoneRegion};
use patron_sqlite::{RuleDeadlines, SqliteStorage};
use patron_storage::{Actor, GroupKind, GroupSpec, ImportRow, NewCustomer, Storage, StorageError};
use std::time::Duration;

const CITIES: [&str; 3] = ["Denver", "Boulder", "Austin"];

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

fn ctx() -> ParseContext {
    ParseContext {
        region: PhoneRegion::default(),
        today: today(),
    }
}

/// `n` customers, the `i`-th living in `CITIES[i % 3]`.
async fn populate(storage: &SqliteStorage, n: usize) {
    let rows = (0..n).map(|i| {
        let fields = vec![
            (Field::FirstName, format!("P{i}")),
            (Field::LastName, "Test".to_owned()),
            (Field::AddressCity, CITIES[i % CITIES.len()].to_owned()),
        ];
        Ok(ImportRow {
            line: i as u64 + 1,
            opening: Default::default(),
            groups: Vec::new(),
            source_key: None,
            customer: NewCustomer {
                data: CustomerDraft::parse(fields, &ctx()).unwrap(),
                origin_store: None,
            },
        })
    });
    let rows: Vec<_> = rows.collect();
    storage
        .import_customers(
            &Actor::new("test"),
            Box::new(rows.into_iter()),
            patron_storage::ImportOptions {
                strict: false,
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

fn open() -> (tempfile::TempDir, SqliteStorage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(dir.path()).unwrap();
    (dir, storage)
}

fn rule(src: &str) -> Rule {
    Rule::parse(src).unwrap()
}

#[tokio::test]
async fn a_preview_past_its_deadline_is_stopped() {
    let (_dir, storage) = open();
    // Enough rows that the scan takes many of SQLite's steps between checks.
    populate(&storage, 300).await;
    let denver = rule(r#"city = "denver" or city = "austin" and visits >= 0"#);
    let (n, _) = storage.rule_preview(&denver, today(), 5).await.unwrap();
    assert_eq!(n, 200);

    storage.set_rule_deadlines(RuleDeadlines {
        preview: Duration::ZERO,
        ..RuleDeadlines::default()
    });
    let e = storage.rule_preview(&denver, today(), 5).await.unwrap_err();
    match e {
        StorageError::TimedOut(m) => assert_eq!(
            m,
            "previewing the rule took longer than 0 ms; try a simpler rule, or again later"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(storage.stopped_rule_evaluations(), 1);
}

#[test]
fn dropping_a_preview_stops_its_query() {
    // One blocking thread, held by the test: the preview's query is queued
    // behind it, and runs only after the preview's future is gone.
    let rt = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (_dir, storage) = open();
        populate(&storage, 300).await;
        storage.set_rule_deadlines(RuleDeadlines {
            preview: Duration::from_secs(3600),
            ..RuleDeadlines::default()
        });
        let (release, held) = std::sync::mpsc::channel::<()>();
        let holder = tokio::task::spawn_blocking(move || held.recv());

        let denver = rule(r#"city = "denver""#);
        let mut preview = Box::pin(storage.rule_preview(&denver, today(), 5));
        // Polled once: the query is handed to the blocking pool.
        tokio::select! {
            biased;
            _ = &mut preview => panic!("the preview cannot have run yet"),
            () = std::future::ready(()) => {}
        }
        drop(preview);
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();

        // With an hour's deadline only the cancel can stop it; waiting here
        // is for the blocking pool to get to the query, however long that is.
        for _ in 0..6_000 {
            if storage.stopped_rule_evaluations() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(storage.stopped_rule_evaluations(), 1);
        // The reader it ran on is usable again.
        let (n, _) = storage.rule_preview(&denver, today(), 5).await.unwrap();
        assert_eq!(n, 100);
    });
}

fn auto_group(name: &str, rule: &str) -> GroupSpec {
    GroupSpec {
        name: name.into(),
        description: None,
        kind: GroupKind::Auto,
        rule: Some(rule.into()),
        program: Program::None,
        spend_limit: None,
        min_age: None,
        limit_profile: None,
    }
}

/// More customers than one fill step takes, so saving and re-saving a group
/// adds and removes members over several write transactions.
#[tokio::test]
async fn saving_an_auto_group_fills_it_in_steps() {
    let (_dir, storage) = open();
    populate(&storage, 7_000).await;
    let actor = Actor::new("test");
    let mut spec = auto_group("Steps", r#"city != "boulder""#);
    let g = storage
        .save_group(&actor, None, spec.clone(), today())
        .await
        .unwrap();
    let (want, _) = storage
        .rule_preview(&rule(r#"city != "boulder""#), today(), 1)
        .await
        .unwrap();
    assert_eq!(want, 4_667);
    assert_eq!(g.members, want);

    // 4,667 members → 2,333 (Boulder): thousands join and leave.
    spec.rule = Some(r#"city = "boulder""#.into());
    let g = storage
        .save_group(&actor, Some(g.id), spec, today())
        .await
        .unwrap();
    assert_eq!(g.members, 2_333);
    let changes = storage.refresh_group(g.id, today()).await.unwrap();
    assert_eq!(changes, 0, "a refresh right after finds nothing to change");
}
