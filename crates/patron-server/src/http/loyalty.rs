//! Groups, customer types, limit profiles, loyalty settings, the ledger and the
//! checkout (quote, order, return). Money is integer minor units in every body;
//! percentages are numbers with at most two decimals; quantities numbers with at
//! most three.

use super::error::{ApiError, Result};
use super::extract::{Allowed, ApiJson, ApiPath, Authed, perm};
use crate::app::AppState;
use crate::wire::CustomerView;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use patron_domain::loyalty::money::parse_decimal;
use patron_domain::loyalty::{
    Account, Allowance, CartLine, Enforcement, EntryKind, LoyaltySettings, Percent, Period,
    Program, PurchaseLimit, SpendLimit, Transition, TypeDiscount,
};
use patron_domain::rules::Rule;
use patron_domain::{FieldError, Permission, ValidationErrors};
use patron_storage::{
    ActiveFilter, Balance, Balances, CheckoutRequest, Cursor, CustomerKey, CustomerQuery,
    CustomerTypeSpec, GroupKind, GroupQuery, GroupSort, GroupSpec, LedgerEntry, LimitProfile,
    ManualEntry, MemberTarget, OrderRequest, ReturnRequest,
};
use serde::Deserialize;
use serde_json::Number;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

fn ts(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn percent(field: &str, n: &Number) -> std::result::Result<Percent, FieldError> {
    Percent::parse(&n.to_string()).map_err(|e| FieldError::new(field, e.message))
}

/// A money setting or parameter: 0 to 100,000,000.00, so that no sum of them
/// can overflow a later order.
fn money(field: &str, v: i64, errors: &mut ValidationErrors) -> i64 {
    if !(0..=patron_storage::MAX_AMOUNT).contains(&v) {
        errors.push(FieldError::new(
            field,
            "must be from 0 to 100,000,000.00 in minor units",
        ));
    }
    v
}

/// The longest points lifetime: 100 years.
const MAX_LIFETIME_DAYS: u32 = 36_500;

fn uuid(field: &str, s: &str) -> std::result::Result<Uuid, FieldError> {
    Uuid::parse_str(s.trim()).map_err(|_| FieldError::new(field, "is not an id"))
}

// --- loyalty settings -----------------------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionInput {
    #[schema(minimum = 1, maximum = 10000000000.0)]
    threshold: i64,
    #[schema(format = Uuid)]
    group_id: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoyaltySettingsInput {
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 100)]
    max_redeem_percent: Option<Number>,
    #[schema(minimum = 0, maximum = 10000000000.0)]
    registration_bonus: Option<i64>,
    transitions_enabled: Option<bool>,
    transitions: Option<Vec<TransitionInput>>,
    #[serde(default, with = "serde_with_none")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 36500)]
    points_lifetime_days: Option<Option<u32>>,
    #[schema(maximum = 365)]
    return_window_days: Option<u32>,
    stack_discounts: Option<bool>,
    #[schema(minimum = -840, maximum = 840)]
    utc_offset_minutes: Option<i32>,
    #[schema(minimum = 0, maximum = 10000000000.0)]
    offline_redeem_cap: Option<i64>,
    #[schema(minimum = 0, maximum = 10000000000.0)]
    store_topup_daily_cap: Option<i64>,
    /// A customer type id, or `null` for no suggestion.
    #[serde(default, with = "serde_with_none")]
    #[schema(value_type = Option<String>, format = Uuid)]
    veteran_type_id: Option<Option<String>>,
}

mod serde_with_none {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// The chain's loyalty settings.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct LoyaltySettingsView {
    /// The most of a sale payable with points, a percentage as a decimal string.
    pub max_redeem_percent: String,
    /// Points given to every new customer (0 to 10,000,000,000).
    pub registration_bonus: i64,
    pub transitions_enabled: bool,
    /// Lifetime-spend thresholds (minor units) that move a customer into a group.
    pub transitions: Vec<TransitionView>,
    /// Days points live (1 to 36,500); `null`: they never expire.
    pub points_lifetime_days: Option<u32>,
    /// Days after a sale within which it may be returned (0 to 365).
    pub return_window_days: u32,
    pub stack_discounts: bool,
    /// The chain's time zone as minutes from UTC (-840 to 840).
    pub utc_offset_minutes: i32,
    /// What a store may redeem per customer while it cannot reach HQ (minor units).
    pub offline_redeem_cap: i64,
    /// Store credit one store may top up per day (minor units).
    pub store_topup_daily_cap: i64,
    /// The customer type a licence's veteran indicator suggests on an ID scan.
    pub veteran_type_id: Option<String>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TransitionView {
    pub threshold: i64,
    pub group_id: String,
}

fn settings_view(s: &LoyaltySettings) -> LoyaltySettingsView {
    LoyaltySettingsView {
        max_redeem_percent: s.max_redeem.to_string(),
        registration_bonus: s.registration_bonus,
        transitions_enabled: s.transitions_enabled,
        transitions: s
            .transitions
            .iter()
            .map(|t| TransitionView {
                threshold: t.threshold,
                group_id: t.group_id.clone(),
            })
            .collect(),
        points_lifetime_days: s.points_lifetime_days,
        return_window_days: s.return_window_days,
        stack_discounts: s.stack_discounts,
        utc_offset_minutes: s.utc_offset_minutes,
        offline_redeem_cap: s.offline_redeem_cap,
        store_topup_daily_cap: s.store_topup_daily_cap,
        veteran_type_id: s.veteran_type.clone(),
    }
}

/// Loyalty settings.
#[utoipa::path(get, path = "/api/v1/loyalty/settings", tag = "loyalty", security(("bearer" = [])),
    responses((status = 200, body = LoyaltySettingsView), super::error::ProblemResponses))]
pub async fn get_settings(
    State(state): State<AppState>,
    user: Authed,
) -> Result<Json<LoyaltySettingsView>> {
    user.require(Permission::CustomersView)?;
    Ok(Json(settings_view(
        &state.storage.loyalty_settings().await?,
    )))
}

/// Change loyalty settings (loyalty.manage); members left out are kept.
#[utoipa::path(patch, path = "/api/v1/loyalty/settings", tag = "loyalty", request_body = LoyaltySettingsInput, security(("bearer" = [])),
    responses((status = 200, body = LoyaltySettingsView), super::error::ProblemResponses))]
