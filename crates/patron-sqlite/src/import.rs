//! Imports: many customers, with what they bring from their old system, in
//! one write transaction (`Storage::import_customers`).
//!
//! Why the writer works the way it does, for a migration of a whole chain
//! (1,000,000 rows, `BENCHMARKS.md`): rows are appended to the table, and
//! everything that can be done in one statement afterwards is (the trigram
//! index, the feed, the rule-driven groups). A large import into a small
//! table drops the customer indexes and builds them again once at the end:
//! building an index from sorted rows is several times cheaper than updating
//! it at a random place for every row. Checks those indexes would answer
//! (email in use, source key seen) are then answered from sets loaded first.

use crate::customers::{email_taken, write_columns, write_values};
use crate::settings::{load as load_settings, take_code_numbers};
use crate::{db_err, duplicates, groups, micros};
use patron_domain::loyalty::{Account, EntryKind};
use patron_domain::{FieldError, SameBy};
use patron_storage::{
    Actor, GroupSpec, ImportDuplicate, ImportOptions, ImportOutcome, ImportRow, ImportStream,
    MemberTarget, OffsetDateTime, Result, StorageError, validate_opening,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use uuid::Uuid;

/// Page cache for bulk imports (KiB, negative per SQLite's convention). Inserts
/// land at random places in the indexes; once those outgrow the cache, every
/// row costs page reads and spills, which made a 1M-row import 4x slower.
const IMPORT_CACHE: i64 = -1_048_576;

/// An import expected to bring at least this many rows, and at least as many
/// as the table holds, rebuilds the customer indexes instead of updating them.
const BULK_MIN_ROWS: u64 = 50_000;

/// The indexes a bulk import builds again instead of updating: those whose
/// keys arrive in random order. The others (code, ids, mostly-empty columns)
/// take their rows in order or not at all, which costs the writer next to
/// nothing while it waits for the parsers.
const REBUILT: &[&str] = &[
    "customers_by_sort",
    "customers_by_full",
    "customers_by_head",
    "customers_by_phone",
    "customers_by_email",
    "customers_by_person",
    "customers_by_import_key",
    "customers_by_spent",
];

/// The report triggers a bulk import sets aside: their day totals are added
/// for all the new rows in one statement each at the end.
const SET_ASIDE_TRIGGERS: &[&str] = &["report_customers", "report_ledger"];

/// Rows between two flushes of the per-row side tables (trigram index,
/// audit): in bulk statements, done while the parsers fill the next rows.
const FLUSH_ROWS: usize = 65_536;

/// Imported rows reported as likely duplicates, at most (the count is exact).
const MAX_DUPLICATES_LISTED: usize = 100_000;

pub fn import(
    c: &Connection,
    actor: &Actor,
    rows: ImportStream,
    opts: ImportOptions,
) -> Result<ImportOutcome> {
    let normal: i64 = c
        .pragma_query_value(None, "cache_size", |r| r.get(0))
        .map_err(db_err)?;
    c.pragma_update(None, "cache_size", IMPORT_CACHE)
        .map_err(db_err)?;
    let out = Import::new(c, actor, opts).run(rows);
    // Give the memory back even if the import failed.
    let _ = c.pragma_update(None, "cache_size", normal);
    out
}

/// The other customers a new row shares keys with, and which keys.
type Shared = (Vec<i64>, Vec<SameBy>);

struct Import<'c> {
    c: &'c Connection,
    actor: &'c Actor,
    opts: ImportOptions,
    out: ImportOutcome,
    now: OffsetDateTime,
    /// Set in bulk mode: the indexes dropped, to build again, and what they answered.
    dropped: Vec<String>,
    /// Set in bulk mode: the report triggers set aside, to create again.
    triggers: Vec<String>,
    emails_before: Option<HashSet<String>>,
    keys_before: Option<HashSet<String>>,
    /// Seen earlier in this import.
    emails: HashSet<String>,
    keys: HashMap<String, u64>,
    /// Group name (lowercase) → its id, or why rows can't join it.
    groups: HashMap<String, std::result::Result<Uuid, String>>,
    /// Created customers' rows and lines, for the reports.
    created: Vec<(i64, u64)>,
    /// The new members of each manual group named in the file.
    memberships: HashMap<Uuid, Vec<i64>>,
}

