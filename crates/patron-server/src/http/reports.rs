//! Reports (`reports.view`): sales and discounts per store and day; points and
//! store credit issued, redeemed and expired, and what the chain owes its
//! customers; sign-ups per store; group sizes over time; top customers. Each
//! answers as a table (columns, rows, totals) in JSON, or as CSV with
//! `format=csv`, from the day totals the storage keeps as it writes.

use super::error::{ApiError, ProblemResponses, Result};
use super::extract::{Allowed, perm};
use crate::app::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use patron_domain::StoreId;
use patron_storage::{MAX_REPORT_DAYS, ReportRange, loyalty_days, sales_total};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, UtcOffset};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// First day, YYYY-MM-DD (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (default: today, the chain's local day).
    pub to: Option<String>,
    /// One store's id, or HQ; every store when left out.
    pub store: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// Top customers: how many (1–1,000; default 50).
    pub limit: Option<usize>,
}

/// A column of a report: `day`, `text`, `money` (minor units), `points`
/// (hundredths of a point) or `count`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportColumn {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
}

/// One cell of a report: a whole number (minor units, hundredths of a point
/// or a count, as its column's unit says), a text (a day, a store, a name),
/// or nothing where a total makes no sense.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ReportCell {
    Number(i64),
    Text(String),
    Empty,
}

impl From<i64> for ReportCell {
    fn from(v: i64) -> Self {
        Self::Number(v)
    }
}

impl From<String> for ReportCell {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<&str> for ReportCell {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl From<Date> for ReportCell {
    fn from(d: Date) -> Self {
        Self::Text(day_text(d))
    }
}

impl<T: Into<ReportCell>> From<Option<T>> for ReportCell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Empty, Into::into)
    }
}

/// A row of cells from values of different kinds.
macro_rules! cells {
    ($($v:expr),* $(,)?) => { vec![$(ReportCell::from($v)),*] };
}

/// A report as a table, with the figures above it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    pub report: String,
    pub from: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    pub columns: Vec<ReportColumn>,
    /// One array per row, in the columns' order.
    pub rows: Vec<Vec<ReportCell>>,
    /// The range's totals, in the columns' order (`null` where a total makes no sense).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<Vec<ReportCell>>,
    /// Headline figures (the liability, on the loyalty report).
    pub summary: Vec<ReportFigure>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportFigure {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub value: i64,
}

const fn col(key: &'static str, label: &'static str, unit: &'static str) -> ReportColumn {
    ReportColumn { key, label, unit }
}

const DAY: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

fn day_text(d: Date) -> String {
    d.format(DAY).unwrap_or_default()
}

fn parse_day(field: &str, s: &str) -> Result<Date> {
    Date::parse(s.trim(), DAY).map_err(|_| ApiError::field(field, "must be a date, YYYY-MM-DD"))
}

/// The range asked for, checked: real dates, `from` ≤ `to`, at most
/// [`MAX_REPORT_DAYS`] days, a store id that can exist.
async fn range(state: &AppState, p: &ReportParams) -> Result<ReportRange> {
    let to = match &p.to {
        Some(s) => parse_day("to", s)?,
        None => {
            let s = state.storage.loyalty_settings().await?;
            let offset = UtcOffset::from_whole_seconds(s.utc_offset_minutes.saturating_mul(60))
                .unwrap_or(UtcOffset::UTC);
            OffsetDateTime::now_utc().to_offset(offset).date()
        }
    };
    let from = match &p.from {
        Some(s) => parse_day("from", s)?,
        None => to.saturating_sub(time::Duration::days(29)),
    };
    if from > to {
        return Err(ApiError::field("from", "must not be after to"));
    }
    if (to - from).whole_days() >= MAX_REPORT_DAYS {
        return Err(ApiError::field(
            "from",
            format!("a report covers at most {MAX_REPORT_DAYS} days"),
        ));
    }
    let store = match p.store.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) if s.eq_ignore_ascii_case("HQ") => Some("HQ".to_owned()),
        Some(s) => Some(
            StoreId::parse(s)
                .map_err(|_| ApiError::field("store", "is not a store id (or HQ)"))?
                .as_str()
                .to_owned(),
        ),
    };
    // At HQ, which knows every store, a store never registered is a mistake
    // to point out, not an empty report.
    if let Some(id) = &store
        && id != "HQ"
        && state.node.role == patron_storage::NodeRole::Hq
        && !state.storage.stores().await?.iter().any(|s| &s.id == id)
    {
        return Err(ApiError::field(
            "store",
            format!("no store {id} is registered"),
        ));
    }
    Ok(ReportRange { from, to, store })
}

