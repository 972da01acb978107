//! The placement policies' section: per cell and policy, the estimated and
//! the true deaths prevented per 1,000 patients, the oracle's, the gap
//! between estimate and truth, regrets and reassignment, each the mean over
//! replications ± its Monte Carlo SE; raw for `policies.csv`, grouped by cell
//! for HTML, and a figure of estimated against true gain.

use serde::Serialize;

use super::plot::{render_svg, Figure, Panel, Point};
use super::tables::{axis_keys, axis_values, mc_raw, mc_text, Csv, McText};
use crate::bounds::BoundKind;
use crate::core::stats::Z_95;
use crate::evaluate::placement::PolicySummary;
use crate::policy::placement::PlacementRule;
use crate::record::Record;
use crate::spec::Experiment;
use crate::summary::{mean_mc, Mc};
use crate::Result;

/// The file name of the policies table inside a report folder.
pub(super) const CSV: &str = "policies.csv";

/// The measures of a policy, as (key, description) for the CSV and the legend.
const MEASURES: &[(&str, &str)] = &[
    (
        "estimated_per_1000",
        "deaths prevented per 1,000 patients by the estimator's own account",
    ),
    (
        "true_per_1000",
        "deaths truly prevented per 1,000 patients (the world's survival, congestion included)",
    ),
    (
        "oracle_per_1000",
        "what the best placement under the true model would prevent, same limit",
    ),
    (
        "illusion_per_1000",
        "estimated less true: the part of the promised gain that is not there",
    ),
    (
        "reassigned",
        "share of patients placed differently from the observed placement",
    ),
    (
        "unproven",
        "share of days the solver could not prove optimal",
    ),
    (
        "clipped",
        "share of the estimator's (patient, count) effects outside [-1, 1], clipped to it",
    ),
];

/// One policy in one cell, formatted.
#[derive(Debug, Serialize)]
pub(super) struct PolicyRow {
    pub policy: String,
    pub replications: usize,
    pub failures: usize,
    pub measures: Vec<Option<McText>>,
    pub regrets: Vec<Option<McText>>,
}

/// The rows of one cell under its label.
#[derive(Debug, Serialize)]
pub(super) struct PolicyGroup {
    pub label: String,
    pub rows: Vec<PolicyRow>,
}

/// The section: legend, groups, first failure and the figure.
#[derive(Debug, Serialize)]
pub(super) struct PolicyView {
    pub notes: Vec<super::Note>,
    pub regret_headers: Vec<String>,
    pub groups: Vec<PolicyGroup>,
    pub first_error: Option<String>,
    pub svg: Option<String>,
}

/// Each measure (in `MEASURES` order, then a regret per bound) of one
/// replication's summary; `None` where the rule has no such figure.
fn measures(rule: PlacementRule, s: &PolicySummary) -> Vec<Option<f64>> {
    // Per 1,000 patients; sums that cancel to rounding noise show as zero.
    let per = |v: f64| if v.abs() < 1e-12 { 0.0 } else { 1000.0 * v };
    // The oracle knows the truth, and the observed placement is the baseline.
    let estimated = match rule {
        PlacementRule::Oracle => Some(s.true_gain),
        PlacementRule::Observed => Some(0.0),
        _ => s.estimated_gain,
    };
    let mut out = vec![
        estimated.map(per),
        Some(per(s.true_gain)),
        Some(per(s.oracle_gain)),
        estimated.map(|e| per(e - s.true_gain)),
        Some(s.reassigned),
        Some(s.unproven),
        rule.uses_estimates().then_some(s.clipped),
    ];
    out.extend(
        BoundKind::ALL
            .iter()
            .map(|b| s.regrets.get(b.key()).map(|r| per(*r))),
    );
    out
}

/// Mean ± MCSE of each measure over the replications that have it.
fn summarize(rule: PlacementRule, summaries: &[&PolicySummary]) -> Vec<Option<Mc>> {
    let each: Vec<Vec<Option<f64>>> = summaries.iter().map(|s| measures(rule, s)).collect();
    (0..MEASURES.len() + BoundKind::ALL.len())
        .map(|k| {
            let v: Vec<f64> = each.iter().filter_map(|m| m[k]).collect();
            (!v.is_empty()).then(|| mean_mc(&v))
        })
        .collect()
}

/// The section and its CSV; `None` when the experiment has no policies.
pub(super) fn section(
    experiment: &Experiment,
    records: &[Record],
) -> Result<Option<(Csv, PolicyView)>> {
    if experiment.policies.is_empty() {
        return Ok(None);
    }
    let mut header: Vec<String> = vec!["cell".into()];
    header.extend(axis_keys(experiment));
    header.extend(["policy", "replications", "failures"].map(String::from));
    for (key, _) in MEASURES {
        header.push(key.to_string());
        header.push(format!("{key}_mcse"));
    }
    for b in BoundKind::ALL {
        header.push(format!("regret_{}_per_1000", b.key()));
        header.push(format!("regret_{}_per_1000_mcse", b.key()));
    }
    let mut rows = Vec::new();
    let mut groups = Vec::new();
    let mut panels = Vec::new();
    let mut first_error = None;
    let decoded = records
        .iter()
        .map(|r| Ok((r.cell, crate::stage::placement::results(r)?)))
        .collect::<Result<Vec<_>>>()?;
    for cell in &experiment.cells {
        let here: Vec<&Vec<_>> = decoded
            .iter()
            .filter(|(c, _)| *c == cell.index)
            .map(|(_, r)| r)
            .collect();
        let mut group = PolicyGroup {
            label: experiment.cell_label(cell),
            rows: Vec::new(),
        };
        let mut points = Vec::new();
        for (k, policy) in experiment.policies.iter().enumerate() {
            let results: Vec<_> = here.iter().filter_map(|r| r.get(k)).collect();
            let summaries: Vec<&PolicySummary> =
                results.iter().filter_map(|r| r.summary.as_ref()).collect();
            let failures = results.len() - summaries.len();
            if first_error.is_none() {
                first_error = results.iter().find_map(|r| r.error.clone());
            }
            if results.is_empty() {
                points.push(Vec::new());
                continue;
            }
            let mc = summarize(policy.rule, &summaries);
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
            let text = |m: &Option<Mc>| m.map(|m| mc_text(m, false));
            group.rows.push(PolicyRow {
                policy: policy.name.clone(),
                replications: summaries.len(),
                failures,
                measures: mc[..MEASURES.len()].iter().map(text).collect(),
                regrets: mc[MEASURES.len()..].iter().map(text).collect(),
            });
            points.push(match (mc[0], mc[1]) {
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
            title: "Estimated against true deaths prevented per 1,000 patients".into(),
            x_label: "estimated (by the policy's own estimates)".into(),
            y_label: "true (the world)".into(),
            series: experiment.policies.iter().map(|p| p.name.clone()).collect(),
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
    let view = PolicyView {
        notes,
        regret_headers: BoundKind::ALL
            .iter()
            .map(|b| format!("{} regret", b.label()))
            .collect(),
        groups,
        first_error,
        svg,
    };
    let csv = Csv {
        name: CSV.into(),
        header,
        rows,
    };
    Ok(Some((csv, view)))
}
