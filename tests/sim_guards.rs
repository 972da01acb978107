//! No sim spec crashes causim: formulas of any length or nesting fail with
//! the limit they break (never a stack overflow), formulas that are not
//! finite on a world's ranges fail when it is built, every size and count
//! has an upper bound, every number must be finite, and no message echoes
//! kilobytes of what the user wrote.

use std::time::Instant;

use causim::formula::{MAX_LENGTH, MAX_NESTING};
use causim::sim::hospital::{self, HospitalWorld};
use causim::sim::iv::{self, IvWorld, Outcome};
use causim::sim::limits::{MAX_CELLS, MAX_UNITS};
use causim::sim::regions::{self, NodeSpec, NodeType, RegionsWorld};
use causim::sim::Sim;
use causim::spec::SimSpec;

/// Stack of the threads the formula tests run on: an eighth of a spawned thread's default.
const SMALL_STACK: usize = 256 * 1024;

/// Runs `f` on a thread with a [`SMALL_STACK`]; an overflow aborts the test binary.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .expect("a thread")
        .join()
        .expect("no panic")
}

/// The message of a spec's build error.
fn error(spec: SimSpec) -> String {
    match spec.build() {
        Ok(_) => panic!("{} should not build", spec.kind()),
        Err(e) => e.to_string(),
    }
}

fn iv_error(world: IvWorld) -> String {
    error(SimSpec::Iv(world))
}

fn regions_error(world: RegionsWorld) -> String {
    error(SimSpec::Regions(world))
}

fn hospital_error(world: HospitalWorld) -> String {
    error(SimSpec::Hospital(world))
}

fn assert_has(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
    assert!(message.len() < 600, "too long: {message}");
}

fn small_iv() -> IvWorld {
    IvWorld {
        n: 50,
        covariates: 3,
        ..IvWorld::default()
    }
}

fn small_regions() -> RegionsWorld {
    RegionsWorld {
        n: 50,
        ..RegionsWorld::default()
    }
}

/// A flat sum of `terms` copies of `x1`.
fn flat_sum(terms: usize) -> String {
    format!("{}x1", "x1 + ".repeat(terms - 1))
}

#[test]
fn long_formulas_fail_with_the_length_limit_on_a_small_stack() {
    for terms in [50_000, 200_000, 1_000_000] {
        let message = on_small_stack(move || {
            iv_error(IvWorld {
                tau: flat_sum(terms).as_str().into(),
                ..small_iv()
            })
        });
        assert_has(
            &message,
            &["formula `tau`", "characters long", "at most 10000"],
        );
        let message = on_small_stack(move || {
            let mut w = small_regions();
            w.nodes[3].formula = flat_sum(terms).replace("x1", "gdp").as_str().into();
            regions_error(w)
        });
        assert_has(&message, &["node `ageing`", "at most 10000"]);
    }
}

#[test]
fn formulas_within_the_limit_build_and_run_on_a_small_stack() {
    let terms = MAX_LENGTH / 5;
    let world = IvWorld {
        tau: flat_sum(terms).as_str().into(),
        baseline: format!("max({}x2)", "x1, ".repeat(2000)).as_str().into(),
        ..small_iv()
    };
    let sample = on_small_stack(move || {
        let sim = world.build().expect("within the limits");
        let mut sample = sim.sample(1).expect("a sample");
        sim.add_conditional_truth(&mut sample)
            .expect("conditional truth");
        sample
    });
    let x1 = sample.data.x[[0, 0]];
    assert!((sample.truth.tau[0] - terms as f64 * x1).abs() < 1e-9);
}

#[test]
fn deep_nesting_fails_with_the_nesting_limit_on_a_small_stack() {
    for depth in [MAX_NESTING + 1, 1_000, 4_000] {
        let source = format!("{}x1{}", "(".repeat(depth), ")".repeat(depth));
        let message = on_small_stack(move || {
            iv_error(IvWorld {
                baseline: source.as_str().into(),
                ..small_iv()
            })
        });
        assert_has(
            &message,
            &["formula `baseline`", "nested too deeply", "100 levels"],
        );
    }
    let calls = format!("{}x1{}", "exp(".repeat(MAX_NESTING - 1), ")".repeat(99));
    let message = on_small_stack(move || {
        iv_error(IvWorld {
            tau: calls.as_str().into(),
            ..small_iv()
        })
    });
    assert_has(&message, &["formula `tau`", "not finite"]);
    // Each group adds six levels of tree and two of nesting.
    let tall = format!(
        "{}x1{}",
        "x1 || x1 && x1 == x1 + x1 * -(".repeat(40),
        ")".repeat(40)
    );
    let message = on_small_stack(move || {
        iv_error(IvWorld {
            tau: tall.as_str().into(),
            ..small_iv()
        })
    });
    assert_has(&message, &["formula `tau`", "more than 200 levels"]);
}

