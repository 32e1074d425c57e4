//! The ledger, checkout (quote, commit, return) and scheduled loyalty work.
//! Everything that moves value happens inside one writer transaction, with the
//! domain's pure functions deciding the amounts.

use crate::groups::{customer_groups, refresh_customer};
use crate::loyalty::{customer_type, limit_profile, load_settings};
use crate::{customers, db_err, from_micros, invalid, micros};
use patron_domain::loyalty::{
    Account, Bought, CartLine, Entry, EntryKind, LoyaltySettings, OrderMoney, Period, QuoteInput,
    RedeemedSoFar, SoldLine, TypeTerms, age_on, quote, summarize,
};
use patron_storage::{
    Actor, Balance, Balances, CheckoutRequest, CustomerActivity, CustomerKey, CustomerStats,
    LedgerEntry, MaintenanceReport, ManualEntry, OrderLineRecord, OrderRecord, OrderRequest,
    QuoteOutcome, Result, ReturnRecord, ReturnRequest, StorageError, TopProduct,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;
use time::{Date, Duration, OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// The node's local date, for birthdays, periods and rules.
pub fn local_today(s: &LoyaltySettings, now: OffsetDateTime) -> Date {
    let offset = UtcOffset::from_whole_seconds(s.utc_offset_minutes.saturating_mul(60))
        .unwrap_or(UtcOffset::UTC);
    now.to_offset(offset).date()
}

/// The instant a local date starts.
fn local_midnight(s: &LoyaltySettings, d: Date) -> OffsetDateTime {
    d.midnight().assume_utc() - Duration::minutes(i64::from(s.utc_offset_minutes))
}

fn date_text(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

// --- ledger ---------------------------------------------------------------------

fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<(LedgerEntry, Option<i64>)> {
    let account: String = r.get(2)?;
    let kind: String = r.get(3)?;
    let id: String = r.get(0)?;
    Ok((
        LedgerEntry {
            id: Uuid::parse_str(&id).unwrap_or(Uuid::nil()),
            seq: r.get(1)?,
            account: Account::parse(&account).unwrap_or(Account::Points),
            kind: EntryKind::parse(&kind).unwrap_or(EntryKind::Adjust),
            amount: r.get(4)?,
            at: from_micros(r.get(5)?),
            order_id: r.get(6)?,
            store: r.get(7)?,
            actor: r.get(8)?,
            reason: r.get(9)?,
            available_at: r.get::<_, Option<i64>>(10)?.map(from_micros),
            expires_at: r.get::<_, Option<i64>>(11)?.map(from_micros),
        },
        r.get(12)?,
    ))
}

const ENTRY_COLUMNS: &str = "id, seq, account, kind, amount, at, order_id, store, actor, reason, available_at, expires_at, lot_seq";

fn entries(
    c: &Connection,
    seq: i64,
    account: Option<Account>,
) -> Result<Vec<(LedgerEntry, Option<i64>)>> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM ledger WHERE customer_seq = ?1 AND (?2 IS NULL OR account = ?2) ORDER BY seq"
        ))
        .map_err(db_err)?;
    st.query_map(params![seq, account.map(Account::as_str)], row_to_entry)
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)
}

pub fn ledger(
    c: &Connection,
    key: &CustomerKey,
    account: Option<Account>,
) -> Result<Vec<LedgerEntry>> {
    let seq = customers::seq_of(c, key)?;
    Ok(entries(c, seq, account)?
        .into_iter()
        .map(|(e, _)| e)
        .collect())
}

fn domain_entries(es: &[(LedgerEntry, Option<i64>)]) -> Vec<Entry> {
    es.iter()
        .map(|(e, lot)| Entry {
            seq: e.seq,
            kind: e.kind,
            amount: e.amount,
            at: e.at,
            available_at: e.available_at,
            expires_at: e.expires_at,
            lot: *lot,
        })
        .collect()
}

fn balance(
    c: &Connection,
    seq: i64,
    account: Account,
    now: OffsetDateTime,
) -> Result<(Balance, Vec<(i64, i64)>)> {
    let es = entries(c, seq, Some(account))?;
    let s = summarize(&domain_entries(&es), now);
    Ok((
        Balance {
            balance: s.balance,
            available: s.available.min(s.balance.max(0)),
            locked: s.locked,
            next_expiry: s.next_expiry,
        },
        s.expired_pending,
    ))
}

pub fn balances_of(c: &Connection, seq: i64, now: OffsetDateTime) -> Result<Balances> {
    Ok(Balances {
        points: balance(c, seq, Account::Points, now)?.0,
        credit: balance(c, seq, Account::Credit, now)?.0,
    })
}

pub fn balances(c: &Connection, key: &CustomerKey, now: OffsetDateTime) -> Result<Balances> {
    balances_of(c, customers::seq_of(c, key)?, now)
}

/// A new ledger entry. Returns `None` when `once_key` was already used.
struct NewEntry<'a> {
    /// Chosen by the caller when HQ already recorded this entry (an online
    /// store's authorised redemption); a fresh id otherwise.
    id: Option<Uuid>,
    seq: i64,
    account: Account,
    kind: EntryKind,
    amount: i64,
    at: OffsetDateTime,
    order_id: Option<&'a str>,
    store: Option<&'a str>,
    actor: &'a str,
    reason: Option<String>,
    available_at: Option<OffsetDateTime>,
    expires_at: Option<OffsetDateTime>,
    lot: Option<i64>,
    once_key: Option<String>,
}

