//! Customer rows: mapping, create, update, (de)activation, audit.

use crate::settings::{load as load_settings, take_code_numbers};
use crate::{db_err, from_micros, micros};
use patron_domain::customer::{Field, FieldChange};
use patron_domain::{Customer, CustomerCode, CustomerDraft, Email, FieldError, Phone, StoreId};
use patron_storage::{
    Actor, AuditEntry, CustomerKey, CustomerPatch, NewCustomer, OffsetDateTime, ParseContext,
    Result, StorageError,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use std::sync::OnceLock;
use time::Date;
use uuid::Uuid;

/// Columns of a customer row in the order [`row_to_customer`] reads them.
pub const COLUMNS: &str = "seq, id, code, first_name, last_name, email, phone, tax_id, \
    address_line1, address_line2, address_city, address_region, address_postal_code, \
    address_country, date_of_birth, notes, marketing_consent, medical_card_number, \
    medical_issuing_state, medical_expiry, id_number, id_issuing_state, id_issuing_country, \
    id_expiry, origin_store, active, created_at, updated_at, erased_at, merged_into, phone_display";

/// The editable columns, in [`Field::ALL`] order (name and consent are handled there too).
const DATA_COLUMNS: [(&str, Field); 21] = [
    ("first_name", Field::FirstName),
    ("last_name", Field::LastName),
    ("email", Field::Email),
    ("phone", Field::Phone),
    ("tax_id", Field::TaxId),
    ("address_line1", Field::AddressLine1),
    ("address_line2", Field::AddressLine2),
    ("address_city", Field::AddressCity),
    ("address_region", Field::AddressRegion),
    ("address_postal_code", Field::AddressPostalCode),
    ("address_country", Field::AddressCountry),
    ("date_of_birth", Field::DateOfBirth),
    ("notes", Field::Notes),
    ("marketing_consent", Field::MarketingConsent),
    ("medical_card_number", Field::MedicalCardNumber),
    ("medical_issuing_state", Field::MedicalIssuingState),
    ("medical_expiry", Field::MedicalExpiry),
    ("id_number", Field::IdNumber),
    ("id_issuing_state", Field::IdIssuingState),
    ("id_issuing_country", Field::IdIssuingCountry),
    ("id_expiry", Field::IdExpiry),
];

fn conversion(col: usize, msg: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, msg.into())
}

fn date_col(r: &Row<'_>, col: usize) -> rusqlite::Result<Option<Date>> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    r.get::<_, Option<String>>(col)?
        .map(|s| Date::parse(&s, &fmt).map_err(|e| conversion(col, e.to_string())))
        .transpose()
}

/// Reads a row selected with [`COLUMNS`]; returns the node-local `seq` too.
pub fn row_to_customer(r: &Row<'_>) -> rusqlite::Result<(i64, Customer)> {
    let id: String = r.get(1)?;
    let origin: Option<String> = r.get(24)?;
    let data = CustomerDraft {
        first_name: r.get(3)?,
        last_name: r.get(4)?,
        email: r.get::<_, Option<String>>(5)?.map(Email::from_stored),
        phone: r
            .get::<_, Option<String>>(6)?
            .map(|e164| r.get(30).map(|shown| Phone::from_stored(e164, shown)))
            .transpose()?,
        tax_id: r.get(7)?,
        address: patron_domain::Address {
            line1: r.get(8)?,
            line2: r.get(9)?,
            city: r.get(10)?,
            region: r.get(11)?,
            postal_code: r.get(12)?,
            country: r.get(13)?,
        },
        date_of_birth: date_col(r, 14)?,
        notes: r.get(15)?,
        marketing_consent: r.get(16)?,
        medical: patron_domain::MedicalInfo {
            card_number: r.get(17)?,
            issuing_state: r.get(18)?,
            expiry: date_col(r, 19)?,
        },
        id_document: patron_domain::IdDocument {
            number: r.get(20)?,
            issuing_state: r.get(21)?,
            issuing_country: r.get(22)?,
            expiry: date_col(r, 23)?,
        },
    };
    Ok((
        r.get(0)?,
        Customer {
            id: Uuid::parse_str(&id).map_err(|e| conversion(1, e.to_string()))?,
            code: CustomerCode::from_stored(r.get(2)?),
            data,
            origin_store: origin
                .map(|s| StoreId::parse(&s).map_err(|e| conversion(24, e.to_string())))
                .transpose()?,
            active: r.get(25)?,
            created_at: from_micros(r.get(26)?),
            updated_at: from_micros(r.get(27)?),
            erased_at: r.get::<_, Option<i64>>(28)?.map(from_micros),
            merged_into: r
                .get::<_, Option<String>>(29)?
                .and_then(|s| Uuid::parse_str(&s).ok()),
        },
    ))
}