#[test]
fn iv_formulas_must_be_finite_on_the_world_s_ranges() {
    let cases = [
        ("1/0", "formula `tau` = \"1/0\" is not finite: it is inf"),
        ("log(-1)", "is not finite: it is nan"),
        ("sqrt(x1 - 2)", "is not finite at x1 = 0"),
        ("1 / x2", "is not finite at x2 = 0"),
        ("log(1 + x3)", "at x3 = -1"),
        ("exp(200 * u)", "at u = 4"),
    ];
    for (tau, expected) in cases {
        let message = iv_error(IvWorld {
            tau: tau.into(),
            ..small_iv()
        });
        assert_has(&message, &[expected, "[-1, 1)", "[-4, 4]"]);
    }
    let message = iv_error(IvWorld {
        baseline: "1 / (x1 + x2)".into(),
        ..small_iv()
    });
    assert_has(
        &message,
        &[
            "formula `baseline`",
            "not finite at x1 = 0, x2 = 0: it is inf",
        ],
    );
}

#[test]
fn probabilities_must_lie_in_the_unit_interval_at_build() {
    let propensity = |formula: &str| {
        let mut w = small_iv();
        w.instrument.propensity = formula.into();
        iv_error(w)
    };
    let message = propensity("x1");
    assert_has(
        &message,
        &[
            "formula `instrument.propensity` = \"x1\" is -1 at x1 = -1",
            "[0, 1]",
        ],
    );
    let message = propensity("0.9 + 0.2 * x2");
    assert_has(
        &message,
        &["instrument.propensity", "is 1.1 at x2 = 0.9999999999999998"],
    );
    let message = propensity("0.5 + 0.1 * x1 * x2 * x3 * 6");
    assert_has(
        &message,
        &["instrument.propensity", "x1 = ", "x2 = ", "x3 = "],
    );
    let binary = |baseline: &str| IvWorld {
        outcome: Outcome::Binary,
        baseline: baseline.into(),
        tau: "0.1".into(),
        ..small_iv()
    };
    let message = iv_error(binary("0.5 + 0.2 * u"));
    assert_has(&message, &["formula `baseline`", "at u = ", "[0, 1]"]);
    let message = iv_error(binary("0.5 + x1"));
    assert_has(&message, &["formula `baseline`", "is -0.5 at x1 = -1"]);
    // What works today still builds: a baseline probability within (0, 1)
    // at the box and at u = ±4, and the worlds shipped with causim.
    binary("0.3 + 0.1 * x1 + 0.04 * u")
        .build()
        .expect("a probability on the ranges");
    binary("0").build().expect("0 is a probability");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["sims/iv.toml", "sims/regions.toml", "sims/swiss_ncu.toml"] {
        let (_, spec) = causim::spec::load_sim(&root.join(file)).expect("a shipped sim");
        spec.build().expect("the shipped sim builds");
    }
}

#[test]
fn regions_nodes_must_be_finite_on_a_pilot_sample() {
    let node = |i: usize, formula: &str| {
        let mut w = small_regions();
        w.nodes[i].formula = formula.into();
        regions_error(w)
    };
    let message = node(3, "log(gdp - 100)");
    assert_has(
        &message,
        &[
            "node `ageing`",
            "is not finite at gdp = ",
            "it gives nan",
            "pilot sample",
        ],
    );
    // A binary node's log-odds that are NaN would silently make it 0.
    let message = node(1, "sqrt(-1) + gdp");
    assert_has(&message, &["node `urban`", "not finite", "pilot"]);
    let message = node(9, "exp(1000 * access^2)");
    assert_has(&message, &["node `health`", "not finite"]);
    // Finite where `access` is 0 or 1, as drawn, but not at its mean.
    let mut w = small_regions();
    w.nodes[8].kind = NodeType::Binary;
    w.nodes[8].noise = None;
    w.nodes[8].formula = "resource".into();
    w.nodes[9].formula = "sqrt(access * (access - 1))".into();
    let message = regions_error(w);
    assert_has(
        &message,
        &["node `health`", "not finite", "`resource` is set to 0"],
    );
    let message = node(9, "1.5e308 * (2 * resource - 1)");
    assert_has(
        &message,
        &["outcome `health`", "potential outcomes too large"],
    );
    let mut w = small_regions();
    w.parameters.insert("scale".into(), 1e308);
    w.nodes[4].formula = "scale * 10 * ageing".into();
    assert_has(&regions_error(w), &["node `burden`"]);
}

