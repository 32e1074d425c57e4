//! Every released schema version, with data in it, upgraded by today's build.
//!
//! For each version v, a database is made as a build at schema v left it:
//! the schema steps up to v, and after each step k the rows a node wrote at
//! schema k (`fixtures/schema/NNNN.sql`, written the way that release's code
//! wrote them). Today's `SqliteStorage::open` then migrates it, and
//! everything is checked through the storage API: the rows are there and
//! read back as they were written, derived columns were filled (duplicate
//! keys, phone display forms, report day totals, the replication feed), the
//! file is sound, and the node can write again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use patron_domain::customer::Field;
use patron_domain::loyalty::{CartLine, Program};
use patron_domain::search::SearchQuery;
use patron_domain::{CustomerDraft, DuplicateKeys, PhoneRegion, Username};
use patron_sqlite::schema_history::{LATEST, create_at};
use patron_sqlite::{DB_FILE, SqliteStorage};
use patron_storage::conformance::draft;
use patron_storage::*;
use std::collections::{BTreeMap, BTreeSet};
use time::macros::{date, datetime};
use time::{Date, Duration};
use uuid::Uuid;

/// The rows written at each schema version; `None`: that step only changed
/// the schema or filled what was there.
const FIXTURES: [Option<&str>; 14] = [
    Some(include_str!("fixtures/schema/0001.sql")),
    Some(include_str!("fixtures/schema/0002.sql")),
    Some(include_str!("fixtures/schema/0003.sql")),
    None, // 0004: the feed backfill
    Some(include_str!("fixtures/schema/0005.sql")),
    Some(include_str!("fixtures/schema/0006.sql")),
    Some(include_str!("fixtures/schema/0007.sql")),
    Some(include_str!("fixtures/schema/0008.sql")),
    Some(include_str!("fixtures/schema/0009.sql")),
    Some(include_str!("fixtures/schema/0010.sql")),
    Some(include_str!("fixtures/schema/0011.sql")),
    Some(include_str!("fixtures/schema/0012.sql")),
    Some(include_str!("fixtures/schema/0013.sql")),
    Some(include_str!("fixtures/schema/0014.sql")),
];

const VIP: &str = "018a6a4e-0000-7000-8000-0000000000a1";
const BIG_SPENDERS: &str = "018a6a4e-0000-7000-8000-0000000000a2";
const REGULARS: &str = "018a6a4e-0000-7000-8000-0000000000a3";
const MEDICAL: &str = "00000000-0000-0000-0000-000000000002";
const RECREATIONAL: &str = "00000000-0000-0000-0000-000000000003";
const VETERAN: &str = "018a6a4e-0000-7000-8000-0000000000b1";

/// A customer as the fixtures wrote them: when, and the input a person typed
/// (parsed today, it must equal what reads back after the upgrade).
struct Person {
    since: usize,
    seq: u32,
    code: &'static str,
    fields: &'static [(Field, &'static str)],
    origin: Option<&'static str>,
    /// Merged into another customer (by seq) at this version.
    merged: Option<(usize, u32)>,
}

