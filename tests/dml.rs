//! Double machine learning on worlds with known truth: bias within Monte
//! Carlo error and nominal coverage for the IRM (ATE and ATT), the PLR, the
//! IV model and the lasso learner; determinism; and clear errors.

mod common;

use causim::core::Estimand;
use causim::data::Dataset;
use causim::estimate::dml::{Dml, DmlModel, Learner};
use causim::estimate::{Estimate, Estimator};
use causim::spec::EstimatorSpec;
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

fn sigmoid(t: f64) -> f64 {
    1.0 / (1.0 + (-t).exp())
}

/// Confounded through a nonlinear function of x1 and x2 (of `p`), effect
/// varying with x1 and x4: the treatment probability and the baseline.
fn propensity(x: &[f64]) -> f64 {
    0.1 + 0.8 * sigmoid(x[0] - 1.5 * (x[1] * x[1] - 1.0 / 3.0))
}

fn effect(x: &[f64]) -> f64 {
    1.0 + x[0] + 0.5 * f64::from(x[3] > 0.0)
}

fn baseline(x: &[f64]) -> f64 {
    (std::f64::consts::PI * x[0]).sin() + x[1] * x[1] + 0.5 * x[2]
}

fn names(p: usize) -> Vec<String> {
    (1..=p).map(|j| format!("x{j}")).collect()
}

/// A sample of the confounded world with heterogeneous effects.
fn confounded(n: usize, p: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, p), |_| rng.random_range(-1.0..1.0));
    let (mut y, mut w) = (Array1::zeros(n), Array1::zeros(n));
    for i in 0..n {
        let r = x.row(i).to_vec();
        w[i] = f64::from(rng.random::<f64>() < propensity(&r));
        let noise: f64 = rng.sample(StandardNormal);
        y[i] = baseline(&r) + w[i] * effect(&r) + noise;
    }
    Dataset::new(y, w, None, x, names(p)).expect("valid data")
}

/// E[τ | W = 1] = E[e τ] / E[e] by Monte Carlo over the covariates.
fn true_att() -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (mut num, mut den) = (0.0, 0.0);
    for _ in 0..400_000 {
        let x: Vec<f64> = (0..4).map(|_| rng.random_range(-1.0..1.0)).collect();
        let e = propensity(&x);
        num += e * effect(&x);
        den += e;
    }
    num / den
}

/// An IV world: compliers (more likely where x1 > 0) take the instrument;
/// the others are always- or never-takers by an unobserved u that also
/// moves the outcome. LATE = 1 + E[x1 c(x)] / E[c(x)] = 1 + 0.1 / 0.6.
fn instrumented(n: usize, p: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, p), |_| rng.random_range(-1.0..1.0));
    let (mut y, mut w, mut z) = (Array1::zeros(n), Array1::zeros(n), Array1::zeros(n));
    for i in 0..n {
        let r = x.row(i).to_vec();
        let u: f64 = rng.sample(StandardNormal);
        z[i] = f64::from(rng.random::<f64>() < 0.3 + 0.4 * sigmoid(2.0 * r[2]));
        let complier = rng.random::<f64>() < 0.4 + 0.4 * f64::from(r[0] > 0.0);
        w[i] = if complier { z[i] } else { f64::from(u > 0.0) };
        let noise: f64 = rng.sample(StandardNormal);
        y[i] = baseline(&r) + r[2] + w[i] * (1.0 + r[0]) + u + noise;
    }
    Dataset::new(y, w, Some(z), x, names(p)).expect("valid data")
}

/// A constant effect 1.5, confounded through x2: a step in the propensity
/// and a linear term in the outcome, beside the nonlinear baseline.
fn stepped(n: usize, p: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, p), |_| rng.random_range(-1.0..1.0));
    let (mut y, mut w) = (Array1::zeros(n), Array1::zeros(n));
    for i in 0..n {
        let r = x.row(i).to_vec();
        let e = 0.25 + 0.5 * f64::from(r[1] > 0.0) - 0.15 * f64::from(r[2] > 0.5);
        w[i] = f64::from(rng.random::<f64>() < e);
        let noise: f64 = rng.sample(StandardNormal);
        y[i] = baseline(&r) + r[1] + 1.5 * w[i] + noise;
    }
    Dataset::new(y, w, None, x, names(p)).expect("valid data")
}

