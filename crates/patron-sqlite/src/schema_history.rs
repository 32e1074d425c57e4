//! Test support: databases as older builds left them.
//!
//! [`create_at`] applies the schema steps one by one up to a version, exactly
//! as [`crate::SqliteStorage::open`] does (the same SQL and fills, the same
//! `user_version`), and lets the caller write rows after each step, at the
//! schema that release had. Opening the result with today's build then
//! upgrades it the way a node in the field is upgraded
//! (`tests/schema_upgrades.rs`).

use crate::{MIGRATIONS, backend, configure, db_err};
use patron_storage::Result;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

/// The schema version this build migrates to.
pub const LATEST: usize = MIGRATIONS.len();

/// Creates the database file `path` at schema `version`, calling
/// `seed(v, conn)` after step `v` (1-based) is committed, for every step up to
/// `version`. The connection is configured as a node's (foreign keys on,
/// WAL), so seeded rows must satisfy the constraints the code met then.
pub fn create_at(
    path: &Path,
    version: usize,
    seed: impl Fn(usize, &Connection) -> Result<()>,
) -> Result<()> {
    if version == 0 || version > LATEST {
        return Err(backend(format!(
            "schema {version} does not exist (1..={LATEST})"
        )));
    }
    let mut conn = Connection::open(path).map_err(db_err)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(db_err)?;
    configure(&conn).map_err(db_err)?;
    for (i, m) in MIGRATIONS.iter().enumerate().take(version) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .map_err(db_err)?;
        tx.execute_batch(m.sql).map_err(db_err)?;
        if let Some(fill) = m.fill {
            fill(&tx)?;
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        seed(i + 1, &conn)?;
    }
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(db_err)?;
    Ok(())
}
