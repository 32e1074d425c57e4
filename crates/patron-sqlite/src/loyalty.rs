//! Loyalty configuration: settings, customer types, purchase-limit profiles,
//! and their JSON shapes inside the database.

use crate::{db_err, invalid};
use patron_domain::loyalty::{
    Allowance, Enforcement, LoyaltySettings, Percent, Period, Program, PurchaseLimit, Transition,
    TypeDiscount,
};
use patron_storage::{CustomerType, CustomerTypeSpec, LimitProfile, Result, StorageError};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};
use uuid::Uuid;

const SETTINGS_KEY: &str = "loyalty";

fn pct(v: &Value) -> Option<Percent> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .and_then(|n| Percent::from_bp(n).ok())
}

pub fn settings_to_json(s: &LoyaltySettings) -> Value {
    json!({
        "max_redeem_bp": s.max_redeem.bp(),
        "registration_bonus": s.registration_bonus,
        "transitions_enabled": s.transitions_enabled,
        "transitions": s.transitions.iter().map(|t| json!({"threshold": t.threshold, "group_id": t.group_id})).collect::<Vec<_>>(),
        "points_lifetime_days": s.points_lifetime_days,
        "return_window_days": s.return_window_days,
        "stack_discounts": s.stack_discounts,
        "utc_offset_minutes": s.utc_offset_minutes,
        "offline_redeem_cap": s.offline_redeem_cap,
        "store_topup_daily_cap": s.store_topup_daily_cap,
        "veteran_type": s.veteran_type,
    })
}

