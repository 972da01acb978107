//! CSV in and out. Reading parses every column as numbers up front but keeps
//! the first bad cell of each column (and its cells as text, for labels), so
//! that only the columns a user selects must be numeric, and a bad one is
//! reported with its row, line and value.
//! The header is checked at once: two columns with the same name are an
//! error, since either could be meant.

use std::collections::VecDeque;
use std::io::Read;
use std::path::Path;

use crate::core::text::{elide, number};
use crate::{Error, Result};

/// The largest magnitude a cell may have. Beyond it squares (and sums of
/// squares, which every variance needs) come near the largest `f64`, about
/// 1.8e308, and overflow to infinity.
pub const MAX_MAGNITUDE: f64 = 1e150;

/// Why a cell is not a usable number.
#[derive(Debug, Clone, PartialEq)]
enum Problem {
    /// The cell is empty.
    Empty,
    /// The text does not parse as a finite number (`abc`, `NaN`, `inf`, `1e400`).
    NotFinite,
    /// A finite number beyond [`MAX_MAGNITUDE`].
    TooLarge(f64),
}

/// A cell that is not a usable number: its 1-based data row, its line in
/// the file, its raw text and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
struct BadCell {
    row: usize,
    line: u64,
    text: String,
    problem: Problem,
}

/// A column that is not all numbers: its first bad cell, and every cell as
/// text (numbers before the bad cell written back in their shortest form),
/// for columns used as labels such as clusters.
#[derive(Debug, Clone, PartialEq)]
struct TextColumn {
    bad: BadCell,
    text: Vec<String>,
}

/// A CSV file read into numeric columns (and, for the others, text).
#[derive(Debug, Clone)]
pub struct Table {
    path: String,
    names: Vec<String>,
    columns: Vec<std::result::Result<Vec<f64>, TextColumn>>,
    /// The line of the file each data row starts on (1 is the header).
    lines: Vec<u64>,
}

/// A reader that notes the line breaks it passes on, so that each record's
/// line can be told exactly: the csv crate's own line count runs one behind
/// after CRLF line ends and blank lines.
struct Breaks<R> {
    inner: R,
    /// Bytes passed on so far.
    offset: u64,
    /// Offsets of the `\r` and `\n` bytes passed on and not yet placed, and
    /// whether each is a `\n`.
    pending: VecDeque<(u64, bool)>,
    /// `\n` bytes placed before the current record.
    newlines: u64,
}

impl<R: Read> Read for Breaks<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                self.pending.push_back((self.offset + i as u64, b == b'\n'));
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R> Breaks<R> {
    /// The 1-based line of a record the csv reader says begins at `byte`:
    /// the line breaks at and right after `byte` (the previous record's
    /// terminator, blank lines) come before it. Records must be asked for
    /// in order.
    fn line_of(&mut self, byte: u64) -> u64 {
        let mut start = byte;
        while let Some(&(at, newline)) = self.pending.front() {
            if at > start {
                break;
            }
            if at == start {
                start += 1;
            }
            self.newlines += u64::from(newline);
            self.pending.pop_front();
        }
        self.newlines + 1
    }
}

/// A CSV reading error as one line: the file, the line (`line`, when
/// known) and what is wrong.
fn csv_error(shown: &str, e: &csv::Error, line: Option<u64>) -> Error {
    let at = line.map_or_else(String::new, |l| format!("line {l}: "));
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "{at}a row has {len} field{} but the header has {expected_len}; \
             every row needs one field per column",
            if *len == 1 { "" } else { "s" }
        ),
        csv::ErrorKind::Utf8 { err, .. } => format!(
            "{at}field {} is not valid UTF-8 text; save the file as UTF-8",
            err.field() + 1
        ),
        _ => format!("{at}{e}"),
    };
    Error::Data(format!("{shown}: {message}"))
}

/// Fails when two header columns share a name: it names both positions.
/// Unnamed columns are left to the caller (they are never selected).
fn check_header(shown: &str, names: &[String]) -> Result<()> {
    for (j, name) in names.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        if let Some(earlier) = names[..j].iter().position(|n| n == name) {
            return Err(Error::Data(format!(
                "{shown}: line 1: the header names column `{}` twice, as columns {} and {}; \
                 rename one of them",
                elide(name),
                earlier + 1,
                j + 1
            )));
        }
    }
    Ok(())
}