impl<'c> Import<'c> {
    fn new(c: &'c Connection, actor: &'c Actor, opts: ImportOptions) -> Self {
        Self {
            c,
            actor,
            opts,
            out: ImportOutcome::default(),
            now: OffsetDateTime::now_utc(),
            dropped: Vec::new(),
            triggers: Vec::new(),
            emails_before: None,
            keys_before: None,
            emails: HashSet::new(),
            keys: HashMap::new(),
            groups: HashMap::new(),
            created: Vec::new(),
            memberships: HashMap::new(),
        }
    }

    fn run(mut self, rows: ImportStream) -> Result<ImportOutcome> {
        let c = self.c;
        let existing: i64 = c
            .query_row("SELECT count(*) FROM customers", [], |r| r.get(0))
            .map_err(db_err)?;
        let expected = self.opts.expected_rows.unwrap_or(0);
        if expected >= BULK_MIN_ROWS && expected >= u64::try_from(existing).unwrap_or(0) {
            self.enter_bulk()?;
        }
        let first_seq: i64 = c
            .query_row("SELECT coalesce(max(seq), 0) + 1 FROM customers", [], |r| {
                r.get(0)
            })
            .map_err(db_err)?;
        let first_entry: i64 = c
            .query_row("SELECT coalesce(max(seq), 0) + 1 FROM ledger", [], |r| {
                r.get(0)
            })
            .map_err(db_err)?;
        let settings = load_settings(c)?;
        let loyalty = crate::loyalty::load_settings(c)?;
        let points_expire = patron_core::ledger::expiry(&loyalty, Account::Points, self.now);
        // Numbers are taken in this transaction: a failed import gives them all back.
        let first = take_code_numbers(c, 0)?;
        let mut next = first;
        // One stamp for the whole import, written with each row and entry.
        let hlc = crate::sync::stamp(c)?.to_string();
        let now = micros(self.now);
        let mut flushed = first_seq - 1;
        for row in rows {
            let row = row.map_err(|e| StorageError::Backend(format!("import aborted: {e}")))?;
            let line = row.line;
            let groups = match self.admit(&row) {
                Ok(Some(groups)) => groups,
                Ok(None) => continue,
                Err(e) => {
                    self.out.rejected.push((line, e));
                    continue;
                }
            };
            let code = settings.code_format.format(next);
            next += 1;
            let id = Uuid::now_v7();
            let seq = insert(c, &row, id, code.as_str(), now, &hlc)?;
            for (account, amount) in [
                (Account::Points, row.opening.points),
                (Account::Credit, row.opening.credit),
            ] {
                if amount > 0 {
                    let expires = match account {
                        Account::Points => points_expire.map(micros),
                        Account::Credit => None,
                    };
                    opening_entry(c, id, seq, account, amount, now, expires, self.actor, &hlc)?;
                }
            }
            for g in groups {
                self.memberships.entry(g).or_default().push(seq);
            }
            self.count(&row);
            self.created.push((seq, line));
            self.out.created.push(code.as_str().to_owned());
            if seq - flushed >= FLUSH_ROWS as i64 {
                flush(c, flushed + 1, seq, now, self.actor)?;
                flushed = seq;
            }
        }
        if let Some(&(last, _)) = self.created.last()
            && last > flushed
        {
            flush(c, flushed + 1, last, now, self.actor)?;
        }
        take_code_numbers(c, next - first)?;

        let phase = std::time::Instant::now();
        tracing::debug!(rows = self.created.len(), "import: rows written");
        self.leave_bulk(first_seq, first_entry)?;
        tracing::debug!(
            ms = phase.elapsed().as_millis() as u64,
            "import: indexes built"
        );
        if !self.out.created.is_empty() {
            // The feed in dependency order: customers, their entries, their groups.
            crate::sync::mark_customers_since(c, first_seq)?;
            crate::sync::mark_ledger_since(c, first_entry)?;
            for (g, seqs) in std::mem::take(&mut self.memberships) {
                let change =
                    groups::change_members(c, &MemberTarget::Groups(vec![g]), &seqs, true)?;
                self.out.opening.memberships += change.changed.iter().map(|(_, n)| n).sum::<u64>();
            }
            // Imported customers are existing customers, not sign-ups: no
            // registration bonus. They join their rule-driven groups in bulk.
            tracing::debug!(ms = phase.elapsed().as_millis() as u64, "import: feed");
            let today = crate::checkout::local_today(&loyalty, self.now);
            crate::fill::add_new_customers(c, first_seq - 1, today)?;
            tracing::debug!(ms = phase.elapsed().as_millis() as u64, "import: groups");
            self.report_duplicates(first_seq)?;
            tracing::debug!(
                ms = phase.elapsed().as_millis() as u64,
                "import: duplicates"
            );
        }
        Ok(self.out)
    }

