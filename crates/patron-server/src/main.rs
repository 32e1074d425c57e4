//! `patron`: the one binary. Runs a node (`serve`) and the operator's commands.

use patron_server::{DataArgs, app, auth, bench, demo, export, import, open_storage};

use anyhow::Context;
use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use patron_domain::Username;
use patron_domain::auth::check_password_policy;
use patron_server::config::{self, LogFormat};
use patron_storage::{Actor, NewUser};
use std::io::Read;
use std::process::ExitCode;

/// `patron --version`: the release and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("PATRON_GIT_COMMIT"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "patron",
    version = VERSION,
    about = "Shared customer base and loyalty engine for chains of stores"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node: the HTTP API on the embedded SQLite database. Settings come
    /// from patron.toml (--config), the environment and flags, later winning.
    Serve(patron_server::config::ServeArgs),
    /// Check a configuration file and print what `serve` would run with.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Exit 0 when the node at URL answers 200 (for a container's health check).
    Healthcheck {
        /// The address to ask.
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 5)]
        timeout_secs: u64,
    },
    /// Manage the stores HQ serves.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage roles (named sets of permissions).
    Role {
        #[command(subcommand)]
        command: patron_server::cli_accounts::RoleCommand,
    },
    /// Import customers from a CSV file (one transaction; rejected rows go to a file).
    Import(import::ImportArgs),
    /// Export all customers as CSV.
    Export(export::ExportArgs),
    /// Look a node over (database, disk, backlog, certificate, clock to HQ)
    /// without changing it; exit status 1 when something must be fixed.
    Doctor(patron_server::config::ServeArgs),
    /// Copy the node's database to a file while it serves (consistent, checked).
    Backup(patron_server::backup::BackupArgs),
    /// Bring a backup back into a stopped node's data directory, checked first.
    Restore(patron_server::backup::RestoreArgs),
    /// Benchmarks (SPEC §9): register lookups and CSV import at scale.
    Bench(bench::BenchArgs),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the settings (file, environment, flags) and print them with
    /// where each came from; secrets are masked.
    Check(patron_server::config::ServeArgs),
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Register a store at HQ; prints its sync token on the last line.
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// The store's id, e.g. S01.
        id: String,
        #[arg(long)]
        name: String,
    },
    /// List the registered stores.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Issue a new sync token for a store (the old one stops working); prints it on the last line.
    RotateToken {
        #[command(flatten)]
        data: DataArgs,
        id: String,
    },
    /// Revoke a store's sync token: HQ answers nothing it sends until rotated.
    Revoke {
        #[command(flatten)]
        data: DataArgs,
        id: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. Works before the first `serve` and beside a running server.
    Add {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        username: String,
        /// admin, manager or cashier.
        #[arg(long)]
        role: String,
        /// Read the password from standard input (first line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// A store's own user: signs in at that store's node only.
        #[arg(long)]
        store: Option<String>,
    },
    /// List users.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Deactivate a user: they cannot sign in and their sessions end at once.
    Deactivate {
        #[command(flatten)]
        data: DataArgs,
        username: String,
    },
    /// Let a deactivated user sign in again.
    Reactivate {
        #[command(flatten)]
        data: DataArgs,
        username: String,
    },
    /// Set a user's password, read from standard input; their sessions end.
    SetPassword {
        #[command(flatten)]
        data: DataArgs,
        username: String,
        /// Read the password from standard input (first line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Change a user's role or store.
    Set {
        #[command(flatten)]
        data: DataArgs,
        username: String,
        /// A built-in or defined role.
        #[arg(long)]
        role: Option<String>,
        /// Make them a store's own user (signs in at that store only).
        #[arg(long, conflicts_with = "hq")]
        store: Option<String>,
        /// Make them an HQ user (signs in anywhere).
        #[arg(long)]
        hq: bool,
    },
}

/// Logs go to stderr: coloured text on a terminal; one JSON object a line
/// otherwise (a file, journald, a container's log driver), with no colour
/// codes. `serve` takes its format and level from its settings; the other
/// commands from PATRON_LOG_FORMAT and PATRON_LOG_LEVEL (or RUST_LOG).
fn init_tracing(format: LogFormat, level: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let terminal = std::io::stderr().is_terminal();
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !terminal,
    };
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        fmt.json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        fmt.with_ansi(terminal).init();
    }
}

