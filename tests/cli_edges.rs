//! The command line's rough edges: truth columns kept out of the default
//! covariates, text `--group` columns and their limit, kind aliases in
//! experiments, errors that name the flag, counts printed as counts, the
//! binary-outcome warning, overrides that are also swept, and the progress
//! bar's rate and last line.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use causim::spec::{Experiment, KIND_ALIASES};

/// Runs `causim ARGS...`.
fn causim(args: &[&str]) -> Output {
    common::causim().args(args).output().expect("causim runs")
}

/// Stdout and stderr of a command that must succeed.
fn ok(output: Output) -> (String, String) {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "command failed: {stderr}");
    (String::from_utf8_lossy(&output.stdout).into_owned(), stderr)
}

/// Stderr of a command that must fail without a panic or a result.
fn fails(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "expected failure, got: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.stdout.is_empty(), "printed a result: {stderr}");
    stderr
}

/// A sample of the small IV sim with `n` units, written by `causim simulate`.
fn simulated(name: &str, n: usize) -> PathBuf {
    let dir = common::scratch(name);
    let sim = common::write(&dir, "sim.toml", common::SMALL_SIM);
    let csv = dir.join("data.csv");
    ok(common::causim()
        .arg("simulate")
        .arg(&sim)
        .args(["--set", &format!("n={n}"), "--out"])
        .arg(&csv)
        .output()
        .expect("simulate"));
    csv
}

/// `causim fit --data CSV ARGS...`.
fn fit(csv: &Path, args: &[&str]) -> Output {
    common::causim()
        .arg("fit")
        .arg("--data")
        .arg(csv)
        .args(args)
        .output()
        .expect("fit runs")
}

#[test]
fn truth_columns_are_never_default_covariates() {
    let csv = simulated("edges_truth", 500);
    let (stdout, stderr) = ok(fit(
        &csv,
        &["--y", "y", "--w", "w", "--z", "z", "--estimator", "2sls"],
    ));
    assert!(
        stdout.starts_with("two_stage_least_squares  (n = 500, 3 covariates)\n"),
        "{stdout}"
    );
    assert_eq!(
        stderr,
        "note: left out of the covariates, as truth columns of causim simulate: tau, cate, \
         clate, complier_type; name one in --x to use it\n"
    );

    let (stdout, stderr) = ok(fit(
        &csv,
        &[
            "--y",
            "y",
            "--w",
            "w",
            "--z",
            "z",
            "--x",
            "x2,tau",
            "--estimator",
            "2sls",
        ],
    ));
    assert!(stdout.contains("(n = 500, 2 covariates)"), "{stdout}");
    assert_eq!(
        stderr,
        "warning: --x: `tau` is one of the truth columns causim simulate writes (tau, cate, \
         clate, complier_type); as a covariate it hands the model the answer\n"
    );
}

#[test]
fn counts_print_as_integers_and_nouns_agree_with_them() {
    let csv = simulated("edges_counts", 500);
    let (stdout, stderr) = ok(fit(
        &csv,
        &[
            "--y",
            "y",
            "--w",
            "w",
            "--z",
            "z",
            "--x",
            "x1",
            "--estimator",
            "2sls",
        ],
    ));
    assert!(stderr.is_empty(), "{stderr}");
    assert!(
        stdout.starts_with("two_stage_least_squares  (n = 500, 1 covariate)\n"),
        "{stdout}"
    );
    let n_line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("n "))
        .expect("an n diagnostic");
    assert_eq!(n_line.split_whitespace().collect::<Vec<_>>(), ["n", "500"]);
    let coef = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("first_stage_coef"))
        .expect("a first-stage coefficient");
    let value = coef.split_whitespace().nth(1).expect("a value");
    assert_eq!(value.split('.').nth(1).map(str::len), Some(6), "{coef}");

    assert_eq!(causim::core::text::plural(1, "task"), "1 task");
    assert_eq!(causim::core::text::plural(0, "task"), "0 tasks");
    assert_eq!(causim::core::text::plural(2, "cell"), "2 cells");

    let dir = common::scratch("edges_counts_validate");
    common::write(&dir, "sim.toml", common::SMALL_SIM);
    let experiment = common::write(
        &dir,
        "experiment.toml",
        "sim = \"sim.toml\"\nreplications = 1\n[[estimators]]\nkind = \"ols\"\n",
    );
    let (stdout, _) = ok(common::causim()
        .arg("validate")
        .arg(&experiment)
        .output()
        .expect("validate"));
    assert!(
        stdout.contains("  1 cell x 1 replication = 1 task\n"),
        "{stdout}"
    );

    let values: Vec<String> = (1..=51).map(|i| i.to_string()).collect();
    let experiment = common::write(
        &dir,
        "sweep.toml",
        &format!(
            "sim = \"sim.toml\"\nreplications = 1\n[sweep]\nnoise = [{}]\n\
             [[estimators]]\nkind = \"ols\"\n",
            values.join(", ")
        ),
    );
    let (stdout, _) = ok(common::causim()
        .arg("validate")
        .arg(&experiment)
        .output()
        .expect("validate"));
    assert!(stdout.contains("\n  ... and 1 more cell\n"), "{stdout}");
}

