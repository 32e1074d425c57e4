//! Listing and query-box search.
//!
//! A query is answered in two tiers:
//! 1. prefix matches, alphabetical (last, first): names, "first last", "last first", email, phone digits
//!    (any suffix of the number), code. Each kind is one range scan on its own
//!    covering index that already yields rows in alphabetical order, so a page
//!    costs a few index seeks however many customers match.
//! 2. when nothing matches by prefix: substring matches from the trigram index
//!    (queries of 3+ characters with a letter), in the order customers were
//!    added: sorting every candidate alphabetically would cost a scan of all of
//!    them, and a register needs the first screenful now.
//!
//! The cursor remembers the tier and the last (sort_key, seq) returned.

use crate::customers::{COLUMNS, row_to_customer};
use crate::{db_err, invalid};
use patron_domain::search::{
    NAME_HEAD_LEN, SORT_SEPARATOR, SearchQuery, name_head, prefix_upper_bound,
};
use patron_domain::{CodeFormat, Customer};
use patron_storage::{
    ActiveFilter, Cursor, CustomerQuery, ListOrder, MAX_PAGE_SIZE, OriginFilter, Page, Result, Tier,
};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};
use std::collections::HashMap;

/// A SQL condition with its parameters.
struct Cond {
    sql: String,
    params: Vec<Value>,
}

