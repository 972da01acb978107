//! The report of a very large sweep stays readable and small: cells not run
//! yet are listed as runs, long tables show their first rows and point to
//! the CSV that holds them all, and figures leave out empty panels, draw at
//! most a few dozen panels and summarize lines of thousands of points.

mod common;

use std::path::{Path, PathBuf};

/// Largest `index.html` these tests accept (before the report was bounded,
/// the first test's page was 83 MB and the second's 1.6 MB; now 150 and
/// 250 KB).
const MAX_HTML: u64 = 1_000_000;

const SIM: &str = r#"
kind = "iv"
n = 60
covariates = 2
tau = "1 + x1"
"#;

/// An experiment sweeping `instrument.strength` over `values` values
/// (times `extra`, a TOML line of more sweep keys) with `estimators`.
fn experiment(values: usize, extra: &str, estimators: &[&str]) -> String {
    let list: Vec<String> = (0..values)
        .map(|i| format!("{:.6}", 0.05 + 0.9 * i as f64 / (values - 1) as f64))
        .collect();
    let mut text = format!(
        "sim = \"sim.toml\"\nreplications = 2\nseed = 3\n[sweep]\n\"instrument.strength\" = [{}]\n{extra}\n",
        list.join(", ")
    );
    for kind in estimators {
        text.push_str(&format!("[[estimators]]\nkind = \"{kind}\"\n"));
    }
    text
}

/// Runs `spec` (at most `max_tasks` tasks) into a scratch folder and
/// returns the folder and its page.
fn run(name: &str, spec: &str, max_tasks: Option<usize>) -> (PathBuf, String) {
    let dir = common::scratch(name);
    common::write(&dir, "sim.toml", SIM);
    let path = common::write(&dir, "experiment.toml", spec);
    let out = dir.join("out");
    let mut command = common::causim();
    command
        .args(["run", "--quiet", "--jobs", "2", "--out"])
        .arg(&out);
    if let Some(n) = max_tasks {
        command.args(["--max-tasks", &n.to_string()]);
    }
    let output = command.arg(&path).output().expect("causim runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "run failed: {stderr}");
    let html = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    (out, html)
}

/// Data rows of a CSV beside the report.
fn csv_rows(dir: &Path, name: &str) -> usize {
    let text = std::fs::read_to_string(dir.join(name)).expect("csv");
    text.lines().count() - 1
}

fn assert_has(html: &str, parts: &[&str]) {
    for part in parts {
        assert!(html.contains(part), "`{part}` missing from the page");
    }
}

fn assert_small(dir: &Path) {
    let size = std::fs::metadata(dir.join("index.html"))
        .expect("index.html")
        .len();
    assert!(size < MAX_HTML, "index.html is {size} bytes");
}

#[test]
fn a_sweep_of_thousands_of_cells_with_few_results_writes_a_small_page() {
    // 3,000 × 2 = 6,000 cells, of which 3 have results.
    let spec = experiment(
        3000,
        "\"compliance.defiers\" = [0.0, 0.1]",
        &["difference_in_means", "two_stage_least_squares"],
    );
    let (out, html) = run("scale_sparse", &spec, Some(6));
    assert_small(&out);
    assert_has(
        &html,
        &[
            "5,997 cells not run yet, from cell 3 (instrument.strength = 0.0503, \
             compliance.defiers = 0.1) to cell 5999 (instrument.strength = 0.95, \
             compliance.defiers = 0.1)",
            "5,997 cells, from instrument.strength = 0.0503, compliance.defiers = 0.1 to",
            "2,998 of its 3,000 panels have no result yet and are not drawn.",
            "diagnosands.csv holds every value.",
        ],
    );
    // One row for the cells not run yet in the cells table, one under
    // their group in the diagnosands.
    assert_eq!(html.matches("class=\"pending\"").count(), 2);
    // The CSVs still hold every cell and result.
    assert_eq!(csv_rows(&out, "cells.csv"), 6000);
    assert_eq!(csv_rows(&out, "diagnosands.csv"), 3 * 2);
    // Rendering again from the folder alone gives the same page.
    let report = common::causim()
        .arg("report")
        .arg(&out)
        .output()
        .expect("report");
    assert!(report.status.success());
    let again = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    assert_eq!(again, html);
}

#[test]
fn a_dense_sweep_shows_its_first_rows_and_summarizes_its_lines() {
    // 1,000 cells, every one run: tables are cut at 200 rows, and each
    // line of 1,000 points is drawn as 200 means of 5.
    let spec = experiment(1000, "", &["difference_in_means"]);
    let (out, html) = run("scale_dense", &spec, None);
    assert_small(&out);
    assert_has(
        &html,
        &[
            "… 800 more cells are not shown here; <a href=\"cells.csv\">cells.csv</a> holds every row.",
            "… 900 more cells (900 rows) are not shown here; <a href=\"diagnosands.csv\">",
            "drawn as the mean of each 5 consecutive points, without error bars",
        ],
    );
    assert!(!html.contains("panels have no result"));
    assert_eq!(csv_rows(&out, "cells.csv"), 1000);
    assert_eq!(csv_rows(&out, "diagnosands.csv"), 1000);
    assert_eq!(csv_rows(&out, "estimates.csv"), 2000);
}
