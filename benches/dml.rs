//! Double machine learning speed and accuracy on a confounded design with
//! heterogeneous effects, built here: p covariates ~ U(-1, 1), of which x1
//! and x2 drive both the propensity and the baseline nonlinearly and x1, x4
//! the effect. Fits the PLR and IRM with forest nuisances and the IRM with
//! lasso nuisances (5 folds) on one sample and prints one JSON line: wall
//! times, estimates, SEs and the truths (the ATE for the IRM; the
//! variance-weighted effect the PLR targets, by Monte Carlo).
//!
//! Run with `cargo bench --bench dml -- [N] [P] [TREES]`
//! (defaults: 5,000 units, 100 covariates, the estimator's default trees).

use std::time::Instant;

use causim::data::Dataset;
use causim::estimate::dml::{Dml, DmlModel, Learner};
use causim::estimate::{Estimate, Estimator};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

fn propensity(x1: f64, x2: f64) -> f64 {
    0.1 + 0.8 / (1.0 + (-(1.5 * x1 - 2.0 * (x2 * x2 - 1.0 / 3.0))).exp())
}

fn effect(x1: f64, x4: f64) -> f64 {
    1.0 + x1 + 0.5 * f64::from(x4 > 0.0)
}

fn sample(n: usize, p: usize, seed: u64) -> Result<Dataset, causim::Error> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, p), |_| rng.random_range(-1.0..1.0));
    let mut y = Array1::zeros(n);
    let mut w = Array1::zeros(n);
    for i in 0..n {
        let r = x.row(i);
        let treated = f64::from(rng.random::<f64>() < propensity(r[0], r[1]));
        let baseline = (std::f64::consts::PI * r[0]).sin() + r[1] * r[1] + 0.5 * r[2];
        let noise: f64 = rng.sample(StandardNormal);
        w[i] = treated;
        y[i] = baseline + treated * effect(r[0], r[3]) + noise;
    }
    let names = (1..=p).map(|j| format!("x{j}")).collect();
    Dataset::new(y, w, None, x, names)
}

/// E[e(1 − e) τ] / E[e(1 − e)], the effect the partially linear model targets.
fn variance_weighted_truth() -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let (mut num, mut den) = (0.0, 0.0);
    for _ in 0..2_000_000 {
        let (x1, x2, x4): (f64, f64, f64) = (
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
            rng.random_range(-1.0..1.0),
        );
        let e = propensity(x1, x2);
        num += e * (1.0 - e) * effect(x1, x4);
        den += e * (1.0 - e);
    }
    num / den
}

fn timed(dml: &Dml, data: &Dataset) -> Result<(Estimate, f64), causim::Error> {
    let started = Instant::now();
    let estimate = dml.fit(data, 7)?;
    Ok((estimate, started.elapsed().as_secs_f64()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let n: usize = args.first().map_or(Ok(5000), |a| a.parse())?;
    let p: usize = args.get(1).map_or(Ok(100), |a| a.parse())?;
    let trees: usize = args
        .get(2)
        .map_or(Ok(Dml::default().trees), |a| a.parse())?;
    let data = sample(n, p, 1)?;
    let forest = Dml {
        trees,
        ..Dml::default()
    };
    let (irm, irm_s) = timed(&forest, &data)?;
    let plr_spec = Dml {
        model: DmlModel::Plr,
        ..forest.clone()
    };
    let (plr, plr_s) = timed(&plr_spec, &data)?;
    let lasso_spec = Dml {
        learner: Learner::Lasso,
        ..Dml::default()
    };
    let (lasso, lasso_s) = timed(&lasso_spec, &data)?;
    let diagnostic = |e: &Estimate, key: &str| e.diagnostics.get(key).copied().unwrap_or(f64::NAN);
    println!(
        "{{\"n\": {n}, \"p\": {p}, \"folds\": {}, \"trees\": {trees}, \"threads\": {}, \
         \"irm_seconds\": {irm_s:.2}, \"irm_ate\": {:.4}, \"irm_se\": {:.4}, \"irm_outcome_r2\": {:.3}, \
         \"plr_seconds\": {plr_s:.2}, \"plr\": {:.4}, \"plr_se\": {:.4}, \
         \"lasso_irm_seconds\": {lasso_s:.2}, \"lasso_irm_ate\": {:.4}, \"lasso_irm_se\": {:.4}, \
         \"true_ate\": 1.25, \"true_variance_weighted\": {:.4}}}",
        forest.folds,
        rayon::current_num_threads(),
        irm.estimate,
        irm.se,
        diagnostic(&irm, "outcome_r2"),
        plr.estimate,
        plr.se,
        lasso.estimate,
        lasso.se,
        variance_weighted_truth(),
    );
    Ok(())
}
