//! The regression forest as an effect estimator: a T-learner that fits
//! E[Y | X] separately among treated and untreated units, with the ATE from
//! AIPW scores and per-unit variances from little bags.

use ndarray::{ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::bags::{average, little_bags};
use super::ensemble::{Forest, LeafValues};
use super::grf::{Nuisances, Prediction};
use super::nuisance::regression_oob;
use super::params::{Criterion, ForestParams};
use super::rules::Regression;
use super::scores::aipw_scores;
use super::unit_effects;
use crate::core::seed::mix;
use crate::core::Estimand;
use crate::data::binning::{Binned, Bins, MAX_BINS};
use crate::data::{Clusters, Dataset};
use crate::estimate::{Estimate, UnitEffects};
use crate::{Error, Result};

/// Regression forests of Y on X within each treatment arm (a T-learner):
/// tau(x) = mu1(x) - mu0(x), and the ATE from AIPW scores with a forest propensity.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RegressionForest(pub ForestParams);

/// Mean and little-bags variance of a regression forest's leaf means.
fn regression_prediction(values: &LeafValues<'_>, group: usize) -> Prediction {
    match average(values, 1) {
        Some((avg, _)) => Prediction {
            tau: avg[0],
            variance: little_bags(values, group, |v| [v[0] - avg[0]], |m| m[0][0])
                .unwrap_or(f64::NAN),
        },
        None => Prediction {
            tau: f64::NAN,
            variance: f64::NAN,
        },
    }
}

/// One arm's forest with the arm's own units binned (for out-of-bag predictions).
struct Arm {
    forest: Forest,
    binned: Binned,
    rows: Vec<usize>,
}

impl Arm {
    fn fit(
        bins: &Bins,
        (x, y): (ArrayView2<f64>, &[f64]),
        rows: Vec<usize>,
        params: &ForestParams,
        clusters: Option<&Clusters>,
        seed: u64,
    ) -> Result<Arm> {
        let binned = bins.transform(x.select(Axis(0), &rows).view())?;
        let y_arm: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
        let own = clusters.map(|c| c.select(&rows)).transpose()?;
        let rule = Regression { y: &y_arm };
        let forest = Forest::train(&binned, rule, params, own.as_ref(), seed)?;
        Ok(Arm {
            forest,
            binned,
            rows,
        })
    }

    /// Predictions at `points`.
    fn predict(&self, points: &Binned) -> Vec<Prediction> {
        let group = self.forest.group_size();
        self.forest
            .map_points(points, false, |v| regression_prediction(v, group))
    }

    /// Predictions at every training unit, out-of-bag for the arm's own units.
    fn predict_training(&self, all: &Binned) -> Vec<Prediction> {
        let group = self.forest.group_size();
        let mut out = self.predict(all);
        let own = self
            .forest
            .map_points(&self.binned, true, |v| regression_prediction(v, group));
        for (&i, p) in self.rows.iter().zip(own) {
            out[i] = p;
        }
        out
    }
}

fn difference(mu1: &[Prediction], mu0: &[Prediction]) -> Vec<Prediction> {
    mu1.iter()
        .zip(mu0)
        .map(|(a, b)| Prediction {
            tau: a.tau - b.tau,
            variance: a.variance + b.variance,
        })
        .collect()
}

impl super::ForestEstimator for RegressionForest {
    const ESTIMAND: Estimand = Estimand::Ate;

    fn run(
        &self,
        data: &Dataset,
        seed: u64,
        x_new: Option<ArrayView2<f64>>,
    ) -> Result<(Estimate, Option<UnitEffects>)> {
        let name = "regression_forest";
        let params = &self.0;
        params.validate()?;
        if params.tune || params.criterion != Criterion::Gradient {
            return Err(Error::Estimate(format!(
                "{name} splits on the outcome itself: `criterion` and `tune` apply to the causal and \
                 instrumental forests only"
            )));
        }
        let (y, w) = (data.y.to_vec(), data.w.to_vec());
        let treated: Vec<usize> = (0..y.len()).filter(|&i| w[i] == 1.0).collect();
        let control: Vec<usize> = (0..y.len()).filter(|&i| w[i] == 0.0).collect();
        if treated.len() + control.len() != y.len() {
            return Err(Error::Estimate(format!(
                "{name} needs a binary 0/1 treatment{}",
                crate::estimate::DOSE_HINT
            )));
        }
        let min = 4 * params.min_node_size.max(2);
        if treated.len() < min || control.len() < min {
            return Err(Error::Estimate(format!(
                "{name} needs at least {min} treated and {min} untreated units; found {} and {}",
                treated.len(),
                control.len()
            )));
        }
        if data.x.ncols() == 0 {
            return Err(Error::Estimate(format!(
                "{name} needs at least one covariate"
            )));
        }
        let x = data.x.view();
        let bins = Bins::fit(x, MAX_BINS)?;
        let all = bins.transform(x)?;
        let clusters = data.clusters.clone().filter(|_| params.clusters);
        let cl = clusters.as_deref();
        let treated_arm = Arm::fit(&bins, (x, &y), treated, params, cl, mix(seed ^ 11))?;
        let control_arm = Arm::fit(&bins, (x, &y), control, params, cl, mix(seed ^ 12))?;
        let mu0 = control_arm.predict_training(&all);
        let tau = difference(&treated_arm.predict_training(&all), &mu0);
        let w_hat = regression_oob(&all, &w, &params.nuisance(), cl, mix(seed ^ 13))?;
        let y_hat: Vec<f64> = (0..y.len())
            .map(|i| mu0[i].tau + w_hat[i] * tau[i].tau)
            .collect();
        let nuisances = Nuisances {
            y_hat,
            z_hat: w_hat.clone(),
            w_hat,
        };
        let scores = aipw_scores((&y, &w), &nuisances, &tau, clusters)?;
        let (mean, se) = scores.average().ok_or_else(|| {
            Error::Estimate(format!("{name}: too few units for an average effect"))
        })?;
        let mut estimate = Estimate::normal(Estimand::Ate, mean, se).with("n", y.len() as f64);
        estimate.units = Some(unit_effects(name, &tau, scores.scores)?);
        let new = match x_new {
            Some(x_new) => {
                let points = bins.transform(x_new)?;
                let preds =
                    difference(&treated_arm.predict(&points), &control_arm.predict(&points));
                Some(unit_effects(name, &preds, Vec::new())?)
            }
            None => None,
        };
        Ok((estimate, new))
    }
}
