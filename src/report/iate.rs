//! The per-unit effects table: how well the estimators that estimate an
//! effect for every unit (forests) recover the true conditional effects,
//! raw for `iate.csv` and grouped by cell for HTML.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::section::{Rendered, ReportInput, Section};
use super::tables::{
    bounded_groups, cell_header, cell_values, mc_raw, mc_text, notes, Csv, Group, McText, More,
    Note,
};
use crate::spec::Experiment;
use crate::summary::{Diagnosands, IATE_DIAGNOSANDS};
use crate::Result;

/// The file name of the per-unit effects table inside a report folder.
const CSV: &str = "iate.csv";

/// The per-unit effects section; hidden when no estimator has per-unit effects.
pub(super) struct PerUnit;

/// What the per-unit partial shows: the groups, the line about rows left
/// out, and the legend.
#[derive(Debug, Serialize)]
struct View {
    iate: Vec<Group<IateRow>>,
    more: Option<More>,
    iate_notes: Vec<Note>,
}

impl Section for PerUnit {
    fn id(&self) -> &'static str {
        "iate"
    }

    fn template(&self) -> &'static str {
        include_str!("templates/sections/iate.html.tera")
    }

    fn render(&self, input: &ReportInput) -> Result<Option<Rendered>> {
        let Some((csv, iate)) = table(&input.experiment, &input.diagnosands) else {
            return Ok(None);
        };
        let (iate, more) = bounded_groups(iate, CSV);
        let view = View {
            iate,
            more,
            iate_notes: notes(IATE_DIAGNOSANDS),
        };
        Rendered::new(view, vec![csv]).map(Some)
    }
}

/// Per-unit coverage below this is flagged: forests' per-unit CIs are
/// expected to undercover slightly, so the bar is lower than for the ATE.
const LOW_COVERAGE: f64 = 0.80;
/// Per-unit coverage above this is flagged: the CIs are too wide.
const HIGH_COVERAGE: f64 = 0.99;

/// One estimator's per-unit diagnosands in one cell, formatted; `None`
/// where undefined (every fit failed, or no per-unit standard errors).
#[derive(Debug, Serialize)]
struct IateRow {
    pub estimator: String,
    pub estimand: String,
    pub rmse: Option<McText>,
    pub coverage: Option<McText>,
    pub corr: Option<McText>,
}

/// The per-unit effects table, with a row per cell and estimator that has
/// per-unit effects in some cell; `None` when no estimator has any.
fn table(
    experiment: &Experiment,
    diagnosands: &[Diagnosands],
) -> Option<(Csv, Vec<Group<IateRow>>)> {
    let per_unit: HashSet<&str> = diagnosands
        .iter()
        .filter(|d| d.iate_rmse.is_some())
        .map(|d| d.estimator.as_str())
        .collect();
    if per_unit.is_empty() {
        return None;
    }
    let mut header = cell_header(experiment);
    header.extend(["estimator", "estimand"].map(String::from));
    for (key, _) in IATE_DIAGNOSANDS {
        header.push(key.to_string());
        header.push(format!("{key}_mcse"));
    }
    let mut by_cell: HashMap<usize, Vec<&Diagnosands>> = HashMap::new();
    for d in diagnosands {
        if per_unit.contains(d.estimator.as_str()) {
            by_cell.entry(d.cell).or_default().push(d);
        }
    }
    let mut rows = Vec::new();
    let mut groups = Vec::new();
    for cell in &experiment.cells {
        let mut group = Group {
            label: experiment.cell_label(cell),
            rows: Vec::new(),
        };
        for d in by_cell.get(&cell.index).into_iter().flatten() {
            let mut row = cell_values(cell);
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
