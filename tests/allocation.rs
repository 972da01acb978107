//! Allocation policies: the greedy and the dynamic program equal brute force
//! on thousands of random problems, and `kind = "allocate"` entries run on a
//! world with known per-region effects, judged against the oracle and reported.

mod common;

use causim::evaluate::allocation::AllocationSummary;
use causim::policy::allocation::{brute_force, exact, greedy, AllocationProblem};
use causim::spec::Experiment;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A random feasible problem: up to 6 regions, caps up to 3, some floors,
/// gains of both signs, returns in (0, 1].
fn problem(rng: &mut ChaCha8Rng) -> AllocationProblem {
    let n = rng.random_range(1..=6);
    let caps: Vec<usize> = (0..n).map(|_| rng.random_range(0..=3)).collect();
    let floors: Vec<usize> = caps
        .iter()
        .map(|&c| {
            if rng.random_bool(0.2) {
                rng.random_range(0..=c)
            } else {
                0
            }
        })
        .collect();
    let least: usize = floors.iter().sum();
    let returns = if rng.random_bool(0.3) {
        1.0
    } else {
        rng.random_range(0.05..1.0)
    };
    AllocationProblem {
        values: (0..n).map(|_| rng.random_range(-1.0..2.0)).collect(),
        floors,
        caps,
        budget: least + rng.random_range(0..=6),
        returns,
    }
}

#[test]
fn greedy_and_exact_equal_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for case in 0..5000 {
        let p = problem(&mut rng);
        let best = p.gain(&brute_force(&p).expect("brute force"));
        for (solver, units) in [
            ("greedy", greedy(&p).expect("greedy")),
            ("exact", exact(&p).expect("exact")),
        ] {
            assert!(
                p.feasible(&units),
                "case {case}: {solver} infeasible {units:?} for {p:?}"
            );
            let gain = p.gain(&units);
            assert!(
                (gain - best).abs() < 1e-9,
                "case {case}: {solver} gains {gain}, brute force {best}, for {p:?}"
            );
        }
    }
}

#[test]
fn bad_problems_are_clear_errors() {
    let p = AllocationProblem {
        values: vec![1.0, 2.0],
        floors: vec![2, 2],
        caps: vec![2, 2],
        budget: 3,
        returns: 1.0,
    };
    let message = greedy(&p).expect_err("floors exceed budget").to_string();
    assert!(
        message.contains("needs 4 units but the budget is 3"),
        "{message}"
    );
    let q = AllocationProblem {
        floors: vec![3, 0],
        caps: vec![2, 2],
        ..p.clone()
    };
    let message = exact(&q).expect_err("floor above cap").to_string();
    assert!(message.contains("region 1 needs 3 units"), "{message}");
}

const SIM: &str = r#"
kind = "iv"
n = 600
covariates = 3
tau = "1 + 2 * x1"
baseline = "x2"
confounding = 0.0
[instrument]
strength = 0.5
"#;

const EXPERIMENT: &str = r#"
sim = "sim.toml"
replications = 3
seed = 5
[[estimators]]
kind = "causal_forest"
num_trees = 200
[[estimators]]
kind = "difference_in_means"
[[policies]]
kind = "allocate"
oracle = true
budget = 60
eligible = "all"
[[policies]]
kind = "allocate"
estimator = "causal_forest"
budget = 60
eligible = "all"
[[policies]]
kind = "allocate"
estimator = "causal_forest"
name = "forest, exact, robust"
budget = 60
eligible = "all"
solver = "exact"
robust = true
draws = 50
[[policies]]
kind = "allocate"
estimator = "difference_in_means"
budget = 60
eligible = "all"
[[policies]]
kind = "allocate"
estimator = "causal_forest"
name = "forest, floor"
budget = 60
eligible = "all"
cap = 3
returns = 0.5
level = "x3"
step = 0.5
min_level = -0.9
"#;

