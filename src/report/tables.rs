//! The report's tables, twice: raw numbers for the CSV files written beside
//! the report, and formatted rows (3-4 significant digits) for the HTML.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::core::Estimand;
use crate::record::Record;
use crate::spec::{Cell, Experiment};
use crate::stage::estimators::EstimatorResult;
use crate::summary::{Diagnosands, Mc, DIAGNOSANDS, IATE_DIAGNOSANDS};
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

/// One estimator's diagnosands in one cell, formatted.
#[derive(Debug, Serialize)]
pub(super) struct DiagnosandRow {
    pub estimator: String,
    pub estimand: String,
    pub truth: String,
    pub mean_estimate: String,
    pub bias: McText,
    pub rmse: McText,
    pub coverage: McText,
    pub ci_width: McText,
    pub power: McText,
    pub mean_se: String,
    pub sd_estimate: String,
    pub replications: usize,
    pub failures: usize,
}

/// The diagnosand rows of one cell under its label; empty when not run yet.
#[derive(Debug, Serialize)]
pub(super) struct DiagnosandGroup {
    pub label: String,
    pub rows: Vec<DiagnosandRow>,
}

/// One estimator's diagnostics: a row per cell, a column per diagnostic.
#[derive(Debug, Serialize)]
pub(super) struct DiagnosticsTable {
    pub estimator: String,
    pub table: HtmlTable,
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

/// "ATE" and "LATE" upper-case, other truth keys with spaces ("share complier").
fn truth_label(key: &str) -> String {
    match key {
        "ate" | "late" => key.to_uppercase(),
        other => other.replace('_', " "),
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

/// Every truth key recorded in any cell, in key order.
fn truth_keys(truths: &BTreeMap<usize, BTreeMap<String, f64>>) -> Vec<String> {
    let mut keys: Vec<String> = truths.values().flat_map(|m| m.keys().cloned()).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Records per cell.
pub(super) fn record_counts(records: &[Record]) -> HashMap<usize, usize> {
    let mut counts = HashMap::new();
    for r in records {
        *counts.entry(r.cell).or_insert(0) += 1;
    }
    counts
}

/// The cells table: cell, axis values, records, mean of each truth value.
pub(super) fn cells(
    experiment: &Experiment,
    records: &[Record],
    truths: &BTreeMap<usize, BTreeMap<String, f64>>,
) -> (Csv, HtmlTable) {
    let keys = truth_keys(truths);
    let counts = record_counts(records);
    let mut header = vec!["cell".to_string()];
    header.extend(axis_keys(experiment));
    header.push("records".into());
    let mut html_header = header.clone();
    header.extend(keys.iter().cloned());
    html_header.extend(keys.iter().map(|k| format!("mean {}", truth_label(k))));
    let (mut rows, mut html) = (Vec::new(), Vec::new());
    for cell in &experiment.cells {
        let count = counts.get(&cell.index).copied().unwrap_or(0);
        let mut row = vec![cell.index.to_string()];
        row.extend(axis_values(cell));
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
        html.push(HtmlRow {
            values: shown,
            pending: count == 0,
        });
    }
    let csv = Csv {
        name: "cells.csv".into(),
        header,
        rows,
    };
    (
        csv,
        HtmlTable {
            header: html_header,
            rows: html,
        },
    )
}

/// A diagnosand ± its Monte Carlo SE for reading, flagged when `warn`.
pub(super) fn mc_text(mc: Mc, warn: bool) -> McText {
    McText {
        value: sig(mc.value, 3),
        mcse: sig(mc.mcse, 2),
        warn,
    }
}

/// The diagnosands table: raw for CSV (with the per-unit diagnosands, empty
/// for estimators without them, so the columns never change), grouped by cell
/// for HTML. Coverage outside [0.90, 0.99] and a bias beyond 3 Monte Carlo
/// SEs are flagged.
pub(super) fn diagnosands(
    experiment: &Experiment,
    diagnosands: &[Diagnosands],
) -> (Csv, Vec<DiagnosandGroup>) {
    let kinds: HashMap<&str, &str> = experiment
        .estimators
        .iter()
        .map(|e| (e.name.as_str(), e.spec.kind()))
        .collect();
    let mut header: Vec<String> = vec!["cell".into()];
    header.extend(axis_keys(experiment));
    header.extend(
        [
            "estimator",
            "kind",
            "estimand",
            "replications",
            "failures",
            "truth",
            "mean_estimate",
            "mean_se",
            "sd_estimate",
        ]
        .map(String::from),
    );
    for (key, _) in DIAGNOSANDS.iter().chain(IATE_DIAGNOSANDS) {
        header.push(key.to_string());
        header.push(format!("{key}_mcse"));
    }
    let mut rows = Vec::new();
    let mut groups = Vec::new();
    for cell in &experiment.cells {
        let mut group = DiagnosandGroup {
            label: experiment.cell_label(cell),
            rows: Vec::new(),
        };
        for d in diagnosands.iter().filter(|d| d.cell == cell.index) {
            let mut row = vec![cell.index.to_string()];
            row.extend(axis_values(cell));
            row.extend([
                d.estimator.clone(),
                kinds
                    .get(d.estimator.as_str())
                    .copied()
                    .unwrap_or_default()
                    .to_string(),
                d.estimand.label().to_string(),
                d.replications.to_string(),
                d.failures.to_string(),
            ]);
            row.extend([d.truth, d.mean_estimate, d.mean_se, d.sd_estimate].map(raw));
            for (key, _) in DIAGNOSANDS.iter().chain(IATE_DIAGNOSANDS) {
                row.extend(mc_raw(d.get(key)));
            }
            rows.push(row);
            let coverage = d.coverage.value;
            group.rows.push(DiagnosandRow {
                estimator: d.estimator.clone(),
                estimand: d.estimand.label().to_string(),
                truth: sig(d.truth, 4),
                mean_estimate: sig(d.mean_estimate, 4),
                bias: mc_text(d.bias, d.bias.value.abs() > 3.0 * d.bias.mcse),
                rmse: mc_text(d.rmse, false),
                coverage: mc_text(
                    d.coverage,
                    !(0.90..=0.99).contains(&coverage) && coverage.is_finite(),
                ),
                ci_width: mc_text(d.ci_width, false),
                power: mc_text(d.power, false),
                mean_se: sig(d.mean_se, 3),
                sd_estimate: sig(d.sd_estimate, 3),
                replications: d.replications,
                failures: d.failures,
            });
        }
        groups.push(group);
    }
    (
        Csv {
            name: "diagnosands.csv".into(),
            header,
            rows,
        },
        groups,
    )
}

/// Mean of each diagnostic per (cell, estimator index) over the estimates made.
fn diagnostic_means(
    records: &[Record],
    results: &[Vec<EstimatorResult>],
) -> BTreeMap<(usize, usize), BTreeMap<String, f64>> {
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

/// The diagnostics table: one CSV over the union of diagnostics, and one HTML
/// table per estimator with its own diagnostics (estimators without any omitted).
pub(super) fn diagnostics(
    experiment: &Experiment,
    records: &[Record],
    results: &[Vec<EstimatorResult>],
) -> (Csv, Vec<DiagnosticsTable>) {
    let means = diagnostic_means(records, results);
    let mut all: Vec<String> = means.values().flat_map(|m| m.keys().cloned()).collect();
    all.sort();
    all.dedup();
    let mut header = vec!["cell".to_string()];
    header.extend(axis_keys(experiment));
    header.push("estimator".into());
    header.extend(all.iter().cloned());
    let mut rows = Vec::new();
    for cell in &experiment.cells {
        for (k, named) in experiment.estimators.iter().enumerate() {
            let Some(m) = means.get(&(cell.index, k)) else {
                continue;
            };
            let mut row = vec![cell.index.to_string()];
            row.extend(axis_values(cell));
            row.push(named.name.clone());
            row.extend(
                all.iter()
                    .map(|key| m.get(key).copied().map_or_else(String::new, raw)),
            );
            rows.push(row);
        }
    }
    let mut tables = Vec::new();
    for (k, named) in experiment.estimators.iter().enumerate() {
        let mut keys: Vec<String> = means
            .iter()
            .filter(|((_, j), _)| *j == k)
            .flat_map(|(_, m)| m.keys().cloned())
            .collect();
        keys.sort();
        keys.dedup();
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
                Some(HtmlRow {
                    values,
                    pending: false,
                })
            })
            .collect();
        tables.push(DiagnosticsTable {
            estimator: named.name.clone(),
            table: HtmlTable { header, rows },
        });
    }
    (
        Csv {
            name: "diagnostics.csv".into(),
            header,
            rows,
        },
        tables,
    )
}

/// The raw estimates: one row per task and estimator, with the truth of the
/// estimand it targets and the error of a failed fit.
pub(super) fn estimates(
    experiment: &Experiment,
    records: &[Record],
    results: &[Vec<EstimatorResult>],
) -> Csv {
    let header = [
        "cell",
        "replication",
        "estimator",
        "estimand",
        "truth",
        "estimate",
        "se",
        "ci_lower",
        "ci_upper",
        "error",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = Vec::new();
    for (record, results) in records.iter().zip(results) {
        for (k, result) in results.iter().enumerate() {
            let estimand: Option<Estimand> =
                result.estimate.as_ref().map(|e| e.estimand).or_else(|| {
                    experiment
                        .estimators
                        .get(k)
                        .map(|n| n.spec.estimator().estimand())
                });
            let truth = estimand.and_then(|e| record.truth.get(e.key())).copied();
            let mut row = vec![
                record.cell.to_string(),
                record.replication.to_string(),
                result.estimator.clone(),
                estimand.map_or("", |e| e.label()).to_string(),
                truth.map_or_else(String::new, raw),
            ];
            match &result.estimate {
                Some(e) => row.extend([e.estimate, e.se, e.ci_lower, e.ci_upper].map(raw)),
                None => row.extend((0..4).map(|_| String::new())),
            }
            row.push(result.error.clone().unwrap_or_default());
            rows.push(row);
        }
    }
    Csv {
        name: "estimates.csv".into(),
        header,
        rows,
    }
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
