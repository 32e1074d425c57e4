//! The embedded SQLite backend: one database file in the node's data directory.
//!
//! Concurrency model: one writer thread owning the writer connection (SQLite
//! allows one writer at a time anyway) that group-commits whatever writes are
//! waiting (see `writer`), and a small pool of reader connections that WAL mode
//! lets run beside it on tokio's blocking pool, so a slow disk never stalls the
//! runtime.

pub mod bench_support;
mod bounded;
mod checkout;
mod customers;
mod duplicates;
mod fill;
mod groups;
mod import;
mod loyalty;
mod merges;
mod ops;
mod preview;
mod receipts;
mod reports;
pub mod rule_sql;
#[doc(hidden)]
pub mod schema_history;
mod search;
mod security;
mod settings;
mod sync;
mod users;
mod writer;

use async_trait::async_trait;
use patron_domain::Username;
use patron_domain::loyalty::{Account, LoyaltySettings};
use patron_storage::*;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How long evaluating a rule over every customer may take before it is
/// stopped (`StorageError::TimedOut`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleDeadlines {
    /// A preview, asked for while someone writes the rule.
    pub preview: Duration,
    /// Filling a group: runs on a reader, beside the writer, so it may take
    /// longer; a fill that times out stays marked and is retried by the
    /// scheduler.
    pub fill: Duration,
}

impl Default for RuleDeadlines {
    fn default() -> Self {
        RuleDeadlines {
            preview: Duration::from_secs(5),
            fill: Duration::from_secs(60),
        }
    }
}

/// How long a cached copy of the settings is used. Another process (a second
/// node on the same directory) changing them is seen within this time.
const SETTINGS_TTL: Duration = Duration::from_secs(2);

/// A schema step: its SQL, then (in the same transaction) any filling of
/// derived columns that needs the domain's Rust code.
struct Migration {
    sql: &'static str,
    fill: Option<fn(&Connection) -> Result<()>>,
}

const fn sql(sql: &'static str) -> Migration {
    Migration { sql, fill: None }
}

const MIGRATIONS: &[Migration] = &[
    sql(include_str!("../migrations/0001_init.sql")),
    sql(include_str!("../migrations/0002_loyalty.sql")),
    sql(include_str!("../migrations/0003_sync.sql")),
    sql(include_str!("../migrations/0004_feed_backfill.sql")),
    sql(include_str!("../migrations/0005_ops.sql")),
    sql(include_str!("../migrations/0006_accounts.sql")),
    sql(include_str!("../migrations/0007_group_fills.sql")),
    Migration {
        sql: include_str!("../migrations/0008_duplicates_erasure.sql"),
        fill: Some(customers::fill_duplicate_keys),
    },
    sql(include_str!("../migrations/0009_merges.sql")),
    sql(include_str!("../migrations/0010_import.sql")),
    sql(include_str!("../migrations/0011_field_authors.sql")),
    sql(include_str!("../migrations/0012_receipts.sql")),
    sql(include_str!("../migrations/0013_reports.sql")),
    Migration {
        sql: include_str!("../migrations/0014_phone_display.sql"),
        fill: Some(customers::fill_phone_display),
    },
];

/// Customer codes HQ leases to one store in 24 hours at most.
pub const MAX_CODES_LEASED_A_DAY: u64 = 20_000;

/// The file name of the database inside a data directory.
pub const DB_FILE: &str = "patron.db";

/// What a database file holds, read without changing it: a backup checked
/// before it is restored, or a node's own database for `patron doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    /// The schema version the file is at, and the newest this build knows.
    pub schema: usize,
    pub known_schema: usize,
    /// `HQ` or the store's id.
    pub node: String,
    pub customers: u64,
    pub orders: u64,
    /// What `PRAGMA integrity_check` found wrong; empty when all is well.
    pub problems: Vec<String>,
    /// A store: changes made here that HQ has not confirmed.
    pub pending_outbound: u64,
    /// HQ: each store with when it was last heard from (unix seconds) and how
    /// many feed changes it has not pulled.
    pub stores: Vec<(String, Option<i64>, i64)>,
}

/// Opens `path` read-only and checks it; changes nothing.
pub fn check_file(path: &Path) -> Result<FileCheck> {
    let c = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| backend(format!("cannot open {}: {e}", path.display())))?;
    let schema: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|_| backend(format!("{} is not a SQLite database", path.display())))?;
    let schema = usize::try_from(schema).map_err(backend)?;
    let mut problems = integrity_problems(&c)?;
    if schema == 0 {
        problems.push("it holds no Patron schema".into());
    }
    let count = |table: &str| -> u64 {
        c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| u64::try_from(n).unwrap_or(0))
        .unwrap_or(0)
    };
    let node = c
        .query_row(
            "SELECT value FROM sync_state WHERE key = 'node_id'",
            [],
            |r| r.get::<_, String>(0),
        )
        .unwrap_or_else(|_| "HQ".to_owned());
    let head: i64 = c
        .query_row("SELECT coalesce(max(seq), 0) FROM feed", [], |r| r.get(0))
        .unwrap_or(0);
    let stores = c
        .prepare(
            "SELECT id, last_seen, pulled_seq FROM stores WHERE revoked_at IS NULL ORDER BY id",
        )
        .and_then(|mut st| {
            st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?.map(|m| m / 1_000_000),
                    head - r.get::<_, i64>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .unwrap_or_default();
    Ok(FileCheck {
        schema,
        known_schema: MIGRATIONS.len(),
        node,
        customers: count("customers"),
        orders: count("orders"),
        problems,
        pending_outbound: count("outbox"),
        stores,
    })
}

/// Reader connections: at most this many, opened on first use and kept.
/// Requests beyond them wait for one (each connection holds file handles; a
/// burst of requests must not exhaust the process's limit).
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
    writer: writer::Writer,
    feed_head: tokio::sync::watch::Receiver<i64>,
    readers: Mutex<Vec<Connection>>,
    /// One permit per reader connection; waited for before taking a thread.
    reader_permits: Arc<tokio::sync::Semaphore>,
    rule_deadlines: Mutex<RuleDeadlines>,
    /// Rule evaluations stopped at their deadline or for want of a caller.
    stopped_evaluations: AtomicU64,
    /// Whether sales made here queue a receipt email (a node setting: the
    /// mail server is this node's).
    receipt_mail: Mutex<ReceiptMail>,
}

