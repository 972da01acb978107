//! The verdict at the top of the report: for each cell and estimator,
//! whether it is unbiased (its mean and its median error within 3 Monte
//! Carlo SEs of zero), whether its intervals cover (the Wilson interval of
//! its coverage reaches into [0.93, 0.97]) and whether it has the cell's
//! lowest RMSE, as a coloured grid of cells × estimators that answers
//! "which estimator recovers the truth, and where does each break?" without
//! reading the diagnosands table. The median counts as well as the mean
//! because an estimator without finite moments (2SLS with a weak
//! instrument) has a mean error so noisy that it is "within 3 MCSE" of
//! anything.

use std::collections::HashMap;

use serde::Serialize;

use super::section::{Rendered, ReportInput, Section};
use super::tables::sig;
use crate::summary::{Diagnosands, Mc};
use crate::Result;

/// The coverage a good 95% interval has, allowing for the Monte Carlo
/// error of a finite number of replications.
pub const GOOD_COVERAGE: [f64; 2] = [0.93, 0.97];

/// Monte Carlo SEs within which a bias counts as nil.
pub const NIL_BIAS_MCSE: f64 = 3.0;

/// Most cells the grid shows; the diagnosands CSV holds the rest.
const MAX_CELLS: usize = 60;

/// The verdict section; hidden when nothing was estimated.
pub(super) struct Verdict;

/// One estimator in one cell, judged.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Judged {
    /// Mean and median error both within [`NIL_BIAS_MCSE`] MCSEs of zero.
    pub unbiased: bool,
    /// Coverage consistent with [`GOOD_COVERAGE`]; `None` without intervals.
    pub covers: Option<bool>,
    /// The lowest RMSE of the cell's estimators.
    pub best: bool,
    /// The median bias, for reading.
    pub median_bias: String,
    /// The coverage, for reading.
    pub coverage: String,
    /// `covers`, `misses` or `none` (no intervals), for the template.
    pub cover: &'static str,
    /// The coverage of the Anderson-Rubin sets, for estimators with them.
    pub ar_coverage: Option<String>,
    /// `good` (unbiased and covers), `mixed` (one of them) or `bad`.
    pub class: &'static str,
}

/// One row of the grid: a cell's label and its estimators' verdicts in the
/// experiment's order (`None`: not run).
#[derive(Debug, Serialize)]
struct Row {
    label: String,
    verdicts: Vec<Option<Judged>>,
}

/// An estimator's record over the cells, in one sentence's words.
#[derive(Debug, Serialize)]
struct Tally {
    estimator: String,
    good: usize,
    judged: usize,
}

/// What the verdict partial shows.
#[derive(Debug, Serialize)]
struct View {
    estimators: Vec<String>,
    rows: Vec<Row>,
    tallies: Vec<Tally>,
    left_out: usize,
    low: f64,
    high: f64,
}

/// Whether a diagnosand's mean and median errors are nil within their MCSEs.
fn unbiased(d: &Diagnosands) -> bool {
    [d.bias, d.median_bias]
        .iter()
        .all(|m| m.mcse.is_finite() && m.near(0.0, NIL_BIAS_MCSE))
}

/// Whether a coverage's 95% interval reaches into [`GOOD_COVERAGE`];
/// `None` when it has no interval or no value.
pub(super) fn covers_nominal(coverage: &Mc) -> Option<bool> {
    let [low, high] = coverage.interval?;
    coverage
        .value
        .is_finite()
        .then_some(high >= GOOD_COVERAGE[0] && low <= GOOD_COVERAGE[1])
}

/// Whether the estimator's intervals cover as a 95% interval should.
fn covers(d: &Diagnosands) -> Option<bool> {
    covers_nominal(&d.coverage)
}

/// Judges every estimator of one cell; the lowest finite RMSE is the best.
pub(super) fn judge_cell(cell: &[&Diagnosands]) -> Vec<Judged> {
    let lowest = cell
        .iter()
        .map(|d| d.rmse.value)
        .filter(|r| r.is_finite())
        .fold(f64::INFINITY, f64::min);
    cell.iter()
        .map(|d| {
            let (unbiased, covers) = (unbiased(d), covers(d));
            let class = match (unbiased, covers.unwrap_or(false)) {
                (true, true) => "good",
                (false, false) => "bad",
                _ => "mixed",
            };
            Judged {
                unbiased,
                covers,
                best: d.rmse.value == lowest,
                median_bias: sig(d.median_bias.value, 2),
                coverage: sig(d.coverage.value, 2),
                cover: match covers {
                    Some(true) => "covers",
                    Some(false) => "misses",
                    None => "none",
                },
                ar_coverage: d.ar_coverage.map(|c| sig(c.value, 2)),
                class,
            }
        })
        .collect()
}