/// Values of the editable and derived columns, in the order of [`write_columns`].
pub(crate) fn write_values(d: &CustomerDraft) -> Vec<Value> {
    let keys = d.search_keys();
    let mut v: Vec<Value> = DATA_COLUMNS
        .iter()
        .map(|(_, f)| match f {
            Field::MarketingConsent => Value::Integer(i64::from(d.marketing_consent)),
            f => d.get(*f).map_or(Value::Null, Value::Text),
        })
        .collect();
    v.push(keys.email.map_or(Value::Null, Value::Text));
    v.push(keys.phone_reversed.map_or(Value::Null, Value::Text));
    v.push(Value::Text(keys.full));
    v.push(Value::Text(keys.head));
    v.push(Value::Text(keys.sort));
    let same = d.duplicate_keys();
    v.push(same.id_document.map_or(Value::Null, Value::Text));
    v.push(same.person.map_or(Value::Null, Value::Text));
    v.push(
        d.phone
            .as_ref()
            .map_or(Value::Null, |p| Value::Text(p.display().to_owned())),
    );
    v
}

pub(crate) fn write_columns() -> Vec<&'static str> {
    let mut c: Vec<&str> = DATA_COLUMNS.iter().map(|(c, _)| *c).collect();
    c.extend([
        "email_key",
        "phone_rev",
        "full_key",
        "name_head",
        "sort_key",
        "id_key",
        "person_key",
        "phone_display",
    ]);
    c
}

/// Fills the display form of phones written before it was kept, in the
/// chain's region.
pub fn fill_phone_display(c: &Connection) -> Result<()> {
    let region = crate::settings::load(c)?.phone_region;
    let rows: Vec<(i64, String)> = c
        .prepare(
            "SELECT seq, phone FROM customers WHERE phone IS NOT NULL AND phone_display IS NULL",
        )
        .map_err(db_err)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    let started = std::time::Instant::now();
    let mut set = c
        .prepare("UPDATE customers SET phone_display = ?1 WHERE seq = ?2")
        .map_err(db_err)?;
    for (seq, e164) in &rows {
        // A stored number that no longer parses is shown as stored.
        let shown =
            Phone::parse(e164, region).map_or_else(|_| e164.clone(), |p| p.display().to_owned());
        set.execute(rusqlite::params![shown, seq]).map_err(db_err)?;
    }
    if !rows.is_empty() {
        tracing::info!(
            phones = rows.len(),
            ms = started.elapsed().as_millis() as u64,
            "phone display forms filled"
        );
    }
    Ok(())
}

/// Fills the likely-same-person keys of rows written before they existed.
/// Reads only the columns of that schema version (later migrations add more).
pub fn fill_duplicate_keys(c: &Connection) -> Result<()> {
    let mut read = c
        .prepare(
            "SELECT seq, first_name, last_name, date_of_birth, id_number FROM customers
             WHERE id_number IS NOT NULL OR date_of_birth IS NOT NULL",
        )
        .map_err(db_err)?;
    let mut write = c
        .prepare("UPDATE customers SET id_key = ?1, person_key = ?2 WHERE seq = ?3")
        .map_err(db_err)?;
    let rows = read
        .query_map([], |r| {
            let draft = CustomerDraft {
                first_name: r.get(1)?,
                last_name: r.get(2)?,
                date_of_birth: date_col(r, 3)?,
                id_document: patron_domain::IdDocument {
                    number: r.get(4)?,
                    ..Default::default()
                },
                ..Default::default()
            };
            Ok((r.get::<_, i64>(0)?, draft))
        })
        .map_err(db_err)?;
    for row in rows {
        let (seq, draft) = row.map_err(db_err)?;
        let keys = draft.duplicate_keys();
        write
            .execute(params![keys.id_document, keys.person, seq])
            .map_err(db_err)?;
    }
    Ok(())
}