fn id(seq: u32) -> Uuid {
    Uuid::parse_str(&format!("01887561-8a00-7000-8000-00000000c{seq:03}")).unwrap()
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

const JOSE: &[(Field, &str)] = &[
    (Field::FirstName, "José"),
    (Field::LastName, "García"),
    (Field::Email, "jose.garcia@example.com"),
    (Field::Phone, "201 555 0123"),
    (Field::AddressLine1, "12 Main St"),
    (Field::AddressLine2, "Apt 3"),
    (Field::AddressCity, "Newark"),
    (Field::AddressRegion, "NJ"),
    (Field::AddressPostalCode, "07102"),
    (Field::AddressCountry, "US"),
    (Field::DateOfBirth, "1985-01-02"),
    (Field::Notes, "Prefiere recibos por correo — habla español"),
    (Field::MarketingConsent, "true"),
    (Field::MedicalCardNumber, "MED-7788"),
    (Field::MedicalIssuingState, "NJ"),
    (Field::MedicalExpiry, "2031-12-31"),
    (Field::IdNumber, "X12-345"),
    (Field::IdIssuingState, "NJ"),
    (Field::IdIssuingCountry, "US"),
    (Field::IdExpiry, "2031-01-02"),
];
const ZOE: &[(Field, &str)] = &[
    (Field::FirstName, "Zoë"),
    (Field::LastName, "Ørsted-Nuñez"),
    (Field::Email, "Zoe.Orsted@example.org"),
    (Field::Phone, "+44 20 7183 8750"),
    (Field::DateOfBirth, "1990-07-15"),
];
const ZOE_AT_11: &[(Field, &str)] = &[
    (Field::FirstName, "Zoë"),
    (Field::LastName, "Ørsted-Nuñez"),
    (Field::Email, "zoe.nunez@example.org"),
    (Field::Phone, "+44 20 7183 8750"),
    (Field::DateOfBirth, "1990-07-15"),
];

fn people() -> Vec<Person> {
    let p = |since, seq, code, fields| Person {
        since,
        seq,
        code,
        fields,
        origin: None,
        merged: None,
    };
    vec![
        p(1, 1, "CUST-00001", JOSE),
        p(1, 2, "CUST-00002", ZOE),
        p(
            1,
            3,
            "CUST-00003",
            &[
                (Field::FirstName, "Li"),
                (Field::LastName, "Wei"),
                (Field::IdNumber, "D1234567"),
                (Field::IdIssuingCountry, "CN"),
            ],
        ),
        p(
            2,
            4,
            "CUST-00004",
            &[
                (Field::FirstName, "Ana-María"),
                (Field::LastName, "Šimić"),
                (Field::Email, "ana.simic@example.com"),
                (Field::Phone, "(312) 555-0199"),
                (Field::DateOfBirth, "1978-11-30"),
                (Field::MarketingConsent, "true"),
            ],
        ),
        p(
            3,
            5,
            "CUST-00005",
            &[
                (Field::FirstName, "Ngozi"),
                (Field::LastName, "Okafor"),
                (Field::Email, "ngozi@example.com"),
                (Field::Phone, "+1 646 555 0147"),
                (Field::DateOfBirth, "1995-02-28"),
                (Field::IdNumber, "NY-88-1200"),
                (Field::IdIssuingState, "NY"),
                (Field::IdIssuingCountry, "US"),
            ],
        ),
        p(
            8,
            6,
            "CUST-00106",
            &[
                (Field::FirstName, "Renée"),
                (Field::LastName, "Dupont"),
                (Field::Email, "renee.dupont@example.fr"),
                (Field::Phone, "+33 6 12 34 56 78"),
                (Field::DateOfBirth, "1962-05-09"),
                (Field::IdNumber, "12AB34567"),
                (Field::IdIssuingCountry, "FR"),
                (Field::MarketingConsent, "true"),
            ],
        ),
        Person {
            origin: Some("S01"),
            merged: Some((9, 1)),
            ..p(
                9,
                7,
                "CUST-00006",
                &[
                    (Field::FirstName, "Jose"),
                    (Field::LastName, "Garcia"),
                    (Field::Email, "jose.g@example.net"),
                    (Field::Phone, "201-555-0123"),
                    (Field::DateOfBirth, "1985-01-02"),
                ],
            )
        },
        p(
            10,
            8,
            "CUST-00107",
            &[
                (Field::FirstName, "Märta"),
                (Field::LastName, "Lindqvist"),
                (Field::Email, "marta.l@example.se"),
                (Field::Phone, "415 555 0100"),
                (Field::DateOfBirth, "1970-03-03"),
            ],
        ),
        p(
            11,
            9,
            "CUST-00108",
            &[
                (Field::FirstName, "Óscar"),
                (Field::LastName, "Peña"),
                (Field::Email, "oscar.pena@example.com"),
                (Field::Phone, "305 555 0111"),
                (Field::DateOfBirth, "2000-12-12"),
                (Field::MarketingConsent, "true"),
            ],
        ),
        p(
            13,
            10,
            "CUST-00109",
            &[
                (Field::FirstName, "Siobhán"),
                (Field::LastName, "O'Brien"),
                (Field::Phone, "617 555 0177"),
                (Field::DateOfBirth, "1988-08-08"),
            ],
        ),
        p(
            14,
            11,
            "CUST-00110",
            &[
                (Field::FirstName, "Đặng"),
                (Field::LastName, "Thu Hà"),
                (Field::Email, "thu.ha@example.vn"),
                (Field::Phone, "503 555 0188"),
                (Field::DateOfBirth, "1999-09-09"),
                (Field::IdNumber, "OR-5550188"),
                (Field::IdIssuingState, "OR"),
                (Field::MarketingConsent, "true"),
            ],
        ),
    ]
}

/// A sale as the fixtures wrote it.
struct Sale {
    since: usize,
    id: &'static str,
    customer: u32,
    store: Option<&'static str>,
    total: i64,
    lines: usize,
    returned: &'static [(usize, i64)],
}

fn sales() -> Vec<Sale> {
    let s = |since, n: u32, customer, store, total, lines, returned| Sale {
        since,
        id: ORDER_IDS[n as usize - 1],
        customer,
        store,
        total,
        lines,
        returned,
    };
    vec![
        s(2, 1, 1, None, 11250, 2, &[(1, 1000)]),
        s(2, 2, 1, None, 4050, 1, &[]),
        s(3, 3, 5, None, 6000, 1, &[]),
        s(5, 4, 2, Some("S01"), 4500, 1, &[]),
        s(12, 5, 9, None, 2500, 1, &[]),
        s(13, 6, 6, None, 8000, 2, &[(1, 1000)]),
        s(14, 7, 11, Some("S01"), 3000, 1, &[]),
    ]
}

const ORDER_IDS: [&str; 7] = [
    "018a6a4e-0000-7000-8000-0000000000d1",
    "018a6a4e-0000-7000-8000-0000000000d2",
    "018a6a4e-0000-7000-8000-0000000000d3",
    "018a6a4e-0000-7000-8000-0000000000d4",
    "018a6a4e-0000-7000-8000-0000000000d5",
    "018a6a4e-0000-7000-8000-0000000000d6",
    "018a6a4e-0000-7000-8000-0000000000d7",
];

/// (since, customer seq, points balance, credit balance, ledger entries):
/// the balances each customer has once everything up to a version is written.
fn balances_at(v: usize) -> BTreeMap<u32, (i64, i64, usize)> {
    let mut b = BTreeMap::new();
    if v >= 2 {
        b.insert(1, (242, 4000, 6));
    }
    if v >= 3 {
        b.insert(5, (300, 0, 1));
    }
    if v >= 5 {
        b.insert(2, (0, 2000, 1));
    }
    if v >= 10 {
        b.insert(8, (1500, 2500, 2));
    }
    if v >= 13 {
        b.insert(6, (500, 0, 1));
    }
    b
}

/// Problems found, each naming the starting version.
struct Findings {
    from: usize,
    problems: Vec<String>,
}

impl Findings {
    fn fail(&mut self, what: impl std::fmt::Display) {
        self.problems
            .push(format!("from schema {}: {what}", self.from));
    }

    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: T, want: T) {
        if got != want {
            self.fail(format_args!("{what}: got {got:?}, want {want:?}"));
        }
    }

    fn ok<T>(&mut self, what: &str, r: Result<T>) -> Option<T> {
        match r {
            Ok(t) => Some(t),
            Err(e) => {
                self.fail(format_args!("{what}: {e}"));
                None
            }
        }
    }
}