pub async fn update_settings(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::LoyaltyManage>,
    ApiJson(input): ApiJson<LoyaltySettingsInput>,
) -> Result<Json<LoyaltySettingsView>> {
    super::sync::hq_only(&state)?;
    let mut s = state.storage.loyalty_settings().await?;
    let mut errors = ValidationErrors::default();
    if let Some(p) = &input.max_redeem_percent
        && let Some(p) = errors.take(percent("max_redeem_percent", p))
    {
        s.max_redeem = p;
    }
    if let Some(b) = input.registration_bonus {
        s.registration_bonus = money("registration_bonus", b, &mut errors);
    }
    if let Some(t) = input.transitions_enabled {
        s.transitions_enabled = t;
    }
    if let Some(ts) = input.transitions {
        let mut out = Vec::new();
        for (i, t) in ts.into_iter().enumerate() {
            if !(1..=patron_storage::MAX_AMOUNT).contains(&t.threshold) {
                errors.push(FieldError::new(
                    format!("transitions[{i}].threshold"),
                    "must be from 0.01 to 100,000,000.00 in minor units",
                ));
            }
            if let Some(id) = errors.take(uuid(&format!("transitions[{i}].group_id"), &t.group_id))
            {
                out.push(Transition {
                    threshold: t.threshold,
                    group_id: id.to_string(),
                });
            }
        }
        out.sort_by_key(|t| t.threshold);
        if out.windows(2).any(|w| w[0].threshold == w[1].threshold) {
            errors.push(FieldError::new(
                "transitions",
                "two transitions have the same threshold",
            ));
        }
        s.transitions = out;
    }
    if let Some(d) = input.points_lifetime_days {
        if d.is_some_and(|d| !(1..=MAX_LIFETIME_DAYS).contains(&d)) {
            errors.push(FieldError::new(
                "points_lifetime_days",
                "must be from 1 to 36,500, or null for never",
            ));
        }
        s.points_lifetime_days = d;
    }
    if let Some(d) = input.return_window_days {
        if d > 365 {
            errors.push(FieldError::new("return_window_days", "must be at most 365"));
        }
        s.return_window_days = d;
    }
    if let Some(b) = input.stack_discounts {
        s.stack_discounts = b;
    }
    if let Some(cap) = input.offline_redeem_cap {
        s.offline_redeem_cap = money("offline_redeem_cap", cap, &mut errors);
    }
    if let Some(cap) = input.store_topup_daily_cap {
        s.store_topup_daily_cap = money("store_topup_daily_cap", cap, &mut errors);
    }
    if let Some(t) = input.veteran_type_id {
        s.veteran_type = match t {
            None => None,
            Some(t) => match errors.take(uuid("veteran_type_id", &t)) {
                Some(id) => {
                    let id = id.to_string();
                    if !state
                        .storage
                        .customer_types()
                        .await?
                        .iter()
                        .any(|ct| ct.id.to_string() == id)
                    {
                        errors.push(FieldError::new("veteran_type_id", "is not a customer type"));
                    }
                    Some(id)
                }
                None => None,
            },
        };
    }
    if let Some(m) = input.utc_offset_minutes {
        if !(-14 * 60..=14 * 60).contains(&m) {
            errors.push(FieldError::new(
                "utc_offset_minutes",
                "must be between -840 and 840",
            ));
        }
        s.utc_offset_minutes = m;
    }
    errors.into_result()?;
    Ok(Json(settings_view(
        &state
            .storage
            .update_loyalty_settings(&user.actor(), &s)
            .await?,
    )))
}

// --- customer types -------------------------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerTypeInput {
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    #[serde(default)]
    tax_exempt: bool,
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 100)]
    discount_percent: Option<Number>,
    #[schema(minimum = 0, maximum = 10000000000.0)]
    discount_amount: Option<i64>,
}

fn type_spec(input: CustomerTypeInput) -> std::result::Result<CustomerTypeSpec, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError::new("name", "must be 1 to 100 characters"));
    }
    let discount = match (input.discount_percent, input.discount_amount) {
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                "discount_amount",
                "give a percentage or an amount, not both",
            ));
            TypeDiscount::None
        }
        (Some(p), None) => errors
            .take(percent("discount_percent", &p))
            .map_or(TypeDiscount::None, TypeDiscount::Percent),
        (None, Some(a)) => TypeDiscount::Fixed(money("discount_amount", a, &mut errors)),
        (None, None) => TypeDiscount::None,
    };
    errors.into_result()?;
    Ok(CustomerTypeSpec {
        name,
        tax_exempt: input.tax_exempt,
        discount,
    })
}

/// A customer type: a tax exemption and a discount of its own.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CustomerTypeView {
    pub id: uuid::Uuid,
    pub name: String,
    pub tax_exempt: bool,
    /// A percentage as a decimal string (`"12.5"`), or `null`.
    pub discount_percent: Option<String>,
    /// A fixed discount in minor units, or `null`.
    pub discount_amount: Option<i64>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CustomerTypeList {
    pub items: Vec<CustomerTypeView>,
}

fn type_view(t: &patron_storage::CustomerType) -> CustomerTypeView {
    let (discount_percent, discount_amount) = match t.spec.discount {
        TypeDiscount::None => (None, None),
        TypeDiscount::Percent(p) => (Some(p.to_string()), None),
        TypeDiscount::Fixed(a) => (None, Some(a)),
    };
    CustomerTypeView {
        id: t.id,
        name: t.spec.name.clone(),
        tax_exempt: t.spec.tax_exempt,
        discount_percent,
        discount_amount,
    }
}

/// Customer types.
#[utoipa::path(get, path = "/api/v1/customer-types", tag = "loyalty", security(("bearer" = [])),
    responses((status = 200, body = CustomerTypeList), super::error::ProblemResponses))]
pub async fn list_types(
    State(state): State<AppState>,
    _user: Allowed<perm::CustomersView>,
) -> Result<Json<CustomerTypeList>> {
    let types = state.storage.customer_types().await?;
    Ok(Json(CustomerTypeList {
        items: types.iter().map(type_view).collect(),
    }))
}

/// Create a customer type (loyalty.manage).
#[utoipa::path(post, path = "/api/v1/customer-types", tag = "loyalty", request_body = CustomerTypeInput, security(("bearer" = [])),
    responses((status = 201, body = CustomerTypeView), super::error::ProblemResponses))]
pub async fn create_type(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::LoyaltyManage>,
    ApiJson(input): ApiJson<CustomerTypeInput>,
) -> Result<(StatusCode, Json<CustomerTypeView>)> {
    super::sync::hq_only(&state)?;
    let t = state
        .storage
        .save_customer_type(&user.actor(), None, type_spec(input)?)
        .await?;
    Ok((StatusCode::CREATED, Json(type_view(&t))))
}

/// Replace a customer type (loyalty.manage).
#[utoipa::path(put, path = "/api/v1/customer-types/{id}", params(("id" = String, Path, description = "The customer type's id (UUID)")), tag = "loyalty", request_body = CustomerTypeInput, security(("bearer" = [])),
    responses((status = 200, body = CustomerTypeView), super::error::ProblemResponses))]
