//! The behaviour every storage backend must have, written once against the
//! [`Storage`] trait. A backend runs it with [`storage_conformance_tests!`],
//! giving an async expression that yields a fresh, empty store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::*;
use patron_domain::customer::Field;
use patron_domain::search::SearchQuery;
use patron_domain::{CodeFormat, CustomerDraft, Patch, PhoneRegion, Role, StoreId};
use std::sync::Arc;
use time::macros::date;

mod loyalty;
mod replication;
pub mod simulation;
pub use loyalty::*;
pub use replication::*;

pub type Store = Arc<dyn Storage>;

/// Expands to one `#[tokio::test]` per conformance check.
#[macro_export]
macro_rules! storage_conformance_tests {
    ($make:expr) => {
        $crate::storage_conformance_tests!(@each $make;
            codes_are_sequential_and_resolve,
            emails_are_unique_case_insensitively,
            updates_are_audited_field_by_field,
            invalid_patch_changes_nothing,
            deactivation_hides_from_default_listing,
            search_finds_by_every_field,
            search_is_accent_and_case_insensitive,
            listing_is_alphabetical_and_pages_cover_everything_once,
            search_pages_cover_prefix_then_substring_matches_once,
            origin_filter,
            import_skips_taken_emails_and_continues_codes,
            migration_import_brings_balances_totals_and_groups_once,
            users_and_sessions,
            settings_change_the_next_code,
            system_groups_follow_medical_cards,
            manual_membership_is_bulk_and_all_or_nothing,
            auto_groups_follow_their_rule,
            commits_are_idempotent_by_order_id,
            returns_give_back_in_proportion_never_more,
            ledger_is_append_only_and_never_negative,
            types_discount_and_tax_exemption,
            limits_ages_and_overrides,
            a_year_with_a_loyal_customer,
            creates_are_idempotent_by_client_id,
            likely_same_people_are_found_and_clustered,
            erasure_blanks_the_person_and_keeps_the_history,
            merging_moves_history_and_keeps_old_codes_finding_the_survivor,
            receipts_are_queued_with_the_sale_and_retried,
            other_orders_page_through_everything_once,
        );
        $crate::storage_conformance_tests!(@pair $make;
            store_operations_are_reapplied_at_hq,
            hq_refuses_what_a_store_could_not_have_done,
            an_authorised_redemption_and_its_sale_are_one_entry,
        );
    };
    (@pair $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let hq: $crate::conformance::Store = $make;
                let store: $crate::conformance::Store = $make;
                $crate::conformance::$name(hq, store).await;
            }
        )*
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store: $crate::conformance::Store = $make;
                $crate::conformance::$name(store).await;
            }
        )*
    };
}

pub fn ctx() -> ParseContext {
    ParseContext {
        region: PhoneRegion::default(),
        today: date!(2026 - 11 - 23),
    }
}

pub fn actor() -> Actor {
    Actor::new("tester")
}

pub fn draft(pairs: &[(Field, &str)]) -> CustomerDraft {
    CustomerDraft::parse(pairs.iter().map(|(f, v)| (*f, (*v).to_owned())), &ctx()).unwrap()
}

pub fn person(first: &str, last: &str) -> NewCustomer {
    NewCustomer {
        data: draft(&[(Field::FirstName, first), (Field::LastName, last)]),
        origin_store: None,
    }
}

pub async fn search(store: &Store, q: &str) -> Vec<String> {
    search_with(store, q, ActiveFilter::Active).await
}

pub async fn search_with(store: &Store, q: &str, active: ActiveFilter) -> Vec<String> {
    let query = CustomerQuery {
        search: Some(SearchQuery::parse(q, PhoneRegion::default())),
        active,
        limit: 100,
        ..Default::default()
    };
    let page = store.list_customers(&query).await.unwrap();
    page.items
        .into_iter()
        .map(|c| c.code.as_str().to_owned())
        .collect()
}

/// Walks every page of `query` and returns the codes in order.
pub async fn walk(store: &Store, mut query: CustomerQuery) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let page = store.list_customers(&query).await.unwrap();
        assert!(page.items.len() <= query.limit);
        out.extend(page.items.iter().map(|c| c.code.as_str().to_owned()));
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => return out,
        }
    }
    panic!("pagination did not end");
}

