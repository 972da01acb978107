//! The regions world and the `scm` estimator: the world's truth (natural
//! effects add up, randomization makes the naive comparison right, seeds
//! and sweep keys work), and scm's bias and coverage for the total, direct
//! and indirect effects, by the front door, and under a wrong graph.

mod common;

use causim::core::Estimand;
use causim::data::graph::GraphSpec;
use causim::estimate::linear::DifferenceInMeans;
use causim::estimate::scm::{Effect, Scm};
use causim::estimate::Estimator;
use causim::sim::regions::{NodeSpec, NodeType, RegionsWorld, Role};
use causim::sim::{Sample, Sim};
use causim::spec::SimSpec;

fn world(n: usize) -> RegionsWorld {
    RegionsWorld {
        n,
        ..RegionsWorld::default()
    }
}

fn sample(world: &RegionsWorld, seed: u64) -> Sample {
    world
        .build()
        .expect("valid world")
        .generate(seed)
        .expect("sample")
}

fn truth(s: &Sample, estimand: Estimand) -> f64 {
    s.truth.estimand(estimand).expect("the world defines it")
}

/// Mean error, share of 95% intervals covering the truth, and mean SE of
/// `estimator` over `reps` samples of `world`.
fn monte_carlo(world: &RegionsWorld, estimator: &Scm, reps: u64) -> (f64, f64, f64) {
    let sim = world.build().expect("valid world");
    let (mut error, mut covered, mut se) = (0.0, 0usize, 0.0);
    for rep in 0..reps {
        let s = sim.generate(1000 + rep).expect("sample");
        let e = estimator.fit(&s.data, rep).expect("fit");
        let target = truth(&s, estimator.estimand());
        error += e.estimate - target;
        covered += usize::from(e.ci_lower <= target && target <= e.ci_upper);
        se += e.se;
    }
    let r = reps as f64;
    (error / r, covered as f64 / r, se / r)
}

#[test]
fn the_natural_effects_add_up_to_the_ate_and_cate_is_tau_here() {
    let s = sample(&world(3000), 1);
    let (ate, direct, indirect) = (
        truth(&s, Estimand::Ate),
        truth(&s, Estimand::Direct),
        truth(&s, Estimand::Indirect),
    );
    assert!((direct + indirect - ate).abs() < 1e-12);
    // The equations give a direct effect near 0.4 and an indirect one near
    // 0.6 * 0.8; both depend on beds, so they are not exactly these.
    assert!((0.25..0.55).contains(&direct), "direct {direct}");
    assert!((0.35..0.6).contains(&indirect), "indirect {indirect}");
    let att = truth(&s, Estimand::Att);
    assert!(att != ate);
    // Noise enters the outcome linearly, so the conditional effect is each unit's own.
    let gap = s
        .truth
        .tau
        .iter()
        .zip(&s.truth.cate)
        .map(|(t, c)| (t - c).abs())
        .fold(0.0, f64::max);
    assert!(gap < 1e-9, "{gap}");
    // Heterogeneity: the effect is larger where beds are scarce.
    let beds = s.data.column("beds").expect("beds column");
    let (mut scarce, mut ns, mut rich, mut nr) = (0.0, 0, 0.0, 0);
    for (b, t) in beds.iter().zip(&s.truth.tau) {
        if *b < 2.2 {
            scarce += t;
            ns += 1;
        } else if *b > 2.8 {
            rich += t;
            nr += 1;
        }
    }
    assert!(scarce / ns as f64 > rich / nr as f64 + 0.3);
}

#[test]
fn the_data_holds_pre_treatment_columns_mediators_and_the_graph() {
    let s = sample(&world(200), 2);
    let d = &s.data;
    let mut expected: Vec<String> = [
        "gdp",
        "urban",
        "east",
        "ageing",
        "burden",
        "population",
        "beds",
    ]
    .map(String::from)
    .to_vec();
    expected.extend((1..=10).map(|j| format!("x{j}")));
    assert_eq!(d.x_names, expected);
    assert_eq!(d.mediators.len(), 1);
    assert_eq!(d.mediators[0].0, "access");
    let g = d.graph.as_ref().expect("a graph");
    assert_eq!(g.name(g.treatment()), "resource");
    assert_eq!(g.name(g.outcome()), "health");
    let set: Vec<&str> = g
        .adjustment_set()
        .expect("identified")
        .iter()
        .map(|&v| g.name(v))
        .collect();
    assert_eq!(
        set,
        [
            "gdp",
            "urban",
            "east",
            "ageing",
            "burden",
            "population",
            "beds",
            "x1",
            "x2"
        ]
    );
}

