//! `serve --demo`: a realistic data set on an empty database, so a first run
//! shows a working product.

use crate::demo_data::{GeneratedCustomer, generate};
use patron_domain::customer::{Field, ParseContext};
use patron_domain::{CustomerDraft, Role, Username};
use patron_storage::{Actor, ImportRow, NewCustomer, NewUser, Storage};
use std::sync::Arc;

pub const DEMO_CUSTOMERS: usize = 10_000;
const DEMO_PASSWORD: &str = "patron-demo";

/// The raw field values of a generated customer, in domain field names.
pub fn fields(g: GeneratedCustomer) -> Vec<(Field, String)> {
    let mut out = vec![
        (Field::FirstName, g.first_name),
        (Field::LastName, g.last_name),
    ];
    let optional = [
        (Field::Email, g.email),
        (Field::Phone, g.phone),
        (Field::TaxId, g.tax_id),
        (Field::AddressLine1, g.address_line1),
        (Field::AddressLine2, g.address_line2),
        (Field::AddressCity, g.city),
        (Field::AddressRegion, g.region),
        (Field::AddressPostalCode, g.postal_code),
        (Field::AddressCountry, g.country),
        (Field::DateOfBirth, g.date_of_birth),
        (Field::Notes, g.notes),
        (Field::MedicalCardNumber, g.medical_card_number),
        (Field::MedicalIssuingState, g.medical_issuing_state),
        (Field::MedicalExpiry, g.medical_expiry),
        (Field::IdNumber, g.id_number),
        (Field::IdIssuingState, g.id_issuing_state),
        (Field::IdExpiry, g.id_expiry),
    ];
    out.extend(optional.into_iter().filter_map(|(f, v)| v.map(|v| (f, v))));
    out.push((Field::MarketingConsent, g.marketing_consent.to_string()));
    out
}

/// Generated customers as an import stream (rows that fail validation are skipped).
pub fn stream(seed: u64, count: usize, ctx: ParseContext) -> patron_storage::ImportStream {
    Box::new(generate(seed, count).enumerate().filter_map(move |(i, g)| {
        CustomerDraft::parse(fields(g), &ctx).ok().map(|data| {
            Ok(ImportRow {
                line: i as u64 + 1,
                customer: NewCustomer {
                    data,
                    origin_store: None,
                },
            })
        })
    }))
}

/// Loads the demo set if the database has no customers and no users yet.
/// Returns the demo login to print.
pub async fn load(storage: &Arc<dyn Storage>) -> anyhow::Result<Option<(String, String)>> {
    if storage.count_customers().await? > 0 || !storage.users().await?.is_empty() {
        tracing::info!("--demo: the database already has data; nothing loaded");
        return Ok(None);
    }
    let ctx = ParseContext {
        region: storage.settings().await?.phone_region,
        today: time::OffsetDateTime::now_utc().date(),
    };
    let out = storage
        .import_customers(&Actor::new("demo"), stream(42, DEMO_CUSTOMERS, ctx))
        .await?;
    for (name, role) in [
        ("admin", Role::Admin),
        ("manager", Role::Manager),
        ("cashier", Role::Cashier),
    ] {
        let username = Username::parse(name).map_err(|e| anyhow::anyhow!("{e}"))?;
        let password_hash = crate::auth::hash_password(DEMO_PASSWORD)?;
        storage
            .create_user(
                &Actor::new("demo"),
                NewUser {
                    username,
                    role,
                    password_hash,
                },
            )
            .await?;
    }
    tracing::info!(customers = out.created.len(), "demo data loaded");
    Ok(Some(("admin".into(), DEMO_PASSWORD.into())))
}