fn append(c: &Connection, e: NewEntry<'_>) -> Result<Option<i64>> {
    if e.amount == 0 {
        return Ok(None);
    }
    // A once-only entry's id follows from its key, so the same bonus computed
    // at a store and at HQ is one entry everywhere.
    let chosen =
        e.id.or_else(|| e.once_key.as_deref().map(patron_storage::ops::derived_id));
    let id = chosen.unwrap_or_else(Uuid::now_v7).to_string();
    // A chosen id may already be here (HQ's copy of an authorised redemption
    // arrived first, a bonus replicated); a fresh one cannot be.
    if chosen.is_some() {
        let exists: Option<i64> = c
            .prepare_cached("SELECT seq FROM ledger WHERE id = ?1")
            .map_err(db_err)?
            .query_row([&id], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        if exists.is_some() {
            return Ok(None);
        }
    }
    let node = crate::sync::node(c)?;
    // Every entry written at a store carries the store: sync credentials can
    // only ever write as their own store.
    let store = node
        .store()
        .map(str::to_owned)
        .or(e.store.map(str::to_owned));
    let hlc = crate::sync::stamp(c)?.to_string();
    let n = c
        .prepare_cached(
            "INSERT INTO ledger (id, customer_seq, account, kind, amount, at, order_id, store, actor,
                reason, available_at, expires_at, lot_seq, once_key, hlc, provisional)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
             ON CONFLICT (once_key) DO NOTHING",
        )
        .map_err(db_err)?
        .execute(params![
            id,
            e.seq,
            e.account.as_str(),
            e.kind.as_str(),
            e.amount,
            micros(e.at),
            e.order_id,
            store,
            e.actor,
            e.reason,
            e.available_at.map(micros),
            e.expires_at.map(micros),
            e.lot,
            e.once_key,
            hlc,
            // A store's own entries stand until HQ's record of them arrives.
            node.role == patron_storage::NodeRole::Store,
        ])
        .map_err(db_err)?;
    if n == 0 {
        return Ok(None);
    }
    let seq = c.last_insert_rowid();
    crate::sync::mark(c, "ledger", &id)?;
    if e.account == Account::Points {
        c.prepare_cached(
            "UPDATE customers SET points_balance = points_balance + ?1 WHERE seq = ?2",
        )
        .map_err(db_err)?
        .execute(params![e.amount, e.seq])
        .map_err(db_err)?;
    }
    Ok(Some(seq))
}

/// One column (`seq`, `amount`) of the ledger entry `id`, if it is here.
fn entry_column<T: rusqlite::types::FromSql>(
    c: &Connection,
    column: &str,
    id: Uuid,
) -> Result<Option<T>> {
    c.prepare_cached(&format!("SELECT {column} FROM ledger WHERE id = ?1"))
        .map_err(db_err)?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()
        .map_err(db_err)
}

fn entry_by_seq(c: &Connection, seq: i64) -> Result<LedgerEntry> {
    c.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger WHERE seq = ?1"
    ))
    .map_err(db_err)?
    .query_row([seq], row_to_entry)
    .map(|(e, _)| e)
    .map_err(db_err)
}

pub fn post_entry(
    c: &Connection,
    actor: &Actor,
    key: &CustomerKey,
    m: ManualEntry,
    now: OffsetDateTime,
) -> Result<LedgerEntry> {
    let seq = customers::seq_of(c, key)?;
    post_entry_as(c, actor, seq, m, None, None, now)
}

