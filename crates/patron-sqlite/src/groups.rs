//! Customer groups: the Common group, manual and auto-filled groups, the system
//! groups, membership, and rule evaluation (per customer in Rust, per table in SQL).

use crate::loyalty::{program_from_json, program_to_json};
use crate::{db_err, from_micros, invalid, micros};
use patron_domain::loyalty::{GroupTerms, Period, SpendLimit};
use patron_domain::rules::{Rule, RuleFacts, has_valid_medical_card, utc_date_from_micros};
use patron_storage::{
    CustomerQuery, Group, GroupKind, GroupQuery, GroupSort, GroupSpec, MemberTarget,
    MembershipChange, Result, StorageError,
};
use rusqlite::{Connection, OptionalExtension, params};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

pub const COMMON_ID: &str = "00000000-0000-0000-0000-000000000001";

const GROUP_COLUMNS: &str = "id, name, description, kind, rule, program, spend_limit_amount, \
     spend_limit_period, min_age, limit_profile, created_at, updated_at";

fn parse_uuid(s: &str) -> rusqlite::Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn row_to_group(r: &rusqlite::Row<'_>) -> rusqlite::Result<Group> {
    let kind: String = r.get(3)?;
    let program: String = r.get(5)?;
    let amount: Option<i64> = r.get(6)?;
    let period: Option<String> = r.get(7)?;
    let profile: Option<String> = r.get(9)?;
    Ok(Group {
        id: parse_uuid(&r.get::<_, String>(0)?)?,
        spec: GroupSpec {
            name: r.get(1)?,
            description: r.get(2)?,
            kind: GroupKind::parse(&kind).unwrap_or(GroupKind::Manual),
            rule: r.get(4)?,
            program: program_from_json(&program),
            spend_limit: match (amount, period.as_deref().and_then(Period::parse)) {
                (Some(amount), Some(period)) => Some(SpendLimit { amount, period }),
                _ => None,
            },
            min_age: r.get::<_, Option<u32>>(8)?,
            limit_profile: profile.as_deref().map(parse_uuid).transpose()?,
        },
        members: 0,
        created_at: from_micros(r.get(10)?),
        updated_at: from_micros(r.get(11)?),
    })
}

