//! `patron backup` and `patron restore`: a consistent copy taken while the
//! node serves, and bringing one back checked, with the database it replaces
//! kept aside rather than deleted.

use crate::DataArgs;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The backup file to write (a single SQLite file). Never overwritten.
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// The backup file `patron backup` wrote.
    #[arg(long)]
    pub from: PathBuf,
    /// The node's data directory to restore into (the node must be stopped).
    #[arg(long, env = "PATRON_DATA")]
    pub data: PathBuf,
}

/// The lock `serve` holds on its data directory for as long as it runs.
pub const LOCK_FILE: &str = "patron.lock";

/// Held while a node serves from `dir`: a second node, or a restore, on the
/// same directory is refused instead of corrupting it.
pub struct DataLock(#[allow(dead_code)] std::fs::File);

pub fn lock_data_dir(dir: &Path) -> anyhow::Result<DataLock> {
    crate::private_dir(dir)?;
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(DataLock(file)),
        Err(rustix::io::Errno::WOULDBLOCK) => bail!(
            "a Patron node is running on {}: stop it first",
            dir.display()
        ),
        Err(e) => bail!("cannot lock {}: {e}", path.display()),
    }
}

/// Whether a node holds `dir`'s lock now. Creates and changes nothing (for
/// `patron doctor`, which only looks).
pub fn node_running(dir: &Path) -> bool {
    let Ok(file) = std::fs::File::open(dir.join(LOCK_FILE)) else {
        return false;
    };
    matches!(
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared),
        Err(rustix::io::Errno::WOULDBLOCK)
    )
}

/// `dir`, empty: what an earlier attempt left there is cleared.
pub fn empty_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot flush {}", dir.display()))
}

fn parent_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    if args.to.exists() {
        bail!(
            "{} exists; backups are never overwritten: choose a new name",
            args.to.display()
        );
    }
    if !args.data.data.join(patron_sqlite::DB_FILE).is_file() {
        bail!(
            "there is no Patron database in {}",
            args.data.data.display()
        );
    }
    let started = Instant::now();
    let storage = crate::open_storage(&args.data)?;
    let mut partial = args.to.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let _ = std::fs::remove_file(&partial);
    storage
        .backup_into(&partial)
        .await
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", partial.display()))?;
    let check = patron_sqlite::check_file(&partial).map_err(|e| anyhow::anyhow!("{e}"))?;
    if !check.problems.is_empty() {
        let _ = std::fs::remove_file(&partial);
        bail!("the copy failed its check: {}", check.problems.join("; "));
    }
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot flush {}", partial.display()))?;
    std::fs::rename(&partial, &args.to)
        .with_context(|| format!("cannot move the backup to {}", args.to.display()))?;
    sync_dir(&parent_of(&args.to))?;
    let bytes = std::fs::metadata(&args.to).map(|m| m.len()).unwrap_or(0);
    println!(
        "backed up {} ({} customers, {} orders, schema {}) to {}: {bytes} bytes in {:.1} s",
        check.node,
        check.customers,
        check.orders,
        check.schema,
        args.to.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let check = patron_sqlite::check_file(&args.from).map_err(|e| anyhow::anyhow!("{e}"))?;
    if !check.problems.is_empty() {
        bail!(
            "{} is damaged and was not restored: {}",
            args.from.display(),
            check.problems.join("; ")
        );
    }
    if check.schema > check.known_schema {
        bail!(
            "{} is from a newer Patron (schema {}, this build knows {}): restore it with that version",
            args.from.display(),
            check.schema,
            check.known_schema
        );
    }
    let dir = &args.data;
    let _lock = lock_data_dir(dir)?;
    let staging = dir.join("restore");
    empty_dir(&staging)?;
    let staged = staging.join(patron_sqlite::DB_FILE);
    std::fs::copy(&args.from, &staged)
        .with_context(|| format!("cannot copy {}", args.from.display()))?;
    {
        // Opening upgrades an older backup to this build's schema.
        let storage = patron_sqlite::SqliteStorage::open(&staging)
            .map_err(|e| anyhow::anyhow!("the backup does not open: {e}"))?;
        use patron_storage::Storage as _;
        storage
            .after_restore()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        storage
            .checkpoint()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    std::fs::File::open(&staged)?.sync_all()?;

    // The database being replaced is kept, not deleted: a wrong backup chosen
    // in a hurry must not cost the only other copy.
    let live = dir.join(patron_sqlite::DB_FILE);
    let mut kept = None;
    if live.exists() {
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let aside = dir.join(format!("replaced-{stamp}"));
        std::fs::create_dir_all(&aside)?;
        for suffix in ["", "-wal", "-shm"] {
            let from = dir.join(format!("{}{suffix}", patron_sqlite::DB_FILE));
            if from.exists() {
                std::fs::rename(
                    &from,
                    aside.join(format!("{}{suffix}", patron_sqlite::DB_FILE)),
                )?;
            }
        }
        kept = Some(aside);
    }
    std::fs::rename(&staged, &live)?;
    sync_dir(dir)?;
    let _ = std::fs::remove_dir_all(&staging);
    println!(
        "restored {} ({} customers, {} orders, schema {} → {}) into {}",
        check.node,
        check.customers,
        check.orders,
        check.schema,
        check.known_schema,
        dir.display()
    );
    if let Some(aside) = kept {
        println!("  the database it replaced is in {}", aside.display());
    }
    if check.node != "HQ" {
        println!(
            "  start the store as before: it reads back from HQ what it had sent after the backup"
        );
    }
    Ok(ExitCode::SUCCESS)
}