#[test]
fn samples_are_determined_by_the_seed_and_sweep_keys_work() {
    let w = world(300);
    let (a, b, c) = (sample(&w, 5), sample(&w, 5), sample(&w, 6));
    assert_eq!(a.data.y, b.data.y);
    assert_eq!(a.data.x, b.data.x);
    assert_eq!(
        (&a.truth.values, &a.truth.tau, &a.truth.cate),
        (&b.truth.values, &b.truth.tau, &b.truth.cate)
    );
    assert_ne!(a.data.y, c.data.y);

    let spec = SimSpec::Regions(w);
    let swept = spec
        .with("n", toml::Value::Integer(400))
        .and_then(|s| s.with("covariates.count", toml::Value::Integer(50)))
        .and_then(|s| s.with("covariates.confounders", toml::Value::Integer(5)))
        .and_then(|s| s.with("covariates.strength", toml::Value::Float(1.0)))
        .and_then(|s| s.with("parameters.confounding", toml::Value::Float(0.0)))
        .expect("valid keys");
    let SimSpec::Regions(swept) = swept else {
        panic!("still a regions world");
    };
    assert_eq!(
        (
            swept.n,
            swept.covariates.count,
            swept.covariates.confounders
        ),
        (400, 50, 5)
    );
    assert_eq!(swept.parameters["confounding"], 0.0);
    let s = sample(&swept, 5);
    assert_eq!(s.data.x.dim(), (400, 7 + 50));
    let g = s.data.graph.as_ref().expect("graph");
    let set = g.adjustment_set().expect("identified");
    assert_eq!(set.len(), 7 + 5, "the five confounders join the set");
    // The covariates draw from their own stream: more of them leave the nodes' draws alone.
    let fewer = sample(
        &RegionsWorld {
            covariates: causim::sim::regions::Covariates {
                count: 5,
                confounders: 5,
                strength: 1.0,
                nonlinear: false,
            },
            ..swept.clone()
        },
        5,
    );
    assert_eq!(fewer.data.column("gdp"), s.data.column("gdp"));
    let err = SimSpec::Regions(world(10))
        .with("parameters.effect", toml::Value::Float(1.0))
        .expect_err("no such parameter");
    assert!(err.contains("parameters.confounding"), "{err}");
}

#[test]
fn without_confounding_the_naive_comparison_is_right_and_with_it_wrong() {
    let naive = |confounding: f64, strength: f64| {
        let mut w = world(20_000);
        w.parameters.insert("confounding".into(), confounding);
        w.covariates.strength = strength;
        let s = sample(&w, 7);
        let e = DifferenceInMeans::default().fit(&s.data, 0).expect("fit");
        (e.estimate - truth(&s, Estimand::Ate), e.se)
    };
    let (error, se) = naive(0.0, 0.0);
    assert!(error.abs() < 3.0 * se, "randomized: error {error}, se {se}");
    let (error, se) = naive(1.0, 0.5);
    assert!(
        error > 0.5 && error > 10.0 * se,
        "confounded: error {error}"
    );
}

#[test]
fn scm_recovers_the_total_effect_with_coverage_and_per_unit_effects() {
    let w = world(500);
    let scm = Scm::default();
    let (bias, coverage, se) = monte_carlo(&w, &scm, 200);
    assert!(bias.abs() < 0.03, "bias {bias} (se {se})");
    assert!((0.88..=0.99).contains(&coverage), "coverage {coverage}");
    // Per-unit effects from the interactions track the conditional truth.
    let s = sample(&world(2000), 11);
    let e = scm.fit(&s.data, 0).expect("fit");
    assert_eq!(e.diagnostics["adjustment_set_size"], 9.0);
    assert_eq!(e.diagnostics["front_door"], 0.0);
    let units = e.units.expect("per-unit effects");
    let rmse = (units
        .tau
        .iter()
        .zip(&s.truth.cate)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / 2000.0)
        .sqrt();
    let spread = {
        let m = s.truth.cate.iter().sum::<f64>() / 2000.0;
        (s.truth.cate.iter().map(|c| (c - m).powi(2)).sum::<f64>() / 2000.0).sqrt()
    };
    assert!(rmse < 0.4 * spread, "per-unit rmse {rmse}, spread {spread}");
    assert!(units.se.iter().all(|v| *v > 0.0 && v.is_finite()));
}

