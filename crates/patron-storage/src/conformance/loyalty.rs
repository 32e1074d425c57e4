//! Conformance checks for groups, the ledger and the checkout.

use super::{Store, actor, ctx, draft, person};
use crate::*;
use patron_domain::customer::Field;
use patron_domain::loyalty::{
    Account, Allowance, CartLine, Enforcement, EntryKind, Percent, Period, Program, PurchaseLimit,
    SpendLimit, Transition, TypeDiscount,
};
use patron_domain::rules::Rule;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

fn pct(s: &str) -> Percent {
    Percent::parse(s).unwrap()
}

/// Everyone earns 10 % cash-back (an auto group over every customer).
async fn earners(store: &Store) -> Group {
    store
        .save_group(
            &actor(),
            None,
            spec(
                "Earners",
                GroupKind::Auto,
                Some("visits >= 0"),
                Program::Cashback { percent: pct("10") },
            ),
            today(),
        )
        .await
        .unwrap()
}

pub fn line(sku: &str, category: &str, qty_milli: i64, unit: &str, price: i64) -> CartLine {
    CartLine {
        sku: sku.into(),
        name: sku.into(),
        category: category.into(),
        quantity: qty_milli,
        unit: unit.into(),
        unit_price: price,
    }
}

pub fn cart(
    customer: &Customer,
    lines: Vec<CartLine>,
    points: i64,
    credit: i64,
) -> CheckoutRequest {
    CheckoutRequest {
        customer: CustomerKey::Id(customer.id),
        lines,
        redeem_points: points,
        redeem_credit: credit,
        store: None,
    }
}

pub fn order(id: &str, checkout: CheckoutRequest) -> OrderRequest {
    OrderRequest {
        fingerprint: format!(
            "{id}:{:?}:{}:{}",
            checkout.lines, checkout.redeem_points, checkout.redeem_credit
        ),
        id: id.into(),
        checkout,
        override_limits: false,
        from_store: None,
        placed_at: None,
    }
}

fn spec(name: &str, kind: GroupKind, rule: Option<&str>, program: Program) -> GroupSpec {
    GroupSpec {
        name: name.into(),
        description: None,
        kind,
        rule: rule.map(str::to_owned),
        program,
        spend_limit: None,
        min_age: None,
        limit_profile: None,
    }
}

fn today() -> time::Date {
    OffsetDateTime::now_utc().date()
}

async fn member_names(store: &Store, g: Uuid) -> Vec<String> {
    let q = CustomerQuery {
        limit: 100,
        ..Default::default()
    };
    let page = store.group_members(g, &q).await.unwrap();
    page.items
        .iter()
        .map(|c| c.data.last_name.clone())
        .collect()
}

/// The balance the ledger adds up to, from the entries themselves.
pub async fn ledger_sum(store: &Store, c: &Customer, account: Account) -> i64 {
    store
        .ledger(&CustomerKey::Id(c.id), Some(account))
        .await
        .unwrap()
        .iter()
        .map(|e| e.amount)
        .sum()
}

pub async fn system_groups_follow_medical_cards(store: Store) {
    let groups = store.groups(&GroupQuery::default()).await.unwrap();
    let names: Vec<_> = groups
        .iter()
        .map(|g| (g.spec.name.as_str(), g.spec.kind))
        .collect();
    assert_eq!(
        names,
        vec![
            ("Common", GroupKind::Common),
            ("Medical", GroupKind::System),
            ("Recreational", GroupKind::System)
        ]
    );
    let med = NewCustomer {
        data: draft(&[
            (Field::FirstName, "Mia"),
            (Field::LastName, "Card"),
            (Field::MedicalCardNumber, "MED-1"),
            (Field::MedicalExpiry, "2099-01-01"),
        ]),
        origin_store: None,
    };
    let m = store.create_customer(&actor(), med).await.unwrap();
    store
        .create_customer(&actor(), person("Rex", "Plain"))
        .await
        .unwrap();
    let by_name = |n: &str| groups.iter().find(|g| g.spec.name == n).unwrap().id;
    assert_eq!(member_names(&store, by_name("Medical")).await, vec!["Card"]);
    assert_eq!(
        member_names(&store, by_name("Recreational")).await,
        vec!["Plain"]
    );
    assert_eq!(store.group(by_name("Common")).await.unwrap().members, 2);
    // Clearing the card moves her in the same write.
    let patch = vec![(Field::MedicalCardNumber, patron_domain::Patch::Clear)];
    store
        .update_customer(&actor(), &CustomerKey::Id(m.id), patch, ctx())
        .await
        .unwrap();
    assert_eq!(
        member_names(&store, by_name("Recreational")).await,
        vec!["Card", "Plain"]
    );
    // Their names are the product's.
    let common = store.group(by_name("Common")).await.unwrap();
    let mut renamed = common.spec.clone();
    renamed.name = "Everyone".into();
    assert!(matches!(
        store
            .save_group(&actor(), Some(common.id), renamed, today())
            .await,
        Err(StorageError::Invalid(_))
    ));
}