impl SqliteStorage {
    fn receipt_mail(&self) -> ReceiptMail {
        self.inner
            .receipt_mail
            .lock()
            .map(|m| *m)
            .unwrap_or(ReceiptMail::Off)
    }
}

fn backend(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(e.to_string())
}

pub(crate) fn db_err(e: rusqlite::Error) -> StorageError {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        return StorageError::DiskFull;
    }
    backend(e)
}

pub(crate) fn invalid(field: &str, message: &str) -> StorageError {
    StorageError::Invalid(patron_domain::FieldError::new(field, message).into())
}

/// The WAL file is truncated to this after a checkpoint (64 MiB).
pub const WAL_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // A second process (`patron user add` beside a running server) waits for the
    // writer instead of failing with SQLITE_BUSY.
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Committed means on disk: a write that was answered survives a power cut.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -65536)?; // 64 MiB page cache
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Each checkpoint that resets the WAL cuts its file back to this size: a
    // burst of writes does not leave gigabytes behind for good.
    conn.pragma_update(None, "journal_size_limit", WAL_LIMIT_BYTES)?;
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
        sync::forget_cached_state(&writer);
        let head = writer::feed_head(&writer);
        let (head_tx, feed_head) = tokio::sync::watch::channel(head);
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                settings: Mutex::new(None),
                writer: writer::Writer::start(writer, head_tx)?,
                feed_head,
                readers: Mutex::new(Vec::new()),
                reader_permits: Arc::new(tokio::sync::Semaphore::new(READER_POOL)),
                rule_deadlines: Mutex::new(RuleDeadlines::default()),
                stopped_evaluations: AtomicU64::new(0),
                receipt_mail: Mutex::new(ReceiptMail::Off),
            }),
        })
    }

    /// Replaces the deadlines of rule evaluations (for tests, and nodes with
    /// unusual hardware).
    pub fn set_rule_deadlines(&self, deadlines: RuleDeadlines) {
        if let Ok(mut d) = self.inner.rule_deadlines.lock() {
            *d = deadlines;
        }
    }

    pub fn rule_deadlines(&self) -> RuleDeadlines {
        self.inner
            .rule_deadlines
            .lock()
            .map(|d| *d)
            .unwrap_or_default()
    }

    /// How many rule evaluations (previews, fills) were stopped since the
    /// database was opened, at their deadline or because nobody waited for
    /// the answer any more.
    pub fn stopped_rule_evaluations(&self) -> u64 {
        self.inner.stopped_evaluations.load(Ordering::Relaxed)
    }

    /// Counts and logs a stopped rule evaluation on its way to the caller.
    fn note_stopped<T>(&self, out: Result<T>) -> Result<T> {
        if let Err(StorageError::TimedOut(why)) = &out {
            self.inner
                .stopped_evaluations
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(%why, "rule evaluation stopped");
        }
        out
    }

    /// Today's local date, the one rules are evaluated as of.
    async fn local_today(&self) -> Result<time::Date> {
        let s = self.read(loyalty::load_settings).await?;
        Ok(checkout::local_today(&s, OffsetDateTime::now_utc()))
    }

    /// Fills the groups waiting for it, after a write that marked them and
    /// whose own data is committed: a failure is logged, and the groups stay
    /// marked for the scheduler to retry.
    async fn fill_pending_after_write(&self) {
        let pending = match self.pending_fills().await {
            Ok(p) if p.is_empty() => return,
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the groups waiting for a fill");
                return;
            }
        };
        match self.local_today().await {
            Ok(today) => {
                self.fill_all(pending, today).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "filling rule-driven groups failed; the scheduler retries");
            }
        }
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

    /// For tests where no small file system can be mounted: caps the database
    /// at its present size, so the next write that needs a new page fails as
    /// on a full disk (SQLITE_FULL); `false` lifts the cap again.
    #[doc(hidden)]
    pub async fn cap_size_for_tests(&self, capped: bool) -> Result<()> {
        self.write(move |c| {
            let pages: i64 = if capped {
                c.query_row("PRAGMA page_count", [], |r| r.get(0))
                    .map_err(db_err)?
            } else {
                i64::from(u32::MAX - 1)
            };
            c.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    /// Moves everything written into the database file itself (an empty
    /// write-ahead log), so the file alone is the whole database: done before
    /// a bootstrapped store's file is moved into place.
    pub async fn checkpoint(&self) -> Result<()> {
        // Between batches the writer holds no transaction, so a connection of
        // its own can checkpoint (waiting out a batch in flight).
        let path = self.inner.path.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let c = Connection::open(&path).map_err(db_err)?;
            c.busy_timeout(Duration::from_secs(30)).map_err(db_err)?;
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(db_err)?;
            Ok(())
        })
        .await
        .map_err(backend)?
    }

    /// Runs `f` on a reader connection, on the blocking pool.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        let permit = inner
            .reader_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(backend)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let pooled = inner.readers.lock().map_err(backend)?.pop();
            let conn = match pooled {
                Some(c) => c,
                None => Self::open_reader(&inner.path)?,
            };
            let out = f(&conn);
            inner.readers.lock().map_err(backend)?.push(conn);
            out
        })
        .await
        .map_err(backend)?
    }

    /// Runs `f` in a transaction on the writer, committing if it returns `Ok`
    /// and undoing its writes otherwise; answered once durable.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.inner.writer.write(f).await
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
    let pending = MIGRATIONS.len() - version;
    for step in version + 1..=MIGRATIONS.len() {
        apply_migration(conn, step)?;
        tracing::info!(migration = step, "applied database migration");
    }
    // A migration may rewrite every row (a fill): give the WAL back.
    if pending > 0 {
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(db_err)?;
    }
    Ok(())
}

