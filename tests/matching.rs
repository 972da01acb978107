//! Propensity score matching, entropy balancing and coarsened exact matching
//! on worlds with known ATT and ATE: bias and coverage over replications,
//! exact agreement with brute-force computations, balance, the caliper, and
//! errors.

mod common;

use causim::core::Estimand;
use causim::data::binning::{Bins, Coded};
use causim::data::Dataset;
use causim::estimate::cem::{Cem, CemTarget};
use causim::estimate::entropy::EntropyBalancing;
use causim::estimate::matching::{MatchTarget, Psm};
use causim::estimate::{Estimate, Estimator};
use causim::spec::EstimatorSpec;
use common::summarize;
use ndarray::{s, Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// A confounded world with four N(0, 1) covariates: x1, x2 and x3 drive both
/// treatment and outcome, x1 also the effect, so the ATT differs from the
/// ATE (which is 1). `strength` scales the propensity's slopes (overlap
/// worsens as it grows).
#[derive(Clone, Copy)]
struct World {
    intercept: f64,
    strength: f64,
}

const WORLD: World = World {
    intercept: -0.4,
    strength: 1.0,
};

impl World {
    fn logit(&self, x: &[f64]) -> f64 {
        self.intercept + self.strength * (0.8 * x[0] - 0.5 * x[1] + 0.4 * x[2])
    }

    fn tau(x: &[f64]) -> f64 {
        1.0 + x[0]
    }

    fn y0(x: &[f64]) -> f64 {
        x[0] + 0.8 * x[1] + 0.4 * x[2] * x[2] + 0.3 * x[3]
    }

    /// A sample of `n` units.
    fn sample(&self, n: usize, seed: u64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, 4), |_| rng.sample::<f64, _>(StandardNormal));
        let mut w = Array1::zeros(n);
        let mut y = Array1::zeros(n);
        for i in 0..n {
            let row = x.row(i).to_vec();
            let e = 1.0 / (1.0 + (-self.logit(&row)).exp());
            w[i] = f64::from(rng.random::<f64>() < e);
            let noise: f64 = rng.sample(StandardNormal);
            y[i] = World::y0(&row) + w[i] * World::tau(&row) + noise;
        }
        let names = (1..=4).map(|j| format!("x{j}")).collect();
        Dataset::new(y, w, None, x, names).expect("consistent columns")
    }

    /// The population ATT, E[e(X) tau(X)] / E[e(X)], by Monte Carlo over X
    /// (error about 0.001).
    fn att(&self) -> f64 {
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        let (mut num, mut den) = (0.0, 0.0);
        for _ in 0..1_000_000 {
            let x: Vec<f64> = (0..3).map(|_| rng.sample(StandardNormal)).collect();
            let e = 1.0 / (1.0 + (-self.logit(&x)).exp());
            num += e * World::tau(&x);
            den += e;
        }
        num / den
    }
}

/// Asserts a bias below a fifth of the estimates' SD (and so of the SE),
/// coverage within `coverage_band` and an average SE within `se_band` times
/// the estimates' SD.
fn assert_calibrated(
    label: &str,
    estimates: &[Estimate],
    truth: f64,
    coverage_band: (f64, f64),
    se_band: (f64, f64),
) {
    let s = summarize(estimates, truth);
    let report = format!(
        "{label}: mean {:.4} (truth {truth:.4}), sd {:.4}, mean SE {:.4}, coverage {:.3}",
        s.mean, s.sd, s.mean_se, s.coverage
    );
    assert!(
        (s.mean - truth).abs() < 0.2 * s.sd,
        "bias too large: {report}"
    );
    assert!(
        (coverage_band.0..=coverage_band.1).contains(&s.coverage),
        "coverage outside {coverage_band:?}: {report}"
    );
    let ratio = s.mean_se / s.sd;
    assert!(
        (se_band.0..=se_band.1).contains(&ratio),
        "SE / SD = {ratio:.3} outside {se_band:?}: {report}"
    );
}

fn psm(estimand: MatchTarget, neighbors: usize, replacement: bool, caliper: f64) -> Psm {
    Psm {
        estimand,
        neighbors,
        replacement,
        caliper,
        ..Psm::default()
    }
}

fn fit(estimator: &dyn Estimator, data: &Dataset) -> Estimate {
    estimator.fit(data, 0).expect("fits")
}

