//! Golden runs: three small experiments (`tests/golden/*.toml`) that cover
//! every stage (estimators, the paper's pipeline, placement and allocation
//! policies) are run afresh and their report's CSV files compared byte for
//! byte with the committed copies. A change to the code that alters any
//! number a report shows fails here; a change that is meant to alter them
//! rewrites the copies with `causim run tests/golden/NAME.toml --out DIR`
//! and says why in its commit.

mod common;

use std::path::Path;

/// Runs `tests/golden/{name}.toml` into a scratch folder and compares every
/// CSV of its report with `tests/golden/{name}/`, in both directions.
fn check(name: &str) {
    let out = common::run_golden(name, &format!("golden_{name}"));
    let golden = common::golden_spec(name).with_extension("");
    let csvs = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("a report folder")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".csv"))
            .collect();
        names.sort();
        names
    };
    assert_eq!(csvs(&out), csvs(&golden), "{name}: the report's CSV files");
    for file in csvs(&golden) {
        let want = std::fs::read_to_string(golden.join(&file)).expect("golden copy");
        let got = std::fs::read_to_string(out.join(&file)).expect("rendered copy");
        for (line, (w, g)) in want.lines().zip(got.lines()).enumerate() {
            assert_eq!(g, w, "{name}/{file}, line {}", line + 1);
        }
        assert_eq!(got.lines().count(), want.lines().count(), "{name}/{file}");
    }
}

#[test]
fn quickstart_diagnosands_are_unchanged() {
    check("quickstart");
}

#[test]
fn paper_pipeline_and_placement_policies_are_unchanged() {
    check("paper");
}

#[test]
fn allocation_policies_are_unchanged() {
    check("allocation");
}
