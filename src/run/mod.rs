//! The runner: expands an experiment into tasks, runs each task's stages
//! in parallel, appends what each produced to the store, and resumes
//! interrupted runs. A task's parts (each estimator, each policy) are run
//! only when the store lacks their outcome, so a changed experiment reruns
//! only what changed ([`Plan`]). It names no stage: [`crate::stage::build`]
//! lists them, and each stage stores its outcomes under its own name.
//! Progress is reported to an [`Observe`]r, never drawn here.
//!
//! A run holds its folder's [`FolderLock`] from before it reads the folder
//! until its last record is written: the folder alone, or, for a shard,
//! the folder shared with the other shards and the shard alone.

mod observe;

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;

pub use observe::{rate, Observe, ProgressBarObserver, Silent, Start};

use crate::core::seed;
use crate::record::{
    is_results_file, load_stored, read_manifest, results_path, write_manifest, Access, FolderLock,
    Layout, Manifest, PartKey, PartOutcome, Piece, Provenance, Shard, StageLayout, Stored, Writer,
    MANIFEST,
};
use crate::sim::Sim;
use crate::spec::Experiment;
use crate::stage::{Stage, TaskState};
use crate::{Error, Result};

/// One (cell, replication): one sample, every stage's parts on it.
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
    /// Tasks with every part recorded, skipped.
    pub skipped: usize,
    /// Tasks run now, whole or in part.
    pub ran: usize,
    /// Of those, tasks that ran only the parts not recorded yet (an
    /// estimator or policy added, or changed, since the last run).
    pub partial: usize,
    /// What changed since the experiment the folder last held, in words
    /// ([`Layout::changes_since`]); empty when nothing did.
    pub changes: Vec<String>,
}

/// How an experiment's results are laid out, and what each part reads: the
/// [`Layout`] the manifest keeps, and, per stage and part, the (stage,
/// part) indices of the parts it reads, always of earlier stages.
pub struct Plan {
    /// Each cell's sample key and each part's print.
    pub layout: Layout,
    reads: Vec<Vec<Vec<(usize, usize)>>>,
}

/// Which parts of one task to run or record: per stage, one flag per part.
pub type Flags = Vec<Vec<bool>>;

