//! `patron import`: customers from another system's CSV export.
//!
//! The rule: the whole file is imported in ONE transaction. Every valid row is
//! inserted; every rejected row (bad value, missing name, email already in use,
//! wrong number of fields, broken quotes, invalid UTF-8) is skipped and written
//! with its line number, the reason and its original cells to a rejects file. If
//! the import fails part-way (unreadable file, full disk, Ctrl-C), nothing is
//! written. With `--strict`, any rejected row means nothing is written.
//! Exit status: 0 when every row was imported, 2 when any was rejected, 1 on failure.

use crate::DataArgs;
use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use patron_domain::CustomerDraft;
use patron_domain::customer::{Field, ParseContext};
use patron_storage::{Actor, ImportRow, NewCustomer, Storage};
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

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
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    pub maps: Vec<String>,
    /// Import nothing if any row is invalid.
    #[arg(long)]
    pub strict: bool,
}

/// Where a CSV column goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Field(Field),
    /// "Name" / "Full name": split at the last space into first and last.
    FullName,
}

/// Column names other systems use, normalised (lowercase, `_` for separators).
fn alias(normalised: &str) -> Option<Target> {
    use Field::*;
    let f = match normalised {
        "first_name" | "firstname" | "first" | "given_name" | "forename" => FirstName,
        "last_name" | "lastname" | "last" | "surname" | "family_name" => LastName,
        "name" | "full_name" | "fullname" | "customer_name" => return Some(Target::FullName),
        "email" | "e_mail" | "email_address" | "mail" => Email,
        "phone" | "phone_number" | "mobile" | "mobile_phone" | "cell" | "cell_phone"
        | "telephone" | "tel" => Phone,
        "tax_id" | "taxid" | "vat" | "vat_number" | "tin" => TaxId,
        "address" | "address1" | "address_1" | "address_line1" | "address_line_1" | "street"
        | "line1" => AddressLine1,
        "address2" | "address_2" | "address_line2" | "address_line_2" | "line2" => AddressLine2,
        "city" | "town" | "address_city" => AddressCity,
        "state" | "region" | "province" | "county" | "address_region" => AddressRegion,
        "zip" | "zip_code" | "zipcode" | "postal_code" | "postcode" | "address_postal_code" => {
            AddressPostalCode
        }
        "country" | "address_country" => AddressCountry,
        "dob" | "birthday" | "birth_date" | "birthdate" | "date_of_birth" => DateOfBirth,
        "notes" | "note" | "comment" | "comments" => Notes,
        "marketing_consent" | "opt_in" | "accepts_marketing" | "consent" => MarketingConsent,
        "medical_card_number" | "medical_card" => MedicalCardNumber,
        "medical_issuing_state" | "medical_state" => MedicalIssuingState,
        "medical_expiry" | "medical_card_expiry" => MedicalExpiry,
        "id_document_number" | "id_number" | "license_number" | "dl_number" | "drivers_license" => {
            IdNumber
        }
        "id_document_issuing_state" | "id_issuing_state" | "dl_state" => IdIssuingState,
        "id_document_issuing_country" | "id_issuing_country" => IdIssuingCountry,
        "id_document_expiry" | "id_expiry" | "dl_expiry" => IdExpiry,
        _ => return None,
    };
    Some(Target::Field(f))
}

fn normalise_header(h: &str) -> String {
    let mut out = String::new();
    for c in h.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_owned()
}

/// Decides the target of each column; returns the targets and the ignored columns.
fn map_columns(
    headers: &csv::StringRecord,
    maps: &[String],
) -> anyhow::Result<(Vec<Option<Target>>, Vec<String>)> {
    let mut explicit = BTreeMap::new();
    for m in maps {
        let Some((col, field)) = m.rsplit_once('=') else {
            bail!("--map {m:?} must look like \"COLUMN=FIELD\"");
        };
        let target = Field::from_name(field.trim())
            .map(Target::Field)
            .or_else(|| (field.trim() == "name").then_some(Target::FullName))
            .with_context(|| format!("--map {m:?}: {:?} is not a customer field (try first_name, phone, address.city, …)", field.trim()))?;
        explicit.insert(normalise_header(col), target);
    }
    let mut targets = Vec::new();
    let mut ignored = Vec::new();
    let mut used = HashSet::new();
    for h in headers {
        let n = normalise_header(h);
        let t = explicit.get(&n).copied().or_else(|| alias(&n));
        match t {
            Some(t) if used.insert(t) => targets.push(Some(t)),
            _ => {
                ignored.push(h.to_owned());
                targets.push(None);
            }
        }
    }
    let has = |t| targets.contains(&Some(t));
    let names_mapped = (has(Target::Field(Field::FirstName))
        && has(Target::Field(Field::LastName)))
        || has(Target::FullName);
    if !names_mapped {
        bail!(
            "the file has no first- and last-name columns (nor a full-name column); name them or use --map \"COLUMN=first_name\""
        );
    }
    Ok((targets, ignored))
}