/// A manual entry under a chosen id (a store's, re-applied at HQ) and store.
pub fn post_entry_as(
    c: &Connection,
    actor: &Actor,
    seq: i64,
    m: ManualEntry,
    id: Option<Uuid>,
    store: Option<&str>,
    now: OffsetDateTime,
) -> Result<LedgerEntry> {
    let s = load_settings(c)?;
    if let Some(id) = id
        && let Some(found) = entry_column::<i64>(c, "seq", id)?
    {
        return entry_by_seq(c, found);
    }
    if let Some(k) = &m.idempotency_key {
        let found: Option<i64> = c
            .query_row(
                "SELECT seq FROM ledger WHERE once_key = ?1",
                [format!("manual:{k}")],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        if let Some(found) = found {
            return entry_by_seq(c, found);
        }
    }
    // A store's top-ups, made there or re-applied at HQ, count against its
    // daily cap the same way in both places.
    let at_store = crate::sync::node(c)?
        .store()
        .map(str::to_owned)
        .or(store.map(str::to_owned));
    if m.kind == EntryKind::TopUp
        && let Some(at_store) = &at_store
    {
        let today: i64 = c
            .prepare_cached(
                "SELECT coalesce(sum(amount), 0) FROM ledger
                 WHERE kind = 'top-up' AND store = ?1 AND at >= ?2",
            )
            .map_err(db_err)?
            .query_row(params![at_store, micros(now - Duration::days(1))], |r| {
                r.get(0)
            })
            .map_err(db_err)?;
        patron_core::topup_within_cap(today, m.amount, s.store_topup_daily_cap)
            .map_err(StorageError::Invalid)?;
    }
    let (available, _) = balance(c, seq, m.account, now)?;
    let plan = patron_core::plan_manual_entry(&m, available.available, store.is_some(), &s, now)
        .map_err(StorageError::Invalid)?;
    let at = append(
        c,
        NewEntry {
            id,
            once_key: m.idempotency_key.map(|k| format!("manual:{k}")),
            ..planned(&plan, seq, now, None, store, &actor.username)
        },
    )?
    .ok_or_else(|| StorageError::Backend("ledger entry not written".into()))?;
    if let Some(store) = store
        && m.amount < 0
    {
        let (b, _) = balance(c, seq, m.account, now)?;
        if b.balance < 0 {
            let id = entry_by_seq(c, at)?.id;
            record_overdraft(
                c,
                seq,
                m.account,
                b.balance,
                &id,
                store,
                now,
                &format!("balance {} after an adjustment made at {store}", b.balance),
            )?;
        }
    }
    refresh_customer(c, seq, local_today(&s, now))?;
    entry_by_seq(c, at)
}

/// Registration bonus on sign-up, once per customer; auto groups.
pub fn after_create(c: &Connection, seq: i64, actor: &Actor, now: OffsetDateTime) -> Result<()> {
    let s = load_settings(c)?;
    refresh_customer(c, seq, local_today(&s, now))?;
    let terms: Vec<_> = customer_groups(c, seq)?
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let id = Uuid::parse_str(&crate::sync::customer_id_of(c, seq)?)
        .map_err(|e| StorageError::Backend(e.to_string()))?;
    if let Some(e) = patron_core::plan_registration(id, &terms, &s, now) {
        append(c, planned(&e, seq, now, None, None, &actor.username))?;
        refresh_customer(c, seq, local_today(&s, now))?;
    }
    Ok(())
}

// --- checkout -------------------------------------------------------------------

struct Context {
    seq: i64,
    id: Uuid,
    settings: LoyaltySettings,
    today: Date,
    groups: Vec<(Uuid, String)>,
    terms: Vec<patron_domain::loyalty::GroupTerms>,
    customer_type: Option<TypeTerms>,
    age: Option<u32>,
    balances: Balances,
    redeemed: RedeemedSoFar,
    limits: Vec<(patron_domain::loyalty::PurchaseLimit, Vec<Bought>)>,
}

fn context(c: &Connection, key: &CustomerKey, now: OffsetDateTime) -> Result<Context> {
    context_for(c, key, now, false)
}

/// `replay`: a sale a store already made; a customer deactivated at HQ since
/// still gets it recorded.
fn context_for(
    c: &Connection,
    key: &CustomerKey,
    now: OffsetDateTime,
    replay: bool,
) -> Result<Context> {
    let seq = customers::seq_of(c, key).map_err(|e| match e {
        StorageError::NotFound => invalid("customer", "no such customer"),
        e => e,
    })?;
    let customer = customers::by_seq(c, seq)?;
    if !customer.active && !replay {
        return Err(invalid("customer", "the customer is deactivated"));
    }
    let settings = load_settings(c)?;
    let today = local_today(&settings, now);
    let gs = customer_groups(c, seq)?;
    let type_id: Option<String> = c
        .query_row("SELECT type_id FROM customers WHERE seq = ?1", [seq], |r| {
            r.get(0)
        })
        .map_err(db_err)?;
    let customer_type = match type_id {
        Some(t) => customer_type(c, &t)?.map(|t| TypeTerms {
            id: t.id.to_string(),
            name: t.spec.name,
            tax_exempt: t.spec.tax_exempt,
            discount: t.spec.discount,
        }),
        None => None,
    };
    let mut redeemed = RedeemedSoFar::default();
    for p in [Period::Day, Period::Week, Period::Month, Period::Year] {
        let since = local_midnight(&settings, p.start(today));
        let n: i64 = c
            .prepare_cached(
                "SELECT coalesce(-sum(amount), 0) FROM ledger
                 WHERE customer_seq = ?1 AND account = 'points' AND kind = 'redeem' AND at >= ?2",
            )
            .map_err(db_err)?
            .query_row(params![seq, micros(since)], |r| r.get(0))
            .map_err(db_err)?;
        match p {
            Period::Day => redeemed.day = n,
            Period::Week => redeemed.week = n,
            Period::Month => redeemed.month = n,
            Period::Year => redeemed.year = n,
        }
    }
    let mut limits = Vec::new();
    for (g, _) in &gs {
        let Some(pid) = g.spec.limit_profile else {
            continue;
        };
        let Some(profile) = limit_profile(c, &pid.to_string())? else {
            continue;
        };
        for l in profile.limits {
            let since = local_midnight(&settings, l.period.start(today));
            let mut st = c
                .prepare_cached(
                    "SELECT l.category, l.unit, sum(l.quantity - l.returned) FROM order_lines l
                     JOIN orders o ON o.seq = l.order_seq
                     WHERE o.customer_seq = ?1 AND o.at >= ?2 GROUP BY l.category, l.unit",
                )
                .map_err(db_err)?;
            let bought = st
                .query_map(params![seq, micros(since)], |r| {
                    Ok(Bought {
                        category: r.get(0)?,
                        unit: r.get(1)?,
                        quantity: r.get(2)?,
                    })
                })
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db_err)?;
            limits.push((l, bought));
        }
    }
    Ok(Context {
        seq,
        id: customer.id,
        today,
        groups: gs
            .iter()
            .map(|(g, _)| (g.id, g.spec.name.clone()))
            .collect(),
        terms: gs.into_iter().map(|(_, t)| t).collect(),
        customer_type,
        age: customer.data.date_of_birth.and_then(|d| age_on(d, today)),
        balances: balances_of(c, seq, now)?,
        redeemed,
        limits,
        settings,
    })
}

fn run_quote(
    ctx: &Context,
    req: &CheckoutRequest,
    already_made: bool,
) -> patron_domain::loyalty::Quote {
    quote(&QuoteInput {
        lines: &req.lines,
        groups: &ctx.terms,
        customer_type: ctx.customer_type.as_ref(),
        age: ctx.age,
        points_available: ctx.balances.points.available,
        credit_available: ctx.balances.credit.available,
        redeemed: ctx.redeemed,
        limits: &ctx.limits,
        settings: &ctx.settings,
        redeem_points: req.redeem_points,
        redeem_credit: req.redeem_credit,
        already_made,
    })
}

pub fn quote_for(
    c: &Connection,
    req: &CheckoutRequest,
    now: OffsetDateTime,
) -> Result<QuoteOutcome> {
    let ctx = context(c, &req.customer, now)?;
    let quote = run_quote(&ctx, req, false);
    Ok(QuoteOutcome {
        customer_id: ctx.id,
        quote,
        balances: ctx.balances,
        groups: ctx.groups,
    })
}

