//! Reading one row's cells into what Patron stores: the customer's fields as
//! `CustomerDraft` takes them, and what they bring (balances, totals, groups).

use super::columns::{Mapping, Target};
use patron_domain::customer::Field;
use patron_domain::loyalty::money::parse_exported_amount;
use patron_domain::{CustomerDraft, FieldError};
use patron_storage::{ImportRow, NewCustomer, Opening};

/// Most groups one row may name.
const MAX_GROUPS_PER_ROW: usize = 50;

/// Reads a row; `Err` is the reason it is rejected.
pub fn read_row(
    line: u64,
    cells: &csv::ByteRecord,
    mapping: &Mapping,
    ctx: &patron_domain::customer::ParseContext,
) -> Result<ImportRow, String> {
    let mut values: Vec<(Target, String)> = Vec::with_capacity(cells.len());
    for (i, (cell, target)) in cells.iter().zip(&mapping.targets).enumerate() {
        let Ok(value) = std::str::from_utf8(cell) else {
            return Err(format!("column {} is not valid UTF-8", i + 1));
        };
        let Some(target) = target else { continue };
        let value = crate::export::restore(value).trim();
        // A leading apostrophe is a spreadsheet's "keep as text" mark
        // (Shopify writes '07042 and '+12015550111).
        let value = match value.strip_prefix('\'') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit() || c == '+') => rest,
            _ => value,
        };
        // A later column for the same target fills in only where the first is empty.
        match values.iter_mut().find(|(t, _)| t == target) {
            Some((_, v)) if v.is_empty() => value.clone_into(v),
            Some(_) => {}
            None => values.push((*target, value.to_owned())),
        }
    }
    let mut fields = Vec::with_capacity(values.len() + 1);
    let mut opening = Opening::default();
    let mut groups = Vec::new();
    let mut source_id = None;
    for (target, value) in values {
        match target {
            Target::Field(f) => fields.push((f, field_value(f, &value, mapping.day_first))),
            Target::FullName => {
                let (first, last) = value.rsplit_once(' ').unwrap_or(("", &value));
                fields.push((Field::FirstName, first.trim().to_owned()));
                fields.push((Field::LastName, last.trim().to_owned()));
            }
            Target::FullNameLastFirst => {
                let (last, first) = value.split_once(' ').unwrap_or((&value, ""));
                fields.push((Field::FirstName, first.trim().to_owned()));
                fields.push((Field::LastName, last.trim().to_owned()));
            }
            Target::Ignored => {}
            Target::SourceId if !value.is_empty() => source_id = Some(value),
            Target::SourceId => {}
            Target::Points => opening.points = amount("points", &value)?,
            Target::StoreCredit => opening.credit = amount("store_credit", &value)?,
            Target::LifetimeSpend => opening.spent = amount("lifetime_spend", &value)?,
            Target::Visits => opening.visits = count("visits", &value)?,
            Target::Groups => groups = group_names(&value)?,
        }
    }
    patron_storage::validate_opening(&opening).map_err(|e| e.to_string())?;
    let data = CustomerDraft::parse(fields, ctx).map_err(|e| e.to_string())?;
    let source_key = Some(match source_id {
        Some(id) => format!("{}:{id}", mapping.key_prefix()),
        // No id in the file: the row is its own identity, so the same row
        // imported again is still found.
        None => format!("row:{}", digest(cells)),
    });
    Ok(ImportRow {
        line,
        customer: NewCustomer {
            data,
            origin_store: None,
        },
        opening,
        groups,
        source_key,
    })
}

fn digest(cells: &csv::ByteRecord) -> uuid::Uuid {
    let mut text = Vec::with_capacity(cells.as_slice().len() + cells.len());
    for c in cells {
        text.extend_from_slice(c);
        text.push(0x1f);
    }
    patron_storage::ops::derived_id(&String::from_utf8_lossy(&text))
}

fn amount(field: &str, value: &str) -> Result<i64, String> {
    if value.is_empty() {
        return Ok(0);
    }
    match parse_exported_amount(value) {
        Some(v) if v >= 0 => Ok(v),
        Some(_) => Err(FieldError::new(field, "must not be negative").to_string()),
        None => Err(FieldError::new(
            field,
            format!("{value:?} is not an amount with at most two decimals"),
        )
        .to_string()),
    }
}

