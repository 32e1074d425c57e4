//! `patron bench rules`: what auto-group rules cost.
//!
//! - Re-evaluating ordinary rules over every customer (the scheduler's job).
//! - The worst rules a user can write: how long a preview of each takes, and
//!   how long a small concurrent write waits while an auto group with the
//!   worst of them is saved (the writer is shared by every write of the node).

use crate::bench::{loaded, ms, percentile};
use patron_domain::customer::Field as CustomerField;
use patron_domain::loyalty::Program;
use patron_domain::rules::{Expr, MAX_RULE_CHARS, Rule};
use patron_domain::{CustomerPatch, Patch};
use patron_storage::{Actor, CustomerKey, GroupKind, GroupSpec, Storage};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Conditions in the budget-sized variants of the hostile rules: the most
/// the parser accepts.
const BUDGET_CONDITIONS: usize = patron_domain::rules::MAX_CONDITIONS;

pub async fn run(customers: usize, data: Option<PathBuf>, worst_only: bool) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = data.unwrap_or_else(|| tmp.path().to_path_buf());
    let storage = loaded(&dir, customers).await?;
    if !worst_only {
        refresh(&storage, customers).await?;
    }
    worst(&storage, customers).await
}

fn spec(name: &str, rule: &str) -> GroupSpec {
    GroupSpec {
        name: format!(
            "{name} {}",
            time::OffsetDateTime::now_utc().unix_timestamp_nanos()
        ),
        description: None,
        kind: GroupKind::Auto,
        rule: Some(rule.to_owned()),
        program: Program::None,
        spend_limit: None,
        min_age: None,
        limit_profile: None,
    }
}

async fn refresh(storage: &Arc<dyn Storage>, customers: usize) -> anyhow::Result<()> {
    let today = time::OffsetDateTime::now_utc().date();
    println!(
        "\nre-evaluating one auto group over {customers} customers (steady: median of 5 runs)"
    );
    for (i, rule) in [
        r#"age >= 21 and city in ["Denver", "Boulder", "Austin"]"#,
        "birth_month = 12 or (total_spent >= 500 and visits >= 3)",
        "has_email and marketing_consent and created_days < 400",
    ]
    .iter()
    .enumerate()
    {
        let g = storage
            .save_group(
                &Actor::new("bench"),
                None,
                spec(&format!("Bench rule {i}"), rule),
                today,
            )
            .await?;
        // Steady state: the rule is re-checked and little or nothing changes.
        let mut times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            storage.refresh_group(g.id, today).await?;
            times.push(t.elapsed());
        }
        times.sort();
        // A year later: ages, day counts and card expiries move many members.
        let t = Instant::now();
        let changes = storage
            .refresh_group(g.id, today + time::Duration::days(400))
            .await?;
        let moved = t.elapsed();
        storage.refresh_group(g.id, today).await?;
        let members = storage.group(g.id).await?.members;
        println!(
            "{rule:<60} steady {:>10}  ({members} members); 400 days on {:>10} ({changes} changes)",
            ms(percentile(&times, 0.5)),
            ms(moved)
        );
    }
    Ok(())
}

/// `clause(i)` joined by `sep`, as many as fit in `max_conditions` and the
/// longest rule the parser has ever accepted; and its conditions.
fn chain(pattern: &Hostile, max_conditions: usize) -> (String, usize) {
    let mut out = (pattern.clause)(0);
    let mut conditions = pattern.conditions;
    for i in 1.. {
        let next = (pattern.clause)(i);
        if conditions + pattern.conditions > max_conditions
            || out.chars().count() + pattern.sep.len() + next.chars().count() > MAX_RULE_CHARS
        {
            break;
        }
        out.push_str(pattern.sep);
        out.push_str(&next);
        conditions += pattern.conditions;
    }
    (out, conditions)
}

/// A hostile shape: a long chain of one clause, the fields picked for what
/// their SQL costs per customer.
struct Hostile {
    label: &'static str,
    clause: Box<dyn Fn(usize) -> String>,
    sep: &'static str,
    /// Conditions in one clause.
    conditions: usize,
}

