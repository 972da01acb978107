//! Records: what one task produced, stage by stage, and the append-only
//! store they live in. A record names no stage: each stage's outcomes (one
//! per part: an estimator, a policy) are kept under the stage's name as the
//! stage wrote them, so adding a stage changes nothing here, and the report
//! reads records without the runner. The store holds them in pieces, part
//! by part ([`Piece`]), and the manifest's [`Layout`] assembles them.
//!
//! What keeps a run folder readable: every number stored is finite
//! ([`find_non_finite`]), every outcome is stored under the print of what
//! made it ([`Layout`]), a damaged line is named by file and line, and one
//! writer at a time holds a folder (or a shard of it) through its
//! [`FolderLock`].

mod finite;
mod layout;
mod lock;
mod manifest;
mod store;

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use finite::{find_non_finite, NonFinite};
pub use layout::{Layout, PartKey, PartOutcome, Piece, StageLayout, Stored};
pub use lock::{Access, FolderLock, LOCK};
pub use manifest::{read_manifest, write_manifest, Manifest, Provenance, FORMAT, MANIFEST};
pub(crate) use store::is_results_file;
pub use store::{load_records, load_stored, results_path, Writer};

use crate::{Error, Result};

/// Everything one task produced: its position, seed, the sample's true
/// estimands, and each stage's outcomes under the stage's name.
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
    /// Each stage's outcomes, keyed by stage name: a list with one outcome
    /// per part of the stage, in the experiment's order, as encoded.
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