fn count(field: &str, value: &str) -> Result<i64, String> {
    if value.is_empty() {
        return Ok(0);
    }
    // "12", "1,234", or "12.00" as some exports write counts.
    match parse_exported_amount(value) {
        Some(v) if v >= 0 && v % 100 == 0 => Ok(v / 100),
        _ => Err(FieldError::new(field, format!("{value:?} is not a whole number")).to_string()),
    }
}

fn group_names(value: &str) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    for name in value.split([',', ';', '|']).map(str::trim) {
        if !name.is_empty() && !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name.to_owned());
        }
    }
    if names.len() > MAX_GROUPS_PER_ROW {
        return Err(FieldError::new(
            "groups",
            format!("at most {MAX_GROUPS_PER_ROW} groups per customer"),
        )
        .to_string());
    }
    Ok(names)
}

/// A cell as `CustomerDraft` reads it: dates and yes/no as other systems write them.
fn field_value(f: Field, value: &str, day_first: bool) -> String {
    match f {
        Field::DateOfBirth | Field::MedicalExpiry | Field::IdExpiry => iso_date(value, day_first),
        Field::MarketingConsent => consent(value).to_owned(),
        _ => value.to_owned(),
    }
}

/// `YYYY-MM-DD` as is; `MM/DD/YYYY` or `MM-DD-YYYY` (US exports; `DD/MM/YYYY`
/// with `day_first`) and `DD.MM.YYYY` (European ones) rewritten; a timestamp cut to its date; Square's `0000-MM-DD` (year
/// not known) left empty, since a birthday needs its year here. Anything
/// else is passed on for the usual error.
fn iso_date(value: &str, day_first: bool) -> String {
    let v = value.trim();
    let date = v.split(['T', ' ']).next().unwrap_or(v);
    if date.starts_with("0000-") {
        return String::new();
    }
    let parts = |sep: char| -> Option<(u32, u32, u32)> {
        let mut it = date.split(sep);
        let a = it.next()?.parse().ok()?;
        let b = it.next()?.parse().ok()?;
        let c = it.next()?.parse().ok()?;
        it.next().is_none().then_some((a, b, c))
    };
    if let Some((a, b, y)) = parts('/')
        .or_else(|| parts('-'))
        .filter(|(_, _, y)| *y >= 1000)
    {
        let (m, d) = if day_first { (b, a) } else { (a, b) };
        return format!("{y:04}-{m:02}-{d:02}");
    }
    if let Some((d, m, y)) = parts('.').filter(|(_, _, y)| *y >= 1000) {
        return format!("{y:04}-{m:02}-{d:02}");
    }
    if let Some((y, m, d)) = parts('-').filter(|(y, _, _)| *y >= 1000) {
        return format!("{y:04}-{m:02}-{d:02}");
    }
    v.to_owned()
}

fn consent(value: &str) -> &str {
    match value.trim().to_ascii_lowercase().as_str() {
        "subscribed" | "opted_in" | "opted in" | "confirmed" | "accepted" | "true" | "yes"
        | "y" | "1" => "yes",
        "unsubscribed" | "not_subscribed" | "not subscribed" | "never_subscribed" | "pending"
        | "opted_out" | "opted out" | "unknown" | "false" | "no" | "n" | "0" | "" => "no",
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_exports_write_them() {
        assert_eq!(iso_date("1990-07-04", false), "1990-07-04");
        assert_eq!(iso_date("7/4/1990", false), "1990-07-04");
        assert_eq!(iso_date("07-04-1990", false), "1990-07-04");
        assert_eq!(iso_date("4/7/1990", true), "1990-07-04");
        assert_eq!(iso_date("04.07.1990", false), "1990-07-04");
        assert_eq!(iso_date("1990-07-04T00:00:00Z", false), "1990-07-04");
        assert_eq!(iso_date("0000-07-04", false), "");
        assert_eq!(iso_date("someday", false), "someday");
    }

    #[test]
    fn groups_split_and_dedupe() {
        assert_eq!(
            group_names("VIP, Wholesale;vip | Staff").unwrap(),
            vec!["VIP", "Wholesale", "Staff"]
        );
        assert!(group_names(&"g,".repeat(60).replace("g,", "x,")).is_ok());
        let many: Vec<String> = (0..60).map(|i| format!("g{i}")).collect();
        assert!(group_names(&many.join(",")).is_err());
    }

    #[test]
    fn counts_are_whole() {
        assert_eq!(count("visits", "1,234"), Ok(1234));
        assert_eq!(count("visits", "12.00"), Ok(12));
        assert!(count("visits", "1.5").is_err());
        assert!(count("visits", "-3").is_err());
    }
}
