//! Which column goes where: the exports of the systems chains migrate from,
//! recognised by their column names, and the names other files commonly use.

use anyhow::{Context, bail};
use patron_domain::customer::Field;
use std::collections::BTreeMap;

/// Where a CSV column goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Field(Field),
    /// "Name" / "Full name": split at the last space into first and last.
    FullName,
    /// A full name written last name first ("Kovalenko Olena Petrivna").
    FullNameLastFirst,
    /// The customer's id in the source system: what makes a re-run skip the row.
    SourceId,
    /// Opening points balance.
    Points,
    /// Opening store-credit balance.
    StoreCredit,
    /// Lifetime spend so far.
    LifetimeSpend,
    /// Visits (orders, transactions) so far.
    Visits,
    /// Manual groups (or tags), comma-, semicolon- or bar-separated.
    Groups,
    /// A column a system's export has that is deliberately not read.
    Ignored,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Field(f) => f.name(),
            Target::FullName => "name (first and last)",
            Target::FullNameLastFirst => "name (last name first)",
            Target::SourceId => "source id",
            Target::Points => "points balance",
            Target::StoreCredit => "store credit balance",
            Target::LifetimeSpend => "lifetime spend",
            Target::Visits => "visits",
            Target::Groups => "groups",
            Target::Ignored => "(ignored)",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Field::from_name(name).map(Target::Field).or(match name {
            "name" => Some(Target::FullName),
            "source_id" | "id" => Some(Target::SourceId),
            "points" => Some(Target::Points),
            "store_credit" | "credit" => Some(Target::StoreCredit),
            "lifetime_spend" | "total_spent" => Some(Target::LifetimeSpend),
            "visits" => Some(Target::Visits),
            "groups" => Some(Target::Groups),
            _ => None,
        })
    }
}

/// A system's customer export.
pub struct Preset {
    /// The name `--source` takes.
    pub key: &'static str,
    pub name: &'static str,
    /// The export is recognised when every column of one of these sets is present.
    signatures: &'static [&'static [&'static str]],
    /// Its columns (normalised names); the rest fall back to the generic names.
    columns: &'static [(&'static str, Target)],
    /// Its dates with slashes are day/month/year (month/day/year otherwise).
    pub day_first: bool,
}

use Field::*;
use Target::Field as F;

