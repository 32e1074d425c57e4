//! The `patron` server and its commands, as a library so that integration tests
//! and benchmarks start exactly what `patron serve` starts.

pub mod app;
pub mod auth;
pub mod bench;
mod bench_rules;
mod bench_sync;
pub mod demo;
pub mod demo_data;
pub mod export;
pub mod http;
pub mod import;
pub mod scheduler;
pub mod web;
pub mod wire;

use anyhow::Context;
use patron_sqlite::SqliteStorage;
use patron_storage::Storage;
use std::path::PathBuf;
use std::sync::Arc;

/// The `--data DIR` option every command that opens a database takes.
#[derive(clap::Args, Clone, Debug)]
pub struct DataArgs {
    /// Data directory holding the node's database.
    #[arg(long, env = "PATRON_DATA", default_value = "patron-data")]
    pub data: PathBuf,
}

/// Opens the node's database in `data` (the embedded SQLite backend).
pub fn open_storage(data: &DataArgs) -> anyhow::Result<Arc<dyn Storage>> {
    let store = SqliteStorage::open(&data.data)
        .with_context(|| format!("cannot open the data directory {}", data.data.display()))?;
    Ok(Arc::new(store))
}
