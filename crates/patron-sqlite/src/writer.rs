//! Group commit: one thread owns the writer connection and runs every write job
//! that is waiting into one transaction, each job inside its own savepoint, then
//! commits once. A job that fails rolls back to its savepoint alone; nobody is
//! answered before the commit that makes their write durable has returned.
//!
//! With `synchronous=FULL` a commit costs an fsync; sharing it between every
//! register that committed in the same instant is what lets the node take
//! thousands of durable checkouts a second instead of one fsync's worth.

use crate::db_err;
use patron_storage::{Result, StorageError, WRITER_BATCH_BUCKETS};
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

/// How a batch's COMMIT went, shared by every job in it.
#[derive(Clone)]
enum CommitError {
    DiskFull,
    Other(String),
}

impl From<CommitError> for StorageError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::DiskFull => StorageError::DiskFull,
            CommitError::Other(m) => StorageError::Backend(m),
        }
    }
}

/// What a job hands back after running: called with the batch's commit outcome.
type Completion = Box<dyn FnOnce(std::result::Result<(), CommitError>) + Send>;
/// Runs a job; `alone` when it is the only job of its transaction, which then
/// needs no savepoint (a failure rolls the whole transaction back instead).
type Job = Box<dyn FnOnce(&Connection, bool) -> Completion + Send>;

/// Most jobs in one transaction: bounds how long the first waits for the last.
const MAX_BATCH: usize = 512;

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    stats: Arc<WriterStats>,
}

/// What `/metrics` and `/readyz` read of the writer, without asking it.
#[derive(Default)]
pub struct WriterStats {
    queued: AtomicU64,
    /// Per bucket of [`WRITER_BATCH_BUCKETS`], batches larger than the bucket
    /// before and at most this one.
    buckets: [AtomicU64; WRITER_BATCH_BUCKETS.len()],
    batched_writes: AtomicU64,
    disk_full: AtomicBool,
}

impl WriterStats {
    fn batch(&self, size: usize) {
        let size = size as u64;
        let i = WRITER_BATCH_BUCKETS
            .iter()
            .position(|&b| size <= b)
            .unwrap_or(WRITER_BATCH_BUCKETS.len() - 1);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.batched_writes.fetch_add(size, Ordering::Relaxed);
    }

    /// Fills the writer's part of `out`.
    pub fn read_into(&self, out: &mut patron_storage::StorageStats) {
        out.writer_queue = self.queued.load(Ordering::Relaxed);
        out.batch_buckets = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        out.batches = out.batch_buckets.iter().sum();
        out.batched_writes = self.batched_writes.load(Ordering::Relaxed);
        out.disk_full = self.disk_full.load(Ordering::Relaxed);
    }
}