/// The text the trigram index holds for substring search.
fn fts_text(d: &CustomerDraft) -> String {
    let k = d.search_keys();
    match k.email {
        Some(e) => format!("{} {e}", k.full),
        None => k.full,
    }
}

/// The customer a key names: a merged-away record's id or code names the
/// customer it was merged into.
pub fn seq_of(c: &Connection, key: &CustomerKey) -> Result<i64> {
    let row = |r: &Row<'_>| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?));
    let mut found = match key {
        CustomerKey::Id(id) => c
            .prepare_cached("SELECT seq, merged_into FROM customers WHERE id = ?1")
            .map_err(db_err)?
            .query_row([id.to_string()], row),
        CustomerKey::Code(code) => c
            .prepare_cached("SELECT seq, merged_into FROM customers WHERE code = ?1")
            .map_err(db_err)?
            .query_row([code], row),
    }
    .optional()
    .map_err(db_err)?
    .ok_or(StorageError::NotFound)?;
    // Merges chain (A into B, later B into C); a bound keeps a corrupt loop finite.
    for _ in 0..16 {
        let (seq, into) = &found;
        let Some(into) = into else { return Ok(*seq) };
        found = c
            .prepare_cached("SELECT seq, merged_into FROM customers WHERE id = ?1")
            .map_err(db_err)?
            .query_row([into], row)
            .optional()
            .map_err(db_err)?
            .ok_or(StorageError::NotFound)?;
    }
    Err(StorageError::Backend("merges form a loop".into()))
}

pub fn by_seq(c: &Connection, seq: i64) -> Result<Customer> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM customers WHERE seq = ?1"))
        .map_err(db_err)?
        .query_row([seq], row_to_customer)
        .optional()
        .map_err(db_err)?
        .map(|(_, c)| c)
        .ok_or(StorageError::NotFound)
}

pub fn get(c: &Connection, key: &CustomerKey) -> Result<Customer> {
    by_seq(c, seq_of(c, key)?)
}

pub(crate) fn email_taken(
    c: &Connection,
    email_key: &str,
    except_seq: Option<i64>,
) -> Result<bool> {
    c.prepare_cached("SELECT seq FROM customers WHERE email_key = ?1")
        .map_err(db_err)?
        .query_row([email_key], |r| r.get::<_, i64>(0))
        .optional()
        .map_err(db_err)
        .map(|found| found.is_some_and(|s| Some(s) != except_seq))
}

fn taken_email(e: FieldError) -> StorageError {
    StorageError::Conflict {
        field: e.field,
        message: e.message,
    }
}

fn audit(
    c: &Connection,
    seq: i64,
    at: i64,
    actor: &Actor,
    action: &str,
    change: Option<&FieldChange>,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO customer_audit (customer_seq, at, actor, action, field, old_value, new_value)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .map_err(db_err)?
    .execute(params![
        seq,
        at,
        actor.username,
        action,
        change.map(|ch| ch.field.as_str()),
        change.and_then(|ch| ch.old.as_deref()),
        change.and_then(|ch| ch.new.as_deref()),
    ])
    .map(|_| ())
    .map_err(db_err)
}

