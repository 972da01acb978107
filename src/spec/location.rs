//! Source files with positions, so that every spec error names file and line:column.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Largest spec file causim reads: the shipped specs are a few kilobytes.
pub const MAX_SPEC_BYTES: u64 = 4 << 20;

/// A spec file's path and text, kept to turn byte offsets into line:column.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as the user gave it (or as resolved from an experiment).
    pub path: PathBuf,
    /// Full text of the file.
    pub text: String,
}

impl SourceFile {
    /// Reads a spec file, with an error naming the path when it cannot, when
    /// it is larger than [`MAX_SPEC_BYTES`], or (with line, column and byte)
    /// where it is not UTF-8 text.
    pub fn read(path: &Path) -> Result<Self> {
        let io = |e| Error::io(path, e);
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_SPEC_BYTES {
            return Err(Error::Spec(format!(
                "{}: the file has {size} bytes; a spec is a short text file of at most {} MB, \
                 so this is not one",
                path.display(),
                MAX_SPEC_BYTES >> 20
            )));
        }
        let bytes = std::fs::read(path).map_err(io)?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let file = SourceFile {
                path: path.to_path_buf(),
                text: String::from_utf8_lossy(&e.as_bytes()[..at]).into_owned(),
            };
            let (line, col) = file.line_col(at);
            Error::Spec(format!(
                "{}:{line}:{col}: byte {} (0x{:02x}) is not UTF-8 text; save the spec as UTF-8",
                path.display(),
                at + 1,
                e.as_bytes()[at]
            ))
        })?;
        Ok(SourceFile {
            path: path.to_path_buf(),
            text,
        })
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// An error located at a byte span of this file: `path:line:col: message`.
    /// Without a span (the error is about something the file lacks, such as
    /// a `kind`), it points at the top of the file, where that would go.
    pub fn error_at(&self, span: Option<std::ops::Range<usize>>, message: &str) -> Error {
        let (line, col) = self.line_col(span.map_or(0, |s| s.start));
        Error::Spec(format!("{}:{line}:{col}: {message}", self.path.display()))
    }

    /// Parses the whole file as `T`, turning a TOML or serde error into a
    /// located one; a non-finite number or too deep a nesting is refused
    /// first, at its key.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        super::lint::check_values(self)?;
        toml::from_str(&self.text).map_err(|e| self.error_at(e.span(), e.message().trim()))
    }
}