impl Writer {
    /// `head` is told the feed's newest seq after every commit that moved it,
    /// which is what wakes HQ's long-polls and a store's pusher.
    pub fn start(conn: Connection, head: tokio::sync::watch::Sender<i64>) -> Result<Self> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let stats = Arc::new(WriterStats::default());
        let counted = stats.clone();
        std::thread::Builder::new()
            .name("patron-sqlite-writer".into())
            .spawn(move || run(conn, rx, head, &counted))
            .map_err(|e| StorageError::Backend(format!("cannot start the writer: {e}")))?;
        Ok(Self { jobs, stats })
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Runs `f` as part of the next transaction; resolves once it is committed
    /// (or with `f`'s error, having undone `f`'s writes).
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn: &Connection, alone: bool| -> Completion {
            if alone {
                let out = catch_unwind(AssertUnwindSafe(|| f(conn)))
                    .unwrap_or_else(|_| Err(StorageError::Backend("a write panicked".into())));
                return match out {
                    Ok(v) => Box::new(move |commit| {
                        let _ = tx.send(commit.map_err(StorageError::from).map(|_| v));
                    }),
                    Err(e) => {
                        // Nothing else is in this transaction: undo it all.
                        let _ = conn.execute_batch("ROLLBACK; BEGIN IMMEDIATE");
                        Box::new(move |_| {
                            let _ = tx.send(Err(e));
                        })
                    }
                };
            }
            if let Err(e) = conn.execute_batch("SAVEPOINT job") {
                let e = db_err(e);
                return Box::new(move |_| {
                    let _ = tx.send(Err(e));
                });
            }
            let out = catch_unwind(AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|_| Err(StorageError::Backend("a write panicked".into())));
            match out {
                Ok(v) => {
                    let released = conn.execute_batch("RELEASE job").map_err(db_err);
                    Box::new(move |commit| {
                        let r = released.and(commit.map_err(StorageError::from)).map(|_| v);
                        let _ = tx.send(r);
                    })
                }
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                    Box::new(move |_| {
                        let _ = tx.send(Err(e));
                    })
                }
            }
        });
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        if self.jobs.send(job).is_err() {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(StorageError::Backend("the writer has stopped".into()));
        }
        let out = rx
            .await
            .map_err(|_| StorageError::Backend("the writer dropped a job".into()))?;
        // A full disk is remembered until a write gets through again, so
        // readiness can report it and recover without anyone restarting us.
        match &out {
            Err(StorageError::DiskFull) => self.stats.disk_full.store(true, Ordering::Relaxed),
            Ok(_) => self.stats.disk_full.store(false, Ordering::Relaxed),
            Err(_) => {}
        }
        out
    }
}

/// What the head watch reports: HQ's feed head, or at a store its outbox head
/// (a store's feed stays empty), so followers and the store's pusher wake on
/// every commit that gives them something to send.
pub(crate) fn feed_head(conn: &Connection) -> i64 {
    conn.query_row(
        "SELECT max((SELECT coalesce(max(seq), 0) FROM feed),
                    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0))",
        [],
        |r| r.get(0),
    )
    .unwrap_or(0)
}

fn run(
    conn: Connection,
    rx: mpsc::Receiver<Job>,
    head: tokio::sync::watch::Sender<i64>,
    stats: &WriterStats,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        stats
            .queued
            .fetch_sub(batch.len() as u64, Ordering::Relaxed);
        stats.batch(batch.len());
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let msg = e.to_string();
            // The jobs never ran; each is answered with the failure.
            for job in batch {
                let completion = job_failed(job, &msg);
                completion(Err(CommitError::Other(msg.clone())));
            }
            continue;
        }
        // Savepoints cost SQLite a statement journal per statement; a job that
        // is alone in its transaction (a large sync page, an import) runs without.
        let alone = batch.len() == 1;
        let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
        let mut jobs = batch.into_iter();
        for job in jobs.by_ref() {
            completions.push(job(&conn, alone));
            if conn.is_autocommit() {
                // SQLite rolled the whole transaction back under a job (a full
                // disk can): the jobs before it are undone too and learn so
                // from the COMMIT below; the rest must not run outside one.
                break;
            }
        }
        for job in jobs {
            completions.push(job_failed(job, "the transaction was rolled back"));
        }
        let commit = conn.execute_batch("COMMIT").map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            match db_err(e) {
                StorageError::DiskFull => CommitError::DiskFull,
                other => CommitError::Other(other.to_string()),
            }
        });
        match &commit {
            Err(CommitError::Other(e)) => {
                tracing::error!(error = %e, "commit failed; the batch was rolled back")
            }
            Err(CommitError::DiskFull) => {
                tracing::error!("the disk is full: a commit failed and its batch was rolled back")
            }
            Ok(()) => {}
        }
        if commit.is_ok() {
            let h = feed_head(&conn);
            head.send_if_modified(|cur| {
                let moved = *cur != h;
                *cur = h;
                moved
            });
        }
        for c in completions {
            c(commit.clone());
        }
    }
}

/// A job that could not start: dropping it drops its sender, so its caller
/// sees an error; the message is logged once here.
fn job_failed(job: Job, msg: &str) -> Completion {
    tracing::error!(error = %msg, "cannot begin a write transaction");
    drop(job);
    Box::new(|_| {})
}
