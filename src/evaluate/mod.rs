//! Evaluation: a policy's decision judged against the world's truth (true
//! welfare, the oracle's, regret). Policies decide without the truth; only
//! this floor reads it.

pub mod allocation;
pub mod feedback;
pub mod placement;
