//! What the report's tables share: a table as CSV and as HTML, the two ways
//! of writing a number (raw for the CSV files written beside the report,
//! 3-4 significant digits for the HTML), and a cell's leading columns.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::record::Record;
use crate::spec::{Cell, Experiment};
use crate::summary::Mc;
use crate::{Error, Result};

/// A table as written to CSV: a file name, a header and rows of text.
pub(super) struct Csv {
    pub name: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    /// Writes the table into `dir` under its name.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(&self.name);
        let io = |e: csv::Error| match e.into_kind() {
            csv::ErrorKind::Io(e) => Error::io(&path, e),
            other => Error::Report(format!("{}: {other:?}", path.display())),
        };
        let mut writer = csv::Writer::from_path(&path).map_err(io)?;
        writer.write_record(&self.header).map_err(io)?;
        for row in &self.rows {
            writer.write_record(row).map_err(io)?;
        }
        writer.flush().map_err(|e| Error::io(&path, e))
    }
}

/// A table for the HTML report: a header and rows of formatted text.
#[derive(Debug, Serialize)]
pub(super) struct HtmlTable {
    pub header: Vec<String>,
    pub rows: Vec<HtmlRow>,
}

/// One formatted row; `pending` marks a cell that has no records yet.
#[derive(Debug, Serialize)]
pub(super) struct HtmlRow {
    pub values: Vec<String>,
    pub pending: bool,
}

/// A value ± its Monte Carlo standard error, flagged when it signals a problem.
#[derive(Debug, Serialize)]
pub(super) struct McText {
    pub value: String,
    pub mcse: String,
    pub warn: bool,
}

/// A number in CSV: shortest round-trip text, empty when undefined.
pub(super) fn raw(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        x.to_string()
    }
}

/// A diagnosand and its Monte Carlo SE in CSV, both empty when undefined.
pub(super) fn mc_raw(mc: Option<Mc>) -> [String; 2] {
    mc.map_or_else(Default::default, |mc| [raw(mc.value), raw(mc.mcse)])
}

/// A number for reading: `digits` significant digits, "–" when undefined.
pub(super) fn sig(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "–".into()
        } else {
            x.to_string()
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    let magnitude = x.abs().log10().floor();
    if !(-3.0..5.0).contains(&magnitude) {
        return format!("{x:.prec$e}", prec = digits.saturating_sub(1));
    }
    let decimals = (digits as f64 - 1.0 - magnitude).max(0.0) as usize;
    format!("{x:.decimals$}")
}

/// An axis value as a user wrote it, strings without quotes.
pub(super) fn show_value(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A cell's axis values as written, in axis order.
pub(super) fn axis_values(cell: &Cell) -> Vec<String> {
    cell.values.iter().map(show_value).collect()
}

/// The swept axes' keys: the columns that place a cell in the grid.
pub(super) fn axis_keys(experiment: &Experiment) -> Vec<String> {
    experiment.axes.iter().map(|a| a.key.clone()).collect()
}

/// Records per cell.
pub(super) fn record_counts(records: &[Record]) -> HashMap<usize, usize> {
    let mut counts = HashMap::new();
    for r in records {
        *counts.entry(r.cell).or_insert(0) += 1;
    }
    counts
}

/// A diagnosand ± its Monte Carlo SE for reading, flagged when `warn`.
pub(super) fn mc_text(mc: Mc, warn: bool) -> McText {
    McText {
        value: sig(mc.value, 3),
        mcse: sig(mc.mcse, 2),
        warn,
    }
}

/// A measure's key and what it measures, for the legend under a table.
#[derive(Debug, Serialize)]
pub(super) struct Note {
    pub key: String,
    pub description: String,
}

/// The notes of a list of (key, description) measures.
pub(super) fn notes(measures: &[(&str, &str)]) -> Vec<Note> {
    measures
        .iter()
        .map(|(key, description)| Note {
            key: key.to_string(),
            description: description.to_string(),
        })
        .collect()
}

/// The leading CSV columns of a per-cell table: the cell and the swept axes.
pub(super) fn cell_header(experiment: &Experiment) -> Vec<String> {
    let mut header = vec!["cell".to_string()];
    header.extend(axis_keys(experiment));
    header
}

/// The leading CSV values of a row of `cell`: its index and axis values.
pub(super) fn cell_values(cell: &Cell) -> Vec<String> {
    let mut row = vec![cell.index.to_string()];
    row.extend(axis_values(cell));
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits() {
        assert_eq!(sig(0.012345, 3), "0.0123");
        assert_eq!(sig(1.23456, 4), "1.235");
        assert_eq!(sig(123.456, 3), "123");
        assert_eq!(sig(-0.95, 3), "-0.950");
        assert_eq!(sig(0.0, 3), "0");
        assert_eq!(sig(f64::NAN, 3), "–");
        assert_eq!(sig(1.5e-5, 2), "1.5e-5");
        assert_eq!(raw(f64::NAN), "");
        assert_eq!(raw(0.5), "0.5");
    }
}