#[test]
fn group_takes_text_columns_and_refuses_too_many_values() {
    let csv = simulated("edges_group", 800);
    let args = [
        "--y",
        "y",
        "--w",
        "w",
        "--z",
        "z",
        "--x",
        "x1,x2,x3",
        "--estimator",
        "instrumental-forest",
        "--param",
        "num_trees=50",
        "--group",
        "complier_type",
    ];
    let (stdout, _) = ok(fit(&csv, &args));
    let table: Vec<&str> = stdout
        .split("\nby complier_type\n")
        .nth(1)
        .expect("a group table")
        .lines()
        .collect();
    assert_eq!(
        table[0].split_whitespace().collect::<Vec<_>>(),
        ["value", "estimate", "se", "n"]
    );
    let labels: Vec<&str> = table[1..]
        .iter()
        .map(|l| l.split_whitespace().next().expect("a label"))
        .collect();
    let mut sorted = labels.clone();
    sorted.sort_unstable();
    assert_eq!(labels, sorted);
    assert!(labels.contains(&"complier") && labels.contains(&"never_taker"));
    let total: usize = table[1..]
        .iter()
        .map(|l| {
            l.split_whitespace()
                .nth(3)
                .expect("n")
                .parse::<usize>()
                .expect("a count")
        })
        .sum();
    assert_eq!(total, 800);

    let json: serde_json::Value =
        serde_json::from_slice(&fit(&csv, &[&args[..], &["--json"]].concat()).stdout)
            .expect("one JSON object");
    let groups = json["groups"].as_array().expect("groups");
    assert_eq!(groups[0]["group"], labels[0]);
    assert_eq!(
        groups
            .iter()
            .map(|g| g["n"].as_u64().expect("n"))
            .sum::<u64>(),
        800
    );

    let mut too_many = args;
    too_many[13] = "x1";
    let stderr = fails(fit(&csv, &too_many));
    assert_eq!(
        stderr,
        "error: --group x1: column `x1` has 800 distinct values, more than the 50 groups \
         --group reports; group by a column with few values (a diagnosis, a region), or bin \
         this one into at most 50 bands first\n"
    );
    let (help, _) = ok(causim(&["fit", "--help"]));
    assert!(help.contains("with at most 50 distinct values"), "{help}");
}

#[test]
fn the_readme_group_by_diagnosis_example_runs_on_the_hospital_world() {
    let dir = common::scratch("edges_group_hospital");
    let csv = dir.join("cohort.csv");
    ok(common::causim()
        .args([
            "simulate",
            "sims/swiss_ncu.toml",
            "--set",
            "scale=0.05",
            "--out",
        ])
        .arg(&csv)
        .output()
        .expect("simulate"));
    let (stdout, _) = ok(fit(
        &csv,
        &[
            "--y",
            "y",
            "--w",
            "w",
            "--z",
            "z",
            "--estimator",
            "instrumental-forest",
            "--param",
            "num_trees=50",
            "--cluster",
            "hospital,date",
            "--group",
            "diagnosis",
        ],
    ));
    let groups: Vec<&str> = stdout
        .split("\nby diagnosis\n")
        .nth(1)
        .expect("a group table")
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().expect("a label"))
        .collect();
    assert_eq!(
        groups,
        ["C1", "C2", "C3", "C4", "C7", "I2", "I3", "I6", "I7"]
    );
}

