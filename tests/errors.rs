//! Bad input gives one clear error naming the file, place and what to change.

mod common;

use causim::spec::Experiment;

const EXPERIMENT: &str = "sim = \"sim.toml\"\n[[estimators]]\nkind = \"ols\"\n";

#[test]
fn unknown_sim_key_names_file_line_and_valid_keys() {
    let msg = common::experiment_error(
        "err_sim_key",
        "kind = \"iv\"\nn = 100\nstrenght = 0.3\n",
        EXPERIMENT,
    );
    common::assert_has(
        &msg,
        &["sim.toml:3:1", "unknown field `strenght`", "covariates"],
    );
}

#[test]
fn wrong_type_names_line() {
    let msg = common::experiment_error("err_type", "kind = \"iv\"\nn = \"many\"\n", EXPERIMENT);
    common::assert_has(&msg, &["sim.toml:2:5", "invalid type"]);
}

#[test]
fn unknown_sim_kind_lists_kinds() {
    let msg = common::experiment_error("err_kind", "kind = \"ivv\"\n", EXPERIMENT);
    common::assert_has(
        &msg,
        &["sim.toml:1:8", "unknown sim kind `ivv`", "kinds: iv"],
    );
}

#[test]
fn unknown_estimator_kind_and_parameter() {
    let msg = common::experiment_error(
        "err_est_kind",
        "kind = \"iv\"",
        "sim = \"sim.toml\"\n\n[[estimators]]\nkind = \"twosls\"\n",
    );
    common::assert_has(
        &msg,
        &[
            "experiment.toml:3:1",
            "unknown variant `twosls`",
            "two_stage_least_squares",
        ],
    );
    let msg = common::experiment_error(
        "err_est_param",
        "kind = \"iv\"",
        "sim = \"sim.toml\"\n[[estimators]]\nkind = \"ols\"\nrobust = true\n",
    );
    common::assert_has(
        &msg,
        &[
            "experiment.toml:2:1",
            "unknown field `robust`",
            "se",
            "covariates",
        ],
    );
    let msg = common::experiment_error(
        "err_est_value",
        "kind = \"iv\"",
        "sim = \"sim.toml\"\n[[estimators]]\nkind = \"ols\"\nse = \"hc9\"\n",
    );
    common::assert_has(&msg, &["unknown variant `hc9`", "hc3"]);
}

#[test]
fn settings_an_estimator_can_judge_fail_at_load() {
    let msg = common::experiment_error(
        "err_dml_cate",
        "kind = \"iv\"",
        "sim = \"sim.toml\"\n[[estimators]]\nkind = \"dml\"\nmodel = \"plr\"\ncate = \"linear\"\n",
    );
    common::assert_has(
        &msg,
        &[
            "experiment.toml:2:1",
            "cate = \"linear\" needs model = \"irm\"",
        ],
    );
    let msg = common::experiment_error(
        "err_psm_neighbors",
        "kind = \"iv\"",
        "sim = \"sim.toml\"\n[[estimators]]\nkind = \"psm\"\nneighbors = 0\n",
    );
    common::assert_has(
        &msg,
        &[
            "experiment.toml:2:1",
            "psm: neighbors is 0; it must lie between 1 and",
        ],
    );
}

#[test]
fn unknown_experiment_key() {
    let msg = common::experiment_error(
        "err_exp_key",
        "kind = \"iv\"",
        &format!("replicatons = 5\n{EXPERIMENT}"),
    );
    common::assert_has(
        &msg,
        &[
            "experiment.toml:1:1",
            "unknown field `replicatons`",
            "replications",
        ],
    );
}

#[test]
fn sweep_key_naming_no_parameter_lists_valid_keys() {
    let msg = common::experiment_error(
        "err_sweep_key",
        "kind = \"iv\"",
        &format!("{EXPERIMENT}[sweep]\n\"instrument.strenght\" = [0.1, 0.2]\n"),
    );
    common::assert_has(
        &msg,
        &[
            "experiment.toml:5:",
            "instrument.strenght",
            "names no parameter",
            "instrument.strength",
        ],
    );
}

#[test]
fn empty_and_scalar_sweeps_are_errors() {
    let msg = common::experiment_error(
        "err_sweep_empty",
        "kind = \"iv\"",
        &format!("{EXPERIMENT}[sweep]\nn = []\n"),
    );
    common::assert_has(&msg, &["experiment.toml:5:", "sweep `n` has no values"]);
    let msg = common::experiment_error(
        "err_sweep_scalar",
        "kind = \"iv\"",
        &format!("{EXPERIMENT}[sweep]\nn = 100\n"),
    );
    common::assert_has(&msg, &["sweep `n` must be an array"]);
}

