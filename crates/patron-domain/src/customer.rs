//! The customer record (SPEC §3) and the one place its fields are parsed,
//! patched and compared for the audit trail.
//!
//! Every editable field has a [`Field`] name (`first_name`, `address.city`,
//! `medical.expiry`). The HTTP API, the CSV importer and the audit trail all speak
//! in these names, so a bad value is reported under the same name everywhere.

use crate::code::CustomerCode;
use crate::email::Email;
use crate::error::{FieldError, ValidationErrors};
use crate::phone::{Phone, PhoneRegion};
use crate::search::SearchKeys;
use crate::text::{StoreId, clean_line, clean_multiline};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// Structured postal address; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, uppercase.
    pub country: Option<String>,
}

/// A medical-program card (regulated retail).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MedicalInfo {
    pub card_number: Option<String>,
    pub issuing_state: Option<String>,
    pub expiry: Option<Date>,
}

/// An identity document (driver's licence, passport).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdDocument {
    pub number: Option<String>,
    pub issuing_state: Option<String>,
    pub issuing_country: Option<String>,
    pub expiry: Option<Date>,
}

/// The editable part of a customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerDraft {
    pub first_name: String,
    pub last_name: String,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub tax_id: Option<String>,
    pub address: Address,
    pub date_of_birth: Option<Date>,
    pub notes: Option<String>,
    pub marketing_consent: bool,
    pub medical: MedicalInfo,
    pub id_document: IdDocument,
}

/// A stored customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub id: Uuid,
    pub code: CustomerCode,
    pub data: CustomerDraft,
    /// Where the record was created; `None` at HQ. Informational only.
    pub origin_store: Option<StoreId>,
    pub active: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// When the person's data was erased on a privacy request: the record
    /// stays, anonymous, for its orders and ledger, and can no longer be edited.
    pub erased_at: Option<OffsetDateTime>,
    /// Set when this record was merged into another (the survivor's id): it
    /// stays only so that its code and id keep finding the survivor.
    pub merged_into: Option<Uuid>,
}

impl Customer {
    pub fn is_erased(&self) -> bool {
        self.erased_at.is_some()
    }

    pub fn search_keys(&self) -> SearchKeys {
        self.data.search_keys()
    }
}

/// What parsing needs from the world: the phone region and today's date
/// (a date of birth may not lie in the future).
#[derive(Debug, Clone, Copy)]
pub struct ParseContext {
    pub region: PhoneRegion,
    pub today: Date,
}

/// Every editable customer field, by the name callers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    FirstName,
    LastName,
    Email,
    Phone,
    TaxId,
    AddressLine1,
    AddressLine2,
    AddressCity,
    AddressRegion,
    AddressPostalCode,
    AddressCountry,
    DateOfBirth,
    Notes,
    MarketingConsent,
    MedicalCardNumber,
    MedicalIssuingState,
    MedicalExpiry,
    IdNumber,
    IdIssuingState,
    IdIssuingCountry,
    IdExpiry,
}

impl Field {
    pub const ALL: [Field; 21] = [
        Field::FirstName,
        Field::LastName,
        Field::Email,
        Field::Phone,
        Field::TaxId,
        Field::AddressLine1,
        Field::AddressLine2,
        Field::AddressCity,
        Field::AddressRegion,
        Field::AddressPostalCode,
        Field::AddressCountry,
        Field::DateOfBirth,
        Field::Notes,
        Field::MarketingConsent,
        Field::MedicalCardNumber,
        Field::MedicalIssuingState,
        Field::MedicalExpiry,
        Field::IdNumber,
        Field::IdIssuingState,
        Field::IdIssuingCountry,
        Field::IdExpiry,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::TaxId => "tax_id",
            Field::AddressLine1 => "address.line1",
            Field::AddressLine2 => "address.line2",
            Field::AddressCity => "address.city",
            Field::AddressRegion => "address.region",
            Field::AddressPostalCode => "address.postal_code",
            Field::AddressCountry => "address.country",
            Field::DateOfBirth => "date_of_birth",
            Field::Notes => "notes",
            Field::MarketingConsent => "marketing_consent",
            Field::MedicalCardNumber => "medical.card_number",
            Field::MedicalIssuingState => "medical.issuing_state",
            Field::MedicalExpiry => "medical.expiry",
            Field::IdNumber => "id_document.number",
            Field::IdIssuingState => "id_document.issuing_state",
            Field::IdIssuingCountry => "id_document.issuing_country",
            Field::IdExpiry => "id_document.expiry",
        }
    }

    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// A change to one field: keep it, set it, or clear it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patch<T> {
    Set(T),
    Clear,
}

