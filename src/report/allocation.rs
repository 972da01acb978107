//! The allocation policies' section: per cell and policy, the gain the
//! estimates promised, the gain the world gave, the oracle's, the regret,
//! and the Gini coefficient of the per-head resource level before and after,
//! each the mean over replications ± its Monte Carlo SE; raw for
//! `allocation.csv`, grouped by cell for HTML, with a figure of estimated
//! against true gain.

use serde::Serialize;

use super::policy_table::{build, Policies, PolicyGroup};
use super::section::{Rendered, ReportInput, Section};
use super::tables::{notes, More, Note};
use crate::evaluate::allocation::AllocationSummary;
use crate::record::Record;
use crate::spec::Experiment;
use crate::stage::allocation::AllocationResult;
use crate::summary::Mc;
use crate::Result;

/// The measures of an allocation, as (key, description) for the CSV and the legend.
const MEASURES: &[(&str, &str)] = &[
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

/// The allocation policies' section; hidden when the experiment has none.
pub(super) struct Allocation;

/// What the allocation partial shows: legend, groups, first failure and
/// the figure.
#[derive(Debug, Serialize)]
struct View {
    notes: Vec<Note>,
    groups: Vec<PolicyGroup>,
    more: Option<More>,
    first_error: Option<String>,
    svg: Option<String>,
    figure_note: Option<String>,
}

impl Section for Allocation {
    fn id(&self) -> &'static str {
        "allocations"
    }

    fn template(&self) -> &'static str {
        include_str!("templates/sections/allocations.html.tera")
    }

    fn render(&self, input: &ReportInput) -> Result<Option<Rendered>> {
        if input.experiment.allocations.is_empty() {
            return Ok(None);
        }
        let table = build(
            &Family(&input.experiment),
            &input.experiment,
            &input.records,
        )?;
        let view = View {
            notes: notes(MEASURES),
            groups: table.groups,
            more: table.more,
            first_error: table.first_error,
            svg: table.svg,
            figure_note: table.figure_note,
        };
        Rendered::new(view, vec![table.csv]).map(Some)
    }
}

/// The experiment's allocation policies, for the shared table.
struct Family<'a>(&'a Experiment);

impl Policies for Family<'_> {
    type Summary = AllocationSummary;
    const CSV: &'static str = "allocation.csv";
    const TITLE: &'static str = "Estimated against true health gain of each allocation";

    fn names(&self) -> Vec<String> {
        self.0.allocations.iter().map(|p| p.name.clone()).collect()
    }

    fn columns(&self) -> Vec<String> {
        MEASURES.iter().map(|(k, _)| k.to_string()).collect()
    }

    fn decode(&self, record: &Record) -> Result<Vec<AllocationResult>> {
        crate::stage::allocation::results(record)
    }

    fn measures(&self, _: usize, summary: &AllocationSummary) -> Vec<Option<f64>> {
        measures_of(summary)
    }

    /// The oracle (the policy without an estimator) promises what it gets.
    fn gains(&self, k: usize, mc: &[Option<Mc>]) -> (Option<Mc>, Option<Mc>) {
        let oracle = self
            .0
            .allocations
            .get(k)
            .is_some_and(|p| p.estimator.is_none());
        (if oracle { mc[1] } else { mc[0] }, mc[1])
    }
}

/// Each measure of one replication's summary, in `MEASURES` order.
fn measures_of(s: &AllocationSummary) -> Vec<Option<f64>> {
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
