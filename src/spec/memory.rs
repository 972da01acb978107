//! Whether a run fits in memory, judged from the experiment's sizes before
//! anything is drawn: a run runs as many tasks at once as fit, and one
//! whose single task would need more than the machine has stops with the
//! figure in GB, rather than aborting mid-run on an allocation.

use std::path::Path;

use super::{Experiment, SourceFile};
use crate::core::text::number;
use crate::Result;

/// Bytes a task needs per value of its sample: the sample itself, the
/// estimators' working copies (design matrices, residuals, fold copies, a
/// forest's index) and the per-unit results kept for the record. Measured
/// peaks are 15 bytes per value for OLS, 2SLS and matching at n = 10^6 and
/// 38 for an instrumental forest with DML at n = 10^5 (the README,
/// "Limits"); this bound leaves a margin over both.
pub const BYTES_PER_VALUE: f64 = 64.0;

impl Experiment {
    /// Bytes one task of the largest cell needs, about.
    pub fn bytes_per_task(&self) -> f64 {
        self.cells
            .iter()
            .map(|c| {
                let (rows, columns) = c.sim.sample_shape();
                rows * columns * BYTES_PER_VALUE
            })
            .fold(0.0, f64::max)
    }

    /// How many of `threads` tasks can run at once in `available` bytes
    /// (the machine's available memory when `None`; all of them where it
    /// cannot be read). When not even one task fits, the error names the
    /// experiment file at its `sim` line and the memory needed, in GB.
    pub fn tasks_in_memory(
        &self,
        path: &Path,
        threads: usize,
        available: Option<f64>,
    ) -> Result<usize> {
        let threads = threads.clamp(1, self.task_count().max(1));
        let Some(available) = available.or_else(available_memory) else {
            return Ok(threads);
        };
        let per_task = self.bytes_per_task();
        let fit = (available / per_task).floor();
        if fit >= 1.0 {
            return Ok(threads.min(fit as usize));
        }
        let gb = |bytes: f64| bytes / 1e9;
        let message = format!(
            "one task of `{}` would need about {:.1} GB of memory (its largest sample holds \
             {} values), and this machine has {:.1} GB available; lower the sim's `n` (or \
             `scale`), or run it on a machine with more memory",
            self.name,
            gb(per_task),
            number((per_task / BYTES_PER_VALUE).round()),
            gb(available)
        );
        let file = SourceFile::read(path)?;
        Err(file.error_at(super::lint::locate(&file, "`sim`"), &message))
    }
}

/// The memory available to a new process, from /proc/meminfo on Linux;
/// `None` where it cannot be read.
fn available_memory() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}
