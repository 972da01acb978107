//! The runner: expands an experiment into tasks, runs each task's stages
//! in parallel, appends each record to the store, and resumes interrupted
//! runs. It names no stage: [`crate::stage::build`] lists them, and each
//! stage stores its outcome under its own name. Progress is reported to an
//! [`Observe`]r, never drawn here.
//!
//! A run holds its folder's [`FolderLock`] from before it reads the folder
//! until its last record is written: the folder alone, or, for a shard,
//! the folder shared with the other shards and the shard alone.

mod observe;

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;

pub use observe::{rate, Observe, ProgressBarObserver, Silent};

use crate::core::seed;
use crate::record::{
    is_results_file, load_records_of, read_manifest, results_path, write_manifest, Access,
    FolderLock, Manifest, Provenance, Record, Shard, Writer, MANIFEST,
};
use crate::sim::Sim;
use crate::spec::Experiment;
use crate::stage::{Stage, TaskState};
use crate::{Error, Result};

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
    /// Discard earlier results in `out` instead of resuming (every shard's:
    /// a fresh run, sharded or not, takes the folder alone).
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

/// Runs one task: draws the sample and runs every stage on it in order,
/// each outcome stored under its stage's name.
pub fn run_task(
    stages: &[Box<dyn Stage>],
    sims: &[Box<dyn Sim>],
    task: Task,
    experiment_seed: u64,
) -> Result<Record> {
    let seed = seed::task_seed(experiment_seed, task.replication);
    let sim = sims[task.cell].as_ref();
    let sample = sim.sample(seed)?;
    let mut state = TaskState::new(sim, sample, seed);
    let mut outcomes = std::collections::BTreeMap::new();
    for stage in stages {
        outcomes.insert(stage.name().to_string(), stage.run(&mut state)?);
    }
    // A truth that is not finite cannot be stored; the estimators stage has
    // recorded why the estimators that target it could not be judged.
    let mut truth = state.sample.truth.values;
    truth.retain(|_, value| value.is_finite());
    Ok(Record {
        cell: task.cell,
        replication: task.replication,
        seed,
        truth,
        stages: outcomes,
    })
}

/// A stable hash of what determines the results: the sim of every cell,
/// the seed, and each stage's settings under its name. A rerun may resume
/// only results with the same fingerprint. The replication count is left
/// out, so a sweep can be extended by raising it.
pub fn fingerprint(experiment: &Experiment, stages: &[Box<dyn Stage>]) -> Result<u64> {
    let (sims, stages) = pieces(experiment, stages)?;
    hash(&(sims, experiment.seed, stages))
}

/// What a fingerprint is made of: every cell's sim, and each stage's name
/// with its settings.
type Pieces<'a> = (
    Vec<&'a crate::spec::SimSpec>,
    Vec<(&'static str, serde_json::Value)>,
);

/// The [`Pieces`] of an experiment, which the whole fingerprint and the
/// fingerprint of each part both hash.
fn pieces<'a>(experiment: &'a Experiment, stages: &[Box<dyn Stage>]) -> Result<Pieces<'a>> {
    let sims = experiment.cells.iter().map(|c| &c.sim).collect();
    let stages = stages
        .iter()
        .map(|s| Ok((s.name(), s.fingerprint()?)))
        .collect::<Result<Vec<_>>>()?;
    Ok((sims, stages))
}

/// A stable hash of a value's JSON text.
fn hash<T: serde::Serialize + ?Sized>(value: &T) -> Result<u64> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::Store(format!("cannot fingerprint the experiment: {e}")))?;
    Ok(seed::fnv1a(text.as_bytes()))
}

/// The fingerprint of each part of an experiment: `sims` (every cell's
/// sim: the sim file, the overrides and the sweep), `seed`, and each stage's
/// settings under its name. The manifest keeps them so that a refused rerun
/// can name what changed.
pub fn fingerprint_parts(
    experiment: &Experiment,
    stages: &[Box<dyn Stage>],
) -> Result<std::collections::BTreeMap<String, u64>> {
    let (sims, stages) = pieces(experiment, stages)?;
    let mut parts = std::collections::BTreeMap::new();
    parts.insert("sims".to_string(), hash(&sims)?);
    parts.insert("seed".to_string(), experiment.seed);
    for (name, settings) in &stages {
        parts.insert(name.to_string(), hash(settings)?);
    }
    Ok(parts)
}

