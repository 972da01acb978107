//! Evaluation: diagnosands that summarize, per cell and estimator, how close
//! the estimates came to the truth over replications.

mod diagnosands;

pub use diagnosands::{summarize, truth_means, Diagnosands, Mc, DIAGNOSANDS, IATE_DIAGNOSANDS};
