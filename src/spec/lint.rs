//! Checks on a spec file's TOML before serde reads it, where every value
//! still has its position: numbers must be finite (and integers within
//! TOML's 64-bit range), nesting shallow, and a table of parameters must be
//! written as a table.
//!
//! serde reads a struct from an array by position (`instrument = [1, 2]`
//! would set the strength to 1 and the propensity to "2") and writes a NaN
//! as `null` into JSON, so both are refused here, at the key that holds them.

use toml::de::{DeTable, DeValue};
use toml::{Spanned, Value};

use super::SourceFile;
use crate::core::text::elide;
use crate::Result;

/// Deepest nesting of tables and arrays a spec may use; the deepest shipped
/// spec nests three levels, and every later step may then recurse freely.
pub const MAX_NESTING: usize = 16;

/// Checks every value of `file`: finite numbers, integers TOML can hold,
/// at most [`MAX_NESTING`] levels deep. A TOML syntax error is left to the parse that follows.
pub(super) fn check_values(file: &SourceFile) -> Result<()> {
    let Ok(root) = DeTable::parse(&file.text) else {
        return Ok(());
    };
    for (key, value) in root.get_ref() {
        walk_values(file, key.get_ref(), value, 1)?;
    }
    Ok(())
}

fn walk_values(
    file: &SourceFile,
    path: &str,
    value: &Spanned<DeValue>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_NESTING {
        return Err(file.error_at(
            Some(value.span()),
            &format!(
                "`{}` nests tables or arrays more than {MAX_NESTING} levels deep; no causim spec \
                 needs that many",
                elide(path)
            ),
        ));
    }
    match value.get_ref() {
        DeValue::Float(f) if !f.as_str().parse::<f64>().is_ok_and(f64::is_finite) => Err(file
            .error_at(
                Some(value.span()),
                &format!(
                    "`{}` is {}; every number in a spec must be finite",
                    elide(path),
                    f.as_str()
                ),
            )),
        DeValue::Integer(i) if i64::from_str_radix(i.as_str(), i.radix()).is_err() => Err(file
            .error_at(
                Some(value.span()),
                &format!(
                    "`{}` is {i}, beyond the integers TOML holds (-2^63 to 2^63 - 1)",
                    elide(path)
                ),
            )),
        DeValue::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| {
            walk_values(file, &format!("{path}[{}]", i + 1), item, depth + 1)
        }),
        DeValue::Table(table) => table.iter().try_for_each(|(k, v)| {
            walk_values(file, &format!("{path}.{}", k.get_ref()), v, depth + 1)
        }),
        _ => Ok(()),
    }
}

/// Checks that every key of the top-level table, or of the table at
/// `under`, which `reference` declares as a table of parameters, is written
/// as a table in `file`: `reference` is a default spec serialized to TOML.
pub(super) fn check_shapes(file: &SourceFile, under: &[Key], reference: &Value) -> Result<()> {
    let Ok(root) = DeTable::parse(&file.text) else {
        return Ok(());
    };
    let mut node: &DeTable = root.get_ref();
    let mut path = Vec::new();
    for key in under {
        let found = match key {
            Key::Name(name) => node.get(*name),
            Key::Item(name, i) => match node.get(*name).map(Spanned::get_ref) {
                Some(DeValue::Array(items)) => items.get(*i),
                _ => None,
            },
        };
        match found.map(Spanned::get_ref) {
            Some(DeValue::Table(table)) => node = table,
            _ => return Ok(()),
        }
        path.push(key.to_string());
    }
    walk_shapes(file, &path.join("."), node, reference)
}

/// A step to a table within a spec: a key, or the i-th (0-based) table of an
/// array of tables such as `[[estimators]]`.
#[derive(Debug, Clone, Copy)]
pub(super) enum Key<'a> {
    /// `name = { ... }` or `[name]`.
    Name(&'a str),
    /// The i-th `[[name]]`.
    Item(&'a str, usize),
}

impl std::fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Name(name) => f.write_str(name),
            Key::Item(name, i) => write!(f, "{name}[{}]", i + 1),
        }
    }
}

fn walk_shapes(file: &SourceFile, prefix: &str, table: &DeTable, reference: &Value) -> Result<()> {
    let Value::Table(reference) = reference else {
        return Ok(());
    };
    for (key, value) in table {
        let key = key.get_ref();
        let Some(Value::Table(want)) = reference.get(key.as_ref()) else {
            continue;
        };
        let path = if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        };
        match value.get_ref() {
            DeValue::Table(inner) => walk_shapes(file, &path, inner, &Value::Table(want.clone()))?,
            other => {
                let keys: Vec<&str> = want.keys().map(String::as_str).collect();
                return Err(file.error_at(
                    Some(value.span()),
                    &format!(
                        "`{path}` is a table of parameters ({}), found {}; write it as \
                         [{path}] with one `key = value` per line",
                        keys.join(", "),
                        other.type_str()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Where in `file` a message about its values points: the first
/// backquoted dotted key of the message that `file` sets (`` `instrument.strength` ``),
/// or the `[[nodes]]` entry of a message about "node `name`".
pub(super) fn locate(file: &SourceFile, message: &str) -> Option<std::ops::Range<usize>> {
    let root = DeTable::parse(&file.text).ok()?;
    let quoted = message.split('`').skip(1).step_by(2);
    if let Some(name) = message
        .strip_prefix("node `")
        .and_then(|m| m.split('`').next())
    {
        if let Some(DeValue::Array(nodes)) = root.get_ref().get("nodes").map(Spanned::get_ref) {
            let named = |node: &&Spanned<DeValue>| match node.get_ref() {
                DeValue::Table(t) => t.get("name").and_then(|n| n.get_ref().as_str()) == Some(name),
                _ => false,
            };
            if let Some(node) = nodes.iter().find(named) {
                return Some(node.span());
            }
        }
    }
    quoted
        .filter_map(|key| {
            let mut parts = key.split('.');
            let mut value = root.get_ref().get(parts.next()?)?;
            for part in parts {
                value = value.get_ref().as_table()?.get(part)?;
            }
            Some(value.span())
        })
        .next()
}