#[test]
fn scm_recovers_the_direct_and_indirect_effects() {
    let w = world(400);
    for effect in [Effect::Direct, Effect::Indirect] {
        let scm = Scm {
            effect,
            bootstrap: 100,
            ..Scm::default()
        };
        let (bias, coverage, se) = monte_carlo(&w, &scm, 100);
        assert!(bias.abs() < 0.04, "{effect:?}: bias {bias} (se {se})");
        assert!(
            (0.87..=0.99).contains(&coverage),
            "{effect:?}: coverage {coverage}"
        );
    }
}

/// An observed node without a role.
fn node(name: &str, formula: &str, kind: NodeType, noise: Option<f64>) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        formula: formula.into(),
        kind,
        noise,
        observed: true,
        role: None,
    }
}

/// A world where a latent u confounds the investment and health, which the
/// investment affects only through access: the backdoor is closed to any
/// observed set, the front door is open.
fn front_door_world(n: usize) -> RegionsWorld {
    let mut nodes = vec![
        node("u", "0", NodeType::Continuous, Some(1.0)),
        node("gdp", "0", NodeType::Continuous, Some(1.0)),
        node("resource", "0.8 * u + 0.5 * gdp", NodeType::Binary, None),
        node("access", "0.5 + resource", NodeType::Continuous, Some(1.0)),
        node(
            "health",
            "0.8 * access + u + 0.5 * gdp",
            NodeType::Continuous,
            Some(1.0),
        ),
    ];
    nodes[0].observed = false;
    nodes[2].role = Some(Role::Treatment);
    nodes[4].role = Some(Role::Outcome);
    RegionsWorld {
        n,
        covariates: causim::sim::regions::Covariates {
            count: 3,
            confounders: 0,
            ..Default::default()
        },
        nodes,
        ..RegionsWorld::default()
    }
}

#[test]
fn the_front_door_recovers_the_effect_despite_a_latent_confounder() {
    let w = front_door_world(500);
    let s = sample(&w, 1);
    let g = s.data.graph.as_ref().expect("graph");
    assert_eq!(g.adjustment_set(), None);
    // Adjusting for everything observed (gdp and x1..x3) is biased by u.
    let ols = causim::estimate::linear::Ols::default();
    let big = sample(&front_door_world(20_000), 2);
    let e = ols.fit(&big.data, 0).expect("ols");
    assert!(
        e.estimate - truth(&big, Estimand::Ate) > 0.5,
        "{}",
        e.estimate
    );

    let scm = Scm {
        bootstrap: 100,
        ..Scm::default()
    };
    let e = scm.fit(&s.data, 0).expect("front door");
    assert_eq!(e.diagnostics["front_door"], 1.0);
    assert!(e.units.is_none());
    let (bias, coverage, se) = monte_carlo(&w, &scm, 80);
    assert!(bias.abs() < 0.04, "bias {bias} (se {se})");
    assert!((0.86..=1.0).contains(&coverage), "coverage {coverage}");
}

#[test]
fn a_graph_that_omits_the_confounder_is_biased() {
    let w = world(2000);
    let wrong = Scm {
        graph: Some(GraphSpec {
            edges: [
                "urban -> resource",
                "population -> resource",
                "resource -> access",
                "access -> health",
                "resource -> health",
                "beds -> health",
                "burden -> health",
            ]
            .map(String::from)
            .to_vec(),
            latent: Vec::new(),
            treatment: "resource".into(),
            outcome: "health".into(),
        }),
        ..Scm::default()
    };
    let (bias, coverage, _) = monte_carlo(&w, &wrong, 20);
    let (right, _, _) = monte_carlo(&w, &Scm::default(), 20);
    assert!(bias > 0.3, "wrong graph: bias {bias}");
    assert!(coverage < 0.2, "wrong graph: coverage {coverage}");
    assert!(right.abs() < 0.05, "right graph: bias {right}");
}