#[test]
fn matching_and_balancing_recover_att_and_ate_with_nominal_coverage() {
    const REPS: u64 = 300;
    let att = WORLD.att();
    assert!(att - 1.0 > 0.25, "ATT {att} should differ from the ATE 1");
    let psm_att = psm(MatchTarget::Att, 1, true, 0.0);
    let psm_ate = psm(MatchTarget::Ate, 2, true, 0.0);
    let ebal = EntropyBalancing::default();
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    let mut naive = 0.0;
    for r in 0..REPS {
        let data = WORLD.sample(1_000, 1_000 + r);
        let e = fit(&psm_att, &data);
        assert_eq!(e.estimand, Estimand::Att);
        assert_eq!(e.diagnostics["dropped_share"], 0.0);
        assert!(e.diagnostics["smd_max_after"] < e.diagnostics["smd_max_before"]);
        a.push(e);
        b.push(fit(&psm_ate, &data));
        let e = fit(&ebal, &data);
        assert!(e.diagnostics["smd_max_after"] < 1e-6, "{:?}", e.diagnostics);
        assert!(e.diagnostics["smd_max_before"] > 0.2);
        c.push(e);
        let treated = data.w.sum();
        naive += data.y.dot(&data.w) / treated
            - data.y.dot(&data.w.mapv(|w| 1.0 - w)) / (1_000.0 - treated);
    }
    // The Abadie-Imbens SE treats the estimated score as known. For the ATE
    // that is conservative (Abadie and Imbens 2016: estimating the score
    // lowers the variance), here by about a third; for the ATT the sign is
    // not known in general, and here it is conservative by about a fifth.
    assert_calibrated("psm att", &a, att, (0.90, 0.99), (0.9, 1.35));
    assert_calibrated("psm ate", &b, 1.0, (0.90, 1.0), (1.0, 1.6));
    assert_calibrated("entropy balancing", &c, att, (0.90, 0.99), (0.85, 1.15));
    // The naive comparison is far off, so the world is confounded.
    naive /= REPS as f64;
    assert!((naive - att).abs() > 0.25, "naive {naive} vs ATT {att}");
    let mean_balance = |v: &[Estimate], key: &str| {
        v.iter().map(|e| e.diagnostics[key]).sum::<f64>() / v.len() as f64
    };
    assert!(mean_balance(&a, "smd_max_after") < 0.5 * mean_balance(&a, "smd_max_before"));
    assert!(mean_balance(&b, "smd_max_after") < 0.5 * mean_balance(&b, "smd_max_before"));
    for e in &c {
        assert!(e.diagnostics["ess_controls"] < 0.9 * e.diagnostics["n_control"]);
        assert!(e.diagnostics["max_weight_share"] > 1.0 / e.diagnostics["n_control"]);
    }
}

#[test]
fn omitting_a_confounder_biases_matching() {
    const REPS: u64 = 100;
    let att = WORLD.att();
    let estimator = psm(MatchTarget::Att, 1, true, 0.0);
    let (mut full, mut omitted) = (Vec::new(), Vec::new());
    for r in 0..REPS {
        let data = WORLD.sample(1_000, 5_000 + r);
        full.push(fit(&estimator, &data));
        // Drop x1, which drives treatment, outcome and effect.
        let short = Dataset::new(
            data.y.clone(),
            data.w.clone(),
            None,
            data.x.slice(s![.., 1..]).to_owned(),
            data.x_names[1..].to_vec(),
        )
        .expect("consistent");
        omitted.push(fit(&estimator, &short));
    }
    let full = summarize(&full, att);
    let omitted = summarize(&omitted, att);
    assert!((full.mean - att).abs() < 0.05, "full {}", full.mean);
    assert!(
        omitted.mean - att > 0.5,
        "omitted x1: mean {} vs ATT {att}",
        omitted.mean
    );
    assert!(omitted.coverage < 0.2, "coverage {}", omitted.coverage);
}

/// One covariate: the logit score is increasing and linear in it, so
/// matching on the score is matching on x, checked here by brute force.
fn one_covariate(n: usize, seed: u64) -> (Dataset, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
    let w: Array1<f64> = x
        .iter()
        .map(|&v| f64::from(rng.random::<f64>() < 1.0 / (1.0 + (-(v - 0.3)).exp())))
        .collect();
    let y: Array1<f64> = x
        .iter()
        .zip(w.iter())
        .map(|(&v, &t)| v * v + t * (1.0 + v) + rng.sample::<f64, _>(StandardNormal))
        .collect();
    let xm = Array2::from_shape_vec((n, 1), x.clone()).expect("shape");
    let data = Dataset::new(y, w, None, xm, vec!["x".into()]).expect("consistent");
    (data, x)
}

/// The `m` units of arm `arm` nearest to unit `i` in `x`, excluding `i`.
fn brute_nearest(x: &[f64], treated: &[bool], i: usize, arm: bool, m: usize) -> Vec<usize> {
    let mut others: Vec<usize> = (0..x.len())
        .filter(|&j| j != i && treated[j] == arm)
        .collect();
    others.sort_by(|&a, &b| (x[a] - x[i]).abs().total_cmp(&(x[b] - x[i]).abs()));
    others.truncate(m);
    others
}

/// Abadie and Imbens (2006, Theorem 7) by brute force, without a caliper:
/// the estimate and SE with M matches and within-arm variance matching on
/// two neighbours.
fn brute_abadie_imbens(data: &Dataset, x: &[f64], m: usize, ate: bool) -> (f64, f64) {
    let n = x.len();
    let y = &data.y;
    let treated: Vec<bool> = data.w.iter().map(|&w| w == 1.0).collect();
    let targets: Vec<usize> = (0..n).filter(|&i| ate || treated[i]).collect();
    let mut k = vec![0.0; n];
    let mut effects = Vec::new();
    for &i in &targets {
        let matches = brute_nearest(x, &treated, i, !treated[i], m);
        let imputed = matches.iter().map(|&j| y[j]).sum::<f64>() / m as f64;
        for &j in &matches {
            k[j] += 1.0;
        }
        let sign = if treated[i] { 1.0 } else { -1.0 };
        effects.push(sign * (y[i] - imputed));
    }
    let nt = targets.len() as f64;
    let tau = effects.iter().sum::<f64>() / nt;
    let mut v = effects.iter().map(|e| (e - tau).powi(2)).sum::<f64>();
    let m = m as f64;
    for i in 0..n {
        let within = brute_nearest(x, &treated, i, treated[i], 2);
        let mean = within.iter().map(|&j| y[j]).sum::<f64>() / 2.0;
        let sigma2 = 2.0 / 3.0 * (y[i] - mean).powi(2);
        let km = k[i] / m;
        let weight = if ate {
            km * km + (2.0 * m - 1.0) / m * km
        } else if treated[i] {
            0.0
        } else {
            k[i] * (k[i] - 1.0) / (m * m)
        };
        v += weight * sigma2;
    }
    (tau, (v / (nt * nt)).sqrt())
}

