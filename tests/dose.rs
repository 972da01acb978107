//! A continuous treatment (a dose) in the regions world: its truth (the
//! effect of one more unit at each region's own dose, the average slope,
//! the natural effects), DML's partially linear model and the generalized
//! propensity score against it, the estimators that need a 0/1 treatment
//! refusing a dose, and allocation by the estimated dose response.

mod common;

use std::path::Path;

use causim::core::Estimand;
use causim::estimate::cem::Cem;
use causim::estimate::dml::{Dml, DmlModel, Learner};
use causim::estimate::entropy::EntropyBalancing;
use causim::estimate::forest::CausalForest;
use causim::estimate::gps::{Gps, GpsTarget};
use causim::estimate::linear::DifferenceInMeans;
use causim::estimate::matching::Psm;
use causim::estimate::Estimator;
use causim::evaluate::allocation::AllocationSummary;
use causim::sim::regions::RegionsWorld;
use causim::sim::Sim;
use causim::spec::{Experiment, SimSpec};

/// The shipped dose world, sims/regions_dose.toml.
fn dose_world() -> RegionsWorld {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sims/regions_dose.toml");
    match causim::spec::load_sim(&path).expect("loads").1 {
        SimSpec::Regions(w) => w,
        other => panic!("a regions world, not {}", other.kind()),
    }
}

/// The dose world with `n` regions and its parameters set as given.
fn with(n: usize, parameters: &[(&str, f64)]) -> RegionsWorld {
    let mut w = dose_world();
    w.n = n;
    for (name, value) in parameters {
        assert!(w.parameters.contains_key(*name), "{name}");
        w.parameters.insert(name.to_string(), *value);
    }
    w
}

/// A linear dose response: the same slope everywhere, no diminishing returns.
fn linear(n: usize, confounding: f64) -> RegionsWorld {
    with(
        n,
        &[
            ("scarcity", 0.0),
            ("curvature", 0.0),
            ("confounding", confounding),
        ],
    )
}

/// Bias, its Monte Carlo SE and the share of 95% intervals that cover, of
/// `estimator` over `reps` samples of `world`, against the truth of the
/// estimator's estimand.
fn monte_carlo(world: &RegionsWorld, estimator: &dyn Estimator, reps: u64) -> (f64, f64, f64) {
    let sim = world.build().expect("valid world");
    let mut errors = Vec::new();
    let mut covered = 0usize;
    for rep in 0..reps {
        let s = sim.sample(500 + rep).expect("sample");
        let truth = s
            .truth
            .estimand(estimator.estimand())
            .expect("the world knows it");
        let e = estimator.fit(&s.data, rep).expect("fits");
        errors.push(e.estimate - truth);
        covered += usize::from(e.ci_lower <= truth && truth <= e.ci_upper);
    }
    let r = reps as f64;
    let bias = errors.iter().sum::<f64>() / r;
    let sd = (errors.iter().map(|e| (e - bias).powi(2)).sum::<f64>() / (r - 1.0)).sqrt();
    let (mcse, coverage) = (sd / r.sqrt(), covered as f64 / r);
    eprintln!(
        "{:?} over {reps} samples of {} regions: bias {bias:.4} (MCSE {mcse:.4}), coverage {coverage:.2}",
        estimator.estimand(),
        world.n
    );
    (bias, mcse, coverage)
}

fn plr(estimand: Option<Estimand>) -> Dml {
    Dml {
        model: DmlModel::Plr,
        learner: Learner::Lasso,
        estimand,
        ..Dml::default()
    }
}