pub async fn codes_are_sequential_and_resolve(store: Store) {
    let a = store
        .create_customer(&actor(), person("Ann", "Lee"))
        .await
        .unwrap();
    let b = store
        .create_customer(&actor(), person("Bob", "Ray"))
        .await
        .unwrap();
    assert_eq!(a.code.as_str(), "CUST-00001");
    assert_eq!(b.code.as_str(), "CUST-00002");
    assert!(a.active);
    assert_eq!(a.origin_store, None);
    let by_id = store.customer(&CustomerKey::Id(a.id)).await.unwrap();
    assert_eq!(by_id, a);
    let by_code = store
        .customer(&CustomerKey::parse("cust-00002"))
        .await
        .unwrap();
    assert_eq!(by_code.id, b.id);
    assert!(matches!(
        store.customer(&CustomerKey::parse("CUST-99999")).await,
        Err(StorageError::NotFound)
    ));
    let audit = store.customer_audit(&CustomerKey::Id(a.id)).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "create");
    assert_eq!(audit[0].actor, "tester");
    assert_eq!(store.count_customers().await.unwrap(), 2);
}

pub async fn emails_are_unique_case_insensitively(store: Store) {
    let mut a = person("Ann", "Lee");
    a.data = draft(&[
        (Field::FirstName, "Ann"),
        (Field::LastName, "Lee"),
        (Field::Email, "Ann@Example.com"),
    ]);
    store.create_customer(&actor(), a).await.unwrap();
    let mut b = person("Anne", "Leigh");
    b.data = draft(&[
        (Field::FirstName, "Anne"),
        (Field::LastName, "Leigh"),
        (Field::Email, "ann@EXAMPLE.com"),
    ]);
    match store.create_customer(&actor(), b).await {
        Err(StorageError::Conflict { field, .. }) => assert_eq!(field, "email"),
        other => panic!("expected an email conflict, got {other:?}"),
    }
    // The failed create used no code: the next one is still 2.
    let c = store
        .create_customer(&actor(), person("Cy", "Young"))
        .await
        .unwrap();
    assert_eq!(c.code.as_str(), "CUST-00002");
    // Nor may an update take a used address.
    let r = store
        .update_customer(
            &actor(),
            &CustomerKey::Id(c.id),
            vec![(Field::Email, Patch::Set("ANN@example.COM".into()))],
            ctx(),
        )
        .await;
    assert!(matches!(r, Err(StorageError::Conflict { .. })), "{r:?}");
}

pub async fn likely_same_people_are_found_and_clustered(store: Store) {
    use patron_domain::SameBy;
    let add = |pairs: &'static [(Field, &'static str)]| {
        let store = store.clone();
        async move {
            let mut p = person(pairs[0].1, pairs[1].1);
            p.data = draft(pairs);
            store.create_customer(&actor(), p).await.unwrap()
        }
    };
    let ann = add(&[
        (Field::FirstName, "Ann"),
        (Field::LastName, "Lee"),
        (Field::Phone, "(512) 561-0721"),
        (Field::DateOfBirth, "1990-05-17"),
    ])
    .await;
    // Same phone, written differently.
    let annie = add(&[
        (Field::FirstName, "Annie"),
        (Field::LastName, "Lee"),
        (Field::Phone, "+1 512 561 0721"),
        (Field::IdNumber, "D123-4567"),
    ])
    .await;
    // Same document as Annie: joins the cluster through her.
    let a_lee = add(&[
        (Field::FirstName, "A."),
        (Field::LastName, "Lee"),
        (Field::IdNumber, "d1234567"),
    ])
    .await;
    // Same name and birthday as someone else, accents and case aside.
    let jose = add(&[
        (Field::FirstName, "José"),
        (Field::LastName, "García"),
        (Field::DateOfBirth, "1985-01-02"),
    ])
    .await;
    let jose2 = add(&[
        (Field::FirstName, "JOSE"),
        (Field::LastName, "garcia"),
        (Field::DateOfBirth, "1985-01-02"),
    ])
    .await;
    // Same name, different birthday: not a candidate.
    add(&[
        (Field::FirstName, "Jose"),
        (Field::LastName, "Garcia"),
        (Field::DateOfBirth, "1985-01-03"),
    ])
    .await;
    add(&[(Field::FirstName, "Cy"), (Field::LastName, "Young")]).await;

    let probe = draft(&[
        (Field::FirstName, "Ann"),
        (Field::LastName, "Lee"),
        (Field::Phone, "512-561-0721"),
        (Field::IdNumber, "D 1234567"),
    ]);
    let found = store
        .likely_same(&probe.duplicate_keys(), None, 10)
        .await
        .unwrap();
    let codes: Vec<(&str, &[SameBy])> = found
        .iter()
        .map(|l| (l.customer.code.as_str(), l.by.as_slice()))
        .collect();
    assert_eq!(
        codes,
        vec![
            (
                annie.code.as_str(),
                &[SameBy::IdDocument, SameBy::Phone][..]
            ),
            (a_lee.code.as_str(), &[SameBy::IdDocument][..]),
            (ann.code.as_str(), &[SameBy::Phone][..]),
        ]
    );
    // A customer is not their own duplicate.
    let own = store
        .likely_same(&jose.data.duplicate_keys(), Some(jose.id), 10)
        .await
        .unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].customer.id, jose2.id);
    assert_eq!(own[0].by, vec![SameBy::NameAndBirth]);

    let report = store.duplicate_clusters(10, 0).await.unwrap();
    assert_eq!(report.total_clusters, 2);
    assert_eq!(report.total_customers, 5);
    let first: Vec<&str> = report.clusters[0]
        .customers
        .iter()
        .map(|c| c.code.as_str())
        .collect();
    assert_eq!(
        first,
        vec![ann.code.as_str(), annie.code.as_str(), a_lee.code.as_str()]
    );
    assert_eq!(
        report.clusters[0].by,
        vec![SameBy::IdDocument, SameBy::Phone]
    );
    assert_eq!(report.clusters[1].customers.len(), 2);
    assert_eq!(report.clusters[1].by, vec![SameBy::NameAndBirth]);
    let second_page = store.duplicate_clusters(10, 1).await.unwrap();
    assert_eq!(second_page.clusters.len(), 1);
    assert_eq!(second_page.total_clusters, 2);
}

