//! Bias, RMSE, coverage, CI width and power, each with its Monte Carlo
//! standard error, so a reader can tell a real difference from simulation
//! noise; beside them the robust diagnosands (median bias, median absolute
//! error, interquartile range, share far from the truth) that stay
//! meaningful for an estimator without finite moments.

mod robust;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::core::stats::mean;
use crate::core::Estimand;
use crate::record::Record;
use crate::spec::Experiment;
use crate::stage::estimators::{results, EstimatorResult, Iate};
use crate::Result;

pub use robust::{iqr, quantile, share, BOOTSTRAP};

/// A Monte Carlo summary: a value and its Monte Carlo standard error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Mc {
    /// The summary over replications.
    pub value: f64,
    /// Its Monte Carlo standard error.
    pub mcse: f64,
    /// Its 95% interval where a normal one would mislead: the Wilson
    /// interval of a share, which stays open at 0 and 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<[f64; 2]>,
}

impl Mc {
    /// A value and its Monte Carlo SE, without an interval of its own.
    pub fn plain(value: f64, mcse: f64) -> Mc {
        Mc {
            value,
            mcse,
            interval: None,
        }
    }

    /// Whether the value is within `k` Monte Carlo SEs of `target`; false
    /// when the SE is undefined.
    pub fn near(&self, target: f64, k: f64) -> bool {
        (self.value - target).abs() <= k * self.mcse
    }
}

/// The diagnosands every estimator gets, as (key, description) for `causim list` and reports.
pub const DIAGNOSANDS: &[(&str, &str)] = &[
    ("bias", "mean of (estimate - truth)"),
    ("median_bias", "median of (estimate - truth)"),
    ("rmse", "root mean squared error against the truth"),
    ("median_abs_error", "median of |estimate - truth|"),
    ("iqr", "interquartile range of the estimates"),
    (
        "far",
        "share of estimates farther from the truth than `far` in [report] (default 1)",
    ),
    ("coverage", "share of 95% CIs that contain the truth"),
    ("ci_width", "mean width of the 95% CI"),
    ("power", "share of 95% CIs that exclude zero"),
];

/// Diagnosands of the weak-instrument-robust confidence sets, for
/// estimators that report one (2SLS's Anderson-Rubin set).
pub const SET_DIAGNOSANDS: &[(&str, &str)] = &[
    (
        "ar_coverage",
        "share of Anderson-Rubin confidence sets that contain the truth",
    ),
    (
        "ar_unbounded",
        "share of Anderson-Rubin confidence sets that are unbounded",
    ),
];

/// The diagnosands that are shares of replications: their Monte Carlo
/// uncertainty is a Wilson interval ([`Mc::interval`]).
pub const SHARES: &[&str] = &["far", "coverage", "power", "ar_coverage", "ar_unbounded"];

/// The distance from the truth beyond which an estimate counts as `far`
/// when the experiment's `[report]` does not say.
pub const FAR: f64 = 1.0;

/// Diagnosands of per-unit effects, for estimators that estimate tau(x)
/// (forests), each averaged over replications.
pub const IATE_DIAGNOSANDS: &[(&str, &str)] = &[
    (
        "iate_rmse",
        "RMSE of the per-unit effects against the true tau(x)",
    ),
    (
        "iate_coverage",
        "share of units whose 95% CI contains the true tau(x)",
    ),
    (
        "iate_corr",
        "correlation of the per-unit effects with the true tau(x)",
    ),
];