fn summaries() -> (Vec<Vec<AllocationSummary>>, std::path::PathBuf) {
    let dir = common::scratch("allocation_policies");
    common::write(&dir, "sim.toml", SIM);
    let path = common::write(&dir, "experiment.toml", EXPERIMENT);
    let experiment = Experiment::load(&path).expect("valid experiment");
    let names: Vec<&str> = experiment
        .allocations
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "allocate by oracle",
            "allocate by causal_forest",
            "forest, exact, robust",
            "allocate by difference_in_means",
            "forest, floor"
        ]
    );
    let out = dir.join("out");
    let records = common::run_fresh(&experiment, &out);
    assert_eq!(records.len(), 3);
    let by_rep = records
        .iter()
        .map(|r| common::summaries(causim::stage::allocation::results(r)))
        .collect();
    (by_rep, out)
}

#[test]
fn allocations_are_judged_against_the_oracle_and_reported() {
    let (reps, out) = summaries();
    let mean = |k: usize, f: &dyn Fn(&AllocationSummary) -> f64| {
        reps.iter().map(|s| f(&s[k])).sum::<f64>() / reps.len() as f64
    };
    for s in &reps {
        let [oracle, forest, robust, naive, floor] = &s[..] else {
            panic!("five policies");
        };
        // The oracle is the ceiling under the same constraints, and every
        // policy spends at most its budget.
        assert!(oracle.regret().abs() < 1e-9 && oracle.estimated_gain.is_none());
        for p in [forest, robust, naive] {
            assert!((p.oracle_gain - oracle.true_gain).abs() < 1e-9);
            assert!(p.true_gain <= oracle.true_gain + 1e-9);
            assert!(p.units <= 60);
        }
        // The true effect 1 + 2 x1 (x1 ~ U(-1, 1)) is positive for three
        // regions in four, so the oracle funds 60 of them, all gaining.
        assert_eq!(oracle.units, 60);
        // An average effect cannot target: the naive allocation funds 60
        // regions regardless of their effects, so it gains about 60 times the ATE.
        assert!(naive.true_gain < 0.75 * oracle.true_gain, "{naive:?}");
        // The robust choice is never worse than the point estimate's
        // allocation at its quantile (the point allocation is a candidate).
        assert!(robust.robust_gain.is_some());
        // The floor lifts every region below -0.9 on x3 (one unit of 0.5
        // each) and the rest goes where the forest sees gains.
        assert!(floor.units <= 60 && floor.funded >= 1);
    }
    // The forest's heterogeneous effects target the regions that gain most:
    // it captures most of the oracle's gain, far more than the naive allocation.
    let (oracle, forest, naive) = (
        mean(0, &|s| s.true_gain),
        mean(1, &|s| s.true_gain),
        mean(3, &|s| s.true_gain),
    );
    assert!(forest > 0.8 * oracle, "forest {forest}, oracle {oracle}");
    assert!(forest > naive + 10.0, "forest {forest}, naive {naive}");
    // The report has the section and its CSV.
    causim::report::render(&out).expect("report renders");
    let html = std::fs::read_to_string(out.join("index.html")).expect("html");
    assert!(html.contains("Allocation policies") && html.contains("forest, floor"));
    let csv = std::fs::read_to_string(out.join("allocation.csv")).expect("csv");
    assert!(csv.starts_with("cell,policy,replications,failures,estimated_gain"));
    assert_eq!(csv.lines().count(), 6);
}