fn row_fields(
    cells: &csv::ByteRecord,
    targets: &[Option<Target>],
) -> Result<Vec<(Field, String)>, String> {
    let mut out = Vec::with_capacity(targets.len());
    for (i, (cell, target)) in cells.iter().zip(targets).enumerate() {
        let Ok(value) = std::str::from_utf8(cell) else {
            return Err(format!("column {} is not valid UTF-8", i + 1));
        };
        let value = crate::export::restore(value);
        match target {
            Some(Target::Field(f)) => out.push((*f, value.to_owned())),
            Some(Target::FullName) => {
                let v = value.trim();
                let (first, last) = v.rsplit_once(' ').unwrap_or(("", v));
                out.push((Field::FirstName, first.to_owned()));
                out.push((Field::LastName, last.to_owned()));
            }
            None => {}
        }
    }
    Ok(out)
}

/// A quoted field still open after this many bytes is taken as unterminated: no
/// valid row comes near it (notes, the longest field, hold 4,000 characters), and
/// it bounds the memory a stray quote can take.
const MAX_ROW_BYTES: usize = 1 << 20;

/// One row of the file. `problem` is set when the row is rejected before its
/// values are looked at; `cells` are then what can be shown of it.
struct Row {
    line: u64,
    cells: csv::ByteRecord,
    problem: Option<String>,
}

/// Reads the file row by row itself rather than with `csv::Reader`: a row's line
/// number must be the one an editor shows (the csv crate's are off after blank
/// lines and in CRLF files), and a quote that is never closed must cost one row,
/// not swallow the rest of the file into one field.
struct Rows<R> {
    src: R,
    /// Bytes and physical lines consumed.
    offset: u64,
    line: u64,
    /// The header's field count, once it is read.
    width: Option<usize>,
    /// The physical lines of the row being read.
    text: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    FieldStart,
    Plain,
    Open,
    /// A quote in a quoted field: it closes the field unless another follows.
    Closing,
    /// A closing quote followed by something other than a comma or the line's end.
    Broken,
}

/// RFC 4180: only a field's first character opens a quote (`5'10"` is plain text).
fn split(
    mut state: Quote,
    bytes: &[u8],
    cells: &mut csv::ByteRecord,
    field: &mut Vec<u8>,
) -> Quote {
    for &b in bytes {
        state = match (state, b) {
            (Quote::FieldStart, b'"') => Quote::Open,
            (Quote::FieldStart | Quote::Plain | Quote::Closing, b',') => {
                cells.push_field(field);
                field.clear();
                Quote::FieldStart
            }
            (Quote::Open, b'"') => Quote::Closing,
            (Quote::Closing, b'"') | (Quote::Open, _) => {
                field.push(b);
                Quote::Open
            }
            (Quote::FieldStart | Quote::Plain, _) => {
                field.push(b);
                Quote::Plain
            }
            (Quote::Closing | Quote::Broken, _) => return Quote::Broken,
        }
    }
    state
}

fn without_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

impl<R: std::io::BufRead + std::io::Seek> Rows<R> {
    /// Appends the next physical line to `text`; false at the end of the file.
    fn read_line(&mut self) -> std::io::Result<bool> {
        let n = self.src.read_until(b'\n', &mut self.text)?;
        if self.offset == 0 && self.text.starts_with(b"\xEF\xBB\xBF") {
            // A byte-order mark, as spreadsheets write: not part of the first column's name.
            self.text.drain(..3);
        }
        self.offset += n as u64;
        self.line += u64::from(n > 0);
        Ok(n > 0)
    }