const LATE: f64 = 1.0 + 0.1 / 0.6;

/// A sparse linear world with many noise covariates: `p` standard normal
/// covariates, of which x1..x3 confound; constant effect 1.
fn sparse(n: usize, p: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, p), |_| rng.sample::<f64, _>(StandardNormal));
    let (mut y, mut w) = (Array1::zeros(n), Array1::zeros(n));
    for i in 0..n {
        let r = x.row(i);
        w[i] = f64::from(rng.random::<f64>() < sigmoid(0.8 * r[0] - 0.6 * r[1]));
        let noise: f64 = rng.sample(StandardNormal);
        y[i] = 2.0 * r[0] + r[1] - r[2] + w[i] + noise;
    }
    Dataset::new(y, w, None, x, names(p)).expect("valid data")
}

/// Estimates over `reps` samples drawn with seeds 1000.., fitted in parallel.
fn replicate(reps: u64, dml: &Dml, draw: impl Fn(u64) -> Dataset + Sync) -> Vec<Estimate> {
    (0..reps)
        .into_par_iter()
        .map(|r| dml.fit(&draw(1000 + r), r).expect("fit"))
        .collect()
}

/// Checks bias within Monte Carlo error, SEs that match the spread of the
/// estimates, and coverage in [0.88, 0.99]; returns the coverage.
fn check(label: &str, estimates: &[Estimate], truth: f64) -> f64 {
    let common::Summary {
        mean,
        sd,
        mean_se,
        coverage,
    } = common::summarize(estimates, truth);
    let r = estimates.len() as f64;
    let report = format!(
        "{label}: mean {mean:.4} (truth {truth:.4}), sd {sd:.4}, mean SE {mean_se:.4}, coverage {coverage:.3}"
    );
    assert!(sd > 0.0, "{report}");
    assert!((mean - truth).abs() < 3.0 * sd / r.sqrt(), "bias: {report}");
    assert!((0.75..1.35).contains(&(mean_se / sd)), "SE: {report}");
    assert!((0.88..=0.99).contains(&coverage), "coverage: {report}");
    coverage
}

fn small_forest(model: DmlModel) -> Dml {
    Dml {
        model,
        trees: 50,
        ..Dml::default()
    }
}

#[test]
fn irm_recovers_the_ate_and_the_att_under_nonlinear_confounding() {
    let dml = small_forest(DmlModel::Irm);
    let draw = |s| confounded(1000, 10, s);
    let estimates = replicate(100, &dml, draw);
    assert!(estimates.iter().all(|e| e.estimand == Estimand::Ate));
    check("irm ate", &estimates, 1.25);
    // The naive comparison is far off: the world is confounded.
    let naive: f64 = (1000..1100)
        .map(|s| {
            let d = draw(s);
            let (mut t, mut c) = ((0.0, 0.0), (0.0, 0.0));
            for (y, w) in d.y.iter().zip(&d.w) {
                let arm = if *w == 1.0 { &mut t } else { &mut c };
                *arm = (arm.0 + y, arm.1 + 1.0);
            }
            t.0 / t.1 - c.0 / c.1
        })
        .sum::<f64>()
        / 100.0;
    assert!((naive - 1.25).abs() > 0.1, "naive {naive}");
    let outcome_r2 = estimates[0].diagnostics["outcome_r2"];
    assert!(outcome_r2 > 0.3 && outcome_r2 < 1.0, "R2 {outcome_r2}");
    assert!(estimates[0].diagnostics["propensity_min"] > 0.0);

    let att = Dml {
        estimand: Some(Estimand::Att),
        ..dml
    };
    let estimates = replicate(100, &att, draw);
    assert!(estimates.iter().all(|e| e.estimand == Estimand::Att));
    let truth = true_att();
    assert!(
        (truth - 1.25).abs() > 0.05,
        "ATT {truth} should differ from the ATE"
    );
    check("irm att", &estimates, truth);
}

#[test]
fn plr_recovers_a_constant_effect() {
    // Larger leaves: the residual-on-residual score loses a share
    // MSE(m_hat) / var(W | X) of the effect, so a noisy propensity biases it.
    let plr = Dml {
        min_node_size: 50,
        ..small_forest(DmlModel::Plr)
    };
    let estimates = replicate(100, &plr, |s| stepped(1500, 10, s));
    check("plr", &estimates, 1.5);
    assert!(estimates[0].diagnostics["treatment_r2"] > 0.02);
}

