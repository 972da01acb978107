//! The result store: JSON lines, one [`Piece`] per line (one task's sample
//! and the outcomes of some of its parts, each under its part's print),
//! appended whole. The store is the run's checkpoint: a rerun resumes where
//! the last one stopped, and runs only the parts that no line holds yet.
//!
//! What a reader does with each line:
//!
//! - a last line without its newline is an interrupted write (a killed run,
//!   or a run still writing): it is left out, and the next writer cuts it;
//! - a line that is not a piece, and two pieces of one task that disagree
//!   (another seed or truth, another outcome under one print), are errors
//!   naming the file and line, and what to do; nothing is guessed or dropped;
//! - an outcome stored twice (an overlapping resume) counts once;
//! - a piece of a sample or part the experiment no longer has is kept, and
//!   not used.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::layout::{Piece, Stored};
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

/// The record of every task of the experiment in the folder's manifest
/// whose parts are all stored, in (cell, replication) order; see
/// [`load_stored`].
pub fn load_records(dir: &Path) -> Result<Vec<Record>> {
    let manifest = read_manifest(dir)?;
    Ok(load_stored(dir)?.records(&manifest.layout))
}

/// Reads every results file in `dir` (all shards). An interrupted last line
/// is left out, and an outcome stored twice counts once; a damaged line, a
/// line of an older record format, and two pieces of one task that
/// disagree are errors that name the file and line.
pub fn load_stored(dir: &Path) -> Result<Stored> {
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
    let mut stored = Stored::new(files.clone());
    for (file, path) in files.iter().enumerate() {
        for (line, piece) in read_file(path)? {
            stored.add(piece, file, line)?;
        }
    }
    Ok(stored)
}

/// The pieces of one results file with their line numbers (1-based).
fn read_file(path: &Path) -> Result<Vec<(usize, Piece)>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    // Every piece is written with its newline; text after the last newline
    // is a write that was cut short (or is still going on), not a piece.
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let mut out = Vec::new();
    for (i, line) in bytes[..whole].split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let number = i + 1;
        let piece: Piece = serde_json::from_slice(line).map_err(|e| {
            let older = serde_json::from_slice::<serde_json::Value>(line)
                .is_ok_and(|v| v.get("sample").is_none() && v.get("cell").is_some());
            Error::Store(if older {
                format!(
                    "{} line {number} was written by an older causim (a record of a whole \
                     task, not a piece keyed by its sample); rerun with --fresh to rewrite the \
                     results",
                    path.display()
                )
            } else {
                format!(
                    "{} line {number} is damaged (not a result piece: {e}); remove the line, \
                     or rerun with --fresh to discard every result",
                    path.display()
                )
            })
        })?;
        out.push((number, piece));
    }
    Ok(out)
}

/// How long finished records may wait in memory before they are written.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// An append-only writer of pieces shared by the worker threads. Whole
/// lines are gathered in memory and written together at most
/// [`FLUSH_EVERY`] apart, so fast tasks do not pay a system call each; a
/// kill loses at most that much work (those tasks rerun on resume) and at
/// most one partial line, which the next open cuts. A piece with a number
/// that is not finite is refused.
pub struct Writer {
    state: Mutex<Pending>,
    path: PathBuf,
}

struct Pending {
    file: File,
    lines: Vec<u8>,
    last_write: Instant,
}

impl Writer {
    /// Opens `path` for appending pieces, first cutting a partial trailing
    /// line left by an interrupted run.
    pub fn open(path: &Path) -> Result<Writer> {
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
        })
    }

    /// Queues one piece as a whole line, writing the queue out if the last
    /// write is older than [`FLUSH_EVERY`]. A piece holding a number that
    /// is not finite is an error (JSON would hold it as `null`); stages
    /// record such a result as a failure instead.
    pub fn append(&self, piece: &Piece) -> Result<()> {
        if let Some(found) = find_non_finite(piece) {
            return Err(Error::Store(format!(
                "replication {}: {found}, and a result holds finite numbers only",
                piece.replication
            )));
        }
        let mut line = serde_json::to_vec(piece)
            .map_err(|e| Error::Store(format!("cannot encode a result: {e}")))?;
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
