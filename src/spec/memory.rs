//! Whether a run fits in memory, judged from the experiment's sizes before
//! anything is drawn: a run that would need more than the machine has stops
//! with the figure in GB, rather than aborting mid-run on an allocation.

use super::Experiment;
use crate::{Error, Result};

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

    /// Checks that `threads` tasks at once fit in `available` bytes (the
    /// machine's available memory when `None`, where it can be read).
    pub fn check_memory(&self, threads: usize, available: Option<f64>) -> Result<()> {
        let Some(available) = available.or_else(available_memory) else {
            return Ok(());
        };
        let parallel = threads.clamp(1, self.task_count().max(1)) as f64;
        let needed = self.bytes_per_task() * parallel;
        if needed <= available {
            return Ok(());
        }
        let gb = |bytes: f64| bytes / 1e9;
        Err(Error::Spec(format!(
            "`{}` would need about {:.1} GB of memory ({:.1} GB per task x {parallel} tasks at \
             once), and this machine has {:.1} GB available; lower the sim's `n` (or `scale`), \
             or run fewer tasks at once with --jobs",
            self.name,
            gb(needed),
            gb(self.bytes_per_task()),
            gb(available)
        )))
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
