//! The diagnosands section: per cell and estimator, the truth, the mean
//! estimate, bias, RMSE, coverage, CI width and power, each ± its Monte Carlo
//! SE; raw for `diagnosands.csv` (with the per-unit diagnosands, empty for
//! estimators without them, so the columns never change), grouped by cell
//! for HTML. Coverage outside [0.90, 0.99] and a bias beyond 3 Monte Carlo
//! SEs are flagged.

use std::collections::HashMap;

use serde::Serialize;

use super::section::{Rendered, ReportInput, Section};
use super::tables::{
    cell_header, cell_values, mc_raw, mc_text, notes, raw, sig, Csv, McText, Note,
};
use crate::spec::Cell;
use crate::summary::{Diagnosands, DIAGNOSANDS, IATE_DIAGNOSANDS};
use crate::Result;

/// The diagnosands section; hidden when the experiment has no estimators.
pub(super) struct DiagnosandTable;

/// One estimator's diagnosands in one cell, formatted.
#[derive(Debug, Serialize)]
struct DiagnosandRow {
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
struct DiagnosandGroup {
    pub label: String,
    pub rows: Vec<DiagnosandRow>,
}

/// What the diagnosands partial shows: the groups and the legend.
#[derive(Debug, Serialize)]
struct View {
    diagnosands: Vec<DiagnosandGroup>,
    diagnosand_notes: Vec<Note>,
}

impl Section for DiagnosandTable {
    fn id(&self) -> &'static str {
        "diagnosands"
    }

    fn template(&self) -> &'static str {
        include_str!("templates/sections/diagnosands.html.tera")
    }

    fn render(&self, input: &ReportInput) -> Result<Option<Rendered>> {
        if input.experiment.estimators.is_empty() {
            return Ok(None);
        }
        let kinds: HashMap<&str, &str> = input
            .experiment
            .estimators
            .iter()
            .map(|e| (e.name.as_str(), e.spec.kind()))
            .collect();
        let mut rows = Vec::new();
        let mut groups = Vec::new();
        for cell in &input.experiment.cells {
            let mut group = DiagnosandGroup {
                label: input.experiment.cell_label(cell),
                rows: Vec::new(),
            };
            for d in input.diagnosands.iter().filter(|d| d.cell == cell.index) {
                let kind = kinds.get(d.estimator.as_str()).copied().unwrap_or_default();
                rows.push(csv_row(cell, kind, d));
                group.rows.push(html_row(d));
            }
            groups.push(group);
        }
        let mut header = cell_header(&input.experiment);
        header.extend(COLUMNS.map(String::from));
        for (key, _) in DIAGNOSANDS.iter().chain(IATE_DIAGNOSANDS) {
            header.push(key.to_string());
            header.push(format!("{key}_mcse"));
        }
        let csv = Csv {
            name: "diagnosands.csv".into(),
            header,
            rows,
        };
        let view = View {
            diagnosands: groups,
            diagnosand_notes: notes(DIAGNOSANDS),
        };
        Rendered::new(view, vec![csv]).map(Some)
    }
}

/// The CSV columns between the cell's and the diagnosands'.
const COLUMNS: [&str; 9] = [
    "estimator",
    "kind",
    "estimand",
    "replications",
    "failures",
    "truth",
    "mean_estimate",
    "mean_se",
    "sd_estimate",
];

/// One estimator's diagnosands in one cell, raw for the CSV.
fn csv_row(cell: &Cell, kind: &str, d: &Diagnosands) -> Vec<String> {
    let mut row = cell_values(cell);
    row.extend([
        d.estimator.clone(),
        kind.to_string(),
        d.estimand.label().to_string(),
        d.replications.to_string(),
        d.failures.to_string(),
    ]);
    row.extend([d.truth, d.mean_estimate, d.mean_se, d.sd_estimate].map(raw));
    for (key, _) in DIAGNOSANDS.iter().chain(IATE_DIAGNOSANDS) {
        row.extend(mc_raw(d.get(key)));
    }
    row
}

/// One estimator's diagnosands in one cell, formatted and flagged.
fn html_row(d: &Diagnosands) -> DiagnosandRow {
    let coverage = d.coverage.value;
    DiagnosandRow {
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
    }
}
