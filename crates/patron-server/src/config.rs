//! What `patron serve` runs with: a TOML file (`--config`, `PATRON_CONFIG`, or
//! `./patron.toml` when present), then environment variables, then flags; each
//! later one wins. `patron config check` resolves the same way and prints the
//! outcome, so what it says is what `serve` would do.

use anyhow::{Context, bail};
use clap::parser::ValueSource;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The file read when neither `--config` nor `PATRON_CONFIG` names one.
pub const DEFAULT_FILE: &str = "patron.toml";

/// `serve`'s flags. None has a clap default: a default would hide whether the
/// file's value should apply, so defaults are filled in [`resolve`].
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ServeArgs {
    /// Configuration file (TOML). Without it, ./patron.toml when present.
    #[arg(long, env = "PATRON_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory holding the node's database [default: patron-data].
    #[arg(long, env = "PATRON_DATA")]
    pub data: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "PATRON_LISTEN")]
    pub listen: Option<String>,
    /// Where the data lives, as a URL; this build keeps it in SQLite under
    /// `--data` and refuses any other.
    #[arg(long, env = "PATRON_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// On an empty database, load 10,000 generated customers and demo users.
    #[arg(long)]
    pub demo: bool,
    /// Run as this store's node (a replica that syncs with `--hq`).
    #[arg(long, env = "PATRON_STORE")]
    pub store: Option<String>,
    /// HQ's base URL, e.g. https://hq.example:8443.
    #[arg(long, env = "PATRON_HQ")]
    pub hq: Option<String>,
    /// The store's sync token, as `patron store add` printed it. Prefer the
    /// environment variable or `--token-file`: a flag shows in `ps`.
    #[arg(
        long,
        env = "PATRON_SYNC_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// A file holding the store's sync token (first line).
    #[arg(long, env = "PATRON_SYNC_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// PEM certificate(s) to trust for HQ besides the public roots.
    #[arg(long, env = "PATRON_HQ_CA")]
    pub hq_ca: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with `--tls-key`).
    #[arg(long, env = "PATRON_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, env = "PATRON_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// How far ahead of this node's clock a peer's stamp may be before it is
    /// bounded (and, at HQ, re-stamped). See docs/sync.md.
    #[arg(long, env = "PATRON_MAX_SKEW_MS")]
    pub max_skew_ms: Option<u64>,
    /// A store stops being ready (`/readyz`) after HQ has been unreachable
    /// this long [default: 120].
    #[arg(long, env = "PATRON_HQ_UNREACHABLE_SECS")]
    pub hq_unreachable_secs: Option<u64>,
    /// Log lines as `json` or `text` [default: json off a terminal].
    #[arg(long, env = "PATRON_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Log level or filter, e.g. `info` or `warn,patron_sync=debug`
    /// [default: info; RUST_LOG also works].
    #[arg(long, env = "PATRON_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Mail server for receipt emails: `smtps://user:pass@host:465` (TLS),
    /// `smtp://host:587?tls=required` (STARTTLS) or `smtp://host:25`.
    #[arg(long, env = "PATRON_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Who receipts come from, e.g. "Main Street Deli <receipts@deli.example>".
    #[arg(long, env = "PATRON_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// Who gets an emailed receipt: `all` with an email, or `consented`
    /// [default: all].
    #[arg(long, env = "PATRON_RECEIPT_EMAIL")]
    pub receipt_email: Option<String>,
}