    /// Whether the row can be imported: `None` when its source key was
    /// imported before (skipped, counted), else the ids of its groups.
    fn admit(&mut self, row: &ImportRow) -> std::result::Result<Option<Vec<Uuid>>, FieldError> {
        if let Err(e) = validate_opening(&row.opening) {
            return Err(e
                .0
                .into_iter()
                .next()
                .unwrap_or_else(|| FieldError::new("opening", "is out of range")));
        }
        if let Some(key) = &row.source_key {
            if let Some(line) = self.keys.get(key) {
                return Err(FieldError::new(
                    "source_id",
                    format!("{key} is also on line {line}"),
                ));
            }
            if self.key_imported(key)? {
                self.out.already_imported += 1;
                return Ok(None);
            }
        }
        if let Some(e) = &row.customer.data.email {
            let k = e.key();
            if self.emails.contains(&k) || self.email_used(&k)? {
                return Err(FieldError::new(
                    "email",
                    format!("{e} is already used by another customer"),
                ));
            }
        }
        let mut ids = Vec::with_capacity(row.groups.len());
        for name in &row.groups {
            match self.group(name)? {
                Ok(id) => {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                Err(why) => return Err(FieldError::new("groups", why)),
            }
        }
        // Admitted: later rows see its email and key.
        if let Some(e) = &row.customer.data.email {
            self.emails.insert(e.key());
        }
        if let Some(key) = &row.source_key {
            self.keys.insert(key.clone(), row.line);
        }
        Ok(Some(ids))
    }

    /// In bulk mode the sets loaded first answer; otherwise the indexes do.
    fn key_imported(&self, key: &str) -> std::result::Result<bool, FieldError> {
        match &self.keys_before {
            Some(set) => Ok(set.contains(key)),
            None => self
                .c
                .prepare_cached("SELECT 1 FROM customers WHERE import_key = ?1")
                .and_then(|mut st| st.query_row([key], |_| Ok(())).optional())
                .map(|found| found.is_some())
                .map_err(|e| FieldError::new("source_id", format!("cannot be checked: {e}"))),
        }
    }

    fn email_used(&self, key: &str) -> std::result::Result<bool, FieldError> {
        match &self.emails_before {
            Some(set) => Ok(set.contains(key)),
            None => email_taken(self.c, key, None)
                .map_err(|e| FieldError::new("email", format!("cannot be checked: {e}"))),
        }
    }

    /// The manual group `name`, created if missing and allowed.
    fn group(
        &mut self,
        name: &str,
    ) -> std::result::Result<std::result::Result<Uuid, String>, FieldError> {
        let name = name.trim();
        let folded = name.to_lowercase();
        if let Some(found) = self.groups.get(&folded) {
            return Ok(found.clone());
        }
        let backend = |e: StorageError| FieldError::new("groups", e.to_string());
        let found: Option<(String, String)> = self
            .c
            .query_row("SELECT id, kind FROM groups WHERE name = ?1", [name], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(|e| backend(db_err(e)))?;
        let answer = match found {
            Some((id, kind)) if kind == "manual" => Ok(Uuid::parse_str(&id)
                .map_err(|_| FieldError::new("groups", format!("{name} has a malformed id")))?),
            Some(_) => Err(format!(
                "{name} is filled by its rule; customers cannot be put in it by hand"
            )),
            None if name.is_empty() || name.chars().count() > 100 => {
                Err("a group name must be 1 to 100 characters".to_owned())
            }
            None if self.opts.create_groups => {
                let spec = GroupSpec::manual(name, Some("created by an import".into()));
                let (id, _) = groups::save(self.c, None, &spec, self.now).map_err(backend)?;
                self.out.groups_created.push(name.to_owned());
                Ok(id)
            }
            None => Err(format!(
                "there is no group named {name} (create it first, or import with --create-groups)"
            )),
        };
        self.groups.insert(folded, answer.clone());
        Ok(answer)
    }

    fn count(&mut self, row: &ImportRow) {
        let t = &mut self.out.opening;
        t.points += i128::from(row.opening.points);
        t.credit += i128::from(row.opening.credit);
        t.spent += i128::from(row.opening.spent);
        t.visits += i128::from(row.opening.visits);
    }

    /// Drops the customer indexes (built again by `leave_bulk`) and loads
    /// what the import would have asked them.
    fn enter_bulk(&mut self) -> Result<()> {
        let c = self.c;
        let set = |sql: &str| -> Result<HashSet<String>> {
            let mut st = c.prepare(sql).map_err(db_err)?;
            let rows = st.query_map([], |r| r.get(0)).map_err(db_err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(db_err)
        };
        self.emails_before = Some(set(
            "SELECT email_key FROM customers WHERE email_key IS NOT NULL",
        )?);
        self.keys_before = Some(set(
            "SELECT import_key FROM customers WHERE import_key IS NOT NULL",
        )?);
        let indexes: Vec<(String, String)> = c
            .prepare(
                "SELECT name, sql FROM sqlite_master
                 WHERE type = 'index' AND tbl_name = 'customers' AND sql IS NOT NULL",
            )
            .map_err(db_err)?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db_err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db_err)?;
        for (name, sql) in indexes {
            if !REBUILT.contains(&name.as_str()) {
                continue;
            }
            c.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))
                .map_err(db_err)?;
            self.dropped.push(sql);
        }
        for name in SET_ASIDE_TRIGGERS {
            let sql: Option<String> = c
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            if let Some(sql) = sql {
                c.execute_batch(&format!("DROP TRIGGER {name}"))
                    .map_err(db_err)?;
                self.triggers.push(sql);
            }
        }
        Ok(())
    }

