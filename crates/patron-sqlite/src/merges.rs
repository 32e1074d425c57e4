//! Merging records of one person. The survivor keeps its code and fields
//! (filling only what it lacks); the others' orders, ledger entries,
//! overdrafts, manual memberships and totals move to it, rows moved and never
//! copied, so balances stay the sums of the same entries. A merged-away record
//! stays, inactive, pointing at the survivor (`merged_into`): its code and id
//! keep finding the survivor (`customers::seq_of`), and whatever a store later
//! sends about it lands there.
//!
//! HQ decides a merge; it reaches stores as a `merge` change in the feed,
//! which a store applies with the same `relink` to its own rows (including
//! sales it made offline that HQ has not seen yet).

use crate::customers::{self, by_seq};
use crate::groups::refresh_customer;
use crate::{db_err, micros};
use patron_domain::customer::{Field, ParseContext};
use patron_domain::duplicates::merge_fill;
use patron_domain::{Customer, FieldChange};
use patron_storage::{Actor, CustomerKey, Result, StorageError};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// At most this many records merged into one at a time.
pub const MAX_MERGED: usize = 20;

fn exec(c: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<()> {
    c.prepare_cached(sql)
        .map_err(db_err)?
        .execute(p)
        .map(|_| ())
        .map_err(db_err)
}

fn conflict(message: String) -> StorageError {
    StorageError::Conflict {
        field: "merge".into(),
        message,
    }
}

/// Moves everything of `from` to `into` and points `from` at it. The same on
/// every node; the caller records audit and feed.
pub fn relink(c: &Connection, from: i64, into: i64, into_id: &str, at: i64) -> Result<()> {
    for table in ["orders", "ledger", "overdrafts"] {
        exec(
            c,
            &format!("UPDATE {table} SET customer_seq = ?1 WHERE customer_seq = ?2"),
            params![into, from],
        )?;
    }
    // Manual memberships are the only ones a person has by hand; rule groups
    // are re-checked for the survivor afterwards.
    exec(
        c,
        "INSERT OR IGNORE INTO group_members (group_id, customer_seq)
         SELECT m.group_id, ?1 FROM group_members m JOIN groups g ON g.id = m.group_id
         WHERE m.customer_seq = ?2 AND g.kind = 'manual'",
        params![into, from],
    )?;
    exec(
        c,
        "DELETE FROM group_members WHERE customer_seq = ?1",
        params![from],
    )?;
    exec(
        c,
        "INSERT OR IGNORE INTO membership_clocks (group_id, customer_seq, member, hlc)
         SELECT group_id, ?1, member, hlc FROM membership_clocks WHERE customer_seq = ?2",
        params![into, from],
    )?;
    exec(
        c,
        "DELETE FROM membership_clocks WHERE customer_seq = ?1",
        params![from],
    )?;
    exec(
        c,
        "UPDATE customers SET
            total_spent = total_spent + (SELECT total_spent FROM customers WHERE seq = ?2),
            visits = visits + (SELECT visits FROM customers WHERE seq = ?2),
            points_balance = points_balance + (SELECT points_balance FROM customers WHERE seq = ?2),
            last_visit = CASE
                WHEN last_visit IS NULL THEN (SELECT last_visit FROM customers WHERE seq = ?2)
                WHEN (SELECT last_visit FROM customers WHERE seq = ?2) > last_visit
                    THEN (SELECT last_visit FROM customers WHERE seq = ?2)
                ELSE last_visit END,
            updated_at = ?3
         WHERE seq = ?1",
        params![into, from, at],
    )?;
    exec(
        c,
        "UPDATE customers SET total_spent = 0, visits = 0, points_balance = 0, last_visit = NULL,
            active = 0, merged_into = ?1, updated_at = ?2 WHERE seq = ?3",
        params![into_id, at, from],
    )
}

/// HQ's merge of `others` into `survivor`, audited and put in the feed.
pub fn merge(
    c: &Connection,
    actor: &Actor,
    survivor: &CustomerKey,
    others: &[CustomerKey],
    ctx: &ParseContext,
    today: Date,
) -> Result<Customer> {
    if others.is_empty() || others.len() > MAX_MERGED {
        return Err(StorageError::Invalid(
            patron_domain::FieldError::new(
                "others",
                format!("name 1 to {MAX_MERGED} customers to merge"),
            )
            .into(),
        ));
    }
    let s_seq = customers::seq_of(c, survivor)?;
    let s = by_seq(c, s_seq)?;
    if s.is_erased() {
        return Err(conflict("the survivor's data was erased".into()));
    }
    let at = micros(OffsetDateTime::now_utc());
    let mut merged_codes = Vec::new();
    for key in others {
        let o_seq = customers::seq_of(c, key)?;
        if o_seq == s_seq {
            return Err(conflict(format!(
                "{} is already the survivor (or merged into it)",
                key_text(key)
            )));
        }
        let o = by_seq(c, o_seq)?;
        // What the survivor lacks, from the other record; an email moves
        // (it is unique, so the other record gives it up first).
        let current = by_seq(c, s_seq)?;
        let fill = merge_fill(&current.data, &o.data);
        if fill.iter().any(|(f, _)| *f == Field::Email) {
            exec(
                c,
                "UPDATE customers SET email = NULL, email_key = NULL WHERE seq = ?1",
                params![o_seq],
            )?;
        }
        if !fill.is_empty() {
            customers::update_replica(c, s_seq, actor, &fill, ctx)?;
            let names: Vec<String> = fill.iter().map(|(f, _)| f.name().to_owned()).collect();
            crate::sync::customer_edited(c, s_seq, &names, actor)?;
        }
        relink(c, o_seq, s_seq, &s.id.to_string(), at)?;
        customers::audit_action(
            c,
            o_seq,
            actor,
            "merged-into",
            Some(&FieldChange {
                field: "code".into(),
                old: Some(o.code.as_str().to_owned()),
                new: Some(s.code.as_str().to_owned()),
            }),
        )?;
        customers::audit_action(
            c,
            s_seq,
            actor,
            "merge",
            Some(&FieldChange {
                field: "code".into(),
                old: Some(o.code.as_str().to_owned()),
                new: Some(s.code.as_str().to_owned()),
            }),
        )?;
        crate::sync::customer_edited(c, o_seq, &["active".to_owned()], actor)?;
        crate::sync::mark(c, "merge", &o.id.to_string())?;
        merged_codes.push(o.code.as_str().to_owned());
    }
    // The survivor's totals changed: so may its rule groups.
    crate::sync::mark(c, "customer", &s.id.to_string())?;
    refresh_customer(c, s_seq, today)?;
    tracing::info!(survivor = %s.code.as_str(), merged = ?merged_codes, "merged customers");
    by_seq(c, s_seq)
}

fn key_text(key: &CustomerKey) -> String {
    match key {
        CustomerKey::Id(id) => id.to_string(),
        CustomerKey::Code(code) => code.clone(),
    }
}

/// The feed's record of a merge: the merged-away id and its survivor.
pub fn merge_body(c: &Connection, id: &str) -> Result<Option<Value>> {
    let into: Option<Option<String>> = c
        .prepare_cached("SELECT merged_into FROM customers WHERE id = ?1")
        .map_err(db_err)?
        .query_row([id], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    Ok(into.flatten().map(|into| json!({"id": id, "into": into})))
}

/// A store applies HQ's merge to its own rows; applying it twice changes nothing.
pub fn apply_merge(c: &Connection, actor: &Actor, b: &Value, today: Date) -> Result<bool> {
    let text = |k: &str| b.get(k).and_then(Value::as_str);
    let (Some(id), Some(into)) = (text("id"), text("into")) else {
        return Err(StorageError::Invalid(
            patron_domain::FieldError::new("changes", "merge: no id or survivor").into(),
        ));
    };
    let (Ok(from_id), Ok(into_id)) = (Uuid::parse_str(id), Uuid::parse_str(into)) else {
        return Err(StorageError::Invalid(
            patron_domain::FieldError::new("changes", "merge: bad id").into(),
        ));
    };
    let row = |id: &Uuid| -> Result<Option<(i64, Option<String>)>> {
        c.prepare_cached("SELECT seq, merged_into FROM customers WHERE id = ?1")
            .map_err(db_err)?
            .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db_err)
    };
    let (Some((from, already)), Some(_)) = (row(&from_id)?, row(&into_id)?) else {
        return Err(StorageError::Invalid(
            patron_domain::FieldError::new("changes", "merge: unknown customer").into(),
        ));
    };
    if already.is_some() {
        return Ok(false);
    }
    let into_seq = customers::seq_of(c, &CustomerKey::Id(into_id))?;
    if into_seq == from {
        return Ok(false);
    }
    let at = micros(OffsetDateTime::now_utc());
    relink(c, from, into_seq, &into_id.to_string(), at)?;
    customers::audit_action(c, from, actor, "merged-into", None)?;
    refresh_customer(c, into_seq, today)?;
    Ok(true)
}
