//! Propensity score matching and entropy balancing on worlds with known ATT
//! and ATE: bias and coverage over replications, exact agreement with a
//! brute-force matcher, balance, the caliper, and errors.

mod common;

use causim::core::Estimand;
use causim::data::Dataset;
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
    for est in [&Psm::default() as &dyn Estimator, &ebal] {
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
}