/// The number in a cell, or what is wrong with it.
fn parse(text: &str) -> std::result::Result<f64, Problem> {
    if text.is_empty() {
        return Err(Problem::Empty);
    }
    match text.parse::<f64>() {
        Ok(v) if !v.is_finite() => Err(Problem::NotFinite),
        Ok(v) if v.abs() > MAX_MAGNITUDE => Err(Problem::TooLarge(v)),
        Ok(v) => Ok(v),
        Err(_) => Err(Problem::NotFinite),
    }
}

/// Reads a CSV file with a header row.
///
/// # Errors
/// [`Error::Data`], naming the file and the line, when the file cannot be
/// read, has no header or no data rows, names a column twice, has a row
/// with another number of fields than the header, or is not UTF-8.
pub fn read_csv(path: &Path) -> Result<Table> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(Breaks {
            inner: file,
            offset: 0,
            pending: VecDeque::new(),
            newlines: 0,
        });
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(&shown, &e, Some(1)))?
        .iter()
        .map(str::to_string)
        .collect();
    if names.is_empty() || names.iter().all(String::is_empty) {
        return Err(Error::Data(format!("{shown}: the file has no header row")));
    }
    check_header(&shown, &names)?;
    let mut columns: Vec<std::result::Result<Vec<f64>, TextColumn>> =
        names.iter().map(|_| Ok(Vec::new())).collect();
    let mut lines = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = e.position().map(|p| reader.get_mut().line_of(p.byte()));
                return Err(csv_error(&shown, &e, line));
            }
        }
        let line = match record.position() {
            Some(p) => reader.get_mut().line_of(p.byte()),
            None => lines.len() as u64 + 2,
        };
        lines.push(line);
        for (column, text) in columns.iter_mut().zip(record.iter()) {
            match column {
                Ok(values) => match parse(text) {
                    Ok(v) => values.push(v),
                    Err(problem) => {
                        let mut all: Vec<String> = values.iter().map(f64::to_string).collect();
                        all.push(text.to_string());
                        *column = Err(TextColumn {
                            bad: BadCell {
                                row: lines.len(),
                                line,
                                text: text.to_string(),
                                problem,
                            },
                            text: all,
                        })
                    }
                },
                Err(labels) => labels.text.push(text.to_string()),
            }
        }
    }
    if lines.is_empty() {
        return Err(Error::Data(format!(
            "{shown}: the file has a header but no data rows"
        )));
    }
    Ok(Table {
        path: shown,
        names,
        columns,
        lines,
    })
}

impl Table {
    /// The file, as given, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Column names in file order (an unnamed column's name is empty).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of data rows.
    pub fn rows(&self) -> usize {
        self.lines.len()
    }

    /// The line of the file data row `i` (0-based) starts on; the header
    /// is line 1.
    pub fn line(&self, i: usize) -> u64 {
        self.lines.get(i).copied().unwrap_or(i as u64 + 2)
    }

    /// Data row `i` (0-based) as messages name it: `row 3 (line 4)`, the
    /// 1-based data row and the line of the file it starts on.
    pub fn row_label(&self, i: usize) -> String {
        format!("row {} (line {})", i + 1, self.line(i))
    }

    /// Where column `name` is: `column 3 of the header`, or the name alone
    /// when the table has no such column.
    pub fn position_label(&self, name: &str) -> String {
        match self.names.iter().position(|n| n == name) {
            Some(k) => format!("column {} of the header", k + 1),
            None => format!("column `{}`", elide(name)),
        }
    }

    /// A numeric column by name; errors name a missing column (listing the
    /// available ones) or the first row whose cell is not a usable number
    /// (empty, not a finite number, or beyond ±[`MAX_MAGNITUDE`]).
    pub fn column(&self, name: &str) -> Result<&[f64]> {
        let k = self.index(name)?;
        match &self.columns[k] {
            Ok(values) => Ok(values),
            Err(TextColumn { bad, .. }) => {
                let what = match bad.problem {
                    Problem::Empty => "is empty".to_string(),
                    Problem::NotFinite => {
                        format!("is `{}`, not a finite number", elide(&bad.text))
                    }
                    Problem::TooLarge(v) => format!(
                        "is {}, beyond ±{} (the squares of such values overflow); \
                         rescale the column, e.g. to thousands or millions",
                        number(v),
                        number(MAX_MAGNITUDE)
                    ),
                };
                Err(Error::Data(format!(
                    "{}: column `{name}`, row {} (line {}) {what}; fix or drop that row, \
                     or leave the column out of the model",
                    self.path, bad.row, bad.line
                )))
            }
        }
    }