#[test]
fn matching_equals_brute_force_matching_and_abadie_imbens() {
    for seed in 0..4 {
        let (data, x) = one_covariate(300, seed);
        for (target, ate) in [(MatchTarget::Att, false), (MatchTarget::Ate, true)] {
            for m in [1, 3] {
                let est = fit(&psm(target, m, true, 0.0), &data);
                let (tau, se) = brute_abadie_imbens(&data, &x, m, ate);
                assert!(
                    (est.estimate - tau).abs() < 1e-12,
                    "{} vs {tau}",
                    est.estimate
                );
                assert!((est.se - se).abs() < 1e-12, "{} vs {se}", est.se);
            }
        }
    }
}

#[test]
fn greedy_matching_without_replacement_and_the_caliper_equal_brute_force() {
    let (data, x) = one_covariate(400, 7);
    let n = x.len();
    let treated: Vec<bool> = data.w.iter().map(|&w| w == 1.0).collect();
    let sd = |arm: bool| {
        let v: Vec<f64> = (0..n)
            .filter(|&i| treated[i] == arm)
            .map(|i| x[i])
            .collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    };
    let pooled = ((sd(true) + sd(false)) / 2.0).sqrt();
    for caliper in [0.0, 0.05] {
        let width = if caliper == 0.0 {
            f64::INFINITY
        } else {
            caliper * pooled
        };
        // Treated in decreasing x (= decreasing score), each taking the
        // nearest free control within the caliper.
        let mut order: Vec<usize> = (0..n).filter(|&i| treated[i]).collect();
        order.sort_by(|&a, &b| x[b].total_cmp(&x[a]));
        let mut free: Vec<bool> = treated.iter().map(|t| !t).collect();
        let mut effects = Vec::new();
        for &i in &order {
            let best = (0..n)
                .filter(|&j| free[j])
                .min_by(|&a, &b| (x[a] - x[i]).abs().total_cmp(&(x[b] - x[i]).abs()));
            if let Some(j) = best.filter(|&j| (x[j] - x[i]).abs() <= width) {
                free[j] = false;
                effects.push(data.y[i] - data.y[j]);
            }
        }
        let kept = effects.len() as f64;
        let tau = effects.iter().sum::<f64>() / kept;
        let var = effects.iter().map(|e| (e - tau).powi(2)).sum::<f64>() / (kept - 1.0) / kept;
        let est = fit(&psm(MatchTarget::Att, 1, false, caliper), &data);
        assert!(
            (est.estimate - tau).abs() < 1e-12,
            "{} vs {tau}",
            est.estimate
        );
        assert!((est.se - var.sqrt()).abs() < 1e-12);
        let d = &est.diagnostics;
        assert_eq!(d["n_matched"], kept);
        assert_eq!(d["controls_used"], kept, "each control used once");
        let n1 = order.len() as f64;
        assert!((d["dropped_share"] - (1.0 - kept / n1)).abs() < 1e-12);
        if caliper > 0.0 {
            assert!(d["dropped_share"] > 0.0);
        }
    }
}

#[test]
fn without_replacement_is_close_with_plenty_of_controls() {
    const REPS: u64 = 150;
    let world = World {
        intercept: -1.5,
        strength: 1.0,
    };
    let att = world.att();
    let estimator = psm(MatchTarget::Att, 1, false, 0.0);
    let estimates: Vec<Estimate> = (0..REPS)
        .map(|r| {
            let e = fit(&estimator, &world.sample(1_000, 9_000 + r));
            assert_eq!(e.diagnostics["controls_used"], e.diagnostics["n_matched"]);
            assert_eq!(e.diagnostics["dropped_share"], 0.0);
            e
        })
        .collect();
    let s = summarize(&estimates, att);
    assert!((s.mean - att).abs() < 0.1, "mean {} vs ATT {att}", s.mean);
    assert!(
        (0.85..=1.0).contains(&s.coverage),
        "coverage {}",
        s.coverage
    );
}

#[test]
fn the_caliper_drops_treated_units_where_overlap_is_poor() {
    let good = WORLD.sample(2_000, 21);
    let poor = World {
        intercept: -0.4,
        strength: 3.5,
    }
    .sample(2_000, 22);
    let default = Psm::default();
    assert_eq!(default.caliper, 0.2);
    let none = psm(MatchTarget::Att, 1, true, 0.0);
    let d_good = fit(&default, &good).diagnostics;
    let d_poor = fit(&default, &poor).diagnostics;
    let d_none = fit(&none, &poor).diagnostics;
    assert!(d_good["dropped_share"] < 0.03, "{d_good:?}");
    assert!(d_poor["dropped_share"] > 0.05, "{d_poor:?}");
    assert_eq!(d_none["dropped_share"], 0.0);
    assert!(
        d_poor["smd_max_after"] < d_none["smd_max_after"],
        "caliper {} vs none {}",
        d_poor["smd_max_after"],
        d_none["smd_max_after"]
    );
    // With poor overlap few controls serve many treated units.
    assert!(
        d_none["controls_used"] < 0.7 * d_none["n_treated"],
        "{d_none:?}"
    );
    assert_eq!(d_poor["ps_covariates"], 4.0);
}

