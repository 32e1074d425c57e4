//! Bounds on queries whose cost a user controls (a rule evaluated over every
//! customer): a deadline, and a cancel flag for when nobody waits for the
//! answer any more. SQLite calls a progress handler every few virtual-machine
//! steps; the handler returning true interrupts the running statement.

use patron_storage::{Result, StorageError};
use rusqlite::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// Virtual-machine steps between checks: a few microseconds of work, so a
/// query stops within a millisecond of its deadline, and a check (a clock
/// read) costs well under 1 % of the query.
const STEPS: i32 = 1_000;

const RUNNING: u8 = 0;
const TIMED_OUT: u8 = 1;
const CANCELLED: u8 = 2;

/// Sets its flag when dropped. Held by the future awaiting a bounded query:
/// dropping the future (the client went away, the request was cut short)
/// stops the query at its next check.
pub(crate) struct CancelOnDrop(pub Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Removes the handler however `run` ends, so the pooled connection goes
/// back without it.
struct Unhook<'a>(&'a Connection);

impl Drop for Unhook<'_> {
    fn drop(&mut self) {
        self.0.progress_handler(0, None::<fn() -> bool>);
    }
}

/// Runs `f` on `c`, interrupting it after `deadline` or once `cancel` is set.
/// `what` names the work in the error, e.g. "previewing the rule".
pub(crate) fn run<T>(
    c: &Connection,
    what: &str,
    deadline: Duration,
    cancel: Option<Arc<AtomicBool>>,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    let stop = Arc::new(AtomicU8::new(RUNNING));
    let until = Instant::now().checked_add(deadline);
    {
        let stop = stop.clone();
        c.progress_handler(
            STEPS,
            Some(move || {
                let why = if cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed)) {
                    CANCELLED
                } else if until.is_some_and(|u| Instant::now() >= u) {
                    TIMED_OUT
                } else {
                    return false;
                };
                stop.store(why, Ordering::Relaxed);
                true
            }),
        );
    }
    let _unhook = Unhook(c);
    let out = f(c);
    // The interrupted statement's error says only "interrupted"; the flag
    // says why.
    match (out, stop.load(Ordering::Relaxed)) {
        (Err(_), CANCELLED) => Err(StorageError::TimedOut(format!(
            "{what} was cancelled: nobody waits for the answer any more"
        ))),
        (Err(_), TIMED_OUT) => Err(StorageError::TimedOut(format!(
            "{what} took longer than {}",
            human(deadline)
        ))),
        (out, _) => out,
    }
}

fn human(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db_err;

    /// A query that never ends by itself.
    const ENDLESS: &str = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) \
                           SELECT count(*) FROM n";

    fn endless(c: &Connection) -> Result<i64> {
        c.query_row(ENDLESS, [], |r| r.get(0)).map_err(db_err)
    }

    #[test]
    fn a_deadline_interrupts_the_query() {
        let c = Connection::open_in_memory().unwrap();
        let e = run(&c, "counting", Duration::ZERO, None, endless).unwrap_err();
        assert!(
            matches!(&e, StorageError::TimedOut(m) if m == "counting took longer than 0 ms"),
            "{e:?}"
        );
        // The handler is gone: the connection works as before.
        let one: i64 = c.query_row("SELECT 1", [], |r| r.get(0)).unwrap();
        assert_eq!(one, 1);
    }

    #[test]
    fn a_cancel_from_another_thread_interrupts_the_query() {
        let cancel = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let flag = cancel.clone();
        let worker = std::thread::spawn(move || {
            let c = Connection::open_in_memory().unwrap();
            run(&c, "counting", Duration::from_secs(3600), Some(flag), |c| {
                started_tx.send(()).unwrap();
                endless(c)
            })
        });
        // Only an interrupt can end the query, so the join below returning
        // at all shows the cancel worked.
        started_rx.recv().unwrap();
        drop(CancelOnDrop(cancel));
        let e = worker.join().unwrap().unwrap_err();
        assert!(
            matches!(&e, StorageError::TimedOut(m) if m.contains("cancelled")),
            "{e:?}"
        );
    }

    #[test]
    fn quick_work_is_untouched() {
        let c = Connection::open_in_memory().unwrap();
        let n = run(&c, "counting", Duration::from_secs(60), None, |c| {
            c.query_row("SELECT count(*) FROM (VALUES (1), (2))", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(db_err)
        });
        assert_eq!(n.unwrap(), 2);
    }
}
