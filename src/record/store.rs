//! The result store: JSON lines, one record per finished task, each stamped
//! with the fingerprint of the experiment that made it and appended whole.
//! The store is the run's checkpoint: a rerun resumes where the last one
//! stopped.
//!
//! What a reader does with each line:
//!
//! - a last line without its newline is an interrupted write (a killed run,
//!   or a run still writing): it is left out, and the next writer cuts it;
//! - a line that is not a record, a record of another experiment (another
//!   fingerprint) and two different records of one task are errors naming
//!   the file and line, and what to do; nothing is guessed or dropped;
//! - a task recorded twice with the same results (an overlapping resume)
//!   counts once.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{find_non_finite, read_manifest, Record, Shard};
use crate::{Error, Result};

/// The results file a run (or shard) appends to.
pub fn results_path(dir: &Path, shard: Option<Shard>) -> PathBuf {
    match shard {
        Some(s) => dir.join(format!("results.{}-of-{}.jsonl", s.index, s.count)),
        None => dir.join("results.jsonl"),
    }
}

/// Whether `name` is a results file (`results.jsonl` or a shard's).
pub(crate) fn is_results_file(name: &str) -> bool {
    name.starts_with("results") && name.ends_with(".jsonl")
}

/// Reads every results file in `dir` (all shards) and checks each record
/// against the fingerprint of the folder's manifest; see
/// [`load_records_of`].
pub fn load_records(dir: &Path) -> Result<Vec<Record>> {
    let manifest = read_manifest(dir)?;
    load_records_of(dir, manifest.fingerprint)
}

/// Reads every results file in `dir` (all shards), sorted by (cell,
/// replication). An interrupted last line is left out, and a task recorded
/// twice with the same results counts once; a damaged line, a record whose
/// fingerprint is not `fingerprint`, and a task recorded twice with
/// different results are errors that name the file and line.
pub fn load_records_of(dir: &Path, fingerprint: u64) -> Result<Vec<Record>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_results_file)
        })
        .collect();
    files.sort();
    let mut records: BTreeMap<(usize, usize), (Record, usize, usize)> = BTreeMap::new();
    for (file, path) in files.iter().enumerate() {
        for (line, record) in read_file(path, fingerprint)? {
            match records.entry((record.cell, record.replication)) {
                Entry::Vacant(slot) => {
                    slot.insert((record, file, line));
                }
                Entry::Occupied(first) => {
                    let (kept, first_file, first_line) = first.get();
                    if *kept != record {
                        return Err(Error::Store(format!(
                            "{} line {line} records cell {} replication {} again, with \
                             results that differ from {} line {first_line}; remove one of the \
                             two lines (or the file), or rerun with --fresh",
                            path.display(),
                            record.cell,
                            record.replication,
                            files[*first_file].display(),
                        )));
                    }
                }
            }
        }
    }
    Ok(records.into_values().map(|(record, _, _)| record).collect())
}

/// One line of a results file as read: a record and the fingerprint of the
/// experiment that wrote it (absent in record formats before 3).
#[derive(Deserialize)]
struct StoredLine {
    #[serde(default)]
    fingerprint: Option<u64>,
    cell: usize,
    replication: usize,
    seed: u64,
    truth: BTreeMap<String, f64>,
    stages: BTreeMap<String, serde_json::Value>,
}

/// One line of a results file as written.
#[derive(Serialize)]
struct LineOut<'a> {
    fingerprint: u64,
    cell: usize,
    replication: usize,
    seed: u64,
    truth: &'a BTreeMap<String, f64>,
    stages: &'a BTreeMap<String, serde_json::Value>,
}

/// The records of one results file with their line numbers (1-based).
fn read_file(path: &Path, fingerprint: u64) -> Result<Vec<(usize, Record)>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    // Every record is written with its newline; text after the last newline
    // is a write that was cut short (or is still going on), not a record.
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut out = Vec::new();
    for (i, line) in bytes[..whole].split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let number = i + 1;
        let stored: StoredLine = serde_json::from_slice(line).map_err(|e| {
            Error::Store(format!(
                "{} line {number} is damaged (not a result record: {e}); remove the line, \
                 or rerun with --fresh to discard every result",
                path.display()
            ))
        })?;
        match stored.fingerprint {
            Some(print) if print == fingerprint => {}
            Some(print) => {
                return Err(Error::Store(format!(
                    "{} line {number} is a record of another experiment (fingerprint {print}, \
                     not {fingerprint}); move the file out of the folder, or rerun with --fresh \
                     to discard it",
                    path.display()
                )))
            }
            None => {
                return Err(Error::Store(format!(
                    "{} line {number} was written by an older causim (its records carry no \
                     fingerprint); rerun with --fresh to rewrite the results",
                    path.display()
                )))
            }
        }
        out.push((
            number,
            Record {
                cell: stored.cell,
                replication: stored.replication,
                seed: stored.seed,
                truth: stored.truth,
                stages: stored.stages,
            },
        ));
    }
    Ok(out)
}

