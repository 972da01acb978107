//! Specs that validate can run: sizes are bounded, numbers finite, tables
//! written as tables, folders plain names; each error names the file, the
//! line and the key that is wrong, once, and echoes no long value.

mod common;

use causim::spec::{load_sim, Experiment};

const SIM: &str = "kind = \"iv\"\nn = 100\ncovariates = 5\n";
const OLS: &str = "[[estimators]]\nkind = \"ols\"\n";

#[test]
fn replications_near_the_integer_limit_are_refused_at_their_line() {
    let msg = common::experiment_error(
        "guard_reps",
        SIM,
        &format!("sim = \"sim.toml\"\nreplications = {}\n{OLS}", i64::MAX),
    );
    common::assert_has(&msg, &["experiment.toml:2:16", "`replications`", "1000000"]);
}

#[test]
fn a_grid_too_large_is_refused_before_it_is_expanded() {
    let values: Vec<String> = (0..1000).map(|i| format!("{}", 1.0 + i as f64)).collect();
    let axis = format!("[{}]", values.join(", "));
    let msg = common::experiment_error(
        "guard_grid",
        SIM,
        &format!("sim = \"sim.toml\"\n[sweep]\nnoise = {axis}\nconfounding = {axis}\n{OLS}"),
    );
    common::assert_has(&msg, &["experiment.toml:3:9", "1000 x 1000", "100000"]);
    let msg = common::experiment_error(
        "guard_tasks",
        SIM,
        &format!("sim = \"sim.toml\"\nreplications = 100000\n[sweep]\nnoise = {axis}\n{OLS}"),
    );
    common::assert_has(&msg, &["experiment.toml:4:9", "10000000 tasks"]);
}

#[test]
fn non_finite_numbers_are_refused_at_their_key() {
    let msg = common::experiment_error(
        "guard_nan_estimator",
        SIM,
        "sim = \"sim.toml\"\n[[estimators]]\nkind = \"causal_forest\"\nsample_fraction = nan\n",
    );
    common::assert_has(
        &msg,
        &[
            "experiment.toml:4:19",
            "`estimators[1].sample_fraction` is nan",
        ],
    );
    let msg = common::experiment_error(
        "guard_inf_sim",
        "kind = \"iv\"\nn = 100\nnoise = inf\n",
        &format!("sim = \"sim.toml\"\n{OLS}"),
    );
    common::assert_has(&msg, &["sim.toml:3:9", "`noise` is inf", "finite"]);
    let msg = common::experiment_error(
        "guard_nan_paper",
        "kind = \"hospital\"\nscale = 0.05\n",
        "sim = \"sim.toml\"\n[paper.forest]\nimbalance_penalty = -nan\n",
    );
    common::assert_has(
        &msg,
        &["experiment.toml:3:21", "`paper.forest.imbalance_penalty`"],
    );
}

#[test]
fn an_array_is_not_read_as_a_table() {
    let msg = common::experiment_error(
        "guard_shape_sim",
        "kind = \"iv\"\nn = 100\ninstrument = [1, 2]\n",
        &format!("sim = \"sim.toml\"\n{OLS}"),
    );
    common::assert_has(
        &msg,
        &[
            "sim.toml:3:14",
            "`instrument` is a table",
            "strength",
            "found array",
        ],
    );
    let msg = common::experiment_error(
        "guard_shape_paper",
        "kind = \"hospital\"\nscale = 0.05\n",
        "sim = \"sim.toml\"\n[paper]\nforest = [1, 2]\n",
    );
    common::assert_has(&msg, &["experiment.toml:3:10", "`paper.forest` is a table"]);
}

#[test]
fn empty_tables_in_sweep_and_overrides_are_errors() {
    let msg = common::experiment_error(
        "guard_empty_sweep",
        SIM,
        &format!("sim = \"sim.toml\"\n[sweep]\nn = {{}}\n{OLS}"),
    );
    common::assert_has(&msg, &["experiment.toml:3:5", "sweep `n` must be an array"]);
    let msg = common::experiment_error(
        "guard_empty_override",
        SIM,
        &format!("sim = \"sim.toml\"\n[overrides]\nnoise = {{}}\n{OLS}"),
    );
    common::assert_has(&msg, &["experiment.toml:3:9", "override `noise`"]);
}

#[test]
fn a_bad_override_is_blamed_on_the_override_not_the_sweep() {
    let msg = common::experiment_error(
        "guard_override_blame",
        SIM,
        &format!("sim = \"sim.toml\"\n[overrides]\nn = 3\n[sweep]\nnoise = [1, 2]\n{OLS}"),
    );
    common::assert_has(
        &msg,
        &["experiment.toml:3:5", "override `n` = 3", "`n` is 3"],
    );
    assert!(!msg.contains("sweep"), "{msg}");
}

#[test]
fn a_sweep_value_that_fails_alone_is_named_at_its_axis() {
    let msg = common::experiment_error(
        "guard_sweep_blame",
        SIM,
        &format!("sim = \"sim.toml\"\n[sweep]\nnoise = [1, 2]\nn = [100, 5]\n{OLS}"),
    );
    common::assert_has(&msg, &["experiment.toml:4:5", "sweep `n` = 5"]);
}