#[test]
fn scm_errors_say_what_to_change() {
    let s = sample(&world(200), 3);
    let message = |scm: Scm, data: &causim::data::Dataset| {
        scm.fit(data, 0).expect_err("an error").to_string()
    };
    let mut plain = s.data.clone();
    plain.graph = None;
    let m = message(Scm::default(), &plain);
    assert!(
        m.contains("needs a causal graph") && m.contains("graph ="),
        "{m}"
    );

    let typo = Scm {
        graph: Some(GraphSpec {
            edges: vec!["gpd -> resource".into(), "resource -> health".into()],
            latent: Vec::new(),
            treatment: "resource".into(),
            outcome: "health".into(),
        }),
        ..Scm::default()
    };
    let m = message(typo, &s.data);
    assert!(m.contains("`gpd`") && m.contains("latent"), "{m}");

    let unidentified = Scm {
        graph: Some(GraphSpec {
            edges: ["u -> resource", "u -> health", "resource -> health"]
                .map(String::from)
                .to_vec(),
            latent: vec!["u".into()],
            treatment: "resource".into(),
            outcome: "health".into(),
        }),
        ..Scm::default()
    };
    let m = message(unidentified.clone(), &s.data);
    assert!(m.contains("not identified") && m.contains('u'), "{m}");
    let m = message(
        Scm {
            effect: Effect::Direct,
            ..unidentified
        },
        &s.data,
    );
    assert!(m.contains("not identified"), "{m}");

    let no_mediator = Scm {
        effect: Effect::Indirect,
        graph: Some(GraphSpec {
            edges: ["gdp -> resource", "gdp -> health", "resource -> health"]
                .map(String::from)
                .to_vec(),
            latent: Vec::new(),
            treatment: "resource".into(),
            outcome: "health".into(),
        }),
        ..Scm::default()
    };
    let m = message(no_mediator, &s.data);
    assert!(m.contains("no mediator"), "{m}");
}

#[test]
fn bad_worlds_name_the_node_and_the_fix() {
    let error = |edit: &dyn Fn(&mut RegionsWorld)| {
        let mut w = world(100);
        edit(&mut w);
        w.build()
            .map(|_| ())
            .expect_err("invalid world")
            .to_string()
    };
    let m = error(&|w| w.nodes[1].formula = "health + gdp".into());
    assert!(
        m.contains("node `urban`") && m.contains("declared later"),
        "{m}"
    );
    let m = error(&|w| w.nodes[1].formula = "wealth".into());
    assert!(
        m.contains("node `urban`") && m.contains("unknown variable `wealth`"),
        "{m}"
    );
    let m = error(&|w| w.nodes[0].role = Some(Role::Treatment));
    assert!(m.contains("`gdp` and `resource`"), "{m}");
    let m = error(&|w| w.nodes[9].role = None);
    assert!(m.contains("no node has role = \"outcome\""), "{m}");
    let m = error(&|w| w.nodes[8].noise = Some(-0.5));
    assert!(m.contains("node `access`") && m.contains("-0.5"), "{m}");
    let m = error(&|w| w.nodes[1].noise = Some(1.0));
    assert!(m.contains("node `urban` is binary"), "{m}");
    let m = error(&|w| w.covariates.confounders = 20);
    assert!(m.contains("covariates.confounders"), "{m}");
    let m = error(&|w| w.nodes[9].observed = false);
    assert!(m.contains("`health` is the outcome"), "{m}");
}

#[test]
fn generation_is_fast_in_high_dimension() {
    let mut w = world(5000);
    w.covariates.count = 200;
    w.covariates.confounders = 20;
    let sim = w.build().expect("valid");
    let start = std::time::Instant::now();
    let s = sim.generate(1).expect("sample");
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(s.data.x.dim(), (5000, 207));
    assert!(elapsed < 1.0, "{elapsed} s");
}

