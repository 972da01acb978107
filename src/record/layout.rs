//! The layout of an experiment's results, and the pieces they are stored
//! in. Each cell's sample is known by a key (a hash of its sim and the
//! experiment's seed) and each part of a stage (one estimator, one policy,
//! the paper's pipeline) by a print of everything that decides its outcome.
//! A stored piece holds one task's sample and the outcomes of some of its
//! parts under their prints, so a result stays valid exactly as long as what
//! made it: adding an estimator, a policy, a sweep value or replications
//! reuses every result recorded and runs only what is new, and a changed
//! setting invalidates the results of its own part and of the parts that
//! read it, no others.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Record;
use crate::{Error, Result};

/// Which results an experiment is made of: the sample of every cell, the
/// replications, and each stage's parts in the experiment's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// The key of each cell's sample, in cell order.
    pub samples: Vec<u64>,
    /// Replications per cell.
    pub replications: usize,
    /// Each stage with its parts, in the order the stages run.
    pub stages: Vec<StageLayout>,
}

/// One stage of a layout: its name and its parts in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageLayout {
    /// The stage's name, the key of its outcomes in a record.
    pub name: String,
    /// Its parts, in the order their outcomes are listed in a record.
    pub parts: Vec<PartKey>,
}

/// One part of a stage: its label and the print of what decides its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartKey {
    /// The part's label (an estimator's or policy's name).
    pub name: String,
    /// A hash of its stage, name and settings and of the prints of the
    /// parts it reads.
    pub print: u64,
}

/// One task's results as stored: the sample drawn and the outcomes of some
/// of the task's parts. A task's outcomes may be spread over several pieces
/// (the parts added to the experiment later are stored later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Piece {
    /// The key of the task's sample.
    pub sample: u64,
    /// The replication.
    pub replication: usize,
    /// The seed the sample was drawn with.
    pub seed: u64,
    /// The sample's true estimands (finite ones only).
    pub truth: BTreeMap<String, f64>,
    /// The outcomes of the parts this piece holds.
    pub outcomes: Vec<PartOutcome>,
}

/// One part's outcome on one task, under the part's print.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartOutcome {
    /// The stage's name, for a reader of the file.
    pub stage: String,
    /// The part's label, for a reader of the file.
    pub part: String,
    /// The part's print: what the outcome is found by.
    pub print: u64,
    /// The outcome, as the stage encoded it.
    pub outcome: serde_json::Value,
}

/// Where a stored value was read: a results file and a line (1-based).
#[derive(Debug, Clone, Copy)]
pub(crate) struct At {
    file: usize,
    line: usize,
}

/// One task's stored results, gathered from every piece of it.
#[derive(Debug)]
struct StoredTask {
    seed: u64,
    truth: BTreeMap<String, f64>,
    at: At,
    outcomes: BTreeMap<u64, (serde_json::Value, At)>,
}

/// Every piece of a folder's results files, gathered by task. Pieces of
/// samples or parts that the experiment no longer has are kept on disk and
/// here, and simply not used.
#[derive(Debug, Default)]
pub struct Stored {
    files: Vec<std::path::PathBuf>,
    tasks: BTreeMap<(u64, usize), StoredTask>,
}

impl Stored {
    /// An empty store reading `files`, named in its messages by position.
    pub(crate) fn new(files: Vec<std::path::PathBuf>) -> Stored {
        Stored {
            files,
            tasks: BTreeMap::new(),
        }
    }

    fn shown(&self, at: At) -> String {
        format!("{} line {}", self.file(at).display(), at.line)
    }

    fn file(&self, at: At) -> &Path {
        &self.files[at.file]
    }

    /// Adds a piece read at `file`, `line`, keeping its values without a
    /// copy. An outcome stored twice counts once; a task whose seed or truth
    /// differs from an earlier piece of it, or an outcome that differs from
    /// an earlier one under the same print, is an error naming both lines.
    pub(crate) fn add(&mut self, piece: Piece, file: usize, line: usize) -> Result<()> {
        let at = At { file, line };
        let Piece {
            sample,
            replication,
            seed,
            truth,
            outcomes,
        } = piece;
        let task = match self.tasks.entry((sample, replication)) {
            Entry::Vacant(slot) => slot.insert(StoredTask {
                seed,
                truth,
                at,
                outcomes: BTreeMap::new(),
            }),
            Entry::Occupied(slot) => {
                let task = slot.into_mut();
                if task.seed != seed || task.truth != truth {
                    let first = task.at;
                    return Err(self.conflict(at, first, replication, "a seed or truth"));
                }
                task
            }
        };
        let mut clash = None;
        for part in outcomes {
            match task.outcomes.entry(part.print) {
                Entry::Vacant(slot) => {
                    slot.insert((part.outcome, at));
                }
                Entry::Occupied(first) if first.get().0 != part.outcome => {
                    let what = format!("an outcome of {} `{}`", part.stage, part.part);
                    clash = Some((what, first.get().1));
                    break;
                }
                Entry::Occupied(_) => {}
            }
        }
        match clash {
            Some((what, first)) => Err(self.conflict(at, first, replication, &what)),
            None => Ok(()),
        }
    }

