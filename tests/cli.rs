//! The command line end to end: run, validate, simulate, fit, report, list,
//! slurm and their help texts.

mod common;

use std::process::Output;

fn ok(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "command failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn setup(name: &str) -> std::path::PathBuf {
    let dir = common::scratch(name);
    common::write(&dir, "sim.toml", common::SMALL_SIM);
    common::write(&dir, "experiment.toml", common::SMALL_EXPERIMENT);
    dir
}

#[test]
fn run_writes_results_report_and_csvs_and_report_rerenders() {
    let dir = setup("cli_run");
    let out = dir.join("out");
    let stdout = ok(common::causim()
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(dir.join("experiment.toml"))
        .output()
        .expect("run"));
    assert!(stdout.contains("index.html"));
    for file in [
        "index.html",
        "results.jsonl",
        "experiment.json",
        "cells.csv",
        "diagnosands.csv",
        "diagnostics.csv",
        "estimates.csv",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let html = std::fs::read_to_string(out.join("index.html")).expect("html");
    assert!(html.contains("<svg") && html.contains("2sls") && html.contains("instrument.strength"));
    let lines = std::fs::read_to_string(out.join("results.jsonl")).expect("results");
    assert_eq!(lines.lines().count(), 24);

    std::fs::remove_file(out.join("index.html")).expect("remove");
    ok(common::causim()
        .arg("report")
        .arg(&out)
        .output()
        .expect("report"));
    assert_eq!(
        std::fs::read_to_string(out.join("index.html")).expect("html"),
        html
    );
}

#[test]
fn validate_prints_cells_and_fails_on_problems() {
    let dir = setup("cli_validate");
    let stdout = ok(common::causim()
        .arg("validate")
        .arg(dir.join("experiment.toml"))
        .arg(dir.join("sim.toml"))
        .output()
        .expect("validate"));
    assert!(
        stdout.contains("4 cells x 6 replications = 24 tasks"),
        "{stdout}"
    );
    assert!(stdout.contains("instrument.strength = 0.6, compliance.defiers = 0.2"));
    assert!(stdout.contains("tau = \"1 + x1\""));

    let bad = common::write(
        &dir,
        "bad.toml",
        "sim = \"sim.toml\"\n[[estimators]]\nkind = \"olsx\"\n",
    );
    let output = common::causim()
        .arg("validate")
        .arg(&bad)
        .output()
        .expect("validate");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.toml:2:1") && stderr.contains("unknown variant `olsx`"),
        "{stderr}"
    );
}

#[test]
fn simulate_writes_truth_columns_and_fit_recovers_the_effect() {
    let dir = setup("cli_simulate");
    let csv = dir.join("iv.csv");
    ok(common::causim()
        .arg("simulate")
        .arg(dir.join("sim.toml"))
        .args([
            "--seed",
            "3",
            "--set",
            "n=20000",
            "--set",
            "confounding=0",
            "--set",
            "tau=2",
            "--out",
        ])
        .arg(&csv)
        .output()
        .expect("simulate"));
    let text = std::fs::read_to_string(&csv).expect("csv");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("x1,x2,x3,w,z,y,tau,cate,clate,complier_type")
    );
    assert_eq!(text.lines().count(), 20001);
    let first: Vec<&str> = lines.next().expect("a row").split(',').collect();
    assert_eq!(first[6..9], ["2", "2", "2"]);
    assert!(["complier", "defier", "always_taker", "never_taker"].contains(&first[9]));

    let json = ok(common::causim()
        .args(["fit", "--data"])
        .arg(&csv)
        .args([
            "--y",
            "y",
            "--w",
            "w",
            "--z",
            "z",
            "--x",
            "x1,x2,x3",
            "--estimator",
            "2sls",
            "--json",
        ])
        .output()
        .expect("fit"));
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    for key in [
        "estimator",
        "estimand",
        "estimate",
        "se",
        "ci_lower",
        "ci_upper",
        "n",
    ] {
        assert!(v.get(key).is_some(), "{key} missing from {json}");
    }
    assert_eq!(v["estimand"], "LATE");
    assert_eq!(v["n"], 20000);
    let estimate = v["estimate"].as_f64().expect("number");
    let se = v["se"].as_f64().expect("number");
    assert!(
        (estimate - 2.0).abs() < 4.0 * se,
        "estimate {estimate} se {se}"
    );
    assert!(se > 0.0 && se < 0.1);

    let table = ok(common::causim()
        .args(["fit", "--data"])
        .arg(&csv)
        .args([
            "--y",
            "y",
            "--w",
            "w",
            "--estimator",
            "ols",
            "--x",
            "x1,x2",
            "--param",
            "se=hc3",
        ])
        .output()
        .expect("fit"));
    assert!(table.contains("ATE") && table.contains("ci_lower") && table.contains("n = 20000"));
}