/// A partial update: the fields to set or clear, in raw (unparsed) form.
pub type CustomerPatch = Vec<(Field, Patch<String>)>;

/// One field's change, as the audit trail records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

fn parse_date(field: Field, s: &str) -> Result<Date, FieldError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s.trim(), &fmt)
        .map_err(|_| FieldError::new(field.name(), "must be a date written YYYY-MM-DD"))
}

fn parse_bool(field: Field, s: &str) -> Result<bool, FieldError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Ok(true),
        "false" | "no" | "n" | "0" | "" => Ok(false),
        _ => Err(FieldError::new(field.name(), "must be true or false")),
    }
}

fn parse_country(field: Field, s: &str) -> Result<String, FieldError> {
    let c = s.trim().to_ascii_uppercase();
    if c.len() == 2 && c.chars().all(|ch| ch.is_ascii_uppercase()) {
        Ok(c)
    } else {
        Err(FieldError::new(
            field.name(),
            "must be a two-letter ISO 3166-1 country code",
        ))
    }
}

fn format_date(d: Date) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    d.format(&fmt).unwrap_or_default()
}

impl CustomerDraft {
    /// Builds a new customer's data from raw field values, reporting every bad field.
    pub fn parse(
        fields: impl IntoIterator<Item = (Field, String)>,
        ctx: &ParseContext,
    ) -> Result<Self, ValidationErrors> {
        let mut draft = CustomerDraft::default();
        let mut errors = ValidationErrors::default();
        for (field, value) in fields {
            // An empty cell or string means "not given", as in every CSV export.
            let v = (!value.trim().is_empty()).then_some(value.as_str());
            if let Err(e) = draft.set(field, v, ctx) {
                errors.push(e);
            }
        }
        for (field, value) in [
            (Field::FirstName, &draft.first_name),
            (Field::LastName, &draft.last_name),
        ] {
            if value.is_empty() && !errors.0.iter().any(|e| e.field == field.name()) {
                errors.push(FieldError::new(field.name(), "is required"));
            }
        }
        errors.into_result().map(|()| draft)
    }

    /// Returns the data with `patch` applied and the list of fields that changed.
    pub fn apply_patch(
        &self,
        patch: &CustomerPatch,
        ctx: &ParseContext,
    ) -> Result<(CustomerDraft, Vec<FieldChange>), ValidationErrors> {
        let mut next = self.clone();
        let mut errors = ValidationErrors::default();
        for (field, p) in patch {
            let value = match p {
                Patch::Set(s) if !s.trim().is_empty() => Some(s.as_str()),
                Patch::Set(_) | Patch::Clear => None,
            };
            if let Err(e) = next.set(*field, value, ctx) {
                errors.push(e);
            }
        }
        errors.into_result()?;
        let changes = self.diff(&next);
        Ok((next, changes))
    }

    /// Field-by-field differences from `self` to `other`, in display form.
    pub fn diff(&self, other: &CustomerDraft) -> Vec<FieldChange> {
        Field::ALL
            .into_iter()
            .filter_map(|f| {
                let (old, new) = (self.get(f), other.get(f));
                (old != new).then(|| FieldChange {
                    field: f.name().to_owned(),
                    old,
                    new,
                })
            })
            .collect()
    }

    /// What is left of a person after erasure: a placeholder name, nothing
    /// else that could identify them.
    pub fn erased() -> Self {
        CustomerDraft {
            first_name: "Erased".into(),
            last_name: "customer".into(),
            ..CustomerDraft::default()
        }
    }

