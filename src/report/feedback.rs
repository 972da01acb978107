//! The feedback policies' section: per cell and rule, the health gain over
//! all periods, the oracle's, the regret (in all, and per period before,
//! during and after the shock), how soon the rule recovered from the shock
//! and the Gini coefficient of the per-head resource level, each the mean
//! over replications ± its Monte Carlo SE (`feedback.csv`); and each rule's
//! regret per period, drawn against the period (`feedback_periods.csv`).

use serde::Serialize;

use super::plot::{render_svg, Figure, Panel, Point};
use super::policy_table::{build, Policies, PolicyGroup};
use super::section::{Rendered, ReportInput, Section};
use super::tables::{cell_header, cell_values, mc_raw, notes, Csv, More, Note};
use crate::core::stats::Z_95;
use crate::evaluate::feedback::FeedbackSummary;
use crate::record::Record;
use crate::spec::Experiment;
use crate::stage::feedback::{results, FeedbackResult};
use crate::summary::{mean_mc, Mc};
use crate::Result;

/// The measures of a feedback rule, as (key, description) for the CSV and the legend.
const MEASURES: &[(&str, &str)] = &[
    (
        "true_gain",
        "health gain the rule's decisions truly gave, summed over the periods",
    ),
    (
        "oracle_gain",
        "the same for the best decision of each period, given the funding so far",
    ),
    ("regret", "oracle less true gain over all periods"),
    ("regret_share", "regret as a share of the oracle's gain"),
    (
        "regret_before",
        "regret per period before the first shock",
    ),
    ("regret_during", "regret per period while it lasts"),
    ("regret_after", "regret per period after it ends"),
    (
        "recovery",
        "periods from the shock's start until the regret share is back within the tolerance of its level before (censored at the shock's length)",
    ),
    ("recovered", "share of replications that recovered before the shock ended"),
    (
        "gini_before",
        "Gini coefficient of the per-head resource level before the periods",
    ),
    ("gini_after", "the same after the last period"),
];

/// The feedback policies' section; hidden when the experiment has none.
pub(super) struct Feedback;

/// What the feedback partial shows.
#[derive(Debug, Serialize)]
struct View {
    notes: Vec<Note>,
    groups: Vec<PolicyGroup>,
    more: Option<More>,
    first_error: Option<String>,
    svg: Option<String>,
    figure_note: Option<String>,
}

impl Section for Feedback {
    fn id(&self) -> &'static str {
        "feedback"
    }

    fn template(&self) -> &'static str {
        include_str!("templates/sections/feedback.html.tera")
    }

    fn render(&self, input: &ReportInput) -> Result<Option<Rendered>> {
        let experiment = &input.experiment;
        if experiment.feedback.is_empty() {
            return Ok(None);
        }
        let table = build(&Family(experiment), experiment, &input.records)?;
        let (periods, panels) = per_period(experiment, &input.records)?;
        let (svg, figure_note) = figure(experiment, panels)?;
        let view = View {
            notes: notes(MEASURES),
            groups: table.groups,
            more: table.more,
            first_error: table.first_error,
            svg,
            figure_note,
        };
        Rendered::new(view, vec![table.csv, periods]).map(Some)
    }
}

/// The experiment's feedback policies, for the shared table.
struct Family<'a>(&'a Experiment);

impl Policies for Family<'_> {
    type Summary = FeedbackSummary;
    const CSV: &'static str = "feedback.csv";
    const TITLE: &'static str = "Regret per period of each feedback rule";

    fn names(&self) -> Vec<String> {
        self.0.feedback.iter().map(|p| p.name.clone()).collect()
    }

    fn columns(&self) -> Vec<String> {
        MEASURES.iter().map(|(k, _)| k.to_string()).collect()
    }

    fn decode(&self, record: &Record) -> Result<Vec<FeedbackResult>> {
        results(record)
    }

    fn measures(&self, _: usize, s: &FeedbackSummary) -> Vec<Option<f64>> {
        let gain: f64 = s.gain.iter().sum();
        let oracle: f64 = s.oracle_gain.iter().sum();
        let regret = oracle - gain;
        let periods = s.gain.len();
        let (before, during, after) = match s.shock {
            Some((from, to)) => (
                s.mean_regret(1, from - 1),
                s.mean_regret(from, to),
                s.mean_regret(to + 1, periods),
            ),
            None => (None, None, None),
        };
        vec![
            Some(gain),
            Some(oracle),
            Some(regret),
            (oracle > 0.0).then(|| regret / oracle),
            before,
            during,
            after,
            s.recovery,
            s.recovered.map(|r| f64::from(u8::from(r))),
            s.gini_before,
            s.gini_after,
        ]
    }

    /// The section draws regret against the period instead of the shared
    /// figure of promised against true gain: a feedback rule promises nothing.
    fn gains(&self, _: usize, _: &[Option<Mc>]) -> (Option<Mc>, Option<Mc>) {
        (None, None)
    }
}