/// The file's shape. Unknown keys are an error: a misspelt key silently
/// ignored is a setting that silently does not apply.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data: Option<PathBuf>,
    database_url: Option<String>,
    #[serde(default)]
    store: StoreSection,
    #[serde(default)]
    tls: TlsSection,
    #[serde(default)]
    sync: SyncSection,
    #[serde(default)]
    health: HealthSection,
    #[serde(default)]
    log: LogSection,
    #[serde(default)]
    mail: MailSection,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct StoreSection {
    id: Option<String>,
    hq: Option<String>,
    token_file: Option<PathBuf>,
    hq_ca: Option<PathBuf>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct TlsSection {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct SyncSection {
    max_skew_ms: Option<u64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct HealthSection {
    hq_unreachable_secs: Option<u64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct LogSection {
    format: Option<String>,
    level: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct MailSection {
    smtp_url: Option<String>,
    smtp_from: Option<String>,
    receipt_email: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// JSON off a terminal, coloured text on one.
    Auto,
    Text,
    Json,
}

/// Where a setting's value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    Env,
    Flag,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File => "file",
            Source::Env => "environment",
            Source::Flag => "flag",
        }
    }
}

/// A store node's link settings.
#[derive(Clone, Debug)]
pub struct StoreLink {
    pub id: String,
    pub hq: String,
    pub token: String,
    pub hq_ca: Option<PathBuf>,
}

impl StoreLink {
    /// The client this store reaches HQ with: its token, its id, and HQ's CA
    /// file when one is set.
    pub fn hq_link(&self) -> anyhow::Result<patron_sync::HqLink> {
        let ca = self
            .hq_ca
            .as_ref()
            .map(|f| {
                std::fs::read(f).with_context(|| format!("cannot read the CA file {}", f.display()))
            })
            .transpose()?;
        patron_sync::HqLink::new(&self.hq, &self.token, &self.id, ca.as_deref())
            .map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// Everything `serve` runs with, checked.
#[derive(Clone, Debug)]
pub struct Effective {
    pub file: Option<PathBuf>,
    pub listen: SocketAddr,
    pub data: PathBuf,
    pub demo: bool,
    pub store: Option<StoreLink>,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub max_skew_ms: Option<u64>,
    pub hq_unreachable_secs: u64,
    pub log_format: LogFormat,
    pub log_level: String,
    pub mail: crate::MailArgs,
    /// (setting, value as printed, source) for `config check`; secrets masked.
    pub report: Vec<(&'static str, String, Source)>,
}

/// The most a peer's clock may run ahead before its stamps are bounded.
const MAX_SKEW_LIMIT_MS: u64 = 7 * 24 * 3600 * 1000;
/// The longest HQ silence `/readyz` can be told to tolerate (a week).
const MAX_UNREACHABLE_SECS: u64 = 7 * 24 * 3600;

/// Resolves the settings. `sources` are the parsed command line's matches for
/// the `serve` (or `config check`) subcommand, to tell a flag from an
/// environment variable; without them every given value counts as a flag.
pub fn resolve(args: &ServeArgs, sources: Option<&clap::ArgMatches>) -> anyhow::Result<Effective> {
    let (file_path, file) = read_file(args.config.as_deref())?;
    let source_of = |id: &str| match sources.and_then(|m| m.value_source(id)) {
        Some(ValueSource::EnvVariable) => Source::Env,
        _ => Source::Flag,
    };
    let mut report: Vec<(&'static str, String, Source)> = Vec::new();
    // Flag/env first, then the file, then the default.
    let pick = |report: &mut Vec<(&'static str, String, Source)>,
                key: &'static str,
                id: &str,
                given: Option<String>,
                from_file: Option<String>,
                default: Option<&str>,
                secret: bool|
     -> Option<String> {
        let (value, source) = match (given, from_file) {
            (Some(v), _) => (Some(v), source_of(id)),
            (None, Some(v)) => (Some(v), Source::File),
            (None, None) => (default.map(str::to_owned), Source::Default),
        };
        if let Some(v) = &value {
            let shown = if secret { mask(v) } else { v.clone() };
            report.push((key, shown, source));
        }
        value
    };
    let path_str = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());

    let listen = pick(
        &mut report,
        "listen",
        "listen",
        args.listen.clone(),
        file.listen.clone(),
        Some("127.0.0.1:8080"),
        false,
    )
    .unwrap_or_default();
    let listen: SocketAddr = listen
        .parse()
        .map_err(|_| anyhow::anyhow!("listen: {listen:?} is not an address:port"))?;
    let data = PathBuf::from(
        pick(
            &mut report,
            "data",
            "data",
            path_str(&args.data),
            path_str(&file.data),
            Some("patron-data"),
            false,
        )
        .unwrap_or_default(),
    );
    if let Some(url) = pick(
        &mut report,
        "database_url",
        "database_url",
        args.database_url.clone(),
        file.database_url.clone(),
        None,
        true,
    ) {
        check_database_url(&url, &data)?;
    }
    let store_id = pick(
        &mut report,
        "store.id",
        "store",
        args.store.clone(),
        file.store.id.clone(),
        None,
        false,
    );
    let hq = pick(
        &mut report,
        "store.hq",
        "hq",
        args.hq.clone(),
        file.store.hq.clone(),
        None,
        false,
    );
    let token_file = pick(
        &mut report,
        "store.token_file",
        "token_file",
        path_str(&args.token_file),
        path_str(&file.store.token_file),
        None,
        false,
    );
    let hq_ca = pick(
        &mut report,
        "store.hq_ca",
        "hq_ca",
        path_str(&args.hq_ca),
        path_str(&file.store.hq_ca),
        None,
        false,
    );
    if let Some(t) = &args.token {
        report.push(("store.token", mask(t), source_of("token")));
    }
    let store = match (store_id, hq) {
        (Some(id), Some(hq)) => {
            patron_domain::StoreId::parse(&id).map_err(|e| anyhow::anyhow!("store.id: {e}"))?;
            let token = sync_token(args.token.clone(), token_file.as_deref().map(Path::new))?;
            Some(StoreLink {
                id,
                hq,
                token,
                hq_ca: hq_ca.map(PathBuf::from),
            })
        }
        (Some(_), None) => bail!("store.id is set but store.hq (HQ's URL) is not"),
        (None, Some(_)) => bail!("store.hq is set but store.id (this store's id) is not"),
        (None, None) => {
            if token_file.is_some() || args.token.is_some() {
                bail!("a sync token is given but store.id and store.hq are not");
            }
            None
        }
    };
    let cert = pick(
        &mut report,
        "tls.cert",
        "tls_cert",
        path_str(&args.tls_cert),
        path_str(&file.tls.cert),
        None,
        false,
    );
    let key = pick(
        &mut report,
        "tls.key",
        "tls_key",
        path_str(&args.tls_key),
        path_str(&file.tls.key),
        None,
        false,
    );
    let tls = match (cert, key) {
        (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
        (None, None) => None,
        _ => bail!("tls.cert and tls.key go together: set both or neither"),
    };
    let max_skew_ms = pick(
        &mut report,
        "sync.max_skew_ms",
        "max_skew_ms",
        args.max_skew_ms.map(|v| v.to_string()),
        file.sync.max_skew_ms.map(|v| v.to_string()),
        None,
        false,
    )
    .map(|v| number("sync.max_skew_ms", &v, 1, MAX_SKEW_LIMIT_MS))
    .transpose()?;
    let hq_unreachable_secs = pick(
        &mut report,
        "health.hq_unreachable_secs",
        "hq_unreachable_secs",
        args.hq_unreachable_secs.map(|v| v.to_string()),
        file.health.hq_unreachable_secs.map(|v| v.to_string()),
        Some("120"),
        false,
    )
    .map(|v| number("health.hq_unreachable_secs", &v, 1, MAX_UNREACHABLE_SECS))
    .transpose()?
    .unwrap_or(120);
    let log_format = match pick(
        &mut report,
        "log.format",
        "log_format",
        args.log_format.clone(),
        file.log.format.clone(),
        Some("auto"),
        false,
    )
    .as_deref()
    {
        Some("json") => LogFormat::Json,
        Some("text") => LogFormat::Text,
        Some("auto") | None => LogFormat::Auto,
        Some(other) => bail!("log.format: {other:?} is not json, text or auto"),
    };
    // RUST_LOG, the ecosystem's own variable, counts as PATRON_LOG_LEVEL.
    let rust_log = std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty());
    let log_level = match (&args.log_level, rust_log) {
        (None, Some(level)) => {
            report.push(("log.level", level.clone(), Source::Env));
            level
        }
        _ => pick(
            &mut report,
            "log.level",
            "log_level",
            args.log_level.clone(),
            file.log.level.clone(),
            Some("info"),
            false,
        )
        .unwrap_or_else(|| "info".to_owned()),
    };
    tracing_subscriber::EnvFilter::try_new(&log_level)
        .map_err(|e| anyhow::anyhow!("log.level: {log_level:?} is not a log filter: {e}"))?;
    let smtp_url = pick(
        &mut report,
        "mail.smtp_url",
        "smtp_url",
        args.smtp_url.clone(),
        file.mail.smtp_url.clone(),
        None,
        true,
    );
    let smtp_from = pick(
        &mut report,
        "mail.smtp_from",
        "smtp_from",
        args.smtp_from.clone(),
        file.mail.smtp_from.clone(),
        None,
        false,
    );
    let receipt_email = pick(
        &mut report,
        "mail.receipt_email",
        "receipt_email",
        args.receipt_email.clone(),
        file.mail.receipt_email.clone(),
        Some("all"),
        false,
    )
    .unwrap_or_else(|| "all".to_owned());
    if patron_storage::ReceiptMail::parse(&receipt_email).is_none() {
        bail!("mail.receipt_email: {receipt_email:?} is not all or consented");
    }
    if smtp_url.is_some() != smtp_from.is_some() {
        bail!("mail.smtp_url and mail.smtp_from go together: set both or neither");
    }
    let mail = crate::MailArgs {
        smtp_url,
        smtp_from,
        receipt_email,
    };
    Ok(Effective {
        file: file_path,
        listen,
        data,
        demo: args.demo,
        store,
        tls,
        max_skew_ms,
        hq_unreachable_secs,
        log_format,
        log_level,
        mail,
        report,
    })
}

impl Effective {
    /// Checks what can be checked without starting: the TLS pair loads, HQ's
    /// URL and CA file and the mail server URL parse.
    pub fn check_files(&self) -> anyhow::Result<()> {
        if let Some((cert, key)) = &self.tls {
            crate::tls::server_config(cert, key)?;
        }
        if let Some(store) = &self.store {
            store.hq_link()?;
        }
        self.mail.mailer()?;
        Ok(())
    }

    /// What `patron config check` prints.
    pub fn describe(&self) -> String {
        let mut out = match &self.file {
            Some(f) => format!("configuration file: {}\n", f.display()),
            None => "configuration file: none\n".to_owned(),
        };
        out.push_str(&format!(
            "node: {}\n",
            match &self.store {
                Some(s) => format!("store {} syncing with {}", s.id, s.hq),
                None => "HQ".to_owned(),
            }
        ));
        let width = self.report.iter().map(|(k, ..)| k.len()).max().unwrap_or(0);
        for (key, value, source) in &self.report {
            out.push_str(&format!("{key:width$} = {value}  ({})\n", source.label()));
        }
        out
    }
}

fn read_file(explicit: Option<&Path>) -> anyhow::Result<(Option<PathBuf>, FileConfig)> {
    let path = match explicit {
        Some(p) => p.to_owned(),
        None if Path::new(DEFAULT_FILE).is_file() => PathBuf::from(DEFAULT_FILE),
        None => return Ok((None, FileConfig::default())),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    let file: FileConfig = toml::from_str(&text).map_err(|e| {
        // toml's message spans lines (a caret under the spot): one line here.
        // The line itself is quoted: it names the key the value belongs to.
        let message = e.message().trim().to_owned();
        let at = e.span().map(|s| {
            let start = s.start.min(text.len());
            let number = text[..start].matches('\n').count() + 1;
            let line = text.lines().nth(number - 1).unwrap_or("").trim();
            (number, line.chars().take(80).collect::<String>())
        });
        match at {
            Some((n, line)) if !line.is_empty() => {
                anyhow::anyhow!("{}, line {n} ({line}): {message}", path.display())
            }
            Some((n, _)) => anyhow::anyhow!("{}, line {n}: {message}", path.display()),
            None => anyhow::anyhow!("{}: {message}", path.display()),
        }
    })?;
    Ok((Some(path), file))
}

fn number(key: &str, value: &str, min: u64, max: u64) -> anyhow::Result<u64> {
    let n: u64 = value
        .parse()
        .map_err(|_| anyhow::anyhow!("{key}: {value:?} is not a whole number"))?;
    if !(min..=max).contains(&n) {
        bail!("{key}: must be from {min} to {max}, not {n}");
    }
    Ok(n)
}

/// This build stores data in SQLite only: a URL naming anything else is
/// refused rather than ignored.
fn check_database_url(url: &str, data: &Path) -> anyhow::Result<()> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        bail!(
            "database_url: this build keeps its data in SQLite only (the `data` directory); \
             a PostgreSQL backend is not built yet"
        );
    }
    let Some(path) = lower
        .strip_prefix("sqlite://")
        .map(|_| &url["sqlite://".len()..])
    else {
        bail!("database_url: {url:?} is not a sqlite:// URL");
    };
    if Path::new(path) != data {
        bail!(
            "database_url: sqlite://{path} names a different directory from data ({})",
            data.display()
        );
    }
    Ok(())
}

/// Shows the first characters of a secret only.
fn mask(secret: &str) -> String {
    if let Some((scheme, rest)) = secret.split_once("://")
        && let Some((_, host)) = rest.split_once('@')
    {
        return format!("{scheme}://***@{host}");
    }
    if secret.contains("://") {
        return secret.to_owned();
    }
    "***".to_owned()
}

/// The store's sync token from `--token`/`PATRON_SYNC_TOKEN` or a file.
pub fn sync_token(token: Option<String>, file: Option<&Path>) -> anyhow::Result<String> {
    let token = match (token, file) {
        (Some(t), _) => t,
        (None, Some(f)) => std::fs::read_to_string(f)
            .with_context(|| format!("cannot read the token file {}", f.display()))?
            .lines()
            .next()
            .unwrap_or("")
            .to_owned(),
        (None, None) => bail!(
            "a store node needs its sync token: set PATRON_SYNC_TOKEN or store.token_file (--token-file)"
        ),
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        bail!("the sync token is empty");
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("patron.toml");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let (_d, p) =
            file("listen = \"0.0.0.0:9000\"\ndata = \"/srv/patron\"\n[log]\nlevel = \"warn\"\n");
        let args = ServeArgs {
            config: Some(p),
            listen: Some("127.0.0.1:7000".into()),
            ..Default::default()
        };
        let e = resolve(&args, None).unwrap();
        assert_eq!(e.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(e.data, PathBuf::from("/srv/patron"));
        assert_eq!(e.log_level, "warn");
        assert_eq!(e.hq_unreachable_secs, 120);
        let listen = e.report.iter().find(|(k, ..)| *k == "listen").unwrap();
        assert_eq!(listen.2, Source::Flag);
        let data = e.report.iter().find(|(k, ..)| *k == "data").unwrap();
        assert_eq!(data.2, Source::File);
    }

    #[test]
    fn mistakes_name_the_setting() {
        let cases = [
            ("lisen = \"x\"", "lisen"),
            ("listen = \"nowhere\"", "listen"),
            ("[sync]\nmax_skew_ms = 0", "sync.max_skew_ms"),
            (
                "[health]\nhq_unreachable_secs = 99999999",
                "health.hq_unreachable_secs",
            ),
            ("[log]\nformat = \"xml\"", "log.format"),
            ("[store]\nid = \"S01\"", "store.hq"),
            ("[tls]\ncert = \"a.pem\"", "tls.key"),
            ("database_url = \"postgres://x/y\"", "PostgreSQL"),
            ("[mail]\nreceipt_email = \"some\"", "mail.receipt_email"),
            ("listen = ", "line 1"),
        ];
        for (text, expected) in cases {
            let (_d, p) = file(text);
            let args = ServeArgs {
                config: Some(p),
                ..Default::default()
            };
            let e = resolve(&args, None).unwrap_err().to_string();
            assert!(e.contains(expected), "{text:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn a_store_reads_its_token_from_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "abc123\n").unwrap();
        let (_d, p) = file(&format!(
            "[store]\nid = \"S01\"\nhq = \"http://hq:8080\"\ntoken_file = \"{}\"\n",
            token.display()
        ));
        let args = ServeArgs {
            config: Some(p),
            ..Default::default()
        };
        let e = resolve(&args, None).unwrap();
        let s = e.store.unwrap();
        assert_eq!((s.id.as_str(), s.token.as_str()), ("S01", "abc123"));
    }

    #[test]
    fn secrets_are_masked() {
        assert_eq!(
            mask("smtps://me:pw@mail.example:465"),
            "smtps://***@mail.example:465"
        );
        assert_eq!(mask("abcdef"), "***");
    }
}
