//! Observers of the executor: what a run tells the world while it goes (a
//! progress bar on a terminal, nothing in tests). The executor calls them;
//! they never change what is run or recorded.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

/// What a run is about to do.
#[derive(Debug, Clone, Copy)]
pub struct Start<'a> {
    /// Tasks it runs, whole or in part.
    pub todo: usize,
    /// Tasks with every part recorded before, skipped.
    pub skipped: usize,
    /// Of the tasks it runs, those that run only their parts not recorded.
    pub partial: usize,
    /// What changed since the experiment the folder last held, in words.
    pub changes: &'a [String],
}

/// Told what a run does, from its worker threads.
pub trait Observe: Sync {
    /// The run is about to start.
    fn started(&self, start: &Start<'_>);
    /// One task finished and its results were queued for the store.
    fn finished_task(&self);
    /// Every task of the run finished, after `elapsed`.
    fn finished(&self, elapsed: Duration);
}

/// Observes nothing: for tests, benchmarks and quiet runs.
pub struct Silent;

impl Observe for Silent {
    fn started(&self, _: &Start<'_>) {}
    fn finished_task(&self) {}
    fn finished(&self, _: Duration) {}
}

/// A task rate as the progress bar shows it: whole tasks per second with
/// thousands separators from 100 on (`3,150/s`), three significant digits
/// below (`63.2/s`, `0.417/s`), never the four decimals of indicatif's
/// `{per_sec}`.
pub fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec < 0.0 {
        return "-/s".to_string();
    }
    if per_sec < 100.0 {
        return format!("{}/s", crate::core::text::significant(per_sec));
    }
    let digits = format!("{per_sec:.0}");
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}/s")
}

/// A terminal progress bar with the task rate and the time left, after a
/// line for each change since the folder's last run; when it finishes it
/// ends its line, so what is printed next starts on its own.
#[derive(Default)]
pub struct ProgressBarObserver {
    bar: std::sync::OnceLock<ProgressBar>,
}

impl Observe for ProgressBarObserver {
    fn started(&self, start: &Start<'_>) {
        for change in start.changes {
            eprintln!("since the last run in this folder: {change}");
        }
        let bar = ProgressBar::new(start.todo as u64);
        let style = ProgressStyle::with_template(
            "{prefix}[{elapsed_precise}] {wide_bar:.cyan/blue} {pos}/{len} tasks ({rate}, ETA {eta}) {msg}",
        )
        .map(|style| {
            style.with_key(
                "rate",
                |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                    let _ = out.write_str(&rate(state.per_sec()));
                },
            )
        })
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        match (start.skipped, start.partial) {
            (0, 0) => {}
            (done, 0) => bar.set_prefix(format!("resuming ({done} done) ")),
            (done, part) => bar.set_prefix(format!("resuming ({done} done, {part} in part) ")),
        }
        let _ = self.bar.set(bar);
    }

    fn finished_task(&self) {
        if let Some(bar) = self.bar.get() {
            bar.inc(1);
        }
    }

    fn finished(&self, elapsed: Duration) {
        if let Some(bar) = self.bar.get() {
            bar.finish_with_message(format!("in {:.1} s", elapsed.as_secs_f64()));
            if !bar.is_hidden() {
                // indicatif leaves the cursor after the finished bar.
                eprintln!();
            }
        }
    }
}