// Column names as the systems' exports write them (normalised). Sources and
// what could not be verified are listed in the README's migration section.
pub const PRESETS: &[Preset] = &[
    Preset {
        key: "square",
        name: "Square (Customers export)",
        signatures: &[
            &["square_customer_id"],
            &["reference_id", "email_address", "lifetime_spend"],
        ],
        columns: &[
            ("square_customer_id", Target::SourceId),
            ("email_address", F(Email)),
            ("phone_number", F(Phone)),
            ("street_address_1", F(AddressLine1)),
            ("street_address_2", F(AddressLine2)),
            ("birthday", F(DateOfBirth)),
            ("memo", F(Notes)),
            ("email_subscription_status", F(MarketingConsent)),
            ("transaction_count", Target::Visits),
            ("lifetime_spend", Target::LifetimeSpend),
        ],
        day_first: false,
    },
    Preset {
        key: "shopify",
        name: "Shopify (customers export)",
        signatures: &[
            &["accepts_email_marketing", "total_spent"],
            &["accepts_marketing", "total_spent", "total_orders"],
        ],
        columns: &[
            ("customer_id", Target::SourceId),
            ("accepts_email_marketing", F(MarketingConsent)),
            ("phone", F(Phone)),
            ("default_address_phone", F(Phone)),
            ("default_address_address1", F(AddressLine1)),
            ("default_address_address2", F(AddressLine2)),
            ("default_address_city", F(AddressCity)),
            ("default_address_province_code", F(AddressRegion)),
            ("default_address_country_code", F(AddressCountry)),
            ("default_address_zip", F(AddressPostalCode)),
            ("province_code", F(AddressRegion)),
            ("country_code", F(AddressCountry)),
            (
                "birth_date_customer_metafields_facts_birth_date",
                F(DateOfBirth),
            ),
            ("total_spent", Target::LifetimeSpend),
            ("total_orders", Target::Visits),
            ("tags", Target::Groups),
        ],
        day_first: false,
    },
    Preset {
        key: "lightspeed",
        name: "Lightspeed Retail R-Series (customers export)",
        signatures: &[&["mobile_phone", "home_phone", "customer_type"]],
        columns: &[
            ("customer_id", Target::SourceId),
            ("mobile_phone", F(Phone)),
            ("home_phone", F(Phone)),
            ("work_phone", F(Phone)),
            ("address_1", F(AddressLine1)),
            ("address_2", F(AddressLine2)),
            ("customer_type", Target::Groups),
            // Its country is a name, not an ISO code, and the credit account
            // balance's sign is not documented: both are left to --map.
            ("country", Target::Ignored),
        ],
        day_first: false,
    },
    Preset {
        key: "lightspeed-x",
        name: "Lightspeed Retail X-Series / Vend (customers export)",
        signatures: &[&["customer_code", "customer_group_name"]],
        columns: &[
            ("customer_code", Target::SourceId),
            ("id", Target::Ignored),
            ("mobile", F(Phone)),
            ("phone", F(Phone)),
            ("date_of_birth", F(DateOfBirth)),
            ("customer_group_name", Target::Groups),
            ("note", F(Notes)),
            ("physical_address1", F(AddressLine1)),
            ("physical_address2", F(AddressLine2)),
            ("physical_city", F(AddressCity)),
            ("physical_suburb", F(AddressCity)),
            ("physical_postcode", F(AddressPostalCode)),
            ("physical_state", F(AddressRegion)),
            ("physical_country_id", F(AddressCountry)),
            // Loyalty there is a money value: brought over as that many points.
            ("loyalty_balance", Target::Points),
            ("store_credit_balance", Target::StoreCredit),
        ],
        day_first: true,
    },
    Preset {
        key: "poster",
        name: "Poster (clients export)",
        signatures: &[
            &["фио", "телефон"],
            &["піб", "телефон"],
            &["телефон", "бонусы"],
            &["телефон", "бонуси"],
        ],
        columns: &[
            ("id", Target::SourceId),
            ("фио", Target::FullNameLastFirst),
            ("піб", Target::FullNameLastFirst),
            ("телефон", F(Phone)),
            ("email", F(Email)),
            ("дата_рождения", F(DateOfBirth)),
            ("дата_народження", F(DateOfBirth)),
            ("бонусы", Target::Points),
            ("бонуси", Target::Points),
            ("сумма_покупок", Target::LifetimeSpend),
            ("сума_покупок", Target::LifetimeSpend),
            ("группа_клиентов", Target::Groups),
            ("група_клієнтів", Target::Groups),
            ("комментарий", F(Notes)),
            ("коментар", F(Notes)),
            ("город", F(AddressCity)),
            ("місто", F(AddressCity)),
            ("адрес", F(AddressLine1)),
            ("адреса", F(AddressLine1)),
            // Countries are names there ("Украина"), not ISO codes.
            ("страна", Target::Ignored),
            ("країна", Target::Ignored),
        ],
        day_first: true,
    },
];