pub async fn update_type(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::LoyaltyManage>,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<CustomerTypeInput>,
) -> Result<Json<CustomerTypeView>> {
    super::sync::hq_only(&state)?;
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    let t = state
        .storage
        .save_customer_type(&user.actor(), Some(id), type_spec(input)?)
        .await?;
    Ok(Json(type_view(&t)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTypeInput {
    #[schema(format = Uuid)]
    type_id: Option<String>,
}

/// Set a customer's type (loyalty.manage).
#[utoipa::path(put, path = "/api/v1/customers/{key}/type", params(("key" = String, Path, description = "A customer id (UUID) or code")), tag = "loyalty", request_body = SetTypeInput, security(("bearer" = [])),
    responses((status = 200, body = CustomerView), super::error::ProblemResponses))]
pub async fn set_customer_type(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::LoyaltyManage>,
    ApiPath(key): ApiPath<String>,
    ApiJson(input): ApiJson<SetTypeInput>,
) -> Result<Json<CustomerView>> {
    let type_id = input.type_id.map(|t| uuid("type_id", &t)).transpose()?;
    let c = state
        .storage
        .set_customer_type(&user.actor(), &CustomerKey::parse(&key), type_id)
        .await?;
    Ok(Json(CustomerView::from(&c)))
}

// --- purchase-limit profiles ----------------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowanceInput {
    #[schema(min_length = 1)]
    category: String,
    #[schema(min_length = 1)]
    unit: String,
    #[schema(value_type = f64, exclusive_minimum = 0)]
    max_quantity: Number,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitInput {
    name: String,
    #[schema(pattern = "^(day|week|month|year)$")]
    period: String,
    #[schema(pattern = "^(hard|warn)$")]
    enforcement: String,
    #[schema(min_items = 1)]
    allowances: Vec<AllowanceInput>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitProfileInput {
    #[schema(min_length = 1)]
    name: String,
    limits: Vec<LimitInput>,
}

fn quantity(field: &str, n: &Number) -> std::result::Result<i64, FieldError> {
    parse_decimal(&n.to_string(), 3)
        .filter(|q| *q > 0)
        .ok_or_else(|| {
            FieldError::new(
                field,
                "must be a positive number with at most three decimals",
            )
        })
}

/// A purchase-limit profile: limits per period, each with the categories
/// that count against it and how much of each alone uses it up.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct LimitProfileView {
    pub id: uuid::Uuid,
    pub name: String,
    pub limits: Vec<PurchaseLimitView>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PurchaseLimitView {
    pub name: String,
    /// `day`, `week`, `month` or `year`.
    pub period: String,
    /// `hard` (the sale is refused) or `warn` (a manager may override).
    pub enforcement: String,
    pub allowances: Vec<AllowanceView>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AllowanceView {
    pub category: String,
    pub unit: String,
    /// A decimal string with up to three decimals, e.g. `"28"` or `"3.5"`.
    pub max_quantity: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct LimitProfileList {
    pub items: Vec<LimitProfileView>,
}

fn profile_view(p: &LimitProfile) -> LimitProfileView {
    LimitProfileView {
        id: p.id,
        name: p.name.clone(),
        limits: p
            .limits
            .iter()
            .map(|l| PurchaseLimitView {
                name: l.name.clone(),
                period: l.period.as_str().to_owned(),
                enforcement: match l.enforcement {
                    Enforcement::Hard => "hard",
                    Enforcement::Warn => "warn",
                }
                .to_owned(),
                allowances: l
                    .allowances
                    .iter()
                    .map(|a| AllowanceView {
                        category: a.category.clone(),
                        unit: a.unit.clone(),
                        max_quantity: patron_domain::loyalty::checkout::fmt_milli(a.max_quantity),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Purchase-limit profiles.
#[utoipa::path(get, path = "/api/v1/limit-profiles", tag = "loyalty", security(("bearer" = [])),
    responses((status = 200, body = LimitProfileList), super::error::ProblemResponses))]
pub async fn list_profiles(
    State(state): State<AppState>,
    _user: Allowed<perm::CustomersView>,
) -> Result<Json<LimitProfileList>> {
    let ps = state.storage.limit_profiles().await?;
    Ok(Json(LimitProfileList {
        items: ps.iter().map(profile_view).collect(),
    }))
}

/// Create a purchase-limit profile (groups.manage).
#[utoipa::path(post, path = "/api/v1/limit-profiles", tag = "loyalty", request_body = LimitProfileInput, security(("bearer" = [])),
    responses((status = 201, body = LimitProfileView), super::error::ProblemResponses))]
pub async fn create_profile(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::GroupsManage>,
    ApiJson(input): ApiJson<LimitProfileInput>,
) -> Result<(StatusCode, Json<LimitProfileView>)> {
    super::sync::hq_only(&state)?;
    let p = state
        .storage
        .save_limit_profile(&user.actor(), profile_of(Uuid::now_v7(), input)?)
        .await?;
    Ok((StatusCode::CREATED, Json(profile_view(&p))))
}

/// Change a purchase-limit profile (groups.manage): its name and all its
/// limits, as given. The groups using it apply the new limits from the next sale.
#[utoipa::path(put, path = "/api/v1/limit-profiles/{id}", params(("id" = String, Path, description = "The profile's id")), tag = "loyalty", request_body = LimitProfileInput, security(("bearer" = [])),
    responses((status = 200, body = LimitProfileView), super::error::ProblemResponses))]
pub async fn update_profile(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::GroupsManage>,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<LimitProfileInput>,
) -> Result<Json<LimitProfileView>> {
    super::sync::hq_only(&state)?;
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    if !state
        .storage
        .limit_profiles()
        .await?
        .iter()
        .any(|p| p.id == id)
    {
        return Err(ApiError::NotFound);
    }
    let p = state
        .storage
        .save_limit_profile(&user.actor(), profile_of(id, input)?)
        .await?;
    Ok(Json(profile_view(&p)))
}

/// A profile as the input describes it, every field checked.
fn profile_of(id: Uuid, input: LimitProfileInput) -> Result<LimitProfile> {
    let mut errors = ValidationErrors::default();
    if input.name.trim().is_empty() {
        errors.push(FieldError::new("name", "must not be empty"));
    }
    let mut limits = Vec::new();
    for (i, l) in input.limits.into_iter().enumerate() {
        let f = |s: &str| format!("limits[{i}].{s}");
        let period = Period::parse(&l.period);
        if period.is_none() {
            errors.push(FieldError::new(
                f("period"),
                "must be day, week, month or year",
            ));
        }
        let enforcement = match l.enforcement.as_str() {
            "hard" => Some(Enforcement::Hard),
            "warn" => Some(Enforcement::Warn),
            _ => {
                errors.push(FieldError::new(f("enforcement"), "must be hard or warn"));
                None
            }
        };
        if l.allowances.is_empty() {
            errors.push(FieldError::new(
                f("allowances"),
                "must name at least one category",
            ));
        }
        let mut allowances = Vec::new();
        for (j, a) in l.allowances.into_iter().enumerate() {
            if a.category.trim().is_empty() || a.unit.trim().is_empty() {
                errors.push(FieldError::new(
                    f(&format!("allowances[{j}]")),
                    "category and unit must not be empty",
                ));
            }
            if let Some(q) = errors.take(quantity(
                &f(&format!("allowances[{j}].max_quantity")),
                &a.max_quantity,
            )) {
                allowances.push(Allowance {
                    category: a.category.trim().to_owned(),
                    unit: a.unit.trim().to_owned(),
                    max_quantity: q,
                });
            }
        }
        if let (Some(period), Some(enforcement)) = (period, enforcement) {
            limits.push(PurchaseLimit {
                name: l.name,
                period,
                enforcement,
                allowances,
            });
        }
    }
    errors.into_result()?;
    Ok(LimitProfile {
        id,
        name: input.name.trim().to_owned(),
        limits,
    })
}

// --- groups ---------------------------------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramInput {
    #[schema(pattern = "^(none|discount|cashback|points)$")]
    kind: String,
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 100)]
    percent: Option<Number>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10000000000.0)]
    birthday_bonus: i64,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10000000000.0)]
    registration_bonus: i64,
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 100)]
    max_redeem_percent: Option<Number>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendLimitInput {
    #[schema(minimum = 0, maximum = 10000000000.0)]
    amount: i64,
    #[schema(pattern = "^(day|week|month|year)$")]
    period: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    #[schema(max_length = 1000)]
    description: Option<String>,
    #[schema(pattern = "^(manual|auto)$")]
    kind: Option<String>,
    #[schema(max_length = 4000)]
    rule: Option<String>,
    program: Option<ProgramInput>,
    spend_limit: Option<SpendLimitInput>,
    #[schema(maximum = 150)]
    min_age: Option<u32>,
    #[schema(format = Uuid)]
    limit_profile: Option<String>,
}

