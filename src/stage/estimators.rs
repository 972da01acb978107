//! The estimators stage: every `[[estimators]]` entry fitted on the task's
//! sample, each with its own seed, and judged against the truth; per-unit
//! effects are measured against the per-unit truth where the estimator has
//! them. Later stages (policies) read the fits from the task's state.

use serde::{Deserialize, Serialize};

use super::{encode, settings, Fit, Fitted, Part, Stage, TaskState};
use crate::core::seed;
use crate::core::text::number;
use crate::data::strategy;
use crate::estimate::{pool, Estimate};
use crate::record::find_non_finite;
use crate::sim::Sample;
use crate::spec::{Experiment, NamedEstimator};
use crate::{Error, Result};

/// The key of this stage's outcome in records.
pub const NAME: &str = "estimators";

/// Fits every estimator of the experiment.
pub struct EstimatorsStage {
    estimators: Vec<NamedEstimator>,
    /// Per estimator: whether a policy predicts with its fitted forest.
    keep_forest: Vec<bool>,
}

impl EstimatorsStage {
    /// The stage of an experiment with estimators; `None` without any.
    pub fn build(experiment: &Experiment) -> Result<Option<Box<dyn Stage>>> {
        if experiment.estimators.is_empty() {
            return Ok(None);
        }
        let keep_forest = experiment
            .estimators
            .iter()
            .map(|e| experiment.forest_feeds_a_policy(&e.name))
            .collect();
        Ok(Some(Box::new(EstimatorsStage {
            estimators: experiment.estimators.clone(),
            keep_forest,
        })))
    }
}

/// Fits one estimator; a NaN or infinite estimate is a failed fit, since
/// results are finite numbers.
/// `missing` is the sample's first covariate with missing values and how
/// many, found once per task: an estimator without a strategy for them fails.
fn fit_one(
    named: &NamedEstimator,
    keep_forest: bool,
    task: &TaskState<'_>,
    missing: Option<(&str, usize)>,
) -> Result<Fitted> {
    let data = &task.sample.data;
    let est_seed = seed::estimator_seed(task.seed, &named.name);
    let (mut estimate, forest) = if named.data.is_empty() {
        if let Some((column, count)) = missing {
            return Err(strategy::missing_error(column, count, data.n()));
        }
        if keep_forest {
            named.spec.fit_with_forest(data, est_seed)?
        } else {
            (named.spec.estimator().fit(data, est_seed)?, None)
        }
    } else {
        if keep_forest {
            return Err(Error::Estimate(format!(
                "a placement policy predicts with `{}`'s forest on the sample as drawn, and \
                 its `data` strategy changes that sample; give the policy an estimator \
                 without `data`",
                named.name
            )));
        }
        let estimator = named.spec.estimator();
        let estimate =
            pool::fit_with_strategy(&named.data, data, est_seed, |d| estimator.fit(d, est_seed))?;
        (estimate, None)
    };
    estimate.diagnostics.retain(|_, v| v.is_finite());
    let finite = [
        estimate.estimate,
        estimate.se,
        estimate.ci_lower,
        estimate.ci_upper,
    ]
    .iter()
    .all(|v| v.is_finite());
    if !finite {
        return Err(Error::Estimate(format!(
            "{} gave a non-finite estimate ({} with SE {})",
            named.spec.kind(),
            estimate.estimate,
            estimate.se
        )));
    }
    Ok(Fitted { estimate, forest })
}

impl Stage for EstimatorsStage {
    fn name(&self) -> &'static str {
        NAME
    }

    fn parts(&self) -> Result<Vec<Part>> {
        self.estimators
            .iter()
            .map(|named| {
                Ok(Part {
                    name: named.name.clone(),
                    settings: settings(NAME, named)?,
                    reads: Vec::new(),
                })
            })
            .collect()
    }

    fn run(
        &self,
        task: &mut TaskState<'_>,
        run: &[bool],
    ) -> Result<Vec<Option<serde_json::Value>>> {
        let chosen: Vec<(&NamedEstimator, bool)> = self
            .estimators
            .iter()
            .zip(&self.keep_forest)
            .zip(run)
            .filter(|(_, &on)| on)
            .map(|((named, &keep), _)| (named, keep))
            .collect();
        let missing = strategy::first_missing(&task.sample.data);
        task.fits = chosen
            .iter()
            .map(|&(named, keep)| Fit {
                name: named.name.clone(),
                result: fit_one(named, keep, task, missing).map_err(|e| e.to_string()),
            })
            .collect();
        let per_unit = task
            .fits
            .iter()
            .any(|f| f.result.as_ref().is_ok_and(|r| r.estimate.units.is_some()));
        if per_unit {
            task.ensure_conditional_truth()?;
        }
        let sample = &task.sample;
        let mut judged = chosen
            .iter()
            .zip(task.fits.iter_mut())
            .map(|(&(named, _), fit)| encode(NAME, &judge(named, fit, sample)));
        run.iter()
            .map(|&on| match on {
                true => judged.next().transpose(),
                false => Ok(None),
            })
            .collect()
    }
}

