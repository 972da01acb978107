//! The diagnostics section: the mean over replications of what each
//! estimator reports about its own fit (first-stage F, partial R², arm
//! sizes), per cell; one `diagnostics.csv` over the union of diagnostics,
//! and one HTML table per estimator with its own.

use std::collections::BTreeMap;

use serde::Serialize;

use super::section::{Rendered, ReportInput, Section};
use super::tables::{cell_header, cell_values, raw, sig, Csv, HtmlRow, HtmlTable};
use crate::record::Record;
use crate::spec::Experiment;
use crate::stage::estimators::EstimatorResult;
use crate::Result;

/// The diagnostics section; hidden when the experiment has no estimators.
pub(super) struct Diagnostics;

/// The file the diagnostics are written to.
const CSV: &str = "diagnostics.csv";

/// The mean of each diagnostic per (cell, estimator index).
pub(super) type Means = BTreeMap<(usize, usize), BTreeMap<String, f64>>;

/// One estimator's diagnostics: a row per cell, a column per diagnostic.
#[derive(Debug, Serialize)]
struct DiagnosticsTable {
    estimator: String,
    table: HtmlTable,
}

/// What the diagnostics partial shows: the tables of the estimators that
/// report diagnostics, and how many records there are (to say why none do).
#[derive(Debug, Serialize)]
struct View {
    diagnostics: Vec<DiagnosticsTable>,
    recorded: usize,
}

impl Section for Diagnostics {
    fn id(&self) -> &'static str {
        "diagnostics"
    }

    fn template(&self) -> &'static str {
        include_str!("templates/sections/diagnostics.html.tera")
    }

    fn render(&self, input: &ReportInput) -> Result<Option<Rendered>> {
        if input.experiment.estimators.is_empty() {
            return Ok(None);
        }
        let means = diagnostic_means(&input.records, &input.results);
        let view = View {
            diagnostics: tables(&input.experiment, &means),
            recorded: input.records.len(),
        };
        Rendered::new(view, vec![csv(&input.experiment, &means)]).map(Some)
    }
}

/// Mean of each diagnostic per (cell, estimator index) over the estimates made.
pub(super) fn diagnostic_means(records: &[Record], results: &[Vec<EstimatorResult>]) -> Means {
    let mut sums: BTreeMap<(usize, usize), BTreeMap<String, (f64, usize)>> = BTreeMap::new();
    for (record, results) in records.iter().zip(results) {
        for (k, result) in results.iter().enumerate() {
            let Some(estimate) = &result.estimate else {
                continue;
            };
            let slot = sums.entry((record.cell, k)).or_default();
            for (key, value) in &estimate.diagnostics {
                let s = slot.entry(key.clone()).or_insert((0.0, 0));
                s.0 += value;
                s.1 += 1;
            }
        }
    }
    sums.into_iter()
        .map(|(at, m)| {
            (
                at,
                m.into_iter().map(|(k, (s, c))| (k, s / c as f64)).collect(),
            )
        })
        .collect()
}

/// The diagnostics' keys among `means` that `keep` accepts, sorted, once each.
fn keys(means: &Means, keep: impl Fn(usize) -> bool) -> Vec<String> {
    let mut keys: Vec<String> = means
        .iter()
        .filter(|((_, k), _)| keep(*k))
        .flat_map(|(_, m)| m.keys().cloned())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// One CSV over the union of diagnostics: a row per cell and estimator
/// that reported any.
fn csv(experiment: &Experiment, means: &Means) -> Csv {
    let all = keys(means, |_| true);
    let mut header = cell_header(experiment);
    header.push("estimator".into());
    header.extend(all.iter().cloned());
    let mut rows = Vec::new();
    for cell in &experiment.cells {
        for (k, named) in experiment.estimators.iter().enumerate() {
            let Some(m) = means.get(&(cell.index, k)) else {
                continue;
            };
            let mut row = cell_values(cell);
            row.push(named.name.clone());
            row.extend(
                all.iter()
                    .map(|key| m.get(key).copied().map_or_else(String::new, raw)),
            );
            rows.push(row);
        }
    }
    Csv {
        name: CSV.into(),
        header,
        rows,
    }
}

/// One HTML table per estimator with its own diagnostics (estimators
/// without any omitted).
fn tables(experiment: &Experiment, means: &Means) -> Vec<DiagnosticsTable> {
    let mut tables = Vec::new();
    for (k, named) in experiment.estimators.iter().enumerate() {
        let keys = keys(means, |j| j == k);
        if keys.is_empty() {
            continue;
        }
        let mut header = vec!["cell".to_string()];
        header.extend(
            keys.iter()
                .map(|key| format!("mean {}", key.replace('_', " "))),
        );
        let rows = experiment
            .cells
            .iter()
            .filter_map(|cell| {
                let m = means.get(&(cell.index, k))?;
                let mut values = vec![experiment.cell_label(cell)];
                values.extend(
                    keys.iter()
                        .map(|key| m.get(key).map_or_else(|| "–".into(), |v| sig(*v, 4))),
                );
                Some(HtmlRow::new(values, false))
            })
            .collect();
        tables.push(DiagnosticsTable {
            estimator: named.name.clone(),
            table: HtmlTable::bounded(header, rows, |_| String::new(), CSV),
        });
    }
    tables
}
