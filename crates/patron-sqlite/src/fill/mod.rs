//! Filling a rule-driven group without holding the writer. The rule is
//! evaluated over every customer on a reader connection (one snapshot, bounded
//! in time), and the difference with the group's members is applied in small
//! write transactions, each of which re-checks its customers against the rule
//! as they are at that moment. Every other write waits at most one such step.
//!
//! Why the result is the same as one big transaction's: the group's rule is
//! committed before the snapshot is taken, so a customer written after the
//! snapshot has had their membership set under that rule by
//! `groups::refresh_customer`, which runs with every customer write. A step
//! only touches the customers the snapshot says must join or leave, and
//! decides each from their row as it is in the step's own transaction, so it
//! never undoes a newer answer with an older one. A step that finds the rule
//! changed stops: the save that changed it runs a fill of its own.
//!
//! A group waiting for a fill is marked in `group_fills` by the transaction
//! that made it stale (a rule saved, a group arriving from HQ, a new day for a
//! rule about ages); the fill's last step removes the mark, so a fill cut short
//! (a crash, a timeout) is found and run again by the scheduler.

use crate::rule_sql::{self, CompiledRule};
use crate::{SqliteStorage, bounded, db_err};
use patron_domain::rules::Rule;
use patron_storage::{Result, StorageError};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};
use std::sync::Arc;
use std::time::Instant;
use time::Date;

/// Customers one step re-checks at most: a few milliseconds of the writer's
/// time (`BENCHMARKS.md`), so that is all any other write waits for a fill.
pub(crate) const CHUNK: usize = 2_000;

/// Marks a group as waiting for a fill, in the caller's transaction. Groups
/// without a rule have nothing to fill and are not marked.
pub(crate) fn mark(c: &Connection, group: &str) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO group_fills (group_id, token)
         SELECT id, 1 FROM groups WHERE id = ?1 AND kind IN ('auto', 'system')
         ON CONFLICT (group_id) DO UPDATE SET token = token + 1",
    )
    .and_then(|mut st| st.execute([group]))
    .map_err(db_err)?;
    Ok(())
}

/// Puts customers new in the caller's transaction (every `seq` above
/// `after`) into the rule-driven groups whose rule they match, in that same
/// transaction. For an import, which holds the writer for its whole length
/// anyway: evaluating the rule over the new rows only is cheaper than a fill,
/// and the customers arrive with their groups.
pub(crate) fn add_new_customers(c: &Connection, after: i64, today: Date) -> Result<u64> {
    let groups: Vec<(String, String)> = c
        .prepare(
            "SELECT id, rule FROM groups WHERE kind IN ('auto', 'system') AND rule IS NOT NULL",
        )
        .map_err(db_err)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    let mut added = 0;
    for (group, text) in groups {
        let rule = Rule::parse_stored(&text)
            .map_err(|e| StorageError::Backend(format!("stored rule does not parse: {e}")))?;
        let m = rule_sql::compile(&rule, today).select_matching(
            &["seq"],
            "customers.seq > ?",
            vec![Value::Integer(after)],
        );
        let params = std::iter::once(Value::Text(group)).chain(m.params);
        added += c
            .prepare(&format!(
                "INSERT OR IGNORE INTO group_members (group_id, customer_seq) SELECT ?, seq FROM ({})",
                m.sql
            ))
            .map_err(db_err)?
            .execute(params_from_iter(params))
            .map_err(db_err)?;
    }
    Ok(added as u64)
}

/// What a fill read from its snapshot: who must join and who must leave, as
/// far as the snapshot can tell.
pub(crate) struct Plan {
    group: String,
    /// The rule as stored; a step stops if the group's rule is no longer this.
    rule: String,
    compiled: CompiledRule,
    /// The group's mark when the snapshot was taken, if it had one.
    token: Option<i64>,
    add: Vec<i64>,
    remove: Vec<i64>,
}

impl Plan {
    /// How many steps of at most `size` customers the plan takes.
    pub(crate) fn steps(&self, size: usize) -> usize {
        let size = size.max(1);
        self.add.len().div_ceil(size) + self.remove.len().div_ceil(size)
    }

    /// The customers of step `i`: some who should join, or some who should leave.
    fn step(&self, i: usize, size: usize) -> (&[i64], &[i64]) {
        let size = size.max(1);
        let adds = self.add.len().div_ceil(size);
        if i < adds {
            (window(&self.add, i, size), &[])
        } else {
            (&[], window(&self.remove, i - adds, size))
        }
    }
}

fn window(all: &[i64], j: usize, size: usize) -> &[i64] {
    let start = (j * size).min(all.len());
    let end = (start + size).min(all.len());
    all.get(start..end).unwrap_or(&[])
}

