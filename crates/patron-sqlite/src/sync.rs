//! Replication: this node's identity and clock, HQ's change feed, and a store
//! applying it (docs/sync.md). What stores send HQ is operations (`ops.rs`).
//!
//! The feed is state-based: a row names an entity that changed, and a reader
//! gets the entity's current state with its clocks. Customers merge field by
//! field on hybrid logical clocks (`patron_core::merge`); manual memberships
//! per (group, customer); ledger entries, orders and returns are unioned by id,
//! a store's own provisional ones taking HQ's record once; configuration
//! (users, groups, types, limit profiles, settings) flows from HQ only.

use crate::checkout::local_today;
use crate::groups::refresh_customer;
use crate::loyalty::load_settings;
use crate::{customers, db_err, from_micros, invalid, micros};
use patron_domain::customer::{Field, ParseContext};
use patron_domain::hlc::{Clock, Hlc};
use patron_domain::{CustomerCode, CustomerDraft, Patch, StoreId};
use patron_storage::{
    Actor, ApplyReport, Change, FeedPage, NewCustomer, NodeInfo, NodeRole, Peer, Result,
    StorageError,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};
use time::OffsetDateTime;
use uuid::Uuid;

/// Default bound on how far a peer's clock may pull this node's ahead of its
/// own wall clock, and how far ahead HQ accepts a stamp before re-stamping it.
pub const DEFAULT_MAX_SKEW_MS: u64 = 60_000;

/// Sync-state keys read by nearly every write (the node's identity, its clock
/// and its bounds: a dozen reads per sale), kept in memory per database file
/// and written through by [`put`]. Cursors are never cached: a transaction
/// rolled back must not leave one moved. A stale clock or bound after a
/// rollback is harmless (clocks only move forward).
const CACHED: [&str; 5] = ["role", "node_id", "max_skew_ms", "clock_offset_ms", "hlc"];

type StateCache = Mutex<HashMap<(String, &'static str), Option<String>>>;

fn state_cache() -> &'static StateCache {
    static CACHE: OnceLock<StateCache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn cache_key(c: &Connection, key: &str) -> Option<(String, &'static str)> {
    let path = c.path().filter(|p| !p.is_empty())?;
    let k = CACHED.iter().find(|k| **k == key)?;
    Some((path.to_owned(), *k))
}

/// Drops what is cached of a database's sync state (it was opened, or its
/// sync state was replaced wholesale).
pub fn forget_cached_state(c: &Connection) {
    if let (Some(path), Ok(mut cache)) = (c.path(), state_cache().lock()) {
        cache.retain(|(p, _), _| p != path);
    }
}

pub fn get(c: &Connection, key: &str) -> Result<Option<String>> {
    let cached = cache_key(c, key);
    if let Some(k) = &cached
        && let Ok(cache) = state_cache().lock()
        && let Some(v) = cache.get(k)
    {
        return Ok(v.clone());
    }
    let v: Option<String> = c
        .prepare_cached("SELECT value FROM sync_state WHERE key = ?1")
        .map_err(db_err)?
        .query_row([key], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    if let (Some(k), Ok(mut cache)) = (cached, state_cache().lock()) {
        cache.insert(k, v.clone());
    }
    Ok(v)
}

pub fn put(c: &Connection, key: &str, value: &str) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .map_err(db_err)?
    .execute(params![key, value])
    .map_err(db_err)?;
    if let (Some(k), Ok(mut cache)) = (cache_key(c, key), state_cache().lock()) {
        cache.insert(k, Some(value.to_owned()));
    }
    Ok(())
}

pub fn node(c: &Connection) -> Result<NodeInfo> {
    let role = get(c, "role")?;
    Ok(match role.as_deref() {
        Some("store") => NodeInfo {
            id: get(c, "node_id")?.unwrap_or_default(),
            role: NodeRole::Store,
        },
        _ => NodeInfo {
            id: "HQ".into(),
            role: NodeRole::Hq,
        },
    })
}

pub fn become_store(c: &Connection, store: &StoreId) -> Result<()> {
    let current = node(c)?;
    match current.role {
        NodeRole::Store if current.id == store.as_str() => return Ok(()),
        NodeRole::Store => {
            return Err(invalid(
                "store",
                &format!("this data directory belongs to store {}", current.id),
            ));
        }
        NodeRole::Hq => {}
    }
    let customers: i64 = c
        .query_row("SELECT count(*) FROM customers", [], |r| r.get(0))
        .map_err(db_err)?;
    if customers > 0 {
        return Err(invalid(
            "store",
            "this data directory already holds customers of its own; a store starts from an empty one",
        ));
    }
    put(c, "role", "store")?;
    put(c, "node_id", store.as_str())?;
    // A store's own feed holds only its own writes.
    c.execute("DELETE FROM feed", []).map_err(db_err)?;
    Ok(())
}

fn wall_ms(c: &Connection) -> Result<u64> {
    let offset: i64 = get(c, "clock_offset_ms")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let now = (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    Ok(u64::try_from(now.saturating_add(offset)).unwrap_or(0))
}

fn clock(c: &Connection) -> Result<Clock> {
    let n = node(c)?;
    let max_skew = get(c, "max_skew_ms")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MAX_SKEW_MS);
    let mut clock = Clock::new(&n.id, max_skew);
    if let Some(last) = get(c, "hlc")?.and_then(|v| Hlc::parse(&v)) {
        clock.last.millis = last.millis;
        clock.last.counter = last.counter;
    }
    Ok(clock)
}

/// A stamp for a local write.
pub fn stamp(c: &Connection) -> Result<Hlc> {
    let mut clock = clock(c)?;
    let h = clock.tick(wall_ms(c)?);
    put(c, "hlc", &h.to_string())?;
    Ok(h)
}

fn observe(c: &Connection, remote: &str) -> Result<()> {
    let Some(r) = Hlc::parse(remote) else {
        return Ok(());
    };
    let mut clock = clock(c)?;
    let before = clock.last.clone();
    clock.observe(&r, wall_ms(c)?);
    if clock.last != before {
        put(c, "hlc", &clock.last.to_string())?;
    }
    Ok(())
}

/// The latest clock a peer's stamp may carry before it counts as too far ahead.
pub fn skew_bound(c: &Connection) -> Result<u64> {
    let max_skew = get(c, "max_skew_ms")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MAX_SKEW_MS);
    Ok(wall_ms(c)?.saturating_add(max_skew))
}

use patron_core::merge::{FieldSides, merge_fields};
use patron_domain::replication::newer;

/// Puts an entity at the end of the feed.
pub fn mark(c: &Connection, kind: &str, entity: &str) -> Result<()> {
    // A store sends operations (its outbox), not its feed: nothing to keep.
    if get(c, "role")?.as_deref() == Some("store") {
        return Ok(());
    }
    c.prepare_cached("DELETE FROM feed WHERE kind = ?1 AND entity = ?2")
        .map_err(db_err)?
        .execute(params![kind, entity])
        .map_err(db_err)?;
    c.prepare_cached("INSERT INTO feed (kind, entity) VALUES (?1, ?2)")
        .map_err(db_err)?
        .execute(params![kind, entity])
        .map_err(db_err)?;
    Ok(())
}