    fn next(&mut self) -> std::io::Result<Option<Row>> {
        self.text.clear();
        loop {
            if !self.read_line()? {
                return Ok(None);
            }
            if !without_eol(&self.text).is_empty() {
                break;
            }
            self.text.clear();
        }
        let (line, first_end, first_len) = (self.line, self.offset, self.text.len());
        let mut cells = csv::ByteRecord::new();
        let mut field = Vec::new();
        let mut state = Quote::FieldStart;
        let mut from = 0;
        loop {
            let body = without_eol(&self.text[from..]);
            state = split(state, body, &mut cells, &mut field);
            if state != Quote::Open {
                break;
            }
            // The line break is inside a quoted field, so it is part of the value.
            field.extend_from_slice(&self.text[from + body.len()..]);
            from = self.text.len();
            if from > MAX_ROW_BYTES || !self.read_line()? {
                break;
            }
        }
        let spans = self.line > line;
        let complete = !matches!(state, Quote::Open | Quote::Broken);
        if complete {
            cells.push_field(&field);
            let problem = match self.width {
                Some(w) if w != cells.len() => {
                    Some(format!("{} fields where the header has {w}", cells.len()))
                }
                _ => None,
            };
            if problem.is_none() || !spans {
                return Ok(Some(Row {
                    line,
                    cells,
                    problem,
                }));
            }
        }
        // A row read across lines is trusted only if its quotes close properly
        // and it has the header's field count. Otherwise a quote on its first line
        // was most likely never closed: that line alone is rejected and reading
        // resumes after it, so the rows below are imported as usual.
        let problem = if spans {
            self.src.seek(std::io::SeekFrom::Start(first_end))?;
            self.offset = first_end;
            self.line = line;
            "unterminated quote (the lines after it are read as rows of their own)"
        } else if state == Quote::Broken {
            "a closing quote must be followed by a comma or the end of the line"
        } else {
            "unterminated quote"
        };
        Ok(Some(Row {
            line,
            cells: csv::ByteRecord::from(vec![without_eol(&self.text[..first_len])]),
            problem: Some(problem.to_owned()),
        }))
    }
}

/// Opens `file` and reads its header row.
fn open_rows(file: &Path) -> anyhow::Result<(Rows<BufReader<File>>, csv::ByteRecord)> {
    let src = File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut rows = Rows {
        src: BufReader::new(src),
        offset: 0,
        line: 0,
        width: None,
        text: Vec::new(),
    };
    let header = match rows
        .next()
        .with_context(|| format!("cannot read {}", file.display()))?
    {
        Some(Row {
            problem: None,
            cells,
            ..
        }) => cells,
        Some(Row {
            problem: Some(p), ..
        }) => bail!("{}: the header row: {p}", file.display()),
        None => bail!("{} is empty", file.display()),
    };
    rows.width = Some(header.len());
    Ok((rows, header))
}

pub struct ImportSummary {
    /// Zero when `strict` and anything was rejected.
    pub imported: usize,
    pub rejected: Vec<(u64, String)>,
    pub ignored_columns: Vec<String>,
}

/// Imports `file` into `storage`. `progress` draws a bar on a terminal.
pub async fn import_file(
    storage: Arc<dyn Storage>,
    file: &Path,
    maps: &[String],
    strict: bool,
    progress: bool,
) -> anyhow::Result<ImportSummary> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    let (mut rows, header) = open_rows(file)?;
    let headers = csv::StringRecord::from_byte_record(header)
        .map_err(|_| anyhow::anyhow!("{}: the header row is not UTF-8", file.display()))?;
    let (targets, ignored_columns) = map_columns(&headers, maps)?;
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
    // Rows travel in batches: a channel hand-off per row cost ~10% in futex wake-ups.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Result<ImportRow, String>>>(64);
    // Parse on its own thread while the storage writes: two cores, two stages.
    // It returns the rows it rejected.
    let parser = {
        let bar = bar.clone();
        std::thread::spawn(move || {
            const BATCH: usize = 512;
            let mut invalid = Vec::new();
            let mut batch = Vec::with_capacity(BATCH);
            let mut n: u64 = 0;
            loop {
                let row = match rows.next() {
                    Ok(Some(row)) => row,
                    Ok(None) => break,
                    Err(e) => {
                        batch.push(Err(format!(
                            "the file cannot be read past line {}: {e}",
                            rows.line
                        )));
                        let _ = tx.send(batch);
                        return invalid;
                    }
                };
                n += 1;
                if n.is_multiple_of(4096) {
                    bar.set_position(rows.offset);
                }
                let draft = match row.problem {
                    Some(p) => Err(p),
                    None => row_fields(&row.cells, &targets)
                        .and_then(|f| CustomerDraft::parse(f, &ctx).map_err(|e| e.to_string())),
                };
                match draft {
                    Ok(data) => batch.push(Ok(ImportRow {
                        line: row.line,
                        customer: NewCustomer {
                            data,
                            origin_store: None,
                        },
                    })),
                    Err(e) => invalid.push((row.line, e)),
                }
                if batch.len() == BATCH
                    && tx
                        .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                        .is_err()
                {
                    return invalid;
                }
            }
            if strict && !invalid.is_empty() {
                batch.push(Err("--strict: the file has invalid rows".into()));
            }
            let _ = tx.send(batch);
            bar.set_position(size);
            invalid
        })
    };
    let outcome = storage
        .import_customers(
            &Actor::new("import"),
            Box::new(rx.into_iter().flatten()),
            strict,
        )
        .await;
    let rejected = parser.join();
    bar.finish_and_clear();
    let mut rejected = rejected.map_err(|_| anyhow::anyhow!("the parser thread failed"))?;
    let outcome = match outcome {
        Ok(o) => o,
        Err(_) if strict && !rejected.is_empty() => patron_storage::ImportOutcome::default(),
        Err(e) => bail!("nothing imported: {e}"),
    };
    rejected.extend(
        outcome
            .rejected
            .into_iter()
            .map(|(l, e)| (l, e.to_string())),
    );
    rejected.sort();
    Ok(ImportSummary {
        imported: outcome.created.len(),
        rejected,
        ignored_columns,
    })
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

