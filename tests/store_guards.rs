//! No input spoils a run folder: numbers that are not finite never reach
//! the store.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use causim::paper::PaperSpec;
use causim::record::{find_non_finite, load_records, results_path, Manifest, Record, Writer};
use causim::run::{run, run_task, tasks, RunOptions};
use causim::sim::{Sample, Sim};
use causim::spec::{Experiment, SimSpec};
use causim::stage::estimators;
use causim::stage::PolicyOutcome;

/// One cell, three replications, two estimators: a few milliseconds a run.
const TINY: &str = r#"
sim = "sim.toml"
replications = 3
seed = 7
[[estimators]]
name = "naive"
kind = "difference_in_means"
[[estimators]]
name = "2sls"
kind = "two_stage_least_squares"
"#;

fn setup(name: &str, experiment: &str) -> (PathBuf, Experiment) {
    let dir = common::scratch(name);
    common::write(&dir, "sim.toml", common::SMALL_SIM);
    let path = common::write(&dir, "experiment.toml", experiment);
    (dir, Experiment::load(&path).expect("valid experiment"))
}

fn options(out: &Path) -> RunOptions {
    RunOptions {
        out: out.to_path_buf(),
        jobs: Some(1),
        shard: None,
        fresh: false,
        max_tasks: None,
        progress: false,
    }
}

fn error_of(result: causim::Result<impl std::fmt::Debug>) -> String {
    result.expect_err("an error").to_string()
}

/// A world whose truth breaks: the ATE is infinite, or (with `per_unit`)
/// one unit's conditional effect is NaN.
struct Broken {
    inner: Box<dyn Sim>,
    per_unit: bool,
}

impl Sim for Broken {
    fn generate(&self, seed: u64) -> causim::Result<Sample> {
        let mut sample = self.inner.generate(seed)?;
        if !self.per_unit {
            sample.truth.values.insert("ate".into(), f64::INFINITY);
        }
        Ok(sample)
    }

    fn add_conditional_truth(&self, sample: &mut Sample) -> causim::Result<()> {
        self.inner.add_conditional_truth(sample)?;
        if self.per_unit {
            sample.truth.cate[0] = f64::NAN;
        }
        Ok(())
    }
}

/// Runs every task of `exp` on the broken world into `out`, as the runner
/// would, and returns the records read back.
fn run_broken(exp: &Experiment, out: &Path, per_unit: bool) -> Vec<Record> {
    run(
        exp,
        &RunOptions {
            max_tasks: Some(0),
            ..options(out)
        },
    )
    .expect("the manifest is written");
    let stages = causim::stage::build(exp).expect("stages");
    let sims: Vec<Box<dyn Sim>> = vec![Box::new(Broken {
        inner: exp.cells[0].sim.build().expect("a world"),
        per_unit,
    })];
    let writer = Writer::open(&results_path(out, None)).expect("results file");
    for task in tasks(exp) {
        let record = run_task(&stages, &sims, task, exp.seed).expect("the task runs");
        writer.append(&record).expect("a finite record");
    }
    writer.flush().expect("written");
    load_records(out).expect("the folder reads back")
}

#[test]
fn an_infinite_truth_is_a_failed_fit_and_the_folder_reads_back() {
    let (dir, exp) = setup("guard_truth", TINY);
    let out = dir.join("out");
    let records = run_broken(&exp, &out, false);
    assert_eq!(records.len(), 3);
    for record in &records {
        assert!(!record.truth.contains_key("ate"), "{:?}", record.truth);
        assert!(record.truth["late"].is_finite());
        let results = estimators::results(record).expect("results");
        assert_eq!(
            results[0].error.as_deref(),
            Some("the truth's ATE is not finite (inf)")
        );
        assert!(results[0].estimate.is_none());
        assert!(results[1].estimate.is_some(), "2sls targets the LATE");
    }
    let text = std::fs::read_to_string(results_path(&out, None)).expect("results");
    assert!(!text.contains("null"), "{text}");
    causim::report::render(&out).expect("the report renders");
    let estimates = std::fs::read_to_string(out.join("estimates.csv")).expect("csv");
    assert!(estimates.contains("the truth's ATE is not finite (inf)"));
}