#[test]
fn allocation_entries_say_what_to_change() {
    let dir = common::scratch("allocation_errors");
    common::write(&dir, "sim.toml", SIM);
    let cases = [
        (
            "kind = \"allocate\"\nestimator = \"difference_in_means\"",
            "needs `budget`",
        ),
        (
            "kind = \"allocate\"\nestimator = \"difference_in_means\"\nbudget = 5\nreturns = 1.5",
            "`returns` is 1.5",
        ),
        ("kind = \"allocate\"\nbudget = 5", "say which estimator"),
        (
            "kind = \"allocate\"\nestimator = \"dim\"\nbudget = 5",
            "names no estimator of this experiment",
        ),
        (
            "kind = \"allocate\"\noracle = true\nbudget = 5\nrobust = true",
            "takes no `robust`",
        ),
        (
            "kind = \"allocate\"\noracle = true\nbudget = 5\nmin_level = 1",
            "need `level`",
        ),
        (
            "kind = \"allocate\"\noracle = true\nbudget = 5\nbound = \"manski\"",
            "unknown field `bound`",
        ),
        (
            "kind = \"welfare_max\"\nbudget = 5",
            "unknown field `budget`",
        ),
    ];
    for (entry, expected) in cases {
        let text = format!(
            "sim = \"sim.toml\"\n[[estimators]]\nkind = \"difference_in_means\"\n\
             [[estimators]]\nkind = \"ols\"\n[[policies]]\n{entry}\n"
        );
        let path = common::write(&dir, "experiment.toml", &text);
        let message = Experiment::load(&path).expect_err("must fail").to_string();
        assert!(message.contains(expected), "{entry}: {message}");
        assert!(message.contains("experiment.toml:6:"), "{entry}: {message}");
    }
}

/// The shipped regions world with 1,000 districts; naive, scm and a
/// DR-learner feed a population-weighted budget of new units, one of them
/// under a floor of 1.5 beds per 1,000.
const REGIONS: &str = r#"
sim = "SIM"
replications = 4
seed = 17
[sweep]
n = [1000]
[[estimators]]
name = "naive"
kind = "difference_in_means"
[[estimators]]
name = "scm"
kind = "scm"
[[estimators]]
name = "dml"
kind = "dml"
learner = "lasso"
cate = "linear"
[[policies]]
kind = "allocate"
oracle = true
budget = 60
cap = 2
returns = 0.7
weight = "population"
level = "beds"
step = 0.5
[[policies]]
kind = "allocate"
estimator = "naive"
budget = 60
cap = 2
returns = 0.7
weight = "population"
level = "beds"
step = 0.5
[[policies]]
kind = "allocate"
estimator = "scm"
budget = 60
cap = 2
returns = 0.7
weight = "population"
level = "beds"
step = 0.5
[[policies]]
kind = "allocate"
estimator = "dml"
budget = 60
cap = 2
returns = 0.7
weight = "population"
level = "beds"
step = 0.5
[[policies]]
kind = "allocate"
estimator = "scm"
name = "scm, floor"
budget = 60
cap = 2
returns = 0.7
weight = "population"
level = "beds"
step = 0.5
min_level = 1.5
"#;

#[test]
fn on_the_regions_world_targeting_estimators_buy_most_of_the_oracle_gain() {
    let dir = common::scratch("allocation_regions");
    let sim = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sims/regions.toml");
    let text = REGIONS.replace("SIM", &sim.display().to_string().replace('\\', "/"));
    let path = common::write(&dir, "experiment.toml", &text);
    let experiment = Experiment::load(&path).expect("valid experiment");
    let out = dir.join("out");
    let records = common::run_fresh(&experiment, &out);
    assert_eq!(records.len(), 4);
    let mut share = [0.0; 5];
    for record in &records {
        let s: Vec<AllocationSummary> =
            common::summaries(causim::stage::allocation::results(record));
        let [oracle, naive, scm, dml, floor] = &s[..] else {
            panic!("five policies");
        };
        for (k, p) in [oracle, naive, scm, dml, floor].into_iter().enumerate() {
            share[k] += p.true_gain / oracle.true_gain / records.len() as f64;
        }
        // The floor lifts the districts with the fewest beds: per-head beds
        // end more equal than they began.
        let (before, after) = (
            floor.gini_before.expect("gini"),
            floor.gini_after.expect("gini"),
        );
        assert!(after < before, "Gini {before} -> {after}");
        assert!(floor.true_gain <= floor.oracle_gain + 1e-9);
    }
    // The effect is largest where beds are scarce and burden high; the most
    // populous districts, where an average effect sends the units, have more
    // beds and gain little. scm's and the DR-learner's per-district effects
    // find the districts that gain.
    let [_, naive, scm, dml, _] = share;
    assert!(naive < 0.5, "naive buys {naive:.2} of the oracle's gain");
    assert!(scm > 0.85, "scm buys {scm:.2}");
    assert!(dml > 0.85, "dml buys {dml:.2}");
}

