//! The placement policies' section: per cell and policy, the estimated and
//! the true deaths prevented per 1,000 patients, the oracle's, the gap
//! between estimate and truth, regrets and reassignment, each the mean over
//! replications ± its Monte Carlo SE; raw for `policies.csv`, grouped by cell
//! for HTML, and a figure of estimated against true gain.

use serde::Serialize;

use super::policy_table::{build, Policies, PolicyGroup};
use super::section::{Rendered, ReportInput, Section};
use super::tables::{notes, More, Note};
use crate::bounds::BoundKind;
use crate::evaluate::placement::PolicySummary;
use crate::policy::placement::PlacementRule;
use crate::record::Record;
use crate::spec::Experiment;
use crate::stage::placement::PolicyResult;
use crate::summary::Mc;
use crate::Result;

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

/// The placement policies' section; hidden when the experiment has none.
pub(super) struct Placement;

/// What the placement partial shows: legend, regret headers, groups, first
/// failure and the figure.
#[derive(Debug, Serialize)]
struct View {
    notes: Vec<Note>,
    regret_headers: Vec<String>,
    groups: Vec<PolicyGroup>,
    more: Option<More>,
    first_error: Option<String>,
    svg: Option<String>,
    figure_note: Option<String>,
}

impl Section for Placement {
    fn id(&self) -> &'static str {
        "policies"
    }

    fn template(&self) -> &'static str {
        include_str!("templates/sections/policies.html.tera")
    }

    fn render(&self, input: &ReportInput) -> Result<Option<Rendered>> {
        if input.experiment.policies.is_empty() {
            return Ok(None);
        }
        let family = Family(&input.experiment);
        let table = build(&family, &input.experiment, &input.records)?;
        let view = View {
            notes: notes(MEASURES),
            regret_headers: BoundKind::ALL
                .iter()
                .map(|b| format!("{} regret", b.label()))
                .collect(),
            groups: table.groups,
            more: table.more,
            first_error: table.first_error,
            svg: table.svg,
            figure_note: table.figure_note,
        };
        Rendered::new(view, vec![table.csv]).map(Some)
    }
}

/// The experiment's placement policies, for the shared table.
struct Family<'a>(&'a Experiment);

impl Policies for Family<'_> {
    type Summary = PolicySummary;
    const CSV: &'static str = "policies.csv";
    const TITLE: &'static str = "Estimated against true deaths prevented per 1,000 patients";

    fn names(&self) -> Vec<String> {
        self.0.policies.iter().map(|p| p.name.clone()).collect()
    }

    fn columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = MEASURES.iter().map(|(k, _)| k.to_string()).collect();
        columns.extend(
            BoundKind::ALL
                .iter()
                .map(|b| format!("regret_{}_per_1000", b.key())),
        );
        columns
    }

    fn decode(&self, record: &Record) -> Result<Vec<PolicyResult>> {
        crate::stage::placement::results(record)
    }

    fn measures(&self, k: usize, summary: &PolicySummary) -> Vec<Option<f64>> {
        measures_of(self.0.policies[k].rule, summary)
    }

    fn gains(&self, _: usize, mc: &[Option<Mc>]) -> (Option<Mc>, Option<Mc>) {
        (mc[0], mc[1])
    }
}

/// Each measure (in `MEASURES` order, then a regret per bound) of one
/// replication's summary; `None` where the rule has no such figure.
fn measures_of(rule: PlacementRule, s: &PolicySummary) -> Vec<Option<f64>> {
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
