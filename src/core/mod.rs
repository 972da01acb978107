//! The ground floor: the typed error, counter-based seeds, estimand names
//! and small statistics. It imports nothing from the crate, and every other
//! folder may import it.

pub mod error;
pub mod estimand;
pub mod seed;
pub mod stats;
pub mod text;

pub use error::{Error, Result};
pub use estimand::Estimand;