/// A feedback experiment on the repository's regions world over periods
/// (sims/regions_feedback.toml: a surge in the high-burden regions from
/// period 5 to 9), at 400 regions and constant returns, with `policies`.
fn feedback_experiment(name: &str, policies: &str, replications: usize) -> Experiment {
    let dir = common::scratch(name);
    let sim = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sims/regions_feedback.toml");
    let text = format!(
        "sim = {:?}\nreplications = {replications}\nseed = 5\n[overrides]\nn = 400\n\
         periods = {{ count = 12, noise = 1.0, returns = 1.0, drift = 0.04, drift_along = \
         \"ageing\", shocks = [{{ regions = \"burden > 0.5\", from = 5, to = 9, effect = 1.5, \
         outcome = -1.0 }}] }}\n{policies}",
        sim.display().to_string()
    );
    let path = common::write(&dir, "experiment.toml", &text);
    Experiment::load(&path).expect("valid experiment")
}

/// One `kind = "feedback"` entry of `rule` funding 40 regions a period.
fn rule(rule: &str, extra: &str) -> String {
    format!("[[policies]]\nkind = \"feedback\"\nrule = \"{rule}\"\nbudget = 40\n{extra}\n")
}

#[test]
fn feedback_rules_are_judged_against_each_periods_oracle() {
    use causim::evaluate::feedback::FeedbackSummary;
    let policies = [
        rule("oracle", "level = \"beds\"\nstep = 0.1"),
        rule("once", ""),
        rule("reestimate", ""),
        rule("thompson", ""),
        rule("ucb", "kappa = 1.0"),
        rule("random", ""),
    ]
    .concat();
    let experiment = feedback_experiment("feedback_rules", &policies, 40);
    let out = common::scratch("feedback_rules").join("out");
    let records = common::run_fresh(&experiment, &out);
    assert_eq!(records.len(), 40);
    let reps: Vec<Vec<FeedbackSummary>> = records
        .iter()
        .map(|r| common::summaries(causim::stage::feedback::results(r)))
        .collect();
    for s in &reps {
        let oracle = &s[0];
        // The oracle's regret is zero in every period, and no rule beats
        // the period's best decision.
        assert!(oracle.regret().iter().all(|r| r.abs() < 1e-9), "{oracle:?}");
        assert_eq!(oracle.recovery, Some(0.0));
        for rule in s {
            assert_eq!(rule.gain.len(), 12);
            assert_eq!(rule.shock, Some((5, 9)));
            assert!(rule.regret().iter().all(|&r| r > -1e-9), "{rule:?}");
        }
        let (before, after) = (oracle.gini_before.expect("gini"), oracle.gini_after);
        assert!(before > 0.0 && after.expect("gini") < before, "{oracle:?}");
    }
    // Mean and Monte Carlo SE of `f` over the replications.
    let mc = |f: &dyn Fn(&[FeedbackSummary]) -> f64| {
        let v: Vec<f64> = reps.iter().map(|s| f(s)).collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
        (m, (var / v.len() as f64).sqrt())
    };
    let during = |s: &FeedbackSummary| s.mean_regret(5, 9).expect("shock periods");
    // Re-estimating beats estimating once after the shock, in expectation:
    // the paired difference of their regret during the shock is positive
    // by more than 3 Monte Carlo SE.
    let (gap, se) = mc(&|s| during(&s[1]) - during(&s[2]));
    assert!(
        gap > 3.0 * se && gap > 0.0,
        "once less reestimate: {gap} ± {se}"
    );
    // Every learning rule beats funding at random by far.
    for k in 1..5 {
        let (gap, se) = mc(&|s| during(&s[5]) - during(&s[k]));
        assert!(gap > 3.0 * se, "random less rule {k}: {gap} ± {se}");
    }
    // Re-estimating recovers sooner than estimating once.
    let (gap, se) = mc(&|s| s[1].recovery.unwrap_or(0.0) - s[2].recovery.unwrap_or(0.0));
    assert!(
        gap > 2.0 * se,
        "recovery of once less reestimate: {gap} ± {se}"
    );
    // The report has the section, both CSVs and the figure.
    causim::report::render(&out).expect("report renders");
    let html = std::fs::read_to_string(out.join("index.html")).expect("html");
    assert!(html.contains("Feedback policies") && html.contains("feedback_figure"));
    common::assert_text_fits(&html);
    let csv = std::fs::read_to_string(out.join("feedback.csv")).expect("csv");
    assert!(csv.starts_with("cell,policy,replications,failures,true_gain"));
    assert_eq!(csv.lines().count(), 7);
    let periods = std::fs::read_to_string(out.join("feedback_periods.csv")).expect("csv");
    assert_eq!(periods.lines().count(), 1 + 6 * 12);
}

