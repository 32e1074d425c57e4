//! `patron bench`: the SPEC §9 targets, measured on this machine.
//!
//! - `lookups`: loads N generated customers, starts the real server on a loopback
//!   port and times register lookups over HTTP (phone suffix, name prefix, code),
//!   one request at a time as a register makes them. Reports p50/p90/p99/max.
//! - `import`: writes a CSV of N generated customers, then times `patron import`'s
//!   code path on it (parse, validate, one transaction).

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
    }
    Ok(ExitCode::SUCCESS)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

async fn lookups(customers: usize, queries: usize, data: Option<PathBuf>) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = data.unwrap_or_else(|| tmp.path().to_path_buf());
    let storage: Arc<dyn Storage> = Arc::new(SqliteStorage::open(&dir)?);
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
            )
            .await?;
        println!(
            "loaded {} in {:.1} s",
            out.created.len(),
            started.elapsed().as_secs_f64()
        );
    }
    let password = "bench-password";
    let username = Username::parse("bench").map_err(|e| anyhow::anyhow!("{e}"))?;
    if storage.user_credentials(&username).await?.is_none() {
        let password_hash = crate::auth::hash_password(password)?;
        storage
            .create_user(
                &Actor::new("bench"),
                NewUser {
                    username,
                    role: Role::Cashier,
                    password_hash,
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
    let summary = crate::import::import_file(storage.clone(), &csv_path, &[], false, false).await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "imported {} rows ({} rejected) from {:.0} MB in {secs:.2} s: {:.0} rows/s",
        summary.imported,
        summary.rejected.len(),
        size as f64 / 1e6,
        summary.imported as f64 / secs
    );
    Ok(())
}
