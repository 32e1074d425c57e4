//! The reports' day totals stay right when a bulk import sets their triggers
//! aside (it counts its rows in one statement and puts the triggers back).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use patron_storage::conformance::{actor, person};
use patron_storage::{ImportOptions, ImportRow, Opening, ReportRange, Storage};
use time::OffsetDateTime;

#[tokio::test]
async fn a_bulk_import_counts_its_customers_and_opening_balances() {
    let dir = tempfile::tempdir().unwrap();
    let store = patron_sqlite::SqliteStorage::open(dir.path()).unwrap();
    let rows: Vec<_> = (0..3)
        .map(|i| {
            let mut r = ImportRow::new(i + 2, person("Imp", &format!("Orted{i}")));
            r.opening = Opening {
                points: 1_000,
                credit: 250,
                spent: 0,
                visits: 0,
            };
            Ok(r)
        })
        .collect();
    // Told to expect many rows: the bulk path, triggers set aside.
    let out = store
        .import_customers(
            &actor(),
            Box::new(rows.into_iter()),
            ImportOptions {
                expected_rows: Some(100_000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.created.len(), 3);
    let today = OffsetDateTime::now_utc().date();
    let range = ReportRange {
        from: today - time::Duration::days(1),
        to: today + time::Duration::days(1),
        store: None,
    };
    let count = |s: &[patron_storage::SignupDay]| s.iter().map(|d| d.created).sum::<i64>();
    assert_eq!(count(&store.report_signups(&range).await.unwrap()), 3);
    let owed = store.liability().await.unwrap();
    assert_eq!((owed.points, owed.credit), (3_000, 750));
    // The triggers are back: the next customer counts at once.
    store
        .create_customer(&actor(), person("After", "Import"))
        .await
        .unwrap();
    assert_eq!(count(&store.report_signups(&range).await.unwrap()), 4);
}