pub async fn erasure_blanks_the_person_and_keeps_the_history(store: Store) {
    use patron_domain::loyalty::{Account, EntryKind};
    let mut p = person("Maria", "Gonzalez");
    p.data = draft(&[
        (Field::FirstName, "Maria"),
        (Field::LastName, "Gonzalez"),
        (Field::Email, "maria.g@example.com"),
        (Field::Phone, "(415) 555-0199"),
        (Field::DateOfBirth, "1980-02-03"),
        (Field::IdNumber, "G1234567"),
        (Field::AddressLine1, "1 Elm St"),
        (Field::Notes, "likes tea"),
    ]);
    let m = store.create_customer(&actor(), p).await.unwrap();
    let key = CustomerKey::Id(m.id);
    store
        .update_customer(
            &actor(),
            &key,
            vec![(Field::Notes, Patch::Set("likes green tea".into()))],
            ctx(),
        )
        .await
        .unwrap();
    store
        .post_entry(
            &actor(),
            &key,
            ManualEntry {
                account: Account::Credit,
                kind: EntryKind::TopUp,
                amount: 2_500,
                reason: "gift card".into(),
                idempotency_key: None,
            },
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    let before = store
        .balances(&key, time::OffsetDateTime::now_utc())
        .await
        .unwrap();

    let erased = store.erase_customer(&actor(), &key).await.unwrap();
    assert!(erased.is_erased());
    assert_eq!(erased.code, m.code, "the record and its code stay");
    assert_eq!(erased.data, CustomerDraft::erased());
    // Not found by the old data, nor a duplicate of anyone by it.
    for q in [
        "maria",
        "gonzalez",
        "maria.g@example.com",
        "4155550199",
        "0199",
    ] {
        assert!(search(&store, q).await.is_empty(), "{q:?} still finds them");
    }
    assert!(
        store
            .likely_same(&m.data.duplicate_keys(), None, 5)
            .await
            .unwrap()
            .is_empty()
    );
    // The trail keeps who changed what and when, without the values, and says who erased.
    let trail = store.customer_audit(&key).await.unwrap();
    assert!(
        trail.iter().all(|e| e.old.is_none() && e.new.is_none()),
        "{trail:?}"
    );
    assert!(
        trail
            .iter()
            .any(|e| e.action == "update" && e.field.as_deref() == Some("notes"))
    );
    let last = trail.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("erase", actor().username.as_str())
    );
    // The money stays exactly as it was.
    let after = store
        .balances(&key, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(before, after);
    // It cannot be edited back; erasing again changes nothing.
    let r = store
        .update_customer(
            &actor(),
            &key,
            vec![(Field::FirstName, Patch::Set("Maria".into()))],
            ctx(),
        )
        .await;
    assert!(matches!(r, Err(StorageError::Conflict { .. })), "{r:?}");
    let again = store.erase_customer(&actor(), &key).await.unwrap();
    assert_eq!(again.erased_at, erased.erased_at);
    assert_eq!(store.customer_audit(&key).await.unwrap().len(), trail.len());
}

pub async fn updates_are_audited_field_by_field(store: Store) {
    let a = store
        .create_customer(&actor(), person("Ann", "Lee"))
        .await
        .unwrap();
    let key = CustomerKey::Id(a.id);
    let editor = Actor::new("manager1");
    let updated = store
        .update_customer(
            &editor,
            &key,
            vec![
                (Field::FirstName, Patch::Set("Anne".into())),
                (Field::Phone, Patch::Set("(201) 555-0123".into())),
                (Field::AddressCity, Patch::Set("Berlin".into())),
            ],
            ctx(),
        )
        .await
        .unwrap();
    assert_eq!(updated.data.first_name, "Anne");
    assert_eq!(
        updated.data.phone.as_ref().map(|p| p.as_e164()),
        Some("+12015550123")
    );
    assert!(updated.updated_at >= a.updated_at);
    // A patch that changes nothing writes nothing.
    store
        .update_customer(
            &editor,
            &key,
            vec![(Field::FirstName, Patch::Set("Anne".into()))],
            ctx(),
        )
        .await
        .unwrap();
    let audit = store.customer_audit(&key).await.unwrap();
    let changes: Vec<(&str, Option<&str>, Option<&str>)> = audit
        .iter()
        .filter(|e| e.action == "update")
        .map(|e| {
            (
                e.field.as_deref().unwrap(),
                e.old.as_deref(),
                e.new.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            ("first_name", Some("Ann"), Some("Anne")),
            ("phone", None, Some("+12015550123")),
            ("address.city", None, Some("Berlin")),
        ]
    );
    assert!(
        audit
            .iter()
            .filter(|e| e.action == "update")
            .all(|e| e.actor == "manager1")
    );
    // The new phone is searchable at once.
    assert_eq!(
        search(&store, "0123").await,
        vec![a.code.as_str().to_owned()]
    );
}

pub async fn invalid_patch_changes_nothing(store: Store) {
    let a = store
        .create_customer(&actor(), person("Ann", "Lee"))
        .await
        .unwrap();
    let key = CustomerKey::Id(a.id);
    let r = store
        .update_customer(
            &actor(),
            &key,
            vec![
                (Field::FirstName, Patch::Set("Anne".into())),
                (Field::Email, Patch::Set("not-an-email".into())),
            ],
            ctx(),
        )
        .await;
    match r {
        Err(StorageError::Invalid(e)) => assert_eq!(e.0[0].field, "email"),
        other => panic!("expected invalid, got {other:?}"),
    }
    assert_eq!(store.customer(&key).await.unwrap(), a);
    assert_eq!(store.customer_audit(&key).await.unwrap().len(), 1);
}

pub async fn deactivation_hides_from_default_listing(store: Store) {
    let a = store
        .create_customer(&actor(), person("Ann", "Lee"))
        .await
        .unwrap();
    let key = CustomerKey::Id(a.id);
    let d = store
        .set_customer_active(&actor(), &key, false)
        .await
        .unwrap();
    assert!(!d.active);
    // Idempotent: deactivating again audits nothing.
    store
        .set_customer_active(&actor(), &key, false)
        .await
        .unwrap();
    assert!(search(&store, "lee").await.is_empty());
    assert_eq!(
        search_with(&store, "lee", ActiveFilter::All).await,
        vec!["CUST-00001"]
    );
    assert_eq!(
        search_with(&store, "lee", ActiveFilter::Inactive).await,
        vec!["CUST-00001"]
    );
    // Still readable by id and code: history keeps working.
    assert!(
        !store
            .customer(&CustomerKey::parse("CUST-00001"))
            .await
            .unwrap()
            .active
    );
    store
        .set_customer_active(&actor(), &key, true)
        .await
        .unwrap();
    assert_eq!(search(&store, "lee").await, vec!["CUST-00001"]);
    let actions: Vec<String> = store
        .customer_audit(&key)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, vec!["create", "deactivate", "reactivate"]);
}

pub async fn search_finds_by_every_field(store: Store) {
    let full = NewCustomer {
        data: draft(&[
            (Field::FirstName, "Maria"),
            (Field::LastName, "Gonzalez"),
            (Field::Email, "maria.g@example.com"),
            (Field::Phone, "(415) 555-0199"),
        ]),
        origin_store: None,
    };
    let m = store.create_customer(&actor(), full).await.unwrap();
    store
        .create_customer(&actor(), person("Mark", "Twain"))
        .await
        .unwrap();
    let code = m.code.as_str().to_owned();
    for q in [
        "maria",
        "MAR",
        "gonz",
        "Maria Gonzalez",
        "maria gon",
        "gonzalez maria",
        "onzal",
        "aria g",
        "maria.g@example.com",
        "maria.g@",
        "(415) 555-0199",
        "415-555-0199",
        "+1 415 555 0199",
        "4155550199",
        "0199",
        "5550199",
        "cust-00001",
        "CUST-00001",
        "1",
        "example.com",
    ] {
        let found = search(&store, q).await;
        assert!(
            found.contains(&code),
            "query {q:?} did not find the customer: {found:?}"
        );
    }
    assert_eq!(search(&store, "twain").await, vec!["CUST-00002"]);
    assert!(search(&store, "zzz").await.is_empty());
    assert!(search(&store, "9999").await.is_empty());
}

pub async fn search_is_accent_and_case_insensitive(store: Store) {
    store
        .create_customer(&actor(), person("Jürgen", "Müller"))
        .await
        .unwrap();
    store
        .create_customer(&actor(), person("José", "Núñez"))
        .await
        .unwrap();
    store
        .create_customer(&actor(), person("Siobhan", "O'Brien"))
        .await
        .unwrap();
    assert_eq!(search(&store, "muller").await, vec!["CUST-00001"]);
    assert_eq!(search(&store, "MÜLLER").await, vec!["CUST-00001"]);
    assert_eq!(search(&store, "jurgen").await, vec!["CUST-00001"]);
    assert_eq!(search(&store, "nunez").await, vec!["CUST-00002"]);
    assert_eq!(search(&store, "Jose Nunez").await, vec!["CUST-00002"]);
    assert_eq!(search(&store, "obrien").await, vec!["CUST-00003"]);
    assert_eq!(search(&store, "o'brien").await, vec!["CUST-00003"]);
}

fn names() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Zoe", "Adams"),
        ("Al", "Smith"),
        ("Bea", "Smith"),
        ("Al", "Smithson"),
        ("Cy", "Van"),
        ("Di", "Van Berg"),
        ("Ed", "Ängström"),
        ("Flo", "adams"),
        ("Gus", "Brown"),
        ("Hal", "Brown"),
        ("Ida", "Zed"),
        ("Jo", "Smith"),
    ]
}

