//! `patron import`: customers from another system's CSV export, with what
//! they bring (points, store credit, lifetime spend, visits, groups).
//!
//! The rule: the whole file is imported in ONE transaction. Every valid row is
//! inserted; every rejected row (bad value, missing name, email already in use,
//! a group that does not exist, wrong number of fields, broken quotes, invalid
//! UTF-8) is skipped and written with its line number, the reason and its
//! original cells to a rejects file. If the import fails part-way (unreadable
//! file, full disk, Ctrl-C), nothing is written. With `--strict`, any rejected
//! row means nothing is written; with `--dry-run`, nothing is written at all.
//! A row whose source id (or, without one, whose exact content) was imported
//! before is skipped: running the same import again changes nothing.
//! Exit status: 0 when every row was imported (or had been), 2 when any was
//! rejected, 1 on failure.

mod columns;
mod rows;
mod values;

use crate::DataArgs;
use anyhow::Context;
use columns::Mapping;
use indicatif::{ProgressBar, ProgressStyle};
use patron_domain::customer::ParseContext;
use patron_storage::{Actor, ImportOptions, ImportOutcome, ImportRow, Storage};
use rows::{Row, Rows, open_rows};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

pub use columns::PRESETS;

#[derive(clap::Args)]
pub struct ImportArgs {
    /// CSV file with a header row (comma-separated, UTF-8).
    pub file: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Where rejected rows are written [default: FILE.rejected.csv].
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Map a column to a field, e.g. --map "Cell Phone=phone". Repeatable.
    /// Fields: the customer's (first_name, phone, address.city, …) and
    /// points, store_credit, lifetime_spend, visits, groups, source_id.
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    pub maps: Vec<String>,
    /// The system the file was exported from: square, shopify, lightspeed,
    /// poster or generic [default: recognised from the column names].
    #[arg(long)]
    pub source: Option<String>,
    /// Import nothing if any row is invalid.
    #[arg(long)]
    pub strict: bool,
    /// Show the mapping and check every row, then write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Create the manual groups the file names that do not exist yet
    /// (without it, such rows are rejected).
    #[arg(long)]
    pub create_groups: bool,
}

pub struct ImportSummary {
    /// What the storage did (or, with `dry_run`, would have done).
    pub outcome: ImportOutcome,
    /// Every rejected row, by line: the storage's and the parser's.
    pub rejected: Vec<(u64, String)>,
    pub mapping: Vec<(String, Option<String>)>,
    pub source: Option<&'static str>,
}

impl ImportSummary {
    pub fn imported(&self) -> usize {
        self.outcome.created.len()
    }
}

/// Rows travel in batches: a channel hand-off per row cost ~10% in futex wake-ups.
const BATCH: usize = 512;

/// The file, read on one thread and parsed on others (phone validation is
/// most of an import's work), put back in file order for the writer.
struct Pipeline {
    parsed: Receiver<(usize, Vec<Result<ImportRow, String>>)>,
    /// Rows without a source id are keyed by their content: the second
    /// identical row is "the same content, second time", not a repeat.
    seen: std::collections::HashMap<String, u32>,
    /// Batches that arrived before their turn.
    waiting: BTreeMap<usize, Vec<Result<ImportRow, String>>>,
    next: usize,
    current: std::vec::IntoIter<Result<ImportRow, String>>,
}

impl Iterator for Pipeline {
    type Item = Result<ImportRow, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(mut row) = self.current.next() {
                if let Ok(r) = &mut row
                    && let Some(key) = r.source_key.as_mut().filter(|k| k.starts_with("row:"))
                {
                    let n = self.seen.entry(key.clone()).or_insert(0);
                    *n += 1;
                    if *n > 1 {
                        key.push_str(&format!("#{n}"));
                    }
                }
                return Some(row);
            }
            let batch = match self.waiting.remove(&self.next) {
                Some(b) => b,
                None => loop {
                    let (i, b) = self.parsed.recv().ok()?;
                    if i == self.next {
                        break b;
                    }
                    self.waiting.insert(i, b);
                },
            };
            self.next += 1;
            self.current = batch.into_iter();
        }
    }
}

type Invalid = Arc<Mutex<Vec<(u64, String)>>>;