    fn leave_bulk(&mut self, first_seq: i64, first_entry: i64) -> Result<()> {
        for sql in std::mem::take(&mut self.dropped) {
            let t = std::time::Instant::now();
            self.c.execute_batch(&sql).map_err(db_err)?;
            tracing::debug!(ms = t.elapsed().as_millis() as u64, sql, "import: index");
        }
        let triggers = std::mem::take(&mut self.triggers);
        if !triggers.is_empty() {
            crate::reports::count_new_rows(self.c, first_seq, first_entry)?;
            for sql in triggers {
                self.c.execute_batch(&sql).map_err(db_err)?;
            }
        }
        Ok(())
    }

    /// Imported rows that share a phone, email, ID document or name and date
    /// of birth with another customer: one pass per key over its index.
    fn report_duplicates(&mut self, first_seq: i64) -> Result<()> {
        let pairs = duplicates::involving_new(self.c, first_seq)?;
        if pairs.is_empty() {
            return Ok(());
        }
        let lines: HashMap<i64, u64> = self.created.iter().copied().collect();
        let mut by_seq: HashMap<i64, Shared> = HashMap::new();
        for (seq, other, by) in pairs {
            let e = by_seq.entry(seq).or_default();
            if !e.0.contains(&other) {
                e.0.push(other);
            }
            if !e.1.contains(&by) {
                e.1.push(by);
            }
        }
        let mut found: Vec<(i64, Shared)> = by_seq.into_iter().collect();
        found.sort_by_key(|(seq, _)| *seq);
        let mut code = self
            .c
            .prepare_cached("SELECT code FROM customers WHERE seq = ?1")
            .map_err(db_err)?;
        for (seq, (others, mut by)) in found.into_iter().take(MAX_DUPLICATES_LISTED) {
            let Some(&line) = lines.get(&seq) else {
                continue;
            };
            by.sort();
            let mut codes = Vec::with_capacity(others.len());
            for o in others {
                codes.push(code.query_row([o], |r| r.get(0)).map_err(db_err)?);
            }
            self.out.likely_duplicates.push(ImportDuplicate {
                line,
                code: code.query_row([seq], |r| r.get(0)).map_err(db_err)?,
                others: codes,
                by,
            });
        }
        Ok(())
    }
}