pub async fn listing_is_alphabetical_and_pages_cover_everything_once(store: Store) {
    for (f, l) in names() {
        store.create_customer(&actor(), person(f, l)).await.unwrap();
    }
    let all = walk(
        &store,
        CustomerQuery {
            limit: 100,
            ..Default::default()
        },
    )
    .await;
    let mut expected: Vec<(String, String, String)> = Vec::new();
    for c in store
        .list_customers(&CustomerQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
    {
        expected.push((
            patron_domain::search::fold(&c.data.last_name),
            patron_domain::search::fold(&c.data.first_name),
            c.code.as_str().to_owned(),
        ));
    }
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(
        expected, sorted,
        "not alphabetical by last, then first name"
    );
    let first_last: Vec<String> = expected.iter().map(|e| e.2.clone()).collect();
    assert_eq!(all, first_last);
    // "Van" before "Van Berg"; "Smith" before "Smithson".
    let pos = |last: &str| expected.iter().position(|e| e.0 == last).unwrap();
    assert!(pos("van") < pos("van berg"));
    assert!(pos("smith") < pos("smithson"));
    for limit in [1, 2, 5] {
        let paged = walk(
            &store,
            CustomerQuery {
                limit,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(paged, all, "page size {limit}");
    }
}

pub async fn search_pages_cover_prefix_then_substring_matches_once(store: Store) {
    for (f, l) in names() {
        store.create_customer(&actor(), person(f, l)).await.unwrap();
    }
    // "smith" is a prefix of three Smiths and Smithson; "mit" only a substring.
    let q = |limit| CustomerQuery {
        search: Some(SearchQuery::parse("smith", PhoneRegion::default())),
        limit,
        ..Default::default()
    };
    let all = walk(&store, q(100)).await;
    assert_eq!(all.len(), 4);
    for limit in [1, 2, 3] {
        assert_eq!(walk(&store, q(limit)).await, all);
    }
    // With prefix matches, substring-only matches are left out ...
    store
        .create_customer(&actor(), person("Aa", "Goldsmith"))
        .await
        .unwrap();
    assert_eq!(walk(&store, q(2)).await, all);
    // ... and without any, they are the answer, paged like the rest.
    let sub = |limit| CustomerQuery {
        search: Some(SearchQuery::parse("mith", PhoneRegion::default())),
        limit,
        ..Default::default()
    };
    let every = walk(&store, sub(100)).await;
    assert_eq!(every.len(), 5);
    for limit in [1, 2, 3] {
        assert_eq!(walk(&store, sub(limit)).await, every);
    }
}

pub async fn origin_filter(store: Store) {
    store
        .create_customer(&actor(), person("Ann", "Hq"))
        .await
        .unwrap();
    let mut s = person("Bo", "Store");
    s.origin_store = Some(StoreId::parse("S01").unwrap());
    let created = store.create_customer(&actor(), s).await.unwrap();
    assert_eq!(
        created.origin_store.as_ref().map(|s| s.as_str()),
        Some("S01")
    );
    let list = |origin| {
        let store = store.clone();
        async move {
            walk(
                &store,
                CustomerQuery {
                    origin,
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
        }
    };
    assert_eq!(list(OriginFilter::Any).await.len(), 2);
    assert_eq!(list(OriginFilter::Hq).await, vec!["CUST-00001"]);
    assert_eq!(
        list(OriginFilter::Store(StoreId::parse("s01").unwrap())).await,
        vec!["CUST-00002"]
    );
}

pub async fn import_skips_taken_emails_and_continues_codes(store: Store) {
    let mut taken = person("Ann", "Lee");
    taken.data = draft(&[
        (Field::FirstName, "Ann"),
        (Field::LastName, "Lee"),
        (Field::Email, "ann@example.com"),
    ]);
    store.create_customer(&actor(), taken).await.unwrap();
    let with_email = |f: &str, e: &str| NewCustomer {
        data: draft(&[
            (Field::FirstName, f),
            (Field::LastName, "Imported"),
            (Field::Email, e),
        ]),
        origin_store: None,
    };
    let rows = vec![
        with_email("A", "a@example.com"),
        with_email("B", "ANN@example.com"), // taken in the database
        with_email("C", "c@example.com"),
        with_email("D", "A@EXAMPLE.COM"), // taken earlier in the file
        person("E", "Imported"),
    ];
    let stream = rows.into_iter().enumerate().map(|(i, customer)| {
        Ok(ImportRow {
            line: i as u64 + 2,
            opening: Default::default(),
            groups: Vec::new(),
            source_key: None,
            customer,
        })
    });
    let out = store
        .import_customers(
            &Actor::new("importer"),
            Box::new(stream),
            crate::ImportOptions {
                strict: false,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.created, vec!["CUST-00002", "CUST-00003", "CUST-00004"]);
    let rejected: Vec<u64> = out.rejected.iter().map(|r| r.0).collect();
    assert_eq!(rejected, vec![3, 5]);
    assert!(out.rejected.iter().all(|r| r.1.field == "email"));
    assert_eq!(store.count_customers().await.unwrap(), 4);
    // Imported rows are searchable like created ones, by prefix and by substring
    // (of the name and of the email).
    assert_eq!(search(&store, "imported").await.len(), 3);
    assert_eq!(search(&store, "mported").await.len(), 3);
    assert_eq!(search(&store, "xample.com").await.len(), 3);
    let audit = store
        .customer_audit(&CustomerKey::parse("CUST-00004"))
        .await
        .unwrap();
    assert_eq!(audit[0].action, "import");
    assert_eq!(audit[0].actor, "importer");
    assert_eq!(search(&store, "imported").await.len(), 3);
    // A stream that fails midway writes nothing, and uses up no codes.
    let failing = vec![
        Ok(ImportRow {
            line: 2,
            opening: Default::default(),
            groups: Vec::new(),
            source_key: None,
            customer: person("F", "Failed"),
        }),
        Err("disk gone".to_owned()),
    ];
    assert!(
        store
            .import_customers(
                &actor(),
                Box::new(failing.into_iter()),
                crate::ImportOptions {
                    strict: false,
                    ..Default::default()
                }
            )
            .await
            .is_err()
    );
    assert!(search(&store, "failed").await.is_empty());
    // A strict import with a taken email writes nothing, and says which row it was.
    let strict = vec![
        Ok(ImportRow {
            line: 2,
            opening: Default::default(),
            groups: Vec::new(),
            source_key: None,
            customer: person("H", "Strict"),
        }),
        Ok(ImportRow {
            line: 3,
            opening: Default::default(),
            groups: Vec::new(),
            source_key: None,
            customer: with_email("I", "c@example.com"),
        }),
    ];
    let out = store
        .import_customers(
            &actor(),
            Box::new(strict.into_iter()),
            crate::ImportOptions {
                strict: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(out.created.is_empty());
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].0, 3);
    assert!(search(&store, "strict").await.is_empty());
    let next = store
        .create_customer(&actor(), person("G", "Next"))
        .await
        .unwrap();
    assert_eq!(next.code.as_str(), "CUST-00005");
}

/// A chain moving in: balances become opening entries (balances equal the
/// ledger), totals and manual groups come along, a re-run changes nothing,
/// a trial run writes nothing, likely duplicates are reported.
pub async fn migration_import_brings_balances_totals_and_groups_once(store: Store) {
    use patron_domain::loyalty::{Account, EntryKind};
    let vip = store
        .save_group(
            &actor(),
            None,
            GroupSpec::manual("VIP", None),
            time::macros::date!(2026 - 01 - 01),
        )
        .await
        .unwrap();
    let existing = store
        .create_customer(&actor(), {
            let mut p = person("Ann", "Existing");
            p.data = draft(&[
                (Field::FirstName, "Ann"),
                (Field::LastName, "Existing"),
                (Field::Phone, "+12015550100"),
            ]);
            p
        })
        .await
        .unwrap();
    let row = |line: u64,
               first: &str,
               phone: Option<&str>,
               opening: Opening,
               groups: &[&str],
               key: &str| {
        let mut pairs = vec![(Field::FirstName, first), (Field::LastName, "Moved")];
        if let Some(p) = phone {
            pairs.push((Field::Phone, p));
        }
        ImportRow {
            line,
            customer: NewCustomer {
                data: draft(&pairs),
                origin_store: None,
            },
            opening,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            source_key: Some(key.to_owned()),
        }
    };
    let rows = move || {
        vec![
            row(
                2,
                "Bea",
                None,
                Opening {
                    points: 12_550,
                    credit: 2_000,
                    spent: 128_450,
                    visits: 47,
                },
                &["vip"],
                "sq:1",
            ),
            row(
                3,
                "Cal",
                Some("+12015550100"),
                Opening::default(),
                &["Wholesale"],
                "sq:2",
            ),
            row(
                4,
                "Dee",
                None,
                Opening {
                    points: -1,
                    ..Opening::default()
                },
                &[],
                "sq:3",
            ),
            row(
                5,
                "Eve",
                None,
                Opening::default(),
                &["Recreational"],
                "sq:4",
            ),
            row(6, "Fay", None, Opening::default(), &[], "sq:1"),
        ]
        .into_iter()
        .map(Ok)
    };
    let run = |opts: ImportOptions| {
        let store = store.clone();
        async move {
            store
                .import_customers(&actor(), Box::new(rows()), opts)
                .await
                .unwrap()
        }
    };
    // A trial: everything reported, nothing written.
    let trial = run(ImportOptions {
        dry_run: true,
        create_groups: true,
        ..Default::default()
    })
    .await;
    assert_eq!(trial.created.len(), 2);
    assert_eq!(trial.groups_created, vec!["Wholesale"]);
    assert_eq!(store.count_customers().await.unwrap(), 1);
    assert!(
        store
            .groups(&GroupQuery::default())
            .await
            .unwrap()
            .iter()
            .all(|g| g.spec.name != "Wholesale")
    );
    // Without --create-groups, an unknown group rejects its row.
    let out = run(ImportOptions::default()).await;
    let why: Vec<(u64, &str)> = out
        .rejected
        .iter()
        .map(|(l, e)| (*l, e.field.as_str()))
        .collect();
    assert_eq!(
        why,
        vec![
            (3, "groups"),
            (4, "points"),
            (5, "groups"),
            (6, "source_id")
        ]
    );
    assert_eq!(out.created.len(), 1);
    assert!(out.groups_created.is_empty());
    let bea = CustomerKey::parse(&out.created[0]);
    let balances = store
        .balances(&bea, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(balances.points.balance, 12_550);
    assert_eq!(balances.credit.balance, 2_000);
    let ledger = store.ledger(&bea, None).await.unwrap();
    assert_eq!(ledger.len(), 2);
    assert!(
        ledger
            .iter()
            .all(|e| e.kind == EntryKind::Opening && e.amount > 0)
    );
    assert_eq!(
        ledger
            .iter()
            .filter(|e| e.account == Account::Points)
            .map(|e| e.amount)
            .sum::<i64>(),
        balances.points.balance
    );
    let act = store
        .customer_activity(&bea, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!((act.stats.total_spent, act.stats.visits), (128_450, 47));
    assert!(act.groups.iter().any(|(id, _)| *id == vip.id));
    assert_eq!(out.opening.points, 12_550);
    // Again, with groups created: the rows with the key imported before are
    // skipped (Bea's and the later row under her key), the others land.
    let out = run(ImportOptions {
        create_groups: true,
        ..Default::default()
    })
    .await;
    assert_eq!(out.already_imported, 2);
    assert_eq!(out.created.len(), 1, "{out:?}");
    assert_eq!(out.groups_created, vec!["Wholesale"]);
    // Cal shares Ann's phone: imported, and reported with her.
    assert_eq!(out.likely_duplicates.len(), 1);
    assert_eq!(out.likely_duplicates[0].line, 3);
    assert_eq!(
        out.likely_duplicates[0].others,
        vec![existing.code.as_str().to_owned()]
    );
    // A third time changes nothing at all.
    let before = store.count_customers().await.unwrap();
    let out = run(ImportOptions {
        create_groups: true,
        ..Default::default()
    })
    .await;
    assert!(out.created.is_empty());
    assert_eq!(out.already_imported, 3);
    assert_eq!(store.count_customers().await.unwrap(), before);
    assert_eq!(store.ledger(&bea, None).await.unwrap().len(), 2);
}

pub async fn users_and_sessions(store: Store) {
    let u = store
        .create_user(
            &actor(),
            NewUser {
                username: Username::parse("Ann").unwrap(),
                role: Role::MANAGER,
                password_hash: "$argon2id$fake".into(),
                store: None,
                op_key: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(u.username.as_str(), "ann");
    assert!(u.active);
    let dup = store
        .create_user(
            &actor(),
            NewUser {
                username: Username::parse("ANN").unwrap(),
                role: Role::CASHIER,
                password_hash: "x".into(),
                store: None,
                op_key: None,
            },
        )
        .await;
    assert!(
        matches!(dup, Err(StorageError::Conflict { ref field, .. }) if field == "username"),
        "{dup:?}"
    );
    let (found, hash) = store
        .user_credentials(&Username::parse("ann").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, u);
    assert_eq!(hash, "$argon2id$fake");
    assert!(
        store
            .user_credentials(&Username::parse("nobody").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let now = OffsetDateTime::now_utc();
    store
        .create_session(NewSession {
            token_hash: "h1".into(),
            user_id: u.id,
            created_at: now,
            expires_at: now + time::Duration::hours(1),
        })
        .await
        .unwrap();
    assert_eq!(
        store.session_user("h1", now).await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        store
            .session_user("h1", now + time::Duration::hours(2))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.session_user("nope", now).await.unwrap(), None);
    store.delete_session("h1").await.unwrap();
    assert_eq!(store.session_user("h1", now).await.unwrap(), None);
    assert_eq!(store.users().await.unwrap(), vec![u]);
}

pub async fn settings_change_the_next_code(store: Store) {
    assert_eq!(store.settings().await.unwrap(), Settings::default());
    store
        .create_customer(&actor(), person("Ann", "Lee"))
        .await
        .unwrap();
    let s = Settings {
        code_format: CodeFormat::new("M-", 3).unwrap(),
        phone_region: PhoneRegion::parse("DE").unwrap(),
    };
    assert_eq!(store.update_settings(&actor(), &s).await.unwrap(), s);
    assert_eq!(store.settings().await.unwrap(), s);
    let b = store
        .create_customer(&actor(), person("Bo", "Ek"))
        .await
        .unwrap();
    // The counter is shared: a new format never reissues a number.
    assert_eq!(b.code.as_str(), "M-002");
}