/// Schema step `step` (1-based) and its fill, in one transaction that also
/// records the new version.
fn apply_migration(conn: &mut Connection, step: usize) -> Result<()> {
    let m = MIGRATIONS
        .get(step.wrapping_sub(1))
        .ok_or_else(|| backend(format!("there is no schema step {step}")))?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Exclusive)
        .map_err(db_err)?;
    tx.execute_batch(m.sql).map_err(db_err)?;
    if let Some(fill) = m.fill {
        fill(&tx)?;
    }
    tx.pragma_update(None, "user_version", step as i64)
        .map_err(db_err)?;
    tx.commit().map_err(db_err)
}

/// `PRAGMA integrity_check`'s findings (at most 100), without its "ok".
fn integrity_problems(c: &Connection) -> Result<Vec<String>> {
    let mut problems: Vec<String> = c
        .prepare("PRAGMA integrity_check(100)")
        .and_then(|mut st| {
            st.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db_err)?;
    problems.retain(|p| p != "ok");
    Ok(problems)
}

fn stores_where(c: &Connection, id: Option<&str>) -> Result<Vec<StoreInfo>> {
    let mut st = c
        .prepare(
            "SELECT id, name, created_at, last_seen, pushed_seq, pulled_seq, revoked_at FROM stores
             WHERE ?1 IS NULL OR id = ?1 ORDER BY id",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map([id], |r| {
            Ok(StoreInfo {
                id: r.get(0)?,
                name: r.get(1)?,
                created_at: from_micros(r.get(2)?),
                last_seen: r.get::<_, Option<i64>>(3)?.map(from_micros),
                pushed_seq: r.get(4)?,
                pulled_seq: r.get(5)?,
                revoked_at: r.get::<_, Option<i64>>(6)?.map(from_micros),
            })
        })
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
}

/// Gives a customer a type (or none), audited; the caller keeps clocks and groups.
pub(crate) fn set_type_row(
    c: &Connection,
    seq: i64,
    actor: &Actor,
    new: Option<&str>,
) -> Result<()> {
    let old: Option<String> = c
        .query_row("SELECT type_id FROM customers WHERE seq = ?1", [seq], |r| {
            r.get(0)
        })
        .map_err(db_err)?;
    let name = |id: Option<&str>| -> Result<Option<String>> {
        Ok(match id {
            Some(id) => loyalty::customer_type(c, id)?.map(|t| t.spec.name),
            None => None,
        })
    };
    let now = crate::micros(OffsetDateTime::now_utc());
    c.execute(
        "UPDATE customers SET type_id = ?1, updated_at = ?2 WHERE seq = ?3",
        rusqlite::params![new, now, seq],
    )
    .map_err(db_err)?;
    c.execute(
        "INSERT INTO customer_audit (customer_seq, at, actor, action, field, old_value, new_value)
         VALUES (?1, ?2, ?3, 'update', 'type', ?4, ?5)",
        rusqlite::params![seq, now, actor.username, name(old.as_deref())?, name(new)?],
    )
    .map_err(db_err)?;
    Ok(())
}