pub fn commit(
    c: &Connection,
    actor: &Actor,
    o: OrderRequest,
    now: OffsetDateTime,
) -> Result<(OrderRecord, bool)> {
    let existing: Option<String> = c
        .prepare_cached("SELECT fingerprint FROM orders WHERE id = ?1")
        .map_err(db_err)?
        .query_row([&o.id], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    if let Some(fp) = existing {
        if fp == o.fingerprint {
            return Ok((order(c, &o.id)?, true));
        }
        return Err(StorageError::Conflict {
            field: "id".into(),
            message: "an order with this id was already committed with different contents".into(),
        });
    }
    let req = &o.checkout;
    let replay = o.from_store.is_some();
    let ctx = context_for(c, &req.customer, now, replay)?;
    // HQ's authorisation of this very sale may already be here (at HQ, or its
    // copy at the store): the plan counts it as this sale's own.
    let mut authorised = [None, None];
    for (slot, account) in authorised
        .iter_mut()
        .zip([Account::Points, Account::Credit])
    {
        let id = patron_storage::ops::redemption_id(&o.id, account.as_str());
        if let Some(amount) = entry_column::<i64>(c, "amount", id)? {
            *slot = Some(patron_core::Authorisation {
                amount,
                released: released(c, id)?,
            });
        }
    }
    let plan = patron_core::plan_order(
        &o,
        &patron_core::OrderFacts {
            groups: &ctx.terms,
            customer_type: ctx.customer_type.as_ref(),
            age: ctx.age,
            balances: ctx.balances.clone(),
            redeemed: ctx.redeemed,
            limits: &ctx.limits,
            settings: &ctx.settings,
            authorised,
            lifetime_spent: c
                .prepare_cached("SELECT total_spent FROM customers WHERE seq = ?1")
                .map_err(db_err)?
                .query_row([ctx.seq], |r| r.get(0))
                .map_err(db_err)?,
        },
        now,
    )
    .map_err(StorageError::Invalid)?;
    let q = &plan.quote;
    let node = crate::sync::node(c)?;
    let order_store = node
        .store()
        .map(str::to_owned)
        .or(o.from_store.clone())
        .or(req.store.clone());
    let hlc = crate::sync::stamp(c)?.to_string();
    let discounts: Vec<String> = q.discounts.iter().map(|d| d.reason.clone()).collect();
    c.prepare_cached(
        "INSERT INTO orders (id, customer_seq, fingerprint, at, store, actor, subtotal, discount, total,
            points_redeemed, credit_redeemed, earned, tax_exempt, discounts, overrides, hlc, provisional)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )
    .map_err(db_err)?
    .execute(params![
        o.id,
        ctx.seq,
        o.fingerprint,
        micros(now),
        order_store,
        actor.username,
        q.subtotal,
        q.discount_total,
        q.total,
        q.points_redeemed,
        q.credit_redeemed,
        q.earn,
        q.tax_exempt,
        json!(discounts).to_string(),
        json!(plan.overrides).to_string(),
        hlc,
        node.role == patron_storage::NodeRole::Store,
    ])
    .map_err(db_err)?;
    let order_seq = c.last_insert_rowid();
    crate::sync::mark(c, "order", &o.id)?;
    for (i, (l, net)) in req.lines.iter().zip(&q.line_net).enumerate() {
        c.prepare_cached(
            "INSERT INTO order_lines (order_seq, line_no, sku, name, category, quantity, unit, unit_price, total, net)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(db_err)?
        .execute(params![order_seq, i as i64, l.sku, l.name, l.category, l.quantity, l.unit, l.unit_price, l.total(), net])
        .map_err(db_err)?;
    }
    for e in &plan.entries {
        let written = append(
            c,
            planned(
                e,
                ctx.seq,
                now,
                Some(o.id.as_str()),
                order_store.as_deref(),
                &actor.username,
            ),
        )?;
        if let (true, Some(_), Some(store), Some(id)) =
            (e.unauthorised, written, &o.from_store, e.id)
        {
            check_unauthorised(c, ctx.seq, e.account, -e.amount, store, &id, now)?;
        }
    }
    c.prepare_cached(
        "UPDATE customers SET total_spent = total_spent + ?1, visits = visits + 1, last_visit = ?2 WHERE seq = ?3",
    )
    .map_err(db_err)?
    .execute(params![q.total, date_text(ctx.today), ctx.seq])
    .map_err(db_err)?;
    if !plan.overrides.is_empty() {
        c.execute(
            "INSERT INTO customer_audit (customer_seq, at, actor, action, field, old_value, new_value)
             VALUES (?1, ?2, ?3, 'limit-override', 'order', ?4, ?5)",
            params![ctx.seq, micros(now), actor.username, o.id, plan.overrides.join("; ")],
        )
        .map_err(db_err)?;
    }
    apply_transition(c, ctx.seq, &ctx.settings)?;
    refresh_customer(c, ctx.seq, ctx.today)?;
    Ok((order(c, &o.id)?, false))
}

/// A planned entry as this backend writes it.
fn planned<'a>(
    e: &patron_core::PlannedEntry,
    seq: i64,
    at: OffsetDateTime,
    order_id: Option<&'a str>,
    store: Option<&'a str>,
    actor: &'a str,
) -> NewEntry<'a> {
    NewEntry {
        id: e.id,
        seq,
        account: e.account,
        kind: e.kind,
        amount: e.amount,
        at,
        order_id,
        store,
        actor,
        reason: e.reason.clone(),
        available_at: e.available_at,
        expires_at: e.expires_at,
        lot: None,
        once_key: e.once_key.clone(),
    }
}

/// Whether an authorised redemption was given back (its sale seemed lost).
fn released(c: &Connection, id: Uuid) -> Result<bool> {
    let key = format!("release:{id}");
    Ok(c.prepare_cached("SELECT 1 FROM ledger WHERE once_key = ?1")
        .map_err(db_err)?
        .query_row([key], |r| r.get::<_, i64>(0))
        .optional()
        .map_err(db_err)?
        .is_some())
}

/// HQ, re-applying a store's sale whose redemption HQ did not authorise (the
/// store was offline): within the store's offline cap it simply counts;
/// beyond the cap, or when HQ's balance does not cover it, it is recorded as
/// an overdraft with the reason, never hidden.
fn check_unauthorised(
    c: &Connection,
    seq: i64,
    account: Account,
    amount: i64,
    store: &str,
    entry: &Uuid,
    now: OffsetDateTime,
) -> Result<()> {
    if amount <= 0 {
        return Ok(());
    }
    let s = load_settings(c)?;
    // What this store redeemed for the customer without HQ in the last day,
    // this entry included.
    let unauthorised: i64 = c
        .prepare_cached(
            "SELECT coalesce(-sum(amount), 0) FROM ledger
             WHERE customer_seq = ?1 AND kind = 'redeem' AND store = ?2 AND at >= ?3
               AND coalesce(reason, '') <> 'authorised at HQ'",
        )
        .map_err(db_err)?
        .query_row(params![seq, store, micros(now - Duration::days(1))], |r| {
            r.get(0)
        })
        .map_err(db_err)?;
    let (b, _) = balance(c, seq, account, now)?;
    let reason = patron_core::overdraft_reason(b.balance, unauthorised, s.offline_redeem_cap);
    if let Some(reason) = reason {
        record_overdraft(c, seq, account, b.balance, entry, store, now, &reason)?;
    }
    Ok(())
}

