//! Statistical properties of the linear estimators on worlds with known truth:
//! bias within Monte Carlo error and nominal coverage where assumptions hold,
//! clear failure where they do not.

mod common;

use causim::record::load_records;
use causim::run::{run, RunOptions};
use causim::spec::Experiment;
use causim::summary::{summarize, Diagnosands};

fn diagnosands(name: &str, sim: &str, experiment: &str) -> Vec<Diagnosands> {
    let dir = common::scratch(name);
    common::write(&dir, "sim.toml", sim);
    let path = common::write(&dir, "experiment.toml", experiment);
    let exp = Experiment::load(&path).expect("valid experiment");
    let out = dir.join("out");
    let options = RunOptions {
        out: out.clone(),
        jobs: None,
        shard: None,
        fresh: true,
        max_tasks: None,
        progress: false,
    };
    run(&exp, &options).expect("run");
    summarize(&exp, &load_records(&out).expect("records")).expect("readable records")
}

fn find<'a>(d: &'a [Diagnosands], cell: usize, estimator: &str) -> &'a Diagnosands {
    d.iter()
        .find(|x| x.cell == cell && x.estimator == estimator)
        .expect("diagnosands present")
}

const CONFOUNDED: &str = r#"
kind = "iv"
n = 1000
covariates = 4
tau = "1 + 0.5 * x1"
baseline = "x2 + x3^2"
confounding = 1.0
[instrument]
strength = 0.6
propensity = "0.35 + 0.3 * (x4 > 0)"
"#;

#[test]
fn tsls_is_unbiased_and_covers_with_a_strong_instrument_while_naive_is_biased() {
    let d = diagnosands(
        "stat_strong",
        CONFOUNDED,
        r#"
sim = "sim.toml"
replications = 500
seed = 7
[[estimators]]
name = "naive"
kind = "difference_in_means"
[[estimators]]
name = "ols"
kind = "ols"
[[estimators]]
name = "2sls"
kind = "two_stage_least_squares"
"#,
    );
    let tsls = find(&d, 0, "2sls");
    assert_eq!(tsls.replications, 500);
    assert_eq!(tsls.failures, 0);
    assert!(
        tsls.bias.value.abs() < 3.0 * tsls.bias.mcse,
        "2SLS bias {} vs MCSE {}",
        tsls.bias.value,
        tsls.bias.mcse
    );
    assert!(
        (0.92..=0.98).contains(&tsls.coverage.value),
        "2SLS coverage {}",
        tsls.coverage.value
    );
    // The SE is honest: it matches the spread of the estimates within 15%.
    assert!((tsls.mean_se / tsls.sd_estimate - 1.0).abs() < 0.15);
    assert!(tsls.power.value > 0.99, "power {}", tsls.power.value);

    for biased in ["naive", "ols"] {
        let b = find(&d, 0, biased);
        assert!(
            b.bias.value > 0.3 && b.bias.value > 10.0 * b.bias.mcse,
            "{biased} should be biased upwards by u: {}",
            b.bias.value
        );
        assert!(
            b.coverage.value < 0.2,
            "{biased} coverage {}",
            b.coverage.value
        );
    }
}

#[test]
fn without_confounding_naive_and_ols_recover_the_ate() {
    let sim = CONFOUNDED.replace("confounding = 1.0", "confounding = 0.0");
    let d = diagnosands(
        "stat_unconfounded",
        &sim,
        r#"
sim = "sim.toml"
replications = 400
seed = 8
[[estimators]]
kind = "ols"
[[estimators]]
kind = "difference_in_means"
"#,
    );
    let ols = find(&d, 0, "ols");
    assert!(
        ols.bias.value.abs() < 3.0 * ols.bias.mcse,
        "bias {}",
        ols.bias.value
    );
    assert!(
        (0.92..=0.98).contains(&ols.coverage.value),
        "coverage {}",
        ols.coverage.value
    );
    let naive = find(&d, 0, "difference_in_means");
    assert!(naive.bias.value.abs() < 3.0 * naive.bias.mcse);
    // Covariate adjustment buys precision.
    assert!(ols.rmse.value < naive.rmse.value);
}

#[test]
fn tsls_degrades_with_a_weak_instrument_and_with_defiers() {
    let sim = CONFOUNDED.replace("tau = \"1 + 0.5 * x1\"", "tau = \"1 + 0.5 * x1 + 0.5 * u\"");
    let d = diagnosands(
        "stat_degrades",
        &sim,
        r#"
sim = "sim.toml"
replications = 300
seed = 9
[sweep]
"instrument.strength" = [0.03, 0.6]
"compliance.defiers" = [0.0, 0.3]
[[estimators]]
name = "2sls"
kind = "two_stage_least_squares"
"#,
    );
    let strong = find(&d, 2, "2sls");
    let weak = find(&d, 0, "2sls");
    let defied = find(&d, 3, "2sls");
    assert!(
        (0.91..=0.98).contains(&strong.coverage.value),
        "strong {}",
        strong.coverage.value
    );
    // A weak instrument gives wide intervals and a bias towards OLS.
    assert!(weak.ci_width.value > 5.0 * strong.ci_width.value);
    assert!(weak.power.value < 0.5);
    // Defiers are selected on u and so on gains: their larger effects enter
    // the Wald ratio with a negative weight, pulling 2SLS below the LATE.
    assert!(
        defied.bias.value < -0.2 && defied.bias.value.abs() > 5.0 * defied.bias.mcse,
        "defiers should bias 2SLS downwards: {} (mcse {})",
        defied.bias.value,
        defied.bias.mcse
    );
    assert!(strong.bias.value.abs() < 3.0 * strong.bias.mcse);
}
