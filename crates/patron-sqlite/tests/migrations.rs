//! Schema steps that fill derived columns for rows written before them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use patron_domain::customer::Field;
use patron_storage::Storage;
use patron_storage::conformance::{actor, draft, person};

#[tokio::test]
async fn duplicate_keys_are_filled_for_existing_customers() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = patron_sqlite::SqliteStorage::open(dir.path()).unwrap();
        let mut p = person("José", "García");
        p.data = draft(&[
            (Field::FirstName, "José"),
            (Field::LastName, "García"),
            (Field::DateOfBirth, "1985-01-02"),
            (Field::IdNumber, "x12-345"),
            (Field::Phone, "201 555 0123"),
        ]);
        store.create_customer(&actor(), p).await.unwrap();
    }
    // Back to the schema before the keys existed, as an older build left it.
    {
        let c = rusqlite::Connection::open(dir.path().join(patron_sqlite::DB_FILE)).unwrap();
        c.execute_batch(
            "DROP INDEX customers_by_id_key; DROP INDEX customers_by_person;
             ALTER TABLE customers DROP COLUMN id_key; ALTER TABLE customers DROP COLUMN person_key;
             ALTER TABLE customers DROP COLUMN erased_at;
             DROP INDEX customers_merged_into; ALTER TABLE customers DROP COLUMN merged_into;
             DROP INDEX customers_by_import_key; ALTER TABLE customers DROP COLUMN import_key;
             ALTER TABLE customers DROP COLUMN opening_spent;
             ALTER TABLE customers DROP COLUMN opening_visits;
             ALTER TABLE customers DROP COLUMN field_by;
             DROP TABLE receipt_outbox;
             DROP TRIGGER report_orders; DROP TRIGGER report_returns;
             DROP TRIGGER report_ledger; DROP TRIGGER report_customers;
             DROP VIEW report_offset; DROP INDEX customers_by_spent;
             DROP TABLE report_sales_daily; DROP TABLE report_ledger_daily;
             DROP TABLE report_customers_daily; DROP TABLE report_group_sizes;
             ALTER TABLE customers DROP COLUMN phone_display;
             PRAGMA user_version = 7;",
        )
        .unwrap();
    }
    let store = patron_sqlite::SqliteStorage::open(dir.path()).unwrap();
    // Phones written before their display form was kept get one.
    let jose = store
        .customer(&patron_storage::CustomerKey::Code("CUST-00001".into()))
        .await
        .unwrap();
    assert_eq!(
        jose.data.phone.as_ref().map(|p| p.display()),
        Some("(201) 555-0123")
    );
    let probe = draft(&[
        (Field::FirstName, "jose"),
        (Field::LastName, "GARCIA"),
        (Field::DateOfBirth, "1985-01-02"),
    ]);
    let found = store
        .likely_same(&probe.duplicate_keys(), None, 5)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let probe = draft(&[
        (Field::FirstName, "Someone"),
        (Field::LastName, "Else"),
        (Field::IdNumber, "X12345"),
    ]);
    assert_eq!(
        store
            .likely_same(&probe.duplicate_keys(), None, 5)
            .await
            .unwrap()
            .len(),
        1
    );
}
