//! Causal and instrumental forests as grf fits them: out-of-bag nuisance
//! regressions center Y, W and Z; an instrumental forest (a causal forest is
//! the special case Z = W) grows on the centered data; effects are local IV
//! moments solved with forest weights, variances come from little bags, and
//! average effects from doubly robust scores.

use std::sync::Arc;

use ndarray::ArrayView2;

use super::bags::{average, little_bags};
use super::ensemble::{Forest, LeafValues};
use super::nuisance::regression_oob;
use super::params::{Criterion, ForestParams};
use super::rules::{Instrumental, Moment};
use super::tune::{tune, Tuning};
use crate::core::seed::mix;
use crate::data::binning::{Binned, Bins, MAX_BINS};
use crate::data::Clusters;
use crate::{Error, Result};

/// An effect at one point: the estimate and its variance (NaN without little bags).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Estimated effect tau(x).
    pub tau: f64,
    /// Estimated variance of `tau` (little bags), NaN when unavailable.
    pub variance: f64,
}

/// Out-of-bag fitted values of E[Y|X], E[W|X] and E[Z|X] on the training units.
#[derive(Debug, Clone)]
pub struct Nuisances {
    /// E[Y | X] at each training unit.
    pub y_hat: Vec<f64>,
    /// E[W | X] at each training unit.
    pub w_hat: Vec<f64>,
    /// E[Z | X] at each training unit (equal to `w_hat` for a causal forest).
    pub z_hat: Vec<f64>,
}

/// A fitted causal or instrumental forest, able to predict at new points
/// and to give forest weights.
#[derive(Debug, Clone)]
pub struct FittedForest {
    pub(super) bins: Bins,
    pub(super) binned: Binned,
    pub(super) forest: Forest,
    /// The nuisance fits used for centering.
    pub nuisances: Nuisances,
    /// The clusters the forest sampled whole, if any.
    pub clusters: Option<Arc<Clusters>>,
    /// What tuning chose, when the settings asked for it.
    pub tuning: Option<Tuning>,
}

fn constant(v: &[f64]) -> bool {
    v.iter().all(|a| *a == v[0])
}

/// Fails unless the data can fit a forest: matching lengths, enough units,
/// a varying treatment and instrument, and valid settings.
fn check_inputs(
    binned: &Binned,
    y: &[f64],
    w: &[f64],
    z: &[f64],
    params: &ForestParams,
) -> Result<()> {
    if binned.rows() != y.len() || w.len() != y.len() || z.len() != y.len() {
        return Err(Error::Data(format!(
            "{} covariate rows for {} outcomes, {} treatments and {} instruments",
            binned.rows(),
            y.len(),
            w.len(),
            z.len()
        )));
    }
    params.validate()?;
    let n = y.len();
    if n < 2 * params.min_node_size.max(4) {
        return Err(Error::Estimate(format!(
            "{n} units are too few for a forest"
        )));
    }
    if constant(w) {
        return Err(Error::Estimate(
            "the treatment does not vary; no effect can be estimated".into(),
        ));
    }
    if constant(z) {
        return Err(Error::Estimate(
            "the instrument is constant; an instrumental forest needs it to vary".into(),
        ));
    }
    Ok(())
}

/// Grows a causal or instrumental forest on the centered data in `rule`
/// under the settings' split criterion.
pub(super) fn grow_forest(
    binned: &Binned,
    rule: Instrumental<'_>,
    params: &ForestParams,
    clusters: Option<&Clusters>,
    seed: u64,
) -> Result<Forest> {
    match params.criterion {
        Criterion::Gradient => Forest::train(binned, rule, params, clusters, seed),
        Criterion::Moment => Forest::train(binned, Moment(rule), params, clusters, seed),
    }
}

impl FittedForest {
    /// Fits an instrumental forest of `y` on `w` instrumented by `z` (a
    /// causal forest when `z` is `w` itself), centering all three by
    /// out-of-bag regression forests; every forest samples whole
    /// `clusters` when given.
    pub fn fit(
        x: ArrayView2<f64>,
        (y, w, z): (&[f64], &[f64], &[f64]),
        params: &ForestParams,
        clusters: Option<Arc<Clusters>>,
        seed: u64,
    ) -> Result<Self> {
        let bins = Bins::fit(x, MAX_BINS)?;
        let binned = bins.transform(x)?;
        Self::fit_binned((bins, binned), (y, w, z), params, clusters, seed)
    }