    /// A column's cells as labels, numeric or not (a number in its shortest
    /// form): for grouping rows, e.g. into clusters. Errors name a missing
    /// column.
    pub fn labels(&self, name: &str) -> Result<Vec<String>> {
        Ok(match &self.columns[self.index(name)?] {
            Ok(values) => values.iter().map(f64::to_string).collect(),
            Err(column) => column.text.clone(),
        })
    }

    /// The position of column `name`; the error lists the columns there are.
    fn index(&self, name: &str) -> Result<usize> {
        let found = self.names.iter().position(|n| n == name && !n.is_empty());
        let Some(k) = found else {
            let named: Vec<&str> = self
                .names
                .iter()
                .filter(|n| !n.is_empty())
                .map(String::as_str)
                .collect();
            return Err(Error::Data(format!(
                "{}: line 1: no column `{}`; the columns are: {}",
                self.path,
                elide(name),
                elide(&named.join(", "))
            )));
        };
        Ok(k)
    }
}

/// A column to write: numbers or text.
#[derive(Debug, Clone, Copy)]
pub enum Column<'a> {
    /// Numeric values, written in Rust's shortest round-trip form.
    Numbers(&'a [f64]),
    /// Text values.
    Text(&'a [&'a str]),
}

/// Writes named columns of equal length as a CSV file with a header row.
pub fn write_csv(path: &Path, columns: &[(&str, Column<'_>)]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    write_csv_to(std::io::BufWriter::new(file), columns)
        .map_err(|e| Error::Data(format!("{}: {e}", path.display())))
}

/// Writes named columns of equal length as CSV to any writer (a file, stdout).
pub fn write_csv_to<W: std::io::Write>(
    out: W,
    columns: &[(&str, Column<'_>)],
) -> std::result::Result<(), csv::Error> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(columns.iter().map(|(name, _)| *name))?;
    let rows = columns.first().map_or(0, |(_, c)| match c {
        Column::Numbers(v) => v.len(),
        Column::Text(v) => v.len(),
    });
    let mut line = Vec::with_capacity(columns.len());
    for i in 0..rows {
        line.clear();
        for (_, column) in columns {
            line.push(match column {
                Column::Numbers(v) => v[i].to_string(),
                Column::Text(v) => v[i].to_string(),
            });
        }
        writer.write_record(&line)?;
    }
    writer.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, text: &str) -> Result<Table> {
        let dir = std::env::temp_dir().join(format!("causim_csv_io_{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        read_csv(&path)
    }

    #[test]
    fn a_name_twice_in_the_header_is_an_error_with_both_positions() {
        let err = table("dup.csv", "a,b,a\n1,2,3\n").expect_err("duplicate");
        let msg = err.to_string();
        assert!(msg.contains("dup.csv: line 1"), "{msg}");
        assert!(
            msg.contains("column `a` twice, as columns 1 and 3"),
            "{msg}"
        );
    }

    #[test]
    fn bad_cells_name_their_row_and_line() {
        let t = table("cells.csv", "a,b,c\n1,2,3\n\"x\ny\",1e300,inf\n4,5,6\n").expect("reads");
        assert_eq!(t.rows(), 3);
        assert_eq!(t.row_label(2), "row 3 (line 5)");
        let msg = t.column("b").expect_err("too large").to_string();
        assert!(
            msg.contains("column `b`, row 2 (line 3) is 1e300, beyond ±1e150"),
            "{msg}"
        );
        let msg = t.column("c").expect_err("inf").to_string();
        assert!(msg.contains("`inf`, not a finite number"), "{msg}");
        assert!(t.column("").is_err());
    }

    #[test]
    fn lines_are_right_after_crlf_blank_lines_and_quoted_breaks() {
        let t = table(
            "lines.csv",
            "a,b\r\n1,2\r\n\r\n3,4\n\"x\ny\",5\n6,7\r\n8,9\n",
        )
        .expect("reads");
        let lines: Vec<u64> = (0..t.rows()).map(|i| t.line(i)).collect();
        assert_eq!(lines, [2, 4, 5, 7, 8]);
    }

    #[test]
    fn ragged_rows_name_their_line() {
        let msg = table("ragged.csv", "a,b\n1,2\n3\n")
            .expect_err("ragged")
            .to_string();
        assert!(
            msg.contains("ragged.csv: line 3: a row has 1 field but the header has 2"),
            "{msg}"
        );
    }
}