fn member_count(c: &Connection, g: &Group) -> Result<u64> {
    let n: i64 = if g.spec.kind == GroupKind::Common {
        c.query_row("SELECT count(*) FROM customers WHERE active = 1", [], |r| {
            r.get(0)
        })
    } else {
        c.prepare_cached(
            "SELECT count(*) FROM group_members m JOIN customers c ON c.seq = m.customer_seq
             WHERE m.group_id = ?1 AND c.active = 1",
        )
        .and_then(|mut st| st.query_row([g.id.to_string()], |r| r.get(0)))
    }
    .map_err(db_err)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// A list's group filter as the query needs it: the Common group is everyone
/// (no filter); a group that does not exist is the caller's mistake.
pub fn resolve_filter(c: &Connection, mut q: CustomerQuery) -> Result<CustomerQuery> {
    let Some(id) = q.group else { return Ok(q) };
    let kind: Option<String> = c
        .prepare_cached("SELECT kind FROM groups WHERE id = ?1")
        .map_err(db_err)?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    match kind.as_deref() {
        None => Err(invalid("group", "no such group")),
        Some("common") => {
            q.group = None;
            Ok(q)
        }
        Some(_) => Ok(q),
    }
}

pub fn get(c: &Connection, id: Uuid) -> Result<Group> {
    let mut g = c
        .prepare_cached(&format!("SELECT {GROUP_COLUMNS} FROM groups WHERE id = ?1"))
        .map_err(db_err)?
        .query_row([id.to_string()], row_to_group)
        .optional()
        .map_err(db_err)?
        .ok_or(StorageError::NotFound)?;
    g.members = member_count(c, &g)?;
    Ok(g)
}

pub fn list(c: &Connection, q: &GroupQuery) -> Result<Vec<Group>> {
    let mut st = c
        .prepare_cached(&format!("SELECT {GROUP_COLUMNS} FROM groups"))
        .map_err(db_err)?;
    let rows = st.query_map([], row_to_group).map_err(db_err)?;
    let mut out = Vec::new();
    for g in rows {
        let mut g = g.map_err(db_err)?;
        if q.kind.is_some_and(|k| k != g.spec.kind)
            || q.program
                .as_deref()
                .is_some_and(|p| p != g.spec.program.kind())
            || q.name
                .as_deref()
                .is_some_and(|n| !g.spec.name.to_lowercase().contains(&n.to_lowercase()))
        {
            continue;
        }
        g.members = member_count(c, &g)?;
        out.push(g);
    }
    match q.sort {
        GroupSort::Name => out.sort_by_key(|g| g.spec.name.to_lowercase()),
        GroupSort::Members => out.sort_by_key(|g| (g.members, g.spec.name.to_lowercase())),
        GroupSort::Created => out.sort_by_key(|g| (g.created_at, g.spec.name.to_lowercase())),
    }
    if q.descending {
        out.reverse();
    }
    Ok(out)
}

/// Creates or replaces a group; returns its id and whether it now waits for
/// a fill from its rule (marked in this transaction, see `fill`).
pub fn save(
    c: &Connection,
    id: Option<Uuid>,
    spec: &GroupSpec,
    now: OffsetDateTime,
) -> Result<(Uuid, bool)> {
    let existing = id.map(|id| get(c, id)).transpose()?;
    let mut spec = spec.clone();
    match &existing {
        Some(old) if old.spec.kind == GroupKind::Common || old.spec.kind == GroupKind::System => {
            // Their name, kind and rule are part of the product; the program and
            // limits are the operator's.
            if spec.name != old.spec.name {
                return Err(invalid(
                    "name",
                    "the Common and system groups cannot be renamed",
                ));
            }
            spec.kind = old.spec.kind;
            spec.rule = old.spec.rule.clone();
        }
        Some(old) if old.spec.kind != spec.kind => {
            return Err(invalid("kind", "a group's kind cannot change"));
        }
        _ => {}
    }
    if existing.is_none() && matches!(spec.kind, GroupKind::Common | GroupKind::System) {
        return Err(invalid("kind", "must be manual or auto"));
    }
    if let Some(p) = spec.limit_profile {
        let found: Option<i64> = c
            .query_row(
                "SELECT 1 FROM limit_profiles WHERE id = ?1",
                [p.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        if found.is_none() {
            return Err(invalid("limit_profile", "no such limit profile"));
        }
    }
    let taken: Option<String> = c
        .query_row(
            "SELECT id FROM groups WHERE name = ?1 AND id != ?2",
            params![spec.name, id.map(|i| i.to_string()).unwrap_or_default()],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    if taken.is_some() {
        return Err(StorageError::Conflict {
            field: "name".into(),
            message: "another group has this name".into(),
        });
    }
    let id = id.unwrap_or_else(Uuid::now_v7);
    c.execute(
        "INSERT INTO groups (id, name, description, kind, rule, program, spend_limit_amount,
            spend_limit_period, min_age, limit_profile, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
           rule = excluded.rule, program = excluded.program,
           spend_limit_amount = excluded.spend_limit_amount,
           spend_limit_period = excluded.spend_limit_period, min_age = excluded.min_age,
           limit_profile = excluded.limit_profile, updated_at = excluded.updated_at",
        params![
            id.to_string(),
            spec.name,
            spec.description,
            spec.kind.as_str(),
            spec.rule,
            program_to_json(&spec.program).to_string(),
            spec.spend_limit.map(|l| l.amount),
            spec.spend_limit.map(|l| l.period.as_str()),
            spec.min_age,
            spec.limit_profile.map(|p| p.to_string()),
            micros(now),
        ],
    )
    .map_err(db_err)?;
    crate::sync::mark(c, "group", &id.to_string())?;
    let rule_changed = existing
        .as_ref()
        .is_none_or(|old| old.spec.rule != spec.rule);
    let fill = spec.kind == GroupKind::Auto && rule_changed;
    if fill {
        crate::fill::mark(c, &id.to_string())?;
    }
    Ok((id, fill))
}

/// The parsed rule of an auto or system group.
fn group_rule(rule: Option<&str>) -> Result<Option<Rule>> {
    rule.map(|r| {
        Rule::parse_stored(r)
            .map_err(|e| StorageError::Backend(format!("stored rule does not parse: {e}")))
    })
    .transpose()
}

/// What rules can see of one customer.
pub fn facts(c: &Connection, seq: i64, today: Date) -> Result<RuleFacts> {
    c.prepare_cached(
        "SELECT c.total_spent, c.points_balance, c.visits, c.last_visit, c.created_at,
                c.date_of_birth, c.origin_store, c.address_city, t.name, c.email IS NOT NULL,
                c.medical_card_number IS NOT NULL, c.medical_expiry, c.marketing_consent
         FROM customers c LEFT JOIN customer_types t ON t.id = c.type_id WHERE c.seq = ?1",
    )
    .map_err(db_err)?
    .query_row([seq], |r| {
        let date = |s: Option<String>| {
            s.and_then(|s| {
                Date::parse(
                    &s,
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .ok()
            })
        };
        let medical_expiry = date(r.get(11)?);
        Ok(RuleFacts {
            today,
            total_spent: r.get(0)?,
            points_balance: r.get(1)?,
            visits: r.get(2)?,
            last_visit: date(r.get(3)?),
            created: utc_date_from_micros(r.get(4)?).unwrap_or(today),
            date_of_birth: date(r.get(5)?),
            origin_store: r.get(6)?,
            city: r.get(7)?,
            customer_type: r.get(8)?,
            has_email: r.get(9)?,
            has_medical_card: has_valid_medical_card(r.get(10)?, medical_expiry, today),
            marketing_consent: r.get(12)?,
        })
    })
    .map_err(db_err)
}

/// Re-checks every rule-driven group for one customer, inside the caller's
/// transaction: this is how membership follows edits, orders and returns.
pub fn refresh_customer(c: &Connection, seq: i64, today: Date) -> Result<()> {
    let f = facts(c, seq, today)?;
    let mut st = c
        .prepare_cached("SELECT id, rule FROM groups WHERE kind IN ('auto', 'system')")
        .map_err(db_err)?;
    let rules: Vec<(String, Option<String>)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    for (gid, rule) in rules {
        let member = group_rule(rule.as_deref())?.is_some_and(|r| r.evaluate(&f));
        let sql = if member {
            "INSERT OR IGNORE INTO group_members (group_id, customer_seq) VALUES (?1, ?2)"
        } else {
            "DELETE FROM group_members WHERE group_id = ?1 AND customer_seq = ?2"
        };
        c.prepare_cached(sql)
            .map_err(db_err)?
            .execute(params![gid, seq])
            .map_err(db_err)?;
    }
    Ok(())
}

/// The groups a customer belongs to (Common first), with their checkout terms.
pub fn customer_groups(c: &Connection, seq: i64) -> Result<Vec<(Group, GroupTerms)>> {
    let mut st = c
        .prepare_cached(&format!(
            "SELECT {GROUP_COLUMNS} FROM groups WHERE id = '{COMMON_ID}'
             OR id IN (SELECT group_id FROM group_members WHERE customer_seq = ?1)
             ORDER BY kind != 'common', name"
        ))
        .map_err(db_err)?;
    let rows = st.query_map([seq], row_to_group).map_err(db_err)?;
    let mut out = Vec::new();
    for g in rows {
        let g = g.map_err(db_err)?;
        let terms = GroupTerms {
            id: g.id.to_string(),
            name: g.spec.name.clone(),
            program: g.spec.program.clone(),
            spend_limit: g.spec.spend_limit,
            min_age: g.spec.min_age,
        };
        out.push((g, terms));
    }
    Ok(out)
}

/// The manual groups a membership change targets; any other kind is refused.
pub fn manual_targets(c: &Connection, target: &MemberTarget) -> Result<Vec<Uuid>> {
    Ok(match target {
        MemberTarget::AllManual => {
            let mut st = c
                .prepare_cached("SELECT id FROM groups WHERE kind = 'manual' ORDER BY name")
                .map_err(db_err)?;
            let ids: Vec<String> = st
                .query_map([], |r| r.get(0))
                .map_err(db_err)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db_err)?;
            ids.iter().filter_map(|i| Uuid::parse_str(i).ok()).collect()
        }
        MemberTarget::Groups(ids) => {
            for (i, id) in ids.iter().enumerate() {
                let kind: Option<String> = c
                    .query_row(
                        "SELECT kind FROM groups WHERE id = ?1",
                        [id.to_string()],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db_err)?;
                match kind.as_deref() {
                    None => return Err(invalid(&format!("groups[{i}]"), "no such group")),
                    Some("manual") => {}
                    Some(_) => {
                        return Err(invalid(
                            &format!("groups[{i}]"),
                            "members can be added and removed by hand only in manual groups",
                        ));
                    }
                }
            }
            ids.clone()
        }
    })
}

pub fn change_members(
    c: &Connection,
    target: &MemberTarget,
    customers: &[i64],
    add: bool,
) -> Result<MembershipChange> {
    let groups = manual_targets(c, target)?;
    let mut out = MembershipChange::default();
    for g in groups {
        let mut n = 0u64;
        for seq in customers {
            let sql = if add {
                "INSERT OR IGNORE INTO group_members (group_id, customer_seq) VALUES (?1, ?2)"
            } else {
                "DELETE FROM group_members WHERE group_id = ?1 AND customer_seq = ?2"
            };
            let changed = c
                .prepare_cached(sql)
                .map_err(db_err)?
                .execute(params![g.to_string(), seq])
                .map_err(db_err)? as u64;
            if changed > 0 {
                crate::sync::membership_changed(c, &g.to_string(), *seq, add)?;
            }
            n += changed;
        }
        out.changed.push((g, n));
    }
    Ok(out)
}
