//! The embedded SQLite backend: one database file in the node's data directory.
//!
//! Concurrency model: one writer connection behind a mutex (SQLite allows one
//! writer at a time anyway, and a single connection keeps its statement cache
//! warm) and a small pool of reader connections that WAL mode lets run beside it.
//! All calls run on tokio's blocking pool so a slow disk never stalls the runtime.

mod customers;
mod search;
mod settings;
mod users;

use async_trait::async_trait;
use patron_domain::Username;
use patron_storage::*;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a cached copy of the settings is used. Another process (a second
/// node on the same directory) changing them is seen within this time.
const SETTINGS_TTL: Duration = Duration::from_secs(2);

const MIGRATIONS: &[&str] = &[include_str!("../migrations/0001_init.sql")];

/// The file name of the database inside a data directory.
pub const DB_FILE: &str = "patron.db";

/// Idle reader connections kept open; more are opened under load and dropped after.
const READER_POOL: usize = 8;

#[derive(Clone)]
pub struct SqliteStorage {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Settings are read on every request (phone region, code format) and
    /// change rarely; a short-lived copy saves a database round trip each time.
    settings: Mutex<Option<(Settings, Instant)>>,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn backend(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(e.to_string())
}

pub(crate) fn db_err(e: rusqlite::Error) -> StorageError {
    backend(e)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // A second process (`patron user add` beside a running server) waits for the
    // writer instead of failing with SQLITE_BUSY.
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Committed means on disk: a write that was answered survives a power cut.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -65536)?; // 64 MiB page cache
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

impl SqliteStorage {
    /// Opens (creating if needed) the database in `dir` and applies migrations.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| backend(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        let mut writer = Connection::open(&path)
            .map_err(|e| backend(format!("cannot open {}: {e}", path.display())))?;
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        configure(&writer).map_err(db_err)?;
        migrate(&mut writer)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                settings: Mutex::new(None),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    fn open_reader(path: &Path) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db_err)?;
        configure(&conn).map_err(db_err)?;
        Ok(conn)
    }

    /// Runs `f` on a reader connection, on the blocking pool.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().map_err(backend)?.pop();
            let conn = match pooled {
                Some(c) => c,
                None => Self::open_reader(&inner.path)?,
            };
            let out = f(&conn);
            let mut pool = inner.readers.lock().map_err(backend)?;
            if pool.len() < READER_POOL {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(backend)?
    }

    /// Runs `f` in one immediate transaction on the writer, committing if it
    /// returns `Ok` and rolling back otherwise.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            // A panic inside a transaction poisons the mutex; the connection itself
            // is still sound (the transaction was rolled back on drop).
            let mut conn = inner
                .writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_err)?;
            let out = f(&tx)?;
            tx.commit().map_err(db_err)?;
            Ok(out)
        })
        .await
        .map_err(backend)?
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let version: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
        .map_err(db_err)?
        .try_into()
        .map_err(backend)?;
    if version > MIGRATIONS.len() {
        return Err(backend(format!(
            "the database is from a newer Patron (schema {version}, this build knows {})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .map_err(db_err)?;
        tx.execute_batch(sql).map_err(db_err)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        tracing::info!(migration = i + 1, "applied database migration");
    }
    Ok(())
}

pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

pub(crate) fn from_micros(m: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn settings(&self) -> Result<Settings> {
        if let Ok(cache) = self.inner.settings.lock()
            && let Some((s, _)) = cache.as_ref().filter(|(_, at)| at.elapsed() < SETTINGS_TTL)
        {
            return Ok(s.clone());
        }
        let s = self.read(settings::load).await?;
        if let Ok(mut cache) = self.inner.settings.lock() {
            *cache = Some((s.clone(), Instant::now()));
        }
        Ok(s)
    }

    async fn update_settings(&self, _actor: &Actor, s: &Settings) -> Result<Settings> {
        let s = s.clone();
        let saved = self
            .write(move |tx| {
                settings::save(tx, &s)?;
                settings::load(tx)
            })
            .await?;
        if let Ok(mut cache) = self.inner.settings.lock() {
            *cache = Some((saved.clone(), Instant::now()));
        }
        Ok(saved)
    }

    async fn create_customer(&self, actor: &Actor, new: NewCustomer) -> Result<Customer> {
        let actor = actor.clone();
        self.write(move |tx| customers::create(tx, &actor, new))
            .await
    }

    async fn import_customers(&self, actor: &Actor, rows: ImportStream) -> Result<ImportOutcome> {
        let actor = actor.clone();
        self.write(move |tx| customers::import(tx, &actor, rows))
            .await
    }

    async fn customer(&self, key: &CustomerKey) -> Result<Customer> {
        let key = key.clone();
        self.read(move |c| customers::get(c, &key)).await
    }

    async fn update_customer(
        &self,
        actor: &Actor,
        key: &CustomerKey,
        patch: CustomerPatch,
        ctx: ParseContext,
    ) -> Result<Customer> {
        let (actor, key) = (actor.clone(), key.clone());
        self.write(move |tx| customers::update(tx, &actor, &key, &patch, &ctx))
            .await
    }

    async fn set_customer_active(
        &self,
        actor: &Actor,
        key: &CustomerKey,
        active: bool,
    ) -> Result<Customer> {
        let (actor, key) = (actor.clone(), key.clone());
        self.write(move |tx| customers::set_active(tx, &actor, &key, active))
            .await
    }

    async fn customer_audit(&self, key: &CustomerKey) -> Result<Vec<AuditEntry>> {
        let key = key.clone();
        self.read(move |c| customers::audit_trail(c, &key)).await
    }

    async fn list_customers(&self, query: &CustomerQuery) -> Result<Page<Customer>> {
        let query = query.clone();
        let code_format = self.settings().await?.code_format;
        self.read(move |c| search::list(c, &query, &code_format))
            .await
    }

    async fn count_customers(&self) -> Result<u64> {
        self.read(|c| {
            c.query_row("SELECT count(*) FROM customers", [], |r| r.get::<_, i64>(0))
                .map(|n| n.max(0) as u64)
                .map_err(db_err)
        })
        .await
    }

    async fn create_user(&self, _actor: &Actor, new: NewUser) -> Result<User> {
        self.write(move |tx| users::create(tx, new)).await
    }

    async fn users(&self) -> Result<Vec<User>> {
        self.read(users::all).await
    }

    async fn user_credentials(&self, username: &Username) -> Result<Option<(User, String)>> {
        let username = username.clone();
        self.read(move |c| users::credentials(c, &username)).await
    }

    async fn create_session(&self, session: NewSession) -> Result<()> {
        self.write(move |tx| users::create_session(tx, &session))
            .await
    }

    async fn session_user(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<User>> {
        let token_hash = token_hash.to_owned();
        self.read(move |c| users::session_user(c, &token_hash, now))
            .await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |tx| {
            tx.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])
                .map(|_| ())
                .map_err(db_err)
        })
        .await
    }
}

#[cfg(test)]
mod conformance {
    use patron_storage::storage_conformance_tests;
    use std::sync::Arc;

    fn fresh() -> patron_storage::conformance::Store {
        // The directory must outlive the store; leaking it in a test is harmless.
        let dir = tempfile::tempdir().expect("tempdir").keep();
        Arc::new(super::SqliteStorage::open(&dir).expect("open"))
    }

    storage_conformance_tests!(fresh());
}