    /// Fits on covariates already binned (`binned` coded with `bins`): the
    /// entry point for data too large to hold as `f64`, such as thousands
    /// of binary code features.
    pub fn fit_binned(
        (bins, binned): (Bins, Binned),
        (y, w, z): (&[f64], &[f64], &[f64]),
        params: &ForestParams,
        clusters: Option<Arc<Clusters>>,
        seed: u64,
    ) -> Result<Self> {
        if binned.features() == 0 {
            return Err(Error::Estimate(
                "a forest needs at least one covariate to split on".into(),
            ));
        }
        check_inputs(&binned, y, w, z, params)?;
        let cl = clusters.as_deref();
        let nuisance = params.nuisance();
        let same = std::ptr::eq(w, z);
        let (y_hat, wz_hat) = rayon::join(
            || regression_oob(&binned, y, &nuisance, cl, mix(seed ^ 1)),
            || {
                let w_hat = regression_oob(&binned, w, &nuisance, cl, mix(seed ^ 2))?;
                let z_hat = if same {
                    w_hat.clone()
                } else {
                    regression_oob(&binned, z, &nuisance, cl, mix(seed ^ 3))?
                };
                Ok::<_, Error>((w_hat, z_hat))
            },
        );
        let (w_hat, z_hat) = wz_hat?;
        let nuisances = Nuisances {
            y_hat: y_hat?,
            w_hat,
            z_hat,
        };
        let center = |v: &[f64], hat: &[f64]| -> Vec<f64> {
            v.iter().zip(hat).map(|(a, b)| a - b).collect()
        };
        let (yc, wc, zc) = (
            center(y, &nuisances.y_hat),
            center(w, &nuisances.w_hat),
            center(z, &nuisances.z_hat),
        );
        let rule = Instrumental {
            y: &yc,
            w: &wc,
            z: &zc,
        };
        let tuning = if params.tune {
            Some(tune(&binned, rule, params, cl, mix(seed ^ 5))?)
        } else {
            None
        };
        let grown = tuning.as_ref().map_or(params, |t| &t.params);
        let forest = grow_forest(&binned, rule, grown, cl, mix(seed ^ 4))?;
        Ok(FittedForest {
            bins,
            binned,
            forest,
            nuisances,
            clusters,
            tuning,
        })
    }

    /// Out-of-bag effects at the training units.
    pub fn predict_oob(&self) -> Vec<Prediction> {
        let group = self.forest.group_size();
        self.forest
            .map_points(&self.binned, true, |v| iv_moment(v, group))
    }

    /// Effects at new covariate rows.
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Vec<Prediction>> {
        let binned = self.bins.transform(x)?;
        let group = self.forest.group_size();
        Ok(self
            .forest
            .map_points(&binned, false, |v| iv_moment(v, group)))
    }

    /// Forest weights of one covariate row: each training unit's weight in
    /// the local moment at `x` (sorted by unit, summing to one). Bounds use
    /// them to estimate conditional probabilities with the same neighbourhoods.
    pub fn weights(&self, x: &[f64]) -> Result<Vec<(usize, f64)>> {
        let row = ndarray::ArrayView2::from_shape((1, x.len()), x)
            .map_err(|e| Error::Data(format!("a covariate row: {e}")))?;
        let binned = self.bins.transform(row)?;
        Ok(self.forest.weights(&binned.row(0)))
    }

    /// Trees in the main forest.
    pub fn trees(&self) -> usize {
        self.forest.trees()
    }
}

/// Solves the forest-weighted IV moment at one point, and its little-bags
/// variance (grf's `InstrumentalPredictionStrategy`). Leaf values are the
/// means of y, w, z, yz, wz.
pub(super) fn iv_moment(values: &LeafValues<'_>, group: usize) -> Prediction {
    let Some((avg, _)) = average(values, 5) else {
        return Prediction {
            tau: f64::NAN,
            variance: f64::NAN,
        };
    };
    let iv = IvSolution::new(&avg);
    let (tau, main) = (iv.tau, iv.main);
    let variance = little_bags(
        values,
        group,
        |v| [v[3] - v[4] * tau - v[2] * main, v[0] - v[1] * tau - main],
        |m| iv.variance_form(m),
    )
    .unwrap_or(f64::NAN);
    Prediction { tau, variance }
}