fn program(p: Option<ProgramInput>, errors: &mut ValidationErrors) -> Program {
    let Some(p) = p else { return Program::None };
    let pct = |errors: &mut ValidationErrors| match &p.percent {
        Some(n) => errors
            .take(percent("program.percent", n))
            .unwrap_or_default(),
        None => {
            errors.push(FieldError::new(
                "program.percent",
                "is required for this kind of program",
            ));
            Percent::ZERO
        }
    };
    match p.kind.as_str() {
        "none" => Program::None,
        "discount" => Program::Discount {
            percent: pct(errors),
        },
        "cashback" => Program::Cashback {
            percent: pct(errors),
        },
        "points" => Program::Points {
            percent: pct(errors),
            birthday_bonus: money("program.birthday_bonus", p.birthday_bonus, errors),
            registration_bonus: money("program.registration_bonus", p.registration_bonus, errors),
            max_redeem: p
                .max_redeem_percent
                .as_ref()
                .and_then(|n| errors.take(percent("program.max_redeem_percent", n))),
        },
        _ => {
            errors.push(FieldError::new(
                "program.kind",
                "must be none, discount, cashback or points",
            ));
            Program::None
        }
    }
}

/// A group's loyalty program. `percent` for discount, cash-back and points;
/// the bonuses and the redemption cap for points only.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ProgramView {
    /// `none`, `discount`, `cashback` or `points`.
    pub kind: String,
    /// A percentage as a decimal string, e.g. `"2.5"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday_bonus: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_bonus: Option<i64>,
    /// Points programs: the group's own cap on the share payable with points (`null`: the chain's).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub max_redeem_percent: Option<Option<String>>,
}

fn program_view(p: &Program) -> ProgramView {
    let base = |kind: &str, percent: Option<Percent>| ProgramView {
        kind: kind.to_owned(),
        percent: percent.map(|p| p.to_string()),
        birthday_bonus: None,
        registration_bonus: None,
        max_redeem_percent: None,
    };
    match p {
        Program::None => base("none", None),
        Program::Discount { percent } | Program::Cashback { percent } => {
            base(p.kind(), Some(*percent))
        }
        Program::Points {
            percent,
            birthday_bonus,
            registration_bonus,
            max_redeem,
        } => ProgramView {
            birthday_bonus: Some(*birthday_bonus),
            registration_bonus: Some(*registration_bonus),
            max_redeem_percent: Some(max_redeem.map(|m| m.to_string())),
            ..base("points", Some(*percent))
        },
    }
}

/// A points-spend limit: at most `amount` (minor units) per `period`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SpendLimitView {
    pub amount: i64,
    /// `day`, `week`, `month` or `year`.
    pub period: String,
}

/// A customer group with its program, limits and member count.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct GroupView {
    pub id: uuid::Uuid,
    pub name: String,
    pub description: Option<String>,
    /// `manual`, `auto` or `system`.
    pub kind: String,
    /// The rule of an auto group.
    pub rule: Option<String>,
    pub program: ProgramView,
    pub spend_limit: Option<SpendLimitView>,
    pub min_age: Option<u32>,
    pub limit_profile: Option<uuid::Uuid>,
    pub members: u64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct GroupList {
    pub items: Vec<GroupView>,
}

fn group_view(g: &patron_storage::Group) -> GroupView {
    GroupView {
        id: g.id,
        name: g.spec.name.clone(),
        description: g.spec.description.clone(),
        kind: g.spec.kind.as_str().to_owned(),
        rule: g.spec.rule.clone(),
        program: program_view(&g.spec.program),
        spend_limit: g.spec.spend_limit.map(|l| SpendLimitView {
            amount: l.amount,
            period: l.period.as_str().to_owned(),
        }),
        min_age: g.spec.min_age,
        limit_profile: g.spec.limit_profile,
        members: g.members,
        created_at: ts(g.created_at),
        updated_at: ts(g.updated_at),
    }
}

fn group_spec(
    input: GroupInput,
    kind_default: GroupKind,
) -> std::result::Result<GroupSpec, ApiError> {
    let mut errors = ValidationErrors::default();
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError::new("name", "must be 1 to 100 characters"));
    }
    let kind = match input.kind.as_deref() {
        None => kind_default,
        Some("manual") => GroupKind::Manual,
        Some("auto") => GroupKind::Auto,
        Some(_) => {
            errors.push(FieldError::new("kind", "must be manual or auto"));
            kind_default
        }
    };
    let rule = match (kind, input.rule) {
        (GroupKind::Auto, Some(r)) => match Rule::parse(&r) {
            Ok(rule) => Some(rule.source().to_owned()),
            Err(e) => return Err(rule_error(e)),
        },
        (GroupKind::Auto, None) => {
            errors.push(FieldError::new("rule", "an auto-filled group needs a rule"));
            None
        }
        (_, Some(_)) if kind == GroupKind::Manual => {
            errors.push(FieldError::new(
                "rule",
                "only auto-filled groups have a rule",
            ));
            None
        }
        (_, r) => r,
    };
    let program = program(input.program, &mut errors);
    let spend_limit = input.spend_limit.and_then(|l| {
        let amount = money("spend_limit.amount", l.amount, &mut errors);
        match Period::parse(&l.period) {
            Some(period) => Some(SpendLimit { amount, period }),
            None => {
                errors.push(FieldError::new(
                    "spend_limit.period",
                    "must be day, week, month or year",
                ));
                None
            }
        }
    });
    if input
        .description
        .as_deref()
        .is_some_and(|d| d.trim().chars().count() > 1000)
    {
        errors.push(FieldError::new(
            "description",
            "must be at most 1,000 characters",
        ));
    }
    if input.min_age.is_some_and(|a| a > 150) {
        errors.push(FieldError::new("min_age", "must be at most 150"));
    }
    let limit_profile = input
        .limit_profile
        .and_then(|p| errors.take(uuid("limit_profile", &p)));
    errors.into_result()?;
    Ok(GroupSpec {
        name,
        description: input
            .description
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty()),
        kind,
        rule,
        program,
        spend_limit,
        min_age: input.min_age,
        limit_profile,
    })
}

fn rule_error(e: patron_domain::rules::RuleError) -> ApiError {
    ApiError::RuleSyntax {
        message: e.message.clone(),
        position: e.position,
        line: e.line,
        column: e.column,
        expected: e.expected.clone(),
        found: e.found.clone(),
    }
}

async fn today(state: &AppState) -> Result<time::Date> {
    Ok(local_today(&state.storage.loyalty_settings().await?))
}

/// Today in the chain's time zone.
pub fn local_today(s: &LoyaltySettings) -> time::Date {
    let offset = time::UtcOffset::from_whole_seconds(s.utc_offset_minutes * 60)
        .unwrap_or(time::UtcOffset::UTC);
    OffsetDateTime::now_utc().to_offset(offset).date()
}

/// Groups with member counts; filters kind, name, program; sort name|members|created, - for descending.
#[utoipa::path(get, path = "/api/v1/groups", tag = "loyalty", security(("bearer" = [])),
    responses((status = 200, body = GroupList), super::error::ProblemResponses))]