/// Reads a fill's plan on `c` (a reader): the rule, evaluated over every
/// customer, against the current members. `None` when the group has no rule.
pub(crate) fn plan(c: &Connection, group: &str, today: Date) -> Result<Option<Plan>> {
    // One snapshot for the rule, the matches and the members.
    let snapshot = c.unchecked_transaction().map_err(db_err)?;
    let row: Option<(String, Option<String>)> = c
        .query_row(
            "SELECT kind, rule FROM groups WHERE id = ?1",
            [group],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db_err)?;
    let text = match row {
        Some((kind, Some(text))) if matches!(kind.as_str(), "auto" | "system") => text,
        _ => return Ok(None),
    };
    let token: Option<i64> = c
        .query_row(
            "SELECT token FROM group_fills WHERE group_id = ?1",
            [group],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    let rule = Rule::parse_stored(&text)
        .map_err(|e| StorageError::Backend(format!("stored rule does not parse: {e}")))?;
    let compiled = rule_sql::compile(&rule, today);
    let all = compiled.select_matching(&["seq"], "1", Vec::new());
    let mut matches: Vec<i64> = c
        .prepare(&all.sql)
        .map_err(db_err)?
        .query_map(params_from_iter(all.params), |r| r.get(0))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    matches.sort_unstable();
    let members: Vec<i64> = c
        .prepare_cached(
            "SELECT customer_seq FROM group_members WHERE group_id = ?1 ORDER BY customer_seq",
        )
        .map_err(db_err)?
        .query_map([group], |r| r.get(0))
        .map_err(db_err)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db_err)?;
    drop(snapshot);
    let (add, remove) = diff(&matches, &members);
    Ok(Some(Plan {
        group: group.to_owned(),
        rule: text,
        compiled,
        token,
        add,
        remove,
    }))
}

/// Who is in `want` and not in `have`, and the other way round; both sorted.
fn diff(want: &[i64], have: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    let (mut w, mut h) = (want.iter().peekable(), have.iter().peekable());
    loop {
        match (w.peek(), h.peek()) {
            (Some(a), Some(b)) if a < b => add.extend(w.next()),
            (Some(a), Some(b)) if a > b => remove.extend(h.next()),
            (Some(_), Some(_)) => {
                w.next();
                h.next();
            }
            (Some(_), None) => add.extend(w.next()),
            (None, Some(_)) => remove.extend(h.next()),
            (None, None) => return (add, remove),
        }
    }
}

/// Applies step `i` of `plan` in the caller's (write) transaction. `None`
/// when the group's rule changed since the plan was read.
pub(crate) fn apply(c: &Connection, plan: &Plan, i: usize, size: usize) -> Result<Option<u64>> {
    let current: Option<String> = c
        .prepare_cached("SELECT rule FROM groups WHERE id = ?1 AND kind IN ('auto', 'system')")
        .map_err(db_err)?
        .query_row([&plan.group], |r| r.get(0))
        .optional()
        .map_err(db_err)?
        .flatten();
    if current.as_deref() != Some(plan.rule.as_str()) {
        return Ok(None);
    }
    let (add, remove) = plan.step(i, size);
    // The step's customers as they are now, that the rule is true for.
    let matching = |seqs: &[i64]| {
        plan.compiled.select_matching(
            &["seq"],
            "customers.seq IN (SELECT value FROM json_each(?))",
            vec![json_list(seqs)],
        )
    };
    let group = Value::Text(plan.group.clone());
    let mut changed = 0;
    if !add.is_empty() {
        let m = matching(add);
        let params = std::iter::once(group.clone()).chain(m.params);
        changed += c
            .prepare(&format!(
                "INSERT OR IGNORE INTO group_members (group_id, customer_seq) SELECT ?, seq FROM ({})",
                m.sql
            ))
            .map_err(db_err)?
            .execute(params_from_iter(params))
            .map_err(db_err)?;
    }
    if !remove.is_empty() {
        let m = matching(remove);
        let params = [group, json_list(remove)].into_iter().chain(m.params);
        changed += c
            .prepare(&format!(
                "DELETE FROM group_members WHERE group_id = ? \
                 AND customer_seq IN (SELECT value FROM json_each(?)) \
                 AND customer_seq NOT IN ({})",
                m.sql
            ))
            .map_err(db_err)?
            .execute(params_from_iter(params))
            .map_err(db_err)?;
    }
    Ok(Some(changed as u64))
}

