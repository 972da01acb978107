//! The per-unit effects table: how well the estimators that estimate an
//! effect for every unit (forests) recover the true conditional effects,
//! raw for `iate.csv` and grouped by cell for HTML.

use std::collections::HashSet;

use serde::Serialize;

use super::tables::{axis_keys, axis_values, mc_raw, mc_text, Csv, McText};
use crate::spec::Experiment;
use crate::summary::{Diagnosands, IATE_DIAGNOSANDS};

/// The file name of the per-unit effects table inside a report folder.
pub(super) const CSV: &str = "iate.csv";

/// Per-unit coverage below this is flagged: forests' per-unit CIs are
/// expected to undercover slightly, so the bar is lower than for the ATE.
const LOW_COVERAGE: f64 = 0.80;
/// Per-unit coverage above this is flagged: the CIs are too wide.
const HIGH_COVERAGE: f64 = 0.99;

/// One estimator's per-unit diagnosands in one cell, formatted; `None`
/// where undefined (every fit failed, or no per-unit standard errors).
#[derive(Debug, Serialize)]
pub(super) struct IateRow {
    pub estimator: String,
    pub estimand: String,
    pub rmse: Option<McText>,
    pub coverage: Option<McText>,
    pub corr: Option<McText>,
}

/// The per-unit rows of one cell under its label; empty when not run yet.
#[derive(Debug, Serialize)]
pub(super) struct IateGroup {
    pub label: String,
    pub rows: Vec<IateRow>,
}

/// The per-unit effects table, with a row per cell and estimator that has
/// per-unit effects in some cell; `None` when no estimator has any.
pub(super) fn table(
    experiment: &Experiment,
    diagnosands: &[Diagnosands],
) -> Option<(Csv, Vec<IateGroup>)> {
    let per_unit: HashSet<&str> = diagnosands
        .iter()
        .filter(|d| d.iate_rmse.is_some())
        .map(|d| d.estimator.as_str())
        .collect();
    if per_unit.is_empty() {
        return None;
    }
    let mut header: Vec<String> = vec!["cell".into()];
    header.extend(axis_keys(experiment));
    header.extend(["estimator", "estimand"].map(String::from));
    for (key, _) in IATE_DIAGNOSANDS {
        header.push(key.to_string());
        header.push(format!("{key}_mcse"));
    }
    let mut rows = Vec::new();
    let mut groups = Vec::new();
    for cell in &experiment.cells {
        let mut group = IateGroup {
            label: experiment.cell_label(cell),
            rows: Vec::new(),
        };
        for d in diagnosands
            .iter()
            .filter(|d| d.cell == cell.index && per_unit.contains(d.estimator.as_str()))
        {
            let mut row = vec![cell.index.to_string()];
            row.extend(axis_values(cell));
            row.extend([d.estimator.clone(), d.estimand.label().to_string()]);
            for (key, _) in IATE_DIAGNOSANDS {
                row.extend(mc_raw(d.get(key)));
            }
            rows.push(row);
            group.rows.push(IateRow {
                estimator: d.estimator.clone(),
                estimand: d.estimand.label().to_string(),
                rmse: d.iate_rmse.map(|mc| mc_text(mc, false)),
                coverage: d.iate_coverage.map(|mc| {
                    let c = mc.value;
                    mc_text(
                        mc,
                        c.is_finite() && !(LOW_COVERAGE..=HIGH_COVERAGE).contains(&c),
                    )
                }),
                corr: d.iate_corr.map(|mc| mc_text(mc, false)),
            });
        }
        groups.push(group);
    }
    let csv = Csv {
        name: CSV.into(),
        header,
        rows,
    };
    Some((csv, groups))
}
