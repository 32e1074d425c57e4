//! `patron export`: every customer (active and not) as CSV, alphabetically.
//! The columns use the field names `patron import` reads, so an export imports back.

use crate::DataArgs;
use anyhow::Context;
use patron_domain::customer::Field;
use patron_storage::{ActiveFilter, CustomerQuery, MAX_PAGE_SIZE, Storage};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Output file [default: standard output].
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a
/// leading tab or carriage return) is written with a leading `'`, as OWASP's
/// CSV-injection guidance recommends; `patron import` takes it off again.
pub fn neutralise(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// The inverse of [`neutralise`] for a cell read back.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

pub fn header() -> Vec<String> {
    let mut h = vec!["code".to_owned(), "id".to_owned()];
    h.extend(Field::ALL.iter().map(|f| f.name().to_owned()));
    h.extend(["origin_store", "active", "created_at", "updated_at"].map(str::to_owned));
    h
}

/// One customer's cells, in [`header`]'s order, formula-like cells neutralised.
pub fn row(c: &patron_domain::Customer) -> Vec<String> {
    let mut row = vec![c.code.as_str().to_owned(), c.id.to_string()];
    row.extend(
        Field::ALL
            .iter()
            .map(|f| c.data.get(*f).unwrap_or_default()),
    );
    row.push(
        c.origin_store
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
    );
    row.push(c.active.to_string());
    let fmt = time::format_description::well_known::Rfc3339;
    row.push(c.created_at.format(&fmt).unwrap_or_default());
    row.push(c.updated_at.format(&fmt).unwrap_or_default());
    row.into_iter().map(neutralise).collect()
}

/// Writes all customers to `out`; returns how many.
pub async fn export_to(storage: &Arc<dyn Storage>, out: impl Write) -> anyhow::Result<u64> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(header())?;
    let mut query = CustomerQuery {
        active: ActiveFilter::All,
        limit: MAX_PAGE_SIZE,
        ..Default::default()
    };
    let mut n = 0;
    loop {
        let page = storage.list_customers(&query).await?;
        for c in &page.items {
            w.write_record(row(c))?;
            n += 1;
        }
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
    w.flush()?;
    Ok(n)
}

pub async fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let storage = crate::open_storage(&args.data)?;
    let n = match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            export_to(&storage, std::io::BufWriter::new(file)).await?
        }
        None => export_to(&storage, std::io::stdout().lock()).await?,
    };
    eprintln!("exported {n} customers");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_restored() {
        for cell in [
            "=cmd|' /C calc'!A0",
            "+15125550100",
            "-5",
            "@SUM(A1)",
            "\tx",
        ] {
            let out = neutralise(cell.to_owned());
            assert!(out.starts_with('\''), "{out}");
            assert_eq!(restore(&out), cell);
        }
        assert_eq!(neutralise("Ann".into()), "Ann");
        assert_eq!(restore("'plain"), "'plain");
        assert_eq!(restore("O'Brien"), "O'Brien");
    }
}