/// Column names other files use (normalised: lowercase, `_` for separators).
fn alias(normalised: &str) -> Option<Target> {
    let f = match normalised {
        "first_name" | "firstname" | "first" | "given_name" | "forename" => FirstName,
        "last_name" | "lastname" | "last" | "surname" | "family_name" => LastName,
        "name" | "full_name" | "fullname" | "customer_name" => return Some(Target::FullName),
        "email" | "e_mail" | "email_address" | "mail" => Email,
        "phone" | "phone_number" | "mobile" | "mobile_phone" | "cell" | "cell_phone"
        | "telephone" | "tel" => Phone,
        "tax_id" | "taxid" | "vat" | "vat_number" | "tin" => TaxId,
        "address" | "address1" | "address_1" | "address_line1" | "address_line_1" | "street"
        | "line1" => AddressLine1,
        "address2" | "address_2" | "address_line2" | "address_line_2" | "line2" => AddressLine2,
        "city" | "town" | "address_city" => AddressCity,
        "state" | "region" | "province" | "county" | "address_region" => AddressRegion,
        "zip" | "zip_code" | "zipcode" | "postal_code" | "postcode" | "address_postal_code" => {
            AddressPostalCode
        }
        "country" | "address_country" => AddressCountry,
        "dob" | "birthday" | "birth_date" | "birthdate" | "date_of_birth" => DateOfBirth,
        "notes" | "note" | "comment" | "comments" => Notes,
        "marketing_consent" | "opt_in" | "accepts_marketing" | "consent" => MarketingConsent,
        "medical_card_number" | "medical_card" => MedicalCardNumber,
        "medical_issuing_state" | "medical_state" => MedicalIssuingState,
        "medical_expiry" | "medical_card_expiry" => MedicalExpiry,
        "id_document_number" | "id_number" | "license_number" | "dl_number" | "drivers_license" => {
            IdNumber
        }
        "id_document_issuing_state" | "id_issuing_state" | "dl_state" => IdIssuingState,
        "id_document_issuing_country" | "id_issuing_country" => IdIssuingCountry,
        "id_document_expiry" | "id_expiry" | "dl_expiry" => IdExpiry,
        "customer_id" | "id" | "external_id" | "source_id" | "customer_number" | "client_id" => {
            return Some(Target::SourceId);
        }
        "points" | "loyalty_points" | "points_balance" | "loyalty_balance" | "bonus"
        | "bonus_balance" => return Some(Target::Points),
        "store_credit" | "store_credit_balance" | "credit" | "credit_balance" => {
            return Some(Target::StoreCredit);
        }
        "lifetime_spend" | "total_spent" | "total_spend" | "total_sales" | "lifetime_value" => {
            return Some(Target::LifetimeSpend);
        }
        "visits" | "visit_count" | "transaction_count" | "total_orders" | "orders_count"
        | "number_of_orders" => return Some(Target::Visits),
        "groups" | "group" | "customer_group" | "customer_groups" | "tags" => {
            return Some(Target::Groups);
        }
        _ => return None,
    };
    Some(Target::Field(f))
}

pub fn normalise_header(h: &str) -> String {
    let mut out = String::new();
    for c in h.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_owned()
}

/// How a file's columns are read.
#[derive(Debug)]
pub struct Mapping {
    /// The system the file was recognised as (or named with `--source`).
    pub source: Option<&'static Preset>,
    /// Per column: its target. A second column for the same target is read
    /// when the first is empty in a row (Shopify's two phones, Lightspeed's three).
    pub targets: Vec<Option<Target>>,
    pub day_first: bool,
}

impl std::fmt::Debug for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key)
    }
}

impl Mapping {
    /// The prefix of source ids in their keys: ids of different systems never collide.
    pub fn key_prefix(&self) -> &'static str {
        self.source.map_or("csv", |p| p.key)
    }
}

fn detect(headers: &[String]) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| {
        p.signatures
            .iter()
            .any(|sig| sig.iter().all(|col| headers.iter().any(|h| h == col)))
    })
}

