//! `patron bench reports`: every report over HTTP on a node with many
//! customers and a year of orders and ledger entries (by default 1,000,000
//! customers, 1,000,000 orders, 10,000,000 entries), and what keeping the day
//! totals costs the writes that feed them.

use crate::bench::{loaded, ms, percentile};
use patron_domain::Role;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub async fn run(
    customers: usize,
    orders: u64,
    entries: u64,
    data: Option<PathBuf>,
) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = data.unwrap_or_else(|| tmp.path().to_path_buf());
    let storage = loaded(&dir, customers).await?;
    let have = storage.liability().await?;
    if have.points == 0 && have.credit == 0 {
        let started = Instant::now();
        let path = dir.clone();
        let (o, e) = tokio::task::spawn_blocking(move || {
            patron_sqlite::bench_support::synthetic_history(&path, orders, entries)
        })
        .await??;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "wrote {o} orders and {e} ledger entries (day totals kept by trigger) in {secs:.1} s: {:.1} µs a row",
            secs * 1e6 / (o + e) as f64
        );
    }
    let t = Instant::now();
    storage
        .run_maintenance(time::OffsetDateTime::now_utc())
        .await?;
    println!(
        "maintenance with the day's group-size snapshot: {}",
        ms(t.elapsed())
    );
    let (base, client, token) = crate::bench::serve(storage, Role::ADMIN).await?;
    for query in [
        "sales",
        "sales?from=2025-12-01",
        "sales?from=2025-12-01&store=S07",
        "sales?from=2025-12-01&format=csv",
        "loyalty",
        "loyalty?from=2025-12-01",
        "signups?from=2025-12-01",
        "groups?from=2025-12-01",
        "top-customers?limit=100",
    ] {
        let mut times: Vec<Duration> = Vec::new();
        let mut bytes = 0;
        for _ in 0..21 {
            let t = Instant::now();
            let r = client
                .get(format!("{base}/reports/{query}"))
                .bearer_auth(&token)
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "{query}: {}", r.status());
            bytes = r.bytes().await?.len();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "GET /reports/{query}: p50 {}, max {} ({bytes} bytes)",
            ms(percentile(&times, 0.5)),
            ms(times[times.len() - 1])
        );
    }
    Ok(())
}
