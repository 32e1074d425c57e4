//! The ranges every request that moves value must stay within, checked in one
//! place whether the request came from the HTTP API or from a store's operation
//! re-applied at HQ. Every number has a range, so no accepted value can make a
//! later sum overflow.

use crate::{CheckoutRequest, ManualEntry, ReturnRequest};
use patron_domain::loyalty::{Account, EntryKind};
use patron_domain::{FieldError, ValidationErrors};

/// The largest amount of money one request may move: 100,000,000.00.
pub const MAX_AMOUNT: i64 = 10_000_000_000;
/// The most a cart line may count: 1,000,000 units (in thousandths).
pub const MAX_QUANTITY: i64 = 1_000_000_000;
/// The highest unit price: 1,000,000.00.
pub const MAX_UNIT_PRICE: i64 = 100_000_000;
pub const MAX_LINES: usize = 500;
/// The most visits an imported customer may bring.
pub const MAX_VISITS: i64 = 10_000_000;

/// An import's opening balances and totals: each within one request's range.
pub fn validate_opening(o: &crate::Opening) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let hundredths = format!("{}.00", MAX_AMOUNT / 100);
    for (field, v, max, shown) in [
        ("points", o.points, MAX_AMOUNT, hundredths.as_str()),
        ("store_credit", o.credit, MAX_AMOUNT, &hundredths),
        ("lifetime_spend", o.spent, MAX_AMOUNT, &hundredths),
        ("visits", o.visits, MAX_VISITS, "10000000"),
    ] {
        if !(0..=max).contains(&v) {
            errors.push(FieldError::new(
                field,
                format!("must be between 0 and {shown}"),
            ));
        }
    }
    errors.into_result()
}

fn text_len(errors: &mut ValidationErrors, field: &str, s: &str, min: usize, max: usize) {
    let n = s.chars().count();
    if n < min || n > max {
        errors.push(FieldError::new(
            field,
            if min == 0 {
                format!("must be at most {max} characters")
            } else {
                format!("must be {min} to {max} characters")
            },
        ));
    }
}

pub fn validate_manual_entry(e: &ManualEntry) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    match e.kind {
        EntryKind::Adjust => {}
        EntryKind::TopUp => {
            if e.account != Account::Credit {
                errors.push(FieldError::new("account", "top-ups are for store credit"));
            }
            if e.amount <= 0 {
                errors.push(FieldError::new("amount", "a top-up must be more than zero"));
            }
        }
        _ => errors.push(FieldError::new("kind", "must be adjust or top-up")),
    }
    if e.amount == 0 || e.amount.unsigned_abs() > MAX_AMOUNT as u64 {
        errors.push(FieldError::new(
            "amount",
            "must be non-zero and at most 100,000,000.00",
        ));
    }
    text_len(&mut errors, "reason", e.reason.trim(), 1, 500);
    if let Some(k) = &e.idempotency_key {
        text_len(&mut errors, "idempotency_key", k, 1, 200);
    }
    errors.into_result()
}

/// An order's own fields: its client-chosen id and body fingerprint.
pub fn validate_order_id(id: &str, fingerprint: &str) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    text_len(&mut errors, "id", id.trim(), 1, 100);
    text_len(&mut errors, "fingerprint", fingerprint, 1, 128);
    errors.into_result()
}

pub fn validate_checkout(r: &CheckoutRequest) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    if r.lines.is_empty() {
        errors.push(FieldError::new("lines", "a cart needs at least one line"));
    }
    if r.lines.len() > MAX_LINES {
        errors.push(FieldError::new("lines", "at most 500 lines"));
    }
    for (i, l) in r.lines.iter().enumerate() {
        let f = |s: &str| format!("lines[{i}].{s}");
        if l.sku.trim().is_empty() || l.sku.len() > 100 {
            errors.push(FieldError::new(f("sku"), "must be 1 to 100 characters"));
        }
        text_len(&mut errors, &f("name"), &l.name, 0, 200);
        text_len(&mut errors, &f("category"), &l.category, 0, 100);
        text_len(&mut errors, &f("unit"), &l.unit, 0, 20);
        if !(0..=MAX_UNIT_PRICE).contains(&l.unit_price) {
            errors.push(FieldError::new(
                f("unit_price"),
                "must be from 0 to 1,000,000.00 in minor units",
            ));
        }
        if !(1..=MAX_QUANTITY).contains(&l.quantity) {
            errors.push(FieldError::new(
                f("quantity"),
                "must be more than 0 and at most 1,000,000",
            ));
        }
    }
    for (field, v) in [
        ("redeem_points", r.redeem_points),
        ("redeem_credit", r.redeem_credit),
    ] {
        if !(0..=MAX_AMOUNT).contains(&v) {
            errors.push(FieldError::new(
                field,
                "must be from 0 to 100,000,000.00 in minor units",
            ));
        }
    }
    errors.into_result()
}

pub fn validate_return(r: &ReturnRequest) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    text_len(&mut errors, "id", r.id.trim(), 1, 100);
    text_len(&mut errors, "order_id", &r.order_id, 1, 100);
    text_len(&mut errors, "fingerprint", &r.fingerprint, 1, 128);
    if r.lines.is_empty() || r.lines.len() > MAX_LINES {
        errors.push(FieldError::new("lines", "a return names 1 to 500 lines"));
    }
    for (i, (line, q)) in r.lines.iter().enumerate() {
        if *line >= MAX_LINES {
            errors.push(FieldError::new(format!("lines[{i}].line"), "no such line"));
        }
        if !(1..=MAX_QUANTITY).contains(q) {
            errors.push(FieldError::new(
                format!("lines[{i}].quantity"),
                "must be more than 0 and at most 1,000,000",
            ));
        }
    }
    errors.into_result()
}
