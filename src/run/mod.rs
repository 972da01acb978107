//! The runner: expands an experiment into tasks, runs them in parallel with a
//! progress bar, appends each result to the store, and resumes interrupted runs.

mod policies;
mod store;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

pub use store::{
    load_records, results_path, AllocationResult, EstimatorResult, Iate, PolicyResult, Record,
    Writer,
};

use crate::core::seed;
use crate::paper::PaperResult;
use crate::sim::Sim;
use crate::spec::Experiment;
use crate::{Error, Result};

/// The file in a report folder that records the experiment as run.
pub const MANIFEST: &str = "experiment.json";

/// One slice of a sweep for a cluster job: tasks with index % count == index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard's number, 0-based.
    pub index: usize,
    /// How many shards the sweep is split into.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("shard `{s}` must be K/N with 0 <= K < N, e.g. 0/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// One (cell, replication): one sample, every estimator on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    /// Global index: cell × replications + replication.
    pub index: usize,
    /// Cell index.
    pub cell: usize,
    /// Replication index.
    pub replication: usize,
}

/// Every task of an experiment, in index order.
pub fn tasks(experiment: &Experiment) -> Vec<Task> {
    let r = experiment.replications;
    (0..experiment.cells.len() * r)
        .map(|index| Task {
            index,
            cell: index / r,
            replication: index % r,
        })
        .collect()
}

/// How to run an experiment.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Report folder (results, manifest, report).
    pub out: PathBuf,
    /// Worker threads; all cores when `None`.
    pub jobs: Option<usize>,
    /// Run only this shard of the tasks.
    pub shard: Option<Shard>,
    /// Discard earlier results in `out` instead of resuming.
    pub fresh: bool,
    /// Stop after this many new tasks (for a quick look; a rerun resumes).
    pub max_tasks: Option<usize>,
    /// Show a progress bar on the terminal.
    pub progress: bool,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// Tasks in this run's share of the experiment.
    pub total: usize,
    /// Tasks already recorded, skipped.
    pub skipped: usize,
    /// Tasks run now.
    pub ran: usize,
}

/// Runs one task: draws the sample, fits every estimator on it and, with
/// `[paper]`, runs the paper's pipeline (a failure is recorded, not raised).
pub fn run_task(experiment: &Experiment, sims: &[Box<dyn Sim>], task: Task) -> Result<Record> {
    let seed = seed::task_seed(experiment.seed, task.replication);
    let sim = &sims[task.cell];
    let mut sample = sim.generate(seed)?;
    let mut forests = BTreeMap::new();
    let fits: Vec<Result<crate::estimate::Estimate>> = experiment
        .estimators
        .iter()
        .map(|named| {
            let est_seed = seed::estimator_seed(seed, &named.name);
            let fitted = if experiment
                .policies
                .iter()
                .any(|p| p.estimator.as_deref() == Some(named.name.as_str()))
            {
                named
                    .spec
                    .fit_with_forest(&sample.data, est_seed)
                    .map(|(estimate, forest)| {
                        if let Some(forest) = forest {
                            forests.insert(named.name.clone(), forest);
                        }
                        estimate
                    })
            } else {
                named.spec.estimator().fit(&sample.data, est_seed)
            };
            // Results are finite numbers: a NaN or infinite estimate is a failed fit.
            fitted.and_then(|mut e| {
                e.diagnostics.retain(|_, v| v.is_finite());
                let finite = [e.estimate, e.se, e.ci_lower, e.ci_upper]
                    .iter()
                    .all(|v| v.is_finite());
                if finite {
                    Ok(e)
                } else {
                    Err(Error::Estimate(format!(
                        "{} gave a non-finite estimate ({} with SE {})",
                        named.spec.kind(),
                        e.estimate,
                        e.se
                    )))
                }
            })
        })
        .collect();
    let per_unit = fits
        .iter()
        .any(|f| f.as_ref().is_ok_and(|e| e.units.is_some()));
    if per_unit || experiment.paper.is_some() {
        sim.add_conditional_truth(&mut sample)?;
    }
    let (paper, paper_error) = match &experiment.paper {
        Some(spec) => match crate::paper::run(&sample, spec, seed::estimator_seed(seed, "paper")) {
            Ok(mut result) => {
                drop_non_finite(&mut result);
                (Some(result), None)
            }
            Err(e) => (None, Some(e.to_string())),
        },
        None => (None, None),
    };
    let policies = policies::run(experiment, &sample, &forests, &fits);
    let allocations = policies::allocations(experiment, &sample, &fits, seed);
    let results = experiment
        .estimators
        .iter()
        .zip(fits)
        .map(|(named, fitted)| match fitted {
            Ok(mut estimate) => {
                let units = estimate.units.take();
                let truth = sample.truth.conditional(named.spec.estimator().estimand());
                let iate = units
                    .zip(truth)
                    .and_then(|(u, t)| Iate::measure(&u.tau, &u.se, t));
                EstimatorResult {
                    estimator: named.name.clone(),
                    estimate: Some(estimate),
                    error: None,
                    iate,
                }
            }
            Err(e) => EstimatorResult {
                estimator: named.name.clone(),
                estimate: None,
                error: Some(e.to_string()),
                iate: None,
            },
        })
        .collect();
    Ok(Record {
        cell: task.cell,
        replication: task.replication,
        seed,
        truth: sample.truth.values,
        results,
        paper,
        paper_error,
        policies,
        allocations,
    })
}