#[test]
fn iv_sizes_are_bounded() {
    let message = iv_error(IvWorld {
        covariates: usize::MAX,
        ..small_iv()
    });
    assert_has(&message, &["`covariates`", &iv::MAX_COVARIATES.to_string()]);
    let message = iv_error(IvWorld {
        n: usize::MAX,
        ..small_iv()
    });
    assert_has(&message, &["`n`", &MAX_UNITS.to_string()]);
    let message = iv_error(IvWorld {
        n: MAX_UNITS,
        covariates: iv::MAX_COVARIATES,
        ..small_iv()
    });
    assert_has(&message, &["10000000 × 10000", &MAX_CELLS.to_string()]);
    let spec = SimSpec::Iv(small_iv());
    for (key, value) in [("n", i64::MAX), ("covariates", i64::MAX)] {
        let spec = spec
            .with(key, toml::Value::Integer(value))
            .expect("a usize");
        assert_has(&error(spec), &[&format!("`{key}`")]);
    }
    let start = Instant::now();
    let world = IvWorld {
        covariates: iv::MAX_COVARIATES,
        tau: "x1 + x10000 * u".into(),
        ..small_iv()
    };
    world.build().expect("the most covariates");
    assert!(start.elapsed().as_secs_f64() < 2.0, "{:?}", start.elapsed());
}

#[test]
fn regions_sizes_are_bounded() {
    let mut w = small_regions();
    w.covariates.count = usize::MAX;
    assert_has(&regions_error(w), &["`covariates.count`", "10000"]);
    let mut w = small_regions();
    w.covariates.confounders = usize::MAX;
    assert_has(&regions_error(w), &["`covariates.confounders`"]);
    let mut w = small_regions();
    w.n = usize::MAX;
    assert_has(&regions_error(w), &["`n`", "10000000"]);
    let mut w = small_regions();
    w.n = MAX_UNITS;
    w.covariates.count = regions::MAX_COVARIATES;
    assert_has(&regions_error(w), &["10000000 × 10010", "200000000"]);
    let mut w = small_regions();
    let extra = (0..regions::MAX_NODES).map(|j| NodeSpec {
        name: format!("extra{j}"),
        formula: "0".into(),
        kind: NodeType::Continuous,
        noise: None,
        observed: false,
        role: None,
    });
    w.nodes.extend(extra);
    assert_has(&regions_error(w), &["`nodes`", "1000"]);
    let mut w = small_regions();
    w.parameters = (0..=regions::MAX_PARAMETERS)
        .map(|j| (format!("p{j}"), 1.0))
        .collect();
    w.parameters.insert("confounding".into(), 1.0);
    assert_has(&regions_error(w), &["`parameters`", "1000"]);
}

#[test]
fn a_regions_world_with_the_most_covariates_builds_quickly() {
    let mut w = small_regions();
    w.covariates.count = regions::MAX_COVARIATES;
    w.covariates.confounders = regions::MAX_COVARIATES;
    let start = Instant::now();
    let sim = w.build().expect("the most covariates");
    let built = start.elapsed().as_secs_f64();
    assert!(built < 2.0, "built in {built} s");
    assert_eq!(sim.graph().len(), 10 + regions::MAX_COVARIATES);
    let mut w = small_regions();
    w.covariates.count = regions::MAX_COVARIATES;
    w.parameters.insert("x9999".into(), 1.0);
    assert_has(&regions_error(w), &["`x9999` names two things"]);
}