#[test]
fn feedback_entries_say_what_to_change() {
    let regions = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sims/regions.toml");
    let error = common::experiment_error(
        "feedback_no_periods",
        &std::fs::read_to_string(regions).expect("sims/regions.toml"),
        &format!("sim = \"sim.toml\"\n{}", rule("reestimate", "")),
    );
    common::assert_has(&error, &["needs a world over periods", "has none"]);
    let cases = [
        (
            "[[policies]]\nkind = \"feedback\"\nbudget = 4",
            "needs `rule`",
        ),
        (
            "[[policies]]\nkind = \"feedback\"\nrule = \"once\"",
            "needs `budget`",
        ),
        (&rule("random", "model = [\"beds\"]"), "takes no `model`"),
        (&rule("once", "window = 2"), "takes no `window`"),
        (&rule("thompson", "kappa = 2"), "belongs to rule = \"ucb\""),
        (&rule("ucb", "kappa = -1"), "`kappa` is -1"),
        (&rule("reestimate", "step = 2"), "`step` needs `level`"),
        (&rule("reestimate", "tolerance = 2"), "`tolerance` is 2"),
        (
            &rule("reestimate", "budget2 = 1"),
            "unknown field `budget2`",
        ),
        (
            &[rule("once", ""), rule("once", "")].concat(),
            "two policies are named `feedback: once`",
        ),
    ];
    let sim = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sims/regions_feedback.toml");
    let sim = std::fs::read_to_string(sim).expect("sims/regions_feedback.toml");
    for (policies, expected) in cases {
        let error = common::experiment_error(
            "feedback_errors",
            &sim,
            &format!("sim = \"sim.toml\"\n{policies}"),
        );
        common::assert_has(&error, &[expected]);
    }
    // The world's [periods] are checked when it is built.
    for (change, expected) in [
        ("to = 9", "to = 13"),
        ("drift_along = \"ageing\"", "drift_along = \"age\""),
        ("regions = \"burden > 0.5\"", "regions = \"burdn > 0.5\""),
    ] {
        let broken = sim.replace(change, expected);
        let error = common::experiment_error(
            "feedback_world_errors",
            &broken,
            &format!("sim = \"sim.toml\"\n{}", rule("once", "")),
        );
        let wanted = match change {
            "to = 9" => "runs from period 5 to 13",
            "drift_along = \"ageing\"" => "is not a covariate of this world",
            _ => "burdn",
        };
        common::assert_has(&error, &[wanted]);
    }
    // A model column the data lacks fails each task with the columns named.
    let experiment = feedback_experiment(
        "feedback_model",
        &rule("reestimate", "model = [\"bed\"]"),
        1,
    );
    let out = common::scratch("feedback_model").join("out");
    let records = common::run_fresh(&experiment, &out);
    let outcome = &causim::stage::feedback::results(&records[0]).expect("results")[0];
    let error = outcome.error.as_deref().expect("an error");
    common::assert_has(
        error,
        &["`model` names `bed`", "the covariates are gdp, urban"],
    );
}
