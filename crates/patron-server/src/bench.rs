//! `patron bench`: the SPEC §9 targets, measured on this machine.
//!
//! - `lookups`: loads N generated customers, starts the real server on a loopback
//!   port and times register lookups over HTTP (phone suffix, name prefix, code),
//!   one request at a time as a register makes them. Reports p50/p90/p99/max.
//! - `import`: writes a CSV of N generated customers, then times `patron import`'s
//!   code path on it (parse, validate, one transaction).
//! - `rules`: auto-group rules, ordinary and hostile (`bench_rules.rs`).

use crate::app::Application;
use crate::demo_data::generate;
use anyhow::Context;
use patron_domain::customer::ParseContext;
use patron_domain::{Role, Username};
use patron_sqlite::SqliteStorage;
use patron_storage::{Actor, NewUser, Storage};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// Register lookups over HTTP on loopback.
    Lookups {
        /// Customers to load.
        #[arg(long, default_value_t = 1_000_000)]
        customers: usize,
        /// Lookups per kind.
        #[arg(long, default_value_t = 5_000)]
        queries: usize,
        /// Reuse (or create) this data directory instead of a temporary one.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// CSV import throughput.
    Import {
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
    },
    /// Checkout commits over HTTP on loopback, from many registers at once.
    Checkout {
        /// Customers to load.
        #[arg(long, default_value_t = 100_000)]
        customers: usize,
        /// Orders to commit.
        #[arg(long, default_value_t = 20_000)]
        orders: usize,
        /// Registers sending orders at the same time.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Replication: propagation store→HQ→store, catch-up after an outage, a new
    /// store's bootstrap, and HQ with many live feeds. Nodes run as processes.
    Sync {
        /// Customers at HQ before the first store bootstraps.
        #[arg(long, default_value_t = 1_000_000)]
        customers: usize,
        /// Propagation samples.
        #[arg(long, default_value_t = 300)]
        samples: usize,
        /// Changes made while a store is offline.
        #[arg(long, default_value_t = 10_000)]
        outage_changes: usize,
        /// Simulated stores holding a live feed open at HQ.
        #[arg(long, default_value_t = 500)]
        stores: usize,
        /// HQ's data directory (reused if it already holds the customers).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// The likely-duplicate check of a create, and HQ's duplicates report.
    Duplicates {
        #[arg(long, default_value_t = 1_000_000)]
        customers: usize,
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Every report over HTTP on many customers and a year of history.
    Reports {
        #[arg(long, default_value_t = 1_000_000)]
        customers: usize,
        /// Synthetic orders over the last year.
        #[arg(long, default_value_t = 1_000_000)]
        orders: u64,
        /// Synthetic ledger entries over the last year.
        #[arg(long, default_value_t = 10_000_000)]
        entries: u64,
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Re-evaluating auto groups' rules over every customer; the worst rules'
    /// previews, and a concurrent edit's latency while one is saved.
    Rules {
        #[arg(long, default_value_t = 1_000_000)]
        customers: usize,
        #[arg(long)]
        data: Option<PathBuf>,
        /// Only the worst rules, not the re-evaluation of ordinary ones.
        #[arg(long)]
        worst_only: bool,
    },
}

const SEED: u64 = 7;

pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Lookups {
            customers,
            queries,
            data,
        } => lookups(customers, queries, data).await?,
        What::Import { rows } => import(rows).await?,
        What::Checkout {
            customers,
            orders,
            concurrency,
            data,
        } => checkout(customers, orders, concurrency, data).await?,
        What::Rules {
            customers,
            data,
            worst_only,
        } => crate::bench_rules::run(customers, data, worst_only).await?,
        What::Reports {
            customers,
            orders,
            entries,
            data,
        } => crate::bench_reports::run(customers, orders, entries, data).await?,
        What::Duplicates { customers, data } => {
            crate::bench_duplicates::run(customers, data).await?
        }
        What::Sync {
            customers,
            samples,
            outage_changes,
            stores,
            data,
        } => crate::bench_sync::run(customers, samples, outage_changes, stores, data).await?,
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Opens `dir` and makes sure it holds at least `customers` generated customers.
pub(crate) async fn loaded(
    dir: &std::path::Path,
    customers: usize,
) -> anyhow::Result<Arc<dyn Storage>> {
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(dir)?);
    let have = storage.count_customers().await? as usize;
    if have < customers {
        let ctx = ParseContext {
            region: storage.settings().await?.phone_region,
            today: time::OffsetDateTime::now_utc().date(),
        };
        println!("loading {customers} customers into {} …", dir.display());
        let started = Instant::now();
        let out = storage
            .import_customers(
                &Actor::new("bench"),
                crate::demo::stream(SEED, customers, ctx),
                patron_storage::ImportOptions::default(),
            )
            .await?;
        println!(
            "loaded {} in {:.1} s",
            out.created.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(storage)
}

/// Starts the server on a loopback port with a `bench` user of `role`; returns
/// the API base URL, a client and a token.
pub(crate) async fn serve(
    storage: Arc<dyn Storage>,
    role: Role,
) -> anyhow::Result<(String, reqwest::Client, String)> {
    let password = "bench-password";
    let username = Username::parse("bench").map_err(|e| anyhow::anyhow!("{e}"))?;
    if storage.user_credentials(&username).await?.is_none() {
        let password_hash = crate::auth::hash_password(password)?;
        storage
            .create_user(
                &Actor::new("bench"),
                NewUser {
                    username,
                    role,
                    password_hash,
                    store: None,
                    op_key: None,
                },
            )
            .await?;
    }
    let app = Application::build(storage.clone(), "127.0.0.1:0".parse()?).await?;
    let addr = app.spawn()?;
    let base = format!("http://{addr}/api/v1");
    let client = reqwest::Client::builder().build()?;
    let login: serde_json::Value = client
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({"username": "bench", "password": password}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"]
        .as_str()
        .context("login returned no token")?
        .to_owned();
    Ok((base, client, token))
}

async fn lookups(customers: usize, queries: usize, data: Option<PathBuf>) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = data.unwrap_or_else(|| tmp.path().to_path_buf());
    let storage = loaded(&dir, customers).await?;
    let (base, client, token) = serve(storage, Role::CASHIER).await?;

    // Queries drawn from the generated population, as a cashier would type them.
    let mut rng = SmallRng::seed_from_u64(99);
    let population: Vec<_> = generate(SEED, customers.min(200_000)).collect();
    let mut pick =
        |f: &dyn Fn(&crate::demo_data::GeneratedCustomer) -> Option<String>| -> Vec<String> {
            let mut out = Vec::with_capacity(queries);
            while out.len() < queries {
                let g = &population[rng.random_range(0..population.len())];
                if let Some(q) = f(g) {
                    out.push(q);
                }
            }
            out
        };
    let phone_suffix = pick(&|g| {
        g.phone.as_ref().map(|p| {
            let digits: String = p.chars().filter(char::is_ascii_digit).collect();
            digits[digits.len().saturating_sub(4)..].to_owned()
        })
    });
    let name_prefix = pick(&|g| Some(g.last_name.chars().take(4).collect()));
    let first_last = pick(&|g| {
        Some(format!(
            "{} {}",
            g.first_name,
            g.last_name.chars().take(2).collect::<String>()
        ))
    });
    let codes: Vec<String> = {
        let mut rng = SmallRng::seed_from_u64(5);
        (0..queries)
            .map(|_| format!("CUST-{:05}", rng.random_range(1..=customers)))
            .collect()
    };

    println!(
        "\nregister lookups over HTTP on loopback, {customers} customers, {queries} sequential requests per kind"
    );
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "kind", "p50", "p90", "p99", "max", "hits/q"
    );
    for (kind, qs, by_code) in [
        ("phone last 4 digits", &phone_suffix, false),
        ("last-name prefix (4 chars)", &name_prefix, false),
        ("first name + last initial", &first_last, false),
        ("code (GET /customers/CODE)", &codes, true),
        ("code typed in search", &codes, false),
    ] {
        // Warm-up: the first requests open connections and fault pages in.
        let mut times = Vec::with_capacity(qs.len());
        let mut hits = 0usize;
        for (i, q) in qs.iter().enumerate() {
            let req = if by_code {
                client.get(format!("{base}/customers/{q}"))
            } else {
                client
                    .get(format!("{base}/customers"))
                    .query(&[("q", q.as_str()), ("limit", "20")])
            };
            let started = Instant::now();
            let resp = req.bearer_auth(&token).send().await?;
            let status = resp.status();
            let body = resp.bytes().await?;
            let took = started.elapsed();
            anyhow::ensure!(status.is_success(), "lookup {q:?} failed with {status}");
            if i >= 100.min(qs.len() / 10) {
                times.push(took);
            }
            hits += if by_code {
                1
            } else {
                body.windows(6).filter(|w| w == b"\"code\"").count()
            };
        }
        times.sort();
        println!(
            "{kind:<28} {:>10} {:>10} {:>10} {:>10} {:>8.1}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.9)),
            ms(percentile(&times, 0.99)),
            ms(percentile(&times, 1.0)),
            hits as f64 / qs.len() as f64
        );
    }
    Ok(())
}

async fn import(rows: usize) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let csv_path = tmp.path().join("customers.csv");
    println!("writing {rows} generated rows to {} …", csv_path.display());
    {
        let mut w = csv::Writer::from_path(&csv_path)?;
        w.write_record([
            "First Name",
            "Last Name",
            "Email",
            "Phone",
            "Address",
            "City",
            "State",
            "Zip",
            "Country",
            "DOB",
            "Notes",
        ])?;
        for g in generate(SEED, rows) {
            let o = |v: Option<String>| v.unwrap_or_default();
            w.write_record([
                g.first_name,
                g.last_name,
                o(g.email),
                o(g.phone),
                o(g.address_line1),
                o(g.city),
                o(g.region),
                o(g.postal_code),
                o(g.country),
                o(g.date_of_birth),
                o(g.notes),
            ])?;
        }
        w.flush()?;
    }
    let size = std::fs::metadata(&csv_path)?.len();
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&tmp.path().join("data"))?);
    let started = Instant::now();
    let summary = crate::import::import_file(
        storage.clone(),
        &csv_path,
        &crate::import::ImportOptionsArgs::default(),
        false,
    )
    .await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "imported {} rows ({} rejected) from {:.0} MB in {secs:.2} s: {:.0} rows/s",
        summary.imported(),
        summary.rejected.len(),
        size as f64 / 1e6,
        summary.imported() as f64 / secs
    );
    for (line, why) in summary.rejected.iter().take(3) {
        println!("  rejected line {line}: {why}");
    }
    Ok(())
}