/// The side rows of customers `from..=to`: their trigram entries (the same
/// text `fts_text` builds: folded full name, then the email key) and who
/// imported them.
fn flush(c: &Connection, from: i64, to: i64, now: i64, actor: &Actor) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO customer_fts (rowid, text)
         SELECT seq, full_key || coalesce(' ' || email_key, '') FROM customers
         WHERE seq BETWEEN ?1 AND ?2",
    )
    .map_err(db_err)?
    .execute([from, to])
    .map_err(db_err)?;
    c.prepare_cached(
        "INSERT INTO customer_audit (customer_seq, at, actor, action)
         SELECT seq, ?3, ?4, 'import' FROM customers WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq",
    )
    .map_err(db_err)?
    .execute(params![from, to, now, actor.username])
    .map_err(db_err)?;
    Ok(())
}

fn insert(
    c: &Connection,
    row: &ImportRow,
    id: Uuid,
    code: &str,
    now: i64,
    hlc: &str,
) -> Result<i64> {
    static SQL: OnceLock<String> = OnceLock::new();
    let sql = SQL.get_or_init(|| {
        let cols = write_columns();
        format!(
            "INSERT INTO customers (id, code, origin_store, active, created_at, updated_at, hlc, \
             import_key, opening_spent, opening_visits, total_spent, visits, points_balance, {}) \
             VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, {})",
            cols.join(", "),
            vec!["?"; cols.len()].join(", ")
        )
    });
    let o = &row.opening;
    let mut values: Vec<Value> = vec![
        Value::Text(id.to_string()),
        Value::Text(code.to_owned()),
        row.customer
            .origin_store
            .as_ref()
            .map_or(Value::Null, |s| Value::Text(s.as_str().to_owned())),
        Value::Integer(now),
        Value::Integer(now),
        Value::Text(hlc.to_owned()),
        row.source_key.clone().map_or(Value::Null, Value::Text),
        Value::Integer(o.spent),
        Value::Integer(o.visits),
        Value::Integer(o.spent),
        Value::Integer(o.visits),
        Value::Integer(o.points),
    ];
    values.extend(write_values(&row.customer.data));
    c.prepare_cached(sql)
        .map_err(db_err)?
        .execute(params_from_iter(values))
        .map_err(db_err)?;
    Ok(c.last_insert_rowid())
}

/// A balance brought over: once per customer and account, whichever node
/// computes it (the id follows from the customer and the account). Not
/// `checkout::append`: that looks the node and the id up, stamps a clock and
/// marks the feed per entry, and updates the balance column, all of which the
/// import does once (the balance is written with the row).
#[allow(clippy::too_many_arguments)]
fn opening_entry(
    c: &Connection,
    customer: Uuid,
    seq: i64,
    account: Account,
    amount: i64,
    at: i64,
    expires_at: Option<i64>,
    actor: &Actor,
    hlc: &str,
) -> Result<()> {
    let once = format!("opening:{}:{customer}", account.as_str());
    let id = patron_storage::ops::derived_id(&once);
    c.prepare_cached(
        "INSERT INTO ledger (id, customer_seq, account, kind, amount, at, actor, reason,
            expires_at, once_key, hlc, provisional)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'opening balance (import)', ?8, ?9, ?10, 0)",
    )
    .map_err(db_err)?
    .execute(params![
        id.to_string(),
        seq,
        account.as_str(),
        EntryKind::Opening.as_str(),
        amount,
        at,
        actor.username,
        expires_at,
        once,
        hlc
    ])
    .map_err(db_err)?;
    Ok(())
}
