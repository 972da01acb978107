//! A small expression language for formulas written in scenario files, such as
//! `tau = "max(x1, 0) + 0.5 * x2"`.
//!
//! A formula is parsed once against a fixed list of variable names, which are
//! resolved to slice indices, and compiled to a constant-folded expression tree.
//! Evaluation walks that tree without allocating or looking up names.
//!
//! Comparisons and logical operators yield `1.0` or `0.0`; any nonzero value is
//! true. Arithmetic follows IEEE 754 (`1 / 0` is infinite, `sqrt(-1)` is NaN),
//! `%` is the remainder with the dividend's sign, `round` rounds half away from
//! zero, and `max`/`min` ignore a NaN argument as `f64::max` does.

//!
//! A formula is at most [`MAX_LENGTH`] characters long, nests at most
//! [`MAX_NESTING`] levels deep and compiles to a tree at most [`MAX_DEPTH`]
//! levels deep (a flat sum or product of any length is one level), so that
//! no formula can exhaust a thread's stack.
//!
//! `lex` splits the text into tokens, `parse` builds the tree (`tree` with
//! each node's depth), `eval` holds the tree and walks it, `functions` lists
//! the built-in functions, `variables` indexes the names a formula may use
//! and `text` is a formula as written in a spec, before it is parsed.

mod eval;
mod functions;
mod lex;
mod parse;
#[cfg(test)]
mod testing;
mod text;
mod tree;
mod variables;

use std::fmt;

pub use text::FormulaText;
pub use variables::Variables;

use eval::Node;

/// Longest formula accepted, in characters.
pub const MAX_LENGTH: usize = 10_000;

/// Deepest nesting of parentheses, signs, powers and function calls, which
/// bounds the parser's recursion.
pub const MAX_NESTING: usize = 100;

/// Most levels of a formula's compiled expression tree, which bounds the
/// recursion of evaluating, cloning and dropping it. A run of one precedence
/// level's operators (`x1 + x2 - x3 + ...`) and the arguments of `max` and
/// `min` take one level, however many they are.
pub const MAX_DEPTH: usize = 200;

/// A parsed formula over a fixed list of named variables.
#[derive(Debug, Clone)]
pub struct Formula {
    source: String,
    root: Node,
    used: Vec<usize>,
}

/// A formula that could not be parsed, with the 1-based character column where the problem is.
#[derive(Debug, Clone, PartialEq)]
pub struct FormulaError {
    /// What is wrong, phrased for the person who wrote the formula.
    pub message: String,
    /// 1-based character column of the offending token (one past the end for a truncated formula).
    pub column: usize,
}

impl fmt::Display for FormulaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for FormulaError {}

/// A [`FormulaError`] at 1-based `column`.
fn error(column: usize, message: impl Into<String>) -> FormulaError {
    FormulaError {
        message: message.into(),
        column,
    }
}

impl Formula {
    /// Parses `source`; `variables` are the names it may use, resolved to their index in this slice.
    pub fn parse(source: &str, variables: &[&str]) -> Result<Formula, FormulaError> {
        Formula::parse_in(source, &Variables::new(variables))
    }

    /// Parses `source` against indexed `variables`, which may be reused for
    /// many formulas over the same long list of names.
    pub fn parse_in(source: &str, variables: &Variables<'_>) -> Result<Formula, FormulaError> {
        let (root, used) = parse::parse(source, variables)?;
        Ok(Formula {
            source: source.to_owned(),
            root,
            used,
        })
    }

    /// Evaluates with `values[i]` bound to `variables[i]` (the slice passed to `parse`).
    ///
    /// Panics if `values` is too short to hold a variable the formula uses.
    #[inline]
    pub fn eval(&self, values: &[f64]) -> f64 {
        self.root.eval(values)
    }

    /// The source text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Indices (into `variables`) of the variables the formula actually uses, sorted, deduplicated.
    pub fn used_variables(&self) -> Vec<usize> {
        self.used.clone()
    }

    /// True when the formula uses no variable (a constant).
    pub fn is_constant(&self) -> bool {
        self.used.is_empty()
    }
}

/// Writes the source text, so a formula round-trips through configuration files unchanged.
impl fmt::Display for Formula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Formulas are equal when their source texts are equal.
impl PartialEq for Formula {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}
