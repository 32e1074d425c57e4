//! Reading a CSV export row by row, with the line numbers an editor shows.

use anyhow::{Context, bail};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// A quoted field still open after this many bytes is taken as unterminated: no
/// valid row comes near it (notes, the longest field, hold 4,000 characters), and
/// it bounds the memory a stray quote can take.
const MAX_ROW_BYTES: usize = 1 << 20;

/// One row of the file. `problem` is set when the row is rejected before its
/// values are looked at; `cells` are then what can be shown of it.
pub struct Row {
    pub line: u64,
    pub cells: csv::ByteRecord,
    pub problem: Option<String>,
}

/// Reads the file row by row itself rather than with `csv::Reader`: a row's line
/// number must be the one an editor shows (the csv crate's are off after blank
/// lines and in CRLF files), and a quote that is never closed must cost one row,
/// not swallow the rest of the file into one field.
pub struct Rows<R> {
    src: R,
    /// Bytes and physical lines consumed.
    pub offset: u64,
    pub line: u64,
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

    pub fn next(&mut self) -> std::io::Result<Option<Row>> {
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
pub fn open_rows(file: &Path) -> anyhow::Result<(Rows<BufReader<File>>, csv::ByteRecord)> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
