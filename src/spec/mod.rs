//! Specs: the serde types users write in TOML (sims, experiments, estimators),
//! their validation, and the expansion of a sweep into cells.

mod allocation;
mod estimator;
mod experiment;
mod feedback;
mod lint;
mod location;
mod memory;
pub mod policy;
mod sim;
mod sweep;

pub use estimator::{EstimatorSpec, NamedEstimator, KIND_ALIASES};
pub use experiment::{Experiment, ReportSpec};
pub use location::SourceFile;
pub use sim::{load_sim, SimSpec};
pub use sweep::{Axis, Cell};