/// Blanks the paper pipeline's undefined numbers (a NaN or infinite value
/// becomes `None`, such a point of a figure is left out): JSON has no NaN,
/// and a record must read back as written.
fn drop_non_finite(result: &mut PaperResult) {
    for row in result.tables.iter_mut().flat_map(|t| &mut t.rows) {
        for value in [
            &mut row.published,
            &mut row.estimated,
            &mut row.se,
            &mut row.truth,
        ] {
            *value = value.filter(|v| v.is_finite());
        }
    }
    for line in result
        .figures
        .iter_mut()
        .flat_map(|f| &mut f.panels)
        .flat_map(|p| &mut p.lines)
    {
        line.retain(|[x, y]| x.is_finite() && y.is_finite());
    }
}

/// A stable hash of what determines the results (sims per cell, estimators,
/// seed, and the paper's settings and the policies and allocations when
/// there are any): a
/// rerun may resume only results with the same fingerprint. The replication
/// count is left out, so a sweep can be extended by raising it; an
/// experiment without `[paper]` or `[[policies]]` hashes as it did before
/// those sections existed.
pub fn fingerprint(experiment: &Experiment) -> Result<u64> {
    let sims: Vec<_> = experiment.cells.iter().map(|c| &c.sim).collect();
    let (estimators, seed) = (&experiment.estimators, experiment.seed);
    let (policies, allocations) = (&experiment.policies, &experiment.allocations);
    let text = match (
        &experiment.paper,
        policies.is_empty(),
        allocations.is_empty(),
    ) {
        (None, true, true) => serde_json::to_string(&(sims, estimators, seed)),
        (Some(paper), true, true) => serde_json::to_string(&(sims, estimators, seed, paper)),
        (paper, false, true) => serde_json::to_string(&(sims, estimators, seed, paper, policies)),
        (paper, _, false) => {
            serde_json::to_string(&(sims, estimators, seed, paper, policies, allocations))
        }
    }
    .map_err(|e| Error::Store(format!("cannot fingerprint the experiment: {e}")))?;
    Ok(seed::fnv1a(text.as_bytes()))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    fingerprint: u64,
    experiment: Experiment,
}

/// Reads the experiment recorded in a report folder.
pub fn read_manifest(dir: &Path) -> Result<Experiment> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::Store(format!(
            "{}: {e}; is `{}` a folder written by `causim run`?",
            path.display(),
            dir.display()
        ))
    })?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| Error::Store(format!("{}: not a causim manifest ({e})", path.display())))?;
    Ok(manifest.experiment)
}