pub async fn list_groups(
    State(state): State<AppState>,
    user: Authed,
    params: std::result::Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<GroupList>> {
    user.require(Permission::CustomersView)?;
    let Query(params) = params.map_err(|e| ApiError::field("query", e.body_text()))?;
    let mut errors = ValidationErrors::default();
    let mut q = GroupQuery::default();
    for (k, v) in &params {
        match k.as_str() {
            "kind" => {
                q.kind = GroupKind::parse(v).or_else(|| {
                    errors.push(FieldError::new(
                        "kind",
                        "must be common, manual, auto or system",
                    ));
                    None
                })
            }
            "name" => q.name = Some(v.clone()),
            "program" => q.program = Some(v.clone()),
            "sort" => {
                let (desc, key) = v
                    .strip_prefix('-')
                    .map_or((false, v.as_str()), |k| (true, k));
                q.descending = desc;
                q.sort = match key {
                    "name" => GroupSort::Name,
                    "members" => GroupSort::Members,
                    "created" => GroupSort::Created,
                    _ => {
                        errors.push(FieldError::new(
                            "sort",
                            "must be name, members or created, optionally with a leading -",
                        ));
                        GroupSort::Name
                    }
                };
            }
            other => errors.push(FieldError::new(other, "is not a parameter of this list")),
        }
    }
    errors.into_result()?;
    let gs = state.storage.groups(&q).await?;
    Ok(Json(GroupList {
        items: gs.iter().map(group_view).collect(),
    }))
}

/// Create a manual or auto-filled group (groups.manage).
#[utoipa::path(post, path = "/api/v1/groups", tag = "loyalty", request_body = GroupInput, security(("bearer" = [])),
    responses((status = 201, body = GroupView), super::error::ProblemResponses))]
pub async fn create_group(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::GroupsManage>,
    ApiJson(input): ApiJson<GroupInput>,
) -> Result<(StatusCode, Json<GroupView>)> {
    super::sync::hq_only(&state)?;
    let spec = group_spec(input, GroupKind::Manual)?;
    let g = state
        .storage
        .save_group(&user.actor(), None, spec, today(&state).await?)
        .await?;
    Ok((StatusCode::CREATED, Json(group_view(&g))))
}

fn group_id(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| ApiError::NotFound)
}

/// One group.
#[utoipa::path(get, path = "/api/v1/groups/{id}", params(("id" = String, Path, description = "The group's id (UUID)")), tag = "loyalty", security(("bearer" = [])),
    responses((status = 200, body = GroupView), super::error::ProblemResponses))]
pub async fn get_group(
    State(state): State<AppState>,
    user: Authed,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<GroupView>> {
    user.require(Permission::CustomersView)?;
    Ok(Json(group_view(
        &state.storage.group(group_id(&id)?).await?,
    )))
}

/// Replace a group (groups.manage).
#[utoipa::path(put, path = "/api/v1/groups/{id}", params(("id" = String, Path, description = "The group's id (UUID)")), tag = "loyalty", request_body = GroupInput, security(("bearer" = [])),
    responses((status = 200, body = GroupView), super::error::ProblemResponses))]
pub async fn update_group(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::GroupsManage>,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<GroupInput>,
) -> Result<Json<GroupView>> {
    super::sync::hq_only(&state)?;
    let id = group_id(&id)?;
    let current = state.storage.group(id).await?;
    let spec = group_spec(input, current.spec.kind)?;
    let g = state
        .storage
        .save_group(&user.actor(), Some(id), spec, today(&state).await?)
        .await?;
    Ok(Json(group_view(&g)))
}

/// A group's members, alphabetical, with cursor pagination.
#[utoipa::path(get, path = "/api/v1/groups/{id}/members", params(("id" = String, Path, description = "The group's id (UUID)")), tag = "loyalty", security(("bearer" = [])),
    responses((status = 200, body = crate::wire::CustomerPage), super::error::ProblemResponses))]
pub async fn group_members(
    State(state): State<AppState>,
    user: Authed,
    ApiPath(id): ApiPath<String>,
    params: std::result::Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<crate::wire::CustomerPage>> {
    user.require(Permission::CustomersView)?;
    let Query(params) = params.map_err(|e| ApiError::field("query", e.body_text()))?;
    let mut errors = ValidationErrors::default();
    let mut q = CustomerQuery {
        limit: super::customers::DEFAULT_PAGE_SIZE,
        ..CustomerQuery::default()
    };
    for (k, v) in &params {
        match k.as_str() {
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=patron_storage::MAX_PAGE_SIZE).contains(&n) => q.limit = n,
                _ => errors.push(FieldError::new(
                    "limit",
                    format!(
                        "must be a whole number from 1 to {}",
                        patron_storage::MAX_PAGE_SIZE
                    ),
                )),
            },
            "cursor" => match Cursor::decode(v) {
                Some(c) => q.cursor = Some(c),
                None => errors.push(FieldError::new(
                    "cursor",
                    "is not a cursor this server issued",
                )),
            },
            "active" => {
                q.active = match v.as_str() {
                    "true" => ActiveFilter::Active,
                    "false" => ActiveFilter::Inactive,
                    "all" => ActiveFilter::All,
                    _ => {
                        errors.push(FieldError::new("active", "must be true, false or all"));
                        ActiveFilter::Active
                    }
                }
            }
            other => errors.push(FieldError::new(other, "is not a parameter of this list")),
        }
    }
    errors.into_result()?;
    let page = state.storage.group_members(group_id(&id)?, &q).await?;
    Ok(Json(crate::wire::CustomerPage {
        items: page.items.iter().map(CustomerView::from).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersInput {
    #[schema(min_items = 1, max_items = 1000)]
    customers: Vec<String>,
    /// add (default) or remove.
    #[schema(pattern = "^(add|remove)$")]
    action: Option<String>,
    /// Bulk endpoint only: the target groups, or `all_manual`.
    groups: Option<Vec<String>>,
    #[serde(default)]
    all_manual: bool,
}

async fn change_members(
    state: &AppState,
    user: &Authed,
    target: MemberTarget,
    input: &MembersInput,
) -> Result<Json<MembersChangedView>> {
    let add = match input.action.as_deref() {
        None | Some("add") => true,
        Some("remove") => false,
        Some(_) => return Err(ApiError::field("action", "must be add or remove")),
    };
    if input.customers.is_empty() {
        return Err(ApiError::field("customers", "name at least one customer"));
    }
    if input.customers.len() > 1000 {
        return Err(ApiError::field(
            "customers",
            "at most 1,000 customers per request",
        ));
    }
    let keys: Vec<CustomerKey> = input
        .customers
        .iter()
        .map(|k| CustomerKey::parse(k))
        .collect();
    let changed = state
        .storage
        .change_members(&user.actor(), &target, &keys, add)
        .await?;
    Ok(Json(MembersChangedView {
        action: if add { "add" } else { "remove" }.to_owned(),
        groups: changed
            .changed
            .iter()
            .map(|(g, n)| GroupChangeView {
                group_id: *g,
                changed: *n,
            })
            .collect(),
    }))
}

/// What a membership change did, per group.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct MembersChangedView {
    /// `add` or `remove`.
    pub action: String,
    pub groups: Vec<GroupChangeView>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct GroupChangeView {
    pub group_id: uuid::Uuid,
    /// Customers whose membership changed (already members, or not, count 0).
    pub changed: u64,
}

/// Add or remove customers of one manual group (groups.manage).
#[utoipa::path(post, path = "/api/v1/groups/{id}/members", params(("id" = String, Path, description = "The group's id (UUID)")), tag = "loyalty", request_body = MembersInput, security(("bearer" = [])),
    responses((status = 200, body = MembersChangedView), super::error::ProblemResponses))]
pub async fn add_members(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::GroupsManage>,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<MembersInput>,
) -> Result<Json<MembersChangedView>> {
    if input.groups.is_some() || input.all_manual {
        return Err(ApiError::field(
            "groups",
            "use /api/v1/groups/members to target several groups",
        ));
    }
    let id = group_id(&id)?;
    state.storage.group(id).await?;
    change_members(&state, &user, MemberTarget::Groups(vec![id]), &input).await
}

/// Add or remove customers of chosen manual groups, or all of them (groups.manage).
#[utoipa::path(post, path = "/api/v1/groups/members", tag = "loyalty", request_body = MembersInput, security(("bearer" = [])),
    responses((status = 200, body = MembersChangedView), super::error::ProblemResponses))]