/// Groups a realistic loyalty setup needs: a points program for everyone, a
/// discount tier by spend, and a customer type.
async fn loyalty_setup(storage: &Arc<dyn Storage>) -> anyhow::Result<()> {
    use patron_domain::loyalty::{Percent, Program};
    use patron_storage::{GroupKind, GroupQuery, GroupSpec};
    let existing = storage.groups(&GroupQuery::default()).await?;
    if existing.iter().any(|g| g.spec.name == "Bench points") {
        return Ok(());
    }
    let pct = |s: &str| Percent::parse(s).map_err(|e| anyhow::anyhow!("{e}"));
    let today = time::OffsetDateTime::now_utc().date();
    let group = |name: &str, rule: &str, program| GroupSpec {
        name: name.into(),
        description: None,
        kind: GroupKind::Auto,
        rule: Some(rule.into()),
        program,
        spend_limit: None,
        min_age: None,
        limit_profile: None,
    };
    let actor = Actor::new("bench");
    storage
        .save_group(
            &actor,
            None,
            group(
                "Bench points",
                "visits >= 0",
                Program::Points {
                    percent: pct("2")?,
                    birthday_bonus: 500,
                    registration_bonus: 0,
                    max_redeem: Some(pct("30")?),
                },
            ),
            today,
        )
        .await?;
    storage
        .save_group(
            &actor,
            None,
            group(
                "Bench regulars",
                "total_spent >= 100",
                Program::Discount { percent: pct("5")? },
            ),
            today,
        )
        .await?;
    Ok(())
}

