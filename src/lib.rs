//! causim: a declarative simulation laboratory for causal estimators and
//! allocation policies in health care.
//!
//! A researcher declares a world with known truth (`sims/*.toml`) and an
//! experiment over it (`experiments/*.toml`); causim expands the sweep grid into
//! tasks, generates one sample per task, runs every stage on it (the
//! estimators, the paper's pipeline, placement and allocation policies),
//! records each stage's outcome, and summarizes them against the truth.
//!
//! Data flow: [`spec::Experiment`] → [`spec::Cell`]s × replications =
//! [`run::Task`]s → [`sim::Sample`] → [`stage::Stage`]s → [`record::Record`]s
//! → [`summary::Diagnosands`] → [`report`]. The README's design section lists
//! the floors and which folder may import which.

pub mod bounds;
pub mod cli;
pub mod core;
pub mod data;
pub mod estimate;
pub mod evaluate;
pub mod formula;
pub mod paper;
pub mod policy;
pub mod record;
pub mod report;
pub mod run;
pub mod sim;
pub mod spec;
pub mod stage;
pub mod summary;

pub use crate::core::error::{Error, Result};
