//! The `patron` server and its commands, as a library so that integration tests
//! and benchmarks start exactly what `patron serve` starts.

pub mod app;
pub mod auth;
pub mod backup;
pub mod bench;
mod bench_duplicates;
mod bench_reports;
mod bench_rules;
mod bench_sync;
pub mod cli_accounts;
pub mod config;
pub mod demo;
pub mod demo_data;
pub mod doctor;
pub mod export;
pub mod http;
pub mod import;
pub mod observe;
pub mod receipts;
pub mod scheduler;
pub mod security;
pub mod serve;
pub mod starting;
pub mod tls;
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

/// The mail server `serve` sends receipt emails through (settings in
/// [`config`]).
#[derive(Clone, Debug, Default)]
pub struct MailArgs {
    /// `smtps://…`, `smtp://…?tls=required` or `smtp://host:25`; none: no
    /// receipt is emailed.
    pub smtp_url: Option<String>,
    /// Who receipts come from.
    pub smtp_from: Option<String>,
    /// `all` customers with an email, or only those who `consented`.
    pub receipt_email: String,
}

impl MailArgs {
    pub fn mailer(&self) -> anyhow::Result<Option<receipts::Mailer>> {
        let (Some(url), Some(from)) = (&self.smtp_url, &self.smtp_from) else {
            return Ok(None);
        };
        let mode = patron_storage::ReceiptMail::parse(&self.receipt_email)
            .ok_or_else(|| anyhow::anyhow!("--receipt-email must be all or consented"))?;
        receipts::Mailer::new(url, from, mode).map(Some)
    }
}

/// Creates the data directory readable by this user only (it holds every
/// customer's record), or takes such rights away from an existing one.
pub fn private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        return Ok(());
    }
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("cannot read the data directory {}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))
            .with_context(|| format!("cannot make the data directory {} private", dir.display()))?;
        tracing::warn!(dir = %dir.display(), "the data directory was readable by others; made it private");
    }
    Ok(())
}

/// Opens the node's database in `data` (the embedded SQLite backend).
pub fn open_storage(data: &DataArgs) -> anyhow::Result<Arc<dyn Storage>> {
    private_dir(&data.data)?;
    let store = SqliteStorage::open(&data.data)
        .with_context(|| format!("cannot open the data directory {}", data.data.display()))?;
    Ok(Arc::new(store))
}
