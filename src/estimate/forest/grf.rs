//! Causal and instrumental forests as grf fits them: out-of-bag nuisance
//! regressions center Y, W and Z; an instrumental forest (a causal forest is
//! the special case Z = W) grows on the centered data; effects are local IV
//! moments solved with forest weights, variances come from little bags, and
//! average effects from doubly robust scores.

use ndarray::ArrayView2;

use super::binning::{Binned, Bins, MAX_BINS};
use super::ensemble::{average, little_bags, Forest, ForestParams, LeafValues};
use super::tree::{Rule, Targets};
use crate::core::seed::mix;
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
}

/// Out-of-bag predictions of a regression forest of `target` on `x`.
pub fn regression_oob(
    x: &Binned,
    target: &[f64],
    params: &ForestParams,
    seed: u64,
) -> Result<Vec<f64>> {
    let targets = Targets {
        y: target,
        w: &[],
        z: &[],
    };
    let forest = Forest::train(x, targets, Rule::Regression, params, seed)?;
    let mean = target.iter().sum::<f64>() / target.len() as f64;
    // A unit drawn by every tree has no out-of-bag prediction; fall back to the mean.
    Ok(forest.map_points(x, true, |v| average(v, 1).map_or(mean, |(a, _)| a[0])))
}

fn constant(v: &[f64]) -> bool {
    v.iter().all(|a| *a == v[0])
}

impl FittedForest {
    /// Fits an instrumental forest of `y` on `w` instrumented by `z` (a
    /// causal forest when `z` is `w` itself), centering all three by
    /// out-of-bag regression forests.
    pub fn fit(
        x: ArrayView2<f64>,
        y: &[f64],
        w: &[f64],
        z: &[f64],
        params: &ForestParams,
        seed: u64,
    ) -> Result<Self> {
        if x.ncols() == 0 {
            return Err(Error::Estimate(
                "a forest needs at least one covariate to split on".into(),
            ));
        }
        let bins = Bins::fit(x, MAX_BINS)?;
        let binned = bins.transform(x)?;
        Self::fit_binned(bins, binned, y, w, z, params, seed)
    }