#[test]
fn a_constant_covariate_changes_nothing() {
    let data = WORLD.sample(500, 31);
    let mut x = Array2::from_elem((500, 5), 3.0);
    x.slice_mut(s![.., ..4]).assign(&data.x);
    let mut names = data.x_names.clone();
    names.push("constant".into());
    let wide = Dataset::new(data.y.clone(), data.w.clone(), None, x, names).expect("consistent");
    for estimator in [
        &Psm::default() as &dyn Estimator,
        &psm(MatchTarget::Ate, 3, true, 0.0),
        &EntropyBalancing::default(),
        &Cem {
            bins: 3,
            ..Cem::default()
        },
    ] {
        let a = fit(estimator, &data);
        let b = fit(estimator, &wide);
        assert!((a.estimate - b.estimate).abs() < 1e-9);
        assert!((a.se - b.se).abs() < 1e-9);
    }
    assert_eq!(
        fit(&Psm::default(), &wide).diagnostics["ps_covariates"],
        4.0
    );
}

#[test]
fn many_covariates_fit_with_the_penalty() {
    // 200 covariates, of which three matter. With p = n the penalized score
    // still separates the arms, so the caliper finds no match; without a
    // caliper the fit goes through and its balance shows the damage.
    for (n, p) in [(200, 200), (2_000, 200)] {
        let base = WORLD.sample(n, 41);
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let mut x = Array2::from_shape_fn((n, p), |_| rng.sample::<f64, _>(StandardNormal));
        x.slice_mut(s![.., ..4]).assign(&base.x);
        let names = (1..=p).map(|j| format!("x{j}")).collect();
        let data = Dataset::new(base.y.clone(), base.w.clone(), None, x, names).expect("ok");
        let no_caliper = fit(&psm(MatchTarget::Att, 1, true, 0.0), &data);
        assert!(no_caliper.estimate.is_finite() && no_caliper.se > 0.0);
        assert_eq!(no_caliper.diagnostics["ps_covariates"], p as f64);
        let unpenalized = Psm {
            penalty: 0.0,
            ..Psm::default()
        };
        let default = Psm::default().fit(&data, 0);
        if n == p {
            // Matching on an overfitted score worsens balance.
            let d = &no_caliper.diagnostics;
            assert!(d["smd_max_after"] > d["smd_max_before"], "{d:?}");
            let msg = default.expect_err("no overlap").to_string();
            assert!(
                msg.contains("no unit has a match within the caliper"),
                "{msg}"
            );
            let msg = unpenalized
                .fit(&data, 0)
                .expect_err("separation")
                .to_string();
            assert!(msg.contains("set `penalty` above 0"), "{msg}");
        } else {
            let est = default.expect("fits");
            assert!(est.estimate.is_finite() && est.se > 0.0, "{est:?}");
        }
    }
}

fn err(estimator: &dyn Estimator, data: &Dataset) -> String {
    estimator.fit(data, 0).expect_err("should fail").to_string()
}

#[test]
fn errors_name_the_problem_and_the_fix() {
    let data = WORLD.sample(200, 51);
    let ebal = EntropyBalancing::default();
    let mut all_control = data.clone();
    all_control.w.fill(0.0);
    let mut all_treated = data.clone();
    all_treated.w.fill(1.0);
    for est in [&Psm::default() as &dyn Estimator, &ebal, &Cem::default()] {
        let msg = err(est, &all_control);
        assert!(
            msg.contains("the treated arm is empty (all W = 0)"),
            "{msg}"
        );
        let msg = err(est, &all_treated);
        assert!(
            msg.contains("the control arm is empty (all W = 1)"),
            "{msg}"
        );
        let mut bad = data.clone();
        bad.w[3] = 0.5;
        let msg = err(est, &bad);
        assert!(
            msg.contains("binary 0/1 treatment; found value 0.5 at row 4"),
            "{msg}"
        );
        let mut bad = data.clone();
        bad.x[(7, 1)] = f64::NAN;
        let msg = err(est, &bad);
        assert!(
            msg.contains("covariate `x2` has a non-finite value (NaN) at row 8"),
            "{msg}"
        );
    }
    let msg = err(&psm(MatchTarget::Ate, 1, false, 0.2), &data);
    assert!(
        msg.contains("without replacement estimates the ATT only")
            && msg.contains("replacement = true for the ATE"),
        "{msg}"
    );
    let msg = err(&psm(MatchTarget::Att, 0, true, 0.2), &data);
    assert!(
        msg.contains("neighbors is 0; it must lie between 1 and"),
        "{msg}"
    );
    let msg = err(&psm(MatchTarget::Att, 1, true, -1.0), &data);
    assert!(msg.contains("caliper is -1; it must be >= 0"), "{msg}");
    let msg = err(&psm(MatchTarget::Att, 1, true, 1e-12), &data);
    assert!(
        msg.contains("no unit has a match within the caliper"),
        "{msg}"
    );
    let constant = Dataset::new(
        data.y.clone(),
        data.w.clone(),
        None,
        Array2::from_elem((200, 2), 1.0),
        vec!["a".into(), "b".into()],
    )
    .expect("consistent");
    let msg = err(&Psm::default(), &constant);
    assert!(msg.contains("no covariate varies"), "{msg}");

    // Treated units beyond every control in x1: no weights balance them.
    let mut beyond = data.clone();
    let top = (0..200)
        .filter(|&i| beyond.w[i] == 0.0)
        .map(|i| beyond.x[(i, 0)])
        .fold(f64::NEG_INFINITY, f64::max);
    for i in 0..200 {
        if beyond.w[i] == 1.0 {
            beyond.x[(i, 0)] = top + 1.0 + beyond.x[(i, 0)].abs();
        }
    }
    let msg = err(&ebal, &beyond);
    assert!(
        msg.contains("balance is infeasible") && msg.contains("before weighting: `x1`"),
        "{msg}"
    );
    let mut flat = data.clone();
    for i in 0..200 {
        flat.x[(i, 3)] = if flat.w[i] == 1.0 { 2.0 } else { 1.0 };
    }
    let msg = err(&ebal, &flat);
    assert!(
        msg.contains("`x4` is constant (1) among the controls but its treated mean is 2"),
        "{msg}"
    );
    let msg = err(&EntropyBalancing { moments: 3 }, &data);
    assert!(msg.contains("moments is 3; it must be 1"), "{msg}");
}

