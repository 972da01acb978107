//! The table the placement and the allocation policies' sections share: per
//! cell and policy, each measure's mean over replications ± its Monte Carlo
//! SE, raw for the section's CSV, grouped by cell for HTML, and a figure of
//! the gain each policy promised against the gain the world gave.

use std::collections::HashMap;

use serde::Serialize;

use super::plot::{render_svg, Figure, Panel, Point};
use super::tables::{
    bounded_groups, cell_header, cell_values, mc_raw, mc_text, Csv, Group, McText, More,
};
use crate::core::stats::Z_95;
use crate::record::Record;
use crate::spec::{Cell, Experiment};
use crate::stage::PolicyOutcome;
use crate::summary::{mean_mc, Mc};
use crate::Result;

/// A family of policies (placement, allocation) as the shared table reads it.
pub(super) trait Policies {
    /// One policy's outcome on one task.
    /// What a policy that ran reports.
    type Summary;
    /// The CSV file's name.
    const CSV: &'static str;
    /// The figure's title.
    const TITLE: &'static str;
    /// The policies' names, in the experiment's order.
    fn names(&self) -> Vec<String>;
    /// The measures' CSV keys, in order; each is followed by its `_mcse`.
    fn columns(&self) -> Vec<String>;
    /// One record's outcomes, one per policy in order.
    fn decode(&self, record: &Record) -> Result<Vec<PolicyOutcome<Self::Summary>>>;
    /// Each measure of policy `k` in one replication, in `columns` order;
    /// `None` where the policy has no such figure.
    fn measures(&self, k: usize, summary: &Self::Summary) -> Vec<Option<f64>>;
    /// The gain policy `k` promised and the gain it truly gave, from its
    /// measures' means, for the figure.
    fn gains(&self, k: usize, mc: &[Option<Mc>]) -> (Option<Mc>, Option<Mc>);
}

/// One policy in one cell, formatted.
#[derive(Debug, Serialize)]
pub(super) struct PolicyRow {
    pub policy: String,
    pub replications: usize,
    pub failures: usize,
    pub measures: Vec<Option<McText>>,
}

/// The rows of one cell under its label; empty when not run yet.
pub(super) type PolicyGroup = Group<PolicyRow>;

/// The shared table: the CSV, and for HTML the groups, the first failure
/// and the figure (when any policy has a point to draw).
pub(super) struct PolicyTable {
    /// The raw table, a row per cell and policy that has records.
    pub csv: Csv,
    /// The formatted rows, grouped by cell (a run of cells not run yet as
    /// one group), at most [`super::tables::ROW_LIMIT`] of them.
    pub groups: Vec<PolicyGroup>,
    /// The line about the rows left out, when the table was cut.
    pub more: Option<More>,
    /// The first failure, in cell then policy order.
    pub first_error: Option<String>,
    /// The figure of promised against true gain, when it has a point.
    pub svg: Option<String>,
    /// What the figure leaves out of a large sweep, for its caption.
    pub figure_note: Option<String>,
}

/// One cell's rows: raw for the CSV, formatted, a point per policy, and
/// the first failure (in policy order).
struct CellRows {
    rows: Vec<Vec<String>>,
    first_error: Option<String>,
    group: PolicyGroup,
    panel: Panel,
}

/// Builds the table of `family` from the experiment's records.
pub(super) fn build<P: Policies>(
    family: &P,
    experiment: &Experiment,
    records: &[Record],
) -> Result<PolicyTable> {
    let decoded = records
        .iter()
        .map(|r| Ok((r.cell, family.decode(r)?)))
        .collect::<Result<Vec<_>>>()?;
    let mut first_error = None;
    let mut rows = Vec::new();
    let mut groups = Vec::new();
    let mut panels = Vec::new();
    let mut by_cell: HashMap<usize, Vec<&[PolicyOutcome<P::Summary>]>> = HashMap::new();
    for (cell, outcomes) in &decoded {
        by_cell.entry(*cell).or_default().push(outcomes.as_slice());
    }
    for cell in &experiment.cells {
        let here = by_cell.remove(&cell.index).unwrap_or_default();
        let cell_rows = cell_rows(family, experiment, cell, &here);
        first_error = first_error.or(cell_rows.first_error);
        rows.extend(cell_rows.rows);
        groups.push(cell_rows.group);
        panels.push(cell_rows.panel);
    }
    let mut header = cell_header(experiment);
    header.extend(["policy", "replications", "failures"].map(String::from));
    for key in family.columns() {
        let mcse = format!("{key}_mcse");
        header.extend([key, mcse]);
    }
    let (groups, more) = bounded_groups(groups, P::CSV);
    let (svg, figure_note) = figure(family, panels)?;
    Ok(PolicyTable {
        csv: Csv {
            name: P::CSV.into(),
            header,
            rows,
        },
        groups,
        more,
        first_error,
        svg,
        figure_note,
    })
}