fn hostile() -> Vec<Hostile> {
    let h = |label, clause: Box<dyn Fn(usize) -> String>, conditions| Hostile {
        label,
        clause,
        sep: " or ",
        conditions,
    };
    vec![
        h(
            "type = \"x\" or … (the testers' rule)",
            Box::new(|_| r#"type = "x""#.to_owned()),
            1,
        ),
        h(
            "type = \"tN\" or …",
            Box::new(|i| format!(r#"type = "t{i}""#)),
            1,
        ),
        h(
            "age > N or …",
            Box::new(|i| format!("age > {}", 200 + i)),
            1,
        ),
        h(
            "created_days = N or …",
            Box::new(|i| format!("created_days = {}", 100_000 + i)),
            1,
        ),
        h(
            "city = \"cN\" or …",
            Box::new(|i| format!(r#"city = "c{i}""#)),
            1,
        ),
        h(
            "(type = \"tN\" and age > N) or …",
            Box::new(|i| format!(r#"(type = "t{i}" and age > {})"#, 200 + i)),
            2,
        ),
        h(
            "not (age < N and type != \"tN\") or …",
            Box::new(|i| format!(r#"not (age < {} and type != "t{i}")"#, i)),
            2,
        ),
        h(
            "visits = N or …",
            Box::new(|i| format!("visits = {}", 1_000_000 + i)),
            1,
        ),
    ]
}

/// Leaves of the rule's tree: comparisons, lists and true/false fields.
fn conditions(e: &Expr) -> usize {
    match e {
        Expr::Or(items) | Expr::And(items) => items.iter().map(conditions).sum(),
        Expr::Not(inner) => conditions(inner),
        _ => 1,
    }
}

/// One preview, timed.
async fn preview(
    storage: &Arc<dyn Storage>,
    rule: &Rule,
) -> (Duration, Result<u64, patron_storage::StorageError>) {
    let today = time::OffsetDateTime::now_utc().date();
    let t = Instant::now();
    let out = storage.rule_preview(rule, today, 10).await;
    (t.elapsed(), out.map(|(n, _)| n))
}

async fn worst(storage: &Arc<dyn Storage>, customers: usize) -> anyhow::Result<()> {
    println!(
        "\nthe worst rules: preview over {customers} customers (median of 3 runs, 1 if over 5 s)"
    );
    // Warm-up: the reader's page cache holds the table from here on.
    let warm = Rule::parse("visits >= 0").map_err(|e| anyhow::anyhow!("{e}"))?;
    preview(storage, &warm).await.1?;
    println!(
        "{:<44} {:>6} {:>6} {:>12}  outcome",
        "rule", "chars", "conds", "preview"
    );
    let mut slowest: Option<(Duration, String)> = None;
    for pattern in hostile() {
        for max in [usize::MAX, BUDGET_CONDITIONS] {
            let (text, conds) = chain(&pattern, max);
            let chars = text.chars().count();
            let label = pattern.label;
            let rule = match Rule::parse(&text) {
                Ok(r) => r,
                Err(e) => {
                    println!(
                        "{label:<44} {chars:>6} {conds:>6} {:>12}  refused: {}",
                        "-", e.message
                    );
                    continue;
                }
            };
            debug_assert_eq!(conds, conditions(rule.expr()));
            let mut runs = Vec::new();
            let mut outcome = String::new();
            while runs.len() < 3 {
                let (took, out) = preview(storage, &rule).await;
                runs.push(took);
                outcome = match out {
                    Ok(n) => format!("{n} match"),
                    Err(e) => format!("error: {e}"),
                };
                if took > Duration::from_secs(5) {
                    break;
                }
            }
            runs.sort();
            let took = runs[runs.len() / 2];
            println!(
                "{label:<44} {chars:>6} {conds:>6} {:>12}  {outcome}",
                ms(took)
            );
            if slowest.as_ref().is_none_or(|(d, _)| took > *d) {
                slowest = Some((took, text));
            }
        }
    }
    let Some((_, rule)) = slowest else {
        return Ok(());
    };
    println!("\none writer edits customers, one at a time, while an auto group is saved");
    let idle = probe_writes(storage, customers, None).await?;
    report("edits, nothing else running", &idle);
    save_while_editing(storage, customers, "the slowest rule above", &rule).await?;
    save_while_editing(storage, customers, "everyone joins", "visits >= 0").await
}

/// Saves a new auto group with `rule` while customers are edited one after
/// another, and reports the save's time and the edits' latencies.
async fn save_while_editing(
    storage: &Arc<dyn Storage>,
    customers: usize,
    what: &str,
    rule: &str,
) -> anyhow::Result<()> {
    let today = time::OffsetDateTime::now_utc().date();
    let saving = {
        let storage = storage.clone();
        let rule = rule.to_owned();
        async move {
            let t = Instant::now();
            let out = storage
                .save_group(&Actor::new("bench"), None, spec("Bench save", &rule), today)
                .await;
            (t.elapsed(), out)
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let probe = tokio::spawn({
        let (storage, stop) = (storage.clone(), stop.clone());
        async move { probe_writes(&storage, customers, Some(stop)).await }
    });
    let (took, saved) = saving.await;
    stop.store(true, Ordering::Relaxed);
    let during = probe.await??;
    match saved {
        Ok(g) => println!(
            "{what}: save took {} ({} members, rule of {} characters)",
            ms(took),
            g.members,
            rule.chars().count()
        ),
        Err(e) => println!("{what}: save failed after {}: {e}", ms(took)),
    }
    report("edits while it is saved", &during);
    Ok(())
}

/// One customer edit after another, each timed, until `stop` is set (or 200
/// edits when there is nothing to wait for).
async fn probe_writes(
    storage: &Arc<dyn Storage>,
    customers: usize,
    stop: Option<Arc<AtomicBool>>,
) -> anyhow::Result<Vec<Duration>> {
    let ctx = patron_domain::customer::ParseContext {
        region: storage.settings().await?.phone_region,
        today: time::OffsetDateTime::now_utc().date(),
    };
    let mut times = Vec::new();
    for i in 0usize.. {
        match &stop {
            Some(stop) if stop.load(Ordering::Relaxed) => break,
            None if i >= 200 => break,
            _ => {}
        }
        let key = CustomerKey::Code(format!("CUST-{:05}", 1 + (i * 7919) % customers));
        let patch: CustomerPatch =
            vec![(CustomerField::Notes, Patch::Set(format!("bench probe {i}")))];
        let t = Instant::now();
        storage
            .update_customer(&Actor::new("bench"), &key, patch, ctx)
            .await?;
        times.push(t.elapsed());
        // Let the saving task run on a two-core machine.
        tokio::task::yield_now().await;
    }
    Ok(times)
}

fn report(what: &str, times: &[Duration]) {
    let mut sorted = times.to_vec();
    sorted.sort();
    println!(
        "{what:<32} {:>5} edits; latency p50 {}  p99 {}  max {}",
        sorted.len(),
        ms(percentile(&sorted, 0.5)),
        ms(percentile(&sorted, 0.99)),
        ms(percentile(&sorted, 1.0))
    );
}
