//! The JSON shapes of an ID scan: what the card says, the customer it would
//! make, the customers it matches and the checks to show before a sale.

use super::{AddressView, DuplicateCandidateView, IdDocumentView};
use patron_domain::id_scan::{DocumentKind, LicenceData, Sex};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The scanner's text (what a PDF417 reader types from the card's back).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdScanTextInput {
    #[schema(min_length = 1, max_length = 16384)]
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKindView {
    DriverLicence,
    IdCard,
    Unknown,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SexView {
    Male,
    Female,
    X,
    NotSpecified,
}

fn date(d: Option<time::Date>) -> Option<String> {
    d.map(|d| d.to_string())
}

/// What the card says, as printed (names in the card's own case).
#[derive(Debug, Serialize, ToSchema)]
pub struct IdScanDocumentView {
    pub kind: DocumentKindView,
    /// The AAMVA standard's version, 1 to 10 (0: before the standard).
    pub aamva_version: Option<u8>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub suffix: Option<String>,
    pub date_of_birth: Option<String>,
    pub sex: Option<SexView>,
    pub address: AddressView,
    pub document_number: Option<String>,
    /// The issuing state or province, e.g. `TX`, `ON`.
    pub issuing_jurisdiction: Option<String>,
    /// ISO 3166-1 alpha-2: `US` or `CA`.
    pub issuing_country: Option<String>,
    pub issue_date: Option<String>,
    pub expiry: Option<String>,
    pub veteran: bool,
}

impl From<&LicenceData> for IdScanDocumentView {
    fn from(l: &LicenceData) -> Self {
        let a = &l.address;
        IdScanDocumentView {
            kind: match l.document_kind {
                DocumentKind::DriverLicence => DocumentKindView::DriverLicence,
                DocumentKind::IdCard => DocumentKindView::IdCard,
                DocumentKind::Unknown => DocumentKindView::Unknown,
            },
            aamva_version: l.aamva_version,
            first_name: l.first_name.clone(),
            middle_name: l.middle_name.clone(),
            last_name: l.last_name.clone(),
            suffix: l.suffix.clone(),
            date_of_birth: date(l.date_of_birth),
            sex: l.sex.map(|s| match s {
                Sex::Male => SexView::Male,
                Sex::Female => SexView::Female,
                Sex::X => SexView::X,
                Sex::NotSpecified => SexView::NotSpecified,
            }),
            address: AddressView {
                line1: a.line1.clone(),
                line2: a.line2.clone(),
                city: a.city.clone(),
                region: a.region.clone(),
                postal_code: a.postal_code.clone(),
                country: a.country.clone(),
            },
            document_number: l.document_number.clone(),
            issuing_jurisdiction: l.issuing_jurisdiction.clone(),
            issuing_country: l.issuing_country.clone(),
            issue_date: date(l.issue_date),
            expiry: date(l.expiry),
            veteran: l.veteran,
        }
    }
}

/// A new customer filled from the card, in the shape `POST /customers` takes
/// (names in everyday case).
#[derive(Debug, Serialize, ToSchema)]
pub struct IdScanCustomerView {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub address: AddressView,
    pub id_document: IdDocumentView,
}

/// A customer type suggested by the card.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestedTypeView {
    pub id: String,
    pub name: String,
}

/// What to show the cashier before a sale.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdScanChecksView {
    /// The card's expiry date has passed (it is valid through that day).
    pub expired: bool,
    /// Full years today, from the card's date of birth.
    pub age: Option<u32>,
    /// The highest minimum age among the groups the customer is (or, if new,
    /// would be) in, and the group that sets it.
    pub min_age: Option<u32>,
    pub min_age_group: Option<String>,
    /// Younger than `min_age`, or no date of birth on a card where one is needed.
    pub under_age: bool,
    /// The card carries the veteran indicator.
    pub veteran: bool,
    /// The customer type the chain maps the veteran indicator to, if any.
    pub veteran_type: Option<SuggestedTypeView>,
    /// Plain sentences for the screen, most serious first.
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdScanView {
    pub document: IdScanDocumentView,
    pub customer: IdScanCustomerView,
    /// Customers on file who are likely the holder: same document number
    /// first, then same name and date of birth.
    pub matches: Vec<DuplicateCandidateView>,
    pub checks: IdScanChecksView,
}
