//! Runs the storage-level sync simulation and the clock-skew scenarios
//! (`patron_storage::conformance::simulation`) against SQLite: HQ and two stores
//! making random writes under random partitions, an attacker's store, lost
//! sales and acknowledgements; 1,000 seeds by default (`PATRON_SIM_SEEDS`,
//! `PATRON_SIM_SEED=N` to replay one).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use patron_sqlite::SqliteStorage;
use patron_storage::conformance::simulation::{self, Maker};
use std::sync::Arc;

fn make() -> Arc<Maker> {
    Arc::new(|| {
        // Many small databases: memory-backed storage where the OS has it.
        let dir = match std::path::Path::new("/dev/shm").is_dir() {
            true => tempfile::tempdir_in("/dev/shm").unwrap(),
            false => tempfile::tempdir().unwrap(),
        };
        let db: patron_storage::conformance::Store =
            Arc::new(SqliteStorage::open(dir.path()).unwrap());
        (db, Box::new(dir) as Box<dyn std::any::Any + Send + Sync>)
    })
}

#[test]
fn every_node_converges_under_random_partitions() {
    simulation::converge_seeds(make());
}

#[test]
fn a_store_clock_hours_ahead_cannot_win_later_conflicts() {
    simulation::a_store_clock_hours_ahead_cannot_win_later_conflicts(&*make());
}

#[test]
fn an_edit_from_a_clock_that_jumped_never_beats_a_later_one() {
    simulation::an_edit_from_a_clock_that_jumped_never_beats_a_later_one(&*make());
}
