//! Property: a group rule gives the same answer for a customer whether it is
//! evaluated in Rust or compiled to SQL and run by SQLite, including when the
//! answer is unknown (NULL).
//!
//! Rules are random trees printed to text and parsed back, so the printer, the
//! parser, the evaluator and the compiler are all exercised. Values are drawn
//! from small pools around the customers' own values and around edge dates
//! (29 February, midnight, before 1970) so that equalities and boundaries hit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use patron_domain::rules::{
    CmpOp, Expr, Field, FieldType, Literal, Rule, RuleFacts, has_valid_medical_card,
    utc_date_from_micros,
};
use proptest::prelude::*;
use rusqlite::Connection;
use rusqlite::types::Value;
use time::macros::date;
use time::{Date, Duration};

const SCHEMA: &str = "
CREATE TABLE customer_types (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE customers (
    id                  INTEGER PRIMARY KEY,
    total_spent         INTEGER NOT NULL,
    points_balance      INTEGER NOT NULL,
    visits              INTEGER NOT NULL,
    last_visit          TEXT,
    created_at          INTEGER NOT NULL,
    date_of_birth       TEXT,
    origin_store        TEXT,
    address_city        TEXT,
    email               TEXT,
    medical_card_number TEXT,
    medical_expiry      TEXT,
    marketing_consent   INTEGER NOT NULL,
    type_id             TEXT
);
";

/// `t9` is deliberately absent from the table: a dangling type id.
const TYPES: [(&str, &str); 4] = [
    ("t1", "Veteran"),
    ("t2", "STAFF"),
    ("t3", "senior"),
    ("t4", "ZOË"),
];
const TYPE_IDS: [&str; 5] = ["t1", "t2", "t3", "t4", "t9"];
const STORES: [&str; 5] = ["S01", "s01", "S02", "HQ", ""];
const CITIES: [&str; 8] = [
    "Denver", "denver", "DENVER", "Boulder", "Zoë", "ZOË", "zoë", "",
];
const TYPE_NAMES: [&str; 8] = [
    "veteran", "VETERAN", "Staff", "senior", "zoë", "ZOË", "nobody", "",
];
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Values on either side of the usual thresholds, shared by the customers and
/// the rules so that equalities and boundaries are hit often.
const VISITS: [i64; 7] = [0, 1, 2, 5, 9, 10, 11];
const LAST_VISIT_DAYS: [i64; 9] = [-1, 0, 1, 29, 30, 31, 89, 90, 91];
const CREATED_DAYS: [i64; 9] = [-1, 0, 1, 29, 30, 31, 364, 365, 366];
const AGES: [i64; 9] = [0, 1, 17, 18, 20, 21, 22, 64, 65];

/// Mostly a value from `pool`, sometimes anything in `range`.
fn pooled(pool: &[i64], range: std::ops::Range<i64>) -> BoxedStrategy<i64> {
    prop_oneof![3 => prop::sample::select(pool.to_vec()), 1 => range].boxed()
}

fn iso(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

#[derive(Debug, Clone)]
struct Customer {
    total_spent: i64,
    points_balance: i64,
    visits: i64,
    last_visit: Option<Date>,
    created_at: i64,
    date_of_birth: Option<Date>,
    origin_store: Option<&'static str>,
    city: Option<&'static str>,
    type_id: Option<&'static str>,
    email: Option<&'static str>,
    medical_card_number: Option<&'static str>,
    medical_expiry: Option<Date>,
    marketing_consent: bool,
}

impl Customer {
    fn facts(&self, today: Date) -> RuleFacts {
        RuleFacts {
            today,
            total_spent: self.total_spent,
            points_balance: self.points_balance,
            visits: self.visits,
            last_visit: self.last_visit,
            created: utc_date_from_micros(self.created_at).unwrap(),
            date_of_birth: self.date_of_birth,
            origin_store: self.origin_store.map(str::to_owned),
            city: self.city.map(str::to_owned),
            customer_type: self.type_id.and_then(|id| {
                TYPES
                    .iter()
                    .find(|(t, _)| *t == id)
                    .map(|(_, name)| (*name).to_owned())
            }),
            has_email: self.email.is_some(),
            has_medical_card: has_valid_medical_card(
                self.medical_card_number.is_some(),
                self.medical_expiry,
                today,
            ),
            marketing_consent: self.marketing_consent,
        }
    }

    fn insert(&self, conn: &Connection, id: usize) {
        conn.execute(
            "INSERT INTO customers (id, total_spent, points_balance, visits, last_visit,
                 created_at, date_of_birth, origin_store, address_city, email,
                 medical_card_number, medical_expiry, marketing_consent, type_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            rusqlite::params![
                id,
                self.total_spent,
                self.points_balance,
                self.visits,
                self.last_visit.map(iso),
                self.created_at,
                self.date_of_birth.map(iso),
                self.origin_store,
                self.city,
                self.email,
                self.medical_card_number,
                self.medical_expiry.map(iso),
                self.marketing_consent,
                self.type_id,
            ],
        )
        .unwrap();
    }
}

/// Dates where the calendar is awkward, and a spread around them.
fn today() -> impl Strategy<Value = Date> {
    prop_oneof![
        prop::sample::select(vec![
            date!(2024 - 02 - 28),
            date!(2024 - 02 - 29),
            date!(2024 - 03 - 01),
            date!(2025 - 02 - 28),
            date!(2025 - 03 - 01),
            date!(2024 - 12 - 31),
            date!(2025 - 01 - 01),
        ]),
        (0i64..730).prop_map(|n| date!(2023 - 06 - 01) + days(n)),
    ]
}

/// Someone born `years` before a day near `today`: birthdays fall just
/// before, on and just after it. 29 February in a common year does not
/// exist, and such a customer gets no birth date.
fn date_of_birth(today: Date) -> impl Strategy<Value = Option<Date>> {
    let near_birthday = (pooled(&AGES, 0..90), -2i64..=2).prop_map(move |(years, shift)| {
        let day = today + days(shift);
        let year = today.year() - i32::try_from(years).unwrap();
        Date::from_calendar_date(year, day.month(), day.day()).ok()
    });
    prop_oneof![
        1 => Just(None),
        3 => near_birthday,
        1 => prop::sample::select(vec![
            date!(2000 - 02 - 29),
            date!(2004 - 02 - 29),
            date!(1996 - 02 - 29),
            date!(2000 - 03 - 01),
            date!(2000 - 02 - 28),
        ])
        .prop_map(Some),
        1 => (0i64..30_000).prop_map(|n| Some(date!(1930 - 01 - 01) + days(n))),
    ]
}

/// Unix microseconds: days around today, or around 1970 where truncating
/// division would pick the wrong day; times of day include both edges.
fn created_at(today: Date) -> impl Strategy<Value = i64> {
    let today_day = (today - date!(1970 - 01 - 01)).whole_days();
    let time_of_day = prop_oneof![
        Just(0),
        Just(1),
        Just(MICROS_PER_DAY - 1),
        0..MICROS_PER_DAY
    ];
    let day = prop_oneof![
        pooled(&CREATED_DAYS, -5..800).prop_map(move |n| today_day - n),
        -3i64..3
    ];
    (day, time_of_day).prop_map(|(day, t)| day * MICROS_PER_DAY + t)
}

fn customer(today: Date) -> impl Strategy<Value = Customer> {
    let money = prop_oneof![
        prop::sample::select(vec![0i64, 1, 99, 100, 49_999, 50_000, 50_001, 100_000]),
        -1_000i64..200_000,
    ];
    (
        (money.clone(), money, pooled(&VISITS, 0..25)),
        prop::option::of(pooled(&LAST_VISIT_DAYS, -30..150).prop_map(move |n| today - days(n))),
        created_at(today),
        date_of_birth(today),
        (
            prop::option::of(prop::sample::select(STORES.to_vec())),
            prop::option::of(prop::sample::select(CITIES.to_vec())),
            prop::option::of(prop::sample::select(TYPE_IDS.to_vec())),
        ),
        (
            prop::option::of(Just("a@example.com")),
            prop::option::of(Just("MC-1")),
            prop::option::of((-3i64..3).prop_map(move |n| today + days(n))),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (total_spent, points_balance, visits),
                last_visit,
                created_at,
                date_of_birth,
                (origin_store, city, type_id),
                (email, medical_card_number, medical_expiry, marketing_consent),
            )| Customer {
                total_spent,
                points_balance,
                visits,
                last_visit,
                created_at,
                date_of_birth,
                origin_store,
                city,
                type_id,
                email,
                medical_card_number,
                medical_expiry,
                marketing_consent,
            },
        )
}

fn text(pool: &[&'static str]) -> BoxedStrategy<Literal> {
    prop::sample::select(pool.to_vec())
        .prop_map(|s| Literal::Text(s.to_owned()))
        .boxed()
}

fn int(pool: &[i64], range: std::ops::Range<i64>) -> BoxedStrategy<Literal> {
    pooled(pool, range).prop_map(Literal::Integer).boxed()
}

/// Literals in the neighbourhood of the customers' values for `field`.
fn literal(field: Field, today: Date) -> BoxedStrategy<Literal> {
    match field {
        Field::TotalSpent | Field::PointsBalance => prop_oneof![
            prop::sample::select(vec![0i64, 1, 99, 100, 49_999, 50_000, 50_001, 100_000]),
            -1_000i64..200_000,
        ]
        .prop_map(Literal::Money)
        .boxed(),
        Field::Visits => int(&VISITS, -1..26),
        Field::LastVisitDays => int(&LAST_VISIT_DAYS, -31..151),
        Field::CreatedDays => int(&CREATED_DAYS, -6..801),
        Field::Age => int(&AGES, -1..95),
        Field::BirthMonth => (1i64..13).prop_map(Literal::Integer).boxed(),
        Field::Created => prop_oneof![
            pooled(&CREATED_DAYS, -6..801).prop_map(move |n| today - days(n)),
            (-4i64..4).prop_map(|n| date!(1970 - 01 - 01) + days(n)),
        ]
        .prop_map(Literal::Date)
        .boxed(),
        Field::OriginStore => text(&["S01", "s01", "S02", "S03", "HQ", ""]),
        Field::City => text(&CITIES),
        Field::Type => text(&TYPE_NAMES),
        Field::HasEmail | Field::HasMedicalCard | Field::MarketingConsent => {
            unreachable!("boolean fields take no literal")
        }
    }
}

fn condition(today: Date) -> impl Strategy<Value = Expr> {
    prop::sample::select(Field::ALL.to_vec()).prop_flat_map(move |field| {
        let ty = field.field_type();
        if ty == FieldType::Boolean {
            return any::<bool>()
                .prop_map(move |value| Expr::Flag { field, value })
                .boxed();
        }
        let ops: Vec<CmpOp> = CmpOp::ALL
            .into_iter()
            .filter(|op| ty != FieldType::Text || op.is_equality())
            .collect();
        prop_oneof![
            3 => (prop::sample::select(ops), literal(field, today))
                .prop_map(move |(op, value)| Expr::Compare { field, op, value }),
            1 => (any::<bool>(), prop::collection::vec(literal(field, today), 1..4)).prop_map(
                move |(negated, values)| Expr::In {
                    field,
                    negated,
                    values,
                }
            ),
        ]
        .boxed()
    })
}

fn rule(today: Date) -> impl Strategy<Value = Expr> {
    condition(today).prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

fn case() -> impl Strategy<Value = (Date, Vec<Customer>, Expr)> {
    today().prop_flat_map(|today| {
        (
            Just(today),
            prop::collection::vec(customer(today), 1..10),
            rule(today),
        )
    })
}

fn database(customers: &[Customer]) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    for (id, name) in TYPES {
        conn.execute(
            "INSERT INTO customer_types (id, name) VALUES (?1, ?2)",
            [id, name],
        )
        .unwrap();
    }
    for (i, c) in customers.iter().enumerate() {
        c.insert(&conn, i);
    }
    conn
}

/// Runs the rule both ways over every customer and fails on any difference.
fn check(today: Date, customers: &[Customer], expr: &Expr) -> Result<(), TestCaseError> {
    let text = expr.to_string();
    let rule = Rule::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e:?}")))?;
    prop_assert_eq!(rule.expr(), expr);

    let cond = patron_sqlite::rule_sql::compile(&rule, today);
    let conn = database(customers);

    let truth = cond.select_truth(&["id"]);
    prop_assert_eq!(truth.sql.matches('?').count(), truth.params.len());
    let (truth, params) = (truth.sql, truth.params);
    let query = format!("WITH t(id, c) AS ({truth}) SELECT id, c, c IS 1 FROM t ORDER BY id");
    let mut stmt = conn.prepare(&query).unwrap();
    let rows: Vec<(usize, Option<i64>, bool)> = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    prop_assert_eq!(rows.len(), customers.len());

    let mut members = Vec::new();
    for (id, value, is_one) in rows {
        let facts = customers[id].facts(today);
        let sql_truth = match value {
            None => None,
            Some(0) => Some(false),
            Some(1) => Some(true),
            Some(other) => return Err(TestCaseError::fail(format!("{text}: SQL gave {other}"))),
        };
        prop_assert_eq!(
            sql_truth,
            rule.truth(&facts),
            "rule {} on {:?}\nfacts {:?}\nsql {}\nparams {:?}",
            text,
            customers[id],
            facts,
            truth,
            params
        );
        prop_assert_eq!(is_one, rule.evaluate(&facts));
        if rule.evaluate(&facts) {
            members.push(id);
        }
    }

    // The form a group fill uses, with a filter as its steps have.
    let matching = cond.select_matching(&["id"], "customers.id >= ?", vec![Value::Integer(0)]);
    let mut stmt = conn
        .prepare(&format!("{} ORDER BY 1", matching.sql))
        .unwrap();
    let selected: Vec<usize> = stmt
        .query_map(rusqlite::params_from_iter(matching.params), |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    prop_assert_eq!(selected, members);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn rust_and_sql_agree((today, customers, expr) in case()) {
        check(today, &customers, &expr)?;
    }
}

fn base_customer() -> Customer {
    Customer {
        total_spent: 0,
        points_balance: 0,
        visits: 0,
        last_visit: None,
        created_at: 0,
        date_of_birth: None,
        origin_store: None,
        city: None,
        type_id: None,
        email: None,
        medical_card_number: None,
        medical_expiry: None,
        marketing_consent: false,
    }
}

fn agree(today: Date, customers: &[Customer], src: &str) -> Vec<bool> {
    let rule = Rule::parse(src).unwrap();
    check(today, customers, rule.expr()).unwrap();
    customers
        .iter()
        .map(|c| rule.evaluate(&c.facts(today)))
        .collect()
}

#[test]
fn leap_day_birthday_in_both() {
    let born = Customer {
        date_of_birth: Some(date!(2004 - 02 - 29)),
        ..base_customer()
    };
    let unknown = base_customer();
    let both = [born, unknown];
    assert_eq!(
        agree(date!(2025 - 02 - 28), &both, "age >= 21"),
        [false, false]
    );
    assert_eq!(
        agree(date!(2025 - 03 - 01), &both, "age >= 21"),
        [true, false]
    );
    assert_eq!(
        agree(date!(2024 - 02 - 29), &both, "age = 20"),
        [true, false]
    );
    assert_eq!(
        agree(date!(2024 - 02 - 29), &both, "not (age >= 21)"),
        [true, false]
    );
    assert_eq!(
        agree(date!(2024 - 02 - 29), &both, "birth_month = 2"),
        [true, false]
    );
}

#[test]
fn creation_date_rounds_down_before_1970_and_at_midnight() {
    let at = |micros| Customer {
        created_at: micros,
        ..base_customer()
    };
    let customers = [
        at(-1),
        at(0),
        at(MICROS_PER_DAY - 1),
        at(MICROS_PER_DAY),
        at(-MICROS_PER_DAY),
    ];
    assert_eq!(
        agree(date!(1970 - 01 - 02), &customers, "created = 1970-01-01"),
        [false, true, true, false, false]
    );
    assert_eq!(
        agree(date!(1970 - 01 - 02), &customers, "created_days = 2"),
        [true, false, false, false, true]
    );
}

#[test]
fn unknowns_and_dangling_types() {
    let typed = |id| Customer {
        type_id: Some(id),
        city: Some("DENVER"),
        ..base_customer()
    };
    let customers = [typed("t1"), typed("t9"), base_customer()];
    let today = date!(2024 - 06 - 01);
    assert_eq!(
        agree(today, &customers, r#"type = "VETERAN""#),
        [true, false, false]
    );
    assert_eq!(
        agree(today, &customers, r#"type != "veteran""#),
        [false, false, false]
    );
    assert_eq!(
        agree(
            today,
            &customers,
            r#"city in ["boulder", "denver"] or type = "x""#
        ),
        [true, true, false]
    );
    assert_eq!(
        agree(today, &customers, "not has_email and last_visit_days > 90"),
        [false, false, false]
    );
}

#[test]
fn medical_card_expiry() {
    let card = |expiry| Customer {
        medical_card_number: Some("MC-1"),
        medical_expiry: expiry,
        ..base_customer()
    };
    let today = date!(2024 - 06 - 01);
    let customers = [
        card(None),
        card(Some(today)),
        card(Some(today - days(1))),
        base_customer(),
    ];
    assert_eq!(
        agree(today, &customers, "has_medical_card"),
        [true, true, false, false]
    );
    assert_eq!(
        agree(today, &customers, "has_medical_card = false"),
        [false, false, true, true]
    );
}