fn refresh_after_edit(tx: &Connection, id: uuid::Uuid) -> Result<()> {
    let seq = customers::seq_of(tx, &CustomerKey::Id(id))?;
    let today = checkout::local_today(&loyalty::load_settings(tx)?, OffsetDateTime::now_utc());
    groups::refresh_customer(tx, seq, today)
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
        self.create_customer_with_id(actor, Uuid::now_v7(), new)
            .await
            .map(|(c, _)| c)
    }

    async fn create_customer_with_id(
        &self,
        actor: &Actor,
        id: Uuid,
        new: NewCustomer,
    ) -> Result<(Customer, bool)> {
        let actor = actor.clone();
        self.write(move |tx| {
            let now = OffsetDateTime::now_utc();
            let (created, replay) = customers::create_idempotent(tx, &actor, new, id)?;
            if replay {
                return Ok((created, true));
            }
            let seq = customers::seq_of(tx, &CustomerKey::Id(created.id))?;
            checkout::after_create(tx, seq, &actor, now)?;
            ops::record(tx, &actor, || Ok(ops::create_body(&created)))?;
            Ok((created, false))
        })
        .await
    }

    async fn import_customers(
        &self,
        actor: &Actor,
        rows: ImportStream,
        opts: ImportOptions,
    ) -> Result<ImportOutcome> {
        let actor = actor.clone();
        let outcome = self
            .write(move |tx| {
                if sync::node(tx)?.role == NodeRole::Store {
                    return Err(invalid(
                        "data",
                        "imports run at HQ; a store receives the customers through sync",
                    ));
                }
                // Only a strict or a trial import pays for a savepoint: it undoes
                // the rows yet still reports what happened to each.
                let undo = opts.strict || opts.dry_run;
                if undo {
                    tx.execute_batch("SAVEPOINT import").map_err(db_err)?;
                }
                let mut outcome = import::import(tx, &actor, rows, opts)?;
                if undo {
                    if opts.dry_run || !outcome.rejected.is_empty() {
                        tx.execute_batch("ROLLBACK TO import; RELEASE import")
                            .map_err(db_err)?;
                        if !opts.dry_run {
                            outcome = ImportOutcome {
                                rejected: outcome.rejected,
                                ..ImportOutcome::default()
                            };
                        }
                    } else {
                        tx.execute_batch("RELEASE import").map_err(db_err)?;
                    }
                }
                Ok(outcome)
            })
            .await?;
        // An import writes its whole size into the WAL; give it back now
        // rather than keep a file as large as the import until the next burst.
        if !outcome.created.is_empty() {
            self.checkpoint().await?;
        }
        Ok(outcome)
    }

    async fn customer(&self, key: &CustomerKey) -> Result<Customer> {
        let key = key.clone();
        self.read(move |c| customers::get(c, &key)).await
    }

    async fn likely_same(
        &self,
        keys: &patron_domain::DuplicateKeys,
        except: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<patron_storage::LikelySame>> {
        let keys = keys.clone();
        self.read(move |c| duplicates::likely_same(c, &keys, except, limit))
            .await
    }

    async fn duplicate_clusters(
        &self,
        limit: usize,
        offset: usize,
    ) -> Result<patron_storage::DuplicateReport> {
        self.read(move |c| duplicates::clusters(c, limit, offset))
            .await
    }

    async fn merge_customers(
        &self,
        actor: &Actor,
        survivor: &CustomerKey,
        others: Vec<CustomerKey>,
        ctx: ParseContext,
    ) -> Result<Customer> {
        let (actor, survivor) = (actor.clone(), survivor.clone());
        self.write(move |tx| {
            let today =
                checkout::local_today(&loyalty::load_settings(tx)?, OffsetDateTime::now_utc());
            merges::merge(tx, &actor, &survivor, &others, &ctx, today)
        })
        .await
    }

    async fn erase_customer(&self, actor: &Actor, key: &CustomerKey) -> Result<Customer> {
        let (actor, key) = (actor.clone(), key.clone());
        self.write(move |tx| {
            let erased = customers::erase(tx, &actor, &key)?;
            refresh_after_edit(tx, erased.id)?;
            Ok(erased)
        })
        .await
    }

    async fn update_customer(
        &self,
        actor: &Actor,
        key: &CustomerKey,
        patch: CustomerPatch,
        ctx: ParseContext,
    ) -> Result<Customer> {
        let (actor, key) = (actor.clone(), key.clone());
        self.write(move |tx| {
            let (updated, changes) = customers::update(tx, &actor, &key, &patch, &ctx)?;
            refresh_after_edit(tx, updated.id)?;
            if !changes.is_empty() {
                ops::record(tx, &actor, || Ok(ops::edit_body(&updated, &changes)))?;
            }
            Ok(updated)
        })
        .await
    }

    async fn set_customer_active(
        &self,
        actor: &Actor,
        key: &CustomerKey,
        active: bool,
    ) -> Result<Customer> {
        let (actor, key) = (actor.clone(), key.clone());
        self.write(move |tx| {
            let (c, changed) = customers::set_active(tx, &actor, &key, active)?;
            refresh_after_edit(tx, c.id)?;
            if changed {
                ops::record(tx, &actor, || {
                    Ok(patron_storage::ops::OpBody::SetActive { id: c.id, active })
                })?;
            }
            Ok(c)
        })
        .await
    }

    async fn customer_audit(&self, key: &CustomerKey) -> Result<Vec<AuditEntry>> {
        let key = key.clone();
        self.read(move |c| customers::audit_trail(c, &key)).await
    }

    async fn list_customers(&self, query: &CustomerQuery) -> Result<Page<Customer>> {
        let query = query.clone();
        let code_format = self.settings().await?.code_format;
        self.read(move |c| {
            let query = groups::resolve_filter(c, query)?;
            search::list(c, &query, &code_format)
        })
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

    async fn update_user(
        &self,
        _actor: &Actor,
        username: &Username,
        change: UserChange,
    ) -> Result<User> {
        let username = username.clone();
        self.write(move |tx| users::update(tx, &username, change))
            .await
    }

    async fn role(&self, name: &str) -> Result<Option<patron_domain::Role>> {
        let name = name.to_owned();
        self.read(move |c| users::find_role(c, &name)).await
    }

    async fn custom_roles(&self) -> Result<Vec<patron_domain::Role>> {
        self.read(users::custom_roles).await
    }

    async fn put_role(
        &self,
        _actor: &Actor,
        role: patron_domain::Role,
    ) -> Result<patron_domain::Role> {
        self.write(move |tx| users::put_role(tx, &role)).await
    }

    async fn delete_role(&self, _actor: &Actor, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.write(move |tx| users::delete_role(tx, &name)).await
    }

    async fn record_security_events(&self, events: Vec<SecurityEvent>) -> Result<()> {
        self.write(move |tx| security::record(tx, &events)).await
    }

    async fn security_events(&self, query: &SecurityQuery) -> Result<Vec<SecurityEvent>> {
        let query = query.clone();
        self.read(move |c| security::list(c, &query)).await
    }

    async fn store_credentials(&self, store: &str) -> Result<Vec<Credential>> {
        let store = store.to_owned();
        self.read(move |c| users::store_credentials(c, &store))
            .await
    }

    async fn adopt_credentials(&self, credentials: Vec<Credential>) -> Result<Vec<String>> {
        self.write(move |tx| users::adopt_credentials(tx, &credentials))
            .await
    }

    async fn loyalty_settings(&self) -> Result<LoyaltySettings> {
        self.read(loyalty::load_settings).await
    }

    async fn update_loyalty_settings(
        &self,
        _actor: &Actor,
        s: &LoyaltySettings,
    ) -> Result<LoyaltySettings> {
        let s = s.clone();
        self.write(move |tx| {
            loyalty::save_settings(tx, &s)?;
            loyalty::load_settings(tx)
        })
        .await
    }

    async fn customer_types(&self) -> Result<Vec<CustomerType>> {
        self.read(loyalty::customer_types).await
    }

    async fn save_customer_type(
        &self,
        _actor: &Actor,
        id: Option<Uuid>,
        spec: CustomerTypeSpec,
    ) -> Result<CustomerType> {
        self.write(move |tx| {
            let id = match id {
                Some(id) => {
                    loyalty::customer_type(tx, &id.to_string())?.ok_or(StorageError::NotFound)?;
                    id
                }
                None => Uuid::now_v7(),
            };
            loyalty::save_customer_type(tx, id, &spec)?;
            loyalty::customer_type(tx, &id.to_string())?.ok_or(StorageError::NotFound)
        })
        .await
    }

    async fn set_customer_type(
        &self,
        actor: &Actor,
        key: &CustomerKey,
        type_id: Option<Uuid>,
    ) -> Result<Customer> {
        let (actor, key) = (actor.clone(), key.clone());
        self.write(move |tx| {
            let seq = customers::seq_of(tx, &key)?;
            let old: Option<String> = tx
                .query_row("SELECT type_id FROM customers WHERE seq = ?1", [seq], |r| {
                    r.get(0)
                })
                .map_err(db_err)?;
            let new = type_id.map(|t| t.to_string());
            if let Some(t) = &new
                && loyalty::customer_type(tx, t)?.is_none()
            {
                return Err(invalid("type_id", "no such customer type"));
            }
            if old != new {
                sync::customer_edited(tx, seq, &["type".to_owned()], &actor)?;
                set_type_row(tx, seq, &actor, new.as_deref())?;
            }
            let c = customers::by_seq(tx, seq)?;
            refresh_after_edit(tx, c.id)?;
            if old != new {
                ops::record(tx, &actor, || {
                    Ok(patron_storage::ops::OpBody::SetType { id: c.id, type_id })
                })?;
            }
            Ok(c)
        })
        .await
    }

    async fn limit_profiles(&self) -> Result<Vec<LimitProfile>> {
        self.read(loyalty::limit_profiles).await
    }

    async fn save_limit_profile(
        &self,
        _actor: &Actor,
        profile: LimitProfile,
    ) -> Result<LimitProfile> {
        self.write(move |tx| {
            loyalty::save_limit_profile(tx, &profile)?;
            loyalty::limit_profile(tx, &profile.id.to_string())?.ok_or(StorageError::NotFound)
        })
        .await
    }

    async fn groups(&self, query: &GroupQuery) -> Result<Vec<Group>> {
        let query = query.clone();
        self.read(move |c| groups::list(c, &query)).await
    }

    async fn group(&self, id: Uuid) -> Result<Group> {
        self.read(move |c| groups::get(c, id)).await
    }

    async fn save_group(
        &self,
        _actor: &Actor,
        id: Option<Uuid>,
        spec: GroupSpec,
        today: time::Date,
    ) -> Result<Group> {
        let (id, fill) = self
            .write(move |tx| groups::save(tx, id, &spec, OffsetDateTime::now_utc()))
            .await?;
        if fill {
            self.fill(id.to_string(), today).await?;
        }
        self.group(id).await
    }

    async fn change_members(
        &self,
        actor: &Actor,
        target: &MemberTarget,
        customers: &[CustomerKey],
        add: bool,
    ) -> Result<MembershipChange> {
        let (target, keys, actor) = (target.clone(), customers.to_vec(), actor.clone());
        self.write(move |tx| {
            let mut seqs = Vec::with_capacity(keys.len());
            for (i, k) in keys.iter().enumerate() {
                match customers::seq_of(tx, k) {
                    Ok(s) => seqs.push(s),
                    Err(StorageError::NotFound) => {
                        return Err(invalid(&format!("customers[{i}]"), "no such customer"));
                    }
                    Err(e) => return Err(e),
                }
            }
            let change = groups::change_members(tx, &target, &seqs, add)?;
            ops::record(tx, &actor, || {
                Ok(patron_storage::ops::OpBody::Members {
                    groups: match &target {
                        MemberTarget::Groups(g) => Some(g.clone()),
                        MemberTarget::AllManual => None,
                    },
                    customers: seqs
                        .iter()
                        .map(|s| customers::by_seq(tx, *s).map(|c| c.id))
                        .collect::<Result<_>>()?,
                    add,
                })
            })?;
            Ok(change)
        })
        .await
    }

    async fn group_members(&self, id: Uuid, query: &CustomerQuery) -> Result<Page<Customer>> {
        let group = self.group(id).await?;
        if group.spec.kind == GroupKind::Common {
            return self.list_customers(query).await;
        }
        let query = query.clone();
        self.read(move |c| search::group_members(c, &id.to_string(), &query))
            .await
    }

    async fn rule_preview(
        &self,
        rule: &patron_domain::rules::Rule,
        today: time::Date,
        sample: usize,
    ) -> Result<(u64, Vec<Customer>)> {
        let compiled = rule_sql::compile(rule, today);
        let deadline = self.rule_deadlines().preview;
        // Dropping this future (the client hung up) sets the flag, and the
        // query on the blocking pool stops at its next check instead of
        // running on for nobody.
        let cancel = Arc::new(AtomicBool::new(false));
        let _cancel_on_drop = bounded::CancelOnDrop(cancel.clone());
        let this = self.clone();
        self.read(move |c| {
            // Noted here, on the blocking pool, so that a preview nobody
            // waits for any more is counted too.
            let out = bounded::run(c, "previewing the rule", deadline, Some(cancel), |c| {
                preview::run(c, &compiled, sample)
            })
            .map_err(|e| match e {
                StorageError::TimedOut(m) => {
                    StorageError::TimedOut(format!("{m}; try a simpler rule, or again later"))
                }
                other => other,
            });
            this.note_stopped(out)
        })
        .await
    }

    async fn refresh_group(&self, id: Uuid, today: time::Date) -> Result<u64> {
        // Not marked: a re-check cut short leaves the group no staler than it
        // was, and costs no write when nothing changes.
        self.group(id).await?;
        self.fill(id.to_string(), today).await
    }

    async fn ledger(
        &self,
        key: &CustomerKey,
        account: Option<Account>,
    ) -> Result<Vec<LedgerEntry>> {
        let key = key.clone();
        self.read(move |c| checkout::ledger(c, &key, account)).await
    }

    async fn balances(&self, key: &CustomerKey, now: OffsetDateTime) -> Result<Balances> {
        let key = key.clone();
        self.read(move |c| checkout::balances(c, &key, now)).await
    }

    async fn post_entry(
        &self,
        actor: &Actor,
        key: &CustomerKey,
        entry: ManualEntry,
        now: OffsetDateTime,
    ) -> Result<LedgerEntry> {
        let (actor, key) = (actor.clone(), key.clone());
        self.write(move |tx| {
            let e = checkout::post_entry(tx, &actor, &key, entry.clone(), now)?;
            ops::record(tx, &actor, || {
                Ok(patron_storage::ops::OpBody::Entry {
                    entry_id: e.id,
                    customer: customers::get(tx, &key)?.id,
                    account: entry.account.as_str().to_owned(),
                    kind: entry.kind.as_str().to_owned(),
                    amount: entry.amount,
                    reason: entry.reason,
                    idempotency_key: entry.idempotency_key,
                })
            })?;
            Ok(e)
        })
        .await
    }

    async fn quote(&self, request: &CheckoutRequest, now: OffsetDateTime) -> Result<QuoteOutcome> {
        let request = request.clone();
        self.read(move |c| checkout::quote_for(c, &request, now))
            .await
    }

    async fn commit_order(
        &self,
        actor: &Actor,
        order: OrderRequest,
        now: OffsetDateTime,
    ) -> Result<(OrderRecord, bool)> {
        let actor = actor.clone();
        let mail = self.receipt_mail();
        self.write(move |tx| {
            let (record, replay) = checkout::commit(tx, &actor, order.clone(), now)?;
            if !replay {
                ops::record_at(
                    tx,
                    &actor,
                    || Ok(ops::order_body(&order, record.customer_id)),
                    now,
                )?;
                receipts::enqueue(tx, mail, ReceiptKind::Order, &record.id, now)?;
            }
            Ok((record, replay))
        })
        .await
    }

    async fn order(&self, id: &str) -> Result<OrderRecord> {
        let id = id.to_owned();
        self.read(move |c| checkout::order(c, &id)).await
    }

    async fn return_order(
        &self,
        actor: &Actor,
        request: ReturnRequest,
        now: OffsetDateTime,
    ) -> Result<(ReturnRecord, bool)> {
        let actor = actor.clone();
        let mail = self.receipt_mail();
        self.write(move |tx| {
            let (record, replay) = checkout::return_order(tx, &actor, request.clone(), now)?;
            if !replay {
                ops::record(tx, &actor, || Ok(ops::return_body(&request)))?;
                receipts::enqueue(tx, mail, ReceiptKind::Return, &record.id, now)?;
            }
            Ok((record, replay))
        })
        .await
    }

    async fn return_record(&self, id: &str) -> Result<ReturnRecord> {
        let id = id.to_owned();
        self.read(move |c| checkout::return_record(c, &id)).await
    }

    async fn receipt_facts(&self, customer: Uuid, at: OffsetDateTime) -> Result<ReceiptFacts> {
        self.read(move |c| receipts::facts(c, customer, at)).await
    }

    fn set_receipt_mail(&self, mode: ReceiptMail) {
        if let Ok(mut m) = self.inner.receipt_mail.lock() {
            *m = mode;
        }
    }

    async fn receipts_due(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<PendingReceipt>> {
        self.read(move |c| receipts::due(c, now, limit)).await
    }

    async fn receipt_tried(
        &self,
        id: i64,
        outcome: std::result::Result<(), String>,
        now: OffsetDateTime,
        retry_at: OffsetDateTime,
    ) -> Result<()> {
        self.write(move |tx| receipts::tried(tx, id, outcome.clone(), now, retry_at))
            .await
    }

    async fn receipt_outbox_status(&self) -> Result<ReceiptOutboxStatus> {
        self.read(receipts::status).await
    }

    async fn report_sales(&self, range: &ReportRange) -> Result<Vec<SalesDay>> {
        let range = range.clone();
        self.read(move |c| reports::sales(c, &range)).await
    }

    async fn report_ledger(&self, range: &ReportRange) -> Result<Vec<LedgerDay>> {
        let range = range.clone();
        self.read(move |c| reports::ledger(c, &range)).await
    }

    async fn report_signups(&self, range: &ReportRange) -> Result<Vec<SignupDay>> {
        let range = range.clone();
        self.read(move |c| reports::signups(c, &range)).await
    }

    async fn report_group_sizes(&self, range: &ReportRange) -> Result<Vec<GroupSizeDay>> {
        let range = range.clone();
        self.read(move |c| reports::group_sizes(c, &range)).await
    }

    async fn liability(&self) -> Result<Liability> {
        self.read(reports::liability).await
    }

    async fn top_customers(&self, limit: usize) -> Result<Vec<TopCustomer>> {
        self.read(move |c| reports::top_customers(c, limit)).await
    }

    async fn customer_activity(
        &self,
        key: &CustomerKey,
        now: OffsetDateTime,
    ) -> Result<CustomerActivity> {
        let key = key.clone();
        self.read(move |c| checkout::activity(c, &key, now)).await
    }

    async fn customer_history(
        &self,
        key: &CustomerKey,
        now: OffsetDateTime,
    ) -> Result<CustomerActivity> {
        let key = key.clone();
        self.read(move |c| checkout::activity_with(c, &key, now, -1))
            .await
    }

    async fn run_maintenance(&self, now: OffsetDateTime) -> Result<MaintenanceReport> {
        let (mut report, today) = self.write(move |tx| checkout::maintenance(tx, now)).await?;
        // The groups whose rules move with the date, and any fill an earlier
        // run, save or crash left unfinished. A group that fails stays marked
        // for the next run and is logged; the others still count.
        let filled = self.fill_pending(today).await?;
        report.groups_refreshed = filled.groups;
        report.membership_changes = filled.changes;
        // Group sizes for the reports, once a day, after the day's fills.
        self.write(move |tx| reports::snapshot_group_sizes(tx, today))
            .await?;
        Ok(report)
    }

    async fn node(&self) -> Result<NodeInfo> {
        self.read(sync::node).await
    }

    async fn become_store(&self, store: &patron_domain::StoreId) -> Result<()> {
        let store = store.clone();
        self.write(move |tx| sync::become_store(tx, &store)).await
    }

    async fn feed(&self, after: i64, limit: usize) -> Result<FeedPage> {
        self.read(move |c| sync::feed(c, after, limit)).await
    }

    fn feed_head(&self) -> tokio::sync::watch::Receiver<i64> {
        self.inner.feed_head.clone()
    }

    async fn apply_changes(
        &self,
        from: &Peer,
        changes: Vec<Change>,
        cursor: Option<(String, i64)>,
    ) -> Result<ApplyReport> {
        let from = from.clone();
        let report = self
            .write(move |tx| {
                let report = sync::apply(tx, &from, &changes, OffsetDateTime::now_utc())?;
                if let Some((key, value)) = cursor {
                    sync::put(tx, &key, &value.to_string())?;
                }
                Ok(report)
            })
            .await?;
        // A group whose rule arrived in the page was marked by it.
        self.fill_pending_after_write().await;
        Ok(report)
    }

    async fn sync_value(&self, key: &str) -> Result<Option<String>> {
        let key = key.to_owned();
        self.read(move |c| sync::get(c, &key)).await
    }

    async fn set_sync_value(&self, key: &str, value: &str) -> Result<()> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.write(move |tx| sync::put(tx, &key, &value)).await
    }

    async fn register_store(
        &self,
        id: &patron_domain::StoreId,
        name: &str,
        token_hash: &str,
    ) -> Result<StoreInfo> {
        let (id, name, token_hash) = (
            id.as_str().to_owned(),
            name.to_owned(),
            token_hash.to_owned(),
        );
        self.write(move |tx| {
            if sync::node(tx)?.role != NodeRole::Hq {
                return Err(invalid("store", "stores are registered at HQ"));
            }
            let exists: Option<String> = tx
                .query_row("SELECT id FROM stores WHERE id = ?1", [&id], |r| r.get(0))
                .optional()
                .map_err(db_err)?;
            if exists.is_some() {
                return Err(StorageError::Conflict {
                    field: "id".into(),
                    message: format!("store {id} is already registered"),
                });
            }
            tx.execute(
                "INSERT INTO stores (id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![id, name, token_hash, micros(OffsetDateTime::now_utc())],
            )
            .map_err(db_err)?;
            stores_where(tx, Some(&id))?
                .into_iter()
                .next()
                .ok_or(StorageError::NotFound)
        })
        .await
    }

    async fn store_for_token(&self, token_hash: &str) -> Result<Option<StoreInfo>> {
        let token_hash = token_hash.to_owned();
        self.read(move |c| {
            let id: Option<String> = c
                .query_row(
                    "SELECT id FROM stores WHERE token_hash = ?1 AND revoked_at IS NULL",
                    [&token_hash],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            match id {
                Some(id) => Ok(stores_where(c, Some(&id))?.into_iter().next()),
                None => Ok(None),
            }
        })
        .await
    }

    async fn rotate_store_token(
        &self,
        _actor: &Actor,
        id: &str,
        token_hash: &str,
    ) -> Result<StoreInfo> {
        let (id, token_hash) = (id.to_owned(), token_hash.to_owned());
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE stores SET token_hash = ?1, revoked_at = NULL WHERE id = ?2",
                    rusqlite::params![token_hash, id],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StorageError::NotFound);
            }
            stores_where(tx, Some(&id))?
                .into_iter()
                .next()
                .ok_or(StorageError::NotFound)
        })
        .await
    }

    async fn revoke_store(&self, _actor: &Actor, id: &str) -> Result<StoreInfo> {
        let id = id.to_owned();
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE stores SET revoked_at = coalesce(revoked_at, ?1) WHERE id = ?2",
                    rusqlite::params![micros(OffsetDateTime::now_utc()), id],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StorageError::NotFound);
            }
            stores_where(tx, Some(&id))?
                .into_iter()
                .next()
                .ok_or(StorageError::NotFound)
        })
        .await
    }

    async fn stores(&self) -> Result<Vec<StoreInfo>> {
        self.read(|c| stores_where(c, None)).await
    }

    async fn touch_store(&self, id: &str, pushed: Option<i64>, pulled: Option<i64>) -> Result<()> {
        let id = id.to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE stores SET last_seen = ?1, pushed_seq = max(pushed_seq, coalesce(?2, pushed_seq)),
                    pulled_seq = max(pulled_seq, coalesce(?3, pulled_seq)) WHERE id = ?4",
                rusqlite::params![micros(OffsetDateTime::now_utc()), pushed, pulled, id],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn lease_codes(&self, store: &str, count: u64) -> Result<(u64, u64)> {
        let store = store.to_owned();
        self.write(move |tx| {
            // A store signs up a few hundred customers a day; a token that
            // asks for far more is not a store at work.
            let leased_today: i64 = tx
                .query_row(
                    "SELECT coalesce(sum(last - first + 1), 0) FROM code_blocks WHERE store = ?1 AND leased_at >= ?2",
                    rusqlite::params![store, micros(OffsetDateTime::now_utc() - time::Duration::days(1))],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            if u64::try_from(leased_today).unwrap_or(0).saturating_add(count) > MAX_CODES_LEASED_A_DAY {
                return Err(invalid(
                    "count",
                    &format!("a store may lease at most {MAX_CODES_LEASED_A_DAY} customer codes a day"),
                ));
            }
            let first = settings::take_code_numbers(tx, count)?;
            let last = first + count - 1;
            tx.execute(
                "INSERT INTO code_blocks (store, first, last, next, leased_at) VALUES (?1, ?2, ?3, ?2, ?4)",
                rusqlite::params![store, first as i64, last as i64, micros(OffsetDateTime::now_utc())],
            )
            .map_err(db_err)?;
            Ok((first, last))
        })
        .await
    }

    async fn add_code_block(&self, first: u64, last: u64) -> Result<()> {
        self.write(move |tx| {
            let store = sync::node(tx)?.id;
            tx.execute(
                "INSERT OR IGNORE INTO code_blocks (store, first, last, next, leased_at) VALUES (?1, ?2, ?3, ?2, ?4)",
                rusqlite::params![store, first as i64, last as i64, micros(OffsetDateTime::now_utc())],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn codes_left(&self) -> Result<u64> {
        self.read(|c| {
            let store = sync::node(c)?.id;
            let n: i64 = c
                .query_row(
                    "SELECT coalesce(sum(last - next + 1), 0) FROM code_blocks WHERE store = ?1 AND next <= last",
                    [store],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            Ok(n.max(0) as u64)
        })
        .await
    }

    async fn authorize_redemption(
        &self,
        store: &str,
        actor: &str,
        customer: Uuid,
        order_id: &str,
        entries: Vec<(Account, i64)>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let (store, actor, order_id) = (store.to_owned(), actor.to_owned(), order_id.to_owned());
        self.write(move |tx| {
            checkout::authorize(tx, &store, &actor, customer, &order_id, &entries, now)
        })
        .await
    }

    async fn release_redemption(
        &self,
        store: &str,
        actor: &str,
        order_id: &str,
        now: OffsetDateTime,
    ) -> Result<u64> {
        let (store, actor, order_id) = (store.to_owned(), actor.to_owned(), order_id.to_owned());
        self.write(move |tx| checkout::release(tx, &store, &actor, &order_id, now))
            .await
    }

    async fn outbox(&self, after: i64, max_ops: usize, max_bytes: usize) -> Result<OutboxPage> {
        self.read(move |c| ops::outbox(c, after, max_ops, max_bytes))
            .await
    }

    async fn outbox_head(&self) -> Result<i64> {
        self.read(ops::outbox_head).await
    }

    async fn acknowledge_outbox(&self, up_to: i64) -> Result<()> {
        self.write(move |tx| ops::acknowledge(tx, up_to)).await
    }

    async fn apply_ops(
        &self,
        store: &str,
        ops: Vec<patron_storage::ops::Op>,
        refused: Vec<Refusal>,
        now: OffsetDateTime,
    ) -> Result<Vec<patron_storage::ops::OpResult>> {
        let store = store.to_owned();
        self.write(move |tx| {
            if sync::node(tx)?.role != NodeRole::Hq {
                return Err(invalid("node", "operations are applied at HQ"));
            }
            ops::apply(tx, &store, &ops, &refused, now)
        })
        .await
    }

    async fn record_refusals(&self, refusals: Vec<Refusal>) -> Result<()> {
        self.write(move |tx| {
            for r in &refusals {
                ops::record_refusal(tx, r)?;
            }
            Ok(())
        })
        .await
    }

    async fn refusals(&self, limit: usize) -> Result<Vec<Refusal>> {
        self.read(move |c| ops::refusals(c, limit)).await
    }

    async fn refusal_counts(&self) -> Result<Vec<(String, u64)>> {
        self.read(ops::refusal_counts).await
    }

    async fn refusals_of(&self, entity: &str) -> Result<Vec<Refusal>> {
        let entity = entity.to_owned();
        self.read(move |c| ops::refusals_of(c, &entity)).await
    }

    async fn user_op_key(&self, username: &Username) -> Result<Option<(User, Option<String>)>> {
        let username = username.clone();
        self.read(move |c| users::with_op_key(c, &username)).await
    }

    async fn set_user_op_key(&self, username: &Username, key_hex: &str) -> Result<()> {
        let (username, key) = (username.clone(), key_hex.to_owned());
        self.write(move |tx| {
            tx.execute(
                "UPDATE users SET op_key = ?1 WHERE username = ?2",
                rusqlite::params![key, username.as_str()],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn redeemed_since(&self, key: &CustomerKey, since: OffsetDateTime) -> Result<i64> {
        let key = key.clone();
        self.read(move |c| checkout::redeemed_since(c, &key, since))
            .await
    }

    async fn snapshot_into(&self, path: &Path, store: &str) -> Result<()> {
        self.backup_into(path).await?;
        let (path, store) = (path.to_owned(), store.to_owned());
        tokio::task::spawn_blocking(move || sync::scrub_snapshot(&path, &store))
            .await
            .map_err(|e| StorageError::Backend(e.to_string()))?
    }

    fn stats(&self) -> patron_storage::StorageStats {
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.inner.path.clone().into_os_string();
        wal.push("-wal");
        let mut out = patron_storage::StorageStats {
            database_bytes: size(&self.inner.path),
            wal_bytes: size(Path::new(&wal)),
            ..Default::default()
        };
        self.inner.writer.stats().read_into(&mut out);
        out
    }

    async fn probe_write(&self) -> Result<()> {
        // A row written and removed in one transaction still needs the WAL to
        // grow by a frame or two: exactly what a full disk refuses.
        self.write(|tx| {
            sync::put(
                tx,
                "probe",
                &OffsetDateTime::now_utc().unix_timestamp().to_string(),
            )?;
            tx.execute("DELETE FROM sync_state WHERE key = 'probe'", [])
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn backup_into(&self, path: &Path) -> Result<()> {
        let file = path.to_string_lossy().to_string();
        // VACUUM INTO reads one consistent snapshot on a reader connection:
        // writers go on meanwhile, and the copy is compact and checkpointed.
        self.read(move |c| {
            c.execute("VACUUM INTO ?1", [&file]).map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn check_integrity(&self) -> Result<Vec<String>> {
        self.read(|c| {
            let mut problems = integrity_problems(c)?;
            let mut fk = c.prepare("PRAGMA foreign_key_check").map_err(db_err)?;
            let broken = fk
                .query_map([], |r| {
                    Ok(format!(
                        "a row of {} (rowid {}) points at a missing {}",
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                        r.get::<_, String>(2)?
                    ))
                })
                .map_err(db_err)?
                .take(100)
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db_err)?;
            problems.extend(broken);
            Ok(problems)
        })
        .await
    }

    async fn after_restore(&self) -> Result<()> {
        self.write(|tx| {
            if sync::node(tx)?.store().is_some() {
                tx.execute("DELETE FROM code_blocks", []).map_err(db_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn adopt_snapshot(&self, store: &patron_domain::StoreId) -> Result<()> {
        let store = store.clone();
        self.write(move |tx| {
            let head = sync::head(tx)?;
            tx.execute_batch(
                "DELETE FROM sessions; DELETE FROM stores; DELETE FROM code_blocks;
                 DELETE FROM overdrafts; DELETE FROM feed; DELETE FROM sync_state;
                 DELETE FROM outbox; DELETE FROM applied_ops; DELETE FROM refusals;
                 DELETE FROM receipt_outbox;
                 UPDATE users SET op_key = NULL;",
            )
            .map_err(db_err)?;
            sync::forget_cached_state(tx);
            sync::put(tx, "role", "store")?;
            sync::put(tx, "node_id", store.as_str())?;
            sync::put(tx, "pull_cursor", &head.to_string())?;
            Ok(())
        })
        .await
    }

    async fn overdrafts(&self) -> Result<Vec<Overdraft>> {
        self.read(|c| {
            let mut st = c
                .prepare(
                    "SELECT c.id, c.code, o.account, o.balance, o.entry_id, o.store, o.detected_at, o.reason
                     FROM overdrafts o JOIN customers c ON c.seq = o.customer_seq ORDER BY o.id",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map([], |r| {
                    let id: String = r.get(0)?;
                    Ok(Overdraft {
                        customer_id: Uuid::parse_str(&id).unwrap_or(Uuid::nil()),
                        code: r.get(1)?,
                        account: r.get(2)?,
                        balance: r.get(3)?,
                        entry_id: r.get(4)?,
                        store: r.get(5)?,
                        detected_at: from_micros(r.get(6)?),
                        reason: r.get(7)?,
                    })
                })
                .map_err(db_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
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