/// Marks every customer inserted since `first_seq` (an import), in one
/// statement. They are new, so none is in the feed yet.
pub fn mark_customers_since(c: &Connection, first_seq: i64) -> Result<()> {
    c.execute(
        "INSERT INTO feed (kind, entity) SELECT 'customer', id FROM customers WHERE seq >= ?1 ORDER BY seq",
        [first_seq],
    )
    .map_err(db_err)?;
    Ok(())
}

/// Puts every ledger entry from `first_seq` on in the feed, in one statement.
pub fn mark_ledger_since(c: &Connection, first_seq: i64) -> Result<()> {
    c.execute(
        "INSERT INTO feed (kind, entity) SELECT 'ledger', id FROM ledger WHERE seq >= ?1 ORDER BY seq",
        [first_seq],
    )
    .map_err(db_err)?;
    Ok(())
}

pub fn head(c: &Connection) -> Result<i64> {
    c.query_row("SELECT coalesce(max(seq), 0) FROM feed", [], |r| r.get(0))
        .map_err(db_err)
}

// --- local writes keep clocks ----------------------------------------------------

/// Clocks of a customer's fields: the creation stamp and later per-field stamps.
pub fn field_clocks(c: &Connection, seq: i64) -> Result<(String, Map<String, Value>)> {
    let (hlc, fields): (String, Option<String>) = c
        .prepare_cached("SELECT hlc, field_hlc FROM customers WHERE seq = ?1")
        .map_err(db_err)?
        .query_row([seq], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?;
    let map = fields
        .and_then(|f| serde_json::from_str::<Value>(&f).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    Ok((hlc, map))
}

pub(crate) fn save_field_clocks(c: &Connection, seq: i64, map: &Map<String, Value>) -> Result<()> {
    c.prepare_cached("UPDATE customers SET field_hlc = ?1 WHERE seq = ?2")
        .map_err(db_err)?
        .execute(params![Value::Object(map.clone()).to_string(), seq])
        .map_err(db_err)?;
    Ok(())
}

/// How a person appears in another node's audit trail: their name and the
/// node they made the change at (user names cannot hold spaces or brackets,
/// so the two never blur). A name already placed keeps its node.
pub fn author_label(username: &str, node: &str) -> String {
    if username.ends_with(')') || username.starts_with("sync:") {
        username.to_owned()
    } else {
        format!("{username} ({node})")
    }
}

/// Records `label` as the last writer of `names`.
pub(crate) fn note_authors<'a>(
    c: &Connection,
    seq: i64,
    names: impl IntoIterator<Item = &'a str>,
    label: &str,
) -> Result<()> {
    let patch: Map<String, Value> = names
        .into_iter()
        .map(|n| (n.to_owned(), Value::String(label.to_owned())))
        .collect();
    // Merged in SQL: one write, no read of what was there.
    c.prepare_cached(
        "UPDATE customers SET field_by = json_patch(coalesce(field_by, '{}'), ?1) WHERE seq = ?2",
    )
    .map_err(db_err)?
    .execute(params![Value::Object(patch).to_string(), seq])
    .map_err(db_err)?;
    Ok(())
}

/// After a local create: stamp the record and put it in the feed.
pub fn customer_created(c: &Connection, seq: i64, actor: &Actor) -> Result<()> {
    let h = stamp(c)?;
    let id: String = c
        .prepare_cached(
            "UPDATE customers SET hlc = ?1, field_by = json_object('created', ?2)
             WHERE seq = ?3 RETURNING id",
        )
        .map_err(db_err)?
        .query_row(
            params![h.to_string(), author_label(&actor.username, &h.node), seq],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    mark(c, "customer", &id)
}

/// After a local edit of `fields` (domain field names, `active`, `type`).
pub fn customer_edited(c: &Connection, seq: i64, fields: &[String], actor: &Actor) -> Result<()> {
    if fields.is_empty() {
        return Ok(());
    }
    let stamp = stamp(c)?;
    let h = stamp.to_string();
    let (_, mut map) = field_clocks(c, seq)?;
    for f in fields {
        map.insert(f.clone(), Value::String(h.clone()));
    }
    save_field_clocks(c, seq, &map)?;
    note_authors(
        c,
        seq,
        fields.iter().map(String::as_str),
        &author_label(&actor.username, &stamp.node),
    )?;
    let id: String = c
        .query_row("SELECT id FROM customers WHERE seq = ?1", [seq], |r| {
            r.get(0)
        })
        .map_err(db_err)?;
    mark(c, "customer", &id)
}

/// After a local manual membership change.
pub fn membership_changed(c: &Connection, group: &str, seq: i64, member: bool) -> Result<()> {
    let h = stamp(c)?.to_string();
    c.prepare_cached(
        "INSERT INTO membership_clocks (group_id, customer_seq, member, hlc) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (group_id, customer_seq) DO UPDATE SET member = excluded.member, hlc = excluded.hlc",
    )
    .map_err(db_err)?
    .execute(params![group, seq, member, h])
    .map_err(db_err)?;
    let id: String = c
        .query_row("SELECT id FROM customers WHERE seq = ?1", [seq], |r| {
            r.get(0)
        })
        .map_err(db_err)?;
    mark(c, "membership", &format!("{group}:{id}"))
}

// --- reading the feed --------------------------------------------------------------

fn customer_id(c: &Connection, seq: i64) -> Result<String> {
    c.prepare_cached("SELECT id FROM customers WHERE seq = ?1")
        .map_err(db_err)?
        .query_row([seq], |r| r.get(0))
        .map_err(db_err)
}

fn customer_body(c: &Connection, id: &str) -> Result<Option<Value>> {
    let Ok(uuid) = Uuid::parse_str(id) else {
        return Ok(None);
    };
    let seq = match customers::seq_of(c, &patron_storage::CustomerKey::Id(uuid)) {
        Ok(s) => s,
        Err(StorageError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let cust = customers::by_seq(c, seq)?;
    let (hlc, clocks) = field_clocks(c, seq)?;
    let (type_id, spent, visits, authors): (Option<String>, i64, i64, Option<String>) = c
        .prepare_cached(
            "SELECT type_id, opening_spent, opening_visits, field_by FROM customers WHERE seq = ?1",
        )
        .map_err(db_err)?
        .query_row([seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(db_err)?;
    // Who wrote each field last, as recorded (an object; empty if never).
    let authors = authors
        .and_then(|f| serde_json::from_str::<Value>(&f).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| Value::Object(Map::new()));
    let mut fields = Map::new();
    for f in Field::ALL {
        fields.insert(
            f.name().to_owned(),
            cust.data.get(f).map_or(Value::Null, Value::String),
        );
    }
    Ok(Some(json!({
        "id": id,
        "code": cust.code.as_str(),
        "origin_store": cust.origin_store.as_ref().map(|s| s.as_str().to_owned()),
        "created_at": micros(cust.created_at),
        "hlc": hlc,
        "field_hlc": clocks,
        "field_by": authors,
        "fields": fields,
        "active": cust.active,
        "type_id": type_id,
        "erased": cust.is_erased(),
        "opening": {"spent": spent, "visits": visits},
    })))
}

fn ledger_body(c: &Connection, id: &str) -> Result<Option<Value>> {
    c.prepare_cached(
        "SELECT l.id, c.id, l.account, l.kind, l.amount, l.at, l.order_id, l.store, l.actor, l.reason,
                l.available_at, l.expires_at, (SELECT id FROM ledger WHERE seq = l.lot_seq), l.once_key, l.hlc
         FROM ledger l JOIN customers c ON c.seq = l.customer_seq WHERE l.id = ?1",
    )
    .map_err(db_err)?
    .query_row([id], |r| {
        Ok(json!({
            "id": r.get::<_, String>(0)?, "customer_id": r.get::<_, String>(1)?,
            "account": r.get::<_, String>(2)?, "kind": r.get::<_, String>(3)?,
            "amount": r.get::<_, i64>(4)?, "at": r.get::<_, i64>(5)?,
            "order_id": r.get::<_, Option<String>>(6)?, "store": r.get::<_, Option<String>>(7)?,
            "actor": r.get::<_, String>(8)?, "reason": r.get::<_, Option<String>>(9)?,
            "available_at": r.get::<_, Option<i64>>(10)?, "expires_at": r.get::<_, Option<i64>>(11)?,
            "lot_id": r.get::<_, Option<String>>(12)?, "once_key": r.get::<_, Option<String>>(13)?,
            "hlc": r.get::<_, Option<String>>(14)?,
        }))
    })
    .optional()
    .map_err(db_err)
}

fn order_body(c: &Connection, id: &str) -> Result<Option<Value>> {
    let head = c
        .prepare_cached(
            "SELECT o.seq, c.id, o.fingerprint, o.at, o.store, o.actor, o.subtotal, o.discount, o.total,
                    o.points_redeemed, o.credit_redeemed, o.earned, o.tax_exempt, o.discounts, o.overrides, o.hlc
             FROM orders o JOIN customers c ON c.seq = o.customer_seq WHERE o.id = ?1",
        )
        .map_err(db_err)?
        .query_row([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                json!({
                    "id": id, "customer_id": r.get::<_, String>(1)?, "fingerprint": r.get::<_, String>(2)?,
                    "at": r.get::<_, i64>(3)?, "store": r.get::<_, Option<String>>(4)?,
                    "actor": r.get::<_, String>(5)?, "subtotal": r.get::<_, i64>(6)?,
                    "discount": r.get::<_, i64>(7)?, "total": r.get::<_, i64>(8)?,
                    "points_redeemed": r.get::<_, i64>(9)?, "credit_redeemed": r.get::<_, i64>(10)?,
                    "earned": r.get::<_, i64>(11)?, "tax_exempt": r.get::<_, bool>(12)?,
                    "discounts": r.get::<_, String>(13)?, "overrides": r.get::<_, String>(14)?,
                    "hlc": r.get::<_, Option<String>>(15)?,
                }),
            ))
        })
        .optional()
        .map_err(db_err)?;
    let Some((seq, mut body)) = head else {
        return Ok(None);
    };
    let lines: Vec<Value> = c
        .prepare_cached(
            "SELECT line_no, sku, name, category, quantity, unit, unit_price, total, net
             FROM order_lines WHERE order_seq = ?1 ORDER BY line_no",
        )
        .map_err(db_err)?
        .query_map([seq], |r| {
            Ok(json!([
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?
            ]))
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    body["lines"] = Value::Array(lines);
    Ok(Some(body))
}

fn return_body(c: &Connection, id: &str) -> Result<Option<Value>> {
    c.prepare_cached(
        "SELECT r.id, o.id, r.fingerprint, r.at, r.actor, r.lines, r.net, r.points_refund, r.credit_refund,
                r.money_refund, r.earned_reversal, r.unrecovered_points, r.store, r.hlc, c.id
         FROM returns r JOIN orders o ON o.seq = r.order_seq JOIN customers c ON c.seq = o.customer_seq
         WHERE r.id = ?1",
    )
    .map_err(db_err)?
    .query_row([id], |r| {
        Ok(json!({
            "id": r.get::<_, String>(0)?, "order_id": r.get::<_, String>(1)?,
            "fingerprint": r.get::<_, String>(2)?, "at": r.get::<_, i64>(3)?,
            "actor": r.get::<_, String>(4)?, "lines": r.get::<_, String>(5)?,
            "net": r.get::<_, i64>(6)?, "points_refund": r.get::<_, i64>(7)?,
            "credit_refund": r.get::<_, i64>(8)?, "money_refund": r.get::<_, i64>(9)?,
            "earned_reversal": r.get::<_, i64>(10)?, "unrecovered_points": r.get::<_, i64>(11)?,
            "store": r.get::<_, Option<String>>(12)?, "hlc": r.get::<_, Option<String>>(13)?,
            "customer_id": r.get::<_, String>(14)?,
        }))
    })
    .optional()
    .map_err(db_err)
}

fn membership_body(c: &Connection, entity: &str) -> Result<Option<Value>> {
    let Some((group, customer)) = entity.split_once(':') else {
        return Ok(None);
    };
    c.prepare_cached(
        "SELECT m.member, m.hlc FROM membership_clocks m JOIN customers c ON c.seq = m.customer_seq
         WHERE m.group_id = ?1 AND c.id = ?2",
    )
    .map_err(db_err)?
    .query_row(params![group, customer], |r| {
        Ok(json!({"group_id": group, "customer_id": customer, "member": r.get::<_, bool>(0)?, "hlc": r.get::<_, String>(1)?}))
    })
    .optional()
    .map_err(db_err)
}

fn row_json(c: &Connection, sql: &str, key: &str) -> Result<Option<Value>> {
    let mut st = c.prepare_cached(sql).map_err(db_err)?;
    let names: Vec<String> = st.column_names().iter().map(|s| (*s).to_owned()).collect();
    st.query_row([key], |r| {
        let mut m = Map::new();
        for (i, n) in names.iter().enumerate() {
            let v = match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(n) => json!(n),
                rusqlite::types::ValueRef::Real(f) => json!(f),
                rusqlite::types::ValueRef::Text(t) => {
                    Value::String(String::from_utf8_lossy(t).into_owned())
                }
                rusqlite::types::ValueRef::Blob(_) => Value::Null,
            };
            m.insert(n.clone(), v);
        }
        Ok(Value::Object(m))
    })
    .optional()
    .map_err(db_err)
}

fn config_body(c: &Connection, kind: &str, entity: &str) -> Result<Option<Value>> {
    match kind {
        "group" => row_json(c, "SELECT * FROM groups WHERE id = ?1", entity),
        "customer_type" => row_json(c, "SELECT * FROM customer_types WHERE id = ?1", entity),
        "limit_profile" => row_json(c, "SELECT * FROM limit_profiles WHERE id = ?1", entity),
        "setting" => row_json(c, "SELECT * FROM settings WHERE key = ?1", entity),
        // No password hash: the feed is the same for every store. Each store
        // fetches the hashes of its own users (`store_credentials`).
        "user" => row_json(
            c,
            "SELECT username, role, active, created_at, store FROM users WHERE username = ?1",
            entity,
        ),
        "role" => row_json(c, "SELECT * FROM roles WHERE name = ?1", entity),
        _ => Ok(None),
    }
}

fn body(c: &Connection, kind: &str, entity: &str) -> Result<Option<Value>> {
    match kind {
        "customer" => customer_body(c, entity),
        "ledger" => ledger_body(c, entity),
        "order" => order_body(c, entity),
        "return" => return_body(c, entity),
        "membership" => membership_body(c, entity),
        "merge" => crate::merges::merge_body(c, entity),
        k => config_body(c, k, entity),
    }
}

/// Entities a change needs to exist before it can be applied.
fn dependencies(kind: &str, body: &Value) -> Vec<(&'static str, String)> {
    let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut out = Vec::new();
    match kind {
        "ledger" | "order" | "return" | "membership" => {
            if let Some(id) = s("customer_id") {
                out.push(("customer", id));
            }
            if kind == "membership"
                && let Some(g) = s("group_id")
            {
                out.push(("group", g));
            }
        }
        "customer" => {
            if let Some(t) = s("type_id") {
                out.push(("customer_type", t));
            }
        }
        "merge" => {
            for k in ["id", "into"] {
                if let Some(id) = s(k) {
                    out.push(("customer", id));
                }
            }
        }
        "group" => {
            if let Some(p) = s("limit_profile") {
                out.push(("limit_profile", p));
            }
        }
        _ => {}
    }
    out
}

fn feed_seq(c: &Connection, kind: &str, entity: &str) -> Result<Option<i64>> {
    c.prepare_cached("SELECT seq FROM feed WHERE kind = ?1 AND entity = ?2")
        .map_err(db_err)?
        .query_row(params![kind, entity], |r| r.get(0))
        .optional()
        .map_err(db_err)
}

/// A page of the feed after `after`. An entity that moved further down the feed
/// (changed again) but is needed by a change in this page is sent first as
/// well, so a receiver never meets a reference to something it lacks.
pub fn feed(c: &Connection, after: i64, limit: usize) -> Result<FeedPage> {
    let head = head(c)?;
    let rows: Vec<(i64, String, String)> = c
        .prepare_cached("SELECT seq, kind, entity FROM feed WHERE seq > ?1 ORDER BY seq LIMIT ?2")
        .map_err(db_err)?
        .query_map(params![after, limit.clamp(1, 10_000) as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    let mut out: Vec<Change> = Vec::with_capacity(rows.len());
    let mut sent: HashSet<(String, String)> = HashSet::new();
    let mut last = after;
    for (seq, kind, entity) in rows {
        last = seq;
        let Some(b) = body(c, &kind, &entity)? else {
            continue;
        };
        add_with_deps(c, &mut out, &mut sent, seq, &kind, &entity, b, 0)?;
    }
    Ok(FeedPage {
        changes: out,
        last,
        head,
    })
}

#[allow(clippy::too_many_arguments)]
fn add_with_deps(
    c: &Connection,
    out: &mut Vec<Change>,
    sent: &mut HashSet<(String, String)>,
    seq: i64,
    kind: &str,
    entity: &str,
    b: Value,
    depth: usize,
) -> Result<()> {
    if depth < 4 {
        for (dk, de) in dependencies(kind, &b) {
            if sent.contains(&(dk.to_owned(), de.clone())) {
                continue;
            }
            if let Some(dseq) = feed_seq(c, dk, &de)?
                && dseq > seq
                && let Some(db) = body(c, dk, &de)?
            {
                add_with_deps(c, out, sent, dseq, dk, &de, db, depth + 1)?;
            }
        }
    }
    if sent.insert((kind.to_owned(), entity.to_owned())) {
        out.push(Change {
            seq,
            kind: kind.to_owned(),
            entity: entity.to_owned(),
            body: b,
        });
    }
    Ok(())
}

// --- applying a peer's changes -------------------------------------------------------

/// `execute` on a cached statement: the apply path runs the same statements
/// for every entity of a page.
fn exec(c: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize> {
    c.prepare_cached(sql)
        .map_err(db_err)?
        .execute(params)
        .map_err(db_err)
}

fn text<'a>(b: &'a Value, k: &str) -> Option<&'a str> {
    b.get(k).and_then(Value::as_str)
}

fn int(b: &Value, k: &str) -> Option<i64> {
    b.get(k).and_then(Value::as_i64)
}

fn bad(kind: &str, msg: &str) -> StorageError {
    invalid("changes", &format!("{kind}: {msg}"))
}

fn seq_of_id(c: &Connection, id: &str) -> Result<Option<i64>> {
    c.prepare_cached("SELECT seq FROM customers WHERE id = ?1")
        .map_err(db_err)?
        .query_row([id], |r| r.get(0))
        .optional()
        .map_err(db_err)
}

pub fn apply(
    c: &Connection,
    from: &Peer,
    changes: &[Change],
    now: OffsetDateTime,
) -> Result<ApplyReport> {
    let me = node(c)?;
    // Stores send operations, which HQ re-applies through its own rules
    // (`ops::apply`); state flows only from HQ to its stores.
    match (from, me.role) {
        (Peer::Hq, NodeRole::Store) => {}
        _ => {
            return Err(invalid(
                "peer",
                "state flows only from HQ to its stores; stores send operations",
            ));
        }
    }
    let settings = load_settings(c)?;
    let today = local_today(&settings, now);
    // Phones are shown in the chain's region (their display form is made
    // when they are written, here as at HQ).
    let ctx = ParseContext {
        region: crate::settings::load(c)?.phone_region,
        today,
    };
    let actor = Actor::new("sync:HQ");
    let mut report = ApplyReport::default();
    let mut newest: Option<String> = None;
    let mut newest_hq: Option<Hlc> = None;
    for ch in changes {
        let b = &ch.body;
        if let Some(h) = text(b, "hlc")
            && newest.as_deref().is_none_or(|n| h > n)
        {
            newest = Some(h.to_owned());
        }
        let field_stamps = b
            .get("field_hlc")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.values().filter_map(Value::as_str));
        for h in text(b, "hlc")
            .into_iter()
            .chain(field_stamps)
            .filter_map(Hlc::parse)
        {
            if h.node == "HQ" && newest_hq.as_ref().is_none_or(|n| h > *n) {
                newest_hq = Some(h);
            }
        }
        match ch.kind.as_str() {
            "customer" => apply_customer(c, &actor, b, &ctx, &mut report)?,
            "ledger" => apply_ledger(c, b, now, &mut report)?,
            "order" => apply_order(c, b, &settings, &mut report)?,
            "return" => apply_return(c, b, &mut report)?,
            "membership" => apply_membership(c, b, &mut report)?,
            "merge" => {
                if crate::merges::apply_merge(c, &actor, b, today)? {
                    report.applied += 1;
                }
            }
            k if matches!(
                k,
                "group" | "customer_type" | "limit_profile" | "setting" | "user" | "role"
            ) =>
            {
                apply_config(c, k, b)?;
                report.applied += 1;
            }
            other => return Err(bad(other, "unknown kind of change")),
        }
    }
    // One clock update per page: later local stamps sort after all of it.
    if let Some(h) = newest {
        observe(c, &h)?;
    }
    // What the store's users do from now on happened after this HQ moment,
    // whatever the shop PC's clock says: each operation carries it.
    if let Some(h) = newest_hq
        && get(c, "hq_seen")?
            .and_then(|s| Hlc::parse(&s))
            .is_none_or(|old| h > old)
    {
        put(c, "hq_seen", &h.to_string())?;
    }
    Ok(report)
}

/// The immutable entity `id` of `table` is already here: applying it again
/// is a no-op (union by id).
pub(crate) fn known(c: &Connection, table: &str, id: &str) -> Result<bool> {
    Ok(
        c.prepare_cached(&format!("SELECT 1 FROM {table} WHERE id = ?1"))
            .map_err(db_err)?
            .query_row([id], |r| r.get::<_, i64>(0))
            .optional()
            .map_err(db_err)?
            .is_some(),
    )
}

fn apply_customer(
    c: &Connection,
    actor: &Actor,
    b: &Value,
    ctx: &ParseContext,
    report: &mut ApplyReport,
) -> Result<()> {
    let today = ctx.today;
    let id = text(b, "id").ok_or_else(|| bad("customer", "no id"))?;
    let uuid = Uuid::parse_str(id).map_err(|_| bad("customer", "bad id"))?;
    let base = text(b, "hlc").unwrap_or_default().to_owned();
    let remote_clocks = b
        .get("field_hlc")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let bound = skew_bound(c)?;
    let clock_of = |name: &str| {
        remote_clocks
            .get(name)
            .and_then(Value::as_str)
            .map_or(base.clone(), str::to_owned)
    };
    let fields = b
        .get("fields")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let value_of = |f: Field| {
        fields
            .get(f.name())
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let remote_active = b.get("active").and_then(Value::as_bool).unwrap_or(true);
    let erased = b.get("erased").and_then(Value::as_bool).unwrap_or(false);
    let remote_type = text(b, "type_id").map(str::to_owned);
    // Who made each change, as HQ recorded it ("ann (S02)"); an HQ from
    // before authors were kept leaves the sync link's name.
    let authors = b.get("field_by").and_then(Value::as_object);
    let author_of = |name: &str| {
        authors
            .and_then(|m| m.get(name).or_else(|| m.get("created")))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 100 && !s.chars().any(char::is_control))
            .map_or_else(|| actor.clone(), Actor::new)
    };
    let seq = match seq_of_id(c, id)? {
        Some(seq) => seq,
        None => {
            let origin = text(b, "origin_store").map(str::to_owned);
            let pairs: Vec<(Field, String)> = Field::ALL
                .iter()
                .filter_map(|f| value_of(*f).map(|v| (*f, v)))
                .collect();
            let data = CustomerDraft::parse(pairs, ctx).map_err(StorageError::Invalid)?;
            let code = text(b, "code").ok_or_else(|| bad("customer", "no code"))?;
            let taken: Option<String> = c
                .query_row("SELECT id FROM customers WHERE code = ?1", [code], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(db_err)?;
            if taken.is_some() {
                return Err(bad(
                    "customer",
                    &format!("code {code} is already another customer's"),
                ));
            }
            let origin_store = origin
                .map(|o| StoreId::parse(&o).map_err(|_| bad("customer", "bad origin store")))
                .transpose()?;
            let created = int(b, "created_at").unwrap_or_else(|| micros(OffsetDateTime::now_utc()));
            let seq = customers::insert_replica(
                c,
                &NewCustomer { data, origin_store },
                uuid,
                &CustomerCode::from_stored(code.to_owned()),
                created,
            )?;
            let type_known = match &remote_type {
                Some(t) => crate::loyalty::customer_type(c, t)?.is_some(),
                None => false,
            };
            // What the customer brought from an imported system: part of the
            // totals from the start, here as at HQ (orders add to it as usual).
            let opening = b.get("opening");
            let within = |k: &str, max: i64| {
                opening
                    .and_then(|o| o.get(k))
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    .clamp(0, max)
            };
            let (spent, visits) = (
                within("spent", patron_storage::MAX_AMOUNT),
                within("visits", patron_storage::MAX_VISITS),
            );
            exec(
                c,
                "UPDATE customers SET opening_spent = ?1, opening_visits = ?2,
                    total_spent = total_spent + ?1, visits = visits + ?2 WHERE seq = ?3",
                params![spent, visits, seq],
            )?;
            exec(
                c,
                "UPDATE customers SET active = ?1, type_id = ?2, hlc = ?3, field_hlc = ?4 WHERE seq = ?5",
                params![
                    remote_active,
                    if type_known {
                        remote_type.clone()
                    } else {
                        None
                    },
                    base,
                    Value::Object(remote_clocks.clone()).to_string(),
                    seq
                ],
            )?;
            customers::audit_action(c, seq, &author_of("created"), "create", None)?;
            if erased {
                let by = author_of(Field::LastName.name());
                customers::erase_row(c, seq, &by, micros(OffsetDateTime::now_utc()))?;
            }
            refresh_customer(c, seq, today)?;
            report.applied += 1;
            return Ok(());
        }
    };
    // An erasure wins over every clock: what a store held or edited about the
    // person goes, here as at HQ (which refuses the store's later edits).
    if erased {
        let by = author_of(Field::LastName.name());
        if customers::erase_row(c, seq, &by, micros(OffsetDateTime::now_utc()))? {
            let (_, clocks) = field_clocks(c, seq)?;
            let mut merged = clocks;
            for (k, v) in &remote_clocks {
                merged.insert(k.clone(), v.clone());
            }
            save_field_clocks(c, seq, &merged)?;
            refresh_customer(c, seq, today)?;
            report.applied += 1;
        }
        return Ok(());
    }
    // Merge field by field (patron_core::merge): the newer stamp wins; the
    // loser is kept in the audit trail.
    let current = customers::by_seq(c, seq)?;
    let (local_base, mut local_clocks) = field_clocks(c, seq)?;
    let local_clock = |name: &str| {
        local_clocks
            .get(name)
            .and_then(Value::as_str)
            .map_or(local_base.clone(), str::to_owned)
    };
    let local_type: Option<String> = c
        .query_row("SELECT type_id FROM customers WHERE seq = ?1", [seq], |r| {
            r.get(0)
        })
        .map_err(db_err)?;
    let mut sides: Vec<FieldSides> = Field::ALL
        .iter()
        .map(|f| FieldSides {
            name: f.name().to_owned(),
            remote: value_of(*f),
            remote_clock: clock_of(f.name()),
            local: current.data.get(*f),
            local_clock: local_clock(f.name()),
        })
        .collect();
    sides.push(FieldSides {
        name: "active".into(),
        remote: Some(remote_active.to_string()),
        remote_clock: clock_of("active"),
        local: Some(current.active.to_string()),
        local_clock: local_clock("active"),
    });
    sides.push(FieldSides {
        name: "type".into(),
        remote: remote_type.clone(),
        remote_clock: clock_of("type"),
        local: local_type,
        local_clock: local_clock("type"),
    });
    let plan = merge_fields(sides, bound);
    // Each author's changes are audited under their own name.
    let mut patches: std::collections::BTreeMap<String, Vec<(Field, Patch<String>)>> =
        Default::default();
    for (name, value, clock) in plan.take {
        match name.as_str() {
            "active" => {
                let by = author_of("active");
                customers::set_active_replica(c, seq, &by, value.as_deref() == Some("true"))?;
            }
            "type" => {
                // A type this node does not know yet keeps the old one.
                let known = match &value {
                    Some(t) => crate::loyalty::customer_type(c, t)?.is_some(),
                    None => true,
                };
                if !known {
                    continue;
                }
                exec(
                    c,
                    "UPDATE customers SET type_id = ?1 WHERE seq = ?2",
                    params![value, seq],
                )?;
            }
            field => {
                if let Some(f) = Field::from_name(field) {
                    patches
                        .entry(author_of(field).username)
                        .or_default()
                        .push((f, value.map_or(Patch::Clear, Patch::Set)));
                }
            }
        }
        local_clocks.insert(name, Value::String(clock));
    }
    for (name, clock) in plan.clocks {
        local_clocks.insert(name, Value::String(clock));
    }
    for (by, patch) in patches {
        customers::update_replica(c, seq, &Actor::new(by), &patch, ctx)?;
    }
    // A lost type change is not an edit anyone typed: nothing to keep.
    for (field, theirs, ours) in plan.lost.into_iter().filter(|(n, _, _)| n != "type") {
        let by = author_of(&field);
        if customers::record_lost_write(c, seq, &by, &field, theirs.as_deref(), ours.as_deref())? {
            report.conflicts += 1;
        }
    }
    if local_clocks != field_clocks(c, seq)?.1 {
        save_field_clocks(c, seq, &local_clocks)?;
        refresh_customer(c, seq, today)?;
        report.applied += 1;
    }
    Ok(())
}

fn apply_ledger(
    c: &Connection,
    b: &Value,
    now: OffsetDateTime,
    report: &mut ApplyReport,
) -> Result<()> {
    let id = text(b, "id").ok_or_else(|| bad("ledger", "no id"))?;
    if known(c, "ledger", id)? {
        return confirm_entry(c, id, b, now, report);
    }
    let store = text(b, "store");
    let customer = text(b, "customer_id").ok_or_else(|| bad("ledger", "no customer"))?;
    let seq = seq_of_id(c, customer)?.ok_or_else(|| bad("ledger", "unknown customer"))?;
    let account = text(b, "account").unwrap_or("points");
    let amount = int(b, "amount").unwrap_or(0);
    let lot: Option<i64> = match text(b, "lot_id") {
        Some(l) => c
            .query_row("SELECT seq FROM ledger WHERE id = ?1", [l], |r| r.get(0))
            .optional()
            .map_err(db_err)?,
        None => None,
    };
    let inserted = c
        .prepare_cached(
            "INSERT INTO ledger (id, customer_seq, account, kind, amount, at, order_id, store, actor,
                reason, available_at, expires_at, lot_seq, once_key, hlc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (once_key) DO NOTHING",
        )
        .map_err(db_err)?
        .execute(params![
            id,
            seq,
            account,
            text(b, "kind").unwrap_or("adjust"),
            amount,
            int(b, "at").unwrap_or_else(|| micros(now)),
            text(b, "order_id"),
            store,
            text(b, "actor").unwrap_or("sync"),
            text(b, "reason"),
            int(b, "available_at"),
            int(b, "expires_at"),
            lot,
            text(b, "once_key"),
            text(b, "hlc"),
        ])
        .map_err(db_err)?;
    if inserted == 0 {
        return Ok(());
    }
    if account == "points" {
        c.prepare_cached(
            "UPDATE customers SET points_balance = points_balance + ?1 WHERE seq = ?2",
        )
        .map_err(db_err)?
        .execute(params![amount, seq])
        .map_err(db_err)?;
    }
    report.applied += 1;
    balance_moved(c, seq, now)
}

/// A balance is a rule fact (`points_balance`): auto groups follow a
/// replicated entry here as they do where the entry was written.
fn balance_moved(c: &Connection, seq: i64, now: OffsetDateTime) -> Result<()> {
    let settings = load_settings(c)?;
    refresh_customer(c, seq, local_today(&settings, now))
}

/// HQ's record of an entry this store wrote itself: HQ's amount is the book of
/// record (HQ re-priced the sale with its own data); the store's provisional
/// entry takes it, once.
fn confirm_entry(
    c: &Connection,
    id: &str,
    b: &Value,
    now: OffsetDateTime,
    report: &mut ApplyReport,
) -> Result<()> {
    let local: Option<(i64, i64, String, bool)> = c
        .prepare_cached(
            "SELECT customer_seq, amount, account, provisional FROM ledger WHERE id = ?1",
        )
        .map_err(db_err)?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()
        .map_err(db_err)?;
    let Some((seq, amount, account, true)) = local else {
        return Ok(());
    };
    let theirs = int(b, "amount").unwrap_or(amount);
    set_provisional_amount(c, id, seq, &account, amount, theirs)?;
    if theirs != amount {
        report.applied += 1;
        balance_moved(c, seq, now)?;
    }
    Ok(())
}

/// Gives a provisional entry HQ's amount and makes it final; the points
/// balance cache follows.
fn set_provisional_amount(
    c: &Connection,
    id: &str,
    seq: i64,
    account: &str,
    ours: i64,
    theirs: i64,
) -> Result<()> {
    exec(
        c,
        "UPDATE ledger SET amount = ?1, provisional = 0 WHERE id = ?2 AND provisional = 1",
        params![theirs, id],
    )?;
    if account == "points" && theirs != ours {
        exec(
            c,
            "UPDATE customers SET points_balance = points_balance + ?1 WHERE seq = ?2",
            params![theirs - ours, seq],
        )?;
    }
    Ok(())
}

/// HQ's record of a sale this store made: its totals replace the store's, and
/// the sale's provisional entries that HQ's record has no counterpart for
/// (HQ earned nothing, redeemed nothing) are set to what HQ says.
fn confirm_order(
    c: &Connection,
    id: &str,
    b: &Value,
    settings: &patron_domain::loyalty::LoyaltySettings,
    report: &mut ApplyReport,
) -> Result<()> {
    let local: Option<(i64, i64, i64)> = c
        .prepare_cached(
            "SELECT seq, customer_seq, total FROM orders WHERE id = ?1 AND provisional = 1",
        )
        .map_err(db_err)?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .map_err(db_err)?;
    let Some((order_seq, seq, our_total)) = local else {
        return Ok(());
    };
    let total = int(b, "total").unwrap_or(our_total);
    let (earned, points, credit) = (
        int(b, "earned").unwrap_or(0),
        int(b, "points_redeemed").unwrap_or(0),
        int(b, "credit_redeemed").unwrap_or(0),
    );
    exec(
        c,
        "UPDATE orders SET subtotal = ?1, discount = ?2, total = ?3, points_redeemed = ?4,
            credit_redeemed = ?5, earned = ?6, tax_exempt = ?7, discounts = ?8, overrides = ?9,
            provisional = 0 WHERE seq = ?10",
        params![
            int(b, "subtotal").unwrap_or(0),
            int(b, "discount").unwrap_or(0),
            total,
            points,
            credit,
            earned,
            b.get("tax_exempt")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            text(b, "discounts").unwrap_or("[]"),
            text(b, "overrides").unwrap_or("[]"),
            order_seq
        ],
    )?;
    for l in b
        .get("lines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(no), Some(net)) = (
            l.get(0).and_then(Value::as_i64),
            l.get(8).and_then(Value::as_i64),
        ) {
            exec(
                c,
                "UPDATE order_lines SET net = ?1 WHERE order_seq = ?2 AND line_no = ?3",
                params![net, order_seq, no],
            )?;
        }
    }
    if total != our_total {
        exec(
            c,
            "UPDATE customers SET total_spent = max(0, total_spent + ?1) WHERE seq = ?2",
            params![total - our_total, seq],
        )?;
    }
    // What HQ's record implies for the sale's own entries still provisional
    // here (entries HQ wrote arrive on their own and confirm theirs).
    let provisional: Vec<(String, i64, String, String)> = c
        .prepare_cached(
            "SELECT id, amount, account, kind FROM ledger
             WHERE order_id = ?1 AND provisional = 1 AND kind IN ('earn', 'redeem')",
        )
        .map_err(db_err)?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    for (entry, amount, account, kind) in provisional {
        let theirs = match (kind.as_str(), account.as_str()) {
            ("earn", _) => earned,
            (_, "points") => -points,
            _ => -credit,
        };
        set_provisional_amount(c, &entry, seq, &account, amount, theirs)?;
    }
    refresh_customer(c, seq, local_today(settings, OffsetDateTime::now_utc()))?;
    report.applied += 1;
    Ok(())
}

fn apply_order(
    c: &Connection,
    b: &Value,
    settings: &patron_domain::loyalty::LoyaltySettings,
    report: &mut ApplyReport,
) -> Result<()> {
    let id = text(b, "id").ok_or_else(|| bad("order", "no id"))?;
    if known(c, "orders", id)? {
        return confirm_order(c, id, b, settings, report);
    }
    let store = text(b, "store");
    let customer = text(b, "customer_id").ok_or_else(|| bad("order", "no customer"))?;
    let seq = seq_of_id(c, customer)?.ok_or_else(|| bad("order", "unknown customer"))?;
    let at = int(b, "at").unwrap_or(0);
    let total = int(b, "total").unwrap_or(0);
    exec(
        c,
        "INSERT INTO orders (id, customer_seq, fingerprint, at, store, actor, subtotal, discount, total,
            points_redeemed, credit_redeemed, earned, tax_exempt, discounts, overrides, hlc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        params![
            id,
            seq,
            text(b, "fingerprint").unwrap_or_default(),
            at,
            store,
            text(b, "actor").unwrap_or("sync"),
            int(b, "subtotal").unwrap_or(0),
            int(b, "discount").unwrap_or(0),
            total,
            int(b, "points_redeemed").unwrap_or(0),
            int(b, "credit_redeemed").unwrap_or(0),
            int(b, "earned").unwrap_or(0),
            b.get("tax_exempt").and_then(Value::as_bool).unwrap_or(false),
            text(b, "discounts").unwrap_or("[]"),
            text(b, "overrides").unwrap_or("[]"),
            text(b, "hlc"),
        ],
    )?;
    let order_seq = c.last_insert_rowid();
    for l in b
        .get("lines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = |i: usize| l.get(i).cloned().unwrap_or(Value::Null);
        exec(
            c,
            "INSERT INTO order_lines (order_seq, line_no, sku, name, category, quantity, unit, unit_price, total, net)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                order_seq,
                f(0).as_i64(),
                f(1).as_str(),
                f(2).as_str(),
                f(3).as_str(),
                f(4).as_i64(),
                f(5).as_str(),
                f(6).as_i64(),
                f(7).as_i64(),
                f(8).as_i64()
            ],
        )?;
    }
    let day = crate::checkout::local_today(settings, from_micros(at));
    exec(
        c,
        "UPDATE customers SET total_spent = total_spent + ?1, visits = visits + 1,
            last_visit = max(coalesce(last_visit, ''), ?2) WHERE seq = ?3",
        params![
            total,
            format!(
                "{:04}-{:02}-{:02}",
                day.year(),
                u8::from(day.month()),
                day.day()
            ),
            seq
        ],
    )?;
    refresh_customer(c, seq, local_today(settings, OffsetDateTime::now_utc()))?;
    report.applied += 1;
    Ok(())
}

fn apply_return(c: &Connection, b: &Value, report: &mut ApplyReport) -> Result<()> {
    let id = text(b, "id").ok_or_else(|| bad("return", "no id"))?;
    if known(c, "returns", id)? {
        return Ok(());
    }
    let store = text(b, "store");
    let order_id = text(b, "order_id").ok_or_else(|| bad("return", "no order"))?;
    let (order_seq, customer_seq): (i64, i64) = c
        .query_row(
            "SELECT seq, customer_seq FROM orders WHERE id = ?1",
            [order_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db_err)?
        .ok_or_else(|| bad("return", "unknown order"))?;
    let lines_text = text(b, "lines").unwrap_or("[]");
    let lines: Vec<(i64, i64, i64)> = serde_json::from_str(lines_text).unwrap_or_default();
    for (idx, qty, _) in &lines {
        exec(
            c,
            "UPDATE order_lines SET returned = returned + ?1 WHERE order_seq = ?2 AND line_no = ?3",
            params![qty, order_seq, idx],
        )?;
    }
    let net = int(b, "net").unwrap_or(0);
    let (points, credit, reversal) = (
        int(b, "points_refund").unwrap_or(0),
        int(b, "credit_refund").unwrap_or(0),
        int(b, "earned_reversal").unwrap_or(0),
    );
    exec(
        c,
        "UPDATE orders SET refunded_net = refunded_net + ?1, points_refunded = points_refunded + ?2,
            credit_refunded = credit_refunded + ?3, earned_reversed = earned_reversed + ?4 WHERE seq = ?5",
        params![net, points, credit, reversal, order_seq],
    )?;
    exec(
        c,
        "UPDATE customers SET total_spent = max(0, total_spent - ?1) WHERE seq = ?2",
        params![net, customer_seq],
    )?;
    exec(
        c,
        "INSERT INTO returns (id, order_seq, fingerprint, at, actor, lines, net, points_refund, credit_refund,
            money_refund, earned_reversal, unrecovered_points, store, hlc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            id,
            order_seq,
            text(b, "fingerprint").unwrap_or_default(),
            int(b, "at").unwrap_or(0),
            text(b, "actor").unwrap_or("sync"),
            lines_text,
            net,
            points,
            credit,
            int(b, "money_refund").unwrap_or(0),
            reversal,
            int(b, "unrecovered_points").unwrap_or(0),
            store,
            text(b, "hlc"),
        ],
    )?;
    report.applied += 1;
    Ok(())
}

fn apply_membership(c: &Connection, b: &Value, report: &mut ApplyReport) -> Result<()> {
    let (Some(group), Some(customer), Some(hlc)) =
        (text(b, "group_id"), text(b, "customer_id"), text(b, "hlc"))
    else {
        return Err(bad("membership", "incomplete"));
    };
    let member = b.get("member").and_then(Value::as_bool).unwrap_or(false);
    let seq = seq_of_id(c, customer)?.ok_or_else(|| bad("membership", "unknown customer"))?;
    if merge_membership(c, group, seq, member, hlc, skew_bound(c)?)? {
        report.applied += 1;
    }
    Ok(())
}

/// A manual membership stamped `hlc`, last writer wins per (group, customer);
/// removals stay as tombstones. Returns whether it changed anything.
pub(crate) fn merge_membership(
    c: &Connection,
    group: &str,
    seq: i64,
    member: bool,
    hlc: &str,
    bound: u64,
) -> Result<bool> {
    let local: Option<String> = c
        .query_row(
            "SELECT hlc FROM membership_clocks WHERE group_id = ?1 AND customer_seq = ?2",
            params![group, seq],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    if local.as_deref().is_some_and(|l| !newer(hlc, l, bound)) {
        return Ok(false);
    }
    let kind: Option<String> = c
        .query_row("SELECT kind FROM groups WHERE id = ?1", [group], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db_err)?;
    if kind.as_deref() != Some("manual") {
        return Ok(false);
    }
    exec(
        c,
        "INSERT INTO membership_clocks (group_id, customer_seq, member, hlc) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (group_id, customer_seq) DO UPDATE SET member = excluded.member, hlc = excluded.hlc",
        params![group, seq, member, hlc],
    )?;
    let sql = if member {
        "INSERT OR IGNORE INTO group_members (group_id, customer_seq) VALUES (?1, ?2)"
    } else {
        "DELETE FROM group_members WHERE group_id = ?1 AND customer_seq = ?2"
    };
    c.execute(sql, params![group, seq]).map_err(db_err)?;
    let id = customer_id(c, seq)?;
    mark(c, "membership", &format!("{group}:{id}"))?;
    Ok(true)
}

/// HQ: the customer-number blocks leased to `store`, as inclusive ranges.
pub fn leases_of(c: &Connection, store: &str) -> Result<Vec<(u64, u64)>> {
    c.prepare_cached("SELECT first, last FROM code_blocks WHERE store = ?1")
        .map_err(db_err)?
        .query_map([store], |r| {
            Ok((
                u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            ))
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)
}

fn upsert(c: &Connection, table: &str, key: &str, b: &Value) -> Result<()> {
    let obj = b.as_object().ok_or_else(|| bad(table, "not an object"))?;
    let allowed: Vec<String> = c
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .map_err(db_err)?
        .query_map([], |r| r.get(0))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    let cols: Vec<&String> = obj
        .keys()
        .filter(|k| allowed.contains(k) && k.as_str() != "id_local")
        .collect();
    if cols.is_empty() {
        return Err(bad(table, "no columns"));
    }
    let values: Vec<rusqlite::types::Value> = cols
        .iter()
        .map(|k| match &obj[k.as_str()] {
            Value::Null => rusqlite::types::Value::Null,
            Value::Bool(b) => rusqlite::types::Value::Integer(i64::from(*b)),
            Value::Number(n) => n.as_i64().map_or(
                rusqlite::types::Value::Null,
                rusqlite::types::Value::Integer,
            ),
            Value::String(s) => rusqlite::types::Value::Text(s.clone()),
            other => rusqlite::types::Value::Text(other.to_string()),
        })
        .collect();
    let names: Vec<&str> = cols.iter().map(|s| s.as_str()).collect();
    let updates: Vec<String> = names
        .iter()
        .filter(|n| **n != key)
        .map(|n| format!("{n} = excluded.{n}"))
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({key}) DO UPDATE SET {}",
        names.join(", "),
        vec!["?"; names.len()].join(", "),
        if updates.is_empty() {
            format!("{key} = excluded.{key}")
        } else {
            updates.join(", ")
        }
    );
    c.execute(&sql, rusqlite::params_from_iter(values))
        .map_err(db_err)?;
    Ok(())
}

fn apply_config(c: &Connection, kind: &str, b: &Value) -> Result<()> {
    match kind {
        "group" => {
            upsert(c, "groups", "id", b)?;
            // Filled after the page commits, in steps (`fill`), so that the
            // store's registers are not held up while its customers are scanned.
            if let Some(id) = text(b, "id")
                && matches!(text(b, "kind"), Some("auto" | "system"))
            {
                crate::fill::mark(c, id)?;
            }
        }
        "customer_type" => upsert(c, "customer_types", "id", b)?,
        "limit_profile" => upsert(c, "limit_profiles", "id", b)?,
        // The code counter is HQ's; stores draw from leased blocks.
        "setting" if text(b, "key") != Some("code_next") => upsert(c, "settings", "key", b)?,
        "user" => apply_user(c, b)?,
        "role" => upsert(c, "roles", "name", b)?,
        _ => {}
    }
    Ok(())
}

/// A user as HQ describes them, without credentials: a new user gets no
/// password hash until the store fetches its users' credentials; one who was
/// deactivated or moved to another store loses their sessions here at once.
fn apply_user(c: &Connection, b: &Value) -> Result<()> {
    let Some(username) = text(b, "username") else {
        return Err(bad("user", "a user change without a username"));
    };
    let active = b.get("active").and_then(Value::as_i64).unwrap_or(0) != 0;
    let store = text(b, "store");
    exec(
        c,
        "INSERT INTO users (username, password_hash, role, active, created_at, store)
         VALUES (?1, '', ?2, ?3, ?4, ?5)
         ON CONFLICT (username) DO UPDATE SET role = excluded.role, active = excluded.active,
            created_at = excluded.created_at, store = excluded.store",
        params![
            username,
            text(b, "role").unwrap_or(""),
            active,
            b.get("created_at").and_then(Value::as_i64).unwrap_or(0),
            store
        ],
    )?;
    let here = node(c)?.id;
    if !active || store.is_some_and(|s| s != here) {
        exec(
            c,
            "UPDATE users SET password_hash = '' WHERE username = ?1",
            params![username],
        )?;
        exec(
            c,
            "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = ?1)",
            params![username],
        )?;
    }
    Ok(())
}

/// Makes HQ's copy of its database fit for one store (`snapshot_into`): what
/// is HQ's alone or another store's goes, with `secure_delete` so the freed
/// pages are zeroed rather than kept (cheaper than a second VACUUM).
pub fn scrub_snapshot(path: &std::path::Path, store: &str) -> Result<()> {
    let mut c = Connection::open(path).map_err(db_err)?;
    c.execute_batch("PRAGMA secure_delete = ON; PRAGMA journal_mode = DELETE;")
        .map_err(db_err)?;
    let tx = c.transaction().map_err(db_err)?;
    tx.execute_batch(
        "DELETE FROM sessions; DELETE FROM stores; DELETE FROM code_blocks;
         DELETE FROM overdrafts; DELETE FROM outbox; DELETE FROM applied_ops;
         DELETE FROM refusals; DELETE FROM security_events; DELETE FROM receipt_outbox;
         DELETE FROM feed WHERE seq < (SELECT max(seq) FROM feed);
         DELETE FROM sync_state WHERE key NOT IN ('role', 'node_id', 'hlc');
         UPDATE users SET op_key = NULL;",
    )
    .map_err(db_err)?;
    tx.execute(
        "UPDATE users SET password_hash = '' WHERE NOT (active = 1 AND (store IS NULL OR store = ?1))",
        [store],
    )
    .map_err(db_err)?;
    tx.commit().map_err(db_err)
}

/// A store's next customer number from its leased blocks, or `None` when they
/// are used up.
pub fn take_block_number(c: &Connection) -> Result<Option<u64>> {
    let store = node(c)?.id;
    let block: Option<(i64, i64)> = c
        .query_row(
            "SELECT first, next FROM code_blocks WHERE store = ?1 AND next <= last ORDER BY first LIMIT 1",
            [&store],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db_err)?;
    let Some((first, next)) = block else {
        return Ok(None);
    };
    exec(
        c,
        "UPDATE code_blocks SET next = next + 1 WHERE store = ?1 AND first = ?2",
        params![store, first],
    )?;
    Ok(u64::try_from(next).ok())
}

/// The next number of a store's overflow series (codes used when its blocks
/// ran out while offline).
pub fn take_overflow_number(c: &Connection) -> Result<u64> {
    let n: u64 = get(c, "overflow_next")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    put(c, "overflow_next", &(n + 1).to_string())?;
    Ok(n)
}

pub fn customer_id_of(c: &Connection, seq: i64) -> Result<String> {
    customer_id(c, seq)
}