/// Each rule's gain, the oracle's and the regret per period, mean ± MCSE
/// over replications, as a CSV row per cell, rule and period, and a panel
/// per cell of regret against the period.
fn per_period(experiment: &Experiment, records: &[Record]) -> Result<(Csv, Vec<Panel>)> {
    let decoded = records
        .iter()
        .map(|r| Ok((r.cell, results(r)?)))
        .collect::<Result<Vec<_>>>()?;
    let mut rows = Vec::new();
    let mut panels = Vec::new();
    for cell in &experiment.cells {
        let mut lines = Vec::new();
        for (k, policy) in experiment.feedback.iter().enumerate() {
            let summaries: Vec<&FeedbackSummary> = decoded
                .iter()
                .filter(|(c, _)| *c == cell.index)
                .filter_map(|(_, outcomes)| outcomes.get(k)?.summary.as_ref())
                .collect();
            let periods = summaries.iter().map(|s| s.gain.len()).max().unwrap_or(0);
            let mut line = Vec::new();
            for t in 0..periods {
                let at = |f: fn(&FeedbackSummary, usize) -> f64| -> Vec<f64> {
                    summaries
                        .iter()
                        .filter(|s| t < s.gain.len())
                        .map(|s| f(s, t))
                        .collect()
                };
                let gain = mean_mc(&at(|s, t| s.gain[t]));
                let oracle = mean_mc(&at(|s, t| s.oracle_gain[t]));
                let regret = mean_mc(&at(|s, t| s.oracle_gain[t] - s.gain[t]));
                let mut row = cell_values(cell);
                row.extend([policy.name.clone(), (t + 1).to_string()]);
                for mc in [gain, oracle, regret] {
                    row.extend(mc_raw(Some(mc)));
                }
                rows.push(row);
                line.push(Point {
                    x: (t + 1) as f64,
                    y: regret.value,
                    err: regret.mcse.is_finite().then_some(Z_95 * regret.mcse),
                });
            }
            lines.push(line);
        }
        panels.push(Panel {
            title: (experiment.cells.len() > 1).then(|| experiment.cell_label(cell)),
            lines,
        });
    }
    let mut header = cell_header(experiment);
    header.extend(["policy", "period"].map(String::from));
    for key in ["true_gain", "oracle_gain", "regret"] {
        header.extend([key.to_string(), format!("{key}_mcse")]);
    }
    let csv = Csv {
        name: "feedback_periods.csv".into(),
        header,
        rows,
    };
    Ok((csv, panels))
}

/// The figure of regret against the period, a line per rule and a panel
/// per cell with results, and what it leaves out; `None` before any result.
fn figure(experiment: &Experiment, panels: Vec<Panel>) -> Result<(Option<String>, Option<String>)> {
    if !panels.iter().any(|p| p.lines.iter().any(|l| !l.is_empty())) {
        return Ok((None, None));
    }
    let mut figure = Figure {
        title: <Family as Policies>::TITLE.into(),
        x_label: "period".into(),
        y_label: "regret (oracle less true gain)".into(),
        series: experiment.feedback.iter().map(|p| p.name.clone()).collect(),
        colours: None,
        categories: None,
        reference: Some(0.0),
        log_y: false,
        log_x: false,
        y_limits: None,
        diagonal: false,
        panels,
    };
    let note = figure.bound("feedback_periods.csv");
    Ok((Some(render_svg(&figure)?), note))
}