/// Starts the reader and the parsers; the rows come out of the returned
/// iterator in file order. Rows rejected by the parser go to `invalid`.
fn start(
    mut rows: Rows<BufReader<File>>,
    mapping: Arc<Mapping>,
    ctx: ParseContext,
    bar: ProgressBar,
    invalid: Invalid,
    strict: bool,
) -> anyhow::Result<Pipeline> {
    // One core writes; the others parse. More parsers than that only queue
    // on the phone library's shared regex cache (measured: slower on 2 cores).
    let parsers =
        std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).clamp(1, 4));
    let (raw_tx, raw_rx) = sync_channel::<(usize, Vec<Row>)>(parsers * 4);
    let raw_rx = Arc::new(Mutex::new(raw_rx));
    let (parsed_tx, parsed_rx) = sync_channel(64);
    let size = bar.length().unwrap_or(0);
    std::thread::Builder::new()
        .name("import-read".into())
        .spawn({
            let parsed_tx = parsed_tx.clone();
            move || read(&mut rows, &raw_tx, &parsed_tx, &bar, size)
        })?;
    for _ in 0..parsers {
        let (raw_rx, parsed_tx, mapping, invalid) = (
            raw_rx.clone(),
            parsed_tx.clone(),
            mapping.clone(),
            invalid.clone(),
        );
        std::thread::Builder::new()
            .name("import-parse".into())
            .spawn(move || parse(&raw_rx, &parsed_tx, &mapping, &ctx, &invalid, strict))?;
    }
    Ok(Pipeline {
        parsed: parsed_rx,
        seen: std::collections::HashMap::new(),
        waiting: BTreeMap::new(),
        next: 0,
        current: Vec::new().into_iter(),
    })
}

type Parsed = SyncSender<(usize, Vec<Result<ImportRow, String>>)>;

fn read(
    rows: &mut Rows<BufReader<File>>,
    raw: &SyncSender<(usize, Vec<Row>)>,
    parsed: &Parsed,
    bar: &ProgressBar,
    size: u64,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut n = 0;
    loop {
        match rows.next() {
            Ok(Some(row)) => batch.push(row),
            Ok(None) => break,
            Err(e) => {
                // Everything before is sent; this batch and an error after it end the import.
                let _ = raw.send((n, std::mem::take(&mut batch)));
                let _ = parsed.send((
                    n + 1,
                    vec![Err(format!(
                        "the file cannot be read past line {}: {e}",
                        rows.line
                    ))],
                ));
                return;
            }
        }
        if batch.len() == BATCH {
            bar.set_position(rows.offset);
            if raw
                .send((n, std::mem::replace(&mut batch, Vec::with_capacity(BATCH))))
                .is_err()
            {
                return;
            }
            n += 1;
        }
    }
    let _ = raw.send((n, batch));
    // The end: an empty batch that, in strict mode, carries nothing more.
    let _ = parsed.send((n + 1, Vec::new()));
    bar.set_position(size);
}

fn parse(
    raw: &Mutex<Receiver<(usize, Vec<Row>)>>,
    parsed: &Parsed,
    mapping: &Mapping,
    ctx: &ParseContext,
    invalid: &Invalid,
    strict: bool,
) {
    loop {
        let next = match raw.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((i, rows)) = next else { return };
        let mut out = Vec::with_capacity(rows.len());
        let mut bad = Vec::new();
        for row in rows {
            let read = match row.problem {
                Some(p) => Err(p),
                None => values::read_row(row.line, &row.cells, mapping, ctx),
            };
            match read {
                Ok(r) => out.push(Ok(r)),
                Err(e) => bad.push((row.line, e)),
            }
        }
        if !bad.is_empty() {
            if let Ok(mut all) = invalid.lock() {
                all.extend(bad);
            }
            if strict {
                // Nothing will be written: the writer can stop here.
                out.push(Err("--strict: the file has invalid rows".into()));
            }
        }
        if parsed.send((i, out)).is_err() {
            return;
        }
    }
}