/// Inserts one customer row plus its trigram entry; returns its `seq`.
/// Inserts a customer row; `hlc` stamps every field (its replication clock).
fn insert(
    c: &Connection,
    new: &NewCustomer,
    id: Uuid,
    code: &CustomerCode,
    now: i64,
    hlc: &str,
    with_fts: bool,
) -> Result<i64> {
    static SQL: OnceLock<String> = OnceLock::new();
    let sql = SQL.get_or_init(|| {
        let cols = write_columns();
        format!(
            "INSERT INTO customers (id, code, origin_store, active, created_at, updated_at, hlc, {}) \
             VALUES (?, ?, ?, 1, ?, ?, ?, {})",
            cols.join(", "),
            vec!["?"; cols.len()].join(", ")
        )
    });
    let mut values: Vec<Value> = vec![
        Value::Text(id.to_string()),
        Value::Text(code.as_str().to_owned()),
        new.origin_store
            .as_ref()
            .map_or(Value::Null, |s| Value::Text(s.as_str().to_owned())),
        Value::Integer(now),
        Value::Integer(now),
        Value::Text(hlc.to_owned()),
    ];
    values.extend(write_values(&new.data));
    c.prepare_cached(sql)
        .map_err(db_err)?
        .execute(params_from_iter(values))
        .map_err(db_err)?;
    let seq = c.last_insert_rowid();
    if with_fts {
        c.prepare_cached("INSERT INTO customer_fts (rowid, text) VALUES (?1, ?2)")
            .map_err(db_err)?
            .execute(params![seq, fts_text(&new.data)])
            .map_err(db_err)?;
    }
    Ok(seq)
}

/// A customer under an id the client chose: a create retried after its answer
/// was lost finds its own first attempt (same details) instead of making a
/// second customer; another customer's id is a conflict.
pub fn create_idempotent(
    c: &Connection,
    actor: &Actor,
    new: NewCustomer,
    id: Uuid,
) -> Result<(Customer, bool)> {
    if let Ok(seq) = seq_of(c, &CustomerKey::Id(id)) {
        let existing = by_seq(c, seq)?;
        if existing.data == new.data {
            return Ok((existing, true));
        }
        return Err(StorageError::Conflict {
            field: "id".into(),
            message: "a customer with this id already exists with other details".into(),
        });
    }
    Ok((create_with_id(c, actor, new, id)?, false))
}

fn code_on_file(c: &Connection, code: &str) -> Result<bool> {
    c.prepare_cached("SELECT 1 FROM customers WHERE code = ?1")
        .map_err(db_err)?
        .exists([code])
        .map_err(db_err)
}

fn create_with_id(c: &Connection, actor: &Actor, new: NewCustomer, id: Uuid) -> Result<Customer> {
    patron_core::customer::check_email(&new.data, |key| email_taken(c, key, None))?
        .map_err(taken_email)?;
    let settings = load_settings(c)?;
    let node = crate::sync::node(c)?;
    // A code already on file is passed over: a store brought back from a
    // backup may hold numbers it had used after the backup was taken.
    let mut code = None;
    for _ in 0..10_000 {
        let planned = patron_core::customer::plan_code(
            &settings.code_format,
            node.store(),
            || crate::sync::take_block_number(c),
            || crate::sync::take_overflow_number(c),
            || take_code_numbers(c, 1),
        )?;
        if !code_on_file(c, planned.as_str())? {
            code = Some(planned);
            break;
        }
    }
    let code = code.ok_or_else(|| StorageError::Backend("no free customer code".into()))?;
    let now = micros(OffsetDateTime::now_utc());
    let mut new = new;
    if let Some(store) = node.store() {
        new.origin_store = StoreId::parse(store).ok();
    }
    let seq = insert(c, &new, id, &code, now, "", true)?;
    audit(c, seq, now, actor, "create", None)?;
    crate::sync::customer_created(c, seq, actor)?;
    by_seq(c, seq)
}

/// A customer created on another node, with its id, code and creation time.
pub fn insert_replica(
    c: &Connection,
    new: &NewCustomer,
    id: Uuid,
    code: &CustomerCode,
    created_at: i64,
) -> Result<i64> {
    insert(c, new, id, code, created_at, "", true)
}

/// The code of customer `id`, if HQ has it.
pub fn code_of_id(c: &Connection, id: Uuid) -> Result<Option<String>> {
    c.prepare_cached("SELECT code FROM customers WHERE id = ?1")
        .map_err(db_err)?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()
        .map_err(db_err)
}