    /// Sets one field from its raw text; `None` clears it.
    pub fn set(
        &mut self,
        field: Field,
        value: Option<&str>,
        ctx: &ParseContext,
    ) -> Result<(), FieldError> {
        let name = field.name();
        let line = |max: usize| -> Result<Option<String>, FieldError> {
            value.map(|v| clean_line(name, v, max)).transpose()
        };
        match field {
            Field::FirstName | Field::LastName => {
                let v = value
                    .map(|v| clean_line(name, v, 100))
                    .transpose()?
                    .ok_or_else(|| FieldError::new(name, "is required"))?;
                if field == Field::FirstName {
                    self.first_name = v;
                } else {
                    self.last_name = v;
                }
            }
            Field::Email => {
                self.email = value
                    .map(Email::parse)
                    .transpose()
                    .map_err(|e| FieldError::new(name, e.message))?;
            }
            Field::Phone => {
                self.phone = value
                    .map(|v| Phone::parse(v, ctx.region))
                    .transpose()
                    .map_err(|e| FieldError::new(name, e.message))?;
            }
            Field::TaxId => self.tax_id = line(50)?,
            Field::AddressLine1 => self.address.line1 = line(200)?,
            Field::AddressLine2 => self.address.line2 = line(200)?,
            Field::AddressCity => self.address.city = line(100)?,
            Field::AddressRegion => self.address.region = line(100)?,
            Field::AddressPostalCode => self.address.postal_code = line(20)?,
            Field::AddressCountry => {
                self.address.country = value.map(|v| parse_country(field, v)).transpose()?;
            }
            Field::DateOfBirth => {
                let d = value.map(|v| parse_date(field, v)).transpose()?;
                if let Some(d) = d {
                    if d > ctx.today {
                        return Err(FieldError::new(name, "must not be in the future"));
                    }
                    if d.year() < 1900 {
                        return Err(FieldError::new(name, "must be in 1900 or later"));
                    }
                }
                self.date_of_birth = d;
            }
            Field::Notes => {
                self.notes = value.map(|v| clean_multiline(name, v, 4000)).transpose()?;
            }
            Field::MarketingConsent => {
                self.marketing_consent = value
                    .map(|v| parse_bool(field, v))
                    .transpose()?
                    .unwrap_or(false);
            }
            Field::MedicalCardNumber => self.medical.card_number = line(50)?,
            Field::MedicalIssuingState => self.medical.issuing_state = line(50)?,
            Field::MedicalExpiry => {
                self.medical.expiry = value.map(|v| parse_date(field, v)).transpose()?;
            }
            Field::IdNumber => self.id_document.number = line(50)?,
            Field::IdIssuingState => self.id_document.issuing_state = line(50)?,
            Field::IdIssuingCountry => {
                self.id_document.issuing_country =
                    value.map(|v| parse_country(field, v)).transpose()?;
            }
            Field::IdExpiry => {
                self.id_document.expiry = value.map(|v| parse_date(field, v)).transpose()?;
            }
        }
        Ok(())
    }

    /// One field's value in display form (what audit, CSV export and forms show).
    pub fn get(&self, field: Field) -> Option<String> {
        match field {
            Field::FirstName => Some(self.first_name.clone()),
            Field::LastName => Some(self.last_name.clone()),
            Field::Email => self.email.as_ref().map(|e| e.as_str().to_owned()),
            Field::Phone => self.phone.as_ref().map(|p| p.as_e164().to_owned()),
            Field::TaxId => self.tax_id.clone(),
            Field::AddressLine1 => self.address.line1.clone(),
            Field::AddressLine2 => self.address.line2.clone(),
            Field::AddressCity => self.address.city.clone(),
            Field::AddressRegion => self.address.region.clone(),
            Field::AddressPostalCode => self.address.postal_code.clone(),
            Field::AddressCountry => self.address.country.clone(),
            Field::DateOfBirth => self.date_of_birth.map(format_date),
            Field::Notes => self.notes.clone(),
            Field::MarketingConsent => Some(self.marketing_consent.to_string()),
            Field::MedicalCardNumber => self.medical.card_number.clone(),
            Field::MedicalIssuingState => self.medical.issuing_state.clone(),
            Field::MedicalExpiry => self.medical.expiry.map(format_date),
            Field::IdNumber => self.id_document.number.clone(),
            Field::IdIssuingState => self.id_document.issuing_state.clone(),
            Field::IdIssuingCountry => self.id_document.issuing_country.clone(),
            Field::IdExpiry => self.id_document.expiry.map(format_date),
        }
    }