fn csv_wanted(p: &ReportParams) -> Result<bool> {
    match p.format.as_deref() {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(ApiError::field("format", "must be json or csv")),
    }
}

fn answer(view: ReportView, csv: bool) -> Result<Response> {
    if !csv {
        return Ok(axum::Json(view).into_response());
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let cell = |v: &ReportCell, unit: &str| match v {
        ReportCell::Empty => String::new(),
        ReportCell::Number(n) if unit == "money" || unit == "points" => {
            patron_domain::loyalty::money::format_2(*n)
        }
        ReportCell::Number(n) => n.to_string(),
        ReportCell::Text(s) => crate::export::neutralise(s.clone()),
    };
    let write = |w: &mut csv::Writer<Vec<u8>>, row: Vec<String>| {
        w.write_record(row)
            .map_err(|e| ApiError::Internal(e.to_string()))
    };
    write(
        &mut w,
        view.columns.iter().map(|c| c.label.to_owned()).collect(),
    )?;
    for r in view.rows.iter().chain(view.totals.iter()) {
        write(
            &mut w,
            r.iter()
                .zip(&view.columns)
                .map(|(v, c)| cell(v, c.unit))
                .collect(),
        )?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/csv; charset=utf-8".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}-{}-{}.csv\"",
                    view.report, view.from, view.to
                ),
            ),
        ],
        bytes,
    )
        .into_response())
}

fn view(name: &str, r: &ReportRange, columns: Vec<ReportColumn>) -> ReportView {
    ReportView {
        report: name.to_owned(),
        from: day_text(r.from),
        to: day_text(r.to),
        store: r.store.clone(),
        columns,
        rows: Vec::new(),
        totals: None,
        summary: Vec::new(),
    }
}

/// One report by name: `sales`, `loyalty`, `signups`, `groups` or
/// `top-customers`.
#[utoipa::path(get, path = "/api/v1/reports/{name}", tag = "reports", security(("bearer" = [])),
    params(("name" = String, Path, description = "sales, loyalty, signups, groups or top-customers"), ReportParams),
    responses((status = 200, body = ReportView, description = "The report (as text/csv with format=csv)"), ProblemResponses))]
pub async fn report(
    State(state): State<AppState>,
    _user: Allowed<perm::ReportsView>,
    Path(name): Path<String>,
    params: std::result::Result<Query<ReportParams>, QueryRejection>,
) -> Result<Response> {
    let Query(p) = params.map_err(|e| ApiError::field("query", e.body_text()))?;
    let csv = csv_wanted(&p)?;
    let r = range(&state, &p).await?;
    let out = match name.as_str() {
        "sales" => sales(&state, &r).await?,
        "loyalty" => loyalty(&state, &r).await?,
        "signups" => signups(&state, &r).await?,
        "groups" => groups(&state, &r).await?,
        "top-customers" => {
            let limit = p.limit.unwrap_or(50);
            if !(1..=1_000).contains(&limit) {
                return Err(ApiError::field("limit", "must be 1 to 1,000"));
            }
            top_customers(&state, &r, limit).await?
        }
        _ => {
            return Err(ApiError::field(
                "name",
                "is not a report: sales, loyalty, signups, groups or top-customers",
            ));
        }
    };
    answer(out, csv)
}

