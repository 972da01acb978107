//! CSV in and out. Reading parses every column as numbers up front but keeps
//! the first bad cell of each column, so that only the columns a user selects
//! must be numeric, and a bad one is reported with its row and value.

use std::path::Path;

use crate::{Error, Result};

/// A cell that is not a finite number: its 1-based data row and raw text.
#[derive(Debug, Clone, PartialEq)]
struct BadCell {
    row: usize,
    text: String,
}

/// A CSV file read into numeric columns.
#[derive(Debug, Clone)]
pub struct Table {
    path: String,
    names: Vec<String>,
    columns: Vec<std::result::Result<Vec<f64>, BadCell>>,
    rows: usize,
}

/// Reads a CSV file with a header row.
pub fn read_csv(path: &Path) -> Result<Table> {
    let shown = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| Error::Data(format!("{shown}: {e}")))?;
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| Error::Data(format!("{shown}: cannot read the header row: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return Err(Error::Data(format!("{shown}: the file has no header row")));
    }
    let mut columns: Vec<std::result::Result<Vec<f64>, BadCell>> =
        names.iter().map(|_| Ok(Vec::new())).collect();
    let mut rows = 0;
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Error::Data(format!("{shown}: {e}")))?;
        rows += 1;
        for (column, text) in columns.iter_mut().zip(record.iter()) {
            if let Ok(values) = column {
                match text.parse::<f64>() {
                    Ok(v) if v.is_finite() => values.push(v),
                    _ => {
                        *column = Err(BadCell {
                            row: i + 1,
                            text: text.to_string(),
                        })
                    }
                }
            }
        }
    }
    if rows == 0 {
        return Err(Error::Data(format!(
            "{shown}: the file has a header but no data rows"
        )));
    }
    Ok(Table {
        path: shown,
        names,
        columns,
        rows,
    })
}

impl Table {
    /// Column names in file order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of data rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// A numeric column by name; errors name a missing column (listing the
    /// available ones) or the first row whose cell is not a finite number.
    pub fn column(&self, name: &str) -> Result<&[f64]> {
        let Some(k) = self.names.iter().position(|n| n == name) else {
            return Err(Error::Data(format!(
                "{}: no column `{name}`; the columns are: {}",
                self.path,
                self.names.join(", ")
            )));
        };
        match &self.columns[k] {
            Ok(values) => Ok(values),
            Err(bad) => {
                let what = if bad.text.is_empty() {
                    "is empty".to_string()
                } else {
                    format!("is `{}`, not a finite number", bad.text)
                };
                Err(Error::Data(format!(
                    "{}: column `{name}`, row {} (line {}) {what}; fix or drop that row, \
                     or leave the column out of the model",
                    self.path,
                    bad.row,
                    bad.row + 1
                )))
            }
        }
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