#[test]
fn hospital_sizes_are_bounded() {
    let case = |edit: &dyn Fn(&mut HospitalWorld)| {
        let mut w = HospitalWorld {
            scale: 0.01,
            ..HospitalWorld::default()
        };
        edit(&mut w);
        hospital_error(w)
    };
    let m = case(&|w| w.cohort_days = usize::MAX);
    assert_has(
        &m,
        &["`cohort_days`", &hospital::MAX_COHORT_DAYS.to_string()],
    );
    let m = case(&|w| w.codes = usize::MAX);
    assert_has(&m, &["`codes`"]);
    let m = case(&|w| {
        w.codes = hospital::MAX_CODES;
        w.informative_codes = usize::MAX;
    });
    assert_has(&m, &["`informative_codes`"]);
    let m = case(&|w| w.comorbidities = usize::MAX);
    assert_has(&m, &["`comorbidities`"]);
    let m = case(&|w| w.last_year = i32::MAX);
    assert_has(&m, &["`last_year`", "1900..2200"]);
    let m = case(&|w| w.first_year = i32::MIN);
    assert_has(&m, &["`first_year`"]);
    let m = case(&|w| {
        w.first_year = 1900;
        w.last_year = 2200;
        let a = w.hospitals["A"].clone();
        w.hospitals
            .extend((0..15).map(|j| (format!("copy{j}"), a.clone())));
    });
    assert_has(&m, &["hospital-days", "2000000"]);
    let m = case(&|w| {
        if let Some(a) = w.hospitals.get_mut("A") {
            a.surgical.capacity = u32::MAX;
        }
    });
    assert_has(&m, &["`hospitals.A.surgical.capacity`", "100000"]);
    let m = case(&|w| {
        w.scale = 100.0;
        w.cohort_days = hospital::MAX_COHORT_DAYS;
        w.cohort.mean_size = 10_000.0;
    });
    assert_has(&m, &["patients", "10000000"]);
    let m = case(&|w| {
        w.scale = 1.0;
        w.codes = hospital::MAX_CODES;
    });
    assert_has(&m, &["covariate values", "200000000"]);
}

/// Every float parameter `causim list` shows of `spec`, set to NaN and to
/// infinity, fails to build with its key (or the key of its table) named.
fn every_float_must_be_finite(spec: &SimSpec) {
    let floats = spec.parameters().expect("parameters");
    let floats = floats.iter().filter(|(_, v)| v.is_float());
    let mut checked = 0;
    for (key, _) in floats {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let changed = spec.with(key, toml::Value::Float(bad)).expect("a float");
            let message = error(changed);
            let table = key.rsplit_once('.').map_or(key.as_str(), |(t, _)| t);
            assert!(message.contains(table), "{key} = {bad}: {message}");
            assert!(
                message.contains("inf") || message.contains("nan"),
                "{message}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 2, "{} has floats", spec.kind());
}

#[test]
fn every_number_of_every_world_must_be_finite() {
    every_float_must_be_finite(&SimSpec::Iv(small_iv()));
    every_float_must_be_finite(&SimSpec::Regions(small_regions()));
    every_float_must_be_finite(&SimSpec::Hospital(HospitalWorld {
        scale: 0.01,
        ..HospitalWorld::default()
    }));
    let mut w = small_regions();
    w.nodes[0].noise = Some(f64::NAN);
    assert_has(&regions_error(w), &["node `gdp`", "`noise` is nan"]);
}

#[test]
fn messages_elide_long_values_and_shorten_numbers() {
    let long = format!("x1 + {}", "y".repeat(20_000));
    let m = iv_error(IvWorld {
        tau: long.as_str().into(),
        ..small_iv()
    });
    assert_has(&m, &["formula `tau`", "(20005 characters)"]);
    let typo = format!("x1 + x{}", "9".repeat(5_000));
    let m = iv_error(IvWorld {
        tau: typo.as_str().into(),
        ..small_iv()
    });
    assert_has(&m, &["unknown variable", "(5001 characters)"]);
    let m = iv_error(IvWorld {
        noise: -1e308,
        ..small_iv()
    });
    assert_has(&m, &["`noise` is -1e308"]);
    let m = iv_error(IvWorld {
        confounding: f64::MAX * 2.0,
        ..small_iv()
    });
    assert_has(&m, &["`confounding` is inf"]);
    let mut w = small_regions();
    w.nodes[2].name = "e".repeat(10_000);
    assert_has(&regions_error(w), &["(10000 characters)"]);
    let mut w = small_regions();
    w.parameters
        .insert(format!("bad-{}", "p".repeat(10_000)), 1.0);
    assert_has(
        &regions_error(w),
        &["parameter `bad-", "(10004 characters)"],
    );
    let mut w = small_regions();
    w.nodes[5].noise = Some(-1.7e308);
    assert_has(&regions_error(w), &["node `population`", "-1.7e308"]);
    let mut w = HospitalWorld::default();
    let a = w.hospitals.remove("A").expect("hospital A");
    let mut bad = a.clone();
    bad.share = -1e300;
    w.hospitals.insert("H".repeat(10_000), bad);
    assert_has(&hospital_error(w), &["-1e300", "(10000 characters)"]);
}