/// The local IV moment solved from forest-averaged leaf values (means of
/// y, w, z, yz, wz): shared by point and path predictions so both evaluate
/// the same formula.
#[derive(Debug, Clone, Copy)]
pub(super) struct IvSolution {
    /// The effect.
    pub tau: f64,
    /// The intercept `y - w tau`.
    pub main: f64,
    /// The averaged instrument.
    pub z: f64,
    /// The local first stage `wz - w z`.
    pub first_stage: f64,
}

impl IvSolution {
    /// Solves the moment at the averaged leaf values `avg` (5 numbers).
    pub fn new(avg: &[f64]) -> Self {
        let (y, w, z, yz, wz) = (avg[0], avg[1], avg[2], avg[3], avg[4]);
        let first_stage = wz - w * z;
        let tau = (yz - y * z) / first_stage;
        let main = y - w * tau;
        IvSolution {
            tau,
            main,
            z,
            first_stage,
        }
    }

    /// The variance of `tau` implied by second moments `m` of the per-tree
    /// scores `[yz - wz tau - z main, y - w tau - main]` (the delta method).
    pub fn variance_form(&self, m: &[[f64; 2]; 2]) -> f64 {
        let (z, first_stage) = (self.z, self.first_stage);
        (m[0][0] - 2.0 * m[0][1] * z + m[1][1] * z * z) / (first_stage * first_stage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Means of y, w, z, yz, wz over (y, w, z) rows.
    fn moments(rows: &[(f64, f64, f64)]) -> [f64; 5] {
        let n = rows.len() as f64;
        let mut m = [0.0; 5];
        for &(y, w, z) in rows {
            for (a, v) in m.iter_mut().zip([y, w, z, y * z, w * z]) {
                *a += v / n;
            }
        }
        m
    }

    #[test]
    fn the_iv_moment_solves_for_a_known_effect() {
        // Y = 2 + 3 W exactly, W moved by Z: tau = 3, intercept 2.
        let rows: Vec<(f64, f64, f64)> = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (1.0, 1.0)]
            .iter()
            .map(|&(w, z)| (2.0 + 3.0 * w, w, z))
            .collect();
        let iv = IvSolution::new(&moments(&rows));
        assert!((iv.tau - 3.0).abs() < 1e-12, "{}", iv.tau);
        assert!((iv.main - 2.0).abs() < 1e-12, "{}", iv.main);
        assert!((iv.first_stage - 0.125).abs() < 1e-12);
        // (m00 - 2 m01 z + m11 z²) / first_stage²
        let form = iv.variance_form(&[[1.0, 0.5], [0.5, 4.0]]);
        assert!((form - (1.0 - 0.5 + 1.0) / 0.015625).abs() < 1e-9, "{form}");
    }

    #[test]
    fn forest_averages_of_leaf_values_give_the_moment_and_bag_variance() {
        let a = moments(&[(2.0, 0.0, 0.0), (5.0, 1.0, 1.0), (2.0, 0.0, 1.0)]);
        let b = moments(&[(1.0, 0.0, 0.0), (7.0, 1.0, 1.0), (4.0, 1.0, 0.0)]);
        let values: Vec<Option<&[f64]>> = vec![Some(&a), Some(&b), Some(&a), Some(&b)];
        let mut avg = [0.0; 5];
        for (m, (x, y)) in avg.iter_mut().zip(a.iter().zip(&b)) {
            *m = (x + y) / 2.0;
        }
        let p = iv_moment(&values, 2);
        assert!((p.tau - IvSolution::new(&avg).tau).abs() < 1e-12);
        // Bags {a, b} have equal means (no spread between bags, a small
        // variance); bags {a, a} and {b, b} differ (a larger one).
        let spread: Vec<Option<&[f64]>> = vec![Some(&a), Some(&a), Some(&b), Some(&b)];
        let q = iv_moment(&spread, 2);
        assert!((q.tau - p.tau).abs() < 1e-12);
        assert!(
            p.variance > 0.0 && q.variance > 2.0 * p.variance,
            "{} vs {}",
            q.variance,
            p.variance
        );
        assert!(iv_moment(&values, 1).variance.is_nan());
        let none: Vec<Option<&[f64]>> = vec![None, None];
        assert!(iv_moment(&none, 2).tau.is_nan());
    }
}
