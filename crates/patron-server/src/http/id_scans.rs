//! ID scans: the text a licence's PDF417 barcode carries, or a photo of it,
//! read into the holder's details, matched against the customers on file and
//! checked (expiry, the age the customer's groups require, veteran).

use super::error::{ApiError, ProblemResponses, Result};
use super::extract::{Allowed, parse_json, perm};
use crate::app::AppState;
use crate::wire::{
    AddressView, DuplicateCandidateView, IdDocumentView, IdScanChecksView, IdScanCustomerView,
    IdScanDocumentView, IdScanTextInput, IdScanView, SuggestedTypeView,
};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, header};
use patron_domain::id_scan::{LicenceData, MAX_SCAN_BYTES, nice_case, parse_aamva};
use patron_domain::{CustomerDraft, DuplicateKeys, Rule, RuleFacts};
use patron_storage::{CustomerKey, GroupKind, GroupQuery};

/// The largest photo accepted.
pub const MAX_IMAGE_BODY: usize = 15 * 1024 * 1024;

/// Read a licence: `application/json` `{"text": ...}` with what a scanner
/// typed, or the photo itself (`image/jpeg` or `image/png`, up to 15 MiB).
/// The answer: the card's fields, a new customer filled from them, the
/// customers it matches, and the checks to show before a sale.
#[utoipa::path(post, path = "/api/v1/id-scans", tag = "customers", security(("bearer" = [])),
    request_body(content(
        (IdScanTextInput = "application/json"),
        (Vec<u8> = "image/jpeg"),
        (Vec<u8> = "image/png"),
    )),
    responses((status = 200, body = IdScanView), ProblemResponses))]
pub async fn scan(
    State(state): State<AppState>,
    _user: Allowed<perm::CustomersView>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Json<IdScanView>> {
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let body = body.map_err(|e| match super::extract::body_error(e) {
        ApiError::TooLarge(_) if mime.starts_with("image/") => ApiError::TooLarge(MAX_IMAGE_BODY),
        ApiError::TooLarge(_) => ApiError::TooLarge(super::extract::MAX_JSON_BODY),
        other => other,
    })?;
    let text = match mime.as_str() {
        "application/json" => {
            if body.len() > super::extract::MAX_JSON_BODY {
                return Err(ApiError::TooLarge(super::extract::MAX_JSON_BODY));
            }
            let input: IdScanTextInput = parse_json(&body)?;
            input.text
        }
        "image/jpeg" | "image/png" => decode_image(body).await?,
        _ => return Err(ApiError::UnsupportedMediaType),
    };
    if text.len() > MAX_SCAN_BYTES {
        return Err(ApiError::field(
            "text",
            format!("must be at most {MAX_SCAN_BYTES} bytes"),
        ));
    }
    let licence = parse_aamva(&text).map_err(|e| ApiError::field("text", e.to_string()))?;
    Ok(Json(answer(&state, &licence).await?))
}

/// Photos decoded at once, node-wide: each may take up to the decoder's time
/// budget of CPU, and registers must keep being answered meanwhile.
const CONCURRENT_DECODES: usize = 2;

/// The barcode's text, decoded off the request's thread (it is CPU work).
async fn decode_image(body: Bytes) -> Result<String> {
    static DECODERS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let _permit = DECODERS
        .get_or_init(|| tokio::sync::Semaphore::new(CONCURRENT_DECODES))
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(format!("barcode decoders closed: {e}")))?;
    tokio::task::spawn_blocking(move || patron_barcode::decode_pdf417(&body))
        .await
        .map_err(|e| ApiError::Internal(format!("barcode decoding stopped: {e}")))?
        .map_err(|e| ApiError::field("image", e.to_string()))
}