pub async fn bulk_members(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::GroupsManage>,
    ApiJson(input): ApiJson<MembersInput>,
) -> Result<Json<MembersChangedView>> {
    let target = match (&input.groups, input.all_manual) {
        (Some(_), true) => {
            return Err(ApiError::field(
                "all_manual",
                "give groups or all_manual, not both",
            ));
        }
        (None, false) => {
            return Err(ApiError::field(
                "groups",
                "name the groups, or set all_manual",
            ));
        }
        (None, true) => MemberTarget::AllManual,
        (Some(gs), false) => {
            let mut errors = ValidationErrors::default();
            let ids: Vec<Uuid> = gs
                .iter()
                .enumerate()
                .filter_map(|(i, g)| errors.take(uuid(&format!("groups[{i}]"), g)))
                .collect();
            errors.into_result()?;
            if ids.is_empty() {
                return Err(ApiError::field("groups", "name at least one group"));
            }
            MemberTarget::Groups(ids)
        }
    };
    change_members(&state, &user, target, &input).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulePreviewInput {
    #[schema(min_length = 1, max_length = 4000)]
    rule: String,
    #[schema(maximum = 100)]
    sample: Option<usize>,
}

/// Count and sample the customers a rule matches, without saving; 422 with the position of a syntax error
/// or a rule over the complexity budget, 503 when evaluating it takes longer than the preview's deadline.
#[utoipa::path(post, path = "/api/v1/groups/rule-preview", tag = "loyalty", request_body = RulePreviewInput, security(("bearer" = [])),
    responses((status = 200, body = RulePreviewView),
        (status = 503, description = "Evaluating the rule took longer than the deadline",
            body = super::error::Problem, content_type = "application/problem+json"),
        super::error::ProblemResponses))]
pub async fn rule_preview(
    State(state): State<AppState>,
    _user: Allowed<perm::CustomersView>,
    ApiJson(input): ApiJson<RulePreviewInput>,
) -> Result<Json<RulePreviewView>> {
    let rule = Rule::parse(&input.rule).map_err(rule_error)?;
    let (count, sample) = state
        .storage
        .rule_preview(
            &rule,
            today(&state).await?,
            input.sample.unwrap_or(10).min(100),
        )
        .await?;
    Ok(Json(RulePreviewView {
        count,
        sample: sample.iter().map(CustomerView::from).collect(),
    }))
}

/// How many customers a rule matches today, and a few of them.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RulePreviewView {
    pub count: u64,
    pub sample: Vec<CustomerView>,
}

// --- ledger ---------------------------------------------------------------------

pub fn entry_view(e: &LedgerEntry) -> crate::wire::LedgerEntryView {
    crate::wire::LedgerEntryView {
        id: e.id,
        account: e.account.as_str().to_owned(),
        kind: e.kind.as_str().to_owned(),
        amount: e.amount,
        at: ts(e.at),
        order_id: e.order_id.clone(),
        store: e.store.clone(),
        actor: e.actor.clone(),
        reason: e.reason.clone(),
        available_at: e.available_at.map(ts),
        expires_at: e.expires_at.map(ts),
    }
}

fn balance_view(b: &Balance) -> crate::wire::BalanceView {
    crate::wire::BalanceView {
        balance: b.balance,
        available: b.available,
        locked: b.locked,
        next_expiry: b
            .next_expiry
            .map(|(at, amount)| crate::wire::NextExpiryView { at: ts(at), amount }),
    }
}

pub fn balances_view(b: &Balances) -> crate::wire::BalancesView {
    crate::wire::BalancesView {
        points: balance_view(&b.points),
        credit: balance_view(&b.credit),
    }
}

/// A customer's balances and ledger entries.
#[utoipa::path(get, path = "/api/v1/customers/{key}/ledger", params(("key" = String, Path, description = "A customer id (UUID) or code")), tag = "loyalty", security(("bearer" = [])),
    responses((status = 200, body = crate::wire::LedgerView), super::error::ProblemResponses))]
pub async fn ledger(
    State(state): State<AppState>,
    user: Authed,
    ApiPath(key): ApiPath<String>,
    params: std::result::Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<crate::wire::LedgerView>> {
    user.require(Permission::CustomersView)?;
    let Query(params) = params.map_err(|e| ApiError::field("query", e.body_text()))?;
    let mut account = None;
    for (k, v) in &params {
        match k.as_str() {
            "account" => {
                account = Some(
                    Account::parse(v)
                        .ok_or_else(|| ApiError::field("account", "must be points or credit"))?,
                )
            }
            other => return Err(ApiError::field(other, "is not a parameter of this list")),
        }
    }
    let key = CustomerKey::parse(&key);
    let entries = state.storage.ledger(&key, account).await?;
    let balances = state
        .storage
        .balances(&key, OffsetDateTime::now_utc())
        .await?;
    Ok(Json(crate::wire::LedgerView {
        balances: balances_view(&balances),
        items: entries.iter().map(entry_view).collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryInput {
    #[schema(pattern = "^(points|credit)$")]
    account: String,
    /// adjust or top-up.
    #[schema(pattern = "^(adjust|top-up)$")]
    kind: String,
    #[schema(minimum = -10000000000.0, maximum = 10000000000.0)]
    amount: i64,
    #[schema(min_length = 1, max_length = 500)]
    reason: String,
    #[schema(min_length = 1, max_length = 200)]
    idempotency_key: Option<String>,
}

/// A manual adjustment or store-credit top-up (loyalty.manage).
#[utoipa::path(post, path = "/api/v1/customers/{key}/ledger", params(("key" = String, Path, description = "A customer id (UUID) or code")), tag = "loyalty", request_body = EntryInput, security(("bearer" = [])),
    responses((status = 201, body = crate::wire::LedgerEntryView, description = "The entry, recorded (or the one recorded before under the same idempotency key)"), super::error::ProblemResponses))]
pub async fn post_entry(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::LoyaltyManage>,
    ApiPath(key): ApiPath<String>,
    ApiJson(input): ApiJson<EntryInput>,
) -> Result<(StatusCode, Json<crate::wire::LedgerEntryView>)> {
    let mut errors = ValidationErrors::default();
    let account = Account::parse(&input.account);
    if account.is_none() {
        errors.push(FieldError::new("account", "must be points or credit"));
    }
    let kind = match input.kind.as_str() {
        "adjust" => Some(EntryKind::Adjust),
        "top-up" => Some(EntryKind::TopUp),
        _ => {
            errors.push(FieldError::new("kind", "must be adjust or top-up"));
            None
        }
    };
    errors.into_result()?;
    let (Some(account), Some(kind)) = (account, kind) else {
        return Err(ApiError::Internal("validated entry missing".into()));
    };
    let entry = ManualEntry {
        account,
        kind,
        amount: input.amount,
        reason: input.reason.trim().to_owned(),
        idempotency_key: input.idempotency_key,
    };
    // The same ranges as a store's entry re-applied at HQ.
    patron_storage::validate_manual_entry(&entry)?;
    let e = state
        .storage
        .post_entry(
            &user.actor(),
            &CustomerKey::parse(&key),
            entry,
            OffsetDateTime::now_utc(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(entry_view(&e))))
}

/// Totals, balances, groups, orders, returns and top products of a customer.
#[utoipa::path(get, path = "/api/v1/customers/{key}/activity", params(("key" = String, Path, description = "A customer id (UUID) or code")), tag = "loyalty", security(("bearer" = [])),
    responses((status = 200, body = crate::wire::ActivityView), super::error::ProblemResponses))]
pub async fn activity(
    State(state): State<AppState>,
    user: Authed,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<crate::wire::ActivityView>> {
    user.require(Permission::CustomersView)?;
    let a = state
        .storage
        .customer_activity(&CustomerKey::parse(&key), OffsetDateTime::now_utc())
        .await?;
    Ok(Json(crate::wire::ActivityView::new(
        &a,
        balances_view(&a.balances),
    )))
}

// --- checkout -------------------------------------------------------------------

#[derive(Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    #[schema(min_length = 1, max_length = 100)]
    sku: String,
    #[schema(max_length = 200)]
    name: String,
    #[serde(default)]
    #[schema(max_length = 100)]
    category: String,
    #[schema(value_type = f64, exclusive_minimum = 0, maximum = 1000000)]
    quantity: Number,
    #[serde(default = "default_unit")]
    #[schema(max_length = 20)]
    unit: String,
    #[schema(minimum = 0, maximum = 100000000)]
    unit_price: i64,
}

fn default_unit() -> String {
    "ea".into()
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartInput {
    customer: String,
    #[schema(min_items = 1, max_items = 500)]
    lines: Vec<LineInput>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10000000000.0)]
    redeem_points: i64,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10000000000.0)]
    redeem_credit: i64,
    #[schema(max_length = 16, pattern = "^[A-Za-z0-9_-]*$")]
    store: Option<String>,
}