pub async fn manual_membership_is_bulk_and_all_or_nothing(store: Store) {
    let a = store
        .save_group(
            &actor(),
            None,
            spec("VIP", GroupKind::Manual, None, Program::None),
            today(),
        )
        .await
        .unwrap();
    let b = store
        .save_group(
            &actor(),
            None,
            spec("Staff", GroupKind::Manual, None, Program::None),
            today(),
        )
        .await
        .unwrap();
    let x = store
        .create_customer(&actor(), person("Ann", "Xu"))
        .await
        .unwrap();
    let y = store
        .create_customer(&actor(), person("Bob", "Yates"))
        .await
        .unwrap();
    let keys = [
        CustomerKey::Id(x.id),
        CustomerKey::Code(y.code.as_str().to_owned()),
    ];
    let ch = store
        .change_members(&actor(), &MemberTarget::AllManual, &keys, true)
        .await
        .unwrap();
    assert_eq!(ch.changed.len(), 2);
    assert_eq!(store.group(a.id).await.unwrap().members, 2);
    assert_eq!(store.group(b.id).await.unwrap().members, 2);
    // Adding again changes nothing.
    let ch = store
        .change_members(&actor(), &MemberTarget::Groups(vec![a.id]), &keys, true)
        .await
        .unwrap();
    assert_eq!(ch.changed, vec![(a.id, 0)]);
    // One unknown customer: nothing happens.
    let bad = [
        CustomerKey::Id(x.id),
        CustomerKey::Code("CUST-99999".into()),
    ];
    let err = store
        .change_members(&actor(), &MemberTarget::Groups(vec![a.id]), &bad, false)
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Invalid(ref v) if v.0[0].field == "customers[1]"));
    assert_eq!(store.group(a.id).await.unwrap().members, 2);
    store
        .change_members(
            &actor(),
            &MemberTarget::Groups(vec![a.id]),
            &keys[..1],
            false,
        )
        .await
        .unwrap();
    assert_eq!(member_names(&store, a.id).await, vec!["Yates"]);
    // Names are unique, case-insensitively; system groups are not filled by hand.
    let dup = store
        .save_group(
            &actor(),
            None,
            spec("vip", GroupKind::Manual, None, Program::None),
            today(),
        )
        .await;
    assert!(matches!(dup, Err(StorageError::Conflict { .. })));
    let groups = store.groups(&GroupQuery::default()).await.unwrap();
    let medical = groups.iter().find(|g| g.spec.name == "Medical").unwrap().id;
    assert!(
        store
            .change_members(&actor(), &MemberTarget::Groups(vec![medical]), &keys, true)
            .await
            .is_err()
    );
    // Listing filters and sorts.
    let q = GroupQuery {
        kind: Some(GroupKind::Manual),
        sort: GroupSort::Name,
        descending: true,
        ..Default::default()
    };
    let names: Vec<_> = store
        .groups(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.spec.name)
        .collect();
    assert_eq!(names, vec!["VIP", "Staff"]);
}

