//! causim: a declarative simulation laboratory for causal estimators and
//! allocation policies in health care.
//!
//! A researcher declares a world with known truth (`sims/*.toml`) and an
//! experiment over it (`experiments/*.toml`); causim expands the sweep grid into
//! tasks, generates one sample per task, runs every estimator on it, records the
//! results, and summarizes them into diagnosands against the truth.
//!
//! Data flow: [`spec::Experiment`] → [`spec::Cell`]s × replications =
//! [`run::Task`]s → [`sim::Sample`] → [`estimate::Estimate`]s →
//! [`run::Record`]s → [`evaluate::Diagnosands`] → [`report`].

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