async fn sales(state: &AppState, r: &ReportRange) -> Result<ReportView> {
    let rows = state.storage.report_sales(r).await?;
    let mut v = view(
        "sales",
        r,
        vec![
            col("day", "Day", "day"),
            col("store", "Store", "text"),
            col("orders", "Orders", "count"),
            col("subtotal", "Subtotal", "money"),
            col("discount", "Discounts", "money"),
            col("total", "Total", "money"),
            col("points_redeemed", "Points redeemed", "points"),
            col("credit_redeemed", "Store credit redeemed", "money"),
            col("earned", "Points earned", "points"),
            col("returns", "Returns", "count"),
            col("returned_net", "Returned", "money"),
        ],
    );
    let line = |s: &patron_storage::SalesDay| {
        // The total row has no day and no store.
        let store = (!s.store.is_empty()).then_some(s.store.as_str());
        cells![
            s.day,
            store,
            s.orders,
            s.subtotal,
            s.discount,
            s.total,
            s.points_redeemed,
            s.credit_redeemed,
            s.earned,
            s.returns,
            s.returned_net,
        ]
    };
    v.totals = Some(line(&sales_total(&rows)));
    v.rows = rows.iter().map(line).collect();
    Ok(v)
}

async fn loyalty(state: &AppState, r: &ReportRange) -> Result<ReportView> {
    let rows = state.storage.report_ledger(r).await?;
    let (days, total) = loyalty_days(&rows);
    let owed = state.storage.liability().await?;
    let mut v = view(
        "loyalty",
        r,
        vec![
            col("day", "Day", "day"),
            col("points_issued", "Points issued", "points"),
            col("points_redeemed", "Points redeemed", "points"),
            col("points_expired", "Points expired", "points"),
            col("points_adjusted", "Points adjusted", "points"),
            col("credit_issued", "Store credit issued", "money"),
            col("credit_redeemed", "Store credit redeemed", "money"),
            col("credit_expired", "Store credit expired", "money"),
            col("credit_adjusted", "Store credit adjusted", "money"),
        ],
    );
    let line = |d: &patron_storage::LoyaltyDay| {
        cells![
            d.day,
            d.points_issued,
            d.points_redeemed,
            d.points_expired,
            d.points_adjusted,
            d.credit_issued,
            d.credit_redeemed,
            d.credit_expired,
            d.credit_adjusted,
        ]
    };
    v.rows = days.iter().map(line).collect();
    v.totals = Some(line(&total));
    v.summary = vec![
        ReportFigure {
            key: "points_outstanding",
            label: "Points outstanding (every balance, now)",
            unit: "points",
            value: owed.points,
        },
        ReportFigure {
            key: "credit_outstanding",
            label: "Store credit outstanding (every balance, now)",
            unit: "money",
            value: owed.credit,
        },
    ];
    Ok(v)
}

async fn signups(state: &AppState, r: &ReportRange) -> Result<ReportView> {
    let rows = state.storage.report_signups(r).await?;
    let mut v = view(
        "signups",
        r,
        vec![
            col("day", "Day", "day"),
            col("store", "Store", "text"),
            col("created", "New customers", "count"),
        ],
    );
    let total: i64 = rows.iter().map(|s| s.created).sum();
    v.rows = rows
        .iter()
        .map(|s| cells![s.day, s.store.as_str(), s.created])
        .collect();
    v.totals = Some(cells![None::<i64>, None::<i64>, total]);
    Ok(v)
}

async fn groups(state: &AppState, r: &ReportRange) -> Result<ReportView> {
    let rows = state.storage.report_group_sizes(r).await?;
    let mut v = view(
        "groups",
        r,
        vec![
            col("day", "Day", "day"),
            col("group", "Group", "text"),
            col("members", "Members", "count"),
        ],
    );
    v.rows = rows
        .iter()
        .map(|g| cells![g.day, g.name.as_str(), g.members])
        .collect();
    Ok(v)
}

async fn top_customers(state: &AppState, r: &ReportRange, limit: usize) -> Result<ReportView> {
    let rows = state.storage.top_customers(limit).await?;
    let mut v = view(
        "top-customers",
        r,
        vec![
            col("code", "Code", "text"),
            col("name", "Name", "text"),
            col("total_spent", "Spent", "money"),
            col("visits", "Visits", "count"),
            col("points_balance", "Points", "points"),
            col("id", "Id", "text"),
        ],
    );
    v.rows = rows
        .iter()
        .map(|c| {
            cells![
                c.code.as_str(),
                c.name.as_str(),
                c.total_spent,
                c.visits,
                c.points_balance,
                c.id.to_string(),
            ]
        })
        .collect();
    Ok(v)
}
