//! Evaluation: diagnosands that summarize, per cell and estimator, how close
//! the estimates came to the truth over replications, and the true welfare
//! of placement and allocation policies.

pub mod allocation;
mod diagnosands;
pub mod placement;

pub use diagnosands::{
    mean_mc, summarize, truth_means, Diagnosands, Mc, DIAGNOSANDS, IATE_DIAGNOSANDS,
};
