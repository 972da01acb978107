//! What the report's tables share: a table as CSV and as HTML, the two ways
//! of writing a number (raw for the CSV files written beside the report,
//! 3-4 significant digits for the HTML), a cell's leading columns, and the
//! bounds that keep a page readable whatever the sweep: cells not run yet
//! are listed as runs, not one by one, and a table shows at most
//! [`ROW_LIMIT`] rows, then says how many more its CSV holds.

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

/// Most rows a table of the page shows (a group's heading counts as one);
/// the CSV beside the page holds them all.
pub(super) const ROW_LIMIT: usize = 200;

/// The line that closes a table cut at [`ROW_LIMIT`]: what is not shown
/// and the CSV that holds it.
#[derive(Debug, Serialize)]
pub(super) struct More {
    /// What is left out, as a sentence's subject: "9,950 more cells (39,800 rows)".
    pub text: String,
    /// The CSV file with every row.
    pub csv: String,
}

/// A table for the HTML report: a header, rows of formatted text and, when
/// it was cut, the line saying what is left out.
#[derive(Debug, Serialize)]
pub(super) struct HtmlTable {
    pub header: Vec<String>,
    pub rows: Vec<HtmlRow>,
    pub more: Option<More>,
}

/// One formatted row; `pending` marks a cell that has no records yet, and
/// `span` a row whose one value spans the table (a run of such cells).
#[derive(Debug, Serialize)]
pub(super) struct HtmlRow {
    pub values: Vec<String>,
    pub pending: bool,
    pub span: bool,
}

impl HtmlRow {
    /// A row of values.
    pub fn new(values: Vec<String>, pending: bool) -> HtmlRow {
        HtmlRow {
            values,
            pending,
            span: false,
        }
    }
}

impl HtmlTable {
    /// A table of `rows` as the page shows it: each run of two or more
    /// pending rows (cells not run yet, labelled by `label`) as one row,
    /// then at most [`ROW_LIMIT`] rows, with the line about the rest of
    /// `csv`.
    pub fn bounded(
        header: Vec<String>,
        rows: Vec<HtmlRow>,
        label: impl Fn(usize) -> String,
        csv: &str,
    ) -> HtmlTable {
        let mut merged: Vec<(HtmlRow, usize)> = Vec::new();
        let mut at = 0;
        let mut rows = rows.into_iter().peekable();
        while let Some(row) = rows.next() {
            let mut run = 1;
            while row.pending && rows.peek().is_some_and(|r| r.pending) {
                rows.next();
                run += 1;
            }
            if run == 1 {
                merged.push((row, 1));
            } else {
                let text = format!(
                    "{} cells not run yet, from {} to {}",
                    count(run),
                    label(at),
                    label(at + run - 1)
                );
                let row = HtmlRow {
                    values: vec![text],
                    pending: true,
                    span: true,
                };
                merged.push((row, run));
            }
            at += run;
        }
        let left: usize = merged.iter().skip(ROW_LIMIT).map(|(_, n)| n).sum();
        merged.truncate(ROW_LIMIT);
        HtmlTable {
            header,
            rows: merged.into_iter().map(|(row, _)| row).collect(),
            more: (left > 0).then(|| More {
                text: format!("{} more cells", count(left)),
                csv: csv.to_string(),
            }),
        }
    }
}

/// The rows of one cell under its heading; a heading of "" is not shown
/// (a table with one cell).
#[derive(Debug, Serialize)]
pub(super) struct Group<T> {
    pub label: String,
    pub rows: Vec<T>,
}

