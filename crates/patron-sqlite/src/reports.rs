//! Reports from the day totals migration 0013's triggers keep (see
//! `patron_storage::reports` for what the rows mean).

use crate::db_err;
use patron_domain::loyalty::{Account, EntryKind};
use patron_storage::{
    GroupSizeDay, LedgerDay, Liability, ReportRange, Result, SalesDay, SignupDay, TopCustomer,
};
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};
use time::Date;
use uuid::Uuid;

const DAY: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

fn day_text(d: Date) -> String {
    d.format(DAY).unwrap_or_default()
}

fn day_col(r: &Row<'_>, col: usize) -> rusqlite::Result<Date> {
    let s: String = r.get(col)?;
    Date::parse(&s, DAY).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// HQ's own rows are kept under '' and shown as "HQ".
fn store_name(s: String) -> String {
    if s.is_empty() { "HQ".to_owned() } else { s }
}

/// `WHERE day BETWEEN ? AND ? [AND store = ?]` and its values.
fn range_filter(range: &ReportRange) -> (String, Vec<Value>) {
    let mut sql = "day BETWEEN ?1 AND ?2".to_owned();
    let mut values = vec![
        Value::Text(day_text(range.from)),
        Value::Text(day_text(range.to)),
    ];
    if let Some(s) = &range.store {
        sql.push_str(" AND store = ?3");
        values.push(Value::Text(if s.eq_ignore_ascii_case("HQ") {
            String::new()
        } else {
            s.clone()
        }));
    }
    (sql, values)
}

pub fn sales(c: &Connection, range: &ReportRange) -> Result<Vec<SalesDay>> {
    let (filter, values) = range_filter(range);
    let mut st = c
        .prepare_cached(&format!(
            "SELECT day, store, orders, subtotal, discount, total, points_redeemed,
                    credit_redeemed, earned, returns, returned_net
             FROM report_sales_daily WHERE {filter} ORDER BY day, store"
        ))
        .map_err(db_err)?;
    let rows = st
        .query_map(params_from_iter(values), |r| {
            Ok(SalesDay {
                day: Some(day_col(r, 0)?),
                store: store_name(r.get(1)?),
                orders: r.get(2)?,
                subtotal: r.get(3)?,
                discount: r.get(4)?,
                total: r.get(5)?,
                points_redeemed: r.get(6)?,
                credit_redeemed: r.get(7)?,
                earned: r.get(8)?,
                returns: r.get(9)?,
                returned_net: r.get(10)?,
            })
        })
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_err)
}

