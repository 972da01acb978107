//! No input spoils a run folder: numbers that are not finite never reach
//! the store, a damaged line is named by file and line, results of another
//! experiment are never used, conflicting ones are refused, and one writer
//! at a time holds a folder (shards side by side).

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use causim::paper::PaperSpec;
use causim::record::{
    find_non_finite, load_records, results_path, Access, FolderLock, Layout, Manifest, Piece,
    Record, Shard, Writer, LOCK,
};
use causim::run::{run, run_task, tasks, Plan, RunOptions};
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
    let plan = Plan::new(exp, &stages).expect("a plan");
    let every = plan.every_part();
    let writer = Writer::open(&results_path(out, None)).expect("results file");
    for task in tasks(exp) {
        let piece = run_task(&stages, &sims, &plan, task, &every, exp.seed).expect("the task runs");
        writer.append(&piece).expect("a finite piece");
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
    let piece = Piece {
        sample: 1,
        replication: 1,
        seed: 3,
        truth: BTreeMap::from([("ate".to_string(), f64::NAN)]),
        outcomes: Vec::new(),
    };
    let found = find_non_finite(&piece).expect("a NaN");
    assert_eq!(found.path, "truth.ate");
    let writer = Writer::open(&results_path(&out, None)).expect("results file");
    let err = error_of(writer.append(&piece));
    assert_eq!(
        err,
        "replication 1: `truth.ate` is nan, and a result holds finite numbers only"
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
        Layout::default(),
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

    // A part's settings enter its print, where NaN could not be told from
    // any other value.
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

/// A finished tiny run in `DIR/out`, and its results file.
fn finished(name: &str) -> (PathBuf, Experiment, PathBuf) {
    let (dir, exp) = setup(name, TINY);
    let out = dir.join("out");
    run(&exp, &options(&out)).expect("runs");
    let results = results_path(&out, None);
    (out, exp, results)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("results")
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn a_damaged_line_is_named_by_file_and_line() {
    let (out, exp, results) = finished("guard_damaged");
    let mut text = lines(&results);
    text[1] = "{\"cell\":0,\"repl".to_string();
    std::fs::write(&results, text.join("\n") + "\n").expect("damage");
    let want = format!("{} line 2 is damaged", results.display());
    let err = error_of(load_records(&out));
    assert!(err.contains(&want) && err.contains("--fresh"), "{err}");
    let err = error_of(run(&exp, &options(&out)));
    assert!(err.contains(&want), "a resume stops too: {err}");
    let report = common::causim()
        .arg("report")
        .arg(&out)
        .output()
        .expect("report");
    assert!(!report.status.success());
    assert!(String::from_utf8_lossy(&report.stderr).contains(&want));
    // --fresh rewrites the folder.
    run(
        &exp,
        &RunOptions {
            fresh: true,
            ..options(&out)
        },
    )
    .expect("fresh");
    assert_eq!(load_records(&out).expect("records").len(), 3);
}

#[test]
fn an_unterminated_last_line_is_an_interrupted_write_and_is_rerun() {
    let (out, exp, results) = finished("guard_unterminated");
    let whole = load_records(&out).expect("records");
    // A kill just before the newline leaves a whole record without it: not
    // counted, cut by the next writer, and its task run again.
    let text = std::fs::read_to_string(&results).expect("results");
    std::fs::write(&results, text.trim_end()).expect("cut");
    assert_eq!(load_records(&out).expect("records").len(), 2);
    let summary = run(&exp, &options(&out)).expect("resume");
    assert_eq!((summary.skipped, summary.ran), (2, 1));
    assert_eq!(load_records(&out).expect("records"), whole);
    assert_eq!(lines(&results).len(), 3);
}

#[test]
fn results_of_another_experiment_are_kept_and_not_used() {
    let (out, exp, results) = finished("guard_foreign");
    let whole = load_records(&out).expect("records");
    // Copied without its manifest into a folder that another experiment uses.
    let other_dir = out.with_file_name("other");
    std::fs::create_dir_all(&other_dir).expect("folder");
    let foreign = results_path(&other_dir, None);
    std::fs::copy(&results, &foreign).expect("copy");
    let other = Experiment {
        seed: 8,
        ..exp.clone()
    };
    let summary = run(&other, &options(&other_dir)).expect("the other experiment runs");
    assert_eq!((summary.skipped, summary.ran), (0, other.task_count()));
    let theirs = load_records(&other_dir).expect("records");
    assert_eq!(theirs.len(), other.task_count());
    assert_ne!(theirs, whole, "no record of the first experiment is used");

    // Beside a folder's own results, as a shard's file.
    let shard = results_path(&out, Some(Shard { index: 0, count: 2 }));
    std::fs::copy(results_path(&other_dir, None), &shard).expect("copy");
    assert_eq!(load_records(&out).expect("records"), whole);
    let summary = run(&exp, &options(&out)).expect("resumes");
    assert_eq!(summary.ran, 0);
}

#[test]
fn records_of_an_older_format_are_refused() {
    let (out, _, results) = finished("guard_old_format");
    let line = r#"{"fingerprint":1,"cell":0,"replication":0,"seed":3,"truth":{},"stages":{}}"#;
    std::fs::write(&results, format!("{line}\n")).expect("old line");
    let err = error_of(load_records(&out));
    assert!(
        err.contains("line 1 was written by an older causim") && err.contains("--fresh"),
        "{err}"
    );

    let manifest = out.join("experiment.json");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(&manifest, text.replace("\"format\": 4", "\"format\": 3")).expect("old");
    let err = error_of(load_records(&out));
    assert!(
        err.contains("record format 3") && err.contains("--fresh"),
        "{err}"
    );
}

#[test]
fn a_result_stored_twice_counts_once_or_is_an_error_when_they_differ() {
    let (out, _, results) = finished("guard_duplicates");
    let whole = load_records(&out).expect("records");
    let first = lines(&results)[0].clone();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&results)
        .expect("results");
    writeln!(file, "{first}").expect("identical duplicate");
    drop(file);
    assert_eq!(load_records(&out).expect("records"), whole);

    // A shard's file sorts before results.jsonl, so it is read first.
    let shard = results_path(&out, Some(Shard { index: 1, count: 2 }));
    let conflict = |edit: &dyn Fn(&mut serde_json::Value), what: &str| {
        let mut changed: serde_json::Value = serde_json::from_str(&first).expect("a piece");
        edit(&mut changed);
        std::fs::write(&shard, format!("{changed}\n")).expect("a conflicting shard");
        let err = error_of(load_records(&out));
        let replication = &changed["replication"];
        assert_eq!(
            err,
            format!(
                "{} line 1 records replication {replication} of a sample again, with {what} \
                 that differs from {} line 1; remove one of the two lines (or the file), or \
                 rerun with --fresh",
                results.display(),
                shard.display()
            )
        );
    };
    conflict(&|v| v["seed"] = serde_json::json!(99), "a seed or truth");
    conflict(
        &|v| v["outcomes"][1]["outcome"]["error"] = serde_json::json!("made up"),
        "an outcome of estimators `2sls`",
    );
}

#[test]
fn one_writer_holds_a_folder_and_shards_share_it() {
    let (dir, exp) = setup("guard_lock", TINY);
    let out = dir.join("out");
    run(&exp, &options(&out)).expect("runs");
    let pid = std::process::id();
    let shown = out.display();

    let held = FolderLock::acquire(&out, Access::Run).expect("the folder is free");
    let err = error_of(run(&exp, &options(&out)));
    assert_eq!(
        err,
        format!(
            "another causim run is writing {shown} (pid {pid}); wait for it or choose another --out"
        )
    );
    let err = error_of(FolderLock::acquire(&out, Access::Report));
    assert!(err.contains("render the report again"), "{err}");
    drop(held);

    let zero = Shard { index: 0, count: 2 };
    let one = Shard { index: 1, count: 2 };
    let first = FolderLock::acquire(&out, Access::Shard(zero)).expect("shard 0");
    let second = FolderLock::acquire(&out, Access::Shard(one)).expect("shards run together");
    let err = error_of(FolderLock::acquire(&out, Access::Shard(zero)));
    assert_eq!(
        err,
        format!(
            "another causim run --shard 0/2 is writing shard 0/2 of {shown} (pid {pid}); wait \
             for it or choose another --out"
        )
    );
    let err = error_of(FolderLock::acquire(&out, Access::Run));
    assert_eq!(
        err,
        format!(
            "shards of a causim run are writing {shown} (pid {pid}); wait for them or choose \
             another --out"
        )
    );
    drop((first, second));
    FolderLock::acquire(&out, Access::Run).expect("released");
}

#[test]
fn shards_run_at_the_same_time_into_one_folder() {
    let (dir, exp) = setup("guard_shards", TINY);
    let whole = common::run_fresh(&exp, &dir.join("whole"));
    let out = dir.join("sharded");
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..3)
            .map(|index| {
                let (exp, out) = (&exp, &out);
                scope.spawn(move || {
                    run(
                        exp,
                        &RunOptions {
                            shard: Some(Shard { index, count: 3 }),
                            ..options(out)
                        },
                    )
                })
            })
            .collect();
        for handle in runs {
            handle.join().expect("no panic").expect("each shard runs");
        }
    });
    assert_eq!(load_records(&out).expect("records"), whole);
}

#[test]
fn a_killed_run_releases_its_folder() {
    let dir = common::scratch("guard_kill");
    common::write(
        &dir,
        "sim.toml",
        &common::SMALL_SIM.replace("n = 300", "n = 20000"),
    );
    let path = common::write(
        &dir,
        "experiment.toml",
        &TINY.replace("replications = 3", "replications = 1000"),
    );
    let exp = Experiment::load(&path).expect("valid experiment");
    let out = dir.join("out");
    let mut child = common::causim()
        .args(["run", "--quiet", "--jobs", "1", "--no-report", "--out"])
        .arg(&out)
        .arg(&path)
        .spawn()
        .expect("start causim");
    let stamp = format!("{} run", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_to_string(out.join(LOCK)).map_or(true, |t| t.trim() != stamp)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let err = error_of(run(&exp, &options(&out)));
    assert!(
        err.contains(&format!("another causim run is writing {}", out.display()))
            && err.contains(&format!("(pid {})", child.id())),
        "{err}"
    );
    child.kill().expect("kill -9 causim");
    child.wait().expect("reap causim");
    FolderLock::acquire(&out, Access::Run).expect("the kernel released the lock");
}