/// The log settings of commands other than `serve`.
fn log_from_env() -> (LogFormat, String) {
    let format = match std::env::var("PATRON_LOG_FORMAT").as_deref() {
        Ok("json") => LogFormat::Json,
        Ok("text") => LogFormat::Text,
        _ => LogFormat::Auto,
    };
    let level = std::env::var("PATRON_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    (format, level)
}

/// One line, and status 1: clap's own status is 2, which `patron import`
/// uses for "some rows were rejected".
fn usage_error(e: clap::Error) -> ExitCode {
    let message = e.render().to_string();
    let lines: Vec<&str> = message
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    eprintln!("{} (see --help)", lines.join(" "));
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return ExitCode::FAILURE;
        }
        Err(e) => return usage_error(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    // `serve` resolves its settings before anything else: they say how to log.
    let settings = match &cli.command {
        Command::Serve(args) => match config::resolve(args, matches.subcommand_matches("serve")) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    let (format, level) = match &settings {
        Some(s) => (s.log_format, s.log_level.clone()),
        None => log_from_env(),
    };
    init_tracing(format, &level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let sources = matches
        .subcommand_matches("config")
        .and_then(|m| m.subcommand_matches("check"))
        .or_else(|| matches.subcommand_matches("doctor"))
        .cloned();
    match runtime.block_on(run(cli, settings, sources)) {
        Ok(code) => code,
        Err(e) => {
            // One line: the error and its causes, no backtrace.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    cli: Cli,
    settings: Option<config::Effective>,
    sources: Option<clap::ArgMatches>,
) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(_) => {
            let settings =
                settings.ok_or_else(|| anyhow::anyhow!("the settings were not resolved"))?;
            serve_node(settings).await
        }
        Command::Config {
            command: ConfigCommand::Check(args),
        } => {
            let settings = config::resolve(&args, sources.as_ref())?;
            settings.check_files()?;
            print!("{}", settings.describe());
            println!("ok");
            Ok(ExitCode::SUCCESS)
        }
        Command::Healthcheck { url, timeout_secs } => healthcheck(&url, timeout_secs).await,
        Command::Doctor(args) => patron_server::doctor::run(args, sources.as_ref()).await,
        Command::Store { command } => match command {
            StoreCommand::Add { data, id, name } => {
                let storage = open_storage(&data)?;
                let id = patron_domain::StoreId::parse(&id).map_err(|e| anyhow::anyhow!("{e}"))?;
                let token = patron_server::http::sync::new_store_token()?;
                let s = storage
                    .register_store(&id, name.trim(), &auth::hash_token(&token))
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("registered store {} ({})", s.id, s.name);
                println!(
                    "run it with: patron serve --data DIR --store {} --hq http://HQ:PORT --token TOKEN",
                    s.id
                );
                println!("{token}");
                Ok(ExitCode::SUCCESS)
            }
            StoreCommand::RotateToken { data, id } => {
                patron_server::cli_accounts::rotate_token(data, &id).await
            }
            StoreCommand::Revoke { data, id } => {
                patron_server::cli_accounts::revoke(data, &id).await
            }
            StoreCommand::List { data } => {
                let storage = open_storage(&data)?;
                for s in storage.stores().await? {
                    println!("{}\t{}", s.id, s.name);
                }
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::User { command } => match command {
            UserCommand::Add {
                data,
                username,
                role,
                password_stdin: _,
                store,
            } => user_add(data, &username, &role, store.as_deref()).await,
            UserCommand::Deactivate { data, username } => {
                patron_server::cli_accounts::set_active(data, &username, false).await
            }
            UserCommand::Reactivate { data, username } => {
                patron_server::cli_accounts::set_active(data, &username, true).await
            }
            UserCommand::SetPassword { data, username, .. } => {
                patron_server::cli_accounts::set_password(data, &username).await
            }
            UserCommand::Set {
                data,
                username,
                role,
                store,
                hq,
            } => {
                patron_server::cli_accounts::set_user(
                    data,
                    &username,
                    role.as_deref(),
                    store.as_deref(),
                    hq,
                )
                .await
            }
            UserCommand::List { data } => {
                let storage = open_storage(&data)?;
                for u in storage.users().await? {
                    println!(
                        "{}\t{}\t{}\t{}",
                        u.username,
                        u.role.name(),
                        if u.active { "active" } else { "inactive" },
                        u.store.as_deref().unwrap_or("HQ")
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Role { command } => patron_server::cli_accounts::role(command).await,
        Command::Import(args) => import::run(args).await,
        Command::Backup(args) => patron_server::backup::backup(args).await,
        Command::Restore(args) => patron_server::backup::restore(args).await,
        Command::Export(args) => export::run(args).await,
        Command::Bench(args) => bench::run(args).await,
    }
}

/// `patron serve` with its settings resolved.
async fn serve_node(settings: config::Effective) -> anyhow::Result<ExitCode> {
    let mailer = settings.mail.mailer()?;
    let tls = match &settings.tls {
        Some((cert, key)) => Some(patron_server::tls::server_config(cert, key)?),
        None => None,
    };
    let data = DataArgs {
        data: settings.data.clone(),
    };
    // Held until the node exits: no second node or restore on this directory.
    let _lock = patron_server::backup::lock_data_dir(&data.data)?;
    // The port answers at once: alive, not ready, while the database opens.
    let starting = patron_server::starting::Starting::bind(
        settings.listen,
        tls.clone(),
        patron_server::serve::Limits::default(),
    )
    .await?;
    starting.doing("opening the database (and upgrading it if this is a new release)");
    let readiness = patron_server::observe::Readiness {
        hq_unreachable_after: std::time::Duration::from_secs(settings.hq_unreachable_secs),
        started: std::time::Instant::now(),
    };
    let node = Node {
        data,
        starting,
        tls,
        mailer,
        readiness,
        max_skew_ms: settings.max_skew_ms,
    };
    match &settings.store {
        Some(store) => {
            let link = store.hq_link()?;
            serve_store(node, &store.id, link).await
        }
        None => serve(node, settings.demo).await,
    }
}

async fn healthcheck(url: &str, timeout_secs: u64) -> anyhow::Result<ExitCode> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(timeout_secs.clamp(1, 300)))
        .build()?;
    let resp = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("{url} did not answer"))?;
    let status = resp.status();
    if status.is_success() {
        println!("{url}: {status}");
        Ok(ExitCode::SUCCESS)
    } else {
        let body = resp.text().await.unwrap_or_default();
        println!("{url}: {status} {}", body.trim());
        Ok(ExitCode::FAILURE)
    }
}

/// What a node of either kind starts with, before its database is open.
struct Node {
    data: DataArgs,
    starting: patron_server::starting::Starting,
    tls: Option<patron_server::tls::TlsConfig>,
    mailer: Option<patron_server::receipts::Mailer>,
    readiness: patron_server::observe::Readiness,
    max_skew_ms: Option<u64>,
}

impl Node {
    /// Opens the node's database off the async threads (a migration may take
    /// minutes; the starting server keeps answering meanwhile), then records
    /// the clock-skew bound when one is set. Opened once, after a new store's
    /// bootstrap: opening it earlier would create an empty file in its place.
    async fn open(&self) -> anyhow::Result<std::sync::Arc<dyn patron_storage::Storage>> {
        let data = self.data.clone();
        let storage = tokio::task::spawn_blocking(move || open_storage(&data)).await??;
        if let Some(ms) = self.max_skew_ms {
            storage
                .set_sync_value("max_skew_ms", &ms.to_string())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(storage)
    }

    /// The full API on the port the starting node has been answering on.
    async fn into_app(
        self,
        storage: std::sync::Arc<dyn patron_storage::Storage>,
        sync: Option<std::sync::Arc<patron_sync::SyncHandle>>,
    ) -> anyhow::Result<app::Application> {
        let listener = self.starting.finish().await?;
        Ok(app::Application::build_on(listener, storage, sync)
            .await?
            .with_tls(self.tls)
            .with_mailer(self.mailer)
            .with_readiness(self.readiness))
    }
}

async fn serve(node: Node, demo: bool) -> anyhow::Result<ExitCode> {
    let storage = node.open().await?;
    let demo_login = if demo {
        node.starting.doing("loading the demo data");
        demo::load(&storage).await?
    } else {
        None
    };
    let data = node.data.data.clone();
    let app = node.into_app(storage, None).await?;
    let addr = app.local_addr()?;
    let scheme = app.scheme();
    println!("Patron HQ node listening on {scheme}://{addr}");
    println!(
        "  API:     {scheme}://{addr}/api/v1  (OpenAPI: {scheme}://{addr}/api/v1/openapi.json)"
    );
    println!("  data:    {}", data.display());
    if let Some((user, password)) = demo_login {
        println!("  demo login: {user} / {password}");
    }
    app.run_until(app::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Downloads HQ's snapshot into a staging directory, makes it this store's
/// (drops what is HQ's alone, records the store and its feed position), and
/// only then moves the finished file into place. A crash at any point leaves
/// either no database (the next start downloads again) or a complete store
/// replica: never HQ's copy half made into a store.
async fn bootstrap_from_snapshot(
    dir: &std::path::Path,
    store: &patron_domain::StoreId,
    link: &patron_sync::HqLink,
) -> anyhow::Result<()> {
    use patron_storage::Storage as _;
    let staging = dir.join("bootstrap");
    patron_server::backup::empty_dir(&staging)?;
    let staged_db = staging.join(patron_sqlite::DB_FILE);
    let started = std::time::Instant::now();
    match patron_sync::download_snapshot(link, &staged_db).await {
        Ok(bytes) => {
            let staged = patron_sqlite::SqliteStorage::open(&staging)
                .map_err(|e| anyhow::anyhow!("opening HQ's snapshot: {e}"))?;
            staged
                .adopt_snapshot(store)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            staged
                .become_store(store)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            staged
                .checkpoint()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            drop(staged);
            std::fs::File::open(&staged_db)?.sync_all()?;
            std::fs::rename(&staged_db, dir.join(patron_sqlite::DB_FILE))?;
            std::fs::File::open(dir)?.sync_all()?;
            let _ = std::fs::remove_dir_all(&staging);
            tracing::info!(
                bytes,
                ms = started.elapsed().as_millis() as u64,
                "started from HQ's snapshot"
            );
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            tracing::warn!(error = %e, "no snapshot from HQ; starting empty and reading its feed")
        }
    }
    Ok(())
}

async fn serve_store(
    node: Node,
    store: &str,
    link: patron_sync::HqLink,
) -> anyhow::Result<ExitCode> {
    let data = node.data.clone();
    let starting = &node.starting;
    let store = patron_domain::StoreId::parse(store).map_err(|e| anyhow::anyhow!("{e}"))?;
    let db = data.data.join(patron_sqlite::DB_FILE);
    if !db.exists() {
        // A new store starts from a copy of HQ's database when HQ is there;
        // otherwise from empty, reading HQ's feed from the start later.
        starting.doing("downloading HQ's snapshot");
        bootstrap_from_snapshot(&data.data, &store, &link).await?;
    } else if data.data.join("bootstrap").exists() {
        // A bootstrap stopped after moving its database into place but before
        // clearing its staging directory: the database is whole, the rest goes.
        let _ = std::fs::remove_dir_all(data.data.join("bootstrap"));
    }
    let storage = node.open().await?;
    storage
        .become_store(&store)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let sync = std::sync::Arc::new(patron_sync::SyncClient::new(storage.clone(), &link).spawn());
    let app = node.into_app(storage, Some(sync)).await?;
    let addr = app.local_addr()?;
    println!(
        "Patron store node {} listening on {}://{addr}",
        store.as_str(),
        app.scheme()
    );
    let hq = link.url();
    println!("  syncing with HQ at {hq}");
    println!("  data:    {}", data.data.display());
    app.run_until(app::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn user_add(
    data: DataArgs,
    username: &str,
    role: &str,
    store: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let username = Username::parse(username).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = store
        .map(patron_domain::StoreId::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut input = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut input)
        .context("cannot read the password from standard input")?;
    let password = input.lines().next().unwrap_or("").to_owned();
    check_password_policy(username.as_str(), &password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let storage = open_storage(&data)?;
    let role = storage
        .role(role)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("there is no role named {role:?}"))?;
    if let Some(s) = &store
        && !storage
            .stores()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .iter()
            .any(|known| known.id == s.as_str())
    {
        anyhow::bail!(
            "store {} is not registered here; register it first with `patron store add`",
            s.as_str()
        );
    }
    let password_hash = auth::hash_password(&password)?;
    let op_key = Some(auth::op_key_hex(username.as_str(), &password));
    let user = storage
        .create_user(
            &Actor::new("cli"),
            NewUser {
                username,
                role,
                password_hash,
                store,
                op_key,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "created user {} with role {}",
        user.username,
        user.role.name()
    );
    Ok(ExitCode::SUCCESS)
}