#[test]
fn estimators_are_registered_with_defaults() {
    let spec: EstimatorSpec =
        toml::from_str("kind = \"psm\"\nestimand = \"ate\"\nneighbors = 3\ncaliper = 0")
            .expect("valid");
    assert_eq!(spec.kind(), "psm");
    assert_eq!(spec.estimator().estimand(), Estimand::Ate);
    let EstimatorSpec::Psm(p) = &spec else {
        panic!("not psm: {spec:?}");
    };
    assert_eq!(
        *p,
        Psm {
            estimand: MatchTarget::Ate,
            neighbors: 3,
            caliper: 0.0,
            ..Psm::default()
        }
    );
    let spec: EstimatorSpec = toml::from_str("kind = \"entropy_balancing\"").expect("valid");
    assert_eq!(spec.estimator().estimand(), Estimand::Att);
    assert!(toml::from_str::<EstimatorSpec>("kind = \"psm\"\nestimand = \"late\"").is_err());
    assert!(toml::from_str::<EstimatorSpec>("kind = \"psm\"\ncalliper = 0.1").is_err());
    assert!(EstimatorSpec::all_defaults()
        .iter()
        .any(|e| e.kind() == "entropy_balancing"));
    let spec: EstimatorSpec = toml::from_str("kind = \"cem\"").expect("valid");
    assert_eq!(spec.kind(), "cem");
    assert_eq!(spec.estimator().estimand(), Estimand::Att);
    assert_eq!(spec, EstimatorSpec::Cem(Cem::default()));
    let spec: EstimatorSpec =
        toml::from_str("kind = \"cem\"\nbins = 5\nestimand = \"ate\"").expect("valid");
    assert_eq!(spec.estimator().estimand(), Estimand::Ate);
    assert_eq!(
        spec,
        EstimatorSpec::Cem(Cem {
            bins: 5,
            estimand: CemTarget::Ate
        })
    );
    assert!(toml::from_str::<EstimatorSpec>("kind = \"cem\"\nbin = 5").is_err());
    assert!(toml::from_str::<EstimatorSpec>("kind = \"cem\"\nestimand = \"late\"").is_err());
    assert!(toml::from_str::<EstimatorSpec>("kind = \"cem\"\nbins = -1").is_err());
    let (_, params) = spec.docs();
    let names: Vec<&str> = params.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["bins", "estimand"]);
    assert!(EstimatorSpec::all_defaults()
        .iter()
        .any(|e| e.kind() == "cem"));
}

/// A confounded world for coarsened exact matching: x1 ~ U(-1.5, 1.5), which
/// CEM bins, x2 ~ Bernoulli(0.5) and x3 uniform on {0, 1, 2}, which it keeps
/// exact. All three drive treatment and outcome, and x1 and x2 the effect,
/// so the ATT differs from the ATE (1.25). The propensity stays within
/// [0.08, 0.80], so strata rarely lack an arm.
struct CemWorld;

impl CemWorld {
    fn logit(x: [f64; 3]) -> f64 {
        -0.1 + 0.7 * x[0] + 0.5 * x[1] - 0.3 * x[2]
    }

    fn tau(x: [f64; 3]) -> f64 {
        1.0 + x[0] + 0.5 * x[1]
    }

    fn y0(x: [f64; 3]) -> f64 {
        x[0] + 0.8 * x[1] + 0.5 * x[2]
    }

    fn sample(n: usize, seed: u64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Array2::zeros((n, 3));
        let mut w = Array1::zeros(n);
        let mut y = Array1::zeros(n);
        for i in 0..n {
            let row = [
                rng.random_range(-1.5..1.5),
                f64::from(rng.random_bool(0.5)),
                f64::from(rng.random_range(0..3u8)),
            ];
            let e = 1.0 / (1.0 + (-CemWorld::logit(row)).exp());
            w[i] = f64::from(rng.random::<f64>() < e);
            let noise: f64 = rng.sample(StandardNormal);
            y[i] = CemWorld::y0(row) + w[i] * CemWorld::tau(row) + noise;
            for (j, v) in row.into_iter().enumerate() {
                x[(i, j)] = v;
            }
        }
        let names = (1..=3).map(|j| format!("x{j}")).collect();
        Dataset::new(y, w, None, x, names).expect("consistent columns")
    }

    /// The population ATT, E[e(X) tau(X)] / E[e(X)], and ATE, E[tau(X)], by
    /// the midpoint rule over x1 (100,000 points, error below 1e-9) and the
    /// sums over x2 and x3.
    fn truth() -> (f64, f64) {
        const POINTS: usize = 100_000;
        let (mut num, mut den, mut ate) = (0.0, 0.0, 0.0);
        for k in 0..POINTS {
            let x1 = -1.5 + 3.0 * (k as f64 + 0.5) / POINTS as f64;
            for x2 in [0.0, 1.0] {
                for x3 in [0.0, 1.0, 2.0] {
                    let x = [x1, x2, x3];
                    let e = 1.0 / (1.0 + (-CemWorld::logit(x)).exp());
                    num += e * CemWorld::tau(x);
                    den += e;
                    ate += CemWorld::tau(x);
                }
            }
        }
        (num / den, ate / (6 * POINTS) as f64)
    }
}

