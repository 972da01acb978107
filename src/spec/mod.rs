//! Specs: the serde types users write in TOML (sims, experiments, estimators),
//! their validation, and the expansion of a sweep into cells.

mod allocation;
mod estimator;
mod experiment;
mod location;
pub mod policy;
mod sim;

pub use estimator::{EstimatorSpec, NamedEstimator};
pub use experiment::{Axis, Cell, Experiment, ReportSpec};
pub use location::SourceFile;
pub use sim::{load_sim, SimSpec};