pub async fn auto_groups_follow_their_rule(store: Store) {
    let mut d = store
        .create_customer(&actor(), person("Dan", "Denver"))
        .await
        .unwrap();
    let patch = vec![(
        Field::AddressCity,
        patron_domain::Patch::Set("Denver".into()),
    )];
    d = store
        .update_customer(&actor(), &CustomerKey::Id(d.id), patch, ctx())
        .await
        .unwrap();
    store
        .create_customer(&actor(), person("Bo", "Boulder"))
        .await
        .unwrap();
    let rule = Rule::parse(r#"city = "denver""#).unwrap();
    let (n, sample) = store.rule_preview(&rule, today(), 10).await.unwrap();
    assert_eq!((n, sample.len()), (1, 1));
    let g = store
        .save_group(
            &actor(),
            None,
            spec(
                "Denverites",
                GroupKind::Auto,
                Some(r#"city = "denver""#),
                Program::None,
            ),
            today(),
        )
        .await
        .unwrap();
    assert_eq!(g.members, 1);
    let patch = vec![(
        Field::AddressCity,
        patron_domain::Patch::Set("Aurora".into()),
    )];
    store
        .update_customer(&actor(), &CustomerKey::Id(d.id), patch, ctx())
        .await
        .unwrap();
    assert_eq!(store.group(g.id).await.unwrap().members, 0);
    // Spending moves customers into a spend-based group in the commit itself.
    let big = store
        .save_group(
            &actor(),
            None,
            spec(
                "Big spenders",
                GroupKind::Auto,
                Some("total_spent >= 100"),
                Program::None,
            ),
            today(),
        )
        .await
        .unwrap();
    assert_eq!(big.members, 0);
    let now = OffsetDateTime::now_utc();
    store
        .commit_order(
            &actor(),
            order(
                "o-1",
                cart(&d, vec![line("a", "x", 1000, "ea", 10_000)], 0, 0),
            ),
            now,
        )
        .await
        .unwrap();
    assert_eq!(member_names(&store, big.id).await, vec!["Denver"]);
    // Hand edits are refused for auto groups.
    assert!(
        store
            .change_members(
                &actor(),
                &MemberTarget::Groups(vec![big.id]),
                &[CustomerKey::Id(d.id)],
                false
            )
            .await
            .is_err()
    );
}

pub async fn commits_are_idempotent_by_order_id(store: Store) {
    let c = store
        .create_customer(&actor(), person("Ida", "Empotent"))
        .await
        .unwrap();
    let mut s = store.loyalty_settings().await.unwrap();
    s.return_window_days = 0;
    store.update_loyalty_settings(&actor(), &s).await.unwrap();
    let p = earners(&store).await;
    assert_eq!(p.members, 1);
    let now = OffsetDateTime::now_utc();
    let o = order(
        "order-1",
        cart(&c, vec![line("a", "x", 2000, "ea", 1_250)], 0, 0),
    );
    let (first, replay) = store.commit_order(&actor(), o.clone(), now).await.unwrap();
    assert!(!replay);
    assert_eq!((first.total, first.earned), (2_500, 250));
    let (again, replay) = store
        .commit_order(&actor(), o.clone(), now + Duration::seconds(5))
        .await
        .unwrap();
    assert!(replay);
    assert_eq!(again, first);
    assert_eq!(ledger_sum(&store, &c, Account::Points).await, 250);
    let mut other = order(
        "order-1",
        cart(&c, vec![line("b", "x", 1000, "ea", 99)], 0, 0),
    );
    other.fingerprint.push('!');
    assert!(matches!(
        store.commit_order(&actor(), other, now).await,
        Err(StorageError::Conflict { .. })
    ));
    let act = store
        .customer_activity(&CustomerKey::Id(c.id), now)
        .await
        .unwrap();
    assert_eq!(
        (act.stats.total_spent, act.stats.visits, act.orders.len()),
        (2_500, 1, 1)
    );
    assert_eq!(act.top_products[0].sku, "a");
    // Spending more than is available is refused and writes nothing.
    let o2 = order(
        "order-2",
        cart(&c, vec![line("a", "x", 1000, "ea", 1_000)], 251, 0),
    );
    assert!(matches!(
        store.commit_order(&actor(), o2, now).await,
        Err(StorageError::Invalid(_))
    ));
    assert!(store.order("order-2").await.is_err());
    assert_eq!(
        store
            .balances(&CustomerKey::Id(c.id), now)
            .await
            .unwrap()
            .points
            .balance,
        250
    );
}

pub async fn returns_give_back_in_proportion_never_more(store: Store) {
    let c = store
        .create_customer(&actor(), person("Ray", "Turner"))
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let key = CustomerKey::Id(c.id);
    let topup = ManualEntry {
        account: Account::Credit,
        kind: EntryKind::TopUp,
        amount: 1_000,
        reason: "gift card".into(),
        idempotency_key: Some("t1".into()),
    };
    store
        .post_entry(&actor(), &key, topup.clone(), now)
        .await
        .unwrap();
    // A retried top-up is the same entry.
    store.post_entry(&actor(), &key, topup, now).await.unwrap();
    assert_eq!(ledger_sum(&store, &c, Account::Credit).await, 1_000);
    store
        .save_group(
            &actor(),
            None,
            spec(
                "All",
                GroupKind::Auto,
                Some("visits >= 0"),
                Program::Points {
                    percent: pct("5"),
                    birthday_bonus: 0,
                    registration_bonus: 0,
                    max_redeem: None,
                },
            ),
            today(),
        )
        .await
        .unwrap();
    let o = order(
        "r-1",
        cart(
            &c,
            vec![
                line("a", "x", 4000, "ea", 1_000),
                line("b", "y", 1000, "ea", 2_000),
            ],
            0,
            600,
        ),
    );
    let (rec, _) = store.commit_order(&actor(), o, now).await.unwrap();
    assert_eq!(
        (rec.total, rec.credit_redeemed, rec.amount_paid, rec.earned),
        (6_000, 600, 5_400, 300)
    );
    let ret = |id: &str, lines: Vec<(usize, i64)>| ReturnRequest {
        id: id.into(),
        order_id: "r-1".into(),
        fingerprint: format!("{id}{lines:?}"),
        lines,
    };
    let (r1, _) = store
        .return_order(&actor(), ret("ret-1", vec![(0, 2000)]), now)
        .await
        .unwrap();
    assert_eq!(
        (
            r1.net,
            r1.credit_refund,
            r1.money_refund,
            r1.earned_reversal
        ),
        (2_000, 200, 1_800, 100)
    );
    // Retried: same record, nothing moves twice.
    let (again, replay) = store
        .return_order(&actor(), ret("ret-1", vec![(0, 2000)]), now)
        .await
        .unwrap();
    assert!(replay);
    assert_eq!(again, r1);
    // More than was sold: refused, nothing written.
    let err = store
        .return_order(&actor(), ret("ret-2", vec![(0, 2001)]), now)
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Invalid(ref v) if v.0[0].field == "lines[0].quantity"));
    let (r3, _) = store
        .return_order(&actor(), ret("ret-3", vec![(0, 2000), (1, 1000)]), now)
        .await
        .unwrap();
    assert_eq!(r1.net + r3.net, 6_000);
    assert_eq!(r1.credit_refund + r3.credit_refund, 600);
    assert_eq!(r1.earned_reversal + r3.earned_reversal, 300);
    assert_eq!(ledger_sum(&store, &c, Account::Credit).await, 1_000);
    assert_eq!(ledger_sum(&store, &c, Account::Points).await, 0);
    let act = store.customer_activity(&key, now).await.unwrap();
    assert_eq!((act.stats.total_spent, act.returns.len()), (0, 2));
    assert!(act.top_products.is_empty());
}

