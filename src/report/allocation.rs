//! The allocation policies' section: per cell and policy, the gain the
//! estimates promised, the gain the world gave, the oracle's, the regret,
//! and the Gini coefficient of the per-head resource level before and after,
//! each the mean over replications ± its Monte Carlo SE; raw for
//! `allocation.csv`, grouped by cell for HTML, with a figure of estimated
//! against true gain.

use serde::Serialize;

use super::plot::{render_svg, Figure, Panel, Point};
use super::tables::{axis_keys, axis_values, mc_raw, mc_text, Csv, McText};
use crate::core::stats::Z_95;
use crate::evaluate::allocation::AllocationSummary;
use crate::record::Record;
use crate::spec::Experiment;
use crate::summary::{mean_mc, Mc};
use crate::Result;

/// The file name of the allocation table inside a report folder.
pub(super) const CSV: &str = "allocation.csv";

/// The measures of an allocation, as (key, description) for the CSV and the legend.
pub(super) const MEASURES: &[(&str, &str)] = &[
    (
        "estimated_gain",
        "total health gain the estimator's effects promise for its allocation",
    ),
    (
        "true_gain",
        "total health gain the allocation truly gives (the world's per-region effects)",
    ),
    (
        "oracle_gain",
        "true gain of the best allocation under the same budget, caps and floor",
    ),
    ("regret", "oracle less true gain: what the estimates cost"),
    (
        "robust_gain",
        "with robust = true, the allocation's gain at the chosen quantile of fresh draws",
    ),
    ("units", "resource units allocated"),
    ("funded", "regions that received at least one unit"),
    (
        "gini_before",
        "Gini coefficient of the per-head resource level before the allocation",
    ),
    ("gini_after", "the same after it"),
];

/// One policy in one cell, formatted.
#[derive(Debug, Serialize)]
pub(super) struct AllocationRow {
    pub policy: String,
    pub replications: usize,
    pub failures: usize,
    pub measures: Vec<Option<McText>>,
}

/// The rows of one cell under its label.
#[derive(Debug, Serialize)]
pub(super) struct AllocationGroup {
    pub label: String,
    pub rows: Vec<AllocationRow>,
}

/// The section: legend, groups, first failure and the figure.
#[derive(Debug, Serialize)]
pub(super) struct AllocationView {
    pub notes: Vec<super::Note>,
    pub groups: Vec<AllocationGroup>,
    pub first_error: Option<String>,
    pub svg: Option<String>,
}

/// Each measure of one replication's summary, in `MEASURES` order.
fn measures(s: &AllocationSummary) -> Vec<Option<f64>> {
    vec![
        s.estimated_gain,
        Some(s.true_gain),
        Some(s.oracle_gain),
        Some(s.regret()),
        s.robust_gain,
        Some(s.units as f64),
        Some(s.funded as f64),
        s.gini_before,
        s.gini_after,
    ]
}

/// The section and its CSV; `None` when the experiment has no allocations.
pub(super) fn section(
    experiment: &Experiment,
    records: &[Record],
) -> Result<Option<(Csv, AllocationView)>> {
    if experiment.allocations.is_empty() {
        return Ok(None);
    }
    let mut header: Vec<String> = vec!["cell".into()];
    header.extend(axis_keys(experiment));
    header.extend(["policy", "replications", "failures"].map(String::from));
    for (key, _) in MEASURES {
        header.push(key.to_string());
        header.push(format!("{key}_mcse"));
    }
    let mut rows = Vec::new();
    let mut groups = Vec::new();
    let mut panels = Vec::new();
    let mut first_error = None;
    let decoded = records
        .iter()
        .map(|r| Ok((r.cell, crate::stage::allocation::results(r)?)))
        .collect::<Result<Vec<_>>>()?;
    for cell in &experiment.cells {
        let here: Vec<&Vec<_>> = decoded
            .iter()
            .filter(|(c, _)| *c == cell.index)
            .map(|(_, r)| r)
            .collect();
        let mut group = AllocationGroup {
            label: experiment.cell_label(cell),
            rows: Vec::new(),
        };
        let mut points = Vec::new();
        for (k, policy) in experiment.allocations.iter().enumerate() {
            let results: Vec<_> = here.iter().filter_map(|r| r.get(k)).collect();
            let summaries: Vec<&AllocationSummary> =
                results.iter().filter_map(|r| r.summary.as_ref()).collect();
            let failures = results.len() - summaries.len();
            if first_error.is_none() {
                first_error = results.iter().find_map(|r| r.error.clone());
            }
            if results.is_empty() {
                points.push(Vec::new());
                continue;
            }
            let each: Vec<Vec<Option<f64>>> = summaries.iter().map(|s| measures(s)).collect();
            let mc: Vec<Option<Mc>> = (0..MEASURES.len())
                .map(|m| {
                    let v: Vec<f64> = each.iter().filter_map(|e| e[m]).collect();
                    (!v.is_empty()).then(|| mean_mc(&v))
                })
                .collect();
            let mut row = vec![cell.index.to_string()];
            row.extend(axis_values(cell));
            row.extend([
                policy.name.clone(),
                summaries.len().to_string(),
                failures.to_string(),
            ]);
            for m in &mc {
                row.extend(mc_raw(*m));
            }
            rows.push(row);
            group.rows.push(AllocationRow {
                policy: policy.name.clone(),
                replications: summaries.len(),
                failures,
                measures: mc.iter().map(|m| m.map(|m| mc_text(m, false))).collect(),
            });
            // The oracle promises what it gets.
            let estimated = if policy.estimator.is_none() {
                mc[1]
            } else {
                mc[0]
            };
            points.push(match (estimated, mc[1]) {
                (Some(x), Some(y)) => vec![Point {
                    x: x.value,
                    y: y.value,
                    err: y.mcse.is_finite().then_some(Z_95 * y.mcse),
                }],
                _ => Vec::new(),
            });
        }
        panels.push(Panel {
            title: (experiment.cells.len() > 1).then(|| group.label.clone()),
            lines: points,
        });
        groups.push(group);
    }
    let any = panels.iter().any(|p| p.lines.iter().any(|l| !l.is_empty()));
    let svg = if any {
        let figure = Figure {
            title: "Estimated against true health gain of each allocation".into(),
            x_label: "estimated (by the policy's own estimates)".into(),
            y_label: "true (the world)".into(),
            series: experiment
                .allocations
                .iter()
                .map(|p| p.name.clone())
                .collect(),
            colours: None,
            categories: None,
            reference: Some(0.0),
            log_y: false,
            diagonal: true,
            panels,
        };
        Some(render_svg(&figure)?)
    } else {
        None
    };
    let notes = MEASURES
        .iter()
        .map(|(key, description)| super::Note {
            key: key.to_string(),
            description: description.to_string(),
        })
        .collect();
    let csv = Csv {
        name: CSV.into(),
        header,
        rows,
    };
    Ok(Some((
        csv,
        AllocationView {
            notes,
            groups,
            first_error,
            svg,
        },
    )))
}