/// The mean of `estimates`, its Monte Carlo standard error and the summary.
fn with_mcse(label: &str, estimates: &[Estimate], truth: f64) -> (common::Summary, f64) {
    let s = summarize(estimates, truth);
    let mcse = s.sd / (estimates.len() as f64).sqrt();
    eprintln!(
        "{label}: reps {}, mean {:.4} (truth {truth:.4}), bias {:+.4}, MCSE {mcse:.4}, \
         sd {:.4}, mean SE {:.4}, coverage {:.3}",
        estimates.len(),
        s.mean,
        s.mean - truth,
        s.sd,
        s.mean_se,
        s.coverage
    );
    (s, mcse)
}

#[test]
fn cem_recovers_the_att_and_ate_with_nominal_coverage() {
    const REPS: u64 = 200;
    const N: usize = 2_000;
    let (att, ate) = CemWorld::truth();
    assert!((ate - 1.25).abs() < 1e-9, "ATE {ate}");
    assert!(att - ate > 0.15, "ATT {att} should differ from the ATE");
    let cem_att = Cem::default();
    let cem_ate = Cem {
        estimand: CemTarget::Ate,
        ..Cem::default()
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let (mut naive, mut dropped) = (0.0, 0.0);
    for r in 0..REPS {
        let data = CemWorld::sample(N, 60_000 + r);
        let e = fit(&cem_att, &data);
        assert_eq!(e.estimand, Estimand::Att);
        let d = &e.diagnostics;
        // Sturges: ceil(log2 2000) + 1 = 12 bins for x1; x2 and x3 exact.
        assert!((d["bins_mean"] - (12.0 + 2.0 + 3.0) / 3.0).abs() < 1e-12);
        assert!(d["n_strata"] <= 72.0 && d["matched_strata"] <= d["n_strata"]);
        assert!(d["treated_dropped_share"] < 0.06, "{d:?}");
        dropped += d["treated_dropped_share"] / REPS as f64;
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
        assert!(
            d["smd_max_after"] < 0.1 && d["smd_max_before"] > 0.3,
            "{d:?}"
        );
        a.push(e);
        let e = fit(&cem_ate, &data);
        assert_eq!(e.estimand, Estimand::Ate);
        assert!(e.diagnostics["dropped_share"] < 0.06, "{:?}", e.diagnostics);
        b.push(e);
        let treated = data.w.sum();
        naive += data.y.dot(&data.w) / treated
            - data.y.dot(&data.w.mapv(|w| 1.0 - w)) / (N as f64 - treated);
    }
    eprintln!(
        "cem att: treated dropped {:.2}% on average",
        100.0 * dropped
    );
    assert!(dropped < 0.005, "treated dropped {dropped}");
    // Within a bin of width h = 0.25 the treated's mean x1 exceeds the
    // controls' by about the logit's slope times the bin's variance, 0.7 h² /
    // 12, so x1's slope in the outcome leaves a coarsening bias near 0.004 in
    // the ATT and, with the effect's slope, 0.005 in the ATE: at 2,000
    // replications the biases were +0.0025 and +0.0059 (MCSE 0.0013), a
    // tenth of an SE, and below what 200 replications can see.
    for (label, estimates, truth) in [("cem att", &a, att), ("cem ate", &b, ate)] {
        let (s, mcse) = with_mcse(label, estimates, truth);
        assert!(
            (s.mean - truth).abs() < 3.0 * mcse,
            "{label}: bias {} beyond 3 MCSE ({mcse})",
            s.mean - truth
        );
        assert!(
            (0.88..=0.99).contains(&s.coverage),
            "{label}: coverage {}",
            s.coverage
        );
        let ratio = s.mean_se / s.sd;
        assert!((0.85..=1.2).contains(&ratio), "{label}: SE / SD {ratio}");
    }
    // The naive comparison is far off, so the world is confounded.
    naive /= REPS as f64;
    assert!((naive - att).abs() > 0.3, "naive {naive} vs ATT {att}");
}

#[test]
fn cem_and_psm_agree_on_an_easy_design() {
    const REPS: u64 = 200;
    let (att, _) = CemWorld::truth();
    let psm = psm(MatchTarget::Att, 1, true, 0.0);
    let mut cem = Vec::new();
    let mut matched = Vec::new();
    for r in 0..REPS {
        let data = CemWorld::sample(2_000, 70_000 + r);
        cem.push(fit(&Cem::default(), &data));
        matched.push(fit(&psm, &data));
    }
    let (c, c_mcse) = with_mcse("cem att", &cem, att);
    let (p, p_mcse) = with_mcse("psm att", &matched, att);
    // On the same samples the two errors are correlated, so their gap is
    // judged by the Monte Carlo error of the paired differences, which is
    // below that of either mean (so also below the independent bound).
    let gaps: Vec<f64> = cem
        .iter()
        .zip(&matched)
        .map(|(a, b)| a.estimate - b.estimate)
        .collect();
    let gap = gaps.iter().sum::<f64>() / REPS as f64;
    let gap_sd = (gaps.iter().map(|g| (g - gap).powi(2)).sum::<f64>() / (REPS - 1) as f64).sqrt();
    let gap_mcse = gap_sd / (REPS as f64).sqrt();
    eprintln!(
        "cem - psm: mean {gap:+.4}, MCSE {gap_mcse:.4} (independent bound {:.4})",
        (c_mcse * c_mcse + p_mcse * p_mcse).sqrt()
    );
    assert!(gap_mcse < (c_mcse * c_mcse + p_mcse * p_mcse).sqrt());
    assert!(
        gap.abs() < 3.0 * gap_mcse,
        "cem {} vs psm {}: gap {gap} beyond 3 MCSE ({gap_mcse})",
        c.mean,
        p.mean
    );
    // CEM averages over all controls of a stratum, nearest-neighbour
    // matching over one control per treated unit: CEM is the less noisy.
    assert!(c.sd < p.sd, "cem sd {} vs psm sd {}", c.sd, p.sd);
}

/// The tiny sample of the brute-force test: x1 in {0, 1, 2} (kept exact)
/// and x2 in [0, 9], cut by `bins = 3` at 3 and 6. Strata (x1, x2's bin):
/// (0, 0) 2 treated and 3 controls; (0, 1) 3 treated and 1 control; (1, 0)
/// 1 treated and 2 controls; (1, 2) 2 treated only; (2, 1) 2 controls only.
fn tiny() -> Dataset {
    let rows: &[(f64, f64, f64, f64)] = &[
        // (x1, x2, w, y)
        (0.0, 0.0, 1.0, 3.0),
        (0.0, 2.9, 1.0, 4.5),
        (0.0, 1.0, 0.0, 1.0),
        (0.0, 2.0, 0.0, 2.0),
        (0.0, 0.5, 0.0, 2.5),
        (0.0, 3.0, 1.0, 6.0),
        (0.0, 5.9, 1.0, 7.0),
        (0.0, 4.0, 1.0, 9.5),
        (0.0, 3.5, 0.0, 5.0),
        (1.0, 2.0, 1.0, 2.0),
        (1.0, 1.0, 0.0, 0.0),
        (1.0, 2.5, 0.0, 1.5),
        (1.0, 9.0, 1.0, 8.0),
        (1.0, 6.0, 1.0, 8.5),
        (2.0, 3.0, 0.0, 3.0),
        (2.0, 5.5, 0.0, 4.0),
    ];
    let n = rows.len();
    let x = Array2::from_shape_fn((n, 2), |(i, j)| if j == 0 { rows[i].0 } else { rows[i].1 });
    let w: Array1<f64> = rows.iter().map(|r| r.2).collect();
    let y: Array1<f64> = rows.iter().map(|r| r.3).collect();
    Dataset::new(y, w, None, x, vec!["x1".into(), "x2".into()]).expect("consistent")
}

/// CEM by brute force from hand-built strata, as matching: every target
/// unit is matched to all units of the other arm in its stratum, and the
/// estimate and Abadie-Imbens variance are computed unit by unit (each
/// unit's outcome variance is its stratum arm's, divided by n - 1, or its
/// arm's pooled within strata when it is alone in its arm). Also returns
/// the ATT as the weighted difference in means with CEM's weights.
fn brute_cem(data: &Dataset, ate: bool) -> (f64, f64, f64) {
    let n = data.n();
    let y = &data.y;
    let treated: Vec<bool> = data.w.iter().map(|&w| w == 1.0).collect();
    let stratum: Vec<(u8, u8)> = (0..n)
        .map(|i| {
            let x2 = data.x[(i, 1)];
            let bin = if x2 < 3.0 {
                0
            } else if x2 < 6.0 {
                1
            } else {
                2
            };
            (data.x[(i, 0)] as u8, bin)
        })
        .collect();
    let cell = |i: usize| -> Vec<usize> {
        (0..n)
            .filter(|&j| stratum[j] == stratum[i] && treated[j] == treated[i])
            .collect()
    };
    let other = |i: usize| -> Vec<usize> {
        (0..n)
            .filter(|&j| stratum[j] == stratum[i] && treated[j] != treated[i])
            .collect()
    };
    let matched: Vec<usize> = (0..n).filter(|&i| !other(i).is_empty()).collect();
    let mean = |units: &[usize]| units.iter().map(|&j| y[j]).sum::<f64>() / units.len() as f64;
    let ss = |units: &[usize]| {
        let m = mean(units);
        units.iter().map(|&j| (y[j] - m).powi(2)).sum::<f64>()
    };
    let pooled = |arm: bool| {
        let (mut total, mut dof) = (0.0, 0);
        let mut seen = Vec::new();
        for &i in &matched {
            let c = cell(i);
            if treated[i] == arm && c.len() > 1 && !seen.contains(&c) {
                total += ss(&c);
                dof += c.len() - 1;
                seen.push(c);
            }
        }
        total / dof as f64
    };
    let sigma2 = |i: usize| {
        let c = cell(i);
        if c.len() > 1 {
            ss(&c) / (c.len() - 1) as f64
        } else {
            pooled(treated[i])
        }
    };
    let targets: Vec<usize> = matched
        .iter()
        .copied()
        .filter(|&i| ate || treated[i])
        .collect();
    let (mut own, mut used, mut used_sq) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut effects = Vec::new();
    for &i in &targets {
        let m = other(i);
        let sign = if treated[i] { 1.0 } else { -1.0 };
        effects.push(sign * (y[i] - mean(&m)));
        own[i] = 1.0;
        for &j in &m {
            used[j] += 1.0 / m.len() as f64;
            used_sq[j] += 1.0 / (m.len() * m.len()) as f64;
        }
    }
    let t = targets.len() as f64;
    let tau = effects.iter().sum::<f64>() / t;
    let mut v: f64 = effects.iter().map(|e| (e - tau).powi(2)).sum();
    for &i in &matched {
        let k = own[i] + used[i];
        v += (k * k - own[i] - used_sq[i]) * sigma2(i);
    }
    // CEM's weights for the ATT: 1 for a matched treated unit, and
    // (N0m / N1m)(n1s / n0s) for a control.
    let (n1m, n0m) = (
        matched.iter().filter(|&&i| treated[i]).count() as f64,
        matched.iter().filter(|&&i| !treated[i]).count() as f64,
    );
    let (mut y1, mut y0, mut w0) = (0.0, 0.0, 0.0);
    for &i in &matched {
        if treated[i] {
            y1 += y[i];
        } else {
            let weight = n0m / n1m * other(i).len() as f64 / cell(i).len() as f64;
            y0 += weight * y[i];
            w0 += weight;
        }
    }
    assert!((w0 - n0m).abs() < 1e-12, "CEM's control weights sum to N0m");
    (tau, (v / (t * t)).sqrt(), y1 / n1m - y0 / w0)
}

#[test]
fn cem_equals_brute_force_strata() {
    let data = tiny();
    for (target, ate) in [(CemTarget::Att, false), (CemTarget::Ate, true)] {
        let est = fit(
            &Cem {
                bins: 3,
                estimand: target,
            },
            &data,
        );
        let (tau, se, weighted) = brute_cem(&data, ate);
        assert!(
            (est.estimate - tau).abs() < 1e-12,
            "{} vs {tau}",
            est.estimate
        );
        assert!((est.se - se).abs() < 1e-12, "{} vs {se}", est.se);
        assert!(
            (est.ci_upper - est.ci_lower - 2.0 * 1.959_963_984_540_054 * se).abs() < 1e-9,
            "{est:?}"
        );
        if !ate {
            assert!((tau - weighted).abs() < 1e-12, "{tau} vs {weighted}");
        }
        let d = &est.diagnostics;
        assert_eq!(d["n_strata"], 5.0);
        assert_eq!(d["matched_strata"], 3.0);
        assert_eq!(d["n_treated_matched"], 6.0);
        assert_eq!(d["n_control_matched"], 6.0);
        assert!((d["treated_dropped_share"] - 2.0 / 8.0).abs() < 1e-12);
        assert_eq!(d["bins_mean"], 3.0);
        // Exact on x1 within the matched strata; x2 within bins only.
        assert!(d["smd_max_after"] < d["smd_max_before"], "{d:?}");
        // 2 of 8 treated dropped (ATT), 4 of 16 units (ATE): both warn.
        assert!((d["dropped_share"] - 0.25).abs() < 1e-12);
        assert_eq!(est.warnings.len(), 1, "{:?}", est.warnings);
        let whom = if ate {
            "of all units"
        } else {
            "of all treated units"
        };
        assert!(
            est.warnings[0].contains("25.0%")
                && est.warnings[0].contains("of the matched units' effect, not")
                && est.warnings[0].contains(whom)
                && est.warnings[0].contains("coarser bins"),
            "{}",
            est.warnings[0]
        );
    }
    // By hand for the ATT: stratum effects 3.75 - 11/6, 22.5/3 - 5 and
    // 2 - 0.75, weighted 2, 3 and 1 of 6 treated.
    let est = fit(
        &Cem {
            bins: 3,
            ..Cem::default()
        },
        &data,
    );
    let hand = (2.0 * (3.75 - 11.0 / 6.0) + 3.0 * (7.5 - 5.0) + (2.0 - 0.75)) / 6.0;
    assert!((est.estimate - hand).abs() < 1e-12, "{}", est.estimate);
}

#[test]
fn cem_errors_name_the_problem_and_the_fix() {
    let data = CemWorld::sample(300, 80);
    // The arms apart on a binary covariate: every stratum has one arm.
    let mut apart = data.clone();
    for i in 0..300 {
        apart.x[(i, 1)] = apart.w[i];
    }
    let msg = err(&Cem::default(), &apart);
    assert!(
        msg.contains("no stratum holds both a treated and a control unit")
            && msg.contains("3 covariates")
            && msg.contains("fewer bins")
            && msg.contains("fewer covariates"),
        "{msg}"
    );
    let msg = err(
        &Cem {
            bins: 1,
            ..Cem::default()
        },
        &data,
    );
    assert!(
        msg.contains("cem: bins is 1") && msg.contains("at least 2"),
        "{msg}"
    );
    let msg = err(
        &Cem {
            bins: 5_000_000,
            ..Cem::default()
        },
        &data,
    );
    assert!(msg.contains("bins is 5000000; it must be at most"), "{msg}");
    let mut bad = data.clone();
    bad.w[3] = 2.0;
    let msg = err(&Cem::default(), &bad);
    assert!(
        msg.contains("cem needs a binary 0/1 treatment; found value 2 at row 4"),
        "{msg}"
    );
    // Covariates held as bin codes only, as `causim fit` reads them for a
    // forest.
    let bins = Bins::fit(data.x.view(), 256).expect("bins");
    let binned = bins.transform(data.x.view()).expect("codes");
    let codes = Dataset::from_codes(
        data.y.clone(),
        data.w.clone(),
        None,
        Coded { bins, binned },
        data.x_names.clone(),
    )
    .expect("consistent");
    let msg = err(&Cem::default(), &codes);
    assert!(
        msg.contains("cem needs the covariates' values")
            && msg.contains("3 covariates as bin codes only"),
        "{msg}"
    );
    // Each unit alone in its arm of its stratum, and a stratum of two
    // treated units: no within-stratum variance to pool.
    let singles = Dataset::new(
        Array1::from(vec![1.0, 2.0, 0.0, 3.0, 0.5]),
        Array1::from(vec![1.0, 1.0, 0.0, 1.0, 0.0]),
        None,
        Array2::from_shape_vec((5, 1), vec![0.0, 1.0, 1.0, 2.0, 2.0]).expect("shape"),
        vec!["x".into()],
    )
    .expect("consistent");
    let msg = err(
        &Cem {
            bins: 3,
            estimand: CemTarget::Ate,
        },
        &singles,
    );
    assert!(
        msg.contains("every matched stratum holds a single treated unit"),
        "{msg}"
    );
}
