//! Receipts: the customer facts a receipt prints, and the outbox of receipt
//! emails (see `patron_storage::receipts`).

use crate::{db_err, micros};
use patron_storage::{
    PendingReceipt, RECEIPT_MAX_ATTEMPTS, ReceiptFacts, ReceiptKind, ReceiptMail,
    ReceiptOutboxStatus, Result, StorageError,
};
use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;
use uuid::Uuid;

pub fn facts(c: &Connection, customer: Uuid, at: OffsetDateTime) -> Result<ReceiptFacts> {
    let (seq, first, last, code, tax_id): (
        i64,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
    ) = c
        .prepare_cached(
            "SELECT seq, first_name, last_name, code, tax_id FROM customers WHERE id = ?1",
        )
        .map_err(db_err)?
        .query_row([customer.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()
        .map_err(db_err)?
        .ok_or(StorageError::NotFound)?;
    let balance = |account: &str| -> Result<i64> {
        c.prepare_cached(
            "SELECT coalesce(sum(amount), 0) FROM ledger
             WHERE customer_seq = ?1 AND account = ?2 AND at <= ?3",
        )
        .map_err(db_err)?
        .query_row(params![seq, account, micros(at)], |r| r.get(0))
        .map_err(db_err)
    };
    let name = [first, last]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(ReceiptFacts {
        name,
        code,
        tax_id: tax_id.filter(|t| !t.is_empty()),
        points_after: balance("points")?,
        credit_after: balance("credit")?,
    })
}

/// Queues the receipt email of a sale or return made here, when this node
/// sends receipts and the customer has an email (and consented, if asked).
/// The customer is found from the sale (a return's through its order).
pub fn enqueue(
    c: &Connection,
    mode: ReceiptMail,
    kind: ReceiptKind,
    reference: &str,
    now: OffsetDateTime,
) -> Result<()> {
    if mode == ReceiptMail::Off {
        return Ok(());
    }
    let sql = match kind {
        ReceiptKind::Order => {
            "SELECT c.email, c.marketing_consent FROM orders o
             JOIN customers c ON c.seq = o.customer_seq WHERE o.id = ?1"
        }
        ReceiptKind::Return => {
            "SELECT c.email, c.marketing_consent FROM returns r
             JOIN orders o ON o.seq = r.order_seq
             JOIN customers c ON c.seq = o.customer_seq WHERE r.id = ?1"
        }
    };
    let row: Option<(Option<String>, bool)> = c
        .prepare_cached(sql)
        .map_err(db_err)?
        .query_row([reference], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(db_err)?;
    let Some((Some(email), consent)) = row else {
        return Ok(());
    };
    if email.is_empty() || (mode == ReceiptMail::Consented && !consent) {
        return Ok(());
    }
    c.prepare_cached(
        "INSERT OR IGNORE INTO receipt_outbox (kind, reference, recipient, created_at, next_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
    )
    .map_err(db_err)?
    .execute(params![kind.as_str(), reference, email, micros(now)])
    .map_err(db_err)?;
    Ok(())
}

pub fn due(c: &Connection, now: OffsetDateTime, limit: usize) -> Result<Vec<PendingReceipt>> {
    let rows = c
        .prepare_cached(
            "SELECT id, kind, reference, recipient, attempts FROM receipt_outbox
             WHERE state = 'pending' AND next_at <= ?1 ORDER BY next_at, id LIMIT ?2",
        )
        .map_err(db_err)?
        .query_map(
            params![micros(now), i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, u32>(4)?,
                ))
            },
        )
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, kind, reference, to, attempts)| {
            Some(PendingReceipt {
                id,
                kind: ReceiptKind::parse(&kind)?,
                reference,
                to,
                attempts,
            })
        })
        .collect())
}

pub fn tried(
    c: &Connection,
    id: i64,
    outcome: std::result::Result<(), String>,
    now: OffsetDateTime,
    retry_at: OffsetDateTime,
) -> Result<()> {
    match outcome {
        Ok(()) => {
            c.prepare_cached(
                "UPDATE receipt_outbox SET state = 'sent', attempts = attempts + 1, done_at = ?2
                 WHERE id = ?1 AND state = 'pending'",
            )
            .map_err(db_err)?
            .execute(params![id, micros(now)])
            .map_err(db_err)?;
        }
        Err(why) => {
            let attempts: Option<u32> = c
                .prepare_cached("SELECT attempts FROM receipt_outbox WHERE id = ?1")
                .map_err(db_err)?
                .query_row([id], |r| r.get(0))
                .optional()
                .map_err(db_err)?;
            let Some(attempts) = attempts else {
                return Ok(());
            };
            let attempts = attempts.saturating_add(1);
            let gave_up = attempts >= RECEIPT_MAX_ATTEMPTS;
            let why: String = why.chars().take(500).collect();
            c.prepare_cached(
                "UPDATE receipt_outbox SET attempts = ?2, last_error = ?3, next_at = ?4,
                    state = CASE WHEN ?5 THEN 'failed' ELSE state END,
                    done_at = CASE WHEN ?5 THEN ?6 ELSE done_at END
                 WHERE id = ?1 AND state = 'pending'",
            )
            .map_err(db_err)?
            .execute(params![
                id,
                attempts,
                why,
                micros(retry_at),
                gave_up,
                micros(now)
            ])
            .map_err(db_err)?;
        }
    }
    Ok(())
}

pub fn status(c: &Connection) -> Result<ReceiptOutboxStatus> {
    let mut s = ReceiptOutboxStatus::default();
    let mut stmt = c
        .prepare_cached("SELECT state, count(*) FROM receipt_outbox GROUP BY state")
        .map_err(db_err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))
        .map_err(db_err)?;
    for row in rows {
        let (state, n) = row.map_err(db_err)?;
        match state.as_str() {
            "pending" => s.pending = n,
            "sent" => s.sent = n,
            _ => s.failed = n,
        }
    }
    s.last_error = c
        .prepare_cached(
            "SELECT last_error FROM receipt_outbox WHERE last_error IS NOT NULL
             ORDER BY next_at DESC LIMIT 1",
        )
        .map_err(db_err)?
        .query_row([], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    Ok(s)
}