pub fn ledger(c: &Connection, range: &ReportRange) -> Result<Vec<LedgerDay>> {
    let (filter, values) = range_filter(range);
    let mut st = c
        .prepare_cached(&format!(
            "SELECT day, store, account, kind, entries, amount
             FROM report_ledger_daily WHERE {filter} ORDER BY day, store, account, kind"
        ))
        .map_err(db_err)?;
    let rows = st
        .query_map(params_from_iter(values), |r| {
            Ok((
                day_col(r, 0)?,
                store_name(r.get(1)?),
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .filter_map(|(day, store, account, kind, entries, amount)| {
            Some(LedgerDay {
                day,
                store,
                account: Account::parse(&account)?,
                kind: EntryKind::parse(&kind)?,
                entries,
                amount,
            })
        })
        .collect())
}

pub fn signups(c: &Connection, range: &ReportRange) -> Result<Vec<SignupDay>> {
    let (filter, values) = range_filter(range);
    let mut st = c
        .prepare_cached(&format!(
            "SELECT day, store, created FROM report_customers_daily
             WHERE {filter} ORDER BY day, store"
        ))
        .map_err(db_err)?;
    let rows = st
        .query_map(params_from_iter(values), |r| {
            Ok(SignupDay {
                day: day_col(r, 0)?,
                store: store_name(r.get(1)?),
                created: r.get(2)?,
            })
        })
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(db_err)
}

pub fn group_sizes(c: &Connection, range: &ReportRange) -> Result<Vec<GroupSizeDay>> {
    let mut st = c
        .prepare_cached(
            "SELECT s.day, s.group_id, g.name, s.members FROM report_group_sizes s
             JOIN groups g ON g.id = s.group_id
             WHERE s.day BETWEEN ?1 AND ?2 ORDER BY s.day, g.name",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map([day_text(range.from), day_text(range.to)], |r| {
            Ok((
                day_col(r, 0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .filter_map(|(day, id, name, members)| {
            Some(GroupSizeDay {
                day,
                group_id: Uuid::parse_str(&id).ok()?,
                name,
                members,
            })
        })
        .collect())
}

/// Records every group's active members for `today`, once a day (the first
/// maintenance run after local midnight); a count over a million members is
/// too dear for every run.
pub fn snapshot_group_sizes(c: &Connection, today: Date) -> Result<bool> {
    let day = day_text(today);
    let done: bool = c
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM report_group_sizes WHERE day = ?1)")
        .map_err(db_err)?
        .query_row([&day], |r| r.get(0))
        .map_err(db_err)?;
    if done {
        return Ok(false);
    }
    c.prepare_cached(
        "INSERT OR REPLACE INTO report_group_sizes (day, group_id, members)
         SELECT ?1, g.id,
                CASE WHEN g.kind = 'common'
                     THEN (SELECT count(*) FROM customers WHERE active = 1)
                     ELSE (SELECT count(*) FROM group_members m JOIN customers c ON c.seq = m.customer_seq
                           WHERE m.group_id = g.id AND c.active = 1) END
         FROM groups g",
    )
    .map_err(db_err)?
    .execute([&day])
    .map_err(db_err)?;
    Ok(true)
}

pub fn liability(c: &Connection) -> Result<Liability> {
    let mut st = c
        .prepare_cached("SELECT account, sum(amount) FROM report_ledger_daily GROUP BY account")
        .map_err(db_err)?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(db_err)?;
    let mut l = Liability::default();
    for row in rows {
        match row.map_err(db_err)? {
            (a, v) if a == Account::Points.as_str() => l.points = v,
            (a, v) if a == Account::Credit.as_str() => l.credit = v,
            _ => {}
        }
    }
    Ok(l)
}

pub fn top_customers(c: &Connection, limit: usize) -> Result<Vec<TopCustomer>> {
    let mut st = c
        .prepare_cached(
            "SELECT id, code, coalesce(first_name, ''), coalesce(last_name, ''), total_spent,
                    visits, points_balance
             FROM customers INDEXED BY customers_by_spent
             WHERE active = 1 AND merged_into IS NULL ORDER BY total_spent DESC, seq DESC LIMIT ?1",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map([i64::try_from(limit).unwrap_or(100)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .map_err(db_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?;
    Ok(rows
        .into_iter()
        .filter_map(
            |(id, code, first, last, total_spent, visits, points_balance)| {
                Some(TopCustomer {
                    id: Uuid::parse_str(&id).ok()?,
                    code,
                    name: format!("{first} {last}").trim().to_owned(),
                    total_spent,
                    visits,
                    points_balance,
                })
            },
        )
        .collect())
}

/// Adds the day totals of customers from `first_seq` and ledger entries from
/// `first_entry` on: what the triggers would have counted, for a bulk import
/// that set them aside (the same expressions as migration 0013's).
pub fn count_new_rows(c: &Connection, first_seq: i64, first_entry: i64) -> Result<()> {
    c.execute(
        "INSERT INTO report_customers_daily (day, store, created)
         SELECT date(created_at / 1000000 + (SELECT seconds FROM report_offset), 'unixepoch'),
                coalesce(origin_store, ''), count(*)
         FROM customers WHERE seq >= ?1 GROUP BY 1, 2
         ON CONFLICT (day, store) DO UPDATE SET created = created + excluded.created",
        [first_seq],
    )
    .map_err(db_err)?;
    c.execute(
        "INSERT INTO report_ledger_daily (day, store, account, kind, entries, amount)
         SELECT date(at / 1000000 + (SELECT seconds FROM report_offset), 'unixepoch'),
                coalesce(store, ''), account, kind, count(*), sum(amount)
         FROM ledger WHERE seq >= ?1 GROUP BY 1, 2, 3, 4
         ON CONFLICT (day, store, account, kind) DO UPDATE SET
             entries = entries + excluded.entries, amount = amount + excluded.amount",
        [first_entry],
    )
    .map_err(db_err)?;
    Ok(())
}