/// Diagnosands of one estimator in one cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosands {
    /// Cell index.
    pub cell: usize,
    /// Estimator label.
    pub estimator: String,
    /// The estimand the estimator targets, compared against the truth.
    pub estimand: Estimand,
    /// Replications with an estimate (and a defined truth).
    pub replications: usize,
    /// Replications where the fit failed.
    pub failures: usize,
    /// Mean true value of the estimand.
    pub truth: f64,
    /// Mean estimate.
    pub mean_estimate: f64,
    /// Mean reported standard error.
    pub mean_se: f64,
    /// Standard deviation of the estimates (what the mean SE should match).
    pub sd_estimate: f64,
    /// Mean error.
    pub bias: Mc,
    /// Median error, with a bootstrap Monte Carlo SE.
    pub median_bias: Mc,
    /// Root mean squared error.
    pub rmse: Mc,
    /// Median absolute error, with a bootstrap Monte Carlo SE.
    pub median_abs_error: Mc,
    /// Interquartile range of the estimates, with a bootstrap Monte Carlo SE.
    pub iqr: Mc,
    /// Share of estimates farther than the report's `far` distance from the truth.
    pub far: Mc,
    /// Coverage of the 95% CI.
    pub coverage: Mc,
    /// Mean CI width.
    pub ci_width: Mc,
    /// Rejection rate of a zero effect at 5%.
    pub power: Mc,
    /// Share of Anderson-Rubin sets containing the truth, for estimators with them.
    pub ar_coverage: Option<Mc>,
    /// Share of Anderson-Rubin sets that are unbounded.
    pub ar_unbounded: Option<Mc>,
    /// Per-unit effect RMSE, for estimators with per-unit effects.
    pub iate_rmse: Option<Mc>,
    /// Per-unit CI coverage of the true tau(x).
    pub iate_coverage: Option<Mc>,
    /// Correlation of per-unit effects with the true tau(x).
    pub iate_corr: Option<Mc>,
}

impl Diagnosands {
    /// A diagnosand by its key in [`DIAGNOSANDS`].
    pub fn get(&self, key: &str) -> Option<Mc> {
        match key {
            "bias" => Some(self.bias),
            "median_bias" => Some(self.median_bias),
            "rmse" => Some(self.rmse),
            "median_abs_error" => Some(self.median_abs_error),
            "iqr" => Some(self.iqr),
            "far" => Some(self.far),
            "coverage" => Some(self.coverage),
            "ci_width" => Some(self.ci_width),
            "power" => Some(self.power),
            "ar_coverage" => self.ar_coverage,
            "ar_unbounded" => self.ar_unbounded,
            "iate_rmse" => self.iate_rmse,
            "iate_coverage" => self.iate_coverage,
            "iate_corr" => self.iate_corr,
            _ => None,
        }
    }
}

/// Mean and its standard error (sd / sqrt(R)).
pub fn mean_mc(v: &[f64]) -> Mc {
    let m = mean(v);
    let r = v.len() as f64;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (r - 1.0)
    } else {
        f64::NAN
    };
    Mc::plain(m, (var / r).sqrt())
}

/// Summarizes records into diagnosands per cell and estimator, in cell then
/// estimator order. Cells or estimators without records are omitted.
pub fn summarize(experiment: &Experiment, records: &[Record]) -> Result<Vec<Diagnosands>> {
    let mut out = Vec::new();
    for cell in &experiment.cells {
        let mine: Vec<&Record> = records.iter().filter(|r| r.cell == cell.index).collect();
        if mine.is_empty() {
            continue;
        }
        let decoded = mine
            .iter()
            .map(|r| results(r))
            .collect::<Result<Vec<Vec<EstimatorResult>>>>()?;
        for (k, named) in experiment.estimators.iter().enumerate() {
            let estimand = named.spec.estimator().estimand();
            let mut pairs = Vec::new();
            let mut iates = Vec::new();
            let mut failures = 0;
            for (record, results) in mine.iter().zip(&decoded) {
                let Some(result) = results.get(k) else {
                    continue;
                };
                iates.extend(result.iate);
                match (&result.estimate, record.truth.get(estimand.key())) {
                    (Some(e), Some(t)) => pairs.push((e, *t)),
                    (None, _) => failures += 1,
                    (Some(_), None) => {}
                }
            }
            let who = Who {
                cell: cell.index,
                estimator: &named.name,
                estimand,
            };
            let mut d = diagnose(who, &pairs, failures, experiment.report.far());
            if !iates.is_empty() {
                let over = |f: fn(&Iate) -> Option<f64>| {
                    let v: Vec<f64> = iates.iter().filter_map(f).collect();
                    (!v.is_empty()).then(|| mean_mc(&v))
                };
                d.iate_rmse = over(|i| Some(i.rmse));
                d.iate_coverage = over(|i| Some(i.coverage));
                d.iate_corr = over(|i| i.corr);
            }
            out.push(d);
        }
    }
    Ok(out)
}