pub async fn ledger_is_append_only_and_never_negative(store: Store) {
    let c = store
        .create_customer(&actor(), person("Lee", "Ledger"))
        .await
        .unwrap();
    let key = CustomerKey::Id(c.id);
    let now = OffsetDateTime::now_utc();
    let adj = |amount: i64| ManualEntry {
        account: Account::Points,
        kind: EntryKind::Adjust,
        amount,
        reason: "goodwill".into(),
        idempotency_key: None,
    };
    store
        .post_entry(&actor(), &key, adj(500), now)
        .await
        .unwrap();
    assert!(matches!(
        store.post_entry(&actor(), &key, adj(-501), now).await,
        Err(StorageError::Invalid(_))
    ));
    store
        .post_entry(&actor(), &key, adj(-200), now)
        .await
        .unwrap();
    let b = store.balances(&key, now).await.unwrap();
    assert_eq!((b.points.balance, b.points.available), (300, 300));
    assert_eq!(ledger_sum(&store, &c, Account::Points).await, 300);
    let kinds: Vec<_> = store
        .ledger(&key, None)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.kind, e.amount))
        .collect();
    assert_eq!(
        kinds,
        vec![(EntryKind::Adjust, 500), (EntryKind::Adjust, -200)]
    );
}

pub async fn types_discount_and_tax_exemption(store: Store) {
    let t = store
        .save_customer_type(
            &actor(),
            None,
            CustomerTypeSpec {
                name: "Veteran".into(),
                tax_exempt: true,
                discount: TypeDiscount::Percent(pct("15")),
            },
        )
        .await
        .unwrap();
    let c = store
        .create_customer(&actor(), person("Vic", "Vet"))
        .await
        .unwrap();
    store
        .set_customer_type(&actor(), &CustomerKey::Id(c.id), Some(t.id))
        .await
        .unwrap();
    store
        .save_group(
            &actor(),
            None,
            spec(
                "Ten off",
                GroupKind::Auto,
                Some(r#"type = "veteran""#),
                Program::Discount { percent: pct("10") },
            ),
            today(),
        )
        .await
        .unwrap();
    let q = store
        .quote(
            &cart(&c, vec![line("a", "x", 1000, "ea", 10_000)], 0, 0),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    assert!(q.quote.tax_exempt);
    assert_eq!(q.quote.discount_total, 1_500, "the larger discount applies");
    let audit = store.customer_audit(&CustomerKey::Id(c.id)).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.field.as_deref() == Some("type") && a.new.as_deref() == Some("Veteran"))
    );
}

pub async fn limits_ages_and_overrides(store: Store) {
    let profile = LimitProfile {
        id: Uuid::now_v7(),
        name: "Daily cannabis".into(),
        limits: vec![PurchaseLimit {
            name: "Daily THC".into(),
            period: Period::Day,
            enforcement: Enforcement::Warn,
            allowances: vec![
                Allowance {
                    category: "flower".into(),
                    unit: "g".into(),
                    max_quantity: 28_000,
                },
                Allowance {
                    category: "concentrate".into(),
                    unit: "g".into(),
                    max_quantity: 8_000,
                },
            ],
        }],
    };
    let profile = store.save_limit_profile(&actor(), profile).await.unwrap();
    let mut g = spec(
        "Adults",
        GroupKind::Auto,
        Some("visits >= 0"),
        Program::None,
    );
    g.min_age = Some(21);
    g.limit_profile = Some(profile.id);
    store.save_group(&actor(), None, g, today()).await.unwrap();
    let young = NewCustomer {
        data: draft(&[
            (Field::FirstName, "Yu"),
            (Field::LastName, "Young"),
            (Field::DateOfBirth, "2010-01-01"),
        ]),
        origin_store: None,
    };
    let young = store.create_customer(&actor(), young).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let q = store
        .quote(
            &cart(&young, vec![line("f", "flower", 1000, "g", 1_000)], 0, 0),
            now,
        )
        .await
        .unwrap();
    assert_eq!(q.quote.refusals[0].code, "age");
    let adult = NewCustomer {
        data: draft(&[
            (Field::FirstName, "Al"),
            (Field::LastName, "Adult"),
            (Field::DateOfBirth, "1980-01-01"),
        ]),
        origin_store: None,
    };
    let adult = store.create_customer(&actor(), adult).await.unwrap();
    // 20 g of flower today, then 3 g of concentrate: 20/28 + 3/8 > 1.
    store
        .commit_order(
            &actor(),
            order(
                "l-1",
                cart(&adult, vec![line("f", "flower", 20_000, "g", 1_000)], 0, 0),
            ),
            now,
        )
        .await
        .unwrap();
    let second = order(
        "l-2",
        cart(
            &adult,
            vec![line("c", "concentrate", 3_000, "g", 4_000)],
            0,
            0,
        ),
    );
    let err = store
        .commit_order(&actor(), second.clone(), now)
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Invalid(ref v) if v.0[0].field == "lines"));
    let mut overridden = second;
    overridden.override_limits = true;
    let (rec, _) = store.commit_order(&actor(), overridden, now).await.unwrap();
    assert_eq!(rec.overrides.len(), 1);
    let audit = store
        .customer_audit(&CustomerKey::Id(adult.id))
        .await
        .unwrap();
    assert!(audit.iter().any(|a| a.action == "limit-override"));
}

