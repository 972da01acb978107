//! One writer at a time: a run folder's advisory locks. A run (or a report
//! re-render) holds `causim.lock` alone; the shards of a cluster sweep hold
//! it together, each holding its own `causim.K-of-N.lock` alone, so shards
//! run side by side while a second copy of one shard, or a whole run into
//! the same folder, is refused. Each lock file names the process holding
//! it (`PID COMMAND`), so a refusal can say who. The operating system
//! releases the locks when the process ends, however it ends (a `kill -9`
//! included), so no stale lock survives; only the name a killed process
//! wrote stays in its file until the next holder overwrites it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use super::{read_manifest, Shard};
use crate::{Error, Result};

/// The lock file of a run folder.
pub const LOCK: &str = "causim.lock";

/// What a process means to do with a run folder, which decides its locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Run every task, or discard the results (`--fresh`): the folder alone.
    Run,
    /// Run one shard: the folder shared with the other shards, the shard alone.
    Shard(Shard),
    /// Re-render the report of a finished run: the folder alone.
    Report,
}

impl Access {
    /// The command as the lock file names it to another process.
    fn command(self) -> String {
        match self {
            Access::Run => "run".to_string(),
            Access::Shard(s) => format!("run --shard {}/{}", s.index, s.count),
            Access::Report => "report".to_string(),
        }
    }

    /// What the user can do while the folder is taken (by one process, or
    /// by several).
    fn remedy(self, several: bool) -> &'static str {
        match (self, several) {
            (Access::Report, false) => "wait for it to finish, then render the report again",
            (Access::Report, true) => "wait for them to finish, then render the report again",
            (_, false) => "wait for it or choose another --out",
            (_, true) => "wait for them or choose another --out",
        }
    }
}

/// The locks a process holds on a run folder, released when this value is
/// dropped or the process ends.
#[derive(Debug)]
pub struct FolderLock {
    folder: File,
    shard: Option<File>,
    exclusive: bool,
}

impl FolderLock {
    /// Takes the locks `access` needs on the run folder `dir` (which must
    /// exist), or says which process holds them. A report re-render first
    /// checks that `dir` is a run folder. On a file system without locks
    /// the folder is used unlocked.
    pub fn acquire(dir: &Path, access: Access) -> Result<FolderLock> {
        if access == Access::Report {
            read_manifest(dir)?;
        }
        let path = dir.join(LOCK);
        let folder = open(&path)?;
        let Access::Shard(shard) = access else {
            match patiently(|| folder.try_lock()) {
                Ok(()) => stamp(&folder, &path, access)?,
                Err(TryLockError::WouldBlock) => return Err(taken(dir, &folder, access)),
                Err(TryLockError::Error(e)) => unsupported(&path, e)?,
            }
            return Ok(FolderLock {
                folder,
                shard: None,
                exclusive: true,
            });
        };
        match patiently(|| folder.try_lock_shared()) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(busy(&dir.display().to_string(), &path, access))
            }
            Err(TryLockError::Error(e)) => unsupported(&path, e)?,
        }
        let own_path = dir.join(format!("causim.{}-of-{}.lock", shard.index, shard.count));
        let own = open(&own_path)?;
        match patiently(|| own.try_lock()) {
            Ok(()) => stamp(&own, &own_path, access)?,
            Err(TryLockError::WouldBlock) => {
                let what = format!("shard {}/{} of {}", shard.index, shard.count, dir.display());
                return Err(busy(&what, &own_path, access));
            }
            Err(TryLockError::Error(e)) => unsupported(&own_path, e)?,
        }
        Ok(FolderLock {
            folder,
            shard: Some(own),
            exclusive: false,
        })
    }
}

impl Drop for FolderLock {
    /// Clears this process's name from the lock file it holds alone.
    fn drop(&mut self) {
        let own = match &self.shard {
            Some(shard) => Some(shard),
            None => self.exclusive.then_some(&self.folder),
        };
        if let Some(file) = own {
            let _ = file.set_len(0);
        }
    }
}

/// How long a lock found taken is tried again before it counts as held: a
/// process that has just let go may still hold it that long (one that is
/// exiting, or a child this process forked that has not yet exec'd).
const GRACE: Duration = Duration::from_millis(500);

/// Tries `lock` until it succeeds, fails otherwise, or [`GRACE`] has passed.
fn patiently(lock: impl Fn() -> Result<(), TryLockError>) -> Result<(), TryLockError> {
    let deadline = Instant::now() + GRACE;
    loop {
        match lock() {
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            done => return done,
        }
    }
}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Writes `pid command` into a lock file this process now holds alone.
fn stamp(mut file: &File, path: &Path, access: Access) -> Result<()> {
    let text = format!("{} {}\n", std::process::id(), access.command());
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(text.as_bytes()))
        .map_err(|e| Error::io(path, e))
}

/// A file system without locks (some network mounts) is used unlocked;
/// any other failure to lock is an error.
fn unsupported(path: &Path, error: std::io::Error) -> Result<()> {
    if error.kind() == ErrorKind::Unsupported {
        Ok(())
    } else {
        Err(Error::io(path, error))
    }
}

/// The process named in a lock file: its pid and command.
fn holder(path: &Path) -> Option<(u32, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let (pid, command) = text.trim().split_once(' ')?;
    Some((pid.parse().ok()?, command.to_string()))
}

/// The error for `what` (the folder, or a shard of it) held alone by the
/// process its lock file `path` names.
fn busy(what: &str, path: &Path, access: Access) -> Error {
    let remedy = access.remedy(false);
    Error::Store(match holder(path) {
        Some((pid, command)) => {
            format!("another causim {command} is writing {what} (pid {pid}); {remedy}")
        }
        None => format!("another causim process is writing {what}; {remedy}"),
    })
}

/// The error for a folder this process wanted alone: held alone by another
/// process, or shared by the shards of a sweep (each named in its own lock
/// file).
fn taken(dir: &Path, folder: &File, access: Access) -> Error {
    let what = dir.display().to_string();
    if folder.try_lock_shared().is_err() {
        return busy(&what, &dir.join(LOCK), access);
    }
    let _ = folder.unlock();
    let mut pids: Vec<u32> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_shard_lock)
        })
        .filter_map(|p| holder(&p).map(|(pid, _)| pid))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    let listed: Vec<String> = pids.iter().map(u32::to_string).collect();
    let pids = match listed.len() {
        0 => String::new(),
        1 => format!(" (pid {})", listed[0]),
        _ => format!(" (pids {})", listed.join(", ")),
    };
    Error::Store(format!(
        "shards of a causim run are writing {what}{pids}; {}",
        access.remedy(true)
    ))
}

/// Whether `name` is a shard's lock file, `causim.K-of-N.lock`.
fn is_shard_lock(name: &str) -> bool {
    name.strip_prefix("causim.")
        .and_then(|n| n.strip_suffix(".lock"))
        .is_some_and(|n| n.contains("-of-"))
}
