//! The manifest: the experiment as run, beside its results, with the
//! layout that says which stored results make its records, and the record
//! format they were written in.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::{find_non_finite, Layout};
use crate::{Error, Result};

/// The file in a report folder that records the experiment as run.
pub const MANIFEST: &str = "experiment.json";

/// The record format this build writes and reads. Version 4 stores pieces:
/// a task's sample and its parts' outcomes, each under the part's print;
/// version 3 stamped every whole record with the fingerprint of the
/// experiment that made it; version 2 kept each stage's outcome under its
/// name, unstamped; version 1 (no `format` field) had one field per kind of
/// stage.
pub const FORMAT: u32 = 4;

/// What a report folder says about its results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The record format of the results beside it.
    #[serde(default = "legacy_format")]
    pub format: u32,
    /// The experiment as run, encoded by the layer that owns it.
    pub experiment: serde_json::Value,
    /// Which stored results make the experiment's records: each cell's
    /// sample key and each part's print.
    pub layout: Layout,
    /// How the results were made: causim's version, when, on how many
    /// threads and in how long; empty in folders of older builds.
    #[serde(default)]
    pub provenance: Provenance,
}

/// How and when a report folder's results were last written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The causim version that wrote them.
    pub causim: String,
    /// When the last run started, as a UTC date and time.
    pub started: String,
    /// Worker threads of the last run.
    pub threads: usize,
    /// Wall time of the last run in seconds (0 while it runs).
    pub wall_seconds: f64,
}

impl Provenance {
    /// This build's version, now, on `threads` threads; wall time still 0.
    pub fn now(threads: usize) -> Provenance {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let day = crate::data::Date::from_epoch_days((secs / 86_400) as i64);
        let rest = secs % 86_400;
        Provenance {
            causim: env!("CARGO_PKG_VERSION").to_string(),
            started: format!(
                "{day} {:02}:{:02}:{:02} UTC",
                rest / 3600,
                rest / 60 % 60,
                rest % 60
            ),
            threads,
            wall_seconds: 0.0,
        }
    }
}

impl Manifest {
    /// The manifest of `experiment` (encoded by the layer that owns it),
    /// whose results `layout` describes, in this build's record format. A number that is not finite is refused:
    /// JSON would hold it as `null`, and the folder could not be read back.
    pub fn new<E: Serialize + ?Sized>(layout: Layout, experiment: &E) -> Result<Manifest> {
        if let Some(found) = find_non_finite(experiment) {
            return Err(Error::Store(format!(
                "cannot record the experiment in {MANIFEST}: {found}; every number of an \
                 experiment must be finite"
            )));
        }
        let experiment = serde_json::to_value(experiment)
            .map_err(|e| Error::Store(format!("cannot encode the experiment: {e}")))?;
        Ok(Manifest {
            format: FORMAT,
            experiment,
            layout,
            provenance: Provenance::default(),
        })
    }
}

fn legacy_format() -> u32 {
    1
}

/// Reads the manifest of a report folder; a manifest of another record
/// format is an error that says how to get a readable folder.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
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
    if manifest.format != FORMAT {
        return Err(Error::Store(format!(
            "{} was written by a causim with record format {} (this one reads format {FORMAT}); \
             rerun the experiment with --fresh to rewrite its results",
            dir.display(),
            manifest.format
        )));
    }
    Ok(manifest)
}

/// Writes the manifest atomically (aside, then renamed), so shards of one
/// sweep that start together never read half a file. Each write has its
/// own aside file, named by process and by write.
pub fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<()> {
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    let path = dir.join(MANIFEST);
    let text = serde_json::to_string_pretty(manifest)
        .map_err(|e| Error::Store(format!("cannot encode the manifest: {e}")))?;
    let write = WRITES.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!("{MANIFEST}.{}-{write}.tmp", std::process::id()));
    std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
}