/// Removes the group's mark, unless a new reason to fill came up (or the
/// rule changed) while the fill ran.
pub(crate) fn finish(c: &Connection, plan: &Plan) -> Result<()> {
    let Some(token) = plan.token else {
        return Ok(());
    };
    c.prepare_cached(
        "DELETE FROM group_fills WHERE group_id = ?1 AND token = ?2
         AND EXISTS (SELECT 1 FROM groups WHERE id = ?1 AND rule = ?3)",
    )
    .and_then(|mut st| st.execute(rusqlite::params![plan.group, token, plan.rule]))
    .map_err(db_err)?;
    Ok(())
}

fn json_list(seqs: &[i64]) -> Value {
    let items: Vec<String> = seqs.iter().map(i64::to_string).collect();
    Value::Text(format!("[{}]", items.join(",")))
}

impl SqliteStorage {
    /// Fills one group as of `today`; returns how many memberships changed.
    /// The fill runs as a task of its own, so it completes even when the
    /// caller stops waiting (a client that hung up must not leave a group
    /// half-filled).
    pub(crate) async fn fill(&self, group: String, today: Date) -> Result<u64> {
        let this = self.clone();
        tokio::spawn(async move { this.fill_now(group, today).await })
            .await
            .map_err(|e| StorageError::Backend(format!("a group fill stopped: {e}")))?
    }

    async fn fill_now(&self, group: String, today: Date) -> Result<u64> {
        let started = Instant::now();
        let deadline = self.rule_deadlines().fill;
        let g = group.clone();
        let plan = self
            .read(move |c| {
                bounded::run(c, "filling the group", deadline, None, |c| {
                    plan(c, &g, today)
                })
            })
            .await;
        let plan = self.note_stopped(plan).map_err(|e| match e {
            StorageError::TimedOut(m) => StorageError::TimedOut(format!(
                "{m}; the group is saved, and the scheduler fills it in its next run"
            )),
            other => other,
        })?;
        let Some(plan) = plan else {
            return Ok(0);
        };
        let evaluated = started.elapsed();
        let plan = Arc::new(plan);
        let steps = plan.steps(CHUNK);
        let (mut changed, mut held_for) = (0, Vec::with_capacity(steps));
        for i in 0..steps {
            let p = plan.clone();
            let last = i + 1 == steps;
            let (step, held) = self
                .write(move |tx| {
                    let t = Instant::now();
                    let step = apply(tx, &p, i, CHUNK)?;
                    // The last step removes the mark itself: one commit fewer.
                    if last && step.is_some() {
                        finish(tx, &p)?;
                    }
                    Ok((step, t.elapsed()))
                })
                .await?;
            held_for.push(held);
            match step {
                Some(n) => changed += n,
                None => {
                    tracing::debug!(%group, "fill superseded by a newer rule");
                    return Ok(changed);
                }
            }
        }
        if steps == 0 && plan.token.is_some() {
            let p = plan.clone();
            self.write(move |tx| finish(tx, &p)).await?;
        }
        held_for.sort();
        let ms = |i: usize| held_for.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3);
        tracing::debug!(
            %group,
            evaluated_ms = evaluated.as_millis() as u64,
            steps,
            changed,
            median_step_ms = ms(steps / 2),
            longest_step_ms = ms(steps.saturating_sub(1)),
            total_ms = started.elapsed().as_millis() as u64,
            "group filled"
        );
        Ok(changed)
    }

    /// The groups marked as waiting for a fill (that still have a rule).
    pub(crate) async fn pending_fills(&self) -> Result<Vec<String>> {
        self.read(|c| {
            c.prepare(
                "SELECT f.group_id FROM group_fills f JOIN groups g ON g.id = f.group_id
                 WHERE g.kind IN ('auto', 'system') AND g.rule IS NOT NULL ORDER BY f.group_id",
            )
            .map_err(db_err)?
            .query_map([], |r| r.get(0))
            .map_err(db_err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db_err)
        })
        .await
    }

    /// Fills `groups` one after the other. Goes on past a group that fails,
    /// which is logged and stays marked for the next run.
    pub(crate) async fn fill_all(&self, groups: Vec<String>, today: Date) -> Filled {
        let mut filled = Filled::default();
        for g in groups {
            match self.fill(g.clone(), today).await {
                Ok(n) => {
                    filled.groups += 1;
                    filled.changes += n;
                }
                Err(e) => {
                    tracing::warn!(group = %g, error = %e, "filling a group failed; it stays marked for the next run");
                    filled.failed += 1;
                }
            }
        }
        filled
    }

    /// Fills every group marked as waiting.
    pub(crate) async fn fill_pending(&self, today: Date) -> Result<Filled> {
        let pending = self.pending_fills().await?;
        Ok(self.fill_all(pending, today).await)
    }
}

/// What a pass over the waiting groups did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Filled {
    pub groups: u64,
    pub changes: u64,
    /// Groups whose fill failed; they stay marked.
    pub failed: u64,
}

#[cfg(test)]
mod tests;