impl Section for Verdict {
    fn id(&self) -> &'static str {
        "verdict"
    }

    fn template(&self) -> &'static str {
        include_str!("templates/sections/verdict.html.tera")
    }

    fn render(&self, input: &ReportInput) -> Result<Option<Rendered>> {
        if input.diagnosands.is_empty() {
            return Ok(None);
        }
        let experiment = &input.experiment;
        let mut by_cell: HashMap<usize, Vec<&Diagnosands>> = HashMap::new();
        for d in &input.diagnosands {
            by_cell.entry(d.cell).or_default().push(d);
        }
        let estimators: Vec<String> = experiment
            .estimators
            .iter()
            .map(|e| e.name.clone())
            .collect();
        let mut tallies: Vec<Tally> = estimators
            .iter()
            .map(|e| Tally {
                estimator: e.clone(),
                good: 0,
                judged: 0,
            })
            .collect();
        let mut rows = Vec::new();
        for cell in &experiment.cells {
            let Some(mine) = by_cell.get(&cell.index) else {
                continue;
            };
            let judged = judge_cell(mine);
            let mut verdicts = vec![None; estimators.len()];
            for (d, j) in mine.iter().zip(judged) {
                if let Some(k) = estimators.iter().position(|e| *e == d.estimator) {
                    tallies[k].judged += 1;
                    tallies[k].good += usize::from(j.class == "good");
                    verdicts[k] = Some(j);
                }
            }
            rows.push(Row {
                label: experiment.cell_label(cell),
                verdicts,
            });
        }
        let left_out = rows.len().saturating_sub(MAX_CELLS);
        rows.truncate(MAX_CELLS);
        let view = View {
            estimators,
            rows,
            tallies,
            left_out,
            low: GOOD_COVERAGE[0],
            high: GOOD_COVERAGE[1],
        };
        Rendered::new(view, Vec::new()).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Estimand;
    use crate::summary::share;

    fn diagnosands(
        name: &str,
        bias: Mc,
        median_bias: Mc,
        covered: usize,
        rmse: f64,
    ) -> Diagnosands {
        let hits: Vec<bool> = (0..400).map(|i| i < covered).collect();
        let plain = Mc::plain(0.0, 0.0);
        Diagnosands {
            cell: 0,
            estimator: name.into(),
            estimand: Estimand::Late,
            replications: 400,
            failures: 0,
            truth: 1.0,
            mean_estimate: 1.0,
            mean_se: 0.1,
            sd_estimate: 0.1,
            bias,
            median_bias,
            rmse: Mc::plain(rmse, 0.01),
            median_abs_error: plain,
            iqr: plain,
            far: plain,
            coverage: share(&hits),
            ci_width: plain,
            power: plain,
            ar_coverage: None,
            ar_unbounded: None,
            iate_rmse: None,
            iate_coverage: None,
            iate_corr: None,
        }
    }

    /// A weak instrument's 2SLS: a mean bias lost in its own noise, a
    /// median bias that is not, so it is not called unbiased.
    #[test]
    fn a_median_bias_counts_when_the_mean_is_too_noisy_to() {
        let weak = diagnosands(
            "2sls",
            Mc::plain(5.2, 4.9),
            Mc::plain(0.33, 0.05),
            396,
            84.0,
        );
        let good = diagnosands("ok", Mc::plain(0.01, 0.01), Mc::plain(0.0, 0.01), 378, 0.2);
        let off = diagnosands("ols", Mc::plain(0.9, 0.01), Mc::plain(0.9, 0.01), 0, 0.9);
        let judged = judge_cell(&[&weak, &good, &off]);
        assert!(!judged[0].unbiased && judged[0].cover == "misses");
        assert_eq!(judged[0].class, "bad");
        assert!(judged[1].unbiased && judged[1].cover == "covers" && judged[1].best);
        assert_eq!(judged[1].class, "good");
        assert!(!judged[2].unbiased && judged[2].cover == "misses" && !judged[2].best);
    }
}