#[test]
fn kind_aliases_and_hyphens_work_in_experiments_and_fit() {
    let dir = common::scratch("edges_aliases");
    common::write(&dir, "sim.toml", common::SMALL_SIM);
    let mut text = String::from("sim = \"sim.toml\"\nreplications = 2\n");
    for (i, (alias, _)) in KIND_ALIASES.iter().enumerate() {
        text.push_str(&format!(
            "[[estimators]]\nname = \"e{i}\"\nkind = \"{alias}\"\n"
        ));
    }
    text.push_str("[[estimators]]\nkind = \"two-stage-least-squares\"\nse = \"hc3\"\n");
    let path = common::write(&dir, "experiment.toml", &text);
    let experiment = Experiment::load(&path).expect("aliases load");
    let kinds: Vec<&str> = experiment
        .estimators
        .iter()
        .map(|e| e.spec.kind())
        .collect();
    let mut expected: Vec<&str> = KIND_ALIASES.iter().map(|(_, kind)| *kind).collect();
    expected.push("two_stage_least_squares");
    assert_eq!(kinds, expected);
    assert_eq!(
        experiment.estimators.last().map(|e| e.name.as_str()),
        Some("two_stage_least_squares")
    );

    let (help, _) = ok(causim(&["fit", "--help"]));
    for (alias, _) in KIND_ALIASES {
        assert!(help.contains(alias), "fit --help does not name `{alias}`");
    }
    let csv = simulated("edges_aliases_fit", 300);
    let (stdout, _) = ok(fit(
        &csv,
        &[
            "--y",
            "y",
            "--w",
            "w",
            "--z",
            "z",
            "--x",
            "x1",
            "--estimator",
            "tsls",
            "--json",
        ],
    ));
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(json["estimator"], "two_stage_least_squares");
}

#[test]
fn errors_name_the_flag_that_is_wrong() {
    let csv = simulated("edges_flags", 100);
    let base = ["--y", "y", "--w", "w", "--z", "z", "--x", "x1"];
    let error = |extra: &[&str]| fails(fit(&csv, &[&base[..], extra].concat()));
    assert_eq!(
        error(&["--estimator", "2sls", "--param", "se=hc9"]),
        "error: --param se=hc9: unknown variant `hc9`, expected one of `classical`, `hc0`, \
         `hc1`, `hc2`, `hc3`\n"
    );
    assert_eq!(
        error(&[
            "--estimator",
            "ols",
            "--param",
            "se=hc1",
            "--param",
            "robust=true"
        ]),
        "error: --param robust=true: unknown field `robust`, expected `se` or `covariates`\n"
    );
    assert_eq!(
        error(&["--estimator", "ols", "--param", "se"]),
        "error: --param: `se` must look like KEY=VALUE, e.g. n=500\n"
    );
    assert_eq!(
        error(&["--estimator", "ols", "--param", "kind=psm"]),
        "error: --param kind=psm: the estimator's kind is set by --estimator\n"
    );
    let unknown = error(&["--estimator", "2slsx", "--param", "se=hc1"]);
    assert!(
        unknown.starts_with(
            "error: --estimator: unknown variant `2slsx`, expected one of `difference_in_means`"
        ),
        "{unknown}"
    );
    let combination = error(&[
        "--estimator",
        "causal_forest",
        "--param",
        "sample_fraction=0.9",
    ]);
    assert!(
        combination.starts_with("error: --param: ") && combination.contains("sample_fraction"),
        "{combination}"
    );
}

/// A CSV whose Wald estimate is exactly 2: with `z = 0`, P(w) = P(y = 1) =
/// 1/4; with `z = 1`, P(w) = 1/2 and P(y = 1) = 3/4. `scale` multiplies y.
fn wald_of_two(scale: f64) -> String {
    let mut text = String::from("y,w,z\n");
    let rows = [
        (0, [1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0]),
        (1, [1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 0, 0]),
    ];
    for (z, w, y) in rows {
        for (w, y) in w.iter().zip(y) {
            text.push_str(&format!("{},{w},{z}\n", f64::from(y) * scale));
        }
    }
    text
}