fn seed(v: usize, c: &rusqlite::Connection) -> Result<()> {
    let Some(sql) = FIXTURES.get(v - 1).copied().flatten() else {
        return Ok(());
    };
    c.execute_batch(&format!("BEGIN IMMEDIATE;\n{sql}\nCOMMIT;"))
        .map_err(|e| StorageError::Backend(format!("fixture {v:04}.sql: {e}")))
}

/// The chain's local day of `at`, as reports count it.
fn local_day(at: OffsetDateTime, offset_minutes: i32) -> Date {
    (at + Duration::minutes(i64::from(offset_minutes))).date()
}

fn search(text: &str) -> CustomerQuery {
    CustomerQuery {
        search: Some(SearchQuery::parse(text, PhoneRegion::default())),
        active: ActiveFilter::All,
        limit: 50,
        ..Default::default()
    }
}

const WHOLE_RANGE: ReportRange = ReportRange {
    from: date!(2023 - 01 - 01),
    to: date!(2027 - 12 - 31),
    store: None,
};

async fn check(store: &SqliteStorage, v: usize, f: &mut Findings) {
    let people: Vec<Person> = people().into_iter().filter(|p| p.since <= v).collect();
    let now = OffsetDateTime::now_utc();

    // --- settings ---------------------------------------------------------
    if let Some(s) = f.ok("settings", store.settings().await) {
        f.eq("code prefix", s.code_format.prefix(), "CUST-");
        f.eq("code width", s.code_format.width(), 5);
        f.eq("phone region", s.phone_region, PhoneRegion::default());
    }
    let offset = if let Some(l) = f.ok("loyalty settings", store.loyalty_settings().await) {
        if v >= 2 {
            f.eq("loyalty utc offset", l.utc_offset_minutes, -300);
            f.eq("loyalty return window", l.return_window_days, 14);
        }
        l.utc_offset_minutes
    } else {
        0
    };
    if let Some(n) = f.ok("node", store.node().await) {
        f.eq("node role", n.role, NodeRole::Hq);
    }

    // --- customers: by code and id, as written; derived keys filled ---------
    for p in &people {
        let want_fields = if p.seq == 2 && v >= 11 {
            ZOE_AT_11
        } else {
            p.fields
        };
        let want: CustomerDraft = draft(want_fields);
        let Some(by_code) = f.ok(
            &format!("customer {}", p.code),
            store.customer(&CustomerKey::Code(p.code.into())).await,
        ) else {
            continue;
        };
        if let Some((_, into)) = p.merged {
            // A merged-away record's code finds the survivor.
            f.eq(
                &format!("{} (merged) finds its survivor", p.code),
                by_code.id,
                id(into),
            );
            continue;
        }
        f.eq(&format!("{} id", p.code), by_code.id, id(p.seq));
        f.eq(&format!("{} data", p.code), &by_code.data, &want);
        f.eq(
            &format!("{} phone display", p.code),
            by_code
                .data
                .phone
                .as_ref()
                .map(|ph| ph.display().to_owned()),
            want.phone.as_ref().map(|ph| ph.display().to_owned()),
        );
        f.eq(&format!("{} active", p.code), by_code.active, true);
        f.eq(
            &format!("{} origin", p.code),
            by_code.origin_store.as_ref().map(|s| s.as_str().to_owned()),
            p.origin.map(str::to_owned),
        );
        if let Some(by_id) = f.ok(
            &format!("customer by id {}", p.seq),
            store.customer(&CustomerKey::Id(id(p.seq))).await,
        ) {
            f.eq(&format!("{} by id", p.code), by_id.code, by_code.code);
        }
        // Likely-same keys, each on its own (phone and email would find the
        // record anyway): filled for rows older than schema 8, written since.
        let keys = want.duplicate_keys();
        let single = [
            DuplicateKeys {
                id_document: keys.id_document.clone(),
                ..Default::default()
            },
            DuplicateKeys {
                person: keys.person.clone(),
                ..Default::default()
            },
        ];
        for probe in single
            .into_iter()
            .filter(|k| k.id_document.is_some() || k.person.is_some())
        {
            match f.ok("likely_same", store.likely_same(&probe, None, 20).await) {
                Some(found) if found.iter().any(|l| l.customer.id == id(p.seq)) => {}
                Some(found) => f.fail(format_args!(
                    "duplicates check does not find {} by its own key {probe:?} (found {:?})",
                    p.code,
                    found
                        .iter()
                        .map(|l| l.customer.code.as_str())
                        .collect::<Vec<_>>()
                )),
                None => {}
            }
        }
        // Search: by the last name as typed (accents and all), and by email.
        let mut probes = vec![want.last_name.clone()];
        if let Some(e) = &want.email {
            probes.push(e.as_str().to_owned());
        }
        if let Some(ph) = &want.phone {
            probes.push(ph.display().to_owned());
        }
        for q in probes {
            if let Some(page) = f.ok("search", store.list_customers(&search(&q)).await)
                && !page.items.iter().any(|c| c.id == id(p.seq))
            {
                f.fail(format_args!("searching {q:?} does not find {}", p.code));
            }
        }
    }
    if let Some(n) = f.ok("count", store.count_customers().await) {
        f.eq("customer count", n, people.len() as u64);
    }
    if v >= 9 {
        if let Some(m) = f.ok(
            "merged record by id",
            store.customer(&CustomerKey::Id(id(7))).await,
        ) {
            f.eq("merged record finds survivor", m.id, id(1));
        }
        // Both records share the name and birth date key.
        let keys = draft(&[
            (Field::FirstName, "JOSE"),
            (Field::LastName, "garcia"),
            (Field::DateOfBirth, "1985-01-02"),
        ])
        .duplicate_keys();
        if let Some(found) = f.ok("likely_same", store.likely_same(&keys, None, 20).await)
            && !found.iter().any(|l| l.customer.id == id(1))
        {
            f.fail("duplicates check does not find José by name and birth date");
        }
    }

    // --- audit --------------------------------------------------------------
    for p in &people {
        let key = CustomerKey::Id(id(p.seq));
        if p.merged.is_some() {
            continue;
        }
        if let Some(trail) = f.ok("audit", store.customer_audit(&key).await) {
            let first = trail.first().map(|e| e.action.as_str());
            let want = if p.seq == 8 { "import" } else { "create" };
            f.eq(&format!("{} first audit action", p.code), first, Some(want));
            if p.seq == 2 && v >= 11 {
                let edit = trail
                    .iter()
                    .find(|e| e.field.as_deref() == Some("email"))
                    .map(|e| (e.old.clone(), e.new.clone()));
                f.eq(
                    "Zoë's email edit in the audit trail",
                    edit,
                    Some((
                        Some("Zoe.Orsted@example.org".into()),
                        Some("zoe.nunez@example.org".into()),
                    )),
                );
            }
        }
    }

    // --- ledger and balances -------------------------------------------------
    let expected = balances_at(v);
    let mut all_entries: Vec<LedgerEntry> = Vec::new();
    let (mut owed_points, mut owed_credit) = (0, 0);
    for p in people.iter().filter(|p| p.merged.is_none()) {
        let key = CustomerKey::Id(id(p.seq));
        let (points, credit, n) = expected.get(&p.seq).copied().unwrap_or((0, 0, 0));
        owed_points += points;
        owed_credit += credit;
        if let Some(es) = f.ok("ledger", store.ledger(&key, None).await) {
            f.eq(&format!("{} ledger entries", p.code), es.len(), n);
            all_entries.extend(es);
        }
        if let Some(b) = f.ok("balances", store.balances(&key, now).await) {
            f.eq(
                &format!("{} points balance", p.code),
                (b.points.balance, b.points.available),
                (points, points),
            );
            f.eq(
                &format!("{} credit balance", p.code),
                (b.credit.balance, b.credit.available),
                (credit, credit),
            );
        }
    }
    if let Some(l) = f.ok("liability", store.liability().await) {
        f.eq(
            "liability",
            (l.points, l.credit),
            (owed_points, owed_credit),
        );
    }
    if let Some(top) = f.ok("top customers", store.top_customers(50).await) {
        for t in &top {
            let want = people
                .iter()
                .find(|p| id(p.seq) == t.id)
                .and_then(|p| expected.get(&p.seq))
                .map_or(0, |e| e.0);
            f.eq(
                &format!("{} kept points balance", t.code),
                t.points_balance,
                want,
            );
        }
    }

    // --- orders and returns ---------------------------------------------------
    let sales: Vec<Sale> = sales().into_iter().filter(|s| s.since <= v).collect();
    let mut records = Vec::new();
    for s in &sales {
        let Some(o) = f.ok(&format!("order {}", s.id), store.order(s.id).await) else {
            continue;
        };
        f.eq(
            &format!("order {} customer", s.id),
            o.customer_id,
            id(s.customer),
        );
        f.eq(&format!("order {} total", s.id), o.total, s.total);
        f.eq(
            &format!("order {} store", s.id),
            o.store.as_deref(),
            s.store,
        );
        f.eq(&format!("order {} lines", s.id), o.lines.len(), s.lines);
        for (line, qty) in s.returned {
            f.eq(
                &format!("order {} line {line} returned", s.id),
                o.lines.get(*line).map(|l| l.returned),
                Some(*qty),
            );
        }
        records.push(o);
    }
    let mut returns = Vec::new();
    for (since, rid, order, net) in [
        (
            2,
            "018a6a4e-0000-7000-8000-0000000000e1",
            ORDER_IDS[0],
            3150,
        ),
        (
            13,
            "018a6a4e-0000-7000-8000-0000000000e2",
            ORDER_IDS[5],
            1000,
        ),
    ] {
        if since > v {
            continue;
        }
        if let Some(r) = f.ok("return", store.return_record(rid).await) {
            f.eq("return order", r.order_id.as_str(), order);
            f.eq("return net", r.net, net);
            f.eq("return lines", r.lines.len(), 1);
            returns.push(r);
        }
    }
    if v >= 2 {
        let jose = CustomerKey::Id(id(1));
        if let Some(a) = f.ok("activity", store.customer_history(&jose, now).await) {
            let debug = format!("{a:?}");
            for oid in &ORDER_IDS[..2] {
                if !debug.contains(oid) {
                    f.fail(format_args!("José's history lacks order {oid}"));
                }
            }
        }
    }

    // --- groups, types, members ------------------------------------------------
    let members = |gid: &str| -> BTreeSet<Uuid> {
        let mut m = BTreeSet::new();
        let want: &[(usize, &str, u32)] = &[
            (2, VIP, 1),
            (3, VIP, 5),
            (2, BIG_SPENDERS, 1),
            (10, BIG_SPENDERS, 8),
            (7, REGULARS, 1),
            (10, REGULARS, 8),
            (2, MEDICAL, 1),
            (2, RECREATIONAL, 2),
            (2, RECREATIONAL, 3),
            (2, RECREATIONAL, 4),
            (3, RECREATIONAL, 5),
            (8, RECREATIONAL, 6),
            (10, RECREATIONAL, 8),
            (11, RECREATIONAL, 9),
            (13, RECREATIONAL, 10),
            (14, RECREATIONAL, 11),
        ];
        for (since, g, seq) in want {
            // Customers written before schema 2 joined the system groups in
            // that migration; later ones were put there by the code.
            if *g == gid && (*since <= v || (*g == MEDICAL || *g == RECREATIONAL) && *seq <= 3) {
                m.insert(id(*seq));
            }
        }
        m
    };
    if let Some(groups) = f.ok("groups", store.groups(&GroupQuery::default()).await) {
        let mut names: Vec<&str> = groups.iter().map(|g| g.spec.name.as_str()).collect();
        names.sort_unstable();
        let mut want = vec!["Common", "Medical", "Recreational"];
        if v >= 2 {
            want.extend(["Big spenders", "VIP"]);
        }
        if v >= 7 {
            want.push("Regulars");
        }
        want.sort_unstable();
        f.eq("group names", names, want);
    }
    let mut gids = vec![MEDICAL, RECREATIONAL];
    if v >= 2 {
        gids.extend([VIP, BIG_SPENDERS]);
    }
    if v >= 7 {
        gids.push(REGULARS);
    }
    for gid in gids {
        let q = CustomerQuery {
            limit: 100,
            ..Default::default()
        };
        if let Some(page) = f.ok("group members", store.group_members(uuid(gid), &q).await) {
            let got: BTreeSet<Uuid> = page.items.iter().map(|c| c.id).collect();
            f.eq(&format!("members of group {gid}"), got, members(gid));
        }
    }
    if v >= 2 {
        if let Some(g) = f.ok("VIP", store.group(uuid(VIP)).await) {
            f.eq(
                "VIP program",
                matches!(g.spec.program, Program::Points { .. }),
                true,
            );
        }
        if let Some(g) = f.ok("Big spenders", store.group(uuid(BIG_SPENDERS)).await) {
            f.eq(
                "Big spenders rule",
                g.spec.rule.as_deref(),
                Some("total_spent >= 10000"),
            );
        }
        if let Some(types) = f.ok("types", store.customer_types().await) {
            f.eq(
                "customer types",
                types.iter().map(|t| t.id).collect::<Vec<_>>(),
                vec![uuid(VETERAN)],
            );
        }
        let q = CustomerQuery {
            customer_type: Some(uuid(VETERAN)),
            limit: 10,
            ..Default::default()
        };
        if let Some(page) = f.ok("by type", store.list_customers(&q).await) {
            f.eq(
                "veterans",
                page.items.iter().map(|c| c.id).collect::<Vec<_>>(),
                vec![id(1)],
            );
        }
    }

    // --- users, sessions, roles, stores, ops, security ---------------------------
    if let Some(users) = f.ok("users", store.users().await) {
        let mut got: Vec<(String, String, Option<String>)> = users
            .iter()
            .map(|u| {
                (
                    u.username.as_str().to_owned(),
                    u.role.name().to_owned(),
                    u.store.clone(),
                )
            })
            .collect();
        got.sort();
        let mut want = vec![
            ("admin".to_owned(), "admin".to_owned(), None),
            ("ana.cashier".to_owned(), "cashier".to_owned(), None),
        ];
        if v >= 3 {
            want.push(("bo.s01".into(), "cashier".into(), Some("S01".into())));
        }
        if v >= 6 {
            want.push(("kim".into(), "shift-lead".into(), Some("S01".into())));
        }
        want.sort();
        f.eq("users", got, want);
    }
    if v >= 6 {
        match f.ok("role", store.role("shift-lead").await) {
            Some(Some(r)) => f.eq(
                "shift-lead may refund",
                r.allows(patron_domain::Permission::OrdersRefund),
                true,
            ),
            Some(None) => f.fail("the role shift-lead is gone"),
            None => {}
        }
    }
    let admin = Username::parse("admin").unwrap();
    if let Some(cred) = f.ok("credentials", store.user_credentials(&admin).await) {
        f.eq(
            "admin's password hash kept",
            cred.map(|(_, h)| h.starts_with("$argon2id$")),
            Some(true),
        );
    }
    let session_time = datetime!(2023-06-01 12:00 UTC);
    if let Some(u) = f.ok(
        "session",
        store
            .session_user(
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                session_time,
            )
            .await,
    ) {
        f.eq(
            "session user",
            u.map(|u| u.username.as_str().to_owned()),
            Some("ana.cashier".to_owned()),
        );
    }
    if let Some(stores) = f.ok("stores", store.stores().await) {
        let got: Vec<(String, bool)> = stores
            .iter()
            .map(|s| (s.id.clone(), s.revoked_at.is_some()))
            .collect();
        let mut want = Vec::new();
        if v >= 3 {
            want.push(("S01".to_owned(), false));
        }
        if v >= 6 {
            want.push(("S02".to_owned(), true));
        }
        f.eq("stores", got, want);
    }
    if v >= 3 {
        let s01 = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
        if let Some(s) = f.ok("store for token", store.store_for_token(s01).await) {
            f.eq("S01's token", s.map(|s| s.id), Some("S01".to_owned()));
        }
    }
    if v >= 6 {
        let s02 = "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9";
        if let Some(s) = f.ok("store for token", store.store_for_token(s02).await) {
            f.eq("S02's revoked token", s.map(|s| s.id), None);
        }
    }
    if let Some(counts) = f.ok("refusal counts", store.refusal_counts().await) {
        let want = if v >= 5 {
            vec![("S01".to_owned(), 1)]
        } else {
            vec![]
        };
        f.eq("refusals", counts, want);
    }
    if let Some(events) = f.ok(
        "security events",
        store
            .security_events(&SecurityQuery {
                limit: 100,
                ..Default::default()
            })
            .await,
    ) {
        f.eq("security events", events.len(), if v >= 6 { 2 } else { 0 });
    }
    if let Some(r) = f.ok("receipts", store.receipt_outbox_status().await) {
        f.eq(
            "receipts (pending, sent)",
            (r.pending, r.sent),
            (0, u64::from(v >= 12)),
        );
    }

    // --- the replication feed holds everything (backfilled before schema 4) ----
    if let Some(page) = f.ok("feed", store.feed(0, 10_000).await) {
        let got: BTreeSet<(String, String)> = page
            .changes
            .iter()
            .map(|c| (c.kind.clone(), c.entity.clone()))
            .collect();
        let mut want: Vec<(&str, String)> = Vec::new();
        for p in &people {
            want.push(("customer", id(p.seq).to_string()));
        }
        for s in &sales {
            want.push(("order", s.id.to_owned()));
        }
        for e in &all_entries {
            want.push(("ledger", e.id.to_string()));
        }
        for r in &returns {
            want.push(("return", r.id.clone()));
        }
        if v >= 2 {
            want.push(("setting", "loyalty".into()));
            want.push(("group", VIP.into()));
            want.push(("group", BIG_SPENDERS.into()));
            want.push(("customer_type", VETERAN.into()));
            want.push(("membership", format!("{VIP}:{}", id(1))));
        }
        if v >= 3 {
            want.push(("membership", format!("{VIP}:{}", id(5))));
        }
        want.push(("setting", "phone_region".into()));
        want.push(("user", "admin".into()));
        want.push(("user", "ana.cashier".into()));
        if v >= 6 {
            want.push(("user", "kim".into()));
            want.push(("role", "shift-lead".into()));
        }
        if v >= 7 {
            want.push(("group", REGULARS.into()));
        }
        if v >= 9 {
            want.push(("merge", id(7).to_string()));
        }
        for (kind, entity) in want {
            if !got.contains(&(kind.to_owned(), entity.clone())) {
                f.fail(format_args!("the feed lacks {kind} {entity}"));
            }
        }
        if got.contains(&("setting".to_owned(), "code_next".to_owned())) {
            f.fail("the feed holds the node-local code counter");
        }
    }

    // --- reports: day totals equal the rows they count -----------------------------
    let mut want_sales: BTreeMap<(Date, String), (i64, i64, i64, i64)> = BTreeMap::new();
    for o in &records {
        let e = want_sales
            .entry((
                local_day(o.at, offset),
                o.store.clone().unwrap_or_else(|| "HQ".into()),
            ))
            .or_default();
        e.0 += 1;
        e.1 += o.total;
    }
    for r in &returns {
        let o = records.iter().find(|o| o.id == r.order_id);
        let e = want_sales
            .entry((
                local_day(r.at, offset),
                o.and_then(|o| o.store.clone())
                    .unwrap_or_else(|| "HQ".into()),
            ))
            .or_default();
        e.2 += 1;
        e.3 += r.net;
    }
    if let Some(days) = f.ok("sales report", store.report_sales(&WHOLE_RANGE).await) {
        let got: BTreeMap<(Date, String), (i64, i64, i64, i64)> = days
            .iter()
            .map(|d| {
                (
                    (d.day.unwrap_or(Date::MIN), d.store.clone()),
                    (d.orders, d.total, d.returns, d.returned_net),
                )
            })
            .collect();
        f.eq(
            "sales report (orders, total, returns, net)",
            got,
            want_sales,
        );
    }
    let mut want_ledger: BTreeMap<(Date, String, &str, &str), (i64, i64)> = BTreeMap::new();
    for e in &all_entries {
        let w = want_ledger
            .entry((
                local_day(e.at, offset),
                e.store.clone().unwrap_or_else(|| "HQ".into()),
                e.account.as_str(),
                e.kind.as_str(),
            ))
            .or_default();
        w.0 += 1;
        w.1 += e.amount;
    }
    if let Some(days) = f.ok("ledger report", store.report_ledger(&WHOLE_RANGE).await) {
        let got: BTreeMap<_, _> = days
            .iter()
            .map(|d| {
                (
                    (d.day, d.store.clone(), d.account.as_str(), d.kind.as_str()),
                    (d.entries, d.amount),
                )
            })
            .collect();
        f.eq("ledger report", got, want_ledger);
    }
    let mut want_signups: BTreeMap<(Date, String), i64> = BTreeMap::new();
    for p in &people {
        if let Ok(c) = store.customer(&CustomerKey::Id(id(p.seq))).await {
            // A merged record's key finds the survivor: count the record itself.
            let created = if p.merged.is_some() {
                datetime!(2024-06-11 18:00 UTC)
            } else {
                c.created_at
            };
            *want_signups
                .entry((
                    local_day(created, offset),
                    p.origin.unwrap_or("HQ").to_owned(),
                ))
                .or_default() += 1;
        }
    }
    if let Some(days) = f.ok("signups report", store.report_signups(&WHOLE_RANGE).await) {
        let got: BTreeMap<(Date, String), i64> = days
            .iter()
            .map(|d| ((d.day, d.store.clone()), d.created))
            .collect();
        f.eq("signups report", got, want_signups);
    }
    if let Some(sizes) = f.ok(
        "group sizes report",
        store.report_group_sizes(&WHOLE_RANGE).await,
    ) {
        let got: Vec<(Date, Uuid, i64)> = sizes
            .iter()
            .map(|s| (s.day, s.group_id, s.members))
            .collect();
        let want = if v >= 13 {
            vec![(date!(2024 - 12 - 03), uuid(VIP), 2)]
        } else {
            vec![]
        };
        f.eq("group sizes", got, want);
    }
}