#[test]
fn sweep_values_are_type_and_range_checked() {
    let msg = common::experiment_error(
        "err_sweep_type",
        "kind = \"iv\"",
        &format!("{EXPERIMENT}[sweep]\nn = [100, \"big\"]\n"),
    );
    common::assert_has(
        &msg,
        &["experiment.toml:5:", "sweep `n` = big", "invalid type"],
    );
    let msg = common::experiment_error(
        "err_sweep_range",
        "kind = \"iv\"",
        &format!("{EXPERIMENT}[sweep]\ninstrument.strength = [0.5, 1.5]\n"),
    );
    common::assert_has(&msg, &["instrument.strength` = 1.5", "[0, 1]"]);
}

#[test]
fn formula_errors_point_at_the_formula() {
    let msg = common::experiment_error(
        "err_formula",
        "kind = \"iv\"\ncovariates = 3\ntau = \"max(x1, 0) + x7\"\n",
        EXPERIMENT,
    );
    common::assert_has(
        &msg,
        &[
            "sim.toml",
            "`tau`",
            "column 14",
            "unknown variable `x7`",
            "x3",
        ],
    );
    let msg = common::experiment_error(
        "err_formula_u",
        "kind = \"iv\"\n[instrument]\npropensity = \"0.5 + 0.1 * u\"\n",
        EXPERIMENT,
    );
    common::assert_has(
        &msg,
        &["instrument.propensity", "independent of the unobserved"],
    );
}

#[test]
fn missing_sim_file_and_missing_estimators() {
    let dir = common::scratch("err_missing");
    let path = common::write(
        &dir,
        "experiment.toml",
        "sim = \"nowhere.toml\"\n[[estimators]]\nkind = \"ols\"\n",
    );
    let msg = Experiment::load(&path)
        .expect_err("missing sim")
        .to_string();
    common::assert_has(
        &msg,
        &["experiment.toml:1:7", "cannot read sim", "nowhere.toml"],
    );
    let msg =
        common::experiment_error("err_no_estimators", "kind = \"iv\"", "sim = \"sim.toml\"\n");
    common::assert_has(&msg, &["no `[[estimators]]`"]);
    let msg = common::experiment_error(
        "err_dup_names",
        "kind = \"iv\"",
        "sim = \"sim.toml\"\n[[estimators]]\nkind = \"ols\"\n[[estimators]]\nkind = \"ols\"\n",
    );
    common::assert_has(&msg, &["two estimators are named `ols`"]);
}

fn fit_error(name: &str, csv: &str, args: &[&str]) -> String {
    let dir = common::scratch(name);
    let data = common::write(&dir, "data.csv", csv);
    let output = common::causim()
        .arg("fit")
        .arg("--data")
        .arg(&data)
        .args(args)
        .output()
        .expect("run causim");
    assert!(!output.status.success(), "{name}: expected failure");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{name} panicked: {stderr}");
    stderr
}

const GOOD: &str =
    "y,w,z,x1\n1.0,1,1,0.5\n0.5,0,0,0.1\n2.0,1,1,-0.3\n0.1,0,1,0.9\n1.1,1,0,0.2\n0.3,0,0,-0.8\n";

#[test]
fn bad_csv_input_is_a_clear_error() {
    let msg = fit_error(
        "csv_missing",
        GOOD,
        &["--y", "y", "--w", "treat", "--estimator", "ols"],
    );
    common::assert_has(&msg, &["no column `treat`", "y, w, z, x1"]);

    let bad = GOOD.replace("2.0,1,1,-0.3", "2.0,1,1,abc");
    let msg = fit_error(
        "csv_text",
        &bad,
        &["--y", "y", "--w", "w", "--estimator", "ols"],
    );
    common::assert_has(
        &msg,
        &["column `x1`, row 3", "`abc`", "not a finite number"],
    );

    let nan = GOOD.replace("0.5,0,0,0.1", "NaN,0,0,0.1");
    let msg = fit_error(
        "csv_nan",
        &nan,
        &["--y", "y", "--w", "w", "--estimator", "ols"],
    );
    common::assert_has(&msg, &["column `y`, row 2", "NaN"]);

    let empty = GOOD.replace("0.5,0,0,0.1", ",0,0,0.1");
    let msg = fit_error(
        "csv_empty_cell",
        &empty,
        &["--y", "y", "--w", "w", "--estimator", "ols"],
    );
    common::assert_has(&msg, &["column `y`, row 2", "is empty"]);

    let constant_z = "y,w,z\n1,1,1\n0,0,1\n2,1,1\n0,0,1\n";
    let msg = fit_error(
        "csv_const_z",
        constant_z,
        &["--y", "y", "--w", "w", "--z", "z", "--estimator", "2sls"],
    );
    common::assert_has(&msg, &["instrument column `z` is constant"]);

    let no_treated = "y,w\n1,0\n0,0\n2,0\n0,0\n";
    let msg = fit_error(
        "csv_empty_arm",
        no_treated,
        &["--y", "y", "--w", "w", "--estimator", "naive"],
    );
    common::assert_has(&msg, &["treatment column `w` is constant"]);

    let msg = fit_error(
        "csv_no_z",
        GOOD,
        &["--y", "y", "--w", "w", "--estimator", "2sls"],
    );
    common::assert_has(&msg, &["needs an instrument", "--z"]);

    let msg = fit_error(
        "csv_bad_kind",
        GOOD,
        &["--y", "y", "--w", "w", "--estimator", "lasso"],
    );
    common::assert_has(
        &msg,
        &["unknown variant `lasso`", "two_stage_least_squares"],
    );
}

