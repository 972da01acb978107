//! The diagnosands section: per cell and estimator, the truth, the mean
//! estimate, the mean-based and the robust diagnosands, each ± its Monte
//! Carlo SE (a share with its Wilson interval); raw for `diagnosands.csv`
//! (with the per-unit diagnosands, empty for estimators without them, so
//! the columns never change), grouped by cell for HTML. Coverage outside
//! [0.90, 0.99] and a mean or median bias beyond 3 Monte Carlo SEs are
//! flagged.

use std::collections::HashMap;

use serde::Serialize;

use super::section::{Rendered, ReportInput, Section};
use super::tables::{
    bounded_groups, cell_header, cell_values, mc_raw, mc_text, notes, raw, sig, Csv, Group, McText,
    More, Note,
};
use super::verdict::covers_nominal;
use crate::spec::Cell;
use crate::summary::{Diagnosands, DIAGNOSANDS, IATE_DIAGNOSANDS, SET_DIAGNOSANDS, SHARES};
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
    pub median_bias: McText,
    pub rmse: McText,
    pub median_abs_error: McText,
    pub iqr: McText,
    pub far: McText,
    pub coverage: McText,
    pub ci_width: McText,
    pub power: McText,
    pub ar_coverage: Option<McText>,
    pub ar_unbounded: Option<String>,
    pub mean_se: String,
    pub sd_estimate: String,
    pub replications: usize,
    pub failures: usize,
}

/// The file the diagnosands are written to.
const CSV: &str = "diagnosands.csv";

/// What the diagnosands partial shows: the rows of each cell under its
/// label (none when not run yet; a run of such cells as one group), the
/// line about rows left out, and the legend.
#[derive(Debug, Serialize)]
struct View {
    diagnosands: Vec<Group<DiagnosandRow>>,
    more: Option<More>,
    diagnosand_notes: Vec<Note>,
    far: String,
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
        let mut by_cell: HashMap<usize, Vec<&Diagnosands>> = HashMap::new();
        for d in &input.diagnosands {
            by_cell.entry(d.cell).or_default().push(d);
        }
        let mut rows = Vec::new();
        let mut groups = Vec::new();
        for cell in &input.experiment.cells {
            let mut group = Group {
                label: input.experiment.cell_label(cell),
                rows: Vec::new(),
            };
            for d in by_cell.get(&cell.index).into_iter().flatten() {
                let kind = kinds.get(d.estimator.as_str()).copied().unwrap_or_default();
                rows.push(csv_row(cell, kind, d));
                group.rows.push(html_row(d));
            }
            groups.push(group);
        }
        let mut header = cell_header(&input.experiment);
        header.extend(COLUMNS.map(String::from));
        for (key, _) in DIAGNOSANDS
            .iter()
            .chain(SET_DIAGNOSANDS)
            .chain(IATE_DIAGNOSANDS)
        {
            header.push(key.to_string());
            header.push(format!("{key}_mcse"));
            if SHARES.contains(key) {
                header.push(format!("{key}_low"));
                header.push(format!("{key}_high"));
            }
        }
        let csv = Csv {
            name: CSV.into(),
            header,
            rows,
        };
        let (diagnosands, more) = bounded_groups(groups, CSV);
        let view = View {
            diagnosands,
            more,
            diagnosand_notes: notes(&[DIAGNOSANDS, SET_DIAGNOSANDS].concat()),
            far: sig(input.experiment.report.far(), 3),
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
    for (key, _) in DIAGNOSANDS
        .iter()
        .chain(SET_DIAGNOSANDS)
        .chain(IATE_DIAGNOSANDS)
    {
        let mc = d.get(key);
        row.extend(mc_raw(mc));
        if SHARES.contains(key) {
            let [low, high] = mc.and_then(|m| m.interval).map_or([f64::NAN; 2], |i| i);
            row.extend([raw(low), raw(high)]);
        }
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
        bias: mc_text(d.bias, !d.bias.near(0.0, 3.0) && d.bias.mcse.is_finite()),
        median_bias: mc_text(
            d.median_bias,
            !d.median_bias.near(0.0, 3.0) && d.median_bias.mcse.is_finite(),
        ),
        rmse: mc_text(d.rmse, false),
        median_abs_error: mc_text(d.median_abs_error, false),
        iqr: mc_text(d.iqr, false),
        far: mc_text(d.far, false),
        coverage: mc_text(
            d.coverage,
            !(0.90..=0.99).contains(&coverage) && coverage.is_finite(),
        ),
        ci_width: mc_text(d.ci_width, false),
        power: mc_text(d.power, false),
        ar_coverage: d
            .ar_coverage
            .map(|c| mc_text(c, covers_nominal(&c) == Some(false))),
        ar_unbounded: d.ar_unbounded.map(|u| sig(u.value, 2)),
        mean_se: sig(d.mean_se, 3),
        sd_estimate: sig(d.sd_estimate, 3),
        replications: d.replications,
        failures: d.failures,
    }
}