/// How long finished records may wait in memory before they are written.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// An append-only writer shared by the worker threads. Whole lines are
/// gathered in memory and written together at most [`FLUSH_EVERY`] apart, so
/// fast tasks do not pay a system call each; a kill loses at most that much
/// work (those tasks rerun on resume) and at most one partial line, which the
/// next open cuts. Every line carries the experiment's fingerprint, and a
/// record with a number that is not finite is refused.
pub struct Writer {
    state: Mutex<Pending>,
    path: PathBuf,
    fingerprint: u64,
}

struct Pending {
    file: File,
    lines: Vec<u8>,
    last_write: Instant,
}

impl Writer {
    /// Opens `path` for appending records stamped with the fingerprint of
    /// the manifest in the same folder; see [`Writer::with_fingerprint`].
    pub fn open(path: &Path) -> Result<Writer> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let manifest = read_manifest(dir)?;
        Writer::with_fingerprint(path, manifest.fingerprint)
    }

    /// Opens `path` for appending records stamped with `fingerprint`, first
    /// cutting a partial trailing line left by an interrupted run.
    pub fn with_fingerprint(path: &Path, fingerprint: u64) -> Result<Writer> {
        let io = |e| Error::io(path, e);
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        let bytes = std::fs::read(path).map_err(io)?;
        if let Some(&last) = bytes.last() {
            if last != b'\n' {
                let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                file.set_len(keep as u64).map_err(io)?;
                file.seek(SeekFrom::End(0)).map_err(io)?;
            }
        }
        Ok(Writer {
            state: Mutex::new(Pending {
                file,
                lines: Vec::new(),
                last_write: Instant::now(),
            }),
            path: path.to_path_buf(),
            fingerprint,
        })
    }

    /// Queues one record as a whole line, writing the queue out if the last
    /// write is older than [`FLUSH_EVERY`]. A record holding a number that
    /// is not finite is an error (JSON would hold it as `null`); stages
    /// record such a result as a failure instead.
    pub fn append(&self, record: &Record) -> Result<()> {
        if let Some(found) = find_non_finite(record) {
            return Err(Error::Store(format!(
                "cell {} replication {}: {found}, and a record holds finite numbers only",
                record.cell, record.replication
            )));
        }
        let stored = LineOut {
            fingerprint: self.fingerprint,
            cell: record.cell,
            replication: record.replication,
            seed: record.seed,
            truth: &record.truth,
            stages: &record.stages,
        };
        let mut line = serde_json::to_vec(&stored)
            .map_err(|e| Error::Store(format!("cannot encode a record: {e}")))?;
        line.push(b'\n');
        let mut state = self.lock()?;
        state.lines.extend_from_slice(&line);
        if state.last_write.elapsed() >= FLUSH_EVERY {
            self.write_out(&mut state)?;
        }
        Ok(())
    }

    /// Writes every queued line; call when the run ends.
    pub fn flush(&self) -> Result<()> {
        let mut state = self.lock()?;
        self.write_out(&mut state)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Pending>> {
        self.state
            .lock()
            .map_err(|_| Error::Store("a worker panicked while writing results".into()))
    }

    fn write_out(&self, state: &mut Pending) -> Result<()> {
        let Pending {
            file,
            lines,
            last_write,
        } = state;
        file.write_all(lines)
            .and_then(|()| file.flush())
            .map_err(|e| Error::io(&self.path, e))?;
        lines.clear();
        *last_write = Instant::now();
        Ok(())
    }
}

impl Drop for Writer {
    /// Writes what is queued when a run ends early with an error, so finished
    /// tasks are kept.
    fn drop(&mut self) {
        if let Ok(state) = self.state.get_mut() {
            let _ = state.file.write_all(&state.lines);
        }
    }
}