    /// The error for a piece read `at` that disagrees in `what` with the
    /// one read `first` about replication `replication` of a sample.
    fn conflict(&self, at: At, first: At, replication: usize, what: &str) -> Error {
        Error::Store(format!(
            "{} records replication {replication} of a sample again, with {what} that differs \
             from {}; remove one of the two lines (or the file), or rerun with --fresh",
            self.shown(at),
            self.shown(first),
        ))
    }

    /// Whether the outcome with `print` of replication `replication` of the
    /// sample `sample` is stored.
    pub fn has(&self, sample: u64, replication: usize, print: u64) -> bool {
        self.tasks
            .get(&(sample, replication))
            .is_some_and(|t| t.outcomes.contains_key(&print))
    }

    /// The record of a task of `layout`, when every part of it is stored:
    /// each stage's outcomes listed in the order of its parts.
    pub fn record(&self, layout: &Layout, cell: usize, replication: usize) -> Option<Record> {
        let task = self.tasks.get(&(*layout.samples.get(cell)?, replication))?;
        let mut stages = BTreeMap::new();
        for stage in &layout.stages {
            let outcomes = stage
                .parts
                .iter()
                .map(|p| task.outcomes.get(&p.print).map(|(value, _)| value.clone()))
                .collect::<Option<Vec<_>>>()?;
            stages.insert(stage.name.clone(), serde_json::Value::Array(outcomes));
        }
        Some(Record {
            cell,
            replication,
            seed: task.seed,
            truth: task.truth.clone(),
            stages,
        })
    }

    /// The record of every task of `layout` whose parts are all stored, in
    /// (cell, replication) order.
    pub fn records(&self, layout: &Layout) -> Vec<Record> {
        (0..layout.samples.len())
            .flat_map(|cell| (0..layout.replications).map(move |r| (cell, r)))
            .filter_map(|(cell, r)| self.record(layout, cell, r))
            .collect()
    }
}

impl Layout {
    /// Every part of the layout with its stage's name, in order.
    pub fn parts(&self) -> impl Iterator<Item = (&str, &PartKey)> {
        self.stages
            .iter()
            .flat_map(|s| s.parts.iter().map(move |p| (s.name.as_str(), p)))
    }

    /// What differs between the results an `old` layout describes and this
    /// one, in words, each item naming the part of the experiment: cells
    /// whose sample is new, parts whose settings changed (their earlier
    /// results are not used), parts added and removed. Empty when nothing
    /// changed but the replications.
    pub fn changes_since(&self, old: &Layout) -> Vec<String> {
        let mut out = Vec::new();
        let kept = self
            .samples
            .iter()
            .filter(|s| old.samples.contains(s))
            .count();
        if kept < self.samples.len() {
            out.push(if kept == 0 {
                "every cell's sample is new (the seed, the sim file or [overrides] changed)"
                    .to_string()
            } else {
                format!(
                    "{} of {} cells are new to the folder (the sim file, [overrides] or [sweep] \
                     changed)",
                    self.samples.len() - kept,
                    self.samples.len()
                )
            });
        }
        let old_parts: BTreeMap<(&str, &str), u64> = old
            .parts()
            .map(|(stage, p)| ((stage, p.name.as_str()), p.print))
            .collect();
        let new_parts: BTreeMap<(&str, &str), u64> = self
            .parts()
            .map(|(stage, p)| ((stage, p.name.as_str()), p.print))
            .collect();
        let named = |verb: &str, keys: Vec<&(&str, &str)>| {
            (!keys.is_empty()).then(|| {
                let list: Vec<String> = keys
                    .iter()
                    .map(|(stage, part)| format!("{stage} `{part}`"))
                    .collect();
                format!("{verb}: {}", list.join(", "))
            })
        };
        let changed = new_parts
            .iter()
            .filter(|(k, print)| old_parts.get(*k).is_some_and(|old| old != *print))
            .map(|(k, _)| k)
            .collect();
        let added = new_parts
            .keys()
            .filter(|k| !old_parts.contains_key(*k))
            .collect();
        let removed = old_parts
            .keys()
            .filter(|k| !new_parts.contains_key(*k))
            .collect();
        out.extend(named(
            "changed (their earlier results are not used)",
            changed,
        ));
        out.extend(named("new", added));
        out.extend(named("removed (their results are kept)", removed));
        out
    }
}
