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
fn raising_replications_extends_and_a_changed_experiment_reruns_only_what_changed() {
    let (dir, exp) = setup("runner_extend");
    let out = dir.join("out");
    run_all(&exp, &options(&out));
    let more = Experiment {
        replications: 9,
        ..exp.clone()
    };
    let summary = run(&more, &options(&out)).expect("extend");
    assert_eq!(summary.skipped, exp.task_count());
    assert_eq!((summary.partial, summary.changes.len()), (0, 0));
    assert_eq!(
        load_records(&out).expect("records").len(),
        more.task_count()
    );

    // Another seed draws other samples: everything runs, nothing is lost.
    let other = Experiment {
        seed: 43,
        ..exp.clone()
    };
    let summary = run(&other, &options(&out)).expect("another seed");
    assert_eq!((summary.ran, summary.partial), (other.task_count(), 0));
    assert_eq!(
        summary.changes,
        ["every cell's sample is new (the seed, the sim file or [overrides] changed)"]
    );
    let summary = run(&exp, &options(&out)).expect("back to the first seed");
    assert_eq!((summary.ran, summary.skipped), (0, exp.task_count()));

    // An estimator removed runs nothing; changed, it runs alone.
    let mut fewer = exp.clone();
    fewer.estimators.pop();
    let summary = run(&fewer, &options(&out)).expect("fewer estimators");
    assert_eq!(summary.ran, 0);
    assert_eq!(
        summary.changes,
        ["removed (their results are kept): estimators `2sls`"]
    );
    let mut changed = exp.clone();
    changed.estimators[0] = changed.estimators[1].clone();
    changed.estimators[0].name = "naive".into();
    let summary = run(&changed, &options(&out)).expect("an estimator changed");
    assert_eq!(
        (summary.ran, summary.partial),
        (exp.task_count(), exp.task_count())
    );
    assert_eq!(
        summary.changes,
        [
            "changed (their earlier results are not used): estimators `naive`",
            "new: estimators `2sls`"
        ]
    );
    let fresh = dir.join("fresh");
    assert_eq!(
        load_records(&out).expect("records"),
        run_all(&changed, &options(&fresh))
    );
}

/// A sweep value added runs the new cells only, and the records equal a
/// fresh run's.
#[test]
fn a_sweep_value_added_runs_only_the_new_cells() {
    let (dir, exp) = setup("runner_sweep");
    let text = common::SMALL_EXPERIMENT.replace("[0.3, 0.6]", "[0.6]");
    let narrow = Experiment::load(&common::write(&dir, "narrow.toml", &text)).expect("valid");
    assert_eq!(narrow.cells.len(), 2);
    let out = dir.join("out");
    run_all(&narrow, &options(&out));
    let summary = run(&exp, &options(&out)).expect("wider sweep");
    assert_eq!(
        (summary.skipped, summary.ran, summary.partial),
        (
            narrow.task_count(),
            exp.task_count() - narrow.task_count(),
            0
        )
    );
    assert_eq!(
        summary.changes,
        ["2 of 4 cells are new to the folder (the sim file, [overrides] or [sweep] changed)"]
    );
    assert_eq!(
        load_records(&out).expect("records"),
        run_all(&exp, &options(&dir.join("fresh")))
    );
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
fn each_part_has_its_own_print() {
    use causim::paper::PaperSpec;
    use causim::run::Plan;
    let (_, exp) = setup("prints");
    let layout = |e: &Experiment| {
        let stages = causim::stage::build(e).expect("stages");
        Plan::new(e, &stages).expect("a plan").layout
    };
    let prints = |e: &Experiment| -> Vec<(String, u64)> {
        layout(e)
            .parts()
            .map(|(stage, p)| (format!("{stage} {}", p.name), p.print))
            .collect()
    };
    let plain = layout(&exp);
    assert_eq!(plain, layout(&exp.clone()), "a layout is stable");
    assert_eq!(plain.samples.len(), 4);
    let paper = |test_share| Experiment {
        paper: Some(PaperSpec {
            test_share,
            ..PaperSpec::default()
        }),
        ..exp.clone()
    };
    let quarter = prints(&paper(0.25));
    assert_eq!(
        quarter[..2],
        prints(&exp)[..],
        "the estimators keep their prints"
    );
    assert_eq!(quarter[2].0, "paper pipeline");
    assert_ne!(quarter[2], prints(&paper(0.3))[2]);
    let mut fewer = exp.clone();
    fewer.estimators.pop();
    assert_eq!(prints(&fewer)[..], prints(&exp)[..1]);
    let more = Experiment {
        replications: exp.replications + 5,
        ..exp.clone()
    };
    assert_eq!(
        layout(&more).samples,
        plain.samples,
        "the replication count is in no key"
    );
    assert_eq!(prints(&more), prints(&exp));
}

/// The golden allocation experiment, its sim path made absolute, with each
/// `[[...]]` entry that contains one of `drop` left out.
fn allocation_text(drop: &[&str]) -> String {
    let golden = std::fs::read_to_string(common::golden_spec("allocation")).expect("golden");
    let sims = Path::new(env!("CARGO_MANIFEST_DIR")).join("sims/regions.toml");
    let text = golden.replace("../../sims/regions.toml", &sims.display().to_string());
    let mut entries = text.split("\n[[");
    let mut out = entries.next().unwrap_or_default().to_string();
    for entry in entries.filter(|e| !drop.iter().any(|d| e.contains(d))) {
        out.push_str("\n[[");
        out.push_str(entry);
    }
    out
}

/// Every CSV of a rendered report folder, by name.
fn csvs(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    causim::report::render(dir).expect("the report renders");
    std::fs::read_dir(dir)
        .expect("report folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .map(|p| {
            let name = p
                .file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&p).expect("csv"))
        })
        .collect()
}

