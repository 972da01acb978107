//! `causim fit` on CSV input that used to crash it, answer with NaN or run
//! for minutes: duplicate header names, outliers near the largest float,
//! results that are not finite, columns of extreme magnitude, far more
//! covariates than units, and errors without a file or line.

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

/// A CSV of `n` rows: `y`, a 0/1 `w`, an instrument `z` and `p` covariates
/// `x1..xp`, deterministic and not collinear; `y` depends on `w` and `x1`.
fn data(n: usize, p: usize) -> String {
    let mut text = String::from("y,w,z");
    for j in 1..=p {
        text.push_str(&format!(",x{j}"));
    }
    text.push('\n');
    for i in 0..n {
        let x: Vec<f64> = (1..=p)
            .map(|j| ((i * 31 + j * 17) as f64 * 0.61).sin())
            .collect();
        let z = (i * 7 % 3 == 0) as u8;
        let w = u8::from((i % 2 == 0) != (z == 1 && i % 5 == 0));
        let y = 1.0 + 2.0 * f64::from(w) + x.first().copied().unwrap_or(0.0) + (i as f64).cos();
        text.push_str(&format!("{y},{w},{z}"));
        for v in x {
            text.push_str(&format!(",{v}"));
        }
        text.push('\n');
    }
    text
}

/// Writes `csv` as `data.csv` in a fresh folder named after the test.
fn file(name: &str, csv: &str) -> PathBuf {
    common::write(&common::scratch(name), "data.csv", csv)
}

/// Runs `causim fit --data PATH ARGS...`.
fn fit(path: &PathBuf, args: &[&str]) -> Output {
    common::causim()
        .arg("fit")
        .arg("--data")
        .arg(path)
        .args(args)
        .output()
        .expect("causim runs")
}

/// The error of a fit that must fail: non-zero exit, no panic, no table.
fn fails(path: &PathBuf, args: &[&str]) -> String {
    let output = fit(path, args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "expected failure, got: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        output.stdout.is_empty(),
        "printed a result: {:?}",
        output.stdout
    );
    stderr
}

/// The JSON answer of a fit that must succeed.
fn json(path: &PathBuf, args: &[&str]) -> serde_json::Value {
    let output = fit(path, &[args, &["--json"]].concat());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "fit failed: {stderr}");
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