/// Whose diagnosands: a cell, an estimator and the estimand it targets.
#[derive(Clone, Copy)]
struct Who<'a> {
    cell: usize,
    estimator: &'a str,
    estimand: Estimand,
}

/// The diagnosands of one estimator's (estimate, truth) pairs in one cell;
/// an estimate counts as far off beyond `far` from its truth.
fn diagnose(
    who: Who<'_>,
    pairs: &[(&crate::estimate::Estimate, f64)],
    failures: usize,
    far: f64,
) -> Diagnosands {
    let Who {
        cell,
        estimator,
        estimand,
    } = who;
    // Each robust diagnosand resamples with its own seed, fixed by whose it is.
    let seed = |key: &str| crate::core::seed::fnv1a(format!("{cell}/{estimator}/{key}").as_bytes());
    let errors: Vec<f64> = pairs.iter().map(|(e, t)| e.estimate - t).collect();
    let absolute: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
    let squared: Vec<f64> = errors.iter().map(|e| e * e).collect();
    let covered: Vec<bool> = pairs
        .iter()
        .map(|(e, t)| e.ci_lower <= *t && *t <= e.ci_upper)
        .collect();
    let widths: Vec<f64> = pairs.iter().map(|(e, _)| e.ci_upper - e.ci_lower).collect();
    let rejects: Vec<bool> = pairs
        .iter()
        .map(|(e, _)| e.ci_lower > 0.0 || e.ci_upper < 0.0)
        .collect();
    let estimates: Vec<f64> = pairs.iter().map(|(e, _)| e.estimate).collect();
    let sets: Vec<_> = pairs
        .iter()
        .filter_map(|(e, t)| e.confidence_set.as_ref().map(|s| (s, *t)))
        .collect();
    let over_sets = |hit: &dyn Fn(&crate::estimate::ConfidenceSet, f64) -> bool| {
        (!sets.is_empty()).then(|| share(&sets.iter().map(|(s, t)| hit(s, *t)).collect::<Vec<_>>()))
    };
    let mse = mean_mc(&squared);
    let rmse = mse.value.sqrt();
    Diagnosands {
        cell,
        estimator: estimator.to_string(),
        estimand,
        replications: pairs.len(),
        failures,
        truth: mean(pairs.iter().map(|(_, t)| *t)),
        mean_estimate: mean(&estimates),
        mean_se: mean(pairs.iter().map(|(e, _)| e.se)),
        sd_estimate: mean_mc(&estimates).mcse * (estimates.len() as f64).sqrt(),
        bias: mean_mc(&errors),
        median_bias: robust::bootstrap(&errors, robust::median_of, seed("median_bias")),
        // Delta method: se(sqrt(MSE)) = se(MSE) / (2 sqrt(MSE)).
        rmse: Mc::plain(rmse, mse.mcse / (2.0 * rmse)),
        median_abs_error: robust::bootstrap(&absolute, robust::median_of, seed("median_abs_error")),
        iqr: robust::bootstrap(&estimates, iqr, seed("iqr")),
        far: share(&absolute.iter().map(|a| *a > far).collect::<Vec<_>>()),
        coverage: share(&covered),
        ci_width: mean_mc(&widths),
        power: share(&rejects),
        ar_coverage: over_sets(&|s, t| s.contains(t)),
        ar_unbounded: over_sets(&|s, _| !s.is_bounded()),
        iate_rmse: None,
        iate_coverage: None,
        iate_corr: None,
    }
}

/// Mean of each truth value per cell (ATE, LATE, compliance shares), for the report.
pub fn truth_means(records: &[Record]) -> BTreeMap<usize, BTreeMap<String, f64>> {
    let mut sums: BTreeMap<usize, BTreeMap<String, (f64, usize)>> = BTreeMap::new();
    for record in records {
        let cell = sums.entry(record.cell).or_default();
        for (key, value) in &record.truth {
            let slot = cell.entry(key.clone()).or_insert((0.0, 0));
            slot.0 += value;
            slot.1 += 1;
        }
    }
    sums.into_iter()
        .map(|(cell, m)| {
            let means = m.into_iter().map(|(k, (s, c))| (k, s / c as f64)).collect();
            (cell, means)
        })
        .collect()
}
