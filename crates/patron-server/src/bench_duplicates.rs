//! `patron bench duplicates`: the likely-duplicate check a create makes, and
//! HQ's duplicates report, on a node with many customers. The generated
//! customers share phones and names by chance, as real ones do; a share of
//! them are loaded twice more (same person, other details) so the report has
//! clusters to find.

use crate::bench::{loaded, ms, percentile};
use patron_domain::customer::Field;
use patron_domain::{CustomerDraft, ParseContext};
use patron_storage::{Actor, ImportRow, NewCustomer, Storage};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One customer in this many is re-created as a likely duplicate.
const TWIN_EVERY: usize = 100;

pub async fn run(customers: usize, data: Option<PathBuf>) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = data.unwrap_or_else(|| tmp.path().to_path_buf());
    let storage = loaded(&dir, customers).await?;
    let ctx = ParseContext {
        region: storage.settings().await?.phone_region,
        today: time::OffsetDateTime::now_utc().date(),
    };
    let twins_planted = plant_twins(&storage, ctx).await?;
    println!("planted {twins_planted} likely duplicates");

    // The check every create makes: four index lookups.
    let page = storage
        .list_customers(&patron_storage::CustomerQuery {
            limit: 500,
            ..Default::default()
        })
        .await?;
    let mut times: Vec<Duration> = Vec::with_capacity(page.items.len());
    for c in &page.items {
        let t = Instant::now();
        storage
            .likely_same(&c.data.duplicate_keys(), Some(c.id), 20)
            .await?;
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "likely_same on create: {} lookups, p50 {}, p99 {}",
        times.len(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99))
    );

    let mut runs = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let t = Instant::now();
        last = Some(storage.duplicate_clusters(50, 0).await?);
        runs.push(t.elapsed());
    }
    runs.sort();
    if let Some(r) = last {
        println!(
            "duplicates report over {} customers: {} clusters, {} customers in them; median of 3: {}",
            storage.count_customers().await?,
            r.total_clusters,
            r.total_customers,
            ms(percentile(&runs, 0.5))
        );
    }
    Ok(())
}

/// Every `TWIN_EVERY`th customer again, once with the same phone and once
/// with the same name and date of birth, unless that was done before.
async fn plant_twins(storage: &Arc<dyn Storage>, ctx: ParseContext) -> anyhow::Result<usize> {
    let mut rows = Vec::new();
    let mut cursor = None;
    let mut i = 0usize;
    loop {
        let page = storage
            .list_customers(&patron_storage::CustomerQuery {
                limit: 500,
                cursor: cursor.clone(),
                ..Default::default()
            })
            .await?;
        for c in &page.items {
            i += 1;
            if !i.is_multiple_of(TWIN_EVERY) || c.data.notes.as_deref() == Some("twin") {
                continue;
            }
            for keep in [Field::Phone, Field::DateOfBirth] {
                let mut fields = vec![
                    (Field::FirstName, c.data.first_name.clone()),
                    (Field::LastName, c.data.last_name.clone()),
                    (Field::Notes, "twin".to_owned()),
                ];
                if keep == Field::Phone {
                    fields[0].1 = format!("{} J.", c.data.first_name);
                }
                if let Some(v) = c.data.get(keep) {
                    fields.push((keep, v));
                }
                if let Ok(data) = CustomerDraft::parse(fields, &ctx) {
                    rows.push(data);
                }
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let n = rows.len();
    let stream: patron_storage::ImportStream =
        Box::new(rows.into_iter().enumerate().map(|(i, data)| {
            Ok(ImportRow {
                line: i as u64 + 1,
                opening: Default::default(),
                groups: Vec::new(),
                source_key: None,
                customer: NewCustomer {
                    data,
                    origin_store: None,
                },
            })
        }));
    storage
        .import_customers(
            &Actor::new("bench"),
            stream,
            patron_storage::ImportOptions {
                strict: false,
                ..Default::default()
            },
        )
        .await?;
    Ok(n)
}