/// One estimator's fit judged against the sample's truth, as it is
/// recorded. A result that cannot be judged (the truth of its estimand is
/// not finite) or recorded (a number in it is not finite) is a failed fit
/// with its reason; in the second case the policies that read the fit see
/// the failure too.
fn judge(named: &NamedEstimator, fit: &mut Fit, sample: &Sample) -> EstimatorResult {
    let fitted = match &fit.result {
        Ok(fitted) => fitted,
        Err(e) => return EstimatorResult::failed(&named.name, e.clone()),
    };
    let estimand = named.spec.estimator().estimand();
    if let Some(&truth) = sample.truth.values.get(estimand.key()) {
        if !truth.is_finite() {
            let reason = format!(
                "the truth's {} is not finite ({})",
                estimand.label(),
                number(truth)
            );
            return EstimatorResult::failed(&named.name, reason);
        }
    }
    let iate = fitted
        .estimate
        .units
        .as_ref()
        .zip(sample.truth.conditional(estimand))
        .and_then(|(u, t)| Iate::measure(&u.tau, &u.se, t));
    let result = EstimatorResult {
        estimator: named.name.clone(),
        estimate: Some(fitted.estimate.clone()),
        error: None,
        iate,
    };
    match find_non_finite(&result) {
        None => result,
        Some(found) => {
            let reason = format!("the estimate is not finite: {found}");
            fit.result = Err(reason.clone());
            EstimatorResult::failed(&named.name, reason)
        }
    }
}

/// The estimators' results of a record, in the experiment's order; empty
/// when the record has none.
pub fn results(record: &crate::record::Record) -> Result<Vec<EstimatorResult>> {
    record.outcome(NAME).unwrap_or_else(|| Ok(Vec::new()))
}

/// One estimator's outcome on one task: an estimate, or the reason it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EstimatorResult {
    /// The estimator's label in the experiment.
    pub estimator: String,
    /// The estimate, when the fit succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<Estimate>,
    /// Why the fit failed (a weak draw with an empty arm, a singular design, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How well per-unit effects matched the truth, for estimators that have them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iate: Option<Iate>,
}

impl EstimatorResult {
    /// The result of the estimator named `name` whose fit failed for `reason`.
    pub fn failed(name: &str, reason: String) -> Self {
        EstimatorResult {
            estimator: name.to_string(),
            estimate: None,
            error: Some(reason),
            iate: None,
        }
    }
}

/// Per-unit (individualized) effects against the sample's per-unit truth:
/// the conditional effect given the observed covariates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Iate {
    /// Root mean squared error of tau_hat(x_i) against the true tau(x_i).
    pub rmse: f64,
    /// Share of units whose 95% CI contains the true tau(x_i).
    pub coverage: f64,
    /// Correlation of tau_hat with the true tau across units (none when either is constant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corr: Option<f64>,
}

impl Iate {
    /// Compares estimates (with SEs) to the truth, unit by unit.
    pub fn measure(tau: &[f64], se: &[f64], truth: &[f64]) -> Option<Iate> {
        let n = truth.len();
        if n == 0 || tau.len() != n || se.len() != n {
            return None;
        }
        let nf = n as f64;
        let rmse = (tau
            .iter()
            .zip(truth)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / nf)
            .sqrt();
        let covered = (0..n)
            .filter(|&i| (tau[i] - truth[i]).abs() <= crate::core::stats::Z_95 * se[i])
            .count();
        let (ma, mb) = (tau.iter().sum::<f64>() / nf, truth.iter().sum::<f64>() / nf);
        let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
        for (a, b) in tau.iter().zip(truth) {
            sab += (a - ma) * (b - mb);
            saa += (a - ma).powi(2);
            sbb += (b - mb).powi(2);
        }
        Some(Iate {
            rmse,
            coverage: covered as f64 / nf,
            corr: Some(sab / (saa * sbb).sqrt()).filter(|c| c.is_finite()),
        })
    }
}
