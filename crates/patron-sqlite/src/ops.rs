//! Operations between a store and HQ (docs/sync.md, "Trust"): a store records
//! what its users do in its outbox; HQ re-applies each operation through the same
//! functions its own API calls, against its own data, with the decisions of
//! `patron_domain::replication`.

use crate::checkout::{self, local_today};
use crate::groups::refresh_customer;
use crate::loyalty::load_settings;
use crate::{customers, db_err, invalid, micros, settings, sync};
use patron_domain::customer::{Field, ParseContext};
use patron_domain::hlc::Hlc;
use patron_domain::loyalty::{Account, CartLine, EntryKind};
use patron_domain::replication::{self, FieldMerge};
use patron_domain::{CustomerCode, CustomerDraft, Patch, StoreId};
use patron_storage::ops::{Op, OpBody, OpResult, SignedOp};
use patron_storage::{
    Actor, CheckoutRequest, CustomerKey, ManualEntry, NewCustomer, OrderRequest, OutboxPage,
    Refusal, Result, ReturnRequest, StorageError,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

// --- the store's outbox -------------------------------------------------------------

/// At a store, records what `actor` just did, in the transaction that did it.
/// Elsewhere a no-op: HQ's own writes reach stores through its feed. `body`
/// is only built at a store, so HQ's writes pay nothing for it.
pub fn record(c: &Connection, actor: &Actor, body: impl FnOnce() -> Result<OpBody>) -> Result<()> {
    record_at(c, actor, body, OffsetDateTime::now_utc())
}

/// [`record`], dated `at` (a sale: the moment its entries' ids follow from).
pub fn record_at(
    c: &Connection,
    actor: &Actor,
    body: impl FnOnce() -> Result<OpBody>,
    at: OffsetDateTime,
) -> Result<()> {
    let node = sync::node(c)?;
    let Some(store) = node.store() else {
        return Ok(());
    };
    let body = body()?;
    let op = Op {
        id: Uuid::now_v7(),
        store: store.to_owned(),
        actor: actor.username.clone(),
        at: micros(at),
        hlc: sync::stamp(c)?.to_string(),
        seen: sync::get(c, "hq_seen")?,
        body,
    };
    let text = serde_json::to_string(&op).map_err(|e| StorageError::Backend(e.to_string()))?;
    // Unsigned, HQ refuses it: a user whose key this node does not hold
    // (signed in before a restart) is asked to sign in again before writing.
    let sig = actor
        .op_key
        .map(|k| patron_storage::ops::sign(&k.0, &text))
        .unwrap_or_default();
    c.prepare_cached("INSERT INTO outbox (id, op, sig) VALUES (?1, ?2, ?3)")
        .map_err(db_err)?
        .execute(params![op.id.to_string(), text, sig])
        .map_err(db_err)?;
    Ok(())
}

pub fn outbox(c: &Connection, after: i64, max_ops: usize, max_bytes: usize) -> Result<OutboxPage> {
    let mut st = c
        .prepare_cached("SELECT seq, op, sig FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2")
        .map_err(db_err)?;
    let mut rows = st
        .query(params![after, max_ops.clamp(1, 10_000) as i64])
        .map_err(db_err)?;
    let mut page = OutboxPage {
        ops: Vec::new(),
        last: after,
    };
    let mut bytes = 0usize;
    while let Some(r) = rows.next().map_err(db_err)? {
        let op = SignedOp {
            seq: r.get(0).map_err(db_err)?,
            op: r.get(1).map_err(db_err)?,
            sig: r.get(2).map_err(db_err)?,
        };
        bytes += op.op.len() + op.sig.len() + 32;
        if !page.ops.is_empty() && bytes > max_bytes {
            break;
        }
        page.last = op.seq;
        page.ops.push(op);
    }
    Ok(page)
}

/// The newest outbox position ever recorded (acknowledged rows are deleted).
pub fn outbox_head(c: &Connection) -> Result<i64> {
    c.query_row(
        "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)",
        [],
        |r| r.get(0),
    )
    .map_err(db_err)
}

/// HQ answered for everything up to `up_to`: those operations leave the
/// outbox, and the push cursor moves, in one transaction.
pub fn acknowledge(c: &Connection, up_to: i64) -> Result<()> {
    c.prepare_cached("DELETE FROM outbox WHERE seq <= ?1")
        .map_err(db_err)?
        .execute([up_to])
        .map_err(db_err)?;
    sync::put(c, "push_cursor", &up_to.to_string())
}

// --- refusals ---------------------------------------------------------------------------

pub fn record_refusal(c: &Connection, r: &Refusal) -> Result<()> {
    c.prepare_cached(
        "INSERT OR IGNORE INTO refusals (op_id, store, kind, entity, actor, reason, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .map_err(db_err)?
    .execute(params![
        r.op_id.map(|i| i.to_string()),
        r.store,
        r.kind,
        r.entity,
        r.actor,
        r.reason,
        micros(r.at)
    ])
    .map_err(db_err)?;
    Ok(())
}

fn row_to_refusal(r: &rusqlite::Row<'_>) -> rusqlite::Result<Refusal> {
    Ok(Refusal {
        op_id: r
            .get::<_, Option<String>>(0)?
            .and_then(|s| Uuid::parse_str(&s).ok()),
        store: r.get(1)?,
        kind: r.get(2)?,
        entity: r.get(3)?,
        actor: r.get(4)?,
        reason: r.get(5)?,
        at: crate::from_micros(r.get(6)?),
    })
}

pub fn refusals(c: &Connection, limit: usize) -> Result<Vec<Refusal>> {
    c.prepare_cached(
        "SELECT op_id, store, kind, entity, actor, reason, at FROM refusals ORDER BY id DESC LIMIT ?1",
    )
    .map_err(db_err)?
    .query_map([limit.clamp(1, 10_000) as i64], row_to_refusal)
    .map_err(db_err)?
    .collect::<rusqlite::Result<_>>()
    .map_err(db_err)
}

pub fn refusal_counts(c: &Connection) -> Result<Vec<(String, u64)>> {
    c.prepare_cached("SELECT store, count(*) FROM refusals GROUP BY store")
        .map_err(db_err)?
        .query_map([], |r| {
            Ok((r.get(0)?, u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0)))
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)
}

pub fn refusals_of(c: &Connection, entity: &str) -> Result<Vec<Refusal>> {
    c.prepare_cached(
        "SELECT op_id, store, kind, entity, actor, reason, at FROM refusals WHERE entity = ?1 ORDER BY id DESC LIMIT 100",
    )
    .map_err(db_err)?
    .query_map([entity], row_to_refusal)
    .map_err(db_err)?
    .collect::<rusqlite::Result<_>>()
    .map_err(db_err)
}

// --- HQ: applying a store's operations ----------------------------------------------

/// Why an operation was refused, as its users will read it.
type Refused = String;

fn refusal_text(e: StorageError) -> std::result::Result<Refused, StorageError> {
    match e {
        StorageError::Invalid(v) => Ok(v
            .0
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; ")),
        StorageError::Conflict { field, message } => Ok(format!("{field}: {message}")),
        StorageError::NotFound => Ok("refers to something HQ does not have".into()),
        StorageError::BadCursor => Ok("bad cursor".into()),
        // A constraint the checks above did not foresee: this operation can
        // never apply, so it is refused rather than failing the page (which
        // the store would send again forever).
        StorageError::Backend(m) if m.contains("constraint failed") || m.contains("immutable") => {
            Ok(format!("conflicts with what HQ holds ({m})"))
        }
        // The database itself failed (I/O, disk full): the whole page is
        // retried, nothing of it kept.
        e @ (StorageError::Backend(_) | StorageError::TimedOut(_) | StorageError::DiskFull) => {
            Err(e)
        }
    }
}

struct Page<'a> {
    store: &'a str,
    bound: u64,
    /// The latest moment HQ knows the next operation was not made before:
    /// a clock beyond the skew bound is replaced by this (docs/sync.md).
    floor: String,
    now: OffsetDateTime,
}

pub fn apply(
    c: &Connection,
    store: &str,
    ops: &[Op],
    refused_early: &[Refusal],
    now: OffsetDateTime,
) -> Result<Vec<OpResult>> {
    let pushed_at: Option<i64> = c
        .query_row("SELECT pushed_at FROM stores WHERE id = ?1", [store], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db_err)?
        .flatten();
    let mut page = Page {
        store,
        bound: sync::skew_bound(c)?,
        floor: Hlc {
            millis: pushed_at.map_or(0, |m| u64::try_from(m / 1000).unwrap_or(0)),
            counter: 0,
            node: store.to_owned(),
        }
        .to_string(),
        now,
    };
    for r in refused_early {
        record_refusal(c, r)?;
        if let Some(id) = r.op_id {
            note_applied(c, id, store, Some(&r.reason), now)?;
        }
    }
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let previous: Option<Option<String>> = c
            .prepare_cached("SELECT refused FROM applied_ops WHERE id = ?1")
            .map_err(db_err)?
            .query_row([op.id.to_string()], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        if let Some(refused) = previous {
            out.push(OpResult {
                seq: 0,
                id: Some(op.id),
                refused,
            });
            continue;
        }
        c.execute_batch("SAVEPOINT op").map_err(db_err)?;
        let floor_before = page.floor.clone();
        page.floor = op_floor(&page, op);
        let result = apply_one(c, &page, op);
        page.floor = floor_before;
        let refused = match result {
            Ok(()) => {
                c.execute_batch("RELEASE op").map_err(db_err)?;
                None
            }
            Err(e) => {
                c.execute_batch("ROLLBACK TO op; RELEASE op")
                    .map_err(db_err)?;
                let reason = refusal_text(e)?;
                tracing::warn!(store, op = %op.id, kind = op.body.kind().as_str(), actor = %op.actor, %reason, "refused a store's operation");
                record_refusal(
                    c,
                    &Refusal {
                        op_id: Some(op.id),
                        store: store.to_owned(),
                        kind: op.body.kind().as_str().to_owned(),
                        entity: op.body.entity(),
                        actor: op.actor.clone(),
                        reason: reason.clone(),
                        at: now,
                    },
                )?;
                Some(reason)
            }
        };
        note_applied(c, op.id, store, refused.as_deref(), now)?;
        // Operations are recorded in the order they were made: a sane stamp
        // bounds when every later one can have been made.
        if !replication::ahead(&op.hlc, page.bound) && op.hlc > page.floor {
            page.floor = op.hlc.clone();
        }
        out.push(OpResult {
            seq: 0,
            id: Some(op.id),
            refused,
        });
    }
    c.prepare_cached("UPDATE stores SET pushed_at = ?1 WHERE id = ?2")
        .map_err(db_err)?
        .execute(params![micros(now), store])
        .map_err(db_err)?;
    Ok(out)
}

fn note_applied(
    c: &Connection,
    id: Uuid,
    store: &str,
    refused: Option<&str>,
    now: OffsetDateTime,
) -> Result<()> {
    c.prepare_cached(
        "INSERT OR IGNORE INTO applied_ops (id, store, refused, at) VALUES (?1, ?2, ?3, ?4)",
    )
    .map_err(db_err)?
    .execute(params![id.to_string(), store, refused, micros(now)])
    .map_err(db_err)?;
    Ok(())
}

fn refuse(msg: impl Into<String>) -> StorageError {
    invalid("op", &msg.into())
}

fn customer_seq(c: &Connection, id: Uuid) -> Result<i64> {
    customers::seq_of(c, &CustomerKey::Id(id)).map_err(|e| match e {
        StorageError::NotFound => refuse(format!("customer {id} is unknown at HQ")),
        e => e,
    })
}

/// When an operation was done, never later than now: a store clock ahead
/// does not date a sale in the future.
fn op_time(op: &Op, now: OffsetDateTime) -> OffsetDateTime {
    crate::from_micros(op.at).min(now)
}

fn apply_one(c: &Connection, page: &Page<'_>, op: &Op) -> Result<()> {
    if op.store != page.store {
        return Err(refuse(format!(
            "an operation of store {} sent by store {}",
            op.store, page.store
        )));
    }
    if Hlc::parse(&op.hlc).is_none() {
        return Err(refuse("the operation's clock stamp is malformed"));
    }
    let actor = Actor::new(op.actor.clone());
    // A customer's audit trail names the person and their store, here and
    // at every store HQ sends the record to (the signature proved the name).
    let by = Actor::new(sync::author_label(&op.actor, &op.store));
    match &op.body {
        OpBody::CreateCustomer { id, code, fields } => {
            create_customer(c, page, op, &by, *id, code, fields)
        }
        OpBody::EditCustomer { id, fields } => {
            let mut patch = Vec::with_capacity(fields.len());
            for (name, value) in fields {
                let f = Field::from_name(name)
                    .ok_or_else(|| refuse(format!("unknown customer field {name:?}")))?;
                patch.push((f, value.clone()));
            }
            edit_customer(c, page, op, &by, *id, &patch)
        }
        OpBody::SetActive { id, active } => set_flag(c, page, op, &by, *id, "active", {
            let active = *active;
            move |c, seq, actor| customers::set_active_replica(c, seq, actor, active)
        }),
        OpBody::SetType { id, type_id } => {
            let new = type_id.map(|t| t.to_string());
            if let Some(t) = &new
                && crate::loyalty::customer_type(c, t)?.is_none()
            {
                return Err(refuse("no such customer type at HQ"));
            }
            set_flag(c, page, op, &by, *id, "type", move |c, seq, actor| {
                crate::set_type_row(c, seq, actor, new.as_deref())
            })
        }
        OpBody::Members {
            groups,
            customers: ids,
            add,
        } => {
            if ids.is_empty() || ids.len() > 1_000 {
                return Err(refuse("a membership change names 1 to 1,000 customers"));
            }
            let target = match groups {
                Some(g) if g.is_empty() || g.len() > 100 => {
                    return Err(refuse("a membership change names 1 to 100 groups"));
                }
                Some(g) => patron_storage::MemberTarget::Groups(g.clone()),
                None => patron_storage::MemberTarget::AllManual,
            };
            let seqs = ids
                .iter()
                .map(|i| customer_seq(c, *i))
                .collect::<Result<Vec<_>>>()?;
            let groups = crate::groups::manual_targets(c, &target)?;
            let clock = clock_or_floor(page, &op.hlc);
            for g in groups {
                for seq in &seqs {
                    sync::merge_membership(c, &g.to_string(), *seq, *add, &clock, page.bound)?;
                }
            }
            Ok(())
        }
        OpBody::Entry {
            entry_id,
            customer,
            account,
            kind,
            amount,
            reason,
            idempotency_key,
        } => {
            let account = Account::parse(account)
                .ok_or_else(|| refuse(format!("unknown account {account:?}")))?;
            let kind = EntryKind::parse(kind)
                .ok_or_else(|| refuse(format!("unknown entry kind {kind:?}")))?;
            replication::manual_entry_allowed(account, kind).map_err(refuse)?;
            let entry = ManualEntry {
                account,
                kind,
                amount: *amount,
                reason: reason.clone(),
                idempotency_key: idempotency_key.clone(),
            };
            patron_storage::validate_manual_entry(&entry).map_err(StorageError::Invalid)?;
            let seq = customer_seq(c, *customer)?;
            checkout::post_entry_as(
                c,
                &actor,
                seq,
                entry,
                Some(*entry_id),
                Some(page.store),
                op_time(op, page.now),
            )
            .map(|_| ())
        }
        OpBody::Order {
            id,
            fingerprint,
            customer,
            lines,
            redeem_points,
            redeem_credit,
            override_limits,
        } => {
            let lines: Vec<CartLine> = lines
                .iter()
                .map(|l| CartLine {
                    sku: l.sku.clone(),
                    name: l.name.clone(),
                    category: l.category.clone(),
                    quantity: l.quantity,
                    unit: l.unit.clone(),
                    unit_price: l.unit_price,
                })
                .collect();
            let checkout = CheckoutRequest {
                customer: CustomerKey::Id(*customer),
                lines,
                redeem_points: *redeem_points,
                redeem_credit: *redeem_credit,
                store: Some(page.store.to_owned()),
            };
            patron_storage::validate_order_id(id, fingerprint).map_err(StorageError::Invalid)?;
            patron_storage::validate_checkout(&checkout).map_err(StorageError::Invalid)?;
            customer_seq(c, *customer)?;
            checkout::commit(
                c,
                &actor,
                OrderRequest {
                    id: id.clone(),
                    checkout,
                    override_limits: *override_limits,
                    fingerprint: fingerprint.clone(),
                    from_store: Some(page.store.to_owned()),
                    // The moment the store recorded the sale: its entries'
                    // ids follow from it, the same as the store's own.
                    placed_at: Some(crate::from_micros(op.at)),
                },
                op_time(op, page.now),
            )
            .map(|_| ())
        }
        OpBody::Return {
            id,
            fingerprint,
            order_id,
            lines,
        } => {
            if lines.is_empty() || lines.len() > 500 {
                return Err(refuse("a return names 1 to 500 lines"));
            }
            let req = ReturnRequest {
                id: id.clone(),
                order_id: order_id.clone(),
                lines: lines
                    .iter()
                    .map(|l| (l.line as usize, l.quantity))
                    .collect(),
                fingerprint: fingerprint.clone(),
            };
            patron_storage::validate_return(&req).map_err(StorageError::Invalid)?;
            checkout::return_order_as(c, &actor, req, Some(page.store), op_time(op, page.now))
                .map_err(|e| match e {
                    StorageError::NotFound => refuse(format!("order {order_id} is unknown at HQ")),
                    e => e,
                })
                .map(|_| ())
        }
    }
}

/// The latest moment HQ knows `op` was not made before, as a stamp that sorts
/// just after it: the page's floor, or the HQ stamp the store had seen.
fn op_floor(page: &Page<'_>, op: &Op) -> String {
    let mut floor = Hlc::parse(&page.floor).unwrap_or_else(|| Hlc::zero(page.store));
    if let Some(seen) = op.seen.as_deref().and_then(Hlc::parse)
        // Only HQ's own stamps, and none from HQ's future.
        && seen.node == "HQ"
        && seen.millis <= page.bound
        && (seen.millis, seen.counter) >= (floor.millis, floor.counter)
    {
        floor = Hlc {
            millis: seen.millis,
            counter: seen.counter.saturating_add(1),
            node: page.store.to_owned(),
        };
    }
    floor.to_string()
}

/// The op's clock, or the floor when it is beyond the skew bound.
fn clock_or_floor(page: &Page<'_>, hlc: &str) -> String {
    if replication::ahead(hlc, page.bound) {
        page.floor.clone()
    } else {
        hlc.to_owned()
    }
}

fn create_customer(
    c: &Connection,
    page: &Page<'_>,
    op: &Op,
    actor: &Actor,
    id: Uuid,
    code: &str,
    fields: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    if let Some(existing) = customers::code_of_id(c, id)? {
        // The same creation again (its first acknowledgement was lost).
        if existing == code {
            return Ok(());
        }
        return Err(refuse(format!(
            "customer {id} already exists under another code"
        )));
    }
    let settings = settings::load(c)?;
    let leases = sync::leases_of(c, page.store)?;
    if !replication::code_issuable_by(code, &settings.code_format, page.store, &leases) {
        return Err(refuse(format!(
            "code {code} is neither in a block leased to {} nor in its overflow series",
            page.store
        )));
    }
    if customers::id_of_code(c, code)?.is_some() {
        return Err(refuse(format!("code {code} is already another customer's")));
    }
    let mut pairs = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        let f = Field::from_name(name)
            .ok_or_else(|| refuse(format!("unknown customer field {name:?}")))?;
        pairs.push((f, value.clone()));
    }
    let s = load_settings(c)?;
    let at = op_time(op, page.now);
    let ctx = ParseContext {
        region: settings.phone_region,
        today: local_today(&s, at),
    };
    let data = CustomerDraft::parse(pairs, &ctx).map_err(StorageError::Invalid)?;
    let origin_store = StoreId::parse(page.store).ok();
    let seq = customers::insert_replica(
        c,
        &NewCustomer { data, origin_store },
        id,
        &CustomerCode::from_stored(code.to_owned()),
        micros(at),
    )?;
    c.prepare_cached("UPDATE customers SET hlc = ?1 WHERE seq = ?2")
        .map_err(db_err)?
        .execute(params![clock_or_floor(page, &op.hlc), seq])
        .map_err(db_err)?;
    customers::audit_action(c, seq, actor, "create", None)?;
    sync::note_authors(c, seq, ["created"], &actor.username)?;
    sync::mark(c, "customer", &id.to_string())?;
    // HQ's own registration bonus (a store's is never taken from it).
    checkout::after_create(c, seq, actor, at)
}

fn edit_customer(
    c: &Connection,
    page: &Page<'_>,
    op: &Op,
    actor: &Actor,
    id: Uuid,
    fields: &[(Field, Option<String>)],
) -> Result<()> {
    let seq = customer_seq(c, id)?;
    let current = customers::by_seq(c, seq)?;
    if current.is_erased() {
        // Nothing of an erased person comes back, not even as a lost write.
        return Err(customers::erased_refusal());
    }
    let (base, mut clocks) = sync::field_clocks(c, seq)?;
    let mut patch = Vec::new();
    let mut lost = Vec::new();
    for (f, value) in fields {
        let local = clock_of(&clocks, f.name(), &base);
        match replication::merge_field(&op.hlc, &local, page.bound, &page.floor) {
            FieldMerge::Take(clock) => {
                patch.push((*f, value.clone().map_or(Patch::Clear, Patch::Set)));
                clocks.insert(f.name().to_owned(), Value::String(clock));
            }
            FieldMerge::Keep => lost.push((*f, value.clone())),
        }
    }
    if !patch.is_empty() {
        let s = load_settings(c)?;
        let ctx = ParseContext {
            region: settings::load(c)?.phone_region,
            today: local_today(&s, page.now),
        };
        customers::update_replica(c, seq, actor, &patch, &ctx)?;
        sync::save_field_clocks(c, seq, &clocks)?;
        sync::note_authors(c, seq, patch.iter().map(|(f, _)| f.name()), &actor.username)?;
    }
    for (f, theirs) in lost {
        customers::record_lost_write(
            c,
            seq,
            actor,
            f.name(),
            theirs.as_deref(),
            current.data.get(f).as_deref(),
        )?;
    }
    // The record it landed on: a merged-away id names its survivor.
    sync::mark(c, "customer", &current.id.to_string())?;
    let s = load_settings(c)?;
    refresh_customer(c, seq, local_today(&s, page.now))
}

fn clock_of(clocks: &Map<String, Value>, name: &str, base: &str) -> String {
    clocks
        .get(name)
        .and_then(Value::as_str)
        .map_or_else(|| base.to_owned(), str::to_owned)
}

/// `active` or `type`: last writer wins on the field's clock.
fn set_flag(
    c: &Connection,
    page: &Page<'_>,
    op: &Op,
    actor: &Actor,
    id: Uuid,
    name: &str,
    write: impl FnOnce(&Connection, i64, &Actor) -> Result<()>,
) -> Result<()> {
    let seq = customer_seq(c, id)?;
    let (base, mut clocks) = sync::field_clocks(c, seq)?;
    let local = clock_of(&clocks, name, &base);
    if let FieldMerge::Take(clock) =
        replication::merge_field(&op.hlc, &local, page.bound, &page.floor)
    {
        write(c, seq, actor)?;
        clocks.insert(name.to_owned(), Value::String(clock));
        sync::save_field_clocks(c, seq, &clocks)?;
        sync::note_authors(c, seq, [name], &actor.username)?;
        sync::mark(c, "customer", &id.to_string())?;
        let s = load_settings(c)?;
        refresh_customer(c, seq, local_today(&s, page.now))?;
    }
    Ok(())
}

// --- what a store records of its users' work --------------------------------------------

pub fn create_body(c: &patron_domain::Customer) -> OpBody {
    OpBody::CreateCustomer {
        id: c.id,
        code: c.code.as_str().to_owned(),
        fields: Field::ALL
            .iter()
            .filter_map(|f| c.data.get(*f).map(|v| (f.name().to_owned(), v)))
            .collect(),
    }
}

/// Only the fields the user changed, so HQ never clears one they left alone.
pub fn edit_body(c: &patron_domain::Customer, changes: &[patron_domain::FieldChange]) -> OpBody {
    OpBody::EditCustomer {
        id: c.id,
        fields: changes
            .iter()
            .map(|ch| (ch.field.clone(), ch.new.clone()))
            .collect(),
    }
}

pub fn order_body(o: &OrderRequest, customer: Uuid) -> OpBody {
    OpBody::Order {
        id: o.id.clone(),
        fingerprint: o.fingerprint.clone(),
        customer,
        lines: o
            .checkout
            .lines
            .iter()
            .map(|l| patron_storage::ops::OpLine {
                sku: l.sku.clone(),
                name: l.name.clone(),
                category: l.category.clone(),
                quantity: l.quantity,
                unit: l.unit.clone(),
                unit_price: l.unit_price,
            })
            .collect(),
        redeem_points: o.checkout.redeem_points,
        redeem_credit: o.checkout.redeem_credit,
        override_limits: o.override_limits,
    }
}

pub fn return_body(r: &ReturnRequest) -> OpBody {
    OpBody::Return {
        id: r.id.clone(),
        fingerprint: r.fingerprint.clone(),
        order_id: r.order_id.clone(),
        lines: r
            .lines
            .iter()
            .map(|(line, quantity)| patron_storage::ops::OpReturnLine {
                line: u32::try_from(*line).unwrap_or(u32::MAX),
                quantity: *quantity,
            })
            .collect(),
    }
}