/// The worked example: one customer through a year of a points program.
pub async fn a_year_with_a_loyal_customer(store: Store) {
    let t0 = OffsetDateTime::now_utc();
    let gold = store
        .save_group(
            &actor(),
            None,
            spec(
                "Gold",
                GroupKind::Manual,
                None,
                Program::Discount { percent: pct("10") },
            ),
            today(),
        )
        .await
        .unwrap();
    let silver = store
        .save_group(
            &actor(),
            None,
            spec(
                "Silver",
                GroupKind::Manual,
                None,
                Program::Discount { percent: pct("5") },
            ),
            today(),
        )
        .await
        .unwrap();
    let mut points = spec(
        "Points",
        GroupKind::Auto,
        Some("visits >= 0"),
        Program::Points {
            percent: pct("2"),
            birthday_bonus: 1_000,
            registration_bonus: 0,
            max_redeem: Some(pct("20")),
        },
    );
    points.spend_limit = Some(SpendLimit {
        amount: 1_500,
        period: Period::Month,
    });
    store
        .save_group(&actor(), None, points, today())
        .await
        .unwrap();
    let s = LoyaltySettingsPatch::apply(store.loyalty_settings().await.unwrap(), |s| {
        s.registration_bonus = 500;
        s.transitions_enabled = true;
        s.transitions = vec![
            Transition {
                threshold: 1,
                group_id: silver.id.to_string(),
            },
            Transition {
                threshold: 100_000,
                group_id: gold.id.to_string(),
            },
        ];
        s.return_window_days = 14;
        s.points_lifetime_days = Some(365);
    });
    store.update_loyalty_settings(&actor(), &s).await.unwrap();
    // Born 200 days from now, 30 years ago.
    let bday = (t0 + Duration::days(200)).date();
    let dob = format!(
        "{}-{:02}-{:02}",
        bday.year() - 30,
        u8::from(bday.month()),
        bday.day()
    );
    let new = NewCustomer {
        data: draft(&[
            (Field::FirstName, "Yara"),
            (Field::LastName, "Year"),
            (Field::DateOfBirth, &dob),
        ]),
        origin_store: None,
    };
    let c = store.create_customer(&actor(), new).await.unwrap();
    let key = CustomerKey::Id(c.id);
    // Registration bonus, once.
    assert_eq!(store.balances(&key, t0).await.unwrap().points.balance, 500);

    // Day 1: 600.00 of goods, first purchase; no group discount yet.
    let (o1, _) = store
        .commit_order(
            &actor(),
            order(
                "y-1",
                cart(&c, vec![line("a", "x", 1000, "ea", 60_000)], 0, 0),
            ),
            t0 + Duration::days(1),
        )
        .await
        .unwrap();
    assert_eq!((o1.discount, o1.earned), (0, 1_200));
    // Now in Silver (5 %): day 30, 500.00 → 25.00 off, 2 % of 475.00 earned.
    let (o2, _) = store
        .commit_order(
            &actor(),
            order(
                "y-2",
                cart(&c, vec![line("b", "x", 1000, "ea", 50_000)], 0, 0),
            ),
            t0 + Duration::days(30),
        )
        .await
        .unwrap();
    assert_eq!((o2.discount, o2.earned), (2_500, 950));
    // Total 1,075.00 passed 1,000.00: Gold (10 %) now.
    let act = store
        .customer_activity(&key, t0 + Duration::days(31))
        .await
        .unwrap();
    let groups: Vec<_> = act.groups.iter().map(|(_, n)| n.as_str()).collect();
    assert!(
        groups.contains(&"Gold") && !groups.contains(&"Silver"),
        "{groups:?}"
    );
    // Day 31: points from day 30 are locked for the 14-day return window.
    let b = store.balances(&key, t0 + Duration::days(31)).await.unwrap();
    assert_eq!(
        (b.points.balance, b.points.available, b.points.locked),
        (2_650, 1_700, 950)
    );

    // Day 60: 100.00 cart; 10 % off → 90.00; at most 20 % = 18.00 in points.
    let q = store
        .quote(
            &cart(&c, vec![line("c", "x", 1000, "ea", 10_000)], 0, 0),
            t0 + Duration::days(60),
        )
        .await
        .unwrap();
    assert_eq!(
        (q.quote.total, q.quote.max_points),
        (9_000, 1_500),
        "capped by the 15.00 monthly spend limit"
    );
    let (o3, _) = store
        .commit_order(
            &actor(),
            order(
                "y-3",
                cart(&c, vec![line("c", "x", 1000, "ea", 10_000)], 1_500, 0),
            ),
            t0 + Duration::days(60),
        )
        .await
        .unwrap();
    assert_eq!(
        (o3.points_redeemed, o3.amount_paid, o3.earned),
        (1_500, 7_500, 150)
    );
    // The spend limit is reached for this month.
    let q = store
        .quote(
            &cart(&c, vec![line("d", "x", 1000, "ea", 10_000)], 0, 0),
            t0 + Duration::days(60),
        )
        .await
        .unwrap();
    assert_eq!(q.quote.max_points, 0);

    // Day 65: half of the day-60 order comes back: 45.00, of which 7.50 in points.
    let ret = ReturnRequest {
        id: "y-ret".into(),
        order_id: "y-3".into(),
        lines: vec![(0, 500)],
        fingerprint: "y-ret".into(),
    };
    let (r, _) = store
        .return_order(&actor(), ret, t0 + Duration::days(65))
        .await
        .unwrap();
    assert_eq!(
        (r.net, r.points_refund, r.money_refund, r.earned_reversal),
        (4_500, 750, 3_750, 75)
    );

    // Day 200: birthday bonus, once.
    let rep = store
        .run_maintenance(t0 + Duration::days(200))
        .await
        .unwrap();
    assert_eq!(rep.birthday_bonuses, 1);
    let rep = store
        .run_maintenance(t0 + Duration::days(200) + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(rep.birthday_bonuses, 0);
    let before = store
        .balances(&key, t0 + Duration::days(200))
        .await
        .unwrap()
        .points
        .balance;
    assert_eq!(before, 2_650 - 1_500 + 150 + 750 - 75 + 1_000);

    // Day 366: the registration bonus and the day-1 points expire, oldest first.
    let rep = store
        .run_maintenance(t0 + Duration::days(366) + Duration::hours(1))
        .await
        .unwrap();
    assert!(rep.expired_entries >= 1);
    let entries = store.ledger(&key, Some(Account::Points)).await.unwrap();
    let expired: i64 = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Expire)
        .map(|e| -e.amount)
        .sum();
    assert!(expired > 0);
    let b = store
        .balances(&key, t0 + Duration::days(366) + Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(
        b.points.balance,
        ledger_sum(&store, &c, Account::Points).await
    );
    assert!(b.points.balance >= 0);
    assert!(b.points.next_expiry.is_some());
}

/// Settings edits in one expression.
struct LoyaltySettingsPatch;
impl LoyaltySettingsPatch {
    fn apply(
        mut s: patron_domain::loyalty::LoyaltySettings,
        f: impl FnOnce(&mut patron_domain::loyalty::LoyaltySettings),
    ) -> patron_domain::loyalty::LoyaltySettings {
        f(&mut s);
        s
    }
}

pub async fn merging_moves_history_and_keeps_old_codes_finding_the_survivor(store: Store) {
    let mut s = store.loyalty_settings().await.unwrap();
    s.return_window_days = 0;
    store.update_loyalty_settings(&actor(), &s).await.unwrap();
    earners(&store).await;
    let vip = store
        .save_group(
            &actor(),
            None,
            spec("VIP", GroupKind::Manual, None, Program::None),
            today(),
        )
        .await
        .unwrap();
    let mut a = person("Ann", "Lee");
    a.data = draft(&[
        (Field::FirstName, "Ann"),
        (Field::LastName, "Lee"),
        (Field::Phone, "(512) 561-0721"),
    ]);
    let ann = store.create_customer(&actor(), a).await.unwrap();
    let mut b = person("Annie", "Lee");
    b.data = draft(&[
        (Field::FirstName, "Annie"),
        (Field::LastName, "Lee"),
        (Field::Email, "annie@example.com"),
        (Field::DateOfBirth, "1990-05-17"),
    ]);
    let annie = store.create_customer(&actor(), b).await.unwrap();
    let third = store
        .create_customer(&actor(), person("A.", "Lee"))
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    for (id, c, price) in [
        ("m-1", &ann, 1_000),
        ("m-2", &annie, 3_000),
        ("m-3", &third, 500),
    ] {
        store
            .commit_order(
                &actor(),
                order(id, cart(c, vec![line("a", "x", 1000, "ea", price)], 0, 0)),
                now,
            )
            .await
            .unwrap();
    }
    store
        .change_members(
            &actor(),
            &MemberTarget::Groups(vec![vip.id]),
            &[CustomerKey::Id(annie.id)],
            true,
        )
        .await
        .unwrap();
    let mut before = 0;
    for c in [&ann, &annie, &third] {
        before += ledger_sum(&store, c, Account::Points).await;
    }
    let survivor = store
        .merge_customers(
            &actor(),
            &CustomerKey::Code(ann.code.as_str().to_owned()),
            vec![
                CustomerKey::Id(annie.id),
                CustomerKey::Code(third.code.as_str().to_owned()),
            ],
            ctx(),
        )
        .await
        .unwrap();
    assert_eq!(survivor.id, ann.id);
    assert_eq!(survivor.code, ann.code, "the survivor keeps its code");
    assert_eq!(survivor.data.first_name, "Ann", "its own values stay");
    assert_eq!(
        survivor.data.email.as_ref().map(|e| e.as_str()),
        Some("annie@example.com"),
        "what it lacked is filled"
    );
    assert!(survivor.data.date_of_birth.is_some());
    // The others' codes and ids find the survivor.
    for key in [
        CustomerKey::Id(annie.id),
        CustomerKey::Code(third.code.as_str().to_owned()),
    ] {
        assert_eq!(store.customer(&key).await.unwrap().id, ann.id);
    }
    // Balances add up exactly; every order and the manual membership moved.
    assert_eq!(ledger_sum(&store, &ann, Account::Points).await, before);
    assert_eq!(before, 450);
    let act = store
        .customer_activity(&CustomerKey::Id(ann.id), now)
        .await
        .unwrap();
    assert_eq!(act.orders.len(), 3);
    assert_eq!((act.stats.total_spent, act.stats.visits), (4_500, 3));
    assert!(act.groups.iter().any(|(id, _)| *id == vip.id));
    assert_eq!(member_names(&store, vip.id).await, vec!["Lee".to_owned()]);
    // A later sale to a merged-away record lands on the survivor.
    store
        .commit_order(
            &actor(),
            order(
                "m-4",
                cart_for(annie.id, vec![line("a", "x", 1000, "ea", 2_000)]),
            ),
            now,
        )
        .await
        .unwrap();
    assert_eq!(ledger_sum(&store, &ann, Account::Points).await, 650);
    // The trail says who merged what; merging again is refused.
    let trail = store
        .customer_audit(&CustomerKey::Id(ann.id))
        .await
        .unwrap();
    assert_eq!(trail.iter().filter(|e| e.action == "merge").count(), 2);
    assert!(
        trail
            .iter()
            .any(|e| e.action == "merge" && e.old.as_deref() == Some(annie.code.as_str()))
    );
    let again = store
        .merge_customers(
            &actor(),
            &CustomerKey::Id(ann.id),
            vec![CustomerKey::Id(annie.id)],
            ctx(),
        )
        .await;
    assert!(
        matches!(again, Err(StorageError::Conflict { .. })),
        "{again:?}"
    );
    // Merged-away records are no one's duplicates any more.
    assert!(
        store
            .duplicate_clusters(10, 0)
            .await
            .unwrap()
            .clusters
            .is_empty()
    );
}

fn cart_for(customer: Uuid, lines: Vec<CartLine>) -> CheckoutRequest {
    CheckoutRequest {
        customer: CustomerKey::Id(customer),
        lines,
        redeem_points: 0,
        redeem_credit: 0,
        store: None,
    }
}

/// A sale or return made here queues one receipt email with it (not again on
/// a retry; only with consent when asked); the outbox retries, then gives up;
/// a receipt's balances are those right after its sale.
pub async fn receipts_are_queued_with_the_sale_and_retried(store: Store) {
    let now = OffsetDateTime::now_utc();
    let mut with_mail = person("Rae", "Ceipt");
    with_mail.data = draft(&[
        (Field::FirstName, "Rae"),
        (Field::LastName, "Ceipt"),
        (Field::Email, "rae@example.com"),
        (Field::TaxId, "TX-1"),
    ]);
    let rae = store.create_customer(&actor(), with_mail).await.unwrap();
    let mut no_consent = person("Nora", "Consent");
    no_consent.data = draft(&[
        (Field::FirstName, "Nora"),
        (Field::LastName, "Consent"),
        (Field::Email, "nora@example.com"),
    ]);
    let nora = store.create_customer(&actor(), no_consent).await.unwrap();
    earners(&store).await;
    // Off: nothing is queued.
    let sale =
        |id: &str, c: &Customer| order(id, cart(c, vec![line("a", "x", 1000, "ea", 1_000)], 0, 0));
    store
        .commit_order(&actor(), sale("r-0", &rae), now)
        .await
        .unwrap();
    assert!(store.receipts_due(now, 10).await.unwrap().is_empty());

    store.set_receipt_mail(ReceiptMail::Consented);
    store
        .commit_order(&actor(), sale("r-1", &nora), now)
        .await
        .unwrap();
    assert!(store.receipts_due(now, 10).await.unwrap().is_empty());

    store.set_receipt_mail(ReceiptMail::All);
    let (o, _) = store
        .commit_order(&actor(), sale("r-2", &rae), now)
        .await
        .unwrap();
    store
        .commit_order(&actor(), sale("r-2", &rae), now)
        .await
        .unwrap();
    let due = store.receipts_due(now, 10).await.unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(
        (
            due[0].kind,
            due[0].reference.as_str(),
            due[0].to.as_str(),
            due[0].attempts
        ),
        (ReceiptKind::Order, "r-2", "rae@example.com", 0)
    );
    let f = store.receipt_facts(rae.id, o.at).await.unwrap();
    assert_eq!(
        (f.name.as_str(), f.code.as_str(), f.tax_id.as_deref()),
        ("Rae Ceipt", rae.code.as_str(), Some("TX-1"))
    );
    assert_eq!(
        (f.points_after, f.credit_after),
        (200, 0),
        "cash-back of r-0 and r-2"
    );
    let before = store
        .receipt_facts(rae.id, o.at - Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(before.points_after, 0);

    // A failure waits until its retry time; success marks it sent.
    let id = due[0].id;
    let later = now + Duration::seconds(60);
    store
        .receipt_tried(id, Err("451 busy".into()), now, later)
        .await
        .unwrap();
    assert!(store.receipts_due(now, 10).await.unwrap().is_empty());
    let due = store.receipts_due(later, 10).await.unwrap();
    assert_eq!(due[0].attempts, 1);
    store.receipt_tried(id, Ok(()), later, later).await.unwrap();
    let s = store.receipt_outbox_status().await.unwrap();
    assert_eq!((s.pending, s.sent, s.failed), (0, 1, 0));
    assert_eq!(s.last_error.as_deref(), Some("451 busy"));

    // A return queues its own; after the last allowed try it is given up.
    let (r, _) = store
        .return_order(
            &actor(),
            ReturnRequest {
                id: "rr-2".into(),
                order_id: "r-2".into(),
                lines: vec![(0, 1000)],
                fingerprint: "f".into(),
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(store.return_record("rr-2").await.unwrap(), r);
    let due = store.receipts_due(now, 10).await.unwrap();
    assert_eq!((due.len(), due[0].kind), (1, ReceiptKind::Return));
    for _ in 0..RECEIPT_MAX_ATTEMPTS {
        store
            .receipt_tried(due[0].id, Err("refused".into()), now, now)
            .await
            .unwrap();
    }
    assert!(store.receipts_due(later, 10).await.unwrap().is_empty());
    let s = store.receipt_outbox_status().await.unwrap();
    assert_eq!((s.pending, s.sent, s.failed), (0, 1, 1));
}

/// A listing in code order, newest first or by spend pages through every
/// customer once, its filters still applying; a cursor of another order and a
/// sorted search are refused.
pub async fn other_orders_page_through_everything_once(store: Store) {
    let mut made = Vec::new();
    for (f, l) in [
        ("Zoe", "Adams"),
        ("Al", "Zed"),
        ("Mo", "Mid"),
        ("Bea", "Best"),
        ("Cy", "Cole"),
    ] {
        made.push(store.create_customer(&actor(), person(f, l)).await.unwrap());
    }
    let codes: Vec<String> = made.iter().map(|c| c.code.as_str().to_owned()).collect();
    // Spend: Mo 30, Bea 30 (created after Mo), Al 10; Zoe and Cy nothing.
    // Ties come newest first.
    for (i, (who, price)) in [(2, 3_000), (3, 3_000), (1, 1_000)].into_iter().enumerate() {
        let o = order(
            &format!("sort-{i}"),
            cart(&made[who], vec![line("a", "x", 1000, "ea", price)], 0, 0),
        );
        store
            .commit_order(&actor(), o, OffsetDateTime::now_utc())
            .await
            .unwrap();
    }
    let listed = |order: ListOrder| {
        super::walk(
            &store,
            CustomerQuery {
                order,
                limit: 2,
                ..Default::default()
            },
        )
    };
    assert_eq!(listed(ListOrder::Code).await, codes);
    let newest: Vec<String> = codes.iter().rev().cloned().collect();
    assert_eq!(listed(ListOrder::Newest).await, newest);
    assert_eq!(
        listed(ListOrder::Spent).await,
        [3, 2, 1, 4, 0].map(|i| codes[i].clone())
    );
    // Filters still apply.
    let active_spenders = super::walk(
        &store,
        CustomerQuery {
            order: ListOrder::Spent,
            limit: 1,
            active: ActiveFilter::All,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(active_spenders.len(), 5);
    // A cursor made for one order does not continue another; a search is by match.
    let page = store
        .list_customers(&CustomerQuery {
            order: ListOrder::Code,
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    let wrong = store
        .list_customers(&CustomerQuery {
            order: ListOrder::Newest,
            limit: 2,
            cursor: page.next_cursor,
            ..Default::default()
        })
        .await;
    assert!(
        matches!(wrong, Err(StorageError::Invalid(ref e)) if e.0[0].field == "cursor"),
        "{wrong:?}"
    );
    let sorted_search = store
        .list_customers(&CustomerQuery {
            order: ListOrder::Spent,
            search: Some(patron_domain::search::SearchQuery::parse(
                "Zed",
                patron_domain::PhoneRegion::default(),
            )),
            limit: 2,
            ..Default::default()
        })
        .await;
    assert!(matches!(sorted_search, Err(StorageError::Invalid(ref e)) if e.0[0].field == "sort"));
}