fn checkout_request(input: &CartInput) -> std::result::Result<CheckoutRequest, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut lines = Vec::new();
    for (i, l) in input.lines.iter().enumerate() {
        if let Some(q) = errors.take(quantity(&format!("lines[{i}].quantity"), &l.quantity)) {
            lines.push(CartLine {
                sku: l.sku.trim().to_owned(),
                name: l.name.trim().to_owned(),
                category: l.category.trim().to_owned(),
                quantity: q,
                unit: l.unit.trim().to_owned(),
                unit_price: l.unit_price,
            });
        }
    }
    let store = match input
        .store
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => errors
            .take(patron_domain::StoreId::parse(s).map_err(|e| FieldError::new("store", e.message)))
            .map(|s| s.as_str().to_owned()),
        None => None,
    };
    let request = CheckoutRequest {
        customer: CustomerKey::parse(&input.customer),
        lines,
        redeem_points: input.redeem_points,
        redeem_credit: input.redeem_credit,
        store,
    };
    // The ranges every cart meets, from a register or a store's operation.
    if input.lines.len() == request.lines.len()
        && let Err(e) = patron_storage::validate_checkout(&request)
    {
        errors.0.extend(e.0);
    }
    errors.into_result()?;
    Ok(request)
}

/// Price a cart for a customer: discounts, tax exemption, redeemable maximum, earnings, refusals.
#[utoipa::path(post, path = "/api/v1/checkout/quote", tag = "loyalty", request_body = CartInput, security(("bearer" = [])),
    responses((status = 200, body = crate::wire::QuoteView), super::error::ProblemResponses))]
pub async fn quote(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::OrdersCreate>,
    ApiJson(input): ApiJson<CartInput>,
) -> Result<Json<crate::wire::QuoteView>> {
    let req = checkout_request(&input)?;
    let out = state.storage.quote(&req, OffsetDateTime::now_utc()).await?;
    Ok(Json(crate::wire::QuoteView::new(
        &out,
        balances_view(&out.balances),
        user.0.role.allows(Permission::LimitsOverride),
    )))
}

#[derive(Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    #[schema(min_length = 1, max_length = 100)]
    id: String,
    customer: String,
    #[schema(min_items = 1, max_items = 500)]
    lines: Vec<LineInput>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10000000000.0)]
    redeem_points: i64,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10000000000.0)]
    redeem_credit: i64,
    #[schema(max_length = 16, pattern = "^[A-Za-z0-9_-]*$")]
    store: Option<String>,
    #[serde(default)]
    override_limits: bool,
}

fn fingerprint(v: &impl serde::Serialize) -> String {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Commit an order (orders.create); 201 the first time, 200 with the same result on a retry, 409 for a different body under a used id.
#[utoipa::path(post, path = "/api/v1/orders", tag = "loyalty", request_body = OrderInput, security(("bearer" = [])),
    responses((status = 201, body = crate::wire::OrderView, description = "The sale, recorded"), (status = 200, body = crate::wire::OrderView, description = "The same sale sent again: recorded once, answered as before"), super::error::ProblemResponses))]
pub async fn commit_order(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::OrdersCreate>,
    ApiJson(input): ApiJson<OrderInput>,
) -> Result<(StatusCode, Json<crate::wire::OrderView>)> {
    let fp = fingerprint(&input);
    let id = input.id.trim().to_owned();
    if id.is_empty() || id.len() > 100 {
        return Err(ApiError::field("id", "must be 1 to 100 characters"));
    }
    if input.override_limits {
        user.require(Permission::LimitsOverride)?;
    }
    let cart = CartInput {
        customer: input.customer,
        lines: input.lines,
        redeem_points: input.redeem_points,
        redeem_credit: input.redeem_credit,
        store: input.store,
    };
    let checkout = checkout_request(&cart)?;
    let authorized = authorize_at_hq(&state, &user, &id, &checkout).await?;
    let result = state
        .storage
        .commit_order(
            &user.actor(),
            OrderRequest {
                id: id.clone(),
                checkout,
                override_limits: input.override_limits,
                from_store: None,
                placed_at: None,
                fingerprint: fp,
            },
            OffsetDateTime::now_utc(),
        )
        .await;
    let (order, replay) = match result {
        Ok(r) => r,
        Err(e) => {
            // HQ recorded the redemption, but the sale failed here: give it back.
            if let (true, Some(sync)) = (authorized, &state.sync) {
                let mut req = patron_sync::ReleaseRequest {
                    order_id: id.clone(),
                    actor: user.0.username.as_str().to_owned(),
                    sig: String::new(),
                };
                if let Some(k) = user.1 {
                    req.sig = patron_storage::ops::sign(
                        &k.0,
                        &patron_sync::release_text(&state.node.id, &req),
                    );
                }
                sync.release(&req).await;
            }
            return Err(e.into());
        }
    };
    let mut view = crate::wire::OrderView::from(&order);
    view.receipt = receipt(&state, order.customer_id, order.at).await;
    Ok((
        if replay {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        Json(view),
    ))
}

/// What the receipt prints about the customer. The sale or return is already
/// recorded: a failure here leaves the receipt part out, it never fails it.
async fn receipt(
    state: &AppState,
    customer: uuid::Uuid,
    at: OffsetDateTime,
) -> Option<crate::wire::ReceiptView> {
    match state.storage.receipt_facts(customer, at).await {
        Ok(f) => Some(crate::wire::ReceiptView::from(&f)),
        Err(e) => {
            tracing::warn!(%customer, error = %e, "receipt facts unavailable");
            None
        }
    }
}

/// On a store node, a redemption is authorised against HQ's balance first, so
/// the same points cannot be spent at two stores. The authorisation is tied to
/// the order id: if HQ's answer is lost or late, the sale goes ahead within the
/// offline cap and meets HQ's record as one redemption when it arrives. When HQ
/// cannot be reached the store decides alone, within the offline cap per
/// customer; any overdraft that results shows up in HQ's overdraft report.
/// Returns whether HQ authorised it.
async fn authorize_at_hq(
    state: &AppState,
    user: &Authed,
    order_id: &str,
    checkout: &CheckoutRequest,
) -> Result<bool> {
    let Some(sync) = &state.sync else {
        return Ok(false);
    };
    if checkout.redeem_points <= 0 && checkout.redeem_credit <= 0 {
        return Ok(false);
    }
    // A retry of a committed order is answered from the order itself.
    if state.storage.order(order_id).await.is_ok() {
        return Ok(false);
    }
    let now = OffsetDateTime::now_utc();
    let quote = state.storage.quote(checkout, now).await?;
    if !quote.quote.errors.is_empty() {
        // The commit refuses it with these errors; HQ need not be asked.
        return Ok(false);
    }
    let mut req = patron_sync::AuthorizeRequest {
        actor: user.0.username.as_str().to_owned(),
        sig: String::new(),
        customer_id: quote.customer_id.to_string(),
        order_id: order_id.to_owned(),
        entries: vec![
            patron_sync::AuthorizeEntry {
                account: "points".into(),
                amount: quote.quote.points_redeemed,
            },
            patron_sync::AuthorizeEntry {
                account: "credit".into(),
                amount: quote.quote.credit_redeemed,
            },
        ]
        .into_iter()
        .filter(|e| e.amount > 0)
        .collect(),
    };
    if let Some(k) = user.1 {
        req.sig =
            patron_storage::ops::sign(&k.0, &patron_sync::authorize_text(&state.node.id, &req));
    }
    match sync.authorize(&req).await {
        patron_sync::AuthorizeOutcome::Authorized => Ok(true),
        patron_sync::AuthorizeOutcome::Refused(field, message) => Err(ApiError::field(
            &field,
            format!("HQ refused the redemption: {message}"),
        )),
        patron_sync::AuthorizeOutcome::Unreachable => {
            let cap = state.storage.loyalty_settings().await?.offline_redeem_cap;
            let since = sync.last_contact().unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let key = CustomerKey::Id(quote.customer_id);
            let already = state.storage.redeemed_since(&key, since).await?;
            let wanted = quote.quote.points_redeemed + quote.quote.credit_redeemed;
            if already + wanted > cap {
                let field = if checkout.redeem_points > 0 {
                    "redeem_points"
                } else {
                    "redeem_credit"
                };
                return Err(ApiError::field(
                    field,
                    format!(
                        "HQ is unreachable: at most {} more may be redeemed for this customer until it is back",
                        (cap - already).max(0)
                    ),
                ));
            }
            tracing::warn!(
                order = order_id,
                wanted,
                "redemption without HQ: within the offline cap"
            );
            Ok(false)
        }
    }
}

/// One order.
#[utoipa::path(get, path = "/api/v1/orders/{id}", params(("id" = String, Path, description = "The order's id, as its client chose it")), tag = "loyalty", security(("bearer" = [])),
    responses((status = 200, body = crate::wire::OrderView), super::error::ProblemResponses))]