#[test]
fn iv_recovers_the_complier_effect() {
    let estimates = replicate(100, &small_forest(DmlModel::Iv), |s| {
        instrumented(1500, 10, s)
    });
    assert!(estimates.iter().all(|e| e.estimand == Estimand::Late));
    check("iv", &estimates, LATE);
    let compliance = estimates[0].diagnostics["compliance"];
    assert!(
        (compliance - 0.6).abs() < 0.1,
        "complier share {compliance}"
    );
}

#[test]
fn lasso_learner_handles_many_noise_covariates() {
    // The partially linear score loses a share MSE(m_hat) / var(W | X) of
    // the effect, a second-order bias that needs a larger sample to fall
    // well below the SE.
    for (model, n) in [(DmlModel::Irm, 600), (DmlModel::Plr, 2000)] {
        let dml = Dml {
            model,
            learner: Learner::Lasso,
            ..Dml::default()
        };
        let estimates = replicate(100, &dml, |s| sparse(n, 100, s));
        check(&format!("lasso {model:?}"), &estimates, 1.0);
    }
}

#[test]
fn a_seed_fixes_the_estimate_and_repetitions_aggregate_splits() {
    let data = confounded(600, 10, 3);
    let dml = small_forest(DmlModel::Irm);
    let a = dml.fit(&data, 11).expect("fit");
    assert_eq!(a, dml.fit(&data, 11).expect("fit"));
    assert_ne!(a.estimate, dml.fit(&data, 12).expect("fit").estimate);
    let lasso = Dml {
        learner: Learner::Lasso,
        ..dml.clone()
    };
    assert_eq!(
        lasso.fit(&data, 4).expect("fit"),
        lasso.fit(&data, 4).expect("fit")
    );
    let repeated = Dml {
        repetitions: 3,
        ..dml
    }
    .fit(&data, 11)
    .expect("fit");
    assert_eq!(repeated.diagnostics["repetitions"], 3.0);
    assert!((repeated.estimate - a.estimate).abs() < 2.0 * a.se);
    assert!(repeated.se > 0.5 * a.se);
}

fn error(dml: &Dml, data: &Dataset) -> String {
    dml.fit(data, 1).expect_err("should fail").to_string()
}

#[test]
fn errors_name_what_to_change() {
    let linear_plr = Dml {
        model: DmlModel::Plr,
        cate: causim::estimate::dml::Cate::Linear,
        ..Dml::default()
    };
    assert!(
        error(&linear_plr, &sparse(200, 5, 1)).contains("cate = \"linear\" needs model = \"irm\""),
        "{}",
        error(&linear_plr, &sparse(200, 5, 1))
    );
    let data = confounded(300, 5, 1);
    let iv = small_forest(DmlModel::Iv);
    assert!(error(&iv, &data).contains("needs an instrument"));

    let tiny = confounded(8, 5, 1);
    assert!(error(&small_forest(DmlModel::Irm), &tiny).contains("too few for 5 folds"));

    // Three treated units: some training fold lacks the treated arm.
    let mut w = Array1::zeros(300);
    for i in 0..3 {
        w[i] = 1.0;
    }
    let few = Dataset::new(data.y.clone(), w, None, data.x.clone(), names(5)).expect("data");
    assert!(error(&small_forest(DmlModel::Irm), &few).contains("W = 1"));

    let continuous = Dataset::new(
        data.y.clone(),
        data.x.column(0).to_owned(),
        None,
        data.x.clone(),
        names(5),
    )
    .expect("data");
    assert!(error(&small_forest(DmlModel::Irm), &continuous).contains("0/1 treatment"));
    // The partially linear model takes a continuous treatment.
    small_forest(DmlModel::Plr)
        .fit(&continuous, 1)
        .expect("plr with a continuous treatment");

    let bad = [
        (
            Dml {
                folds: 1,
                ..Dml::default()
            },
            "folds",
        ),
        (
            Dml {
                trim: 0.5,
                ..Dml::default()
            },
            "trim",
        ),
        (
            Dml {
                trees: 0,
                ..Dml::default()
            },
            "trees",
        ),
        (
            Dml {
                repetitions: 0,
                ..Dml::default()
            },
            "repetitions",
        ),
        (
            Dml {
                estimand: Some(Estimand::Late),
                ..Dml::default()
            },
            "cannot estimate the LATE",
        ),
        (
            Dml {
                model: DmlModel::Plr,
                estimand: Some(Estimand::Att),
                ..Dml::default()
            },
            "cannot estimate the ATT",
        ),
    ];
    for (dml, word) in bad {
        let message = error(&dml, &data);
        assert!(message.contains(word), "{message}");
    }
}