fn settings_from_json(v: &Value) -> LoyaltySettings {
    let d = LoyaltySettings::default();
    LoyaltySettings {
        max_redeem: pct(&v["max_redeem_bp"]).unwrap_or(d.max_redeem),
        registration_bonus: v["registration_bonus"].as_i64().unwrap_or(0),
        transitions_enabled: v["transitions_enabled"].as_bool().unwrap_or(false),
        transitions: v["transitions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| {
                        Some(Transition {
                            threshold: t["threshold"].as_i64()?,
                            group_id: t["group_id"].as_str()?.to_owned(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
        points_lifetime_days: v["points_lifetime_days"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok()),
        return_window_days: v["return_window_days"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(d.return_window_days),
        stack_discounts: v["stack_discounts"].as_bool().unwrap_or(false),
        utc_offset_minutes: v["utc_offset_minutes"]
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(0),
        offline_redeem_cap: v["offline_redeem_cap"]
            .as_i64()
            .unwrap_or(d.offline_redeem_cap),
        store_topup_daily_cap: v["store_topup_daily_cap"]
            .as_i64()
            .unwrap_or(d.store_topup_daily_cap),
        veteran_type: v["veteran_type"].as_str().map(str::to_owned),
    }
}

pub fn load_settings(c: &Connection) -> Result<LoyaltySettings> {
    let raw: Option<String> = c
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")
        .map_err(db_err)?
        .query_row([SETTINGS_KEY], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    Ok(raw
        .and_then(|r| serde_json::from_str::<Value>(&r).ok())
        .map(|v| settings_from_json(&v))
        .unwrap_or_default())
}

pub fn save_settings(c: &Connection, s: &LoyaltySettings) -> Result<()> {
    for (i, t) in s.transitions.iter().enumerate() {
        let kind: Option<String> = c
            .query_row(
                "SELECT kind FROM groups WHERE id = ?1",
                [&t.group_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        if kind.as_deref() != Some("manual") {
            return Err(invalid(
                &format!("transitions[{i}].group_id"),
                "must be a manual group",
            ));
        }
    }
    c.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![SETTINGS_KEY, settings_to_json(s).to_string()],
    )
    .map_err(db_err)?;
    crate::sync::mark(c, "setting", SETTINGS_KEY)
}

pub fn program_to_json(p: &Program) -> Value {
    match p {
        Program::None => json!({"kind": "none"}),
        Program::Discount { percent } => json!({"kind": "discount", "percent_bp": percent.bp()}),
        Program::Cashback { percent } => json!({"kind": "cashback", "percent_bp": percent.bp()}),
        Program::Points {
            percent,
            birthday_bonus,
            registration_bonus,
            max_redeem,
        } => json!({
            "kind": "points", "percent_bp": percent.bp(), "birthday_bonus": birthday_bonus,
            "registration_bonus": registration_bonus, "max_redeem_bp": max_redeem.map(Percent::bp),
        }),
    }
}

pub fn program_from_json(s: &str) -> Program {
    let Ok(v) = serde_json::from_str::<Value>(s) else {
        return Program::None;
    };
    let percent = pct(&v["percent_bp"]).unwrap_or(Percent::ZERO);
    match v["kind"].as_str() {
        Some("discount") => Program::Discount { percent },
        Some("cashback") => Program::Cashback { percent },
        Some("points") => Program::Points {
            percent,
            birthday_bonus: v["birthday_bonus"].as_i64().unwrap_or(0),
            registration_bonus: v["registration_bonus"].as_i64().unwrap_or(0),
            max_redeem: pct(&v["max_redeem_bp"]),
        },
        _ => Program::None,
    }
}

fn limits_to_json(limits: &[PurchaseLimit]) -> Value {
    Value::Array(
        limits
            .iter()
            .map(|l| {
                json!({
                    "name": l.name,
                    "period": l.period.as_str(),
                    "enforcement": match l.enforcement { Enforcement::Hard => "hard", Enforcement::Warn => "warn" },
                    "allowances": l.allowances.iter().map(|a| json!({"category": a.category, "unit": a.unit, "max_quantity": a.max_quantity})).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

fn limits_from_json(s: &str) -> Vec<PurchaseLimit> {
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(s) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|l| {
            Some(PurchaseLimit {
                name: l["name"].as_str()?.to_owned(),
                period: Period::parse(l["period"].as_str()?)?,
                enforcement: if l["enforcement"].as_str() == Some("warn") {
                    Enforcement::Warn
                } else {
                    Enforcement::Hard
                },
                allowances: l["allowances"]
                    .as_array()?
                    .iter()
                    .filter_map(|a| {
                        Some(Allowance {
                            category: a["category"].as_str()?.to_owned(),
                            unit: a["unit"].as_str()?.to_owned(),
                            max_quantity: a["max_quantity"].as_i64()?,
                        })
                    })
                    .collect(),
            })
        })
        .collect()
}

pub fn limit_profiles(c: &Connection) -> Result<Vec<LimitProfile>> {
    let mut st = c
        .prepare_cached("SELECT id, name, limits FROM limit_profiles ORDER BY name")
        .map_err(db_err)?;
    let rows = st
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get::<_, String>(2)?))
        })
        .map_err(db_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, limits) = row.map_err(db_err)?;
        out.push(LimitProfile {
            id: Uuid::parse_str(&id).map_err(|e| StorageError::Backend(e.to_string()))?,
            name,
            limits: limits_from_json(&limits),
        });
    }
    Ok(out)
}

pub fn limit_profile(c: &Connection, id: &str) -> Result<Option<LimitProfile>> {
    Ok(limit_profiles(c)?
        .into_iter()
        .find(|p| p.id.to_string() == id))
}

pub fn save_limit_profile(c: &Connection, p: &LimitProfile) -> Result<()> {
    let taken: Option<String> = c
        .query_row(
            "SELECT id FROM limit_profiles WHERE name = ?1 AND id != ?2",
            params![p.name, p.id.to_string()],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    if taken.is_some() {
        return Err(StorageError::Conflict {
            field: "name".into(),
            message: "another limit profile has this name".into(),
        });
    }
    c.execute(
        "INSERT INTO limit_profiles (id, name, limits) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, limits = excluded.limits",
        params![
            p.id.to_string(),
            p.name,
            limits_to_json(&p.limits).to_string()
        ],
    )
    .map_err(db_err)?;
    crate::sync::mark(c, "limit_profile", &p.id.to_string())
}

fn type_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, CustomerTypeSpec)> {
    let kind: String = r.get(3)?;
    let value: i64 = r.get(4)?;
    let discount = match kind.as_str() {
        "percent" => u32::try_from(value)
            .ok()
            .and_then(|v| Percent::from_bp(v).ok())
            .map_or(TypeDiscount::None, TypeDiscount::Percent),
        "fixed" => TypeDiscount::Fixed(value),
        _ => TypeDiscount::None,
    };
    Ok((
        r.get(0)?,
        CustomerTypeSpec {
            name: r.get(1)?,
            tax_exempt: r.get(2)?,
            discount,
        },
    ))
}

pub fn customer_types(c: &Connection) -> Result<Vec<CustomerType>> {
    let mut st = c
        .prepare_cached(
            "SELECT id, name, tax_exempt, discount_kind, discount_value FROM customer_types ORDER BY name",
        )
        .map_err(db_err)?;
    let rows = st.query_map([], type_from_row).map_err(db_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, spec) = row.map_err(db_err)?;
        out.push(CustomerType {
            id: Uuid::parse_str(&id).map_err(|e| StorageError::Backend(e.to_string()))?,
            spec,
        });
    }
    Ok(out)
}

pub fn customer_type(c: &Connection, id: &str) -> Result<Option<CustomerType>> {
    Ok(customer_types(c)?
        .into_iter()
        .find(|t| t.id.to_string() == id))
}

pub fn save_customer_type(c: &Connection, id: Uuid, spec: &CustomerTypeSpec) -> Result<()> {
    let taken: Option<String> = c
        .query_row(
            "SELECT id FROM customer_types WHERE name = ?1 AND id != ?2",
            params![spec.name, id.to_string()],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    if taken.is_some() {
        return Err(StorageError::Conflict {
            field: "name".into(),
            message: "another customer type has this name".into(),
        });
    }
    let (kind, value) = match spec.discount {
        TypeDiscount::None => ("none", 0),
        TypeDiscount::Percent(p) => ("percent", i64::from(p.bp())),
        TypeDiscount::Fixed(a) => ("fixed", a),
    };
    c.execute(
        "INSERT INTO customer_types (id, name, tax_exempt, discount_kind, discount_value)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, tax_exempt = excluded.tax_exempt,
           discount_kind = excluded.discount_kind, discount_value = excluded.discount_value",
        params![id.to_string(), spec.name, spec.tax_exempt, kind, value],
    )
    .map_err(db_err)?;
    crate::sync::mark(c, "customer_type", &id.to_string())
}