/// Estimators and policies added, one estimator changed and replications
/// raised: the run does only what is new, a policy that reads a reused
/// estimator refits it without recording it again, and the report equals
/// a fresh run's byte for byte.
#[test]
fn an_incremental_run_equals_a_fresh_run_byte_for_byte() {
    let dir = common::scratch("runner_incremental");
    let scm_cap3 = "\n[[policies]]\nkind = \"allocate\"\nname = \"scm_cap3\"\nestimator = \
                    \"scm\"\nbudget = 100\ncap = 3\nreturns = 0.7\nweight = \"population\"\n\
                    level = \"beds\"\nstep = 0.5\n";
    let after = allocation_text(&[]) + scm_cap3;
    let before = allocation_text(&["dml"])
        .replace("replications = 6", "replications = 4")
        .replace("estimand = \"ate\"", "estimand = \"att\"");
    let load = |name: &str, text: &str| {
        Experiment::load(&common::write(&dir, name, text)).expect("valid experiment")
    };
    let (before, after) = (load("before.toml", &before), load("after.toml", &after));
    let out = dir.join("incremental");
    run(&before, &options(&out)).expect("the first run");
    let summary = run(&after, &options(&out)).expect("the incremental run");
    assert_eq!(
        (summary.skipped, summary.ran, summary.partial),
        (0, after.task_count(), before.task_count())
    );
    assert_eq!(
        summary.changes,
        [
            "changed (their earlier results are not used): estimators `psm`",
            "new: allocation `dml_robust`, allocation `scm_cap3`, estimators `dml_lasso`"
        ]
    );
    // The reused `scm` fit was run again for `scm_cap3`, not stored again.
    let stored = std::fs::read_to_string(results_path(&out, None)).expect("results");
    let scm = stored.matches("\"part\":\"scm\"").count();
    assert_eq!(scm, after.task_count(), "one `scm` outcome per task");

    let fresh = dir.join("fresh");
    run(&after, &options(&fresh)).expect("the fresh run");
    assert_eq!(
        load_records(&out).expect("records"),
        load_records(&fresh).expect("records")
    );
    let (incremental, fresh) = (csvs(&out), csvs(&fresh));
    assert!(
        incremental.contains_key("diagnosands.csv") && incremental.contains_key("allocation.csv")
    );
    assert_eq!(incremental, fresh);
}
