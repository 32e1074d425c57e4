//! A fill in steps, with customers edited before, between and after the
//! steps, ends with exactly the members the rule gives for the customers as
//! they are at the end: what one big transaction would have given.

use super::*;
use crate::groups;
use patron_domain::Patch;
use patron_domain::customer::{Field, ParseContext};
use patron_domain::loyalty::Program;
use patron_domain::{CustomerDraft, PhoneRegion};
use patron_storage::{
    Actor, CustomerKey, GroupKind, GroupSpec, ImportRow, NewCustomer, Storage as _,
};
use proptest::prelude::*;
use std::path::Path;

const CITIES: [&str; 4] = ["Denver", "Boulder", "Austin", "Reno"];

/// Rules over what an edit can change; some repeat the city, so that its
/// operand is computed once per row in a subquery, and some merge into lists.
const RULES: [&str; 6] = [
    r#"city in ["denver", "boulder"]"#,
    r#"city = "austin" or has_email"#,
    r#"not city = "denver" and marketing_consent"#,
    r#"(city = "reno" or city = "denver") and not has_email or city = "austin" and marketing_consent"#,
    r#"city != "reno" and city != "boulder""#,
    "has_email and marketing_consent",
];

#[derive(Debug, Clone)]
struct Person {
    city: Option<usize>,
    email: bool,
    consent: bool,
}

fn person() -> impl Strategy<Value = Person> {
    (
        prop::option::of(0..CITIES.len()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(city, email, consent)| Person {
            city,
            email,
            consent,
        })
}

fn ctx() -> ParseContext {
    ParseContext {
        region: PhoneRegion::default(),
        today: time::OffsetDateTime::now_utc().date(),
    }
}

fn actor() -> Actor {
    Actor::new("tester")
}

/// A patch that makes customer `i` into `p`.
fn patch(i: usize, p: &Person) -> Vec<(Field, Patch<String>)> {
    vec![
        (
            Field::AddressCity,
            match p.city {
                Some(c) => Patch::Set(CITIES[c].to_owned()),
                None => Patch::Clear,
            },
        ),
        (
            Field::Email,
            if p.email {
                Patch::Set(format!("p{i}@example.com"))
            } else {
                Patch::Clear
            },
        ),
        (Field::MarketingConsent, Patch::Set(p.consent.to_string())),
    ]
}

fn new_customer(i: usize, p: &Person) -> NewCustomer {
    let mut fields = vec![
        (Field::FirstName, format!("P{i}")),
        (Field::LastName, "Test".to_owned()),
        (Field::MarketingConsent, p.consent.to_string()),
    ];
    if let Some(c) = p.city {
        fields.push((Field::AddressCity, CITIES[c].to_owned()));
    }
    if p.email {
        fields.push((Field::Email, format!("p{i}@example.com")));
    }
    NewCustomer {
        data: CustomerDraft::parse(fields, &ctx()).unwrap(),
        origin_store: None,
    }
}

async fn populate(storage: &SqliteStorage, people: &[Person]) -> Vec<CustomerKey> {
    let rows: Vec<std::result::Result<ImportRow, String>> = people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(ImportRow {
                line: i as u64 + 1,
                opening: Default::default(),
                groups: Vec::new(),
                source_key: None,
                customer: new_customer(i, p),
            })
        })
        .collect();
    let out = storage
        .import_customers(
            &actor(),
            Box::new(rows.into_iter()),
            patron_storage::ImportOptions {
                strict: false,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    out.created
        .iter()
        .map(|code| CustomerKey::Code(code.clone()))
        .collect()
}

fn auto_group(rule: &str) -> GroupSpec {
    GroupSpec {
        name: "Filled".into(),
        description: None,
        kind: GroupKind::Auto,
        rule: Some(rule.into()),
        program: Program::None,
        spend_limit: None,
        min_age: None,
        limit_profile: None,
    }
}

/// A second connection to the database, for the steps this test drives.
fn connect(dir: &Path) -> Connection {
    let c = Connection::open(dir.join(crate::DB_FILE)).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(30)).unwrap();
    c
}

fn in_transaction<T>(c: &Connection, f: impl FnOnce(&Connection) -> T) -> T {
    let tx = c.unchecked_transaction().unwrap();
    let out = f(&tx);
    tx.commit().unwrap();
    out
}