/// Checks that `dir` holds no results of a different experiment (or clears
/// them when `fresh`), then records this experiment's manifest.
fn prepare(dir: &Path, experiment: &Experiment, fresh: bool) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(MANIFEST);
    let print = fingerprint(experiment)?;
    if fresh {
        for entry in std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .flatten()
        {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("results") && name.ends_with(".jsonl") {
                std::fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            }
        }
    } else if let Ok(text) = std::fs::read_to_string(&path) {
        let old: Option<Manifest> = serde_json::from_str(&text).ok();
        if old.as_ref().is_none_or(|m| m.fingerprint != print) && !load_records(dir)?.is_empty() {
            return Err(Error::Store(format!(
                "{} holds results of a different experiment (its sim, sweep, estimators, paper settings or seed changed); \
                 rerun with --fresh to discard them, or write elsewhere with --out",
                dir.display()
            )));
        }
    }
    let manifest = Manifest {
        fingerprint: print,
        experiment: experiment.clone(),
    };
    let text = serde_json::to_string_pretty(&manifest)
        .map_err(|e| Error::Store(format!("cannot encode the manifest: {e}")))?;
    // Shards of one sweep start together: write aside, then rename atomically.
    let tmp = dir.join(format!("{MANIFEST}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
}

/// Runs an experiment (or one shard of it) into `options.out`, skipping tasks
/// already recorded there.
pub fn run(experiment: &Experiment, options: &RunOptions) -> Result<RunSummary> {
    prepare(&options.out, experiment, options.fresh)?;
    let sims = experiment
        .cells
        .iter()
        .map(|c| c.sim.build())
        .collect::<Result<Vec<_>>>()?;
    let done: HashSet<(usize, usize)> = load_records(&options.out)?
        .iter()
        .map(|r| (r.cell, r.replication))
        .collect();
    let mine: Vec<Task> = tasks(experiment)
        .into_iter()
        .filter(|t| options.shard.is_none_or(|s| t.index % s.count == s.index))
        .collect();
    let total = mine.len();
    let mut todo: Vec<Task> = mine
        .into_iter()
        .filter(|t| !done.contains(&(t.cell, t.replication)))
        .collect();
    let skipped = total - todo.len();
    if let Some(max) = options.max_tasks {
        todo.truncate(max);
    }

    let writer = Writer::open(&results_path(&options.out, options.shard))?;
    let bar = progress_bar(todo.len(), skipped, options.progress);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.unwrap_or(0))
        .build()
        .map_err(|e| Error::Store(format!("cannot start worker threads: {e}")))?;
    let started = Instant::now();
    pool.install(|| {
        todo.par_iter().try_for_each(|task| {
            let record = run_task(experiment, &sims, *task)?;
            writer.append(&record)?;
            bar.inc(1);
            Ok::<(), Error>(())
        })
    })?;
    writer.flush()?;
    bar.finish_with_message(format!("in {:.1} s", started.elapsed().as_secs_f64()));
    Ok(RunSummary {
        total,
        skipped,
        ran: todo.len(),
    })
}

fn progress_bar(len: usize, skipped: usize, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    let style = ProgressStyle::with_template(
        "{prefix}[{elapsed_precise}] {wide_bar:.cyan/blue} {pos}/{len} tasks ({per_sec}, ETA {eta}) {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    if skipped > 0 {
        bar.set_prefix(format!("resuming ({skipped} done) "));
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paper::{PaperFigure, PaperPanel, PaperRow, PaperTable};

    #[test]
    fn undefined_paper_numbers_are_dropped_so_records_read_back() {
        let mut result = PaperResult {
            tables: vec![PaperTable {
                id: "table_3".into(),
                title: "Table 3".into(),
                note: String::new(),
                rows: vec![PaperRow {
                    label: "ATE".into(),
                    published: Some(-0.02),
                    estimated: Some(f64::NAN),
                    se: Some(f64::INFINITY),
                    truth: None,
                }],
            }],
            figures: vec![PaperFigure {
                diagonal: false,
                id: "figure_4".into(),
                title: "Figure 4".into(),
                x_label: "x".into(),
                y_label: "y".into(),
                categories: None,
                series: vec!["a".into()],
                panels: vec![PaperPanel {
                    title: None,
                    lines: vec![vec![[0.0, 1.0], [1.0, f64::NAN], [2.0, 3.0]]],
                }],
            }],
        };
        drop_non_finite(&mut result);
        let row = &result.tables[0].rows[0];
        assert_eq!(
            (row.published, row.estimated, row.se),
            (Some(-0.02), None, None)
        );
        assert_eq!(
            result.figures[0].panels[0].lines[0],
            [[0.0, 1.0], [2.0, 3.0]]
        );
        let json = serde_json::to_string(&result).expect("encodes");
        let back: PaperResult = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, result);
    }
}