#[test]
fn the_spec_reads_dml_entries_and_rejects_typos() {
    let spec: EstimatorSpec = toml::from_str(
        "kind = \"dml\"\nmodel = \"iv\"\nlearner = \"lasso\"\nfolds = 4\ntrim = 0.05",
    )
    .expect("valid entry");
    let EstimatorSpec::Dml(dml) = &spec else {
        panic!("not a dml spec: {spec:?}");
    };
    assert_eq!(
        (dml.model, dml.learner, dml.folds),
        (DmlModel::Iv, Learner::Lasso, 4)
    );
    assert_eq!(spec.estimator().estimand(), Estimand::Late);
    assert_eq!(spec.kind(), "dml");
    let typo = toml::from_str::<EstimatorSpec>("kind = \"dml\"\nfold = 4").expect_err("typo");
    assert!(typo.to_string().contains("fold"), "{typo}");
}

/// The sparse world with a linear effect 1 + x4 − 0.5 x5, and that effect
/// per unit (its conditional mean, the DR-learner's target).
fn linear_effects(n: usize, p: usize, seed: u64) -> (Dataset, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, p), |_| rng.sample::<f64, _>(StandardNormal));
    let (mut y, mut w, mut tau) = (Array1::zeros(n), Array1::zeros(n), vec![0.0; n]);
    for i in 0..n {
        let r = x.row(i);
        tau[i] = 1.0 + r[3] - 0.5 * r[4];
        w[i] = f64::from(rng.random::<f64>() < sigmoid(0.8 * r[0] - 0.6 * r[1]));
        let noise: f64 = rng.sample(StandardNormal);
        y[i] = 2.0 * r[0] + r[1] - r[2] + w[i] * tau[i] + noise;
    }
    (
        Dataset::new(y, w, None, x, names(p)).expect("valid data"),
        tau,
    )
}

#[test]
fn the_dr_learner_recovers_linear_per_unit_effects() {
    use causim::estimate::dml::Cate;
    let dml = Dml {
        learner: Learner::Lasso,
        cate: Cate::Linear,
        ..Dml::default()
    };
    let reps = 40;
    let results: Vec<(f64, f64, f64)> = (0..reps)
        .into_par_iter()
        .map(|r| {
            let (data, tau) = linear_effects(2000, 50, 3000 + r);
            let fit = dml.fit(&data, r).expect("fit");
            let units = fit.units.as_ref().expect("per-unit effects");
            let n = tau.len() as f64;
            let mean_tau = units.tau.iter().sum::<f64>() / n;
            assert!(
                (mean_tau - fit.estimate).abs() < 1e-9,
                "the per-unit effects average to the AIPW estimate"
            );
            let rmse = (units
                .tau
                .iter()
                .zip(&tau)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                / n)
                .sqrt();
            let covered = (0..tau.len())
                .filter(|&i| (units.tau[i] - tau[i]).abs() <= 1.96 * units.se[i])
                .count() as f64
                / n;
            (rmse, covered, fit.diagnostics["cate_covariates"])
        })
        .collect();
    let r = reps as f64;
    let rmse = results.iter().map(|t| t.0).sum::<f64>() / r;
    let coverage = results.iter().map(|t| t.1).sum::<f64>() / r;
    let selected = results.iter().map(|t| t.2).sum::<f64>() / r;
    let report = format!("rmse {rmse:.3}, coverage {coverage:.3}, selected {selected:.2}");
    // The effect's SD is 1.12: a constant would miss by that much.
    assert!(rmse < 0.15, "{report}");
    assert!((0.85..=0.99).contains(&coverage), "{report}");
    assert!((1.8..=3.0).contains(&selected), "{report}");
}