    /// Fits on covariates already binned (`binned` coded with `bins`): the
    /// entry point for data too large to hold as `f64`, such as thousands
    /// of binary code features.
    pub fn fit_binned(
        bins: Bins,
        binned: Binned,
        y: &[f64],
        w: &[f64],
        z: &[f64],
        params: &ForestParams,
        seed: u64,
    ) -> Result<Self> {
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
        let nuisance = params.nuisance();
        let same = std::ptr::eq(w, z);
        let (y_hat, wz_hat) = rayon::join(
            || regression_oob(&binned, y, &nuisance, mix(seed ^ 1)),
            || {
                let w_hat = regression_oob(&binned, w, &nuisance, mix(seed ^ 2))?;
                let z_hat = if same {
                    w_hat.clone()
                } else {
                    regression_oob(&binned, z, &nuisance, mix(seed ^ 3))?
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
        let targets = Targets {
            y: &yc,
            w: &wc,
            z: &zc,
        };
        let forest = Forest::train(&binned, targets, Rule::Instrumental, params, mix(seed ^ 4))?;
        Ok(FittedForest {
            bins,
            binned,
            forest,
            nuisances,
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
        Ok(self.forest.weights(binned.row(0)))
    }

    /// Trees in the main forest.
    pub fn trees(&self) -> usize {
        self.forest.trees()
    }
}

/// Solves the forest-weighted IV moment at one point, and its little-bags
/// variance (grf's `InstrumentalPredictionStrategy`). Leaf values are the
/// means of y, w, z, yz, wz.
fn iv_moment(values: &LeafValues<'_>, group: usize) -> Prediction {
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

/// Doubly robust scores for the average effect, with their mean and SE.
#[derive(Debug, Clone)]
pub struct Scores {
    /// One score per training unit; their mean estimates the average effect.
    pub scores: Vec<f64>,
    /// Each training unit's out-of-bag estimated effect of Z on W (before
    /// flooring), for instrumental forests; empty for causal forests.
    pub compliance: Vec<f64>,
}

impl Scores {
    /// The average effect over all units: the scores' mean and its standard error.
    pub fn average(&self) -> Option<(f64, f64)> {
        average_effect(&self.scores)
    }
}

/// The average effect over a set of units (all of them, or a group such as
/// a diagnosis): the mean of their doubly robust scores and its standard
/// error; `None` for fewer than two units.
pub fn average_effect<'a>(scores: impl IntoIterator<Item = &'a f64>) -> Option<(f64, f64)> {
    let chosen: Vec<f64> = scores.into_iter().copied().collect();
    let n = chosen.len();
    if n < 2 {
        return None;
    }
    let mean = chosen.iter().sum::<f64>() / n as f64;
    let var = chosen.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    Some((mean, (var / n as f64).sqrt()))
}

fn binary(v: &[f64], what: &str) -> Result<()> {
    match v.iter().position(|a| *a != 0.0 && *a != 1.0) {
        Some(i) => Err(Error::Estimate(format!(
            "the average effect needs a binary 0/1 {what}; found {} at row {}",
            v[i],
            i + 1
        ))),
        None => Ok(()),
    }
}

/// Propensities this close to 0 or 1 are clipped in the score weights.
const OVERLAP: f64 = 1e-3;

/// AIPW scores of a causal forest: `tau(x) + (W - e)/(e(1 - e)) (Y - m - (W - e) tau(x))`.
pub fn aipw_scores(y: &[f64], w: &[f64], n: &Nuisances, tau: &[Prediction]) -> Result<Scores> {
    binary(w, "treatment")?;
    let scores = (0..y.len())
        .map(|i| {
            let e = n.w_hat[i].clamp(OVERLAP, 1.0 - OVERLAP);
            let residual = y[i] - (n.y_hat[i] + tau[i].tau * (w[i] - n.w_hat[i]));
            tau[i].tau + (w[i] - n.w_hat[i]) / (e * (1.0 - e)) * residual
        })
        .collect();
    Ok(Scores {
        scores,
        compliance: Vec::new(),
    })
}

/// Smallest magnitude of a unit's estimated effect of Z on W in the doubly
/// robust IV scores (a departure from grf, which does not floor it).
pub const MIN_COMPLIANCE: f64 = 0.01;

/// Doubly robust scores of an instrumental forest (grf's compliance-score
/// construction, after Aronow and Carnegie): the debiasing weight is
/// `(Z - z_hat) / (z_hat (1 - z_hat)) / delta(x)`, with `delta(x)` the effect
/// of Z on W from an auxiliary causal forest.
pub fn iv_scores(
    fitted: &FittedForest,
    data: (&[f64], &[f64], &[f64]),
    tau: &[Prediction],
    params: &ForestParams,
    seed: u64,
) -> Result<Scores> {
    let (y, w, z) = data;
    let n = &fitted.nuisances;
    binary(z, "instrument")?;
    let compliance = compliance_scores(&fitted.binned, w, z, n, params, seed)?;
    let missing = compliance.iter().filter(|c| !c.is_finite()).count();
    if missing > 0 {
        return Err(Error::Estimate(format!(
            "the compliance forest has no out-of-bag estimate for {missing} units; use more trees"
        )));
    }
    // grf divides by the compliance score as it comes; near zero (a weak
    // instrument, or noise crossing zero) one unit's weight would dominate
    // the average, so its magnitude is floored at MIN_COMPLIANCE.
    let raw = compliance;
    let compliance: Vec<f64> = raw
        .iter()
        .map(|&c| {
            if c.abs() < MIN_COMPLIANCE {
                MIN_COMPLIANCE.copysign(c)
            } else {
                c
            }
        })
        .collect();
    let scores = (0..y.len())
        .map(|i| {
            let e = n.z_hat[i].clamp(OVERLAP, 1.0 - OVERLAP);
            let weight = (z[i] - n.z_hat[i]) / (e * (1.0 - e)) / compliance[i];
            let residual = y[i] - (n.y_hat[i] + tau[i].tau * (w[i] - n.w_hat[i]));
            tau[i].tau + weight * residual
        })
        .collect();
    Ok(Scores {
        scores,
        compliance: raw,
    })
}

/// Out-of-bag effect of Z on W: a causal forest of W on Z centered by the
/// nuisances already fitted.
fn compliance_scores(
    binned: &Binned,
    w: &[f64],
    z: &[f64],
    n: &Nuisances,
    params: &ForestParams,
    seed: u64,
) -> Result<Vec<f64>> {
    // grf trains it with 500 trees next to a 2,000-tree forest: a quarter,
    // as for the nuisances, rounded to whole little bags.
    let trees = params.nuisance().num_trees;
    let aux = ForestParams {
        num_trees: (trees - trees % params.ci_group_size).max(params.ci_group_size),
        ..params.clone()
    };
    let wc: Vec<f64> = w.iter().zip(&n.w_hat).map(|(a, b)| a - b).collect();
    let zc: Vec<f64> = z.iter().zip(&n.z_hat).map(|(a, b)| a - b).collect();
    let targets = Targets {
        y: &wc,
        w: &zc,
        z: &zc,
    };
    let forest = Forest::train(binned, targets, Rule::Instrumental, &aux, mix(seed ^ 5))?;
    let group = forest.group_size();
    Ok(forest.map_points(binned, true, |v| iv_moment(v, group).tau))
}
