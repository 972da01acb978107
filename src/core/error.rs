//! The library's typed error: every failure a user can cause is a variant that
//! says what is wrong and what to change.

use std::path::PathBuf;

/// Everything that can go wrong in causim's library code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A spec file could not be read or parsed; the message carries file and line:column.
    #[error("{0}")]
    Spec(String),
    /// A formula in a sim could not be parsed or evaluated.
    #[error("{0}")]
    Formula(String),
    /// Input data (a CSV, a column, a value) is unusable, with what to change.
    #[error("{0}")]
    Data(String),
    /// An estimator could not be fitted on a sample, with the reason.
    #[error("{0}")]
    Estimate(String),
    /// A result store is inconsistent with the experiment being run.
    #[error("{0}")]
    Store(String),
    /// An I/O failure on a named path. The message already says what the
    /// OS said, so the I/O error is not also a `source` (which would print
    /// it twice in an error chain).
    #[error("{path}: {error}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The report could not be rendered.
    #[error("report: {0}")]
    Report(String),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }
}

/// Result with causim's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