/// Replaces one column of a CSV by `f` of its values.
fn map_column(csv: &str, column: usize, f: impl Fn(f64) -> f64) -> String {
    let mut lines = csv.lines();
    let mut out = format!("{}\n", lines.next().expect("header"));
    for line in lines {
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        let v: f64 = cells[column].parse().expect("a number");
        cells[column] = f(v).to_string();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// A CSV with its lines edited by `f`, joined by `end`.
fn edit_lines(csv: &str, f: impl Fn(&mut Vec<String>), end: &str) -> String {
    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    f(&mut lines);
    lines.iter().map(|l| format!("{l}{end}")).collect()
}

#[test]
fn a_column_named_twice_is_an_error_naming_both_positions() {
    let csv = data(30, 2).replacen("y,w,z,x1,x2", "y,w,x1,x1,x2", 1);
    let path = file("guard_duplicate", &csv);
    let msg = fails(&path, &["--y", "y", "--w", "w", "--estimator", "naive"]);
    common::assert_has(
        &msg,
        &["data.csv", "line 1", "column `x1` twice", "columns 3 and 4"],
    );
}

#[test]
fn a_value_near_the_largest_float_is_refused_with_its_row_and_line() {
    let mut csv = data(30, 2);
    let line = csv.lines().nth(4).expect("row 4").to_string();
    let outlier = line.replacen(line.split(',').next().expect("y"), "1e308", 1);
    csv = csv.replacen(&line, &outlier, 1);
    let path = file("guard_outlier", &csv);
    for estimator in ["naive", "ols", "psm", "entropy_balancing"] {
        let msg = fails(&path, &["--y", "y", "--w", "w", "--estimator", estimator]);
        common::assert_has(
            &msg,
            &[
                "data.csv",
                "column `y`, row 4 (line 5)",
                "1e308",
                "beyond ±1e150",
            ],
        );
    }
    let inf = file("guard_inf", &csv.replacen("1e308", "1e400", 1));
    let msg = fails(&inf, &["--y", "y", "--w", "w", "--estimator", "ols"]);
    common::assert_has(&msg, &["row 4 (line 5)", "`1e400`, not a finite number"]);
}

#[test]
fn a_standard_error_that_is_not_finite_is_an_error_naming_the_cause() {
    // Outcome and covariate near 1e140: OLS's sandwich multiplies their
    // squares, 1e560, which overflows.
    let csv = map_column(&map_column(&data(40, 2), 0, |v| v * 1e140), 3, |v| {
        v * 1e140
    });
    let path = file("guard_non_finite", &csv);
    let msg = fails(
        &path,
        &["--y", "y", "--w", "w", "--x", "x1,x2", "--estimator", "ols"],
    );
    common::assert_has(
        &msg,
        &[
            "ols on",
            "data.csv",
            "the standard error is",
            "not a finite number",
            "`x1`",
            "rescale",
        ],
    );
    // The difference in means of the same data is finite, and printed.
    let v = json(&path, &["--y", "y", "--w", "w", "--estimator", "naive"]);
    assert!(v["se"].as_f64().is_some_and(f64::is_finite), "{v}");
}

#[test]
fn zero_and_constant_are_judged_relative_to_a_column_magnitude() {
    let base = data(60, 2);
    let args = ["--y", "y", "--w", "w", "--x", "x1,x2"];
    let plain = json(
        &file("guard_scale_plain", &base),
        &[&args[..], &["--estimator", "ols"]].concat(),
    );
    // A covariate near 1e140 is neither constant nor changes OLS's answer.
    let huge = file("guard_scale_huge", &map_column(&base, 4, |v| v * 1e140));
    let v = json(&huge, &[&args[..], &["--estimator", "ols"]].concat());
    let (a, b) = (v["estimate"].as_f64(), plain["estimate"].as_f64());
    assert!(
        (a.expect("estimate") - b.expect("estimate")).abs() < 1e-9,
        "{v} vs {plain}"
    );
    // A covariate near 5e-320 is not all zeros: matching keeps it in the
    // propensity model, and least squares does not call it zero.
    let tiny = file("guard_scale_tiny", &map_column(&base, 4, |v| v * 5e-320));
    let v = json(&tiny, &[&args[..], &["--estimator", "psm"]].concat());
    assert_eq!(v["diagnostics"]["ps_covariates"], 2.0, "{v}");
    let v = json(
        &tiny,
        &[&args[..], &["--estimator", "entropy_balancing"]].concat(),
    );
    assert_eq!(v["diagnostics"]["constraints"], 2.0, "{v}");
    let ols = fit(&tiny, &[&args[..], &["--estimator", "ols"]].concat());
    let stderr = String::from_utf8_lossy(&ols.stderr);
    assert!(
        !stderr.contains("all zeros") && !stderr.contains("constant"),
        "{stderr}"
    );
}

#[test]
fn far_more_covariates_than_units_fail_at_once_with_n_and_p() {
    // 3,000 covariates and the instrument, which is a covariate here too.
    let path = file("guard_wide", &data(20, 3000));
    for (estimator, what) in [
        ("psm", "3001 covariates that vary for n = 20 units"),
        ("entropy_balancing", "3001 balance constraints for"),
        ("ols", "needs more units than coefficients: n = 20"),
    ] {
        let start = Instant::now();
        let msg = fails(&path, &["--y", "y", "--w", "w", "--estimator", estimator]);
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{estimator} took {:?}",
            start.elapsed()
        );
        common::assert_has(
            &msg,
            &[
                "data.csv",
                what,
                "fewer covariates",
                "--x",
                "more units",
                "lasso",
            ],
        );
    }
}

#[test]
fn every_csv_error_names_the_file_and_a_line_or_row() {
    let good = data(12, 1);
    let cases: Vec<(&str, String, Vec<&str>, Vec<&str>)> = vec![
        (
            "guard_ragged",
            edit_lines(&good, |lines| lines.insert(2, "1,2".into()), "\n"),
            vec!["--estimator", "naive"],
            vec!["line 3", "a row has 2 fields but the header has 4"],
        ),
        (
            "guard_unnamed",
            good.replacen("y,w,z,x1", "y,w,z,", 1),
            vec!["--estimator", "ols"],
            vec!["line 1", "column 4 of the header has no name"],
        ),
        (
            "guard_constant",
            map_column(&good, 1, |_| 1.0),
            vec!["--estimator", "naive"],
            vec![
                "treatment column `w` is constant",
                "all 12 rows (lines 2 to 13)",
            ],
        ),
        (
            "guard_crlf",
            edit_lines(
                &good,
                |lines| lines[3] = format!("abc{}", &lines[3][lines[3].find(',').unwrap_or(0)..]),
                "\r\n",
            ),
            vec!["--estimator", "naive"],
            vec!["row 3 (line 4)", "`abc"],
        ),
        (
            "guard_missing",
            good.clone(),
            vec!["--x", "x1,age", "--estimator", "ols"],
            vec!["line 1", "no column `age`", "y, w, z, x1"],
        ),
    ];
    for (name, csv, args, parts) in cases {
        let path = file(name, &csv);
        let msg = fails(&path, &[&["--y", "y", "--w", "w"][..], &args].concat());
        common::assert_has(&msg, &[&["data.csv"][..], &parts].concat());
    }
}

#[test]
fn cluster_columns_group_rows_and_a_missing_cluster_is_an_error() {
    // Text sites of 8 rows and numeric days of 20: 50 sites, 60 site-days.
    let mut csv = String::new();
    for (i, line) in data(400, 3).lines().enumerate() {
        let extra = match i {
            0 => "site,day".to_string(),
            _ => format!("s{},{}", (i - 1) / 8, (i - 1) / 20),
        };
        csv.push_str(&format!("{line},{extra}\n"));
    }
    let path = file("clusters", &csv);
    let forest = [
        "--w",
        "w",
        "--x",
        "x1,x2,x3",
        "--estimator",
        "causal_forest",
        "--param",
        "num_trees=50",
    ];
    let clusters = |names: &str| {
        let args = [&forest[..], &["--y", "y", "--cluster", names]].concat();
        json(&path, &args)["diagnostics"]["clusters"].as_f64()
    };
    assert_eq!(clusters("site"), Some(50.0));
    assert_eq!(clusters("site,day"), Some(60.0));
    let err = fails(
        &path,
        &[
            "--y",
            "y",
            "--w",
            "w",
            "--estimator",
            "ols",
            "--cluster",
            "site",
        ],
    );
    common::assert_has(
        &err,
        &["--cluster", "ols does not sample clusters", "causal_forest"],
    );
    let holed = edit_lines(
        &csv,
        |lines| lines[5] = lines[5].replacen(",s0,", ",,", 1),
        "\n",
    );
    let path = file("clusters_holed", &holed);
    let args = [&forest[..], &["--y", "y", "--cluster", "site"]].concat();
    let err = fails(&path, &args);
    common::assert_has(
        &err,
        &[
            "column `site`",
            "row 5 (line 6)",
            "every row needs a cluster",
        ],
    );
}
