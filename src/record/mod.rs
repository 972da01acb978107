//! Records: what one task produced, stage by stage, and the append-only
//! store they live in. A record names no stage: each stage's outcome is
//! kept under the stage's name as the stage wrote it, so adding a stage
//! changes nothing here, and the report reads records without the runner.
//!
//! What keeps a run folder readable: every number stored is finite
//! ([`find_non_finite`]), every record carries its experiment's fingerprint,
//! a damaged line is named by file and line, and one writer at a time holds
//! a folder (or a shard of it) through its [`FolderLock`].

mod finite;
mod lock;
mod manifest;
mod store;

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use finite::{find_non_finite, NonFinite};
pub use lock::{Access, FolderLock, LOCK};
pub use manifest::{read_manifest, write_manifest, Manifest, Provenance, FORMAT, MANIFEST};
pub(crate) use store::is_results_file;
pub use store::{load_records, load_records_of, results_path, Writer};

use crate::{Error, Result};

/// Everything one task produced: its position, seed, the sample's true
/// estimands, and each stage's outcome under the stage's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Cell index in the grid.
    pub cell: usize,
    /// Replication index within the cell.
    pub replication: usize,
    /// The seed the sample was drawn with.
    pub seed: u64,
    /// The sample's true estimands; one that is not finite is left out (the
    /// estimators that target it record why they could not be judged).
    pub truth: BTreeMap<String, f64>,
    /// Each stage's outcome, keyed by stage name, as the stage encoded it.
    pub stages: BTreeMap<String, serde_json::Value>,
}

impl Record {
    /// The outcome the stage `name` stored, decoded as `T`; `None` when the
    /// record has none (the experiment did not run that stage).
    pub fn outcome<T: DeserializeOwned>(&self, name: &str) -> Option<Result<T>> {
        self.stages.get(name).map(|value| {
            T::deserialize(value).map_err(|e| {
                Error::Store(format!(
                    "cell {} replication {}: the `{name}` outcome cannot be read ({e})",
                    self.cell, self.replication
                ))
            })
        })
    }
}

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
