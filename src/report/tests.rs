//! End-to-end tests of the report: a small experiment is run into a temporary
//! folder, then rendered from that folder alone.

use std::path::{Path, PathBuf};

use super::render;
use crate::run::{run, RunOptions};
use crate::spec::Experiment;

const SIM: &str = r#"kind = "iv"
n = 200
covariates = 2
tau = "1 + x1"
"#;

const EXPERIMENT: &str = r#"sim = "sim.toml"
replications = 5
seed = 1
[sweep]
"instrument.strength" = [0.3, 0.6]
"compliance.defiers" = [0.0, 0.2]
[[estimators]]
kind = "difference_in_means"
[[estimators]]
kind = "two_stage_least_squares"
[report]
description = "Does 2SLS <recover> the LATE?"
"#;

/// A fresh folder per test (tests run in parallel) holding the spec files.
fn setup(test: &str) -> (PathBuf, Experiment) {
    setup_with(test, SIM, EXPERIMENT)
}

fn setup_with(test: &str, sim: &str, experiment: &str) -> (PathBuf, Experiment) {
    let root = std::env::temp_dir().join(format!("causim-report-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("temp folder");
    std::fs::write(root.join("sim.toml"), sim).expect("sim file");
    std::fs::write(root.join("experiment.toml"), experiment).expect("experiment file");
    let experiment = Experiment::load(&root.join("experiment.toml")).expect("experiment loads");
    (root, experiment)
}

fn run_into(experiment: &Experiment, dir: &Path, max_tasks: Option<usize>) {
    let options = RunOptions {
        out: dir.to_path_buf(),
        jobs: Some(1),
        shard: None,
        fresh: true,
        max_tasks,
        progress: false,
    };
    run(experiment, &options).expect("experiment runs");
}

/// The header and the number of data rows of a CSV file.
fn csv_shape(path: &Path) -> (Vec<String>, usize) {
    let mut reader = csv::Reader::from_path(path).expect("csv opens");
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = reader.records().inspect(|r| assert!(r.is_ok())).count();
    (header, rows)
}

#[test]
fn report_has_sections_plots_and_csv_tables() {
    let (root, experiment) = setup("full");
    let dir = root.join("out");
    run_into(&experiment, &dir, None);
    // A per-unit table left by an earlier render is stale without forests.
    std::fs::write(dir.join("iate.csv"), "stale").expect("stale file");
    let index = render(&dir).expect("report renders");
    assert_eq!(index, dir.join("index.html"));
    let html = std::fs::read_to_string(&index).expect("index.html exists");

    assert_full_page(&html);
    assert_full_csvs(&dir);
    assert_no_iate(&dir, &html);

    // Rendering again from the folder alone gives the same report.
    render(&dir).expect("renders again");
    assert_eq!(std::fs::read_to_string(&index).expect("index.html"), html);
    let _ = std::fs::remove_dir_all(&root);
}

/// The full report's page: every section, a figure per axis and diagnosand,
/// escaped text and no external resource.
fn assert_full_page(html: &str) {
    for heading in [
        "<h2 id=\"cells\">Cells</h2>",
        "<h2 id=\"diagnosands\">Diagnosands</h2>",
        "<h2 id=\"diagnostics\">Diagnostics</h2>",
        "<h2 id=\"plots\">Plots</h2>",
        "<h2 id=\"spec\">Spec as run</h2>",
    ] {
        assert!(html.contains(heading), "missing {heading}");
    }
    assert_eq!(
        html.matches("<svg").count(),
        2 * 8 + 1,
        "one figure per axis and plotted diagnosand, and the distribution"
    );
    for text in [
        "difference_in_means",
        "two_stage_least_squares",
        "instrument.strength = 0.3, compliance.defiers = 0.2",
        "compliance.defiers = 0.2",
        "first stage f",
        "href=\"cells.csv\"",
        "href=\"estimates.csv\"",
        "20 of 20 tasks recorded",
    ] {
        assert!(html.contains(text), "missing {text}");
    }
    // The description is escaped; only the SVGs are inserted as markup.
    assert!(html.contains("Does 2SLS &lt;recover&gt; the LATE?"));
    // Self-contained: no external resources, no URL but the SVG namespace.
    assert!(!html.contains("<link") && !html.contains("<script"));
    let urls = html.matches("http://").count() + html.matches("https://").count();
    let namespaces = html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    assert_eq!(urls, namespaces);
}

/// The full report's cells and diagnosands tables.
fn assert_full_csvs(dir: &Path) {
    let axes = ["instrument.strength", "compliance.defiers"];
    let (header, rows) = csv_shape(&dir.join("cells.csv"));
    assert_eq!(header[..4], ["cell", axes[0], axes[1], "records"]);
    assert!(header.iter().any(|h| h == "ate") && header.iter().any(|h| h == "late"));
    assert_eq!(rows, 4);
    let (header, rows) = csv_shape(&dir.join("diagnosands.csv"));
    let expected = [
        "cell",
        axes[0],
        axes[1],
        "estimator",
        "kind",
        "estimand",
        "replications",
        "failures",
        "truth",
        "mean_estimate",
        "mean_se",
        "sd_estimate",
        "bias",
        "bias_mcse",
        "median_bias",
        "median_bias_mcse",
        "rmse",
        "rmse_mcse",
        "median_abs_error",
        "median_abs_error_mcse",
        "iqr",
        "iqr_mcse",
        "far",
        "far_mcse",
        "far_low",
        "far_high",
        "coverage",
        "coverage_mcse",
        "coverage_low",
        "coverage_high",
        "ci_width",
        "ci_width_mcse",
        "power",
        "power_mcse",
        "power_low",
        "power_high",
        "ar_coverage",
        "ar_coverage_mcse",
        "ar_coverage_low",
        "ar_coverage_high",
        "ar_unbounded",
        "ar_unbounded_mcse",
        "ar_unbounded_low",
        "ar_unbounded_high",
        "iate_rmse",
        "iate_rmse_mcse",
        "iate_coverage",
        "iate_coverage_mcse",
        "iate_corr",
        "iate_corr_mcse",
    ];
    assert_eq!(header, expected);
    assert_eq!(rows, 8);
    assert_full_fit_csvs(dir);
}

/// The full report's diagnostics and raw estimates.
fn assert_full_fit_csvs(dir: &Path) {
    let axes = ["instrument.strength", "compliance.defiers"];
    let (header, rows) = csv_shape(&dir.join("diagnostics.csv"));
    assert_eq!(header[..4], ["cell", axes[0], axes[1], "estimator"]);
    assert!(header.iter().any(|h| h == "first_stage_f"));
    assert_eq!(rows, 8);
    let (header, rows) = csv_shape(&dir.join("estimates.csv"));
    let expected = [
        "cell",
        "replication",
        "estimator",
        "estimand",
        "truth",
        "estimate",
        "se",
        "ci_lower",
        "ci_upper",
        "error",
    ];
    assert_eq!(header, expected);
    assert_eq!(rows, 40);
}

/// A report of linear estimators only: no per-unit section, table or figures.
fn assert_no_iate(dir: &Path, html: &str) {
    assert!(!html.contains("id=\"iate\"") && !html.contains("iate.csv"));
    assert!(!html.contains("per-unit"));
    assert!(!dir.join("iate.csv").exists());
    // The per-unit columns of diagnosands.csv are there, but empty.
    let mut reader = csv::Reader::from_path(dir.join("diagnosands.csv")).expect("csv opens");
    let at = reader
        .headers()
        .expect("header")
        .iter()
        .position(|h| h == "iate_rmse")
        .expect("iate_rmse column");
    for record in reader.records() {
        let record = record.expect("row");
        assert!((at..at + 6).all(|i| record[i].is_empty()));
    }
}

const FOREST_SIM: &str = r#"kind = "iv"
n = 300
covariates = 2
tau = "1 + x1"
"#;

const FOREST_EXPERIMENT: &str = r#"sim = "sim.toml"
replications = 3
seed = 2
[sweep]
"instrument.strength" = [0.3, 0.6]
[[estimators]]
kind = "difference_in_means"
[[estimators]]
kind = "causal_forest"
num_trees = 20
nuisance_trees = 10
ci_group_size = 2
"#;

#[test]
fn forests_get_a_per_unit_section_table_and_figures() {
    let (root, experiment) = setup_with("forest", FOREST_SIM, FOREST_EXPERIMENT);
    let dir = root.join("out");
    run_into(&experiment, &dir, None);
    let html = std::fs::read_to_string(render(&dir).expect("renders")).expect("index.html");

    for text in [
        "<h2 id=\"iate\">Per-unit effects</h2>",
        "href=\"#iate\"",
        "href=\"iate.csv\"",
        "E[tau | x, complier]",
    ] {
        assert!(html.contains(text), "missing {text}");
    }
    // Per axis: the eight plotted diagnosands, then the three per-unit
    // ones; and the distribution.
    assert_eq!(html.matches("<svg").count(), 8 + 3 + 1);
    for key in ["iate_rmse", "iate_coverage", "iate_corr"] {
        assert!(
            html.contains(&format!("id=\"plot-0-{key}\"")),
            "no {key} figure"
        );
    }

    let (header, rows) = csv_shape(&dir.join("iate.csv"));
    let expected = [
        "cell",
        "instrument.strength",
        "estimator",
        "estimand",
        "iate_rmse",
        "iate_rmse_mcse",
        "iate_coverage",
        "iate_coverage_mcse",
        "iate_corr",
        "iate_corr_mcse",
    ];
    assert_eq!(header, expected);
    assert_eq!(rows, 2, "two cells, one forest");
    let mut reader = csv::Reader::from_path(dir.join("iate.csv")).expect("csv opens");
    for record in reader.records() {
        let record = record.expect("row");
        assert_eq!(&record[2], "causal_forest");
        let rmse: f64 = record[4].parse().expect("an RMSE");
        let coverage: f64 = record[6].parse().expect("a coverage");
        assert!(rmse > 0.0 && (0.0..=1.0).contains(&coverage));
    }
    // diagnosands.csv has them for the forest only.
    let mut reader = csv::Reader::from_path(dir.join("diagnosands.csv")).expect("csv opens");
    let at = reader.headers().expect("header").len() - 6;
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 4);
    for row in rows {
        let forest = &row[2] == "causal_forest";
        assert!((at..at + 6).all(|i| row[i].is_empty() != forest), "{row:?}");
    }
    let _ = std::fs::remove_dir_all(&root);

    // Nothing swept: the per-unit figures place the forest alone on x.
    let unswept = FOREST_EXPERIMENT.replace(
        "[sweep]\n\"instrument.strength\" = [0.3, 0.6]",
        "[overrides]",
    );
    let (root, experiment) = setup_with("forest-unswept", FOREST_SIM, &unswept);
    assert!(experiment.axes.is_empty());
    let dir = root.join("out");
    run_into(&experiment, &dir, None);
    let html = std::fs::read_to_string(render(&dir).expect("renders")).expect("index.html");
    assert_eq!(html.matches("<svg").count(), 8 + 3 + 1);
    assert!(html.contains("id=\"plot-iate_corr\""));
    let (_, rows) = csv_shape(&dir.join("iate.csv"));
    assert_eq!(rows, 1);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn report_without_records_renders() {
    let (root, experiment) = setup("empty");
    let dir = root.join("out");
    run_into(&experiment, &dir, Some(0));
    let html = std::fs::read_to_string(render(&dir).expect("renders")).expect("index.html");
    assert!(html.contains("0 of 20 tasks recorded"));
    assert!(html.contains("not run yet"));
    assert_eq!(html.matches("<svg").count(), 0);
    let (_, rows) = csv_shape(&dir.join("cells.csv"));
    assert_eq!(rows, 4);
    let (_, rows) = csv_shape(&dir.join("estimates.csv"));
    assert_eq!(rows, 0);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn partial_run_shows_pending_cells() {
    let (root, experiment) = setup("partial");
    let dir = root.join("out");
    run_into(&experiment, &dir, Some(7));
    let html = std::fs::read_to_string(render(&dir).expect("renders")).expect("index.html");
    assert!(html.contains("7 of 20 tasks recorded"));
    assert!(html.contains("not run yet"));
    assert_eq!(html.matches("<svg").count(), 2 * 8 + 1);
    let (_, rows) = csv_shape(&dir.join("diagnosands.csv"));
    assert_eq!(rows, 2 * 2, "two cells have records, two estimators each");
    assert_no_iate(&dir, &html);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn text_axes_and_unswept_experiments_plot() {
    let text_axis = EXPERIMENT.replace(
        "\"compliance.defiers\" = [0.0, 0.2]",
        "tau = [\"1\", \"1 + x1\", \"2 * x2\"]",
    );
    let (root, experiment) = setup_with("text", SIM, &text_axis);
    let dir = root.join("out");
    run_into(&experiment, &dir, None);
    let html = std::fs::read_to_string(render(&dir).expect("renders")).expect("index.html");
    assert_eq!(html.matches("<svg").count(), 2 * 8 + 1);
    // The formula values label the x axis at equal spacing, and title panels.
    assert!(html.contains("\n1 + x1\n") && html.contains("tau = 2 * x2"));
    let _ = std::fs::remove_dir_all(&root);

    let unswept = EXPERIMENT
        .replace("[sweep]", "[overrides]")
        .replace("\"compliance.defiers\" = [0.0, 0.2]", "");
    let unswept = unswept.replace("\"instrument.strength\" = [0.3, 0.6]", "");
    let (root, experiment) = setup_with("unswept", SIM, &unswept);
    assert!(experiment.axes.is_empty());
    let dir = root.join("out");
    run_into(&experiment, &dir, None);
    let html = std::fs::read_to_string(render(&dir).expect("renders")).expect("index.html");
    assert_eq!(
        html.matches("<svg").count(),
        8 + 1,
        "one figure per plotted diagnosand, and the distribution"
    );
    assert!(html.contains("across estimators"));
    assert_no_iate(&dir, &html);
    let (_, rows) = csv_shape(&dir.join("diagnosands.csv"));
    assert_eq!(rows, 2);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn sections_have_distinct_ids() {
    let mut ids: Vec<&str> = super::SECTIONS.iter().map(|s| s.id()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        super::SECTIONS.len(),
        "each id names one partial"
    );
}

#[test]
fn folder_without_manifest_is_an_error() {
    let root = std::env::temp_dir().join(format!("causim-report-{}-none", std::process::id()));
    std::fs::create_dir_all(&root).expect("temp folder");
    assert!(render(&root).is_err());
    let _ = std::fs::remove_dir_all(&root);
}