/// The id of the customer holding `code` exactly.
pub fn id_of_code(c: &Connection, code: &str) -> Result<Option<String>> {
    c.prepare_cached("SELECT id FROM customers WHERE code = ?1")
        .map_err(db_err)?
        .query_row([code], |r| r.get(0))
        .optional()
        .map_err(db_err)
}

pub fn audit_action(
    c: &Connection,
    seq: i64,
    actor: &Actor,
    action: &str,
    change: Option<&FieldChange>,
) -> Result<()> {
    audit(
        c,
        seq,
        micros(OffsetDateTime::now_utc()),
        actor,
        action,
        change,
    )
}

/// Keeps a peer's write that lost to a newer one in the audit trail, once.
/// Returns whether it was new.
pub fn record_lost_write(
    c: &Connection,
    seq: i64,
    actor: &Actor,
    field: &str,
    theirs: Option<&str>,
    ours: Option<&str>,
) -> Result<bool> {
    let seen: Option<i64> = c
        .prepare_cached(
            "SELECT 1 FROM customer_audit WHERE customer_seq = ?1 AND action = 'sync-conflict-lost'
             AND field = ?2 AND old_value IS ?3 AND actor = ?4",
        )
        .map_err(db_err)?
        .query_row(params![seq, field, theirs, actor.username], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    if seen.is_some() {
        return Ok(false);
    }
    let change = FieldChange {
        field: field.to_owned(),
        old: theirs.map(str::to_owned),
        new: ours.map(str::to_owned),
    };
    audit_action(c, seq, actor, "sync-conflict-lost", Some(&change))?;
    Ok(true)
}

pub fn update(
    c: &Connection,
    actor: &Actor,
    key: &CustomerKey,
    patch: &CustomerPatch,
    ctx: &ParseContext,
) -> Result<(Customer, Vec<FieldChange>)> {
    let seq = seq_of(c, key)?;
    let (customer, changes) = update_inner(c, actor, seq, patch, ctx, true)?;
    let names: Vec<String> = changes.iter().map(|ch| ch.field.clone()).collect();
    crate::sync::customer_edited(c, seq, &names, actor)?;
    Ok((customer, changes))
}

/// A peer's winning field values. Email uniqueness is not re-checked: two
/// records of one person made offline at two stores both keep their email.
pub fn update_replica(
    c: &Connection,
    seq: i64,
    actor: &Actor,
    patch: &CustomerPatch,
    ctx: &ParseContext,
) -> Result<()> {
    update_inner(c, actor, seq, patch, ctx, false).map(|_| ())
}

fn update_inner(
    c: &Connection,
    actor: &Actor,
    seq: i64,
    patch: &CustomerPatch,
    ctx: &ParseContext,
    check_email: bool,
) -> Result<(Customer, Vec<FieldChange>)> {
    let current = by_seq(c, seq)?;
    if current.is_erased() {
        return Err(erased_refusal());
    }
    let (next, changes) = current.data.apply_patch(patch, ctx)?;
    if changes.is_empty() {
        return Ok((current, Vec::new()));
    }
    if check_email {
        patron_core::customer::check_email(&next, |key| email_taken(c, key, Some(seq)))?
            .map_err(taken_email)?;
    }
    let now = micros(OffsetDateTime::now_utc());
    rewrite(c, seq, &next, now, None)?;
    for ch in &changes {
        audit(c, seq, now, actor, "update", Some(ch))?;
    }
    Ok((by_seq(c, seq)?, changes))
}

/// Writes a record's data, its derived keys and its trigram entry;
/// `erased_at` also marks it erased.
fn rewrite(
    c: &Connection,
    seq: i64,
    data: &CustomerDraft,
    at: i64,
    erased_at: Option<i64>,
) -> Result<()> {
    let sets: Vec<String> = write_columns().iter().map(|c| format!("{c} = ?")).collect();
    let sql = format!(
        "UPDATE customers SET updated_at = ?, erased_at = coalesce(?, erased_at), {} WHERE seq = ?",
        sets.join(", ")
    );
    let mut values = vec![
        Value::Integer(at),
        erased_at.map_or(Value::Null, Value::Integer),
    ];
    values.extend(write_values(data));
    values.push(Value::Integer(seq));
    c.prepare_cached(&sql)
        .map_err(db_err)?
        .execute(params_from_iter(values))
        .map_err(db_err)?;
    c.execute("DELETE FROM customer_fts WHERE rowid = ?1", [seq])
        .map_err(db_err)?;
    c.execute(
        "INSERT INTO customer_fts (rowid, text) VALUES (?1, ?2)",
        params![seq, fts_text(data)],
    )
    .map_err(db_err)?;
    Ok(())
}

pub fn erased_refusal() -> StorageError {
    StorageError::Conflict {
        field: "customer".into(),
        message: "this customer's personal data was erased; the record cannot be edited".into(),
    }
}

/// Erases the person (a privacy request): every identifying field, the
/// trigram and duplicate keys, and the values in the record's audit trail.
/// Orders, ledger, totals and memberships stay, under an anonymous name;
/// the trail keeps who changed which field when, and who erased the record.
/// Returns whether anything was erased (`false`: it already was).
pub fn erase_row(c: &Connection, seq: i64, actor: &Actor, at: i64) -> Result<bool> {
    if by_seq(c, seq)?.is_erased() {
        return Ok(false);
    }
    rewrite(c, seq, &CustomerDraft::erased(), at, Some(at))?;
    c.execute(
        "UPDATE customer_audit SET old_value = NULL, new_value = NULL WHERE customer_seq = ?1",
        [seq],
    )
    .map_err(db_err)?;
    audit(c, seq, at, actor, "erase", None)?;
    Ok(true)
}

/// Erases a customer here and puts the erasure in the feed for every node.
pub fn erase(c: &Connection, actor: &Actor, key: &CustomerKey) -> Result<Customer> {
    let seq = seq_of(c, key)?;
    let at = micros(OffsetDateTime::now_utc());
    if erase_row(c, seq, actor, at)? {
        let fields: Vec<String> = Field::ALL.iter().map(|f| f.name().to_owned()).collect();
        crate::sync::customer_edited(c, seq, &fields, actor)?;
    }
    by_seq(c, seq)
}

pub fn set_active(
    c: &Connection,
    actor: &Actor,
    key: &CustomerKey,
    active: bool,
) -> Result<(Customer, bool)> {
    let seq = seq_of(c, key)?;
    let current = by_seq(c, seq)?;
    if current.active == active {
        return Ok((current, false));
    }
    set_active_replica(c, seq, actor, active)?;
    crate::sync::customer_edited(c, seq, &["active".to_owned()], actor)?;
    Ok((by_seq(c, seq)?, true))
}

pub fn set_active_replica(c: &Connection, seq: i64, actor: &Actor, active: bool) -> Result<()> {
    let current = by_seq(c, seq)?;
    let now = micros(OffsetDateTime::now_utc());
    c.execute(
        "UPDATE customers SET active = ?1, updated_at = ?2 WHERE seq = ?3",
        params![active, now, seq],
    )
    .map_err(db_err)?;
    let change = FieldChange {
        field: "active".into(),
        old: Some(current.active.to_string()),
        new: Some(active.to_string()),
    };
    let action = if active { "reactivate" } else { "deactivate" };
    audit(c, seq, now, actor, action, Some(&change))
}

pub fn audit_trail(c: &Connection, key: &CustomerKey) -> Result<Vec<AuditEntry>> {
    let seq = seq_of(c, key)?;
    let mut st = c
        .prepare_cached(
            "SELECT at, actor, action, field, old_value, new_value FROM customer_audit
             WHERE customer_seq = ?1 ORDER BY id",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map([seq], |r| {
            Ok(AuditEntry {
                at: from_micros(r.get(0)?),
                actor: r.get(1)?,
                action: r.get(2)?,
                field: r.get(3)?,
                old: r.get(4)?,
                new: r.get(5)?,
            })
        })
        .map_err(db_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db_err)
}
