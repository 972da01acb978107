//! The result store: JSON lines, one record per finished task, appended
//! whole. An interrupted run leaves at most one partial trailing line, which
//! is dropped on the next open, so a rerun resumes where the last one stopped:
//! the store is the run's checkpoint.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{find_non_finite, Record, Shard};
use crate::{Error, Result};

/// The results file a run (or shard) appends to.
pub fn results_path(dir: &Path, shard: Option<Shard>) -> PathBuf {
    match shard {
        Some(s) => dir.join(format!("results.{}-of-{}.jsonl", s.index, s.count)),
        None => dir.join("results.jsonl"),
    }
}

/// Reads every `results*.jsonl` in `dir` (all shards), ignoring a partial
/// last line and keeping the first record of any task recorded twice.
/// Records come back sorted by (cell, replication).
pub fn load_records(dir: &Path) -> Result<Vec<Record>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("results") && n.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    let mut records = BTreeMap::new();
    for path in files {
        for record in read_file(&path)? {
            records
                .entry((record.cell, record.replication))
                .or_insert(record);
        }
    }
    Ok(records.into_values().collect())
}

fn read_file(path: &Path) -> Result<Vec<Record>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    let mut lines = BufReader::new(file).split(b'\n').enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(&line) {
            Ok(record) => out.push(record),
            // A run killed mid-write leaves one partial line at the end.
            Err(_) if lines.peek().is_none() => {}
            Err(e) => {
                return Err(Error::Store(format!(
                    "{}:{}: not a result record ({e}); the file is damaged",
                    path.display(),
                    i + 1
                )))
            }
        }
    }
    Ok(out)
}

/// How long finished records may wait in memory before they are written.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// An append-only writer shared by the worker threads. Whole lines are
/// gathered in memory and written together at most [`FLUSH_EVERY`] apart, so
/// fast tasks do not pay a system call each; a kill loses at most that much
/// work (those tasks rerun on resume) and at most one partial line, which the
/// next open cuts. A record with a number that is not finite is refused.
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
    /// Opens `path` for appending, first cutting a partial trailing line left
    /// by an interrupted run.
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
        let mut line = serde_json::to_vec(record)
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
