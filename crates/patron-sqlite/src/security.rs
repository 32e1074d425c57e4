//! The security log: sign-ins, refusals and account changes, per node.

use crate::{db_err, from_micros, micros};
use patron_storage::{Result, SecurityEvent, SecurityQuery};
use rusqlite::{Connection, params};

/// Lines kept: the oldest go when a batch takes the log past this.
const KEEP: i64 = 1_000_000;

pub fn record(c: &Connection, events: &[SecurityEvent]) -> Result<()> {
    let mut st = c
        .prepare_cached(
            "INSERT INTO security_events (at, kind, username, client, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(db_err)?;
    for e in events {
        st.execute(params![
            micros(e.at),
            e.kind,
            e.username,
            e.client,
            e.detail
        ])
        .map_err(db_err)?;
    }
    let last = c.last_insert_rowid();
    if last > KEEP && last % 1_000 < events.len() as i64 {
        c.execute("DELETE FROM security_events WHERE id <= ?1", [last - KEEP])
            .map_err(db_err)?;
    }
    Ok(())
}

pub fn list(c: &Connection, q: &SecurityQuery) -> Result<Vec<SecurityEvent>> {
    let mut st = c
        .prepare_cached(
            "SELECT id, at, kind, username, client, detail FROM security_events
             WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR username = ?2)
               AND (?3 IS NULL OR id < ?3)
             ORDER BY id DESC LIMIT ?4",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map(
            params![q.kind, q.username, q.before, q.limit.min(1_000) as i64],
            |r| {
                Ok(SecurityEvent {
                    id: r.get(0)?,
                    at: from_micros(r.get(1)?),
                    kind: r.get(2)?,
                    username: r.get(3)?,
                    client: r.get(4)?,
                    detail: r.get(5)?,
                })
            },
        )
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
}