impl Plan {
    /// The plan of `experiment` run by `stages`. A cell's sample key hashes
    /// its sim and the experiment's seed; a part's print hashes its stage,
    /// label and settings and the prints of the parts it reads, so that a
    /// policy's results are invalid when its estimator changes. The
    /// replication count is in neither: raising it extends the results.
    pub fn new(experiment: &Experiment, stages: &[Box<dyn Stage>]) -> Result<Plan> {
        let samples = experiment
            .cells
            .iter()
            .map(|c| hash(&(&c.sim, experiment.seed)))
            .collect::<Result<Vec<_>>>()?;
        let mut layouts: Vec<StageLayout> = Vec::new();
        let mut reads = Vec::new();
        for stage in stages {
            let mut keys = Vec::new();
            let mut stage_reads = Vec::new();
            for part in stage.parts()? {
                let read = part
                    .reads
                    .iter()
                    .map(|(stage_name, part_name)| {
                        find_part(&layouts, stage_name, part_name).ok_or_else(|| {
                            Error::Store(format!(
                                "{} `{}` reads {stage_name} `{part_name}`, which the \
                                 experiment does not run before it",
                                stage.name(),
                                part.name
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let read_prints: Vec<u64> = read
                    .iter()
                    .map(|&(s, p)| layouts[s].parts[p].print)
                    .collect();
                let print = hash(&(stage.name(), &part.name, &part.settings, read_prints))?;
                keys.push(PartKey {
                    name: part.name,
                    print,
                });
                stage_reads.push(read);
            }
            layouts.push(StageLayout {
                name: stage.name().to_string(),
                parts: keys,
            });
            reads.push(stage_reads);
        }
        Ok(Plan {
            layout: Layout {
                samples,
                replications: experiment.replications,
                stages: layouts,
            },
            reads,
        })
    }

    /// Flags for every part: a task run whole, as on a fresh folder.
    pub fn every_part(&self) -> Flags {
        self.layout
            .stages
            .iter()
            .map(|s| vec![true; s.parts.len()])
            .collect()
    }

    /// The parts of `task` that `stored` lacks.
    fn missing(&self, stored: &Stored, task: Task) -> Flags {
        let sample = self.layout.samples[task.cell];
        self.layout
            .stages
            .iter()
            .map(|stage| {
                stage
                    .parts
                    .iter()
                    .map(|p| !stored.has(sample, task.replication, p.print))
                    .collect()
            })
            .collect()
    }

    /// The parts to run so that the parts in `wanted` can be: those and,
    /// through every part they read, the ones they need.
    fn to_run(&self, wanted: &Flags) -> Flags {
        let mut run = wanted.clone();
        for stage in (0..run.len()).rev() {
            for part in 0..run[stage].len() {
                if run[stage][part] {
                    for &(s, p) in &self.reads[stage][part] {
                        run[s][p] = true;
                    }
                }
            }
        }
        run
    }
}

/// The (stage, part) indices of the part `part_name` of the stage
/// `stage_name` among `layouts`.
fn find_part(layouts: &[StageLayout], stage_name: &str, part_name: &str) -> Option<(usize, usize)> {
    layouts.iter().enumerate().find_map(|(s, stage)| {
        (stage.name == stage_name)
            .then(|| stage.parts.iter().position(|p| p.name == part_name))
            .flatten()
            .map(|p| (s, p))
    })
}

/// A stable hash of a value's JSON text.
fn hash<T: serde::Serialize + ?Sized>(value: &T) -> Result<u64> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::Store(format!("cannot fingerprint the experiment: {e}")))?;
    Ok(seed::fnv1a(text.as_bytes()))
}

/// Runs one task: draws the sample from the task's cell of `sims`, runs
/// the parts of each stage that the parts in `wanted` need, and returns the
/// outcomes of those in `wanted` as one piece for the store.
pub fn run_task(
    stages: &[Box<dyn Stage>],
    sims: &[Box<dyn Sim>],
    plan: &Plan,
    task: Task,
    wanted: &Flags,
    experiment_seed: u64,
) -> Result<Piece> {
    let seed = seed::task_seed(experiment_seed, task.replication);
    let sim = sims[task.cell].as_ref();
    let sample = sim.sample(seed)?;
    let mut state = TaskState::new(sim, sample, seed);
    let run = plan.to_run(wanted);
    let mut outcomes = Vec::new();
    let layouts = &plan.layout.stages;
    for (((stage, layout), run), wanted) in stages.iter().zip(layouts).zip(&run).zip(wanted) {
        if !run.contains(&true) {
            continue;
        }
        let results = stage.run(&mut state, run)?;
        for ((key, result), &keep) in layout.parts.iter().zip(results).zip(wanted) {
            if !keep {
                continue;
            }
            let outcome = result.ok_or_else(|| {
                Error::Store(format!(
                    "the `{}` stage gave no outcome of `{}`, which it was asked to run",
                    layout.name, key.name
                ))
            })?;
            outcomes.push(PartOutcome {
                stage: layout.name.clone(),
                part: key.name.clone(),
                print: key.print,
                outcome,
            });
        }
    }
    // A truth that is not finite cannot be stored; the estimators stage has
    // recorded why the estimators that target it could not be judged.
    let mut truth = state.sample.truth.values;
    truth.retain(|_, value| value.is_finite());
    Ok(Piece {
        sample: plan.layout.samples[task.cell],
        replication: task.replication,
        seed,
        truth,
        outcomes,
    })
}

/// Clears `dir`'s results when `fresh`, reads the results stored there,
/// and says what changed since the experiment its manifest describes (for
/// a folder of an older record format holding results, an error that says
/// to run with --fresh); then records this experiment's manifest. The
/// caller holds the folder's lock.
fn prepare(
    dir: &std::path::Path,
    manifest: &Manifest,
    fresh: bool,
) -> Result<(Stored, Vec<String>)> {
    let mut changes = Vec::new();
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
        match read_manifest(dir) {
            Ok(old) => changes = manifest.layout.changes_since(&old.layout),
            Err(e) if has_results(dir)? => return Err(e),
            Err(_) => {}
        }
    }
    let stored = load_stored(dir)?;
    write_manifest(dir, manifest)?;
    Ok((stored, changes))
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

/// Runs an experiment like [`run`], telling `observer` what happens. Of
/// each task only the parts whose outcome is not stored yet are run (with
/// the parts they read); a task with every part stored is skipped.
pub fn run_observed(
    experiment: &Experiment,
    options: &RunOptions,
    observer: &dyn Observe,
) -> Result<RunSummary> {
    let stages = crate::stage::build(experiment)?;
    let plan = Plan::new(experiment, &stages)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.unwrap_or(0))
        .build()
        .map_err(|e| Error::Store(format!("cannot start worker threads: {e}")))?;
    let mut manifest = Manifest::new(plan.layout.clone(), experiment)?;
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
    let (stored, changes) = prepare(dir, &manifest, options.fresh)?;
    let mine: Vec<Task> = tasks(experiment)
        .into_iter()
        .filter(|t| options.shard.is_none_or(|s| t.index % s.count == s.index))
        .collect();
    let total = mine.len();
    let mut todo: Vec<(Task, Flags)> = mine
        .into_iter()
        .map(|t| (t, plan.missing(&stored, t)))
        .filter(|(_, missing)| missing.iter().flatten().any(|&m| m))
        .collect();
    drop(stored);
    let skipped = total - todo.len();
    if let Some(max) = options.max_tasks {
        todo.truncate(max);
    }
    let partial = todo
        .iter()
        .filter(|(_, missing)| missing.iter().flatten().any(|&m| !m))
        .count();

    let writer = Writer::open(&results_path(dir, options.shard))?;
    observer.started(&Start {
        todo: todo.len(),
        skipped,
        partial,
        changes: &changes,
    });
    let started = Instant::now();
    pool.install(|| {
        todo.par_iter().try_for_each(|(task, wanted)| {
            let piece = run_task(&stages, &sims, &plan, *task, wanted, experiment.seed)?;
            writer.append(&piece)?;
            observer.finished_task();
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
        partial,
        changes,
    })
}