impl Cond {
    fn new(sql: impl Into<String>, params: Vec<Value>) -> Self {
        Self {
            sql: sql.into(),
            params,
        }
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// `column` starts with `prefix`, as an index range.
fn prefix(index: &'static str, column: &str, prefix_value: &str) -> (&'static str, Cond) {
    (
        index,
        Cond::new(
            format!("({column} >= ? AND {column} < ?)"),
            vec![
                text(prefix_value),
                Value::Text(prefix_upper_bound(prefix_value)),
            ],
        ),
    )
}

fn filters(q: &CustomerQuery) -> Cond {
    let mut sql = Vec::new();
    let mut params = Vec::new();
    match q.active {
        ActiveFilter::Active => sql.push("active = 1".to_owned()),
        ActiveFilter::Inactive => sql.push("active = 0".to_owned()),
        ActiveFilter::All => {}
    }
    match &q.origin {
        OriginFilter::Any => {}
        OriginFilter::Hq => sql.push("origin_store IS NULL".to_owned()),
        OriginFilter::Store(s) => {
            sql.push("origin_store = ?".to_owned());
            params.push(text(s.as_str()));
        }
    }
    if let Some(t) = &q.customer_type {
        sql.push("type_id = ?".to_owned());
        params.push(text(&t.to_string()));
    }
    if let Some(g) = &q.group {
        sql.push("seq IN (SELECT customer_seq FROM group_members WHERE group_id = ?)".to_owned());
        params.push(text(&g.to_string()));
    }
    if sql.is_empty() {
        sql.push("1".to_owned());
    }
    Cond::new(sql.join(" AND "), params)
}

fn after(cursor: Option<&Cursor>) -> Cond {
    match cursor {
        Some(c) => Cond::new(
            "(sort_key, seq) > (?, ?)",
            vec![text(&c.sort_key), Value::Integer(c.seq)],
        ),
        None => Cond::new("1", vec![]),
    }
}

/// The prefix-tier lookups for a query, each with the index that answers it.
/// First names starting with `word`, counted up to [`SPARSE_FIRST_NAMES`].
const SPARSE_FIRST_NAMES: i64 = 2_000;

fn first_names_starting(c: &Connection, word: &str) -> Result<i64> {
    c.prepare_cached(
        "SELECT count(*) FROM (SELECT 1 FROM customers INDEXED BY customers_by_full
         WHERE full_key >= ?1 AND full_key < ?2 LIMIT ?3)",
    )
    .map_err(db_err)?
    .query_row(
        params_from_iter([
            text(word),
            Value::Text(prefix_upper_bound(word)),
            Value::Integer(SPARSE_FIRST_NAMES),
        ]),
        |r| r.get(0),
    )
    .map_err(db_err)
}

fn prefix_conditions(
    c: &Connection,
    s: &SearchQuery,
    code_format: &CodeFormat,
) -> Result<Vec<(&'static str, Cond)>> {
    let mut out = Vec::new();
    if !s.text.is_empty() {
        if !s.text.contains(' ') {
            // One word: a first-name prefix. A word shorter than the head key
            // ("al", "jo") would match too many first names to sort; it finds
            // first names that are exactly that word instead.
            if s.text.len() < NAME_HEAD_LEN {
                out.push(prefix(
                    "customers_by_full",
                    "full_key",
                    &format!("{} ", s.text),
                ));
            } else if s.text.len() > NAME_HEAD_LEN
                && first_names_starting(c, &s.text)? < SPARSE_FIRST_NAMES
            {
                // Few first names start with it ("mars", "rice"): reading them
                // all and sorting is cheap, while the head index would step
                // over every "mar…" first name to find none.
                out.push(prefix("customers_by_full", "full_key", &s.text));
            } else {
                let (_, range) = prefix("", "full_key", &s.text);
                let mut params = vec![text(name_head(&s.text))];
                params.extend(range.params);
                out.push((
                    "customers_by_head",
                    Cond::new(format!("name_head = ? AND {}", range.sql), params),
                ));
            }
        } else {
            // "first last".
            out.push(prefix("customers_by_full", "full_key", &s.text));
        }
        // Last name, or "last first" at each word boundary ("van berg anna").
        out.push(prefix("customers_by_sort", "sort_key", &s.text));
        for (i, _) in s.text.match_indices(' ').take(3) {
            let key = format!("{}{SORT_SEPARATOR}{}", &s.text[..i], &s.text[i + 1..]);
            out.push(prefix("customers_by_sort", "sort_key", &key));
        }
    }
    // Emails by prefix only when the query looks like one: "smit" is a name, and
    // the substring tier still finds it inside email addresses.
    if let Some(e) = s
        .email
        .as_ref()
        .filter(|e| e.contains('@') || e.contains('.'))
    {
        out.push((
            "customers_by_email",
            Cond::new(
                "(email_key >= ? AND email_key < ?)",
                vec![text(e), Value::Text(prefix_upper_bound(e))],
            ),
        ));
    }
    if let Some(rev) = &s.phone_suffix_reversed {
        out.push(prefix("customers_by_phone", "phone_rev", rev));
    }
    if let Some(e164) = &s.phone_e164 {
        let rev: String = e164.chars().rev().filter(char::is_ascii_digit).collect();
        out.push((
            "customers_by_phone",
            Cond::new("phone_rev = ?", vec![Value::Text(rev)]),
        ));
    }
    if let Some(code) = &s.code_prefix {
        out.push(("customers_by_code", prefix("", "code", code).1));
    }
    if let Some(n) = s.code_number {
        let code = code_format.format(n);
        out.push((
            "customers_by_code",
            Cond::new("code = ?", vec![text(code.as_str())]),
        ));
    }
    Ok(out)
}

/// (sort_key, seq) of the first `limit` rows matching `conds` (ORed) after the cursor.
fn keys(
    c: &Connection,
    index: Option<&str>,
    cond: &Cond,
    extra: &[&Cond],
    limit: usize,
) -> Result<Vec<(String, i64)>> {
    let indexed = index
        .map(|i| format!(" INDEXED BY {i}"))
        .unwrap_or_default();
    let mut sql = format!(
        "SELECT sort_key, seq FROM customers{indexed} WHERE {}",
        cond.sql
    );
    let mut params = cond.params.clone();
    for e in extra {
        sql.push_str(" AND ");
        sql.push_str(&e.sql);
        params.extend(e.params.iter().cloned());
    }
    sql.push_str(" ORDER BY sort_key, seq LIMIT ?");
    params.push(Value::Integer(limit as i64));
    let mut st = c.prepare_cached(&sql).map_err(db_err)?;
    let rows = st
        .query_map(params_from_iter(params), |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
}

/// An FTS5 query for rows containing every trigram of `s`. With detail=none
/// FTS5 cannot match a phrase, so the trigrams are ANDed as separate terms and
/// the caller re-checks real containment.
fn fts_trigrams(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let terms: Vec<String> = chars
        .windows(3)
        .map(|w| format!("\"{}\"", w.iter().collect::<String>().replace('"', "\"\"")))
        .collect();
    format!("({})", terms.join(" AND "))
}

/// The texts to look for inside names and emails. Code- and phone-shaped queries
/// have none: their prefix lookups are exact, and a trigram scan for digits
/// would cost milliseconds for nothing.
fn substring_needles(s: &SearchQuery) -> Vec<&str> {
    let has_letter = s.text.chars().any(|c| c.is_ascii_alphabetic());
    let code_like = s.code_prefix.as_deref().is_some_and(|c| {
        let digits = c.trim_start_matches(|ch: char| !ch.is_ascii_digit());
        !digits.is_empty() && digits.chars().all(|ch| ch.is_ascii_digit())
    });
    if !has_letter || code_like {
        return Vec::new();
    }
    let mut needles: Vec<&str> = Vec::new();
    if s.text.chars().count() >= 3 {
        needles.push(&s.text);
    }
    if let Some(e) = s
        .email
        .as_deref()
        .filter(|e| e.chars().count() >= 3 && *e != s.text)
    {
        needles.push(e);
    }
    needles
}

/// Substring matches that are not prefix matches, in the order customers were
/// added (`seq`), so the scan stops after `limit` hits instead of collecting and
/// sorting every candidate.
fn substring_keys(
    c: &Connection,
    s: &SearchQuery,
    prefix_conds: &[(&'static str, Cond)],
    filter: &Cond,
    after_seq: i64,
    limit: usize,
) -> Result<Vec<(String, i64)>> {
    let needles = substring_needles(s);
    if needles.is_empty() {
        return Ok(Vec::new());
    }
    let matcher = needles
        .iter()
        .map(|n| fts_trigrams(n))
        .collect::<Vec<_>>()
        .join(" OR ");
    // The trigram index keeps no positions, so a candidate is re-checked on the row.
    let recheck = needles
        .iter()
        .map(|_| "(instr(full_key, ?) > 0 OR instr(coalesce(email_key, ''), ?) > 0)")
        .collect::<Vec<_>>()
        .join(" OR ");
    let mut params = vec![Value::Text(matcher), Value::Integer(after_seq)];
    for n in &needles {
        params.push(text(n));
        params.push(text(n));
    }
    let mut sql = format!(
        "SELECT sort_key, seq FROM customer_fts JOIN customers ON seq = customer_fts.rowid \
         WHERE customer_fts MATCH ? AND customer_fts.rowid > ? AND ({recheck}) AND {}",
        filter.sql
    );
    params.extend(filter.params.iter().cloned());
    if !prefix_conds.is_empty() {
        let any_prefix = prefix_conds
            .iter()
            .map(|(_, c)| c.sql.as_str())
            .collect::<Vec<_>>()
            .join(" OR ");
        // coalesce: a NULL email or phone makes its condition NULL, and NOT NULL is not true.
        sql.push_str(&format!(" AND NOT coalesce({any_prefix}, 0)"));
        for (_, c) in prefix_conds {
            params.extend(c.params.iter().cloned());
        }
    }
    sql.push_str(" ORDER BY customer_fts.rowid LIMIT ?");
    params.push(Value::Integer(limit as i64));
    let mut st = c.prepare_cached(&sql).map_err(db_err)?;
    let rows = st
        .query_map(params_from_iter(params), |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
}

fn fetch(c: &Connection, picked: &[(Tier, String, i64)]) -> Result<Vec<Customer>> {
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; picked.len()].join(",");
    let sql = format!("SELECT {COLUMNS} FROM customers WHERE seq IN ({marks})");
    let mut st = c.prepare_cached(&sql).map_err(db_err)?;
    let rows = st
        .query_map(
            params_from_iter(picked.iter().map(|p| p.2)),
            row_to_customer,
        )
        .map_err(db_err)?;
    let mut by_seq: HashMap<i64, Customer> = rows
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(db_err)?
        .into_iter()
        .collect();
    Ok(picked.iter().filter_map(|p| by_seq.remove(&p.2)).collect())
}

pub fn list(c: &Connection, q: &CustomerQuery, code_format: &CodeFormat) -> Result<Page<Customer>> {
    let limit = q.limit.clamp(1, MAX_PAGE_SIZE);
    let need = limit + 1;
    let filter = filters(q);
    let mut picked: Vec<(Tier, String, i64)> = Vec::with_capacity(need);

    if q.cursor.as_ref().is_some_and(|c| c.order != q.order) {
        return Err(invalid("cursor", "belongs to a list in another order"));
    }
    let search = q.search.as_ref().filter(|s| !s.is_empty());
    if search.is_some() && q.order != ListOrder::Name {
        return Err(invalid(
            "sort",
            "a search lists the best matches first; sort the list without a search",
        ));
    }
    if q.order != ListOrder::Name {
        let rows = ordered_keys(c, q.order, &filter, q.cursor.as_ref(), need)?;
        let picked = rows
            .into_iter()
            .map(|(k, s)| (Tier::Prefix, k, s))
            .collect();
        return page_of(c, picked, limit, q.order);
    }
    match search {
        None => {
            let cursor = after(q.cursor.as_ref());
            let index = match q.origin {
                OriginFilter::Store(_) => "customers_by_origin",
                _ => "customers_by_sort",
            };
            let rows = keys(c, Some(index), &filter, &[&cursor], need)?;
            picked.extend(rows.into_iter().map(|(k, s)| (Tier::Prefix, k, s)));
        }
        Some(s) => {
            let conds = prefix_conditions(c, s, code_format)?;
            let start = q.cursor.as_ref().map_or(Tier::Prefix, |c| c.tier);
            if start == Tier::Prefix {
                let cursor = after(q.cursor.as_ref());
                let mut merged: Vec<(String, i64)> = Vec::new();
                for (index, cond) in &conds {
                    merged.extend(keys(c, Some(index), cond, &[&filter, &cursor], need)?);
                }
                merged.sort();
                merged.dedup();
                merged.truncate(need);
                picked.extend(merged.into_iter().map(|(k, s)| (Tier::Prefix, k, s)));
            }
            // Substring matches are for when nothing starts with what was typed
            // ("mith", "ller"): once a query has prefix matches they are the
            // answer, and the trigram scan (milliseconds on common trigrams)
            // is not run.
            let substring = match q.cursor.as_ref().map(|c| c.tier) {
                None => picked.is_empty(),
                Some(Tier::Substring) => true,
                Some(Tier::Prefix) => false,
            };
            if substring && picked.len() < need {
                let after_seq = q
                    .cursor
                    .as_ref()
                    .filter(|c| c.tier == Tier::Substring)
                    .map_or(0, |c| c.seq);
                let rows = substring_keys(c, s, &conds, &filter, after_seq, need - picked.len())?;
                picked.extend(rows.into_iter().map(|(k, s)| (Tier::Substring, k, s)));
            }
        }
    }

    page_of(c, picked, limit, ListOrder::Name)
}

/// (sort key, seq) of the first `limit` rows after `cursor` in an order other
/// than by name, each on its index: code (unique), seq (the row id, newest
/// first), total spent (highest first, ties newest first: the spend index
/// read backwards).
fn ordered_keys(
    c: &Connection,
    order: ListOrder,
    filter: &Cond,
    cursor: Option<&Cursor>,
    limit: usize,
) -> Result<Vec<(String, i64)>> {
    let mut params = filter.params.clone();
    let (select, after, order_by) = match order {
        ListOrder::Code => ("code", "code > ?", "code"),
        ListOrder::Newest => ("''", "seq < ?", "seq DESC"),
        ListOrder::Spent => (
            "CAST(total_spent AS TEXT)",
            "(total_spent, seq) < (?, ?)",
            "total_spent DESC, seq DESC",
        ),
        ListOrder::Name => ("sort_key", "(sort_key, seq) > (?, ?)", "sort_key, seq"),
    };
    let mut sql = format!("SELECT {select}, seq FROM customers WHERE {}", filter.sql);
    if let Some(cur) = cursor {
        sql.push_str(" AND ");
        sql.push_str(after);
        match order {
            ListOrder::Code => params.push(text(&cur.sort_key)),
            ListOrder::Newest => params.push(Value::Integer(cur.seq)),
            ListOrder::Spent => {
                let spent: i64 = cur
                    .sort_key
                    .parse()
                    .map_err(|_| invalid("cursor", "is not a cursor this server issued"))?;
                params.extend([Value::Integer(spent), Value::Integer(cur.seq)]);
            }
            ListOrder::Name => params.extend([text(&cur.sort_key), Value::Integer(cur.seq)]),
        }
    }
    sql.push_str(&format!(" ORDER BY {order_by} LIMIT ?"));
    params.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    let mut st = c.prepare_cached(&sql).map_err(db_err)?;
    let rows = st
        .query_map(params_from_iter(params), |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
}

/// The first `limit` of `picked` as a page, with a cursor after the last if
/// there was one more.
fn page_of(
    c: &Connection,
    mut picked: Vec<(Tier, String, i64)>,
    limit: usize,
    order: ListOrder,
) -> Result<Page<Customer>> {
    let more = picked.len() > limit;
    picked.truncate(limit);
    let next_cursor = more
        .then(|| picked.last())
        .flatten()
        .map(|(tier, sort_key, seq)| Cursor {
            tier: *tier,
            order,
            sort_key: sort_key.clone(),
            seq: *seq,
        });
    Ok(Page {
        items: fetch(c, &picked)?,
        next_cursor,
    })
}

/// A group's members, alphabetical, with the list filters and cursors.
pub fn group_members(c: &Connection, group_id: &str, q: &CustomerQuery) -> Result<Page<Customer>> {
    let limit = q.limit.clamp(1, MAX_PAGE_SIZE);
    let need = limit + 1;
    let filter = filters(q);
    let cursor = after(q.cursor.as_ref());
    let member = Cond::new(
        "seq IN (SELECT customer_seq FROM group_members WHERE group_id = ?)",
        vec![text(group_id)],
    );
    let rows = keys(
        c,
        Some("customers_by_sort"),
        &member,
        &[&filter, &cursor],
        need,
    )?;
    let picked: Vec<(Tier, String, i64)> = rows
        .into_iter()
        .map(|(k, s)| (Tier::Prefix, k, s))
        .collect();
    page_of(c, picked, limit, ListOrder::Name)
}
