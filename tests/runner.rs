//! The runner's promises: results independent of thread count and shard split,
//! a resumed run equal to an uninterrupted one, and guarded reuse of a folder.

mod common;

use std::io::Write;
use std::path::Path;

use causim::record::{load_records, results_path, Record, Shard};
use causim::run::{run, RunOptions};
use causim::spec::Experiment;

fn setup(name: &str) -> (std::path::PathBuf, Experiment) {
    let dir = common::scratch(name);
    common::write(&dir, "sim.toml", common::SMALL_SIM);
    let path = common::write(&dir, "experiment.toml", common::SMALL_EXPERIMENT);
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

fn run_all(exp: &Experiment, opts: &RunOptions) -> Vec<Record> {
    run(exp, opts).expect("run");
    load_records(&opts.out).expect("records")
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let (dir, exp) = setup("runner_threads");
    let one = run_all(&exp, &options(&dir.join("one")));
    let two = run_all(
        &exp,
        &RunOptions {
            jobs: Some(2),
            ..options(&dir.join("two"))
        },
    );
    assert_eq!(one.len(), exp.task_count());
    assert_eq!(one, two);
    // Results are real numbers that vary across replications.
    let est = |r: &Record| {
        causim::stage::estimators::results(r).expect("readable results")[1]
            .estimate
            .as_ref()
            .map(|e| e.estimate)
    };
    assert!(one.iter().all(|r| est(r).is_some_and(f64::is_finite)));
    assert_ne!(est(&one[0]), est(&one[1]));
}

#[test]
fn shards_merge_to_the_unsharded_run() {
    let (dir, exp) = setup("runner_shards");
    let whole = run_all(&exp, &options(&dir.join("whole")));
    let out = dir.join("sharded");
    for index in 0..3 {
        let shard = Some(Shard { index, count: 3 });
        let summary = run(
            &exp,
            &RunOptions {
                shard,
                jobs: Some(2),
                ..options(&out)
            },
        )
        .expect("shard");
        assert_eq!(summary.total, exp.task_count() / 3);
        assert!(results_path(&out, shard).exists());
    }
    assert_eq!(load_records(&out).expect("records"), whole);
}

#[test]
fn common_random_numbers_across_cells() {
    let (dir, exp) = setup("runner_crn");
    let records = run_all(&exp, &options(&dir.join("out")));
    let seed = |cell: usize, rep: usize| {
        records
            .iter()
            .find(|r| r.cell == cell && r.replication == rep)
            .map(|r| r.seed)
    };
    assert_eq!(seed(0, 3), seed(3, 3));
    assert_ne!(seed(0, 3), seed(0, 4));
}

#[test]
fn an_interrupted_run_resumes_to_the_uninterrupted_result() {
    let (dir, exp) = setup("runner_resume");
    let whole = run_all(&exp, &options(&dir.join("whole")));

    let out = dir.join("resumed");
    let first = run(
        &exp,
        &RunOptions {
            max_tasks: Some(7),
            ..options(&out)
        },
    )
    .expect("first part");
    assert_eq!(first.ran, 7);
    // A kill mid-write leaves a partial line at the end of the file.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(results_path(&out, None))
        .expect("results file");
    file.write_all(b"{\"cell\":3,\"replication\":5,\"se")
        .expect("partial line");
    drop(file);
    assert_eq!(load_records(&out).expect("records").len(), 7);

    let second = run(
        &exp,
        &RunOptions {
            jobs: Some(2),
            ..options(&out)
        },
    )
    .expect("resume");
    assert_eq!(second.skipped, 7);
    assert_eq!(second.ran, exp.task_count() - 7);
    assert_eq!(load_records(&out).expect("records"), whole);
    // Nothing is run twice: the file holds each task once.
    let text = std::fs::read_to_string(results_path(&out, None)).expect("results");
    assert_eq!(text.lines().count(), exp.task_count());
}

#[test]
fn a_killed_process_resumes_to_the_uninterrupted_result() {
    let dir = common::scratch("runner_kill");
    common::write(
        &dir,
        "sim.toml",
        &common::SMALL_SIM.replace("n = 300", "n = 20000"),
    );
    let path = common::write(
        &dir,
        "experiment.toml",
        &common::SMALL_EXPERIMENT.replace("replications = 6", "replications = 40"),
    );
    let exp = Experiment::load(&path).expect("valid experiment");
    let whole = run_all(
        &exp,
        &RunOptions {
            jobs: Some(2),
            ..options(&dir.join("whole"))
        },
    );

    let out = dir.join("killed");
    let mut child = common::causim()
        .args(["run", "--quiet", "--jobs", "1", "--no-report", "--out"])
        .arg(&out)
        .arg(&path)
        .spawn()
        .expect("start causim");
    let results = results_path(&out, None);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_to_string(&results).map_or(0, |t| t.lines().count()) < 5
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().expect("kill causim");
    child.wait().expect("reap causim");
    let partial = load_records(&out).expect("records").len();
    assert!(
        partial >= 5,
        "the run recorded {partial} tasks before the kill"
    );

    let status = common::causim()
        .args(["run", "--quiet", "--no-report", "--out"])
        .arg(&out)
        .arg(&path)
        .status()
        .expect("rerun causim");
    assert!(status.success());
    assert_eq!(load_records(&out).expect("records"), whole);
}

#[test]
fn raising_replications_extends_and_a_changed_experiment_is_refused() {
    let (dir, exp) = setup("runner_extend");
    let out = dir.join("out");
    run_all(&exp, &options(&out));
    let more = Experiment {
        replications: 9,
        ..exp.clone()
    };
    let summary = run(&more, &options(&out)).expect("extend");
    assert_eq!(summary.skipped, exp.task_count());
    assert_eq!(
        load_records(&out).expect("records").len(),
        more.task_count()
    );

    let other = Experiment {
        seed: 43,
        ..exp.clone()
    };
    let err = run(&other, &options(&out)).expect_err("different experiment");
    assert!(err.to_string().contains("--fresh"), "{err}");
    assert!(err.to_string().contains("changed: its seed)"), "{err}");
    let mut fewer_estimators = exp.clone();
    fewer_estimators.estimators.pop();
    let err = run(&fewer_estimators, &options(&out)).expect_err("estimators changed");
    assert!(
        err.to_string()
            .contains("changed: the `estimators` settings)"),
        "{err}"
    );
    let summary = run(
        &other,
        &RunOptions {
            fresh: true,
            ..options(&out)
        },
    )
    .expect("fresh");
    assert_eq!(summary.ran, other.task_count());
}

/// Lowering the replications keeps the extra records for a later raise,
/// but the report is over exactly the current tasks.
#[test]
fn lowering_replications_reports_over_the_current_tasks_only() {
    let (dir, exp) = setup("runner_lower");
    let out = dir.join("out");
    run_all(&exp, &options(&out));
    let fewer = Experiment {
        replications: 2,
        ..exp.clone()
    };
    let summary = run(&fewer, &options(&out)).expect("fewer");
    assert_eq!((summary.total, summary.ran), (fewer.task_count(), 0));
    let index = causim::report::render(&out).expect("report");
    let html = std::fs::read_to_string(index).expect("index.html");
    let recorded = format!("{0} of {0} tasks recorded", fewer.task_count());
    assert!(html.contains(&recorded), "{recorded}");
    let diagnosands = std::fs::read_to_string(out.join("diagnosands.csv")).expect("csv");
    let column = |name: &str| {
        let header: Vec<&str> = diagnosands
            .lines()
            .next()
            .unwrap_or("")
            .split(',')
            .collect();
        header.iter().position(|h| *h == name).expect("column")
    };
    let replications = column("replications");
    for row in diagnosands.lines().skip(1) {
        assert_eq!(row.split(',').nth(replications), Some("2"), "{row}");
    }
    let provenance = std::fs::read_to_string(out.join("experiment.json")).expect("manifest");
    assert!(provenance.contains(concat!("\"causim\": \"", env!("CARGO_PKG_VERSION"))));
    assert!(html.contains("Last run by causim"));
}

#[test]
fn each_stage_enters_the_fingerprint() {
    use causim::paper::PaperSpec;
    use causim::run::fingerprint;
    let (_, exp) = setup("fingerprint_paper");
    let print = |e: &Experiment| {
        let stages = causim::stage::build(e).expect("stages");
        fingerprint(e, &stages).expect("fingerprint")
    };
    let plain = print(&exp);
    assert_eq!(plain, print(&exp.clone()), "a fingerprint is stable");
    let paper = |test_share| Experiment {
        paper: Some(PaperSpec {
            test_share,
            ..PaperSpec::default()
        }),
        ..exp.clone()
    };
    let quarter = print(&paper(0.25));
    assert_ne!(quarter, plain);
    assert_ne!(quarter, print(&paper(0.3)));
    let mut fewer = exp.clone();
    fewer.estimators.pop();
    assert_ne!(
        print(&fewer),
        plain,
        "the estimators stage's settings count"
    );
    let more = Experiment {
        replications: exp.replications + 5,
        ..exp.clone()
    };
    assert_eq!(print(&more), plain, "the replication count does not");
}