#[test]
fn a_dose_has_the_effect_of_one_more_unit_and_the_average_slope_as_truth() {
    let sim = dose_world().build().expect("valid world");
    let s = sim.sample(3).expect("sample");
    let t = &s.truth;
    let value = |key: &str| t.values.get(key).copied().expect(key);
    // Y(d + 1) − Y(d) = s(x) − c (2d + 1) while dY/dD = s(x) − 2 c d: the
    // average slope exceeds the average increment by the curvature c = 0.05.
    assert!(
        (value("slope") - value("ate") - 0.05).abs() < 1e-6,
        "{:?}",
        t.values
    );
    // Access is linear in the dose: 0.3 more per unit, worth 0.6 each.
    assert!((value("indirect") - 0.18).abs() < 1e-9);
    assert!((value("direct") + value("indirect") - value("ate")).abs() < 1e-9);
    // No treated and controls for a dose.
    for key in ["att", "atc", "share_treated"] {
        assert!(!t.values.contains_key(key), "{key}");
    }
    // Every unit's effect, from its own dose and pre-treatment state: the
    // mediators are linear and the noise additive, so cate is tau.
    let (w, x) = (&s.data.w, &s.data.x);
    let column = |name: &str| {
        let j = s.data.x_names.iter().position(|n| n == name).expect(name);
        x.column(j).to_owned()
    };
    let (beds, burden) = (column("beds"), column("burden"));
    for i in 0..s.data.n() {
        let want =
            0.18 + 0.6 - 0.15 * (beds[i] - 2.5) + 0.05 * burden[i] - 0.05 * (2.0 * w[i] + 1.0);
        assert!(
            (t.tau[i] - want).abs() < 1e-9,
            "unit {i}: {} vs {want}",
            t.tau[i]
        );
        assert!((t.cate[i] - t.tau[i]).abs() < 1e-9);
    }
    // The doses are continuous, some of them cuts.
    assert!(w.iter().any(|&d| d < 0.0) && w.iter().any(|&d| d > 1.5));
    assert!(s.data.w.iter().all(|&d| d != 0.0 && d != 1.0));
}

#[test]
fn plr_recovers_a_linear_dose_response_with_coverage() {
    let (bias, mcse, coverage) = monte_carlo(&linear(300, 1.0), &plr(None), 100);
    assert!(bias.abs() < 3.0 * mcse, "bias {bias:.4}, MCSE {mcse:.4}");
    assert!((0.90..=0.98).contains(&coverage), "coverage {coverage}");
}

#[test]
fn gps_recovers_a_linear_dose_response_under_mild_confounding_with_coverage() {
    // The dose confounded by x1 and x2 only (confounding = 0).
    let gps = Gps {
        bootstrap: 100,
        ..Gps::default()
    };
    let (bias, mcse, coverage) = monte_carlo(&linear(300, 0.0), &gps, 100);
    assert!(bias.abs() < 3.0 * mcse, "bias {bias:.4}, MCSE {mcse:.4}");
    assert!((0.90..=0.98).contains(&coverage), "coverage {coverage}");
    // With gdp, urbanity and population pulling the dose too, the quadratic
    // outcome model in the dose and the score no longer fits E[Y | D, R]:
    // the estimate is biased upward, well beyond its Monte Carlo error.
    let (bias, mcse, _) = monte_carlo(&linear(300, 1.0), &gps, 100);
    assert!(bias > 5.0 * mcse, "bias {bias:.4}, MCSE {mcse:.4}");
}

#[test]
fn plr_weights_slopes_by_the_doses_variance_and_misses_the_average_slope() {
    let slope = plr(Some(Estimand::Slope));
    // Without the noise covariates x3..x10, which change nothing here.
    let world = |uneven: f64| {
        let mut w = with(1000, &[("uneven", uneven)]);
        w.covariates.count = 2;
        w
    };
    // The doses spread alike everywhere: PLR's coefficient is the average slope.
    let (bias, mcse, _) = monte_carlo(&world(0.0), &slope, 40);
    assert!(bias.abs() < 3.0 * mcse, "bias {bias:.4}, MCSE {mcse:.4}");
    // Urban districts' doses spread wider, and they have more beds and so
    // smaller slopes: PLR weights them up and falls short of the average slope.
    let (bias, mcse, _) = monte_carlo(&world(0.6), &slope, 40);
    assert!(bias < -5.0 * mcse, "bias {bias:.4}, MCSE {mcse:.4}");
}