/// Imports `file` into `storage`. `progress` draws a bar on a terminal.
pub async fn import_file(
    storage: Arc<dyn Storage>,
    file: &Path,
    args: &ImportOptionsArgs<'_>,
    progress: bool,
) -> anyhow::Result<ImportSummary> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    let (rows, header) = open_rows(file)?;
    let headers = csv::StringRecord::from_byte_record(header)
        .map_err(|_| anyhow::anyhow!("{}: the header row is not UTF-8", file.display()))?;
    let mapping = columns::map_columns(&headers, args.maps, args.source)?;
    let shown = headers
        .iter()
        .zip(&mapping.targets)
        .map(|(h, t)| (h.to_owned(), t.map(|t| t.name().to_owned())))
        .collect();
    let source = mapping.source.map(|p| p.name);
    let ctx = ParseContext {
        region: storage.settings().await?.phone_region,
        today: time::OffsetDateTime::now_utc().date(),
    };
    let bar = if progress {
        ProgressBar::new(size)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} importing [{bar:30}] {bytes}/{total_bytes} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let invalid: Invalid = Arc::default();
    let rows = start(
        rows,
        Arc::new(mapping),
        ctx,
        bar.clone(),
        invalid.clone(),
        args.strict,
    )?;
    let opts = ImportOptions {
        strict: args.strict,
        dry_run: args.dry_run,
        create_groups: args.create_groups,
        expected_rows: Some(estimate_rows(file, size)),
    };
    let outcome = storage
        .import_customers(&Actor::new("import"), Box::new(rows), opts)
        .await;
    bar.finish_and_clear();
    let mut rejected = std::mem::take(
        &mut *invalid
            .lock()
            .map_err(|_| anyhow::anyhow!("a parser thread failed"))?,
    );
    let outcome = match outcome {
        Ok(o) => o,
        Err(_) if args.strict && !rejected.is_empty() => ImportOutcome::default(),
        Err(e) => anyhow::bail!("nothing imported: {e}"),
    };
    rejected.extend(outcome.rejected.iter().map(|(l, e)| (*l, e.to_string())));
    rejected.sort();
    Ok(ImportSummary {
        outcome,
        rejected,
        mapping: shown,
        source,
    })
}

/// How `import_file` runs (the command's flags).
#[derive(Default)]
pub struct ImportOptionsArgs<'a> {
    pub maps: &'a [String],
    pub source: Option<&'a str>,
    pub strict: bool,
    pub dry_run: bool,
    pub create_groups: bool,
}

/// About how many rows the file has, from the length of its first lines.
fn estimate_rows(file: &Path, size: u64) -> u64 {
    use std::io::BufRead;
    let Ok(f) = File::open(file) else { return 0 };
    let mut lines = BufReader::new(f).lines();
    let mut bytes = 0u64;
    let mut n = 0u64;
    while n < 200 {
        match lines.next() {
            Some(Ok(l)) => {
                bytes += l.len() as u64 + 1;
                n += 1;
            }
            _ => break,
        }
    }
    bytes.checked_div(n).map_or(0, |avg| size / avg.max(1))
}