const HOSPITAL: &str = "kind = \"hospital\"\nscale = 0.05\n";

#[test]
fn paper_needs_a_hospital_world_and_known_keys() {
    let msg = common::experiment_error(
        "err_paper_iv",
        "kind = \"iv\"",
        "sim = \"sim.toml\"\n[paper]\ntest_share = 0.25\n",
    );
    common::assert_has(
        &msg,
        &[
            "experiment.toml:1:7",
            "[paper]",
            "kind = \"hospital\"",
            "sims/swiss_ncu.toml",
            "of kind `iv`",
        ],
    );
    let msg = common::experiment_error(
        "err_paper_key",
        HOSPITAL,
        "sim = \"sim.toml\"\n[paper]\ntest_shar = 0.3\n",
    );
    common::assert_has(
        &msg,
        &[
            "experiment.toml:3:1",
            "unknown field `test_shar`",
            "test_share",
        ],
    );
    let msg = common::experiment_error(
        "err_paper_forest_key",
        HOSPITAL,
        "sim = \"sim.toml\"\n[paper.forest]\nnum_tree = 100\n",
    );
    common::assert_has(
        &msg,
        &[
            "experiment.toml:3:1",
            "unknown field `num_tree`",
            "num_trees",
        ],
    );
    let msg = common::experiment_error(
        "err_paper_share",
        HOSPITAL,
        "sim = \"sim.toml\"\n[paper]\ntest_share = 1.5\n",
    );
    common::assert_has(&msg, &["experiment.toml:2:1", "`paper.test_share` is 1.5"]);
}

#[test]
fn estimators_may_be_left_out_only_with_paper() {
    let msg = common::experiment_error("err_paper_none", HOSPITAL, "sim = \"sim.toml\"\n");
    common::assert_has(&msg, &["no `[[estimators]]`", "`[paper]`"]);
    let msg =
        common::experiment_error("err_paper_none_iv", "kind = \"iv\"", "sim = \"sim.toml\"\n");
    assert!(!msg.contains("[paper]"), "{msg}");

    let dir = common::scratch("paper_alone");
    common::write(&dir, "sim.toml", HOSPITAL);
    let path = common::write(
        &dir,
        "experiment.toml",
        "sim = \"sim.toml\"\n[paper]\n[paper.forest]\nnum_trees = 100\n",
    );
    let experiment = Experiment::load(&path).expect("a paper experiment without estimators");
    assert!(experiment.estimators.is_empty());
    let paper = experiment.paper.expect("the paper's settings");
    assert_eq!((paper.test_share, paper.forest.num_trees), (0.25, 100));
}

/// An experiment on the hospital world with an instrumental forest, a
/// causal forest and OLS, plus the `[[policies]]` entry given.
fn policy_error(name: &str, policy: &str) -> String {
    common::experiment_error(
        name,
        HOSPITAL,
        &format!(
            "sim = \"sim.toml\"\n[[estimators]]\nkind = \"instrumental_forest\"\n\
             [[estimators]]\nkind = \"causal_forest\"\nci_group_size = 1\n\
             [[estimators]]\nkind = \"ols\"\n[[policies]]\n{policy}"
        ),
    )
}