/// Keeps an overdraft on HQ's report, once per entry that caused it.
#[allow(clippy::too_many_arguments)]
fn record_overdraft(
    c: &Connection,
    seq: i64,
    account: Account,
    balance: i64,
    entry: &Uuid,
    store: &str,
    now: OffsetDateTime,
    reason: &str,
) -> Result<()> {
    c.prepare_cached(
        "INSERT OR IGNORE INTO overdrafts (customer_seq, account, balance, entry_id, store, detected_at, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .map_err(db_err)?
    .execute(params![
        seq,
        account.as_str(),
        balance,
        entry.to_string(),
        store,
        micros(now),
        reason
    ])
    .map_err(db_err)?;
    tracing::warn!(store, account = account.as_str(), balance, %reason, "overdraft after sync");
    Ok(())
}

/// Moves a customer up to the transition group their total now reaches.
fn apply_transition(c: &Connection, seq: i64, s: &LoyaltySettings) -> Result<()> {
    if !s.transitions_enabled {
        return Ok(());
    }
    let total: i64 = c
        .query_row(
            "SELECT total_spent FROM customers WHERE seq = ?1",
            [seq],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let mut member = std::collections::HashSet::new();
    for t in &s.transitions {
        let found: Option<i64> = c
            .prepare_cached("SELECT 1 FROM group_members WHERE group_id = ?1 AND customer_seq = ?2")
            .map_err(db_err)?
            .query_row(params![t.group_id, seq], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        if found.is_some() {
            member.insert(t.group_id.clone());
        }
    }
    let Some(plan) = patron_core::plan_transition(total, s, |g| member.contains(g)) else {
        return Ok(());
    };
    for g in plan.leave.iter().filter(|g| member.contains(*g)) {
        c.execute(
            "DELETE FROM group_members WHERE group_id = ?1 AND customer_seq = ?2",
            params![g, seq],
        )
        .map_err(db_err)?;
        crate::sync::membership_changed(c, g, seq, false)?;
    }
    let added = c
        .execute(
            "INSERT OR IGNORE INTO group_members (group_id, customer_seq) SELECT id, ?2 FROM groups WHERE id = ?1",
            params![plan.join, seq],
        )
        .map_err(db_err)?;
    if added > 0 {
        crate::sync::membership_changed(c, &plan.join, seq, true)?;
    }
    Ok(())
}

fn json_strings(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

pub fn order(c: &Connection, id: &str) -> Result<OrderRecord> {
    let (seq, mut rec) = c
        .prepare_cached(
            "SELECT o.seq, o.id, c.id, o.store, o.actor, o.at, o.subtotal, o.discount, o.total,
                    o.points_redeemed, o.credit_redeemed, o.earned, o.tax_exempt, o.discounts, o.overrides
             FROM orders o JOIN customers c ON c.seq = o.customer_seq WHERE o.id = ?1",
        )
        .map_err(db_err)?
        .query_row([id], |r| {
            let cid: String = r.get(2)?;
            let total: i64 = r.get(8)?;
            let points: i64 = r.get(9)?;
            let credit: i64 = r.get(10)?;
            Ok((
                r.get::<_, i64>(0)?,
                OrderRecord {
                    id: r.get(1)?,
                    customer_id: Uuid::parse_str(&cid).unwrap_or(Uuid::nil()),
                    store: r.get(3)?,
                    actor: r.get(4)?,
                    at: from_micros(r.get(5)?),
                    lines: Vec::new(),
                    subtotal: r.get(6)?,
                    discount: r.get(7)?,
                    total,
                    points_redeemed: points,
                    credit_redeemed: credit,
                    amount_paid: total - points - credit,
                    earned: r.get(11)?,
                    tax_exempt: r.get(12)?,
                    discounts: json_strings(&r.get::<_, String>(13)?),
                    overrides: json_strings(&r.get::<_, String>(14)?),
                },
            ))
        })
        .optional()
        .map_err(db_err)?
        .ok_or(StorageError::NotFound)?;
    let mut st = c
        .prepare_cached(
            "SELECT sku, name, category, quantity, unit, unit_price, total, net, returned
             FROM order_lines WHERE order_seq = ?1 ORDER BY line_no",
        )
        .map_err(db_err)?;
    rec.lines = st
        .query_map([seq], |r| {
            Ok(OrderLineRecord {
                line: CartLine {
                    sku: r.get(0)?,
                    name: r.get(1)?,
                    category: r.get(2)?,
                    quantity: r.get(3)?,
                    unit: r.get(4)?,
                    unit_price: r.get(5)?,
                },
                total: r.get(6)?,
                net: r.get(7)?,
                returned: r.get(8)?,
            })
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    Ok(rec)
}

pub fn return_record(c: &Connection, id: &str) -> Result<ReturnRecord> {
    c.prepare_cached(
        "SELECT r.id, o.id, r.at, r.actor, r.lines, r.net, r.points_refund, r.credit_refund,
                r.money_refund, r.earned_reversal, r.unrecovered_points
         FROM returns r JOIN orders o ON o.seq = r.order_seq WHERE r.id = ?1",
    )
    .map_err(db_err)?
    .query_row([id], |r| {
        let lines: String = r.get(4)?;
        Ok(ReturnRecord {
            id: r.get(0)?,
            order_id: r.get(1)?,
            at: from_micros(r.get(2)?),
            actor: r.get(3)?,
            lines: serde_json::from_str(&lines).unwrap_or_default(),
            net: r.get(5)?,
            points_refund: r.get(6)?,
            credit_refund: r.get(7)?,
            money_refund: r.get(8)?,
            earned_reversal: r.get(9)?,
            unrecovered_points: r.get(10)?,
        })
    })
    .optional()
    .map_err(db_err)?
    .ok_or(StorageError::NotFound)
}

pub fn return_order(
    c: &Connection,
    actor: &Actor,
    req: ReturnRequest,
    now: OffsetDateTime,
) -> Result<(ReturnRecord, bool)> {
    return_order_as(c, actor, req, None, now)
}

/// A return, possibly made at `from_store` and re-applied at HQ: checked
/// against what every store sold and returned of that order.
pub fn return_order_as(
    c: &Connection,
    actor: &Actor,
    req: ReturnRequest,
    from_store: Option<&str>,
    now: OffsetDateTime,
) -> Result<(ReturnRecord, bool)> {
    let existing: Option<(String, String)> = c
        .prepare_cached("SELECT r.fingerprint, o.id FROM returns r JOIN orders o ON o.seq = r.order_seq WHERE r.id = ?1")
        .map_err(db_err)?
        .query_row([&req.id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(db_err)?;
    if let Some((fp, order_id)) = existing {
        if fp == req.fingerprint && order_id == req.order_id {
            return Ok((return_record(c, &req.id)?, true));
        }
        return Err(StorageError::Conflict {
            field: "id".into(),
            message: "a return with this id was already recorded with different contents".into(),
        });
    }
    let (order_seq, customer_seq, money, store) = c
        .prepare_cached(
            "SELECT seq, customer_seq, total, points_redeemed, credit_redeemed, earned, refunded_net,
                    points_refunded, credit_refunded, earned_reversed, store FROM orders WHERE id = ?1",
        )
        .map_err(db_err)?
        .query_row([&req.order_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                OrderMoney {
                    total: r.get(2)?,
                    points_redeemed: r.get(3)?,
                    credit_redeemed: r.get(4)?,
                    earned: r.get(5)?,
                    refunded_net: r.get(6)?,
                    points_refunded: r.get(7)?,
                    credit_refunded: r.get(8)?,
                    earned_reversed: r.get(9)?,
                },
                r.get::<_, Option<String>>(10)?,
            ))
        })
        .optional()
        .map_err(db_err)?
        .ok_or(StorageError::NotFound)?;
    let sold: Vec<SoldLine> = c
        .prepare_cached(
            "SELECT quantity, returned, net FROM order_lines WHERE order_seq = ?1 ORDER BY line_no",
        )
        .map_err(db_err)?
        .query_map([order_seq], |r| {
            Ok(SoldLine {
                quantity: r.get(0)?,
                returned: r.get(1)?,
                net: r.get(2)?,
            })
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    let s = load_settings(c)?;
    let (points_now, _) = balance(c, customer_seq, Account::Points, now)?;
    let plan = patron_core::plan_return(
        &req,
        &patron_core::ReturnFacts {
            sold: &sold,
            money: &money,
            points_balance: points_now.balance,
            settings: &s,
        },
        now,
    )
    .map_err(StorageError::Invalid)?;
    let (amounts, reversal, unrecovered) = (&plan.amounts, plan.reversal, plan.unrecovered);
    for (idx, qty, _) in &amounts.lines {
        c.execute(
            "UPDATE order_lines SET returned = returned + ?1 WHERE order_seq = ?2 AND line_no = ?3",
            params![qty, order_seq, *idx as i64],
        )
        .map_err(db_err)?;
    }
    // Earned points come back from the order's own lot first.
    let earn_lot: Option<i64> = c
        .query_row(
            "SELECT seq FROM ledger WHERE order_id = ?1 AND kind = 'earn' ORDER BY seq LIMIT 1",
            [&req.order_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    let entry_store = from_store.map(str::to_owned).or(store);
    for e in &plan.entries {
        let mut entry = planned(
            e,
            customer_seq,
            now,
            Some(req.order_id.as_str()),
            entry_store.as_deref(),
            &actor.username,
        );
        if e.kind == EntryKind::Reverse {
            entry.lot = earn_lot;
        }
        append(c, entry)?;
    }
    c.execute(
        "UPDATE orders SET refunded_net = refunded_net + ?1, points_refunded = points_refunded + ?2,
            credit_refunded = credit_refunded + ?3, earned_reversed = earned_reversed + ?4 WHERE seq = ?5",
        params![amounts.net, amounts.points_refund, amounts.credit_refund, amounts.earned_reversal, order_seq],
    )
    .map_err(db_err)?;
    c.execute(
        "UPDATE customers SET total_spent = max(0, total_spent - ?1) WHERE seq = ?2",
        params![amounts.net, customer_seq],
    )
    .map_err(db_err)?;
    let lines_json = json!(
        amounts
            .lines
            .iter()
            .map(|(i, q, n)| json!([i, q, n]))
            .collect::<Vec<_>>()
    );
    let return_store = crate::sync::node(c)?
        .store()
        .map(str::to_owned)
        .or(from_store.map(str::to_owned));
    let hlc = crate::sync::stamp(c)?.to_string();
    c.execute(
        "INSERT INTO returns (id, order_seq, fingerprint, at, actor, lines, net, points_refund, credit_refund,
            money_refund, earned_reversal, unrecovered_points, store, hlc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            req.id,
            order_seq,
            req.fingerprint,
            micros(now),
            actor.username,
            lines_json.to_string(),
            amounts.net,
            amounts.points_refund,
            amounts.credit_refund,
            amounts.money_refund,
            reversal,
            unrecovered,
            return_store,
            hlc
        ],
    )
    .map_err(db_err)?;
    crate::sync::mark(c, "return", &req.id)?;
    refresh_customer(c, customer_seq, local_today(&s, now))?;
    Ok((return_record(c, &req.id)?, false))
}

pub fn activity(
    c: &Connection,
    key: &CustomerKey,
    now: OffsetDateTime,
) -> Result<CustomerActivity> {
    activity_with(c, key, now, 100)
}

/// `limit` orders and returns, newest first; -1 for all of them.
pub fn activity_with(
    c: &Connection,
    key: &CustomerKey,
    now: OffsetDateTime,
    limit: i64,
) -> Result<CustomerActivity> {
    let seq = customers::seq_of(c, key)?;
    let (total_spent, visits, last_visit, type_id): (i64, i64, Option<String>, Option<String>) = c
        .query_row(
            "SELECT total_spent, visits, last_visit, type_id FROM customers WHERE seq = ?1",
            [seq],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .map_err(db_err)?;
    let order_ids: Vec<String> = c
        .prepare_cached("SELECT id FROM orders WHERE customer_seq = ?1 ORDER BY seq DESC LIMIT ?2")
        .map_err(db_err)?
        .query_map([seq, limit], |r| r.get(0))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    let return_ids: Vec<String> = c
        .prepare_cached(
            "SELECT r.id FROM returns r JOIN orders o ON o.seq = r.order_seq
             WHERE o.customer_seq = ?1 ORDER BY r.seq DESC LIMIT ?2",
        )
        .map_err(db_err)?
        .query_map([seq, limit], |r| r.get(0))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    let top_products = c
        .prepare_cached(
            "SELECT l.sku, max(l.name), sum(l.quantity - l.returned) AS q,
                    sum(l.net - (l.net * l.returned / l.quantity)) AS a
             FROM order_lines l JOIN orders o ON o.seq = l.order_seq
             WHERE o.customer_seq = ?1 GROUP BY l.sku HAVING q > 0 ORDER BY a DESC, q DESC LIMIT 10",
        )
        .map_err(db_err)?
        .query_map([seq], |r| Ok(TopProduct { sku: r.get(0)?, name: r.get(1)?, quantity: r.get(2)?, amount: r.get(3)? }))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    Ok(CustomerActivity {
        stats: CustomerStats {
            total_spent,
            visits,
            last_visit: last_visit.and_then(|d| {
                Date::parse(
                    &d,
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .ok()
            }),
        },
        balances: balances_of(c, seq, now)?,
        customer_type: type_id.and_then(|t| Uuid::parse_str(&t).ok()),
        groups: customer_groups(c, seq)?
            .into_iter()
            .map(|(g, _)| (g.id, g.spec.name))
            .collect(),
        orders: order_ids
            .iter()
            .map(|id| order(c, id))
            .collect::<Result<_>>()?,
        returns: return_ids
            .iter()
            .map(|id| return_record(c, id))
            .collect::<Result<_>>()?,
        top_products,
    })
}

// --- scheduled work -------------------------------------------------------------

fn lot_id(c: &Connection, lot: i64) -> Result<String> {
    c.query_row("SELECT id FROM ledger WHERE seq = ?1", [lot], |r| r.get(0))
        .map_err(db_err)
}

/// The scheduler's loyalty work of one run. Rule-driven groups whose answer
/// moves with the date are only marked here, and filled by the caller after
/// the commit (`fill`), as of the returned local date.
pub fn maintenance(c: &Connection, now: OffsetDateTime) -> Result<(MaintenanceReport, Date)> {
    let s = load_settings(c)?;
    let today = local_today(&s, now);
    let mut report = MaintenanceReport::default();
    let actor = "scheduler";

    // Bonuses and expiry move value: HQ alone does them (and they reach the
    // stores through the feed), so no bonus is ever paid twice.
    let hq = crate::sync::node(c)?.role == patron_storage::NodeRole::Hq;
    // Birthdays: customers whose birthday is today (29 Feb → 1 Mar in other years).
    let mut days = vec![format!("{:02}-{:02}", u8::from(today.month()), today.day())];
    if u8::from(today.month()) == 3 && today.day() == 1 && !time::util::is_leap_year(today.year()) {
        days.push("02-29".into());
    }
    if !hq {
        days.clear();
    }
    for md in days {
        let seqs: Vec<i64> = c
            .prepare_cached(
                "SELECT seq FROM customers WHERE active = 1 AND substr(date_of_birth, 6, 5) = ?1",
            )
            .map_err(db_err)?
            .query_map([&md], |r| r.get(0))
            .map_err(db_err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db_err)?;
        for seq in seqs {
            let dob = customers::by_seq(c, seq)?.data.date_of_birth;
            let terms: Vec<_> = customer_groups(c, seq)?
                .into_iter()
                .map(|(_, t)| t)
                .collect();
            let id = Uuid::parse_str(&crate::sync::customer_id_of(c, seq)?)
                .map_err(|e| StorageError::Backend(e.to_string()))?;
            let Some(plan) = patron_core::plan_birthday(id, dob, today, &terms, &s, now) else {
                continue;
            };
            let written = append(c, planned(&plan, seq, now, None, None, actor))?;
            if written.is_some() {
                report.birthday_bonuses += 1;
                refresh_customer(c, seq, today)?;
            }
        }
    }

    // Expiry: lots past their date that no expire entry has taken yet.
    let seqs: Vec<i64> = if !hq {
        Vec::new()
    } else {
        c
        .prepare_cached(
            "SELECT DISTINCT customer_seq FROM ledger
             WHERE expires_at IS NOT NULL AND expires_at <= ?1 AND account = 'points'
               AND seq NOT IN (SELECT lot_seq FROM ledger WHERE kind = 'expire' AND lot_seq IS NOT NULL)",
        )
        .map_err(db_err)?
        .query_map([micros(now)], |r| r.get(0))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?
    };
    for seq in seqs {
        let (_, pending) = balance(c, seq, Account::Points, now)?;
        for (lot, amount) in pending {
            let lot_uuid = Uuid::parse_str(&lot_id(c, lot)?)
                .map_err(|e| StorageError::Backend(e.to_string()))?;
            let Some(plan) = patron_core::plan_expiry(lot_uuid, amount) else {
                continue;
            };
            let written = append(
                c,
                NewEntry {
                    lot: Some(lot),
                    ..planned(&plan, seq, now, None, None, actor)
                },
            )?;
            if written.is_some() {
                report.expired_entries += 1;
            }
        }
        refresh_customer(c, seq, today)?;
    }

    // Rules whose answer moves with the date.
    let rules: Vec<(String, Option<String>)> = c
        .prepare_cached("SELECT id, rule FROM groups WHERE kind IN ('auto', 'system')")
        .map_err(db_err)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    for (id, rule) in rules {
        let Some(rule) = rule.and_then(|r| patron_domain::rules::Rule::parse_stored(&r).ok())
        else {
            continue;
        };
        if rule.depends_on_time() {
            crate::fill::mark(c, &id)?;
        }
    }
    if hq {
        report.released_authorisations = release_stale(c, now, STALE_AUTHORISATION)?;
    }
    Ok((report, today))
}

/// How long HQ waits for the sale behind an authorised redemption before
/// giving the redemption back: a store commits within milliseconds of the
/// answer, so only a store that died in between takes longer (if its sale
/// arrives after all, it redeems again).
const STALE_AUTHORISATION: Duration = Duration::minutes(10);

// --- redemptions across stores ------------------------------------------------------

/// HQ: authorises a store's redemption for order `order_id` against HQ's
/// balance and records it at once, so a second store cannot spend the same
/// balance. The entries' ids follow from the order id: asking again (an answer
/// lost, a timeout) finds the same entries and changes nothing, and the sale,
/// when it arrives, meets them as its own. All or nothing.
pub fn authorize(
    c: &Connection,
    store: &str,
    actor: &str,
    customer: Uuid,
    order_id: &str,
    entries: &[(Account, i64)],
    now: OffsetDateTime,
) -> Result<()> {
    let seq = customers::seq_of(c, &CustomerKey::Id(customer)).map_err(|e| match e {
        StorageError::NotFound => invalid("customer", "HQ does not know this customer yet"),
        e => e,
    })?;
    let order_known = crate::sync::known(c, "orders", order_id)?;
    let mut wanted = Vec::with_capacity(entries.len());
    for (account, amount) in entries {
        let id = patron_storage::ops::redemption_id(order_id, account.as_str());
        let existing: Option<(i64, i64, Option<String>)> = c
            .prepare_cached("SELECT customer_seq, amount, store FROM ledger WHERE id = ?1")
            .map_err(db_err)?
            .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .map_err(db_err)?;
        let (b, _) = balance(c, seq, *account, now)?;
        wanted.push((
            *account,
            *amount,
            patron_core::AuthorisationState {
                available: b.available,
                existing: existing.map(|(owner, amount, by)| {
                    (owner == seq, amount, by.as_deref() == Some(store))
                }),
            },
        ));
    }
    let plan = patron_core::plan_authorisation(order_id, order_known, &wanted)
        .map_err(StorageError::Invalid)?;
    for (id, account, amount) in plan {
        append(
            c,
            NewEntry {
                id: Some(id),
                seq,
                account,
                kind: EntryKind::Redeem,
                amount: -amount,
                at: now,
                order_id: Some(order_id),
                store: Some(store),
                actor,
                reason: Some("authorised at HQ".into()),
                available_at: None,
                expires_at: None,
                lot: None,
                once_key: None,
            },
        )?;
    }
    Ok(())
}

/// customer seq, account, amount, store.
type RedeemRow = (i64, String, i64, Option<String>);

/// HQ: gives back the redemptions authorised for `order_id` whose sale did
/// not go through. Once only; a sale that arrives afterwards redeems again.
pub fn release(
    c: &Connection,
    store: &str,
    actor: &str,
    order_id: &str,
    now: OffsetDateTime,
) -> Result<u64> {
    if crate::sync::known(c, "orders", order_id)? {
        // The sale reached HQ: its redemption stands.
        return Ok(0);
    }
    let mut n = 0;
    for account in [Account::Points, Account::Credit] {
        let id = patron_storage::ops::redemption_id(order_id, account.as_str());
        let row: Option<RedeemRow> = c
            .query_row(
                "SELECT customer_seq, account, amount, store FROM ledger WHERE id = ?1 AND kind = 'redeem'",
                [id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(db_err)?;
        let Some((seq, account, amount, owner)) = row else {
            continue;
        };
        if owner.as_deref() != Some(store) {
            return Err(invalid(
                "order_id",
                "a store may release only its own authorisations",
            ));
        }
        let written = append(
            c,
            NewEntry {
                id: None,
                seq,
                account: Account::parse(&account).unwrap_or(Account::Points),
                kind: EntryKind::Refund,
                amount: -amount,
                at: now,
                order_id: Some(order_id),
                store: Some(store),
                actor,
                reason: Some("authorisation released: the sale did not go through".into()),
                available_at: None,
                expires_at: None,
                lot: None,
                once_key: Some(format!("release:{id}")),
            },
        )?;
        if written.is_some() {
            n += 1;
            refresh_customer(c, seq, local_today(&load_settings(c)?, now))?;
        }
    }
    Ok(n)
}

/// HQ: authorisations older than `age` whose sale never arrived (the store
/// died between HQ's answer and its own commit) are released.
pub fn release_stale(c: &Connection, now: OffsetDateTime, age: Duration) -> Result<u64> {
    let stale: Vec<(String, String)> = c
        .prepare_cached(
            "SELECT DISTINCT l.order_id, l.store FROM ledger l
             WHERE l.kind = 'redeem' AND l.reason = 'authorised at HQ' AND l.at < ?1
               AND l.order_id IS NOT NULL AND l.store IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = l.order_id)
               AND NOT EXISTS (SELECT 1 FROM ledger r WHERE r.once_key = 'release:' || l.id)",
        )
        .map_err(db_err)?
        .query_map([micros(now - age)], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    let mut n = 0;
    for (order, store) in stale {
        // No person asked for this one: HQ gives it back on its own.
        n += release(c, &store, "system", &order, now)?;
        tracing::warn!(order = %order, store = %store, "released an authorisation whose sale never arrived");
    }
    Ok(n)
}

/// A store: what it let `customer` redeem (points and credit) since `since`.
pub fn redeemed_since(c: &Connection, key: &CustomerKey, since: OffsetDateTime) -> Result<i64> {
    let seq = customers::seq_of(c, key)?;
    let store = crate::sync::node(c)?.id;
    c.query_row(
        "SELECT coalesce(-sum(amount), 0) FROM ledger
         WHERE customer_seq = ?1 AND kind = 'redeem' AND store = ?2 AND at >= ?3",
        params![seq, store, micros(since)],
        |r| r.get(0),
    )
    .map_err(db_err)
}