async fn answer(state: &AppState, licence: &LicenceData) -> Result<IdScanView> {
    let settings = state.storage.loyalty_settings().await?;
    let today = crate::http::loyalty::local_today(&settings);
    let draft = CustomerDraft {
        first_name: licence.nice_first_name().unwrap_or_default(),
        last_name: licence.nice_last_name().unwrap_or_default(),
        date_of_birth: licence.date_of_birth,
        address: licence.address.clone(),
        id_document: licence.id_document(),
        ..CustomerDraft::default()
    };
    // A licence has no phone or email: the document, then name and birth date.
    let all = draft.duplicate_keys();
    let keys = DuplicateKeys {
        id_document: all.id_document,
        person: all.person,
        ..DuplicateKeys::default()
    };
    let matches = if keys.is_empty() {
        Vec::new()
    } else {
        state
            .storage
            .likely_same(&keys, None, super::duplicates::MAX_CANDIDATES)
            .await?
    };

    // The groups whose age limit applies: a matched customer's own, or those a
    // new customer with these details would be put in.
    let groups = state.storage.groups(&GroupQuery::default()).await?;
    let member_of: Option<Vec<uuid::Uuid>> = match matches.first() {
        Some(m) => Some(
            state
                .storage
                .customer_activity(
                    &CustomerKey::Id(m.customer.id),
                    time::OffsetDateTime::now_utc(),
                )
                .await?
                .groups
                .iter()
                .map(|(id, _)| *id)
                .collect(),
        ),
        None => None,
    };
    let facts = RuleFacts::of_new_customer(&draft, state.node.store(), today);
    let strictest = groups
        .iter()
        .filter(|g| g.spec.min_age.is_some())
        .filter(|g| match &member_of {
            Some(ids) => ids.contains(&g.id),
            None => match g.spec.kind {
                GroupKind::Common => true,
                GroupKind::Manual => false,
                GroupKind::Auto | GroupKind::System => g
                    .spec
                    .rule
                    .as_deref()
                    .and_then(|r| Rule::parse_stored(r).ok())
                    .is_some_and(|r| r.evaluate(&facts)),
            },
        })
        .max_by_key(|g| g.spec.min_age);
    let age = licence.age_on(today);
    let min_age = strictest.and_then(|g| g.spec.min_age);
    let under_age = match (min_age, age) {
        (Some(min), Some(age)) => age < min,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let expired = licence.is_expired(today);
    let veteran_type = match (&settings.veteran_type, licence.veteran) {
        (Some(id), true) => state
            .storage
            .customer_types()
            .await?
            .into_iter()
            .find(|t| t.id.to_string() == *id)
            .map(|t| SuggestedTypeView {
                id: t.id.to_string(),
                name: t.spec.name,
            }),
        _ => None,
    };
    let mut warnings = Vec::new();
    if expired {
        warnings.push(format!(
            "This document expired on {}.",
            licence.expiry.map(|d| d.to_string()).unwrap_or_default()
        ));
    }
    if let (true, Some(g)) = (under_age, strictest) {
        warnings.push(match age {
            Some(age) => format!(
                "Under age: {age}, and {} requires {}.",
                g.spec.name,
                min_age.unwrap_or_default()
            ),
            None => format!(
                "No date of birth on the document, and {} requires an age of {}.",
                g.spec.name,
                min_age.unwrap_or_default()
            ),
        });
    }
    if licence.veteran {
        warnings.push(match &veteran_type {
            Some(t) => format!("Veteran: the customer type {} applies.", t.name),
            None => "Veteran indicator on the document.".to_owned(),
        });
    }
    let a = &licence.address;
    let doc = licence.id_document();
    Ok(IdScanView {
        document: IdScanDocumentView::from(licence),
        customer: IdScanCustomerView {
            first_name: licence.nice_first_name(),
            last_name: licence.nice_last_name(),
            date_of_birth: licence.date_of_birth.map(|d| d.to_string()),
            // Cards print addresses in capitals; a record keeps everyday case.
            address: AddressView {
                line1: a.line1.as_deref().map(nice_case),
                line2: a.line2.as_deref().map(nice_case),
                city: a.city.as_deref().map(nice_case),
                region: a.region.clone(),
                postal_code: a.postal_code.clone(),
                country: a.country.clone(),
            },
            id_document: IdDocumentView {
                number: doc.number,
                issuing_state: doc.issuing_state,
                issuing_country: doc.issuing_country,
                expiry: doc.expiry.map(|d| d.to_string()),
            },
        },
        matches: matches.iter().map(DuplicateCandidateView::from).collect(),
        checks: IdScanChecksView {
            expired,
            age,
            min_age,
            min_age_group: strictest.map(|g| g.spec.name.clone()),
            under_age,
            veteran: licence.veteran,
            veteran_type,
            warnings,
        },
    })
}