#[test]
fn policies_name_the_entry_and_what_to_change() {
    let msg = policy_error(
        "err_policy_limit",
        "kind = \"welfare_max\"\nestimator = \"instrumental_forest\"\nreassignment_limit = 1.5\n",
    );
    common::assert_has(
        &msg,
        &[
            "experiment.toml:9:1",
            "`reassignment_limit` is 1.5",
            "between 0 and 1",
        ],
    );
    let msg = policy_error(
        "err_policy_bp_causal",
        "kind = \"minimax_regret\"\nbound = \"balke_pearl\"\nestimator = \"causal_forest\"\n",
    );
    common::assert_has(
        &msg,
        &[
            "bound = \"balke_pearl\" cannot come from estimator `causal_forest`",
            "need an instrument",
            "instrumental_forest",
        ],
    );
    let msg = policy_error(
        "err_policy_freq_no_bags",
        "kind = \"minimax_regret\"\nestimator = \"causal_forest\"\n",
    );
    common::assert_has(&msg, &["bound = \"frequentist\"", "ci_group_size = 2"]);
    let msg = policy_error(
        "err_policy_ols",
        "kind = \"welfare_max\"\nestimator = \"ols\"\n",
    );
    common::assert_has(&msg, &["estimator `ols` (ols) gives one average effect"]);
    let msg = policy_error("err_policy_which", "kind = \"welfare_max\"\n");
    common::assert_has(
        &msg,
        &["several forests", "instrumental_forest, causal_forest"],
    );
    let msg = policy_error(
        "err_policy_unknown_estimator",
        "kind = \"welfare_max\"\nestimator = \"grf\"\n",
    );
    common::assert_has(&msg, &["`estimator = \"grf\"` names no estimator", "ols"]);
    let msg = policy_error("err_policy_kind", "kind = \"welfare_maximum\"\n");
    common::assert_has(
        &msg,
        &["unknown policy kind `welfare_maximum`", "minimax_regret"],
    );
    let msg = policy_error(
        "err_policy_bound_kind",
        "kind = \"minimax_regret\"\nbound = \"pearl\"\n",
    );
    common::assert_has(&msg, &["unknown variant `pearl`", "balke_pearl"]);
    let msg = policy_error(
        "err_policy_oracle_bound",
        "kind = \"oracle\"\nbound = \"manski\"\n",
    );
    common::assert_has(&msg, &["`bound` belongs to kind = \"minimax_regret\""]);
    let msg = policy_error(
        "err_policy_observed_limit",
        "kind = \"observed\"\nreassignment_limit = 0.1\n",
    );
    common::assert_has(&msg, &["takes no `solver` or `reassignment_limit`"]);
    let msg = policy_error("err_policy_key", "kind = \"oracle\"\nlimit = 0.1\n");
    common::assert_has(&msg, &["unknown field `limit`", "reassignment_limit"]);
    let msg = policy_error(
        "err_policy_twice",
        "kind = \"oracle\"\n[[policies]]\nkind = \"oracle\"\n",
    );
    common::assert_has(&msg, &["two policies are named `oracle`"]);
    let msg = common::experiment_error(
        "err_policy_iv_world",
        "kind = \"iv\"",
        "sim = \"sim.toml\"\n[[policies]]\nkind = \"oracle\"\n",
    );
    common::assert_has(
        &msg,
        &["`[[policies]]` place each day's cohort", "of kind `iv`"],
    );
}

#[test]
fn a_bad_forest_setting_fails_at_load_not_in_every_task() {
    for (setting, says) in [
        ("num_trees = 0", "num_trees is 0; it must lie between 1 and"),
        ("sample_fraction = 1.5", "sample_fraction is 1.5"),
        (
            "num_trees = 9\nci_group_size = 2",
            "multiple of ci_group_size",
        ),
    ] {
        for kind in ["instrumental_forest", "causal_forest", "regression_forest"] {
            let msg = common::experiment_error(
                "err_forest_setting",
                "kind = \"iv\"",
                &format!("sim = \"sim.toml\"\n\n[[estimators]]\nkind = \"{kind}\"\n{setting}\n"),
            );
            common::assert_has(&msg, &["experiment.toml:3:1", says]);
        }
    }
    let msg = common::experiment_error(
        "err_entropy_moments",
        "kind = \"iv\"",
        "sim = \"sim.toml\"\n[[estimators]]\nkind = \"entropy_balancing\"\nmoments = 3\n",
    );
    common::assert_has(&msg, &["experiment.toml:2:1", "moments is 3"]);
}

#[test]
fn an_estimand_the_world_does_not_know_fails_at_load() {
    let msg = common::experiment_error(
        "err_estimand_iv",
        "kind = \"iv\"",
        "sim = \"sim.toml\"\n[[estimators]]\nkind = \"scm\"\neffect = \"direct\"\n",
    );
    common::assert_has(
        &msg,
        &[
            "experiment.toml:2:1",
            "targets the direct effect",
            "`iv` world does not know",
            "ATE, ATT, ATC, LATE",
        ],
    );
    let regions =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/sims/regions.toml"))
            .expect("the regions world");
    let msg = common::experiment_error(
        "err_estimand_regions",
        &regions,
        "sim = \"sim.toml\"\n[[estimators]]\nkind = \"two_stage_least_squares\"\n",
    );
    common::assert_has(&msg, &["targets the LATE", "`regions` world does not know"]);
}