#[test]
fn list_names_every_kind_and_default() {
    let stdout = ok(common::causim().arg("list").output().expect("list"));
    for word in [
        "iv",
        "instrument.strength",
        "= 0.5",
        "compliance.defiers",
        "difference_in_means",
        "ols",
        "two_stage_least_squares",
        "targets LATE",
        "hc1",
        "bias",
        "rmse",
        "coverage",
        "ci_width",
        "power",
    ] {
        assert!(stdout.contains(word), "`{word}` missing from list");
    }
}

#[test]
fn every_command_explains_itself_with_an_example() {
    for command in ["run", "validate", "simulate", "fit", "report", "slurm"] {
        let stdout = ok(common::causim()
            .args([command, "--help"])
            .output()
            .expect("help"));
        assert!(
            stdout.contains("Example: causim"),
            "{command} --help has no example"
        );
    }
}

#[test]
fn slurm_prints_an_array_script_over_shards() {
    let dir = setup("cli_slurm");
    let stdout = ok(common::causim()
        .arg("slurm")
        .arg(dir.join("experiment.toml"))
        .args(["--shards", "8"])
        .output()
        .expect("slurm"));
    assert!(stdout.starts_with("#!/bin/bash"));
    assert!(stdout.contains("#SBATCH --array=0-7"));
    assert!(stdout.contains("--shard \"$SLURM_ARRAY_TASK_ID/8\""));
}

#[test]
fn fit_a_forest_predicts_each_row_and_groups() {
    let dir = setup("cli_forest");
    let sim = dir.join("sim.toml");
    for (seed, n, name) in [("1", "1500", "train.csv"), ("2", "40", "test.csv")] {
        ok(common::causim()
            .arg("simulate")
            .arg(&sim)
            .args(["--seed", seed, "--set", &format!("n={n}"), "--out"])
            .arg(dir.join(name))
            .output()
            .expect("simulate"));
    }
    let preds = dir.join("preds.csv");
    let stdout = ok(common::causim()
        .args(["fit", "--data"])
        .arg(dir.join("train.csv"))
        .args([
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
        ])
        .args(["--param", "num_trees=100", "--group", "z", "--predict"])
        .arg(dir.join("test.csv"))
        .arg("--out")
        .arg(&preds)
        .output()
        .expect("fit"));
    assert!(
        stdout.contains("LATE") && stdout.contains("by z"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&preds).expect("predictions");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("tau_hat,tau_se,ci_lower,ci_upper"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().expect("number")).collect())
        .collect();
    assert_eq!(rows.len(), 40);
    for r in &rows {
        assert!(r[1] > 0.0 && (r[2] - (r[0] - 1.959_963_984_540_054 * r[1])).abs() < 1e-9);
    }

    let output = common::causim()
        .args(["fit", "--data"])
        .arg(dir.join("train.csv"))
        .args([
            "--y",
            "y",
            "--w",
            "w",
            "--x",
            "x1",
            "--estimator",
            "ols",
            "--predict",
        ])
        .arg(dir.join("test.csv"))
        .arg("--out")
        .arg(&preds)
        .output()
        .expect("fit");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs a forest"));
}