/// The rows of one cell, from the outcomes of its records.
fn cell_rows<P: Policies>(
    family: &P,
    experiment: &Experiment,
    cell: &Cell,
    here: &[&[PolicyOutcome<P::Summary>]],
) -> CellRows {
    let label = experiment.cell_label(cell);
    let mut rows = Vec::new();
    let mut html = Vec::new();
    let mut points = Vec::new();
    let mut first_error = None;
    let measures = family.columns().len();
    for (k, policy) in family.names().into_iter().enumerate() {
        let outcomes: Vec<&PolicyOutcome<P::Summary>> =
            here.iter().filter_map(|o| o.get(k)).collect();
        if first_error.is_none() {
            first_error = outcomes.iter().find_map(|o| o.error.clone());
        }
        if outcomes.is_empty() {
            points.push(Vec::new());
            continue;
        }
        let summaries: Vec<_> = outcomes.iter().filter_map(|o| o.summary.as_ref()).collect();
        let failures = outcomes.len() - summaries.len();
        let each: Vec<Vec<Option<f64>>> = summaries.iter().map(|s| family.measures(k, s)).collect();
        let mc: Vec<Option<Mc>> = (0..measures)
            .map(|m| {
                let v: Vec<f64> = each.iter().filter_map(|e| e[m]).collect();
                (!v.is_empty()).then(|| mean_mc(&v))
            })
            .collect();
        let mut row = cell_values(cell);
        row.extend([
            policy.clone(),
            summaries.len().to_string(),
            failures.to_string(),
        ]);
        row.extend(mc.iter().flat_map(|m| mc_raw(*m)));
        rows.push(row);
        html.push(PolicyRow {
            policy,
            replications: summaries.len(),
            failures,
            measures: mc.iter().map(|m| m.map(|m| mc_text(m, false))).collect(),
        });
        points.push(match family.gains(k, &mc) {
            (Some(x), Some(y)) => vec![Point {
                x: x.value,
                y: y.value,
                err: y.mcse.is_finite().then_some(Z_95 * y.mcse),
            }],
            _ => Vec::new(),
        });
    }
    let panel = Panel {
        title: (experiment.cells.len() > 1).then(|| label.clone()),
        lines: points,
    };
    let group = PolicyGroup { label, rows: html };
    CellRows {
        rows,
        first_error,
        group,
        panel,
    }
}

/// The figure of promised against true gain, one point per policy and a
/// panel per cell with results (at most [`super::plot::MAX_PANELS`]), and
/// what it leaves out; `None` when no policy has a point.
fn figure<P: Policies>(family: &P, panels: Vec<Panel>) -> Result<(Option<String>, Option<String>)> {
    let any = panels.iter().any(|p| p.lines.iter().any(|l| !l.is_empty()));
    if !any {
        return Ok((None, None));
    }
    let mut figure = Figure {
        title: P::TITLE.into(),
        x_label: "estimated (by the policy's own estimates)".into(),
        y_label: "true (the world)".into(),
        series: family.names(),
        colours: None,
        categories: None,
        reference: Some(0.0),
        log_y: false,
        log_x: false,
        y_limits: None,
        diagonal: true,
        panels,
    };
    let note = figure.bound(P::CSV);
    Ok((Some(render_svg(&figure)?), note))
}