/// The file itself is sound.
fn check_file(path: &std::path::Path, f: &mut Findings) {
    let c = rusqlite::Connection::open(path).unwrap();
    let integrity: Vec<String> = c
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    f.eq("integrity_check", integrity, vec!["ok".to_owned()]);
    let fk: Vec<(String, i64, String)> = c
        .prepare("PRAGMA foreign_key_check")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    f.eq("foreign_key_check", fk, vec![]);
    let version: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    f.eq("user_version", version as usize, LATEST);
}

/// The upgraded node takes new work: a sign-up and a sale.
async fn check_writes(store: &SqliteStorage, v: usize, f: &mut Findings) {
    let actor = Actor::new("admin");
    let new = NewCustomer {
        data: draft(&[
            (Field::FirstName, "Noémie"),
            (Field::LastName, "Ålander"),
            (Field::Email, "noemie@example.com"),
            (Field::Phone, "212 555 0142"),
            (Field::DateOfBirth, "1993-04-05"),
        ]),
        origin_store: None,
    };
    let Some(c) = f.ok(
        "create a customer",
        store.create_customer(&actor, new).await,
    ) else {
        return;
    };
    // Codes carry on from the counter the old build left.
    let next = match v {
        1 => "CUST-00004",
        2 => "CUST-00005",
        3..=7 => "CUST-00106",
        8 | 9 => "CUST-00107",
        10 => "CUST-00108",
        11 | 12 => "CUST-00109",
        13 => "CUST-00110",
        _ => "CUST-00111",
    };
    f.eq("new customer's code", c.code.as_str(), next);
    f.eq(
        "new customer's phone display",
        c.data.phone.as_ref().map(|p| p.display().to_owned()),
        Some("(212) 555-0142".to_owned()),
    );
    let order = OrderRequest {
        id: Uuid::now_v7().to_string(),
        checkout: CheckoutRequest {
            customer: CustomerKey::Id(id(1)),
            lines: vec![CartLine {
                sku: "SKU-100".into(),
                name: "Blue Dream 3.5g".into(),
                category: "flower".into(),
                quantity: 1000,
                unit: "each".into(),
                unit_price: 4500,
            }],
            redeem_points: 0,
            redeem_credit: 0,
            store: None,
        },
        override_limits: true,
        fingerprint: "after-upgrade".into(),
        from_store: None,
        placed_at: None,
    };
    let before = store
        .report_sales(&WHOLE_RANGE)
        .await
        .map(|d| d.iter().map(|d| d.orders).sum::<i64>())
        .unwrap_or(-1);
    if let Some((o, _)) = f.ok(
        "record a sale",
        store
            .commit_order(&actor, order, OffsetDateTime::now_utc())
            .await,
    ) {
        f.eq("the sale's customer", o.customer_id, id(1));
        let after = store
            .report_sales(&WHOLE_RANGE)
            .await
            .map(|d| d.iter().map(|d| d.orders).sum::<i64>())
            .unwrap_or(-1);
        f.eq("orders counted after the sale", after, before + 1);
        if let Some(page) = f.ok("feed", store.feed(0, 10_000).await)
            && !page
                .changes
                .iter()
                .any(|ch| ch.kind == "order" && ch.entity == o.id)
        {
            f.fail("the new sale is not in the feed");
        }
    }
    if let Some(page) = f.ok("search", store.list_customers(&search("alander")).await)
        && !page.items.iter().any(|x| x.id == c.id)
    {
        f.fail("the new customer is not found by search");
    }
}

#[tokio::test]
async fn every_schema_version_upgrades_with_its_data() {
    assert_eq!(
        LATEST,
        FIXTURES.len(),
        "the build has schema {LATEST}, this test knows {}: add a fixture/check for schema {} \
         (tests/fixtures/schema/{:04}.sql, or None in FIXTURES if it writes no rows) and \
         extend the checks for what it changed",
        FIXTURES.len(),
        FIXTURES.len() + 1,
        FIXTURES.len() + 1,
    );
    let mut problems = Vec::new();
    for v in 1..=LATEST {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        let mut f = Findings {
            from: v,
            problems: Vec::new(),
        };
        if let Err(e) = create_at(&path, v, seed) {
            problems.push(format!("from schema {v}: making the database: {e}"));
            continue;
        }
        let store = match SqliteStorage::open(dir.path()) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("from schema {v}: upgrade failed: {e}"));
                continue;
            }
        };
        check(&store, v, &mut f).await;
        check_file(&path, &mut f);
        check_writes(&store, v, &mut f).await;
        check_file(&path, &mut f);
        problems.extend(f.problems);
    }
    assert!(
        problems.is_empty(),
        "{} problem(s) after upgrading:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
