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
                opening: Default::default(),
                groups: Vec::new(),
                source_key: None,
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
        .import_customers(
            &Actor::new("demo"),
            stream(42, DEMO_CUSTOMERS, ctx),
            patron_storage::ImportOptions {
                strict: false,
                ..Default::default()
            },
        )
        .await?;
    for (name, role) in [
        ("admin", Role::ADMIN),
        ("manager", Role::MANAGER),
        ("cashier", Role::CASHIER),
    ] {
        let username = Username::parse(name).map_err(|e| anyhow::anyhow!("{e}"))?;
        let password_hash = crate::auth::hash_password(DEMO_PASSWORD)?;
        storage
            .create_user(
                &Actor::new("demo"),
                NewUser {
                    op_key: Some(crate::auth::op_key_hex(username.as_str(), DEMO_PASSWORD)),
                    username,
                    role,
                    password_hash,
                    store: None,
                },
            )
            .await?;
    }
    let orders = loyalty(storage, &out.created).await?;
    // The back-dated sales put customers into time-dependent groups (Lapsed):
    // fill them now rather than at the scheduler's first run.
    storage
        .run_maintenance(time::OffsetDateTime::now_utc())
        .await?;
    tracing::info!(customers = out.created.len(), orders, "demo data loaded");
    Ok(Some(("admin".into(), DEMO_PASSWORD.into())))
}

/// A loyalty setup to explore: a points club for everyone, Silver and Gold tiers
/// reached by spending, a veteran type, a daily cannabis limit for the
/// Recreational group, and a few thousand past orders.
async fn loyalty(storage: &Arc<dyn Storage>, codes: &[String]) -> anyhow::Result<usize> {
    use patron_domain::loyalty::{
        Allowance, CartLine, Enforcement, Percent, Period, Program, PurchaseLimit, SpendLimit,
        Transition, TypeDiscount,
    };
    use patron_storage::{
        CheckoutRequest, CustomerKey, CustomerTypeSpec, GroupKind, GroupQuery, GroupSpec,
        LimitProfile, OrderRequest,
    };
    use rand::{Rng, SeedableRng};
    let pct = |s: &str| Percent::parse(s).map_err(|e| anyhow::anyhow!("{e}"));
    let actor = Actor::new("demo");
    let today = time::OffsetDateTime::now_utc().date();
    let group = |name: &str, kind, rule: Option<&str>, program| GroupSpec {
        name: name.into(),
        description: None,
        kind,
        rule: rule.map(str::to_owned),
        program,
        spend_limit: None,
        min_age: None,
        limit_profile: None,
    };
    let mut club = group(
        "Points club",
        GroupKind::Auto,
        Some("visits >= 0"),
        Program::Points {
            percent: pct("2")?,
            birthday_bonus: 500,
            registration_bonus: 200,
            max_redeem: Some(pct("30")?),
        },
    );
    club.description = Some("Everyone earns 2 % in points".into());
    club.spend_limit = Some(SpendLimit {
        amount: 5_000,
        period: Period::Week,
    });
    storage.save_group(&actor, None, club, today).await?;
    let silver = storage
        .save_group(
            &actor,
            None,
            group(
                "Silver",
                GroupKind::Manual,
                None,
                Program::Discount { percent: pct("5")? },
            ),
            today,
        )
        .await?;
    let gold = storage
        .save_group(
            &actor,
            None,
            group(
                "Gold",
                GroupKind::Manual,
                None,
                Program::Discount {
                    percent: pct("10")?,
                },
            ),
            today,
        )
        .await?;
    storage
        .save_group(
            &actor,
            None,
            group(
                "Lapsed",
                GroupKind::Auto,
                Some("visits > 0 and last_visit_days > 60"),
                Program::None,
            ),
            today,
        )
        .await?;
    let profile = storage
        .save_limit_profile(
            &actor,
            LimitProfile {
                id: uuid::Uuid::now_v7(),
                name: "Adult-use daily limit".into(),
                limits: vec![PurchaseLimit {
                    name: "Daily THC".into(),
                    period: Period::Day,
                    enforcement: Enforcement::Warn,
                    allowances: vec![
                        Allowance {
                            category: "flower".into(),
                            unit: "g".into(),
                            max_quantity: 28_000,
                        },
                        Allowance {
                            category: "concentrate".into(),
                            unit: "g".into(),
                            max_quantity: 8_000,
                        },
                        Allowance {
                            category: "edible".into(),
                            unit: "mg".into(),
                            max_quantity: 800_000,
                        },
                    ],
                }],
            },
        )
        .await?;
    let groups = storage.groups(&GroupQuery::default()).await?;
    if let Some(rec) = groups.iter().find(|g| g.spec.name == "Recreational") {
        let mut spec = rec.spec.clone();
        spec.min_age = Some(21);
        spec.limit_profile = Some(profile.id);
        storage
            .save_group(&actor, Some(rec.id), spec, today)
            .await?;
    }
    storage
        .save_customer_type(
            &actor,
            None,
            CustomerTypeSpec {
                name: "Veteran".into(),
                tax_exempt: false,
                discount: TypeDiscount::Percent(pct("10")?),
            },
        )
        .await?;
    let mut settings = storage.loyalty_settings().await?;
    settings.transitions_enabled = true;
    settings.transitions = vec![
        Transition {
            threshold: 5_000,
            group_id: silver.id.to_string(),
        },
        Transition {
            threshold: 15_000,
            group_id: gold.id.to_string(),
        },
    ];
    settings.points_lifetime_days = Some(365);
    storage.update_loyalty_settings(&actor, &settings).await?;

    // Past orders over the last 90 days for a fifth of the customers.
    let mut rng = rand::rngs::SmallRng::seed_from_u64(42);
    let products = [
        ("TEA-01", "Green tea", "tea", "ea", 1_250),
        ("MUG-02", "Ceramic mug", "homeware", "ea", 1_800),
        ("FL-35", "Flower 3.5 g", "flower", "g", 1_000),
        ("ED-10", "Gummies 10 mg", "edible", "mg", 2),
        ("CON-1", "Concentrate 1 g", "concentrate", "g", 4_500),
    ];
    let now = time::OffsetDateTime::now_utc();
    let mut n = 0;
    for (i, code) in codes.iter().enumerate().filter(|(i, _)| i % 5 == 0) {
        for k in 0..rng.random_range(1..4) {
            let (sku, name, category, unit, price) = products[rng.random_range(0..products.len())];
            let quantity = match unit {
                "g" => 3_500,
                "mg" => 100_000,
                _ => rng.random_range(1..4) * 1000,
            };
            let at = now - time::Duration::days(rng.random_range(1..90));
            let order = OrderRequest {
                id: format!("demo-{i}-{k}"),
                checkout: CheckoutRequest {
                    customer: CustomerKey::Code(code.clone()),
                    lines: vec![CartLine {
                        sku: sku.into(),
                        name: name.into(),
                        category: category.into(),
                        quantity,
                        unit: unit.into(),
                        unit_price: price,
                    }],
                    redeem_points: 0,
                    redeem_credit: 0,
                    store: None,
                },
                override_limits: true,
                from_store: None,
                placed_at: None,
                fingerprint: format!("demo-{i}-{k}"),
            };
            // Under-age customers are refused, as at a real register.
            if storage.commit_order(&actor, order, at).await.is_ok() {
                n += 1;
            }
        }
    }
    Ok(n)
}