#[test]
fn a_sim_that_is_an_experiment_says_so() {
    let dir = common::scratch("guard_sim_is_experiment");
    common::write(&dir, "sim.toml", SIM);
    common::write(&dir, "other.toml", &format!("sim = \"sim.toml\"\n{OLS}"));
    let path = common::write(
        &dir,
        "experiment.toml",
        &format!("sim = \"other.toml\"\n{OLS}"),
    );
    let msg = Experiment::load(&path).unwrap_err().to_string();
    common::assert_has(&msg, &["other.toml", "experiment file", "not a sim"]);
}

#[test]
fn experiment_names_are_plain_folder_names() {
    for (name, problem) in [
        ("..", "parent"),
        (".", "parent"),
        ("a/b", "path separator"),
        ("a\\u0000b", "control character"),
        ("", "empty"),
    ] {
        let msg = common::experiment_error(
            "guard_name",
            SIM,
            &format!("name = \"{name}\"\nsim = \"sim.toml\"\n{OLS}"),
        );
        common::assert_has(&msg, &["experiment.toml:1:8", problem]);
    }
    let long = "x".repeat(300);
    let msg = common::experiment_error(
        "guard_name_long",
        SIM,
        &format!("name = \"{long}\"\nsim = \"sim.toml\"\n{OLS}"),
    );
    common::assert_has(&msg, &["too long", "(300 characters)"]);
}

#[test]
fn a_file_that_is_not_utf8_names_line_and_byte() {
    let dir = common::scratch("guard_utf8");
    let path = dir.join("sim.toml");
    std::fs::write(&path, b"kind = \"iv\"\nn = 1\xff00\n").unwrap();
    let msg = load_sim(&path).unwrap_err().to_string();
    common::assert_has(&msg, &["sim.toml:2:6", "byte 18 (0xff)", "UTF-8"]);
}

#[test]
fn a_missing_file_prints_the_os_error_once() {
    let out = common::causim()
        .args(["validate", "no_such_file.toml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}

#[test]
fn huge_numbers_print_short() {
    let msg = common::experiment_error(
        "guard_short_number",
        SIM,
        &format!("sim = \"sim.toml\"\n[sweep]\nn = [1e300]\n{OLS}"),
    );
    assert!(msg.contains("1e300"), "{msg}");
    assert!(msg.len() < 400, "{msg}");
}

#[test]
fn estimator_settings_are_bounded() {
    for (settings, want) in [
        (
            "kind = \"causal_forest\"\nnum_trees = 9223372036854775807",
            "num_trees",
        ),
        (
            "kind = \"causal_forest\"\nnuisance_trees = 0",
            "nuisance_trees",
        ),
        ("kind = \"dml\"\nfolds = 100000", "folds"),
        ("kind = \"dml\"\nrepetitions = 100000", "repetitions"),
        (
            "kind = \"psm\"\nneighbors = 9223372036854775807",
            "neighbors",
        ),
        ("kind = \"entropy_balancing\"\nmoments = 0", "moments"),
        ("kind = \"entropy_balancing\"\nmoments = 3", "moments"),
        ("kind = \"cem\"\nbins = 1", "bins"),
        ("kind = \"cem\"\nbins = 9223372036854775807", "bins"),
    ] {
        let msg = common::experiment_error(
            "guard_estimator_bounds",
            SIM,
            &format!("sim = \"sim.toml\"\n[[estimators]]\n{settings}\n"),
        );
        common::assert_has(&msg, &["experiment.toml:2:1", want]);
    }
}

#[test]
fn validate_lists_a_large_sweep_briefly() {
    let dir = common::scratch("guard_validate_brief");
    common::write(&dir, "sim.toml", SIM);
    let values: Vec<String> = (1..=2000).map(|i| i.to_string()).collect();
    let path = common::write(
        &dir,
        "experiment.toml",
        &format!(
            "sim = \"sim.toml\"\nreplications = 1\n[sweep]\nnoise = [{}]\n{OLS}",
            values.join(", ")
        ),
    );
    let out = common::causim()
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("... and 1950 more cells"), "{text}");
    assert!(text.lines().count() < 60);
}

#[test]
fn a_run_that_needs_more_memory_than_the_machine_has_stops_first() {
    let dir = common::scratch("guard_memory");
    common::write(
        &dir,
        "sim.toml",
        "kind = \"iv\"\nn = 2000000\ncovariates = 90\n",
    );
    let text = format!("replications = 8\nsim = \"sim.toml\"\n{OLS}");
    let path = common::write(&dir, "experiment.toml", &text);
    let experiment = Experiment::load(&path).unwrap();
    let per_task = experiment.bytes_per_task();
    let msg = experiment
        .tasks_in_memory(&path, 4, Some(per_task / 2.0))
        .unwrap_err()
        .to_string();
    common::assert_has(&msg, &["experiment.toml:2:7", "GB of memory", "available"]);
    let fit = experiment.tasks_in_memory(&path, 4, Some(per_task * 2.5));
    assert_eq!(fit.unwrap(), 2, "as many tasks at once as fit");
    let fit = experiment.tasks_in_memory(&path, 4, Some(per_task * 100.0));
    assert_eq!(fit.unwrap(), 4);
}