/// Decides the target of each column: `--map` first, then the recognised
/// system's columns, then the common names.
pub fn map_columns(
    headers: &csv::StringRecord,
    maps: &[String],
    source: Option<&str>,
) -> anyhow::Result<Mapping> {
    let mut explicit = BTreeMap::new();
    for m in maps {
        let Some((col, field)) = m.rsplit_once('=') else {
            bail!("--map {m:?} must look like \"COLUMN=FIELD\"");
        };
        let target = Target::from_name(field.trim()).with_context(|| {
            format!(
                "--map {m:?}: {:?} is not a customer field (try first_name, phone, address.city, points, store_credit, lifetime_spend, visits, groups, source_id, …)",
                field.trim()
            )
        })?;
        explicit.insert(normalise_header(col), target);
    }
    let normalised: Vec<String> = headers.iter().map(normalise_header).collect();
    let preset = match source {
        Some("generic") => None,
        Some(key) => Some(PRESETS.iter().find(|p| p.key == key).with_context(|| {
            let keys: Vec<&str> = PRESETS.iter().map(|p| p.key).collect();
            format!(
                "--source {key:?}: must be one of {}, generic",
                keys.join(", ")
            )
        })?),
        None => detect(&normalised),
    };
    let targets: Vec<Option<Target>> = normalised
        .iter()
        .map(|n| {
            explicit.get(n).copied().or_else(|| {
                preset
                    .and_then(|p| p.columns.iter().find(|(c, _)| c == n).map(|(_, t)| *t))
                    .or_else(|| alias(n))
            })
        })
        .map(|t: Option<Target>| t.filter(|t| *t != Target::Ignored))
        .collect();
    let has = |t| targets.contains(&Some(t));
    let names_mapped = (has(Target::Field(FirstName)) && has(Target::Field(LastName)))
        || has(Target::FullName)
        || has(Target::FullNameLastFirst);
    if !names_mapped {
        bail!(
            "the file has no first- and last-name columns (nor a full-name column); name them or use --map \"COLUMN=first_name\""
        );
    }
    Ok(Mapping {
        source: preset,
        targets,
        day_first: preset.is_some_and(|p| p.day_first),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_map_by_alias_and_explicit_map() {
        let h = csv::StringRecord::from(vec![
            "First Name",
            "Surname",
            "E-mail",
            "Cell Phone",
            "Loyalty Tier",
        ]);
        let m = map_columns(&h, &[], None).unwrap();
        assert_eq!(m.targets[0], Some(Target::Field(FirstName)));
        assert_eq!(m.targets[1], Some(Target::Field(LastName)));
        assert_eq!(m.targets[2], Some(Target::Field(Email)));
        assert_eq!(m.targets[3], Some(Target::Field(Phone)));
        assert_eq!(m.targets[4], None);
        assert!(m.source.is_none());
        let h = csv::StringRecord::from(vec!["Customer", "Whatever"]);
        assert!(map_columns(&h, &[], None).is_err());
        let m = map_columns(
            &h,
            &["Customer=name".into(), "Whatever=points".into()],
            None,
        )
        .unwrap();
        assert_eq!(
            m.targets,
            vec![Some(Target::FullName), Some(Target::Points)]
        );
        assert!(map_columns(&h, &["Customer=nonsense".into()], None).is_err());
        assert!(map_columns(&h, &["Customer=name".into()], Some("nope")).is_err());
    }

    #[test]
    fn exports_are_recognised_by_their_columns() {
        for (header, key) in [
            (
                "Reference ID,First Name,Last Name,Email Address,Phone Number,Square Customer ID,Lifetime Spend",
                "square",
            ),
            (
                "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Total Spent,Total Orders,Tags",
                "shopify",
            ),
            ("ID,ФИО,Телефон,Бонусы,Группа клиентов", "poster"),
            (
                "customer_code,first_name,last_name,customer_group_name",
                "lightspeed-x",
            ),
            (
                "Customer ID,First Name,Last Name,Customer Type,Home Phone,Mobile Phone",
                "lightspeed",
            ),
        ] {
            let h = csv::StringRecord::from(header.split(',').collect::<Vec<_>>());
            let m = map_columns(&h, &[], None).unwrap();
            assert_eq!(m.source.map(|p| p.key), Some(key), "{header}");
        }
    }
}