pub async fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let storage = crate::open_storage(&args.data)?;
    let started = std::time::Instant::now();
    let summary = import_file(storage, &args.file, &args.maps, args.strict, true).await?;
    let secs = started.elapsed().as_secs_f64();
    if !summary.ignored_columns.is_empty() {
        eprintln!("ignored columns: {}", summary.ignored_columns.join(", "));
    }
    let imported = format!(
        "imported {} customers in {secs:.1} s ({:.0} rows/s)",
        summary.imported,
        summary.imported as f64 / secs.max(1e-9)
    );
    let Some((first, why)) = summary.rejected.first() else {
        println!("{imported}");
        return Ok(ExitCode::SUCCESS);
    };
    let out = args.rejects.unwrap_or_else(|| {
        let mut p = args.file.clone().into_os_string();
        p.push(".rejected.csv");
        PathBuf::from(p)
    });
    write_rejects(&args.file, &out, &summary.rejected)?;
    let n = summary.rejected.len();
    if args.strict {
        eprintln!(
            "error: nothing imported (--strict): {n} rows rejected, the first at line {first}: {why}; all are listed in {}",
            out.display()
        );
    } else {
        println!("{imported}");
        println!(
            "rejected {n} rows; they are listed with the reason in {}",
            out.display()
        );
    }
    // Exit status 2, with or without --strict: a script must notice. Failures are 1.
    Ok(ExitCode::from(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_map_by_alias_and_explicit_map() {
        let h = csv::StringRecord::from(vec![
            "First Name",
            "Surname",
            "E-mail",
            "Cell Phone",
            "Loyalty Tier",
        ]);
        let (t, ignored) = map_columns(&h, &[]).unwrap();
        assert_eq!(t[0], Some(Target::Field(Field::FirstName)));
        assert_eq!(t[1], Some(Target::Field(Field::LastName)));
        assert_eq!(t[2], Some(Target::Field(Field::Email)));
        assert_eq!(t[3], Some(Target::Field(Field::Phone)));
        assert_eq!(ignored, vec!["Loyalty Tier"]);
        let h = csv::StringRecord::from(vec!["Customer", "Whatever"]);
        assert!(map_columns(&h, &[]).is_err());
        let (t, _) = map_columns(
            &h,
            &["Customer=name".into(), "Whatever=address.city".into()],
        )
        .unwrap();
        assert_eq!(
            t,
            vec![
                Some(Target::FullName),
                Some(Target::Field(Field::AddressCity))
            ]
        );
        assert!(map_columns(&h, &["Customer=nonsense".into()]).is_err());
    }

    fn rows(input: &[u8]) -> Vec<(u64, Vec<String>, Option<String>)> {
        let mut rows = Rows {
            src: std::io::Cursor::new(input),
            offset: 0,
            line: 0,
            width: Some(2),
            text: Vec::new(),
        };
        std::iter::from_fn(|| rows.next().unwrap())
            .map(|r| {
                let cells = r
                    .cells
                    .iter()
                    .map(|c| String::from_utf8_lossy(c).into())
                    .collect();
                (r.line, cells, r.problem)
            })
            .collect()
    }

    #[test]
    fn quotes_open_only_at_a_field_start_and_must_close_at_its_end() {
        let r = rows(b"a,5'10\"\n\"x\"\"y\",\n\"bad\"quote,b\n\"multi\nline\",c\n");
        assert_eq!(r[0], (1, vec!["a".into(), "5'10\"".into()], None));
        assert_eq!(r[1], (2, vec!["x\"y".into(), "".into()], None));
        assert_eq!(r[2].0, 3);
        assert_eq!(r[2].1, vec!["\"bad\"quote,b".to_owned()]);
        assert!(r[2].2.as_deref().unwrap().contains("closing quote"));
        assert_eq!(r[3], (4, vec!["multi\nline".into(), "c".into()], None));
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn full_name_splits_at_the_last_space() {
        let r = csv::ByteRecord::from(vec!["Mary Ann Smith"]);
        let f = row_fields(&r, &[Some(Target::FullName)]).unwrap();
        assert_eq!(
            f,
            vec![
                (Field::FirstName, "Mary Ann".into()),
                (Field::LastName, "Smith".into())
            ]
        );
    }
}
