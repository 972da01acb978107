//! CSV in and out. Reading parses every column as numbers up front but keeps
//! the first bad cell of each column (and its cells as text, for labels), so
//! that only the columns a user selects must be numeric, and a bad one is
//! reported with its row, line and value.
//! The header is checked at once: two columns with the same name are an
//! error, since either could be meant.
//!
//! A column of small whole numbers (every cell an integer from 0 to 255:
//! binary indicators, codes, counts) is kept as one byte per cell, so a wide
//! CSV of diagnosis codes takes an eighth of the memory of `f64` columns;
//! its values read back exactly.

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
    columns: Vec<std::result::Result<Numbers, TextColumn>>,
    /// The line of the file each data row starts on (1 is the header).
    lines: Vec<u64>,
}

/// A numeric column's values: one byte each while every cell is a whole
/// number from 0 to 255, `f64` once one is not.
#[derive(Debug, Clone, PartialEq)]
enum Numbers {
    /// Whole numbers from 0 to 255.
    Small(Vec<u8>),
    /// Any finite numbers.
    Values(Vec<f64>),
}

impl Numbers {
    /// Appends one cell's value.
    fn push(&mut self, value: f64, small: Option<u8>) {
        match (&mut *self, small) {
            (Numbers::Small(codes), Some(c)) => codes.push(c),
            (Numbers::Small(codes), None) => {
                let mut values: Vec<f64> = codes.iter().map(|&c| f64::from(c)).collect();
                values.push(value);
                *self = Numbers::Values(values);
            }
            (Numbers::Values(values), _) => values.push(value),
        }
    }

    /// The values as text, one per cell.
    fn texts(&self) -> Vec<String> {
        match self {
            Numbers::Small(codes) => codes.iter().map(u8::to_string).collect(),
            Numbers::Values(values) => values.iter().map(f64::to_string).collect(),
        }
    }
}

/// A cell's value as a small whole number (0 to 255, digits only), the
/// common case of a wide CSV, read without parsing a float.
fn small(text: &str) -> Option<u8> {
    (!text.is_empty() && text.len() <= 3 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse::<u8>().ok())
        .flatten()
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
    let mut columns: Vec<std::result::Result<Numbers, TextColumn>> = names
        .iter()
        .map(|_| Ok(Numbers::Small(Vec::new())))
        .collect();
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
            let code = small(text);
            match column {
                Ok(values) => match code.map_or_else(|| parse(text), |c| Ok(f64::from(c))) {
                    Ok(v) => values.push(v, code),
                    Err(problem) => {
                        let mut all = values.texts();
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

    /// A numeric column by name (borrowed, or converted from a small
    /// column's bytes); errors name a missing column (listing the available
    /// ones) or the first row whose cell is not a usable number (empty, not
    /// a finite number, or beyond ±[`MAX_MAGNITUDE`]).
    pub fn column(&self, name: &str) -> Result<std::borrow::Cow<'_, [f64]>> {
        let k = self.index(name)?;
        match &self.columns[k] {
            Ok(Numbers::Values(values)) => Ok(std::borrow::Cow::Borrowed(values)),
            Ok(Numbers::Small(codes)) => Ok(codes.iter().map(|&c| f64::from(c)).collect()),
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

    /// A column held as small whole numbers (every cell from 0 to 255), by
    /// name; `None` for any other column or a missing one. A reader of bin
    /// codes takes it as it is, without converting to `f64`.
    pub fn small_column(&self, name: &str) -> Option<&[u8]> {
        let k = self.index(name).ok()?;
        match &self.columns[k] {
            Ok(Numbers::Small(codes)) => Some(codes),
            _ => None,
        }
    }

    /// A column's cells as labels, numeric or not (a number in its shortest
    /// form): for grouping rows, e.g. into clusters. Errors name a missing
    /// column.
    pub fn labels(&self, name: &str) -> Result<Vec<String>> {
        Ok(match &self.columns[self.index(name)?] {
            Ok(values) => values.texts(),
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
    fn small_whole_numbers_are_kept_as_bytes_and_read_back_exactly() {
        let t = table(
            "small.csv",
            "code,count,mixed,neg\n0,255,1,0\n1,7,2.5,-1\n0,007,3,2\n",
        )
        .expect("reads");
        assert_eq!(t.small_column("code"), Some(&[0u8, 1, 0][..]));
        assert_eq!(t.small_column("count"), Some(&[255u8, 7, 7][..]));
        assert_eq!(t.small_column("mixed"), None, "2.5 turns it to f64");
        assert_eq!(t.small_column("neg"), None);
        assert_eq!(t.column("code").expect("numbers")[..], [0.0, 1.0, 0.0]);
        assert_eq!(t.column("mixed").expect("numbers")[..], [1.0, 2.5, 3.0]);
        assert_eq!(t.column("neg").expect("numbers")[..], [0.0, -1.0, 2.0]);
        assert_eq!(t.labels("count").expect("labels"), ["255", "7", "7"]);
        let t = table("late.csv", "a\n1\n0\nx\n").expect("reads");
        assert_eq!(t.labels("a").expect("labels"), ["1", "0", "x"]);
        assert!(t.column("a").is_err());
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