#[test]
fn the_shipped_world_is_the_default_and_the_cli_writes_mediators_and_truth() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (_, spec) = causim::spec::load_sim(&root.join("sims/regions.toml")).expect("loads");
    assert_eq!(spec, SimSpec::Regions(RegionsWorld::default()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_causim"))
        .args(["simulate", "sims/regions.toml", "--set", "n=50"])
        .current_dir(root)
        .output()
        .expect("simulate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).expect("utf-8");
    let header = csv.lines().next().expect("a header");
    assert!(
        header.starts_with("gdp,urban,") && header.ends_with(",x10,w,access,y,tau,cate"),
        "{header}"
    );
    assert_eq!(csv.lines().count(), 51);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_causim"))
        .arg("list")
        .output()
        .expect("list");
    let list = String::from_utf8(out.stdout).expect("utf-8");
    for word in [
        "regions:",
        "parameters.confounding",
        "scm (targets ATE)",
        "bootstrap",
    ] {
        assert!(list.contains(word), "{word}");
    }
}

#[test]
fn the_shipped_experiment_loads_and_a_bad_graph_fails_at_load() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let experiment =
        causim::spec::Experiment::load(&root.join("experiments/regions.toml")).expect("loads");
    assert_eq!(experiment.estimators.len(), 8);
    let dir = common::scratch("regions_bad_graph");
    common::write(&dir, "sim.toml", "kind = \"regions\"\nn = 100\n");
    let path = common::write(
        &dir,
        "x.toml",
        r#"sim = "sim.toml"
replications = 2
seed = 1
[[estimators]]
kind = "scm"
graph = { edges = ["gdp resource"], treatment = "resource", outcome = "health" }
"#,
    );
    let m = causim::spec::Experiment::load(&path)
        .expect_err("a bad edge")
        .to_string();
    assert!(m.contains("`gdp resource`") && m.contains("x.toml"), "{m}");
}

/// The regions world's graph (sims/regions.toml's edges, the confounders
/// x1 and x2 included) with linear equations and continuous nodes but the
/// treatment: the setting the PC algorithm's partial-correlation test is
/// exact for. Every coefficient is positive and the early edges are the
/// strongest, so that no path cancels another and conditioning on common
/// children does not cancel a direct edge (PC assumes faithfulness; with
/// the shipped world's mixed signs, some edges' partial correlations
/// nearly vanish and stay hidden at any n).
fn linear_regions_world(n: usize) -> RegionsWorld {
    let continuous =
        |name: &str, formula: &str| node(name, formula, NodeType::Continuous, Some(1.0));
    let mut nodes =
        vec![
        continuous("gdp", "0"),
        continuous("urban", "0.8 * gdp"),
        continuous("east", "0.8 * gdp"),
        continuous("ageing", "0.5 * east + 0.5 * gdp"),
        continuous("burden", "0.4 * ageing + 0.4 * gdp + 0.4 * urban"),
        continuous("population", "0.5 * urban + 0.5 * gdp"),
        continuous("beds", "0.3 * gdp + 0.3 * urban + 0.3 * east"),
        continuous("resource", "0.5 * gdp + 0.5 * urban + 0.5 * population"),
        continuous("access", "0.3 * urban + 0.3 * gdp + 0.8 * resource + 0.3 * beds"),
        continuous(
            "health",
            "0.3 * gdp + 0.3 * burden + 0.3 * ageing + 0.3 * beds + 0.3 * access + 0.3 * resource",
        ),
    ];
    nodes[7].kind = NodeType::Binary;
    nodes[7].noise = None;
    nodes[7].role = Some(Role::Treatment);
    nodes[9].role = Some(Role::Outcome);
    RegionsWorld {
        n,
        covariates: causim::sim::regions::Covariates {
            count: 4,
            confounders: 2,
            strength: 0.5,
            nonlinear: false,
        },
        nodes,
        ..RegionsWorld::default()
    }
}

/// scm with the graph learned by the PC algorithm, with `tiers` as its
/// background knowledge.
fn learning(tiers: &[&[&str]]) -> Scm {
    Scm {
        discover: Some(causim::data::discovery::Discovery {
            tiers: tiers
                .iter()
                .map(|tier| tier.iter().map(|v| v.to_string()).collect())
                .collect(),
            ..Default::default()
        }),
        ..Scm::default()
    }
}

#[test]
fn the_pc_step_recovers_the_regions_skeleton_at_large_n() {
    let s = sample(&linear_regions_world(100_000), 3);
    let e = learning(&[])
        .fit(&s.data, 0)
        .expect("scm on a learned graph");
    let d = |key: &str| e.diagnostics[key];
    // Every edge is found; at level 0.01 each of the ~100 absent edges
    // has a small chance to be kept (a chance n does not shrink).
    assert_eq!(d("skeleton_missing"), 0.0, "{:?}", e.diagnostics);
    assert!(d("skeleton_extra") <= 1.0, "{:?}", e.diagnostics);
    let truth = s.data.graph.as_ref().expect("the world's graph");
    let true_edges: usize = (0..truth.len()).map(|v| truth.parents(v).len()).sum();
    assert_eq!(true_edges, 29);
    assert!((e.estimate - truth_of(&s)).abs() < 4.0 * e.se);
    // At n = 2,000 the weaker edges are missed.
    let small = learning(&[])
        .fit(&sample(&linear_regions_world(2000), 3).data, 0)
        .expect("a small sample");
    assert!(small.diagnostics["skeleton_missing"] >= 1.0);
}

fn truth_of(s: &Sample) -> f64 {
    truth(s, Estimand::Ate)
}

#[test]
fn a_learned_graph_costs_little_with_the_time_order_and_much_without() {
    // Anyone knows what came before the investment and what after it; the
    // PC algorithm alone does not, and orients edges into the treatment
    // the wrong way.
    let before: Vec<String> = [
        "gdp",
        "urban",
        "east",
        "ageing",
        "burden",
        "population",
        "beds",
    ]
    .into_iter()
    .map(String::from)
    .chain((1..=10).map(|j| format!("x{j}")))
    .collect();
    let before: Vec<&str> = before.iter().map(String::as_str).collect();
    let ordered = learning(&[&before, &["resource"], &["access"]]);
    let w = world(2000);
    let (bias, coverage, se) = monte_carlo(&w, &ordered, 40);
    assert!(
        bias.abs() < 3.0 * se / 40f64.sqrt() + 0.02,
        "bias {bias} (se {se})"
    );
    assert!((0.85..=1.0).contains(&coverage), "coverage {coverage}");
    let (bias, coverage, _) = monte_carlo(&w, &learning(&[]), 40);
    assert!(
        bias.abs() > 0.05 && coverage < 0.7,
        "without the time order: bias {bias}, coverage {coverage}"
    );
}

#[test]
fn discover_refuses_a_declared_graph_and_bad_settings() {
    let both = Scm {
        graph: Some(GraphSpec {
            edges: vec!["gdp -> resource".into(), "resource -> health".into()],
            latent: vec![],
            treatment: "resource".into(),
            outcome: "health".into(),
        }),
        ..learning(&[])
    };
    let err = both.check().expect_err("both").to_string();
    assert!(err.contains("both `graph` and `discover`"), "{err}");
    let unknown = learning(&[&["gdp"], &["nowhere"]]);
    let err = unknown
        .fit(&sample(&world(300), 1).data, 0)
        .expect_err("an unknown tier variable")
        .to_string();
    assert!(err.contains("`nowhere` is not a column"), "{err}");
}

/// sims/regions_data.toml (30% of gdp and burden missing, a scarce remote
/// stratum) with the missingness `mechanism`.
fn data_world(mechanism: causim::data::missing::Mechanism) -> RegionsWorld {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (_, spec) = causim::spec::load_sim(&root.join("sims/regions_data.toml")).expect("loads");
    let SimSpec::Regions(mut world) = spec else {
        panic!("a regions world");
    };
    world.missingness.mechanism = mechanism;
    world
}

/// Mean error, its Monte Carlo SE and the coverage of OLS through the
/// data strategy `steps` over `reps` samples of `world`.
fn strategy_monte_carlo(
    world: &RegionsWorld,
    steps: &[causim::data::strategy::DataStep],
    reps: u64,
) -> (f64, f64, f64) {
    let sim = world.build().expect("valid world");
    let ols = causim::estimate::linear::Ols::default();
    let mut errors = Vec::new();
    let mut covered = 0usize;
    for rep in 0..reps {
        let s = sim.generate(500 + rep).expect("sample");
        let e = causim::estimate::pool::fit_with_strategy(steps, &s.data, rep, |d| ols.fit(d, rep))
            .expect("fit");
        let target = truth(&s, Estimand::Ate);
        errors.push(e.estimate - target);
        covered += usize::from(e.ci_lower <= target && target <= e.ci_upper);
    }
    let r = reps as f64;
    let bias = errors.iter().sum::<f64>() / r;
    let sd = (errors.iter().map(|e| (e - bias).powi(2)).sum::<f64>() / (r - 1.0)).sqrt();
    (bias, sd / r.sqrt(), covered as f64 / r)
}

#[test]
fn multiple_imputation_keeps_coverage_under_mar_where_complete_cases_are_biased() {
    use causim::data::missing::Mechanism;
    use causim::data::strategy::{DataStep, Mice, NoSettings};
    let world = data_world(Mechanism::Mar);
    let mice = [DataStep::Mice(Mice {
        imputations: 5,
        iterations: 5,
    })];
    let (bias, mcse, coverage) = strategy_monte_carlo(&world, &mice, 200);
    assert!(bias.abs() < 3.0 * mcse + 0.01, "mice: bias {bias} ± {mcse}");
    assert!(
        (0.90..=0.98).contains(&coverage),
        "mice: coverage {coverage}"
    );
    // Values go missing where health is poor: the complete cases are
    // selected on the outcome.
    let cases = [DataStep::CompleteCases(NoSettings {})];
    let (bias, mcse, coverage) = strategy_monte_carlo(&world, &cases, 200);
    assert!(bias < -10.0 * mcse, "complete cases: bias {bias} ± {mcse}");
    assert!(coverage < 0.5, "complete cases: coverage {coverage}");
    // The mean leaves part of gdp's confounding unadjusted.
    let mean = [DataStep::Mean(NoSettings {})];
    let (bias, mcse, _) = strategy_monte_carlo(&world, &mean, 200);
    assert!(bias > 5.0 * mcse, "mean: bias {bias} ± {mcse}");
}

#[test]
fn smote_biases_the_average_toward_the_scarce_stratum_and_says_so() {
    use causim::data::missing::Mechanism;
    use causim::data::strategy::{DataStep, Mice, NoSettings, Smote};
    let mut world = data_world(Mechanism::Mcar);
    world.missingness.columns.clear();
    let smote = [DataStep::Smote(Smote {
        stratum: "remote".into(),
        ..Smote::default()
    })];
    // The investment does 1.5 more in remote regions; oversampled to half
    // of the sample they pull the estimate up.
    let (bias, mcse, coverage) = strategy_monte_carlo(&world, &smote, 60);
    assert!(
        bias > 0.3 && bias > 10.0 * mcse,
        "smote: bias {bias} ± {mcse}"
    );
    assert!(coverage < 0.1, "smote: coverage {coverage}");
    let s = world.build().expect("world").generate(1).expect("sample");
    let ols = causim::estimate::linear::Ols::default();
    let e = causim::estimate::pool::fit_with_strategy(&smote, &s.data, 1, |d| ols.fit(d, 1))
        .expect("fit");
    assert!(e.diagnostics["synthetic_units"] > 1000.0);
    assert!(e
        .warnings
        .iter()
        .any(|w| w.contains("different population")));
    // Without missing values, complete cases change nothing and MICE's
    // imputations agree, so Rubin's rules return the plain fit.
    let plain = ols.fit(&s.data, 1).expect("ols").estimate;
    for steps in [
        vec![DataStep::CompleteCases(NoSettings {})],
        vec![DataStep::Mice(Mice::default())],
    ] {
        let e = causim::estimate::pool::fit_with_strategy(&steps, &s.data, 1, |d| ols.fit(d, 1))
            .expect("fit");
        assert!((e.estimate - plain).abs() < 1e-9);
    }
}

#[test]
fn missing_values_without_a_strategy_are_a_clear_error_in_a_run() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = common::scratch("regions_missing_no_strategy");
    let sim = root.join("sims/regions_data.toml");
    let path = common::write(
        &dir,
        "x.toml",
        &format!(
            "sim = {:?}\nreplications = 2\nseed = 1\n[[estimators]]\nkind = \"ols\"\n\
             [[estimators]]\nname = \"ols_mice\"\nkind = \"ols\"\ndata = {{ kind = \"mice\", imputations = 2 }}\n",
            sim.display().to_string()
        ),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_causim"))
        .args(["run", "--jobs", "1", "--out"])
        .arg(dir.join("out"))
        .arg(&path)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = std::fs::read_to_string(dir.join("out/results.jsonl")).expect("results");
    assert!(
        results.contains("the sample has missing covariate values (`gdp`"),
        "{results}"
    );
    assert!(results.contains("\"imputations\":2.0"), "{results}");
    let bad = common::write(
        &dir,
        "bad.toml",
        &format!(
            "sim = {:?}\nreplications = 2\nseed = 1\n[[estimators]]\nkind = \"ols\"\n\
             data = [{{ kind = \"pca\" }}, {{ kind = \"mice\" }}]\n",
            sim.display().to_string()
        ),
    );
    let m = causim::spec::Experiment::load(&bad)
        .expect_err("imputation after pca")
        .to_string();
    assert!(
        m.contains("`mice` is step 2") && m.contains("bad.toml"),
        "{m}"
    );
}
