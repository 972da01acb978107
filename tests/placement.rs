//! `[[policies]]` in an experiment: every rule places every day of a small
//! hospital world, is judged against the truth, and is reported.

mod common;

use causim::evaluate::placement::PolicySummary;
use causim::spec::Experiment;

const SIM: &str = "kind = \"hospital\"\nscale = 0.05\nspillover = 0.0\n\
                   [instrument]\nstrength = 0.5\n[compliance]\ndefiers = 0.0\n";

const EXPERIMENT: &str = r#"
sim = "sim.toml"
replications = 2
seed = 7
[[estimators]]
kind = "instrumental_forest"
num_trees = 200
[[policies]]
kind = "observed"
[[policies]]
kind = "welfare_max"
[[policies]]
kind = "welfare_max"
solver = "greedy"
[[policies]]
kind = "minimax_regret"
bound = "manski"
[[policies]]
kind = "minimax_regret"
bound = "balke_pearl"
reassignment_limit = 0.2
[[policies]]
kind = "oracle"
[[policies]]
kind = "oracle"
reassignment_limit = 0.2
"#;

fn summaries() -> (Vec<Vec<PolicySummary>>, std::path::PathBuf) {
    let dir = common::scratch("placement_policies");
    common::write(&dir, "sim.toml", SIM);
    let path = common::write(&dir, "experiment.toml", EXPERIMENT);
    let experiment = Experiment::load(&path).expect("valid experiment");
    let names: Vec<&str> = experiment
        .policies
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "observed",
            "welfare_max",
            "welfare_max, greedy",
            "minimax_regret manski",
            "minimax_regret balke_pearl, limit 0.2",
            "oracle",
            "oracle, limit 0.2"
        ]
    );
    let out = dir.join("out");
    let records = common::run_fresh(&experiment, &out);
    assert_eq!(records.len(), 2);
    let by_rep = records
        .iter()
        .map(|r| common::summaries(causim::stage::placement::results(r)))
        .collect();
    (by_rep, out)
}

#[test]
fn policies_are_judged_against_the_truth_and_reported() {
    let (reps, out) = summaries();
    for s in &reps {
        let [observed, welfare, greedy, manski, pearl, oracle, oracle_limited] = &s[..] else {
            panic!("seven policies");
        };
        // The observed placement is the baseline.
        assert!(observed.true_gain.abs() < 1e-12 && observed.reassigned == 0.0);
        assert!(observed.estimated_gain.is_none() && observed.regrets.is_empty());
        // The oracle is the ceiling of every rule under its limit.
        assert!((oracle.true_gain - oracle.oracle_gain).abs() < 1e-12);
        assert!((oracle_limited.true_gain - oracle_limited.oracle_gain).abs() < 1e-12);
        assert!(oracle_limited.oracle_gain <= oracle.oracle_gain + 1e-12);
        for p in [welfare, greedy, manski] {
            assert!(p.true_gain <= oracle.true_gain + 1e-12);
            assert!((p.oracle_gain - oracle.true_gain).abs() < 1e-12);
        }
        assert!(pearl.true_gain <= oracle_limited.true_gain + 1e-12);
        // The limit holds on every day, so on the whole sample.
        assert!(pearl.reassigned <= 0.2 + 1e-12);
        assert!(oracle_limited.reassigned <= 0.2 + 1e-12);
        // Exact welfare maximization beats the greedy rule on its own criterion,
        // and nothing estimates more gain than it does.
        let best = welfare.estimated_gain.expect("estimated");
        assert!(greedy.estimated_gain.expect("estimated") <= best + 1e-12);
        assert!(manski.estimated_gain.expect("estimated") <= best + 1e-12);
        assert!(best > 0.0);
        // Minimax regret at Manski's bounds has at most welfare max's regret there.
        assert!(manski.regrets["manski"] <= welfare.regrets["manski"] + 1e-12);
        assert!(manski.regrets["manski"] >= -1e-12);
        assert_eq!(welfare.regrets.len(), 3);
        assert!(oracle.regrets.is_empty() && oracle.estimated_gain.is_none());
        assert_eq!(welfare.unproven, 0.0);
    }
    // The oracle finds gains, and welfare maximization on estimated effects
    // promises more than it delivers (the winner's curse of maximizing over
    // noisy estimates), in every replication.
    for s in &reps {
        assert!(
            s[5].true_gain > 0.002,
            "the oracle gains {}",
            s[5].true_gain
        );
        let (promised, delivered) = (s[1].estimated_gain.expect("estimated"), s[1].true_gain);
        assert!(promised > delivered, "{promised} <= {delivered}");
    }

    let index = causim::report::render(&out).expect("report renders");
    let html = std::fs::read_to_string(index).expect("report");
    assert!(html.contains("Placement policies") && html.contains("minimax_regret manski"));
    assert!(html.contains("Estimated against true deaths prevented"));
    let csv = std::fs::read_to_string(out.join("policies.csv")).expect("policies.csv");
    assert_eq!(csv.lines().count(), 1 + 7);
    assert!(csv.starts_with("cell,policy,replications,failures,estimated_per_1000,"));
}
