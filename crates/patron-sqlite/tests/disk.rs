//! The WAL does not keep what a large write put in it: an import and a
//! migration checkpoint and truncate it; any checkpoint cuts it back to the limit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use patron_storage::conformance::{actor, person};
use patron_storage::{ImportOptions, ImportRow, Storage};

fn wal_bytes(dir: &std::path::Path) -> u64 {
    std::fs::metadata(dir.join(format!("{}-wal", patron_sqlite::DB_FILE)))
        .map(|m| m.len())
        .unwrap_or(0)
}

#[tokio::test]
async fn an_import_gives_the_wal_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = patron_sqlite::SqliteStorage::open(dir.path()).unwrap();
    let rows: Vec<_> = (0..4_000u64)
        .map(|i| {
            Ok(ImportRow::new(
                i + 2,
                person("Wal", &format!("Person{i:05}")),
            ))
        })
        .collect();
    let out = store
        .import_customers(
            &actor(),
            Box::new(rows.into_iter()),
            ImportOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.created.len(), 4_000);
    let db = std::fs::metadata(dir.path().join(patron_sqlite::DB_FILE))
        .unwrap()
        .len();
    // Without the checkpoint the WAL holds about the whole import (megabytes).
    assert!(db > 1_000_000, "the import wrote {db} bytes");
    assert!(
        wal_bytes(dir.path()) < 64 * 1024,
        "WAL {} bytes",
        wal_bytes(dir.path())
    );
    // The next writes work as before.
    store
        .create_customer(&actor(), person("After", "Checkpoint"))
        .await
        .unwrap();
}
