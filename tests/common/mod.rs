//! Helpers shared by the integration tests: scratch folders and spec files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A fresh, empty folder under cargo's target tmp dir, named after the test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch folder");
    dir
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write spec file");
    path
}

/// A small IV sim file for runner tests.
pub const SMALL_SIM: &str = r#"
kind = "iv"
n = 300
covariates = 3
tau = "1 + x1"
baseline = "x2"
[instrument]
strength = 0.5
"#;

/// A small two-axis experiment over `sim.toml`.
pub const SMALL_EXPERIMENT: &str = r#"
sim = "sim.toml"
replications = 6
seed = 42
[sweep]
"instrument.strength" = [0.3, 0.6]
"compliance.defiers" = [0.0, 0.2]
[[estimators]]
name = "naive"
kind = "difference_in_means"
[[estimators]]
name = "2sls"
kind = "two_stage_least_squares"
"#;

/// The causim binary built for this test run.
pub fn causim() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_causim"))
}

/// The spec of the golden run `name`: `tests/golden/{name}.toml`.
pub fn golden_spec(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.toml"))
}

/// Runs the golden run `name` afresh with the causim binary into the
/// scratch folder `folder` and returns that folder, its report rendered.
pub fn run_golden(name: &str, folder: &str) -> PathBuf {
    let out = scratch(folder);
    let spec = golden_spec(name);
    let status = causim()
        .args(["run", "--jobs", "2", "--fresh", "--out"])
        .arg(&out)
        .arg(&spec)
        .status()
        .expect("causim runs");
    assert!(status.success(), "causim run {} failed", spec.display());
    out
}

/// Mean estimate, SD of the estimates, mean SE and 95% coverage of `truth`.
pub struct Summary {
    pub mean: f64,
    pub sd: f64,
    pub mean_se: f64,
    pub coverage: f64,
}

/// Summarizes replicated estimates against the truth they target.
pub fn summarize(estimates: &[causim::estimate::Estimate], truth: f64) -> Summary {
    let r = estimates.len() as f64;
    let mean = estimates.iter().map(|e| e.estimate).sum::<f64>() / r;
    let sd = (estimates
        .iter()
        .map(|e| (e.estimate - mean).powi(2))
        .sum::<f64>()
        / (r - 1.0))
        .sqrt();
    let mean_se = estimates.iter().map(|e| e.se).sum::<f64>() / r;
    let coverage = estimates
        .iter()
        .filter(|e| e.ci_lower <= truth && truth <= e.ci_upper)
        .count() as f64
        / r;
    Summary {
        mean,
        sd,
        mean_se,
        coverage,
    }
}

/// Runs every task of `experiment` afresh into `out` on two threads, without
/// a progress bar, and returns the records it wrote.
pub fn run_fresh(experiment: &causim::spec::Experiment, out: &Path) -> Vec<causim::record::Record> {
    causim::run::run(
        experiment,
        &causim::run::RunOptions {
            out: out.to_path_buf(),
            jobs: Some(2),
            shard: None,
            fresh: true,
            max_tasks: None,
            progress: false,
        },
    )
    .expect("runs");
    causim::record::load_records(out).expect("records")
}

/// The error of loading `experiment` with `sim` written beside it as
/// sim.toml, in a scratch folder named `name`; panics when it loads.
pub fn experiment_error(name: &str, sim: &str, experiment: &str) -> String {
    let dir = scratch(name);
    write(&dir, "sim.toml", sim);
    let path = write(&dir, "experiment.toml", experiment);
    match causim::spec::Experiment::load(&path) {
        Ok(_) => panic!("{name}: expected an error"),
        Err(e) => e.to_string(),
    }
}

/// Asserts that `message` contains every one of `parts`.
pub fn assert_has(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "`{part}` missing from: {message}");
    }
}

/// The paper's pipeline with forests of `trees` trees on the sample of
/// `world` drawn with `seed`, its conditional truth added.
pub fn paper_pipeline(
    world: causim::sim::hospital::HospitalWorld,
    trees: usize,
    seed: u64,
) -> causim::paper::PaperResult {
    use causim::sim::Sim;
    let sim = world.build().expect("valid world");
    let mut sample = sim.generate(seed).expect("sample");
    sim.add_conditional_truth(&mut sample).expect("truth");
    let spec = causim::paper::PaperSpec {
        forest: causim::estimate::forest::ForestParams {
            num_trees: trees,
            ..Default::default()
        },
        ..Default::default()
    };
    causim::paper::run(&sample, &spec, seed).expect("pipeline")
}

/// Every horizontal `<text>` of every SVG in `html` lies inside its SVG's
/// width by the text-width estimate the plots are laid out with
/// ([`causim::report::plot::text_width_px`]): no title, legend or label is clipped.
pub fn assert_text_fits(html: &str) {
    let number = |tag: &str, name: &str| -> f64 {
        let key = format!(" {name}=\"");
        let at = tag.find(&key).map(|at| at + key.len());
        at.and_then(|at| tag[at..].split('"').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {tag}"))
    };
    for svg in html.split("<svg ").skip(1) {
        let svg = svg.split("</svg>").next().unwrap_or_default();
        let width = number(&format!(" {svg}"), "width");
        for text in svg.split("<text ").skip(1) {
            let (tag, rest) = text.split_once('>').expect("a text element");
            let tag = format!(" {tag}");
            if tag.contains("transform=") {
                continue; // an axis label turned upright
            }
            let content = rest.split("</text>").next().unwrap_or_default().trim();
            let w = causim::report::plot::text_width_px(content, number(&tag, "font-size"));
            let x = number(&tag, "x");
            let (left, right) = if tag.contains("text-anchor=\"middle\"") {
                (x - w / 2.0, x + w / 2.0)
            } else if tag.contains("text-anchor=\"end\"") {
                (x - w, x)
            } else {
                (x, x + w)
            };
            assert!(
                left >= 0.0 && right <= width,
                "{content:?} spans {left:.0}..{right:.0} of an SVG {width} wide"
            );
        }
    }
}

/// Each policy's summary from one record's decoded outcomes; panics when the
/// record cannot be read or any policy failed, naming its error.
pub fn summaries<S>(outcomes: causim::Result<Vec<causim::stage::PolicyOutcome<S>>>) -> Vec<S> {
    outcomes
        .expect("readable results")
        .into_iter()
        .map(|p| {
            assert!(p.error.is_none(), "{:?}", p.error);
            p.summary.expect("a summary")
        })
        .collect()
}