async fn checkout(
    customers: usize,
    orders: usize,
    concurrency: usize,
    data: Option<PathBuf>,
) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = data.unwrap_or_else(|| tmp.path().to_path_buf());
    let storage = loaded(&dir, customers).await?;
    loyalty_setup(&storage).await?;
    let (base, client, token) = serve(storage.clone(), Role::CASHIER).await?;
    let run = time::OffsetDateTime::now_utc().unix_timestamp();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for register in 0..concurrency.max(1) {
        let (client, base, token, next) =
            (client.clone(), base.clone(), token.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = SmallRng::seed_from_u64(register as u64);
            let mut times = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= orders {
                    break;
                }
                let customer = format!("CUST-{:05}", rng.random_range(1..=customers));
                let body = serde_json::json!({
                    "id": format!("bench-{run}-{i}"),
                    "customer": customer,
                    "lines": [
                        {"sku": format!("SKU-{}", rng.random_range(1..500)), "name": "Item", "category": "general",
                         "quantity": rng.random_range(1..4), "unit_price": rng.random_range(100..5_000)},
                        {"sku": "BAG", "name": "Bag", "quantity": 1, "unit_price": 10}
                    ],
                });
                let t = Instant::now();
                let resp = client
                    .post(format!("{base}/orders"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await?;
                let status = resp.status();
                let text = resp.text().await?;
                anyhow::ensure!(status.as_u16() == 201, "order {i} failed with {status}: {text}");
                times.push(t.elapsed());
            }
            anyhow::Ok(times)
        }));
    }
    let mut times = Vec::with_capacity(orders);
    for t in tasks {
        times.extend(t.await??);
    }
    let elapsed = started.elapsed();
    times.sort();
    println!(
        "\ncheckout commits over HTTP on loopback: {orders} orders from {concurrency} registers, {customers} customers"
    );
    println!(
        "{:.0} orders/s; latency p50 {}  p99 {}  max {}",
        orders as f64 / elapsed.as_secs_f64(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(percentile(&times, 1.0))
    );
    Ok(())
}
