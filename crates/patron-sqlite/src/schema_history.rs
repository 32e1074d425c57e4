//! Test support: databases as older builds left them.
//!
//! [`create_at`] applies the schema steps one by one up to a version, exactly
//! as [`crate::SqliteStorage::open`] does (the same SQL and fills, the same
//! `user_version`), and lets the caller write rows after each step, at the
//! schema that release had. Opening the result with today's build then
//! upgrades it the way a node in the field is upgraded
//! (`tests/schema_upgrades.rs`).

use crate::{MIGRATIONS, apply_migration, backend, configure, db_err};
use patron_storage::Result;
use rusqlite::Connection;
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
    for step in 1..=version {
        apply_migration(&mut conn, step)?;
        seed(step, &conn)?;
    }
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(db_err)?;
    Ok(())
}
