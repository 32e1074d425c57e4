//! Volume for `patron bench reports`: a year of synthetic orders and ledger
//! entries written straight into a node's database, through the same triggers
//! that keep the reports' day totals (so the bench also prices them). Not for
//! real data: the entries do not come from the loyalty rules and do not move
//! the customers' cached balances.

use crate::{DB_FILE, db_err};
use patron_storage::Result;
use rusqlite::{Connection, params};
use std::path::Path;

/// Adds `orders` orders and `entries` ledger entries over the customers the
/// database holds, spread over the 365 days before now, across 20 stores and
/// HQ. Returns how many of each were written.
pub fn synthetic_history(dir: &Path, orders: u64, entries: u64) -> Result<(u64, u64)> {
    let c = Connection::open(dir.join(DB_FILE)).map_err(db_err)?;
    c.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(db_err)?;
    let customers: i64 = c
        .query_row("SELECT max(seq) FROM customers", [], |r| r.get(0))
        .map_err(db_err)?;
    let now = crate::micros(time::OffsetDateTime::now_utc());
    let year: i64 = 365 * 86_400 * 1_000_000;
    c.execute_batch("BEGIN").map_err(db_err)?;
    c.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO orders (id, customer_seq, fingerprint, at, store, actor, subtotal, discount,
                             total, points_redeemed, credit_redeemed, earned, tax_exempt,
                             discounts, overrides)
         SELECT 'bench-' || i, 1 + abs(random()) % ?2, '', ?3 - abs(random()) % ?4,
                CASE WHEN i % 21 = 0 THEN NULL ELSE printf('S%02d', i % 21) END, 'bench',
                1000 + i % 9000, (i % 9000) / 20, 1000 + i % 9000 - (i % 9000) / 20, 0, 0,
                (1000 + i % 9000) / 50, 0, '[]', '[]'
         FROM n",
        params![orders, customers, now, year],
    )
    .map_err(db_err)?;
    c.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO ledger (id, customer_seq, account, kind, amount, at, store, actor)
         SELECT 'bench-' || i, 1 + abs(random()) % ?2,
                CASE WHEN i % 10 = 0 THEN 'credit' ELSE 'points' END,
                CASE i % 5 WHEN 0 THEN 'redeem' WHEN 1 THEN 'expire' ELSE 'earn' END,
                CASE i % 5 WHEN 0 THEN -(i % 500) WHEN 1 THEN -(i % 50) ELSE i % 700 END,
                ?3 - abs(random()) % ?4,
                CASE WHEN i % 21 = 0 THEN NULL ELSE printf('S%02d', i % 21) END, 'bench'
         FROM n",
        params![entries, customers, now, year],
    )
    .map_err(db_err)?;
    c.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE);")
        .map_err(db_err)?;
    Ok((orders, entries))
}