#[test]
fn an_effect_on_a_binary_outcome_outside_minus_one_to_one_is_a_warning() {
    let dir = common::scratch("edges_binary");
    let binary = common::write(&dir, "binary.csv", &wald_of_two(1.0));
    let args = [
        "--y",
        "y",
        "--w",
        "w",
        "--z",
        "z",
        "--x",
        "",
        "--estimator",
        "2sls",
    ];
    let (stdout, stderr) = ok(fit(&binary, &args));
    assert!(stdout.contains("LATE"), "{stdout}");
    assert!(
        stderr.starts_with(
            "warning: the estimate 2.00 lies outside [-1, 1]: impossible for an effect on a \
             binary outcome's probability (SE "
        ),
        "{stderr}"
    );
    let (stdout, _) = ok(fit(&binary, &[&args[..], &["--json"]].concat()));
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert!((json["estimate"].as_f64().expect("estimate") - 2.0).abs() < 1e-12);
    let warnings = json["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0]
        .as_str()
        .is_some_and(|w| w.starts_with("the estimate 2.00 lies outside [-1, 1]")));

    let scaled = common::write(&dir, "scaled.csv", &wald_of_two(2.0));
    let (_, stderr) = ok(fit(&scaled, &args));
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn an_override_that_is_also_swept_is_an_error() {
    let sim = "kind = \"iv\"\nn = 100\ncovariates = 5\n";
    let ols = "[[estimators]]\nkind = \"ols\"\n";
    let msg = common::experiment_error(
        "edges_override_swept",
        sim,
        &format!("sim = \"sim.toml\"\n[overrides]\nnoise = 1\n[sweep]\nnoise = [1, 2]\n{ols}"),
    );
    assert!(
        msg.ends_with(
            "experiment.toml:5:9: `noise` is both set in [overrides] (line 3) and swept in \
             [sweep]; the sweep would replace the override in every cell, so remove one of them"
        ),
        "{msg}"
    );
    let msg = common::experiment_error(
        "edges_override_nested",
        sim,
        &format!(
            "sim = \"sim.toml\"\n[overrides]\ninstrument = {{ strength = 0.3 }}\n[sweep]\n\
             \"instrument.strength\" = [0.1, 0.5]\n{ols}"
        ),
    );
    common::assert_has(
        &msg,
        &[
            "experiment.toml:5:25",
            "`instrument.strength` is both set in [overrides] (line 3)",
            "remove one of them",
        ],
    );
}

#[test]
fn the_progress_rate_is_rounded() {
    use causim::run::rate;
    assert_eq!(rate(3149.7392), "3,150/s");
    assert_eq!(rate(1_234_567.4), "1,234,567/s");
    assert_eq!(rate(100.0), "100/s");
    assert_eq!(rate(63.16), "63.2/s");
    assert_eq!(rate(0.4166), "0.417/s");
    assert_eq!(rate(f64::NAN), "-/s");
}

/// Under a terminal (`script` gives the run one), the finished progress bar
/// ends its line before the run's summary and shows no long decimals.
#[cfg(target_os = "linux")]
#[test]
fn the_finished_progress_bar_ends_its_line() {
    if !Path::new("/usr/bin/script").exists() {
        eprintln!("skipped: no /usr/bin/script to give the run a terminal");
        return;
    }
    let dir = common::scratch("edges_progress");
    common::write(&dir, "sim.toml", common::SMALL_SIM);
    let experiment = common::write(&dir, "experiment.toml", common::SMALL_EXPERIMENT);
    let command = format!(
        "{} run {} --out {} --fresh --no-report",
        env!("CARGO_BIN_EXE_causim"),
        experiment.display(),
        dir.join("out").display()
    );
    let output = std::process::Command::new("/usr/bin/script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .output()
        .expect("script runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    let at = text
        .find("experiment: 24 tasks, 0 already recorded, 24 run now")
        .unwrap_or_else(|| panic!("no summary in {text:?}"));
    assert!(text[..at].ends_with('\n'), "{text:?}");
    assert!(text[..at].contains("24/24 tasks ("), "{text:?}");
    let rates: Vec<&str> = text[..at]
        .split(" tasks (")
        .skip(1)
        .filter_map(|s| s.split(", ETA").next())
        .collect();
    assert!(!rates.is_empty(), "{text:?}");
    for shown in rates.into_iter().filter(|r| *r != "-/s") {
        let number = shown.trim_end_matches("/s").replace(',', "");
        let decimals = number.split('.').nth(1).map_or(0, str::len);
        assert!(decimals <= 3 && number.parse::<f64>().is_ok(), "{shown}");
    }
}