fn members(c: &Connection, group: &str) -> Vec<i64> {
    c.prepare("SELECT customer_seq FROM group_members WHERE group_id = ?1 ORDER BY 1")
        .unwrap()
        .query_map([group], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Who the rule holds for, customer by customer, by the domain's evaluator.
fn expected(c: &Connection, rule: &str, today: Date) -> Vec<i64> {
    let rule = Rule::parse(rule).unwrap();
    let seqs: Vec<i64> = c
        .prepare("SELECT seq FROM customers ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    seqs.into_iter()
        .filter(|&s| rule.evaluate(&groups::facts(c, s, today).unwrap()))
        .collect()
}

fn marked(c: &Connection, group: &str) -> bool {
    c.query_row(
        "SELECT count(*) FROM group_fills WHERE group_id = ?1",
        [group],
        |r| r.get::<_, i64>(0),
    )
    .unwrap()
        > 0
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Edits to make before the plan is read (`0`), before each step, and after.
type Edits = Vec<Vec<(prop::sample::Index, Person)>>;

fn edits() -> impl Strategy<Value = Edits> {
    prop::collection::vec(
        prop::collection::vec((any::<prop::sample::Index>(), person()), 0..3),
        0..10,
    )
}

async fn edit(
    storage: &SqliteStorage,
    keys: &[CustomerKey],
    batch: &[(prop::sample::Index, Person)],
) {
    for (at, p) in batch {
        let i = at.index(keys.len());
        storage
            .update_customer(&actor(), &keys[i], patch(i, p), ctx())
            .await
            .unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn steps_with_edits_between_reach_the_rules_answer(
        people in prop::collection::vec(person(), 1..24),
        first in 0..RULES.len(),
        second in 0..RULES.len(),
        size in 1usize..5,
        edits in edits(),
    ) {
        runtime().block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let storage = SqliteStorage::open(dir.path()).unwrap();
            let keys = populate(&storage, &people).await;
            let today = storage.local_today().await.unwrap();
            let g = storage
                .save_group(&actor(), None, auto_group(RULES[first]), today)
                .await
                .unwrap();
            let group = g.id.to_string();
            let c = connect(dir.path());
            prop_assert_eq!(members(&c, &group), expected(&c, RULES[first], today));
            prop_assert!(!marked(&c, &group));

            // What saving the second rule commits first; then its fill, one
            // step at a time, with edits going through the storage in between.
            in_transaction(&c, |tx| {
                tx.execute("UPDATE groups SET rule = ?1 WHERE id = ?2", [RULES[second], &group])
                    .unwrap();
                mark(tx, &group).unwrap();
            });
            let mut batches = edits.iter();
            edit(&storage, &keys, batches.next().map_or(&[], Vec::as_slice)).await;
            let plan = plan(&c, &group, today).unwrap().unwrap();
            for i in 0..plan.steps(size) {
                edit(&storage, &keys, batches.next().map_or(&[], Vec::as_slice)).await;
                let step = in_transaction(&c, |tx| apply(tx, &plan, i, size).unwrap());
                prop_assert!(step.is_some());
            }
            in_transaction(&c, |tx| finish(tx, &plan).unwrap());
            prop_assert!(!marked(&c, &group));
            for batch in batches {
                edit(&storage, &keys, batch).await;
            }
            prop_assert_eq!(members(&c, &group), expected(&c, RULES[second], today));
            Ok(())
        })?;
    }
}

#[test]
fn a_step_stops_when_the_rule_changed_under_it() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(dir.path()).unwrap();
        let people: Vec<Person> = (0..6)
            .map(|i| Person {
                city: Some(i % CITIES.len()),
                email: false,
                consent: false,
            })
            .collect();
        populate(&storage, &people).await;
        let today = storage.local_today().await.unwrap();
        let g = storage
            .save_group(&actor(), None, auto_group(RULES[0]), today)
            .await
            .unwrap();
        let group = g.id.to_string();
        let c = connect(dir.path());
        let before = members(&c, &group);
        in_transaction(&c, |tx| {
            tx.execute(
                "UPDATE groups SET rule = ?1 WHERE id = ?2",
                [RULES[4], &group],
            )
            .unwrap();
            mark(tx, &group).unwrap();
        });
        let plan = plan(&c, &group, today).unwrap().unwrap();
        assert!(plan.steps(1) > 0);
        // A newer save: its own fill is responsible now.
        in_transaction(&c, |tx| {
            tx.execute(
                "UPDATE groups SET rule = ?1 WHERE id = ?2",
                [RULES[5], &group],
            )
            .unwrap();
            mark(tx, &group).unwrap();
        });
        assert_eq!(
            in_transaction(&c, |tx| apply(tx, &plan, 0, 1).unwrap()),
            None
        );
        in_transaction(&c, |tx| finish(tx, &plan).unwrap());
        assert_eq!(members(&c, &group), before);
        assert!(marked(&c, &group), "the newer fill's mark stays");
        // The scheduler's pass completes it.
        storage.fill_pending(today).await.unwrap();
        assert_eq!(members(&c, &group), expected(&c, RULES[5], today));
        assert!(!marked(&c, &group));
    });
}

#[test]
fn diff_is_a_merge_of_sorted_lists() {
    assert_eq!(diff(&[1, 3, 5, 7], &[2, 3, 7, 8]), (vec![1, 5], vec![2, 8]));
    assert_eq!(diff(&[], &[4]), (vec![], vec![4]));
    assert_eq!(diff(&[4], &[]), (vec![4], vec![]));
}

#[test]
fn steps_cover_every_customer_once() {
    let plan = Plan {
        group: String::new(),
        rule: String::new(),
        compiled: rule_sql::compile(&Rule::parse("has_email").unwrap(), time::Date::MIN),
        token: None,
        add: (1..=5).collect(),
        remove: (10..=12).collect(),
    };
    assert_eq!(plan.steps(2), 3 + 2);
    let steps: Vec<_> = (0..5).map(|i| plan.step(i, 2)).collect();
    assert_eq!(
        steps,
        vec![
            (&[1i64, 2][..], &[][..]),
            (&[3, 4][..], &[][..]),
            (&[5][..], &[][..]),
            (&[][..], &[10, 11][..]),
            (&[][..], &[12][..]),
        ]
    );
}