#[test]
fn estimators_that_need_a_binary_treatment_refuse_a_dose() {
    let s = with(300, &[])
        .build()
        .expect("valid")
        .sample(1)
        .expect("sample");
    let refusals: [(&str, Box<dyn Estimator>); 6] = [
        ("psm", Box::new(Psm::default())),
        ("cem", Box::new(Cem::default())),
        ("entropy_balancing", Box::new(EntropyBalancing::default())),
        (
            "difference_in_means",
            Box::new(DifferenceInMeans::default()),
        ),
        ("causal_forest", Box::new(CausalForest::default())),
        ("dml: the irm", Box::new(Dml::default())),
    ];
    for (name, estimator) in refusals {
        let m = estimator.fit(&s.data, 0).expect_err(name).to_string();
        assert!(
            m.contains(name) && m.contains("gps") && m.contains("plr"),
            "{name}: {m}"
        );
    }
    let slope = Gps {
        estimand: GpsTarget::Slope,
        bootstrap: 20,
    };
    assert_eq!(slope.estimand(), Estimand::Slope);
    assert!(slope.fit(&s.data, 0).is_ok());
}

const ALLOCATION: &str = r#"
sim = "SIM"
replications = 6
seed = 11

[[estimators]]
name = "plr"
kind = "dml"
model = "plr"
learner = "lasso"

[[estimators]]
kind = "gps"
bootstrap = 20

[[policies]]
kind = "allocate"
oracle = true
budget = 100
weight = "population"
eligible = "all"

[[policies]]
kind = "allocate"
estimator = "plr"
budget = 100
weight = "population"
eligible = "all"

[[policies]]
kind = "allocate"
estimator = "gps"
budget = 100
weight = "population"
eligible = "all"
"#;

fn sim_path() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sims/regions_dose.toml")
        .display()
        .to_string()
        .replace('\\', "/")
}

#[test]
fn allocation_by_the_gps_dose_response_beats_plr_s_single_slope() {
    let dir = common::scratch("dose_allocation");
    let path = common::write(
        &dir,
        "experiment.toml",
        &ALLOCATION.replace("SIM", &sim_path()),
    );
    let experiment = Experiment::load(&path).expect("valid experiment");
    let records = common::run_fresh(&experiment, &dir.join("out"));
    assert_eq!(records.len(), 6);
    let mut regret = [0.0; 3];
    for record in &records {
        let s: Vec<AllocationSummary> =
            common::summaries(causim::stage::allocation::results(record));
        for (k, p) in s.iter().enumerate() {
            assert_eq!(p.units, 100);
            regret[k] += p.regret() / records.len() as f64;
        }
    }
    let [oracle, plr, gps] = regret;
    eprintln!(
        "mean regret over {} samples: plr {plr:.1}, gps {gps:.1}",
        records.len()
    );
    assert!(oracle.abs() < 1e-9);
    assert!(gps < 0.75 * plr, "regret: gps {gps:.1}, plr {plr:.1}");
}

#[test]
fn allocating_a_dose_only_to_untreated_regions_fails_at_load() {
    let text = ALLOCATION
        .replace("SIM", &sim_path())
        .replace("eligible = \"all\"\n", "");
    let dir = common::scratch("dose_untreated");
    let path = common::write(&dir, "experiment.toml", &text);
    let m = Experiment::load(&path).expect_err("refused").to_string();
    common::assert_has(&m, &["eligible = \"all\"", "dose"]);
}

#[test]
fn the_shipped_dose_experiment_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let experiment = Experiment::load(&root.join("experiments/dose.toml")).expect("loads");
    assert_eq!(experiment.allocations.len(), 4);
    assert!(dose_world().continuous_treatment());
}
