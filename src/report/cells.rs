//! The cells section: one row per cell of the sweep grid, with its axis
//! values, how many replications are recorded and the mean of each truth
//! value over them; written also as `cells.csv`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::section::{Rendered, ReportInput, Section};
use super::tables::{cell_header, cell_values, raw, record_counts, sig, Csv, HtmlRow, HtmlTable};
use crate::summary::truth_means;
use crate::Result;

/// The file the cells table is written to.
const CSV: &str = "cells.csv";

/// The cells section; always shown, so that cells not run yet are listed
/// too (a run of them as one row).
pub(super) struct Cells;

/// What the cells partial shows.
#[derive(Debug, Serialize)]
struct View {
    cells: HtmlTable,
}

impl Section for Cells {
    fn id(&self) -> &'static str {
        "cells"
    }

    fn template(&self) -> &'static str {
        include_str!("templates/sections/cells.html.tera")
    }

    fn render(&self, input: &ReportInput) -> Result<Option<Rendered>> {
        let (csv, cells) = table(input);
        Rendered::new(View { cells }, vec![csv]).map(Some)
    }
}

/// "ATE" and "LATE" upper-case, other truth keys with spaces ("share complier").
fn truth_label(key: &str) -> String {
    match key {
        "ate" | "late" => key.to_uppercase(),
        other => other.replace('_', " "),
    }
}

/// Every truth key recorded in any cell, in key order.
fn truth_keys(truths: &BTreeMap<usize, BTreeMap<String, f64>>) -> Vec<String> {
    let mut keys: Vec<String> = truths.values().flat_map(|m| m.keys().cloned()).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The cells table: cell, axis values, records, mean of each truth value.
fn table(input: &ReportInput) -> (Csv, HtmlTable) {
    let experiment = &input.experiment;
    let truths = truth_means(&input.records);
    let keys = truth_keys(&truths);
    let counts = record_counts(&input.records);
    let mut header = cell_header(experiment);
    header.push("records".into());
    let mut html_header = header.clone();
    header.extend(keys.iter().cloned());
    html_header.extend(keys.iter().map(|k| format!("mean {}", truth_label(k))));
    let (mut rows, mut html) = (Vec::new(), Vec::new());
    for cell in &experiment.cells {
        let count = counts.get(&cell.index).copied().unwrap_or(0);
        let mut row = cell_values(cell);
        row.push(count.to_string());
        let mut shown = row.clone();
        let means = truths.get(&cell.index);
        for key in &keys {
            let mean = means.and_then(|m| m.get(key)).copied();
            row.push(mean.map_or_else(String::new, raw));
            shown.push(match mean {
                Some(m) => sig(m, 4),
                None if count == 0 => "not run yet".into(),
                None => "–".into(),
            });
        }
        rows.push(row);
        html.push(HtmlRow::new(shown, count == 0));
    }
    let csv = Csv {
        name: CSV.into(),
        header,
        rows,
    };
    let cells = &experiment.cells;
    let label = |i: usize| {
        cells.get(i).map_or_else(String::new, |c| {
            format!("cell {} ({})", c.index, experiment.cell_label(c))
        })
    };
    let table = HtmlTable::bounded(html_header, html, label, CSV);
    (csv, table)
}