/// The parts of the experiment that differ between an old manifest and a
/// new one, in words; "its sim, sweep, stages or seed" when the old one
/// does not say (a folder of an older build).
fn changed_parts(old: &Manifest, new: &Manifest) -> String {
    if old.parts.is_empty() {
        return "its sim, sweep, stages or seed".to_string();
    }
    let keys: std::collections::BTreeSet<&String> =
        old.parts.keys().chain(new.parts.keys()).collect();
    let changed: Vec<String> = keys
        .into_iter()
        .filter(|k| old.parts.get(*k) != new.parts.get(*k))
        .map(|k| match k.as_str() {
            "sims" => "its sims (the sim file, [overrides] or [sweep])".to_string(),
            "seed" => "its seed".to_string(),
            stage if !old.parts.contains_key(stage) => format!("the `{stage}` stage was added"),
            stage if !new.parts.contains_key(stage) => format!("the `{stage}` stage was removed"),
            stage => format!("the `{stage}` settings"),
        })
        .collect();
    if changed.is_empty() {
        "the causim that wrote it".to_string()
    } else {
        changed.join(", ")
    }
}

/// Checks that `dir` holds no results of a different experiment (or clears
/// them when `fresh`), reads the records already there, then records this
/// experiment's manifest. The caller holds the folder's lock.
fn prepare(dir: &std::path::Path, manifest: &Manifest, fresh: bool) -> Result<Vec<Record>> {
    if fresh {
        for entry in std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .flatten()
        {
            if is_results_file(&entry.file_name().to_string_lossy()) {
                std::fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            }
        }
    } else if dir.join(MANIFEST).exists() {
        let changed = match read_manifest(dir) {
            Ok(old) => {
                (old.fingerprint != manifest.fingerprint).then(|| changed_parts(&old, manifest))
            }
            Err(e) if has_results(dir)? => return Err(e),
            Err(_) => None,
        };
        if let Some(changed) = changed {
            if has_results(dir)? {
                return Err(Error::Store(format!(
                    "{} holds results of a different experiment (changed: {changed}); rerun \
                     with --fresh to discard them, or write elsewhere with --out",
                    dir.display()
                )));
            }
        }
    }
    let records = load_records_of(dir, manifest.fingerprint)?;
    write_manifest(dir, manifest)?;
    Ok(records)
}

/// Whether `dir` holds any results file with a line in it.
fn has_results(dir: &std::path::Path) -> Result<bool> {
    Ok(std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
        .any(|entry| {
            is_results_file(&entry.file_name().to_string_lossy())
                && entry.metadata().is_ok_and(|m| m.len() > 0)
        }))
}

/// Runs an experiment (or one shard of it) into `options.out`, skipping tasks
/// already recorded there, with a progress bar when `options.progress`.
pub fn run(experiment: &Experiment, options: &RunOptions) -> Result<RunSummary> {
    if options.progress {
        run_observed(experiment, options, &ProgressBarObserver::default())
    } else {
        run_observed(experiment, options, &Silent)
    }
}

/// Runs an experiment like [`run`], telling `observer` what happens.
pub fn run_observed(
    experiment: &Experiment,
    options: &RunOptions,
    observer: &dyn Observe,
) -> Result<RunSummary> {
    let stages = crate::stage::build(experiment)?;
    let print = fingerprint(experiment, &stages)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.unwrap_or(0))
        .build()
        .map_err(|e| Error::Store(format!("cannot start worker threads: {e}")))?;
    let mut manifest = Manifest::new(print, experiment)?;
    manifest.parts = fingerprint_parts(experiment, &stages)?;
    manifest.provenance = Provenance::now(pool.current_num_threads());
    let sims = experiment
        .cells
        .iter()
        .map(|c| c.sim.build())
        .collect::<Result<Vec<_>>>()?;
    let dir = &options.out;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let access = match options.shard {
        Some(shard) if !options.fresh => Access::Shard(shard),
        _ => Access::Run,
    };
    let _lock = FolderLock::acquire(dir, access)?;
    let done: HashSet<(usize, usize)> = prepare(dir, &manifest, options.fresh)?
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

    let writer = Writer::with_fingerprint(&results_path(dir, options.shard), print)?;
    observer.started(todo.len(), skipped);
    let started = Instant::now();
    pool.install(|| {
        todo.par_iter().try_for_each(|task| {
            let record = run_task(&stages, &sims, *task, experiment.seed)?;
            writer.append(&record)?;
            observer.finished_task(&record);
            Ok::<(), Error>(())
        })
    })?;
    writer.flush()?;
    manifest.provenance.wall_seconds = started.elapsed().as_secs_f64();
    write_manifest(dir, &manifest)?;
    observer.finished(started.elapsed());
    Ok(RunSummary {
        total,
        skipped,
        ran: todo.len(),
    })
}