/// Groups as the page shows them: each run of two or more groups without
/// rows (cells not run yet) as one, labelled by its count and ends; then
/// the first groups that fit in [`ROW_LIMIT`] rows (a heading, and a
/// group without rows, count as one), with the line about the rest of
/// `csv`. A first group longer than the limit is cut itself.
pub(super) fn bounded_groups<T>(groups: Vec<Group<T>>, csv: &str) -> (Vec<Group<T>>, Option<More>) {
    let mut merged: Vec<(Group<T>, usize)> = Vec::new();
    let mut groups = groups.into_iter().peekable();
    while let Some(group) = groups.next() {
        if !group.rows.is_empty() || !groups.peek().is_some_and(|g| g.rows.is_empty()) {
            merged.push((group, 1));
            continue;
        }
        let mut last = group.label.clone();
        let mut run = 1;
        while let Some(next) = groups.next_if(|g| g.rows.is_empty()) {
            last = next.label;
            run += 1;
        }
        let label = format!("{} cells, from {} to {last}", count(run), group.label);
        merged.push((
            Group {
                label,
                rows: Vec::new(),
            },
            run,
        ));
    }
    let (mut shown, mut used) = (Vec::new(), 0);
    let (mut cells, mut rows) = (0, 0);
    for (mut group, run) in merged {
        let heading = usize::from(!group.label.is_empty());
        let height = heading + group.rows.len().max(1);
        if cells == 0 && used + height <= ROW_LIMIT {
            used += height;
            shown.push(group);
        } else if cells == 0 && shown.is_empty() {
            let keep = ROW_LIMIT - heading;
            rows += group.rows.len().saturating_sub(keep);
            group.rows.truncate(keep);
            used = ROW_LIMIT;
            shown.push(group);
        } else {
            cells += run;
            rows += group.rows.len();
        }
    }
    let text = match (cells, rows) {
        (0, 0) => None,
        (0, rows) => Some(format!("{} more rows", count(rows))),
        (cells, 0) => Some(format!("{} more cells, not run yet,", count(cells))),
        (cells, rows) => Some(format!(
            "{} more cells ({} rows)",
            count(cells),
            count(rows)
        )),
    };
    let more = text.map(|text| More {
        text,
        csv: csv.to_string(),
    });
    (shown, more)
}

/// A count with thousands separators: 39,996.
pub(super) fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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

/// A diagnosand ± its Monte Carlo SE for reading (a share with its 95%
/// interval instead, which a zero SE at 0 or 1 would misstate), flagged
/// when `warn`.
pub(super) fn mc_text(mc: Mc, warn: bool) -> McText {
    let mcse = match mc.interval {
        Some([low, high]) => format!("[{}, {}]", sig(low, 2), sig(high, 2)),
        None => format!("± {}", sig(mc.mcse, 2)),
    };
    McText {
        value: sig(mc.value, 3),
        mcse,
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
        assert_eq!(count(39_996), "39,996");
        assert_eq!(count(1_000_000), "1,000,000");
        assert_eq!(count(7), "7");
    }

    fn group(label: &str, rows: usize) -> Group<usize> {
        Group {
            label: label.into(),
            rows: (0..rows).collect(),
        }
    }

    #[test]
    fn runs_of_pending_cells_merge_and_long_tables_are_cut() {
        let groups = vec![
            group("a", 2),
            group("b", 0),
            group("c", 0),
            group("d", 0),
            group("e", 1),
            group("f", 0),
        ];
        let (shown, more) = bounded_groups(groups, "x.csv");
        let labels: Vec<&str> = shown.iter().map(|g| g.label.as_str()).collect();
        assert_eq!(labels, ["a", "3 cells, from b to d", "e", "f"]);
        assert!(more.is_none());

        let groups = (0..500).map(|i| group(&i.to_string(), 3)).collect();
        let (shown, more) = bounded_groups(groups, "x.csv");
        assert_eq!(shown.len(), 50);
        let more = more.expect("cut");
        assert_eq!(
            (more.text.as_str(), more.csv.as_str()),
            ("450 more cells (1,350 rows)", "x.csv")
        );

        let (shown, more) = bounded_groups(vec![group("", 1000)], "x.csv");
        assert_eq!(shown[0].rows.len(), ROW_LIMIT);
        assert_eq!(more.expect("cut").text, "800 more rows");
    }

    #[test]
    fn a_flat_table_lists_pending_cells_as_runs() {
        let mut rows: Vec<HtmlRow> = (0..3)
            .map(|i| HtmlRow::new(vec![i.to_string()], false))
            .collect();
        rows.extend((3..40_000).map(|i| HtmlRow::new(vec![i.to_string()], true)));
        let table = HtmlTable::bounded(
            vec!["cell".into()],
            rows,
            |i| format!("cell {i}"),
            "cells.csv",
        );
        assert_eq!(table.rows.len(), 4);
        assert!(table.rows[3].span);
        assert_eq!(
            table.rows[3].values,
            ["39,997 cells not run yet, from cell 3 to cell 39999"]
        );
        assert!(table.more.is_none());

        let rows = (0..1000)
            .map(|i| HtmlRow::new(vec![i.to_string()], false))
            .collect();
        let table = HtmlTable::bounded(Vec::new(), rows, |i| i.to_string(), "cells.csv");
        assert_eq!(table.rows.len(), ROW_LIMIT);
        assert_eq!(table.more.expect("cut").text, "800 more cells");
    }
}