/// Writes each rejected row of `file` with its line number and reason.
fn write_rejects(file: &Path, out: &Path, rejected: &[(u64, String)]) -> anyhow::Result<()> {
    let (mut rows, header) = open_rows(file)?;
    // Rejected rows need not have the header's field count.
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_path(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    let mut write = |line: &str, why: &str, cells: &csv::ByteRecord| -> csv::Result<()> {
        writer.write_field(line)?;
        writer.write_field(why)?;
        writer.write_record(cells)
    };
    write("line", "error", &header)?;
    let mut row = rows.next()?;
    for (line, why) in rejected {
        while row.as_ref().is_some_and(|r| r.line < *line) {
            row = rows.next()?;
        }
        let cells = match &row {
            Some(r) if r.line == *line => r.cells.clone(),
            // The file changed since it was imported: the reason without the cells.
            _ => csv::ByteRecord::new(),
        };
        write(&line.to_string(), why, &cells)?;
    }
    writer.flush()?;
    Ok(())
}

/// Writes the imported rows likely the same person as another customer.
fn write_duplicates(out: &Path, outcome: &ImportOutcome) -> anyhow::Result<()> {
    let mut w =
        csv::Writer::from_path(out).with_context(|| format!("cannot write {}", out.display()))?;
    w.write_record(["line", "code", "likely_same_as", "by"])?;
    for d in &outcome.likely_duplicates {
        let by: Vec<&str> = d.by.iter().map(|b| b.name()).collect();
        w.write_record([
            d.line.to_string(),
            d.code.clone(),
            d.others.join(" "),
            by.join(" "),
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn beside(file: &Path, suffix: &str) -> PathBuf {
    let mut p = file.to_path_buf().into_os_string();
    p.push(suffix);
    PathBuf::from(p)
}

fn money(hundredths: i128) -> String {
    patron_domain::loyalty::money::format_2(i64::try_from(hundredths).unwrap_or(i64::MAX))
}

pub async fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let storage = crate::open_storage(&args.data)?;
    let started = std::time::Instant::now();
    let opts = ImportOptionsArgs {
        maps: &args.maps,
        source: args.source.as_deref(),
        strict: args.strict,
        dry_run: args.dry_run,
        create_groups: args.create_groups,
    };
    let summary = import_file(storage, &args.file, &opts, true).await?;
    let secs = started.elapsed().as_secs_f64();
    let o = &summary.outcome;
    if args.dry_run {
        println!(
            "{} — nothing is written (--dry-run)",
            summary
                .source
                .map_or("columns read by their names".to_owned(), |s| format!(
                    "recognised as {s}"
                ))
        );
        for (column, target) in &summary.mapping {
            match target {
                Some(t) => println!("  {column:<32} → {t}"),
                None => println!("  {column:<32}   (ignored)"),
            }
        }
    } else {
        if let Some(s) = summary.source {
            println!("recognised as {s}");
        }
        let ignored: Vec<&str> = summary
            .mapping
            .iter()
            .filter(|(_, t)| t.is_none())
            .map(|(c, _)| c.as_str())
            .collect();
        if !ignored.is_empty() {
            eprintln!("ignored columns: {}", ignored.join(", "));
        }
    }
    let verb = if args.dry_run {
        "would import"
    } else {
        "imported"
    };
    let mut lines = vec![format!(
        "{verb} {} customers in {secs:.1} s ({:.0} rows/s)",
        summary.imported(),
        summary.imported() as f64 / secs.max(1e-9)
    )];
    if o.already_imported > 0 {
        lines.push(format!(
            "skipped {} rows imported before (same source id or same row)",
            o.already_imported
        ));
    }
    let t = &o.opening;
    if t.points > 0 || t.credit > 0 || t.spent > 0 || t.visits > 0 {
        lines.push(format!(
            "opening balances: {} points, {} store credit; lifetime spend {}, {} visits",
            money(t.points),
            money(t.credit),
            money(t.spent),
            t.visits
        ));
    }
    if t.memberships > 0 || !o.groups_created.is_empty() {
        let created = if o.groups_created.is_empty() {
            String::new()
        } else {
            format!(" (new groups: {})", o.groups_created.join(", "))
        };
        lines.push(format!(
            "{} memberships in manual groups{created}",
            t.memberships
        ));
    }
    if !o.likely_duplicates.is_empty() {
        let out = beside(&args.file, ".duplicates.csv");
        write_duplicates(&out, o)?;
        lines.push(format!(
            "{} rows are likely the same person as another customer (same phone, email, ID or name and birth date); listed in {} — merge them from the Duplicates report",
            o.likely_duplicates.len(),
            out.display()
        ));
    }
    let Some((first, why)) = summary.rejected.first() else {
        for l in lines {
            println!("{l}");
        }
        return Ok(ExitCode::SUCCESS);
    };
    let out = args
        .rejects
        .clone()
        .unwrap_or_else(|| beside(&args.file, ".rejected.csv"));
    write_rejects(&args.file, &out, &summary.rejected)?;
    let n = summary.rejected.len();
    if args.strict {
        eprintln!(
            "error: nothing imported (--strict): {n} rows rejected, the first at line {first}: {why}; all are listed in {}",
            out.display()
        );
    } else {
        for l in lines {
            println!("{l}");
        }
        println!(
            "rejected {n} rows, the first at line {first}: {why}; all are listed with the reason in {}",
            out.display()
        );
    }
    // Exit status 2, with or without --strict: a script must notice. Failures are 1.
    Ok(ExitCode::from(2))
}