pub async fn get_order(
    State(state): State<AppState>,
    user: Authed,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<crate::wire::OrderView>> {
    user.require(Permission::CustomersView)?;
    let order = state.storage.order(&id).await?;
    let mut view = crate::wire::OrderView::from(&order);
    view.receipt = receipt(&state, order.customer_id, order.at).await;
    view.refused = state
        .storage
        .refusals_of(&id)
        .await?
        .iter()
        .map(crate::wire::RefusalView::from)
        .collect();
    Ok(Json(view))
}

#[derive(Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineInput {
    #[schema(maximum = 499)]
    line: usize,
    #[schema(value_type = f64, exclusive_minimum = 0, maximum = 1000000)]
    quantity: Number,
}

#[derive(Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnInput {
    #[schema(min_length = 1, max_length = 100)]
    id: String,
    #[schema(min_items = 1, max_items = 500)]
    lines: Vec<ReturnLineInput>,
}

/// Return some or all lines of an order (orders.refund); idempotent by return id.
#[utoipa::path(post, path = "/api/v1/orders/{id}/returns", params(("id" = String, Path, description = "The order's id, as its client chose it")), tag = "loyalty", request_body = ReturnInput, security(("bearer" = [])),
    responses((status = 201, body = crate::wire::ReturnView, description = "The return, recorded"), (status = 200, body = crate::wire::ReturnView, description = "The same return sent again: recorded once"), super::error::ProblemResponses))]
pub async fn return_order(
    State(state): State<AppState>,
    Allowed(user, _): Allowed<perm::OrdersRefund>,
    ApiPath(order_id): ApiPath<String>,
    ApiJson(input): ApiJson<ReturnInput>,
) -> Result<(StatusCode, Json<crate::wire::ReturnView>)> {
    let fp = fingerprint(&input);
    let id = input.id.trim().to_owned();
    let mut errors = ValidationErrors::default();
    if id.is_empty() || id.len() > 100 {
        errors.push(FieldError::new("id", "must be 1 to 100 characters"));
    }
    let mut lines = Vec::new();
    for (i, l) in input.lines.iter().enumerate() {
        if let Some(q) = errors.take(quantity(&format!("lines[{i}].quantity"), &l.quantity)) {
            lines.push((l.line, q));
        }
    }
    errors.into_result()?;
    let (r, replay) = state
        .storage
        .return_order(
            &user.actor(),
            ReturnRequest {
                id,
                order_id,
                lines,
                fingerprint: fp,
            },
            OffsetDateTime::now_utc(),
        )
        .await?;
    let view = return_view(&state, &r).await;
    Ok((
        if replay {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        Json(view),
    ))
}

async fn return_view(
    state: &AppState,
    r: &patron_storage::ReturnRecord,
) -> crate::wire::ReturnView {
    let mut view = crate::wire::ReturnView::from(r);
    if let Ok(order) = state.storage.order(&r.order_id).await {
        view.receipt = receipt(state, order.customer_id, r.at).await;
    }
    view
}

/// One return, with what its receipt prints.
#[utoipa::path(get, path = "/api/v1/returns/{id}", params(("id" = String, Path, description = "The return's id, as its client chose it")), tag = "loyalty", security(("bearer" = [])),
    responses((status = 200, body = crate::wire::ReturnView), super::error::ProblemResponses))]
pub async fn get_return(
    State(state): State<AppState>,
    user: Authed,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<crate::wire::ReturnView>> {
    user.require(Permission::CustomersView)?;
    let r = state.storage.return_record(&id).await?;
    Ok(Json(return_view(&state, &r).await))
}

/// Run the scheduled loyalty work now (loyalty.manage).
#[utoipa::path(post, path = "/api/v1/loyalty/maintenance", tag = "loyalty", security(("bearer" = [])),
    responses((status = 200, body = MaintenanceView), super::error::ProblemResponses))]
pub async fn run_maintenance(
    State(state): State<AppState>,
    _user: Allowed<perm::LoyaltyManage>,
) -> Result<Json<MaintenanceView>> {
    let r = state
        .storage
        .run_maintenance(OffsetDateTime::now_utc())
        .await?;
    Ok(Json(MaintenanceView {
        birthday_bonuses: r.birthday_bonuses,
        expired_entries: r.expired_entries,
        groups_refreshed: r.groups_refreshed,
        membership_changes: r.membership_changes,
        released_authorisations: r.released_authorisations,
    }))
}

/// What a maintenance run did.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct MaintenanceView {
    pub birthday_bonuses: u64,
    pub expired_entries: u64,
    pub groups_refreshed: u64,
    pub membership_changes: u64,
    /// Authorised redemptions given back because their sale never arrived.
    pub released_authorisations: u64,
}
