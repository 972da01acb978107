//! Source files with positions, so that every spec error names file and line:column.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A spec file's path and text, kept to turn byte offsets into line:column.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as the user gave it (or as resolved from an experiment).
    pub path: PathBuf,
    /// Full text of the file.
    pub text: String,
}

impl SourceFile {
    /// Reads a spec file, with an error naming the path when it cannot.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
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
    pub fn error_at(&self, span: Option<std::ops::Range<usize>>, message: &str) -> Error {
        match span {
            Some(span) => {
                let (line, col) = self.line_col(span.start);
                Error::Spec(format!("{}:{line}:{col}: {message}", self.path.display()))
            }
            None => Error::Spec(format!("{}: {message}", self.path.display())),
        }
    }

    /// Parses the whole file as `T`, turning a TOML or serde error into a located one.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        toml::from_str(&self.text).map_err(|e| self.error_at(e.span(), e.message().trim()))
    }
}