#[test]
fn a_per_unit_stat_that_is_not_finite_is_a_failed_fit() {
    let forest =
        format!("{TINY}[[estimators]]\nname = \"cf\"\nkind = \"causal_forest\"\nnum_trees = 100\n");
    let (dir, exp) = setup("guard_iate", &forest);
    let records = run_broken(&exp, &dir.join("out"), true);
    for record in &records {
        let results = estimators::results(record).expect("results");
        assert_eq!(
            results[2].error.as_deref(),
            Some("the estimate is not finite: `iate.rmse` is nan")
        );
        assert!(results[0].error.is_none() && results[1].error.is_none());
    }
}

#[test]
fn the_store_refuses_a_record_that_is_not_finite() {
    let (dir, exp) = setup("guard_append", TINY);
    let out = dir.join("out");
    run(
        &exp,
        &RunOptions {
            max_tasks: Some(0),
            ..options(&out)
        },
    )
    .expect("the manifest is written");
    let record = Record {
        cell: 0,
        replication: 1,
        seed: 3,
        truth: BTreeMap::from([("ate".to_string(), f64::NAN)]),
        stages: BTreeMap::new(),
    };
    let found = find_non_finite(&record).expect("a NaN");
    assert_eq!(found.path, "truth.ate");
    let writer = Writer::open(&results_path(&out, None)).expect("results file");
    let err = error_of(writer.append(&record));
    assert_eq!(
        err,
        "cell 0 replication 1: `truth.ate` is nan, and a record holds finite numbers only"
    );
    drop(writer);
    assert!(load_records(&out).expect("readable").is_empty());
}

#[test]
fn a_policy_whose_result_is_not_finite_fails_with_its_reason() {
    #[derive(serde::Serialize)]
    struct Summary {
        welfare: f64,
        regret: Option<f64>,
    }
    let nan = PolicyOutcome::new(
        "greedy",
        Ok(Summary {
            welfare: 1.0,
            regret: Some(f64::NAN),
        }),
    );
    assert!(nan.summary.is_none());
    assert_eq!(
        nan.error.as_deref(),
        Some("policy `greedy`: its result is not finite: `regret` is nan")
    );
    let fine = PolicyOutcome::new(
        "greedy",
        Ok(Summary {
            welfare: 1.0,
            regret: None,
        }),
    );
    assert!(fine.summary.is_some() && fine.error.is_none());
}

#[test]
fn a_manifest_holds_finite_numbers_only() {
    let err = error_of(Manifest::new(
        1,
        &BTreeMap::from([("sample_fraction", f64::NAN)]),
    ));
    assert!(
        err.contains("`sample_fraction` is nan") && err.contains("experiment.json"),
        "{err}"
    );

    let (dir, mut exp) = setup("guard_manifest", TINY);
    let SimSpec::Iv(world) = &mut exp.cells[0].sim else {
        panic!("an IV world");
    };
    world.noise = f64::INFINITY;
    let out = dir.join("out");
    let err = error_of(run(&exp, &options(&out)));
    assert!(err.contains("`cells[0].sim.noise` is inf"), "{err}");
    assert!(!out.join("experiment.json").exists(), "nothing is written");

    // A stage's settings enter the fingerprint, where NaN could not be told
    // from any other value.
    let (_, exp) = setup("guard_settings", TINY);
    let exp = Experiment {
        paper: Some(PaperSpec {
            test_share: f64::NAN,
            ..PaperSpec::default()
        }),
        ..exp
    };
    let err = error_of(run(&exp, &options(&out)));
    assert_eq!(
        err,
        "the experiment's `paper` settings hold a number that is not finite (`test_share` is \
         nan); every number of an experiment must be finite"
    );
    assert!(!out.exists(), "nothing is written");
}