    pub fn search_keys(&self) -> SearchKeys {
        SearchKeys::new(
            &self.first_name,
            &self.last_name,
            self.email.as_ref().map(Email::as_str),
            self.phone.as_ref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn ctx() -> ParseContext {
        ParseContext {
            region: PhoneRegion::default(),
            today: date!(2026 - 11 - 23),
        }
    }

    fn draft(pairs: &[(Field, &str)]) -> Result<CustomerDraft, ValidationErrors> {
        CustomerDraft::parse(pairs.iter().map(|(f, v)| (*f, (*v).to_owned())), &ctx())
    }

    #[test]
    fn field_names_round_trip() {
        for f in Field::ALL {
            assert_eq!(Field::from_name(f.name()), Some(f));
        }
        assert_eq!(Field::from_name("nope"), None);
    }

    #[test]
    fn parses_a_full_customer() {
        let d = draft(&[
            (Field::FirstName, " Anna "),
            (Field::LastName, "Müller"),
            (Field::Email, "Anna@Example.com"),
            (Field::Phone, "(201) 555-0123"),
            (Field::AddressCountry, "de"),
            (Field::DateOfBirth, "1990-05-17"),
            (Field::MarketingConsent, "yes"),
            (Field::IdExpiry, "2030-01-01"),
        ])
        .unwrap();
        assert_eq!(d.first_name, "Anna");
        assert_eq!(d.phone.as_ref().map(Phone::as_e164), Some("+12015550123"));
        assert_eq!(d.address.country.as_deref(), Some("DE"));
        assert!(d.marketing_consent);
        assert_eq!(d.get(Field::DateOfBirth).as_deref(), Some("1990-05-17"));
    }

    #[test]
    fn reports_every_bad_field_by_name() {
        let e = draft(&[
            (Field::Email, "nope"),
            (Field::Phone, "12"),
            (Field::DateOfBirth, "2030-01-01"),
            (Field::AddressCountry, "Germany"),
        ])
        .unwrap_err();
        let names: Vec<&str> = e.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "email",
                "phone",
                "date_of_birth",
                "address.country",
                "first_name",
                "last_name"
            ]
        );
    }

    #[test]
    fn patch_reports_changes_and_refuses_clearing_names() {
        let d = draft(&[(Field::FirstName, "Ann"), (Field::LastName, "Lee")]).unwrap();
        let (next, changes) = d
            .apply_patch(
                &vec![
                    (Field::FirstName, Patch::Set("Anne".into())),
                    (Field::AddressCity, Patch::Set("Berlin".into())),
                    (Field::Notes, Patch::Clear),
                ],
                &ctx(),
            )
            .unwrap();
        assert_eq!(next.first_name, "Anne");
        assert_eq!(
            changes,
            vec![
                FieldChange {
                    field: "first_name".into(),
                    old: Some("Ann".into()),
                    new: Some("Anne".into())
                },
                FieldChange {
                    field: "address.city".into(),
                    old: None,
                    new: Some("Berlin".into())
                },
            ]
        );
        let err = d
            .apply_patch(&vec![(Field::LastName, Patch::Clear)], &ctx())
            .unwrap_err();
        assert_eq!(err.0[0].field, "last_name");
    }

    #[test]
    fn dates_of_birth_are_bounded() {
        assert!(
            draft(&[
                (Field::FirstName, "a"),
                (Field::LastName, "b"),
                (Field::DateOfBirth, "1899-12-31")
            ])
            .is_err()
        );
        assert!(
            draft(&[
                (Field::FirstName, "a"),
                (Field::LastName, "b"),
                (Field::DateOfBirth, "2026-11-23")
            ])
            .is_ok()
        );
        assert!(
            draft(&[
                (Field::FirstName, "a"),
                (Field::LastName, "b"),
                (Field::DateOfBirth, "23/11/1990")
            ])
            .is_err()
        );
    }
}
