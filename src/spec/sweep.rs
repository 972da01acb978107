//! The `[sweep]` grid: axes of values for dotted sim keys, expanded into
//! cells, each a sim checked to build; and the `[overrides]` table they
//! share a shape with.

use serde::{Deserialize, Serialize};
use toml::{Spanned, Value};

use super::{SimSpec, SourceFile};
use crate::core::text::{elide, number};
use crate::Result;

/// A TOML table's entries in the order written, each value with its span.
#[derive(Debug, Default)]
pub(super) struct SpannedTable(pub(super) Vec<(String, Spanned<Value>)>);

impl<'de> Deserialize<'de> for SpannedTable {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = SpannedTable;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table of parameters")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<SpannedTable, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(SpannedTable(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// One swept parameter: a dotted key into the sim and the values it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// Dotted key of the sim parameter, e.g. `instrument.strength`.
    pub key: String,
    /// The values, in the order written.
    pub values: Vec<Value>,
}

/// One point of the sweep grid: the swept values and the sim they give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Position in the grid (row-major, last axis fastest).
    pub index: usize,
    /// The value of each axis at this cell, in axis order.
    pub values: Vec<Value>,
    /// The sim with base parameters, overrides and this cell's values applied.
    pub sim: SimSpec,
}

/// Most cells a sweep grid may have: the product of the axes' lengths.
pub const MAX_CELLS: usize = 100_000;

/// Most tasks (cells × replications) an experiment may have: ten million
/// records already make a results file of gigabytes.
pub const MAX_TASKS: usize = 10_000_000;

/// Checks the grid's size before it is expanded: at most [`MAX_CELLS`]
/// cells and [`MAX_TASKS`] tasks, computed without overflow.
pub(super) fn check_grid(
    file: &SourceFile,
    sweep: &SpannedTable,
    axes: &[Axis],
    replications: usize,
) -> Result<()> {
    let cells = axes
        .iter()
        .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
        .filter(|&n| n <= MAX_CELLS);
    let span = sweep.0.first().map(|(_, v)| v.span());
    let lengths: Vec<String> = axes.iter().map(|a| a.values.len().to_string()).collect();
    let Some(cells) = cells else {
        return Err(file.error_at(
            span,
            &format!(
                "the sweep's grid has {} cells, more than the {MAX_CELLS} a run may have; sweep \
                 fewer values, or split the grid into several experiments",
                lengths.join(" x ")
            ),
        ));
    };
    match cells.checked_mul(replications) {
        Some(tasks) if tasks <= MAX_TASKS => Ok(()),
        _ => Err(file.error_at(
            span,
            &format!(
                "{cells} cells x {replications} replications is more than the {MAX_TASKS} tasks \
                 a run may have; lower `replications` or sweep fewer values"
            ),
        )),
    }
}

/// The `[sweep]` axes in the order written: each a non-empty array of
/// values, declared once, every value of the parameter's type (whether the
/// sims build is checked cell by cell, in [`expand_cells`]).
pub(super) fn sweep_axes(
    file: &SourceFile,
    base: &SimSpec,
    sweep: &SpannedTable,
) -> Result<Vec<Axis>> {
    let mut axes: Vec<Axis> = Vec::new();
    for (key, value, span) in flatten(sweep) {
        let values = match value {
            Value::Array(values) if !values.is_empty() => values,
            Value::Array(_) => {
                return Err(file.error_at(
                    Some(span),
                    &format!("sweep `{key}` has no values; give at least one"),
                ))
            }
            other => {
                return Err(file.error_at(
                    Some(span),
                    &format!(
                        "sweep `{key}` must be an array of values, e.g. [0.1, 0.5]; found {}",
                        other.type_str()
                    ),
                ))
            }
        };
        if axes.iter().any(|a| a.key == key) {
            return Err(file.error_at(Some(span), &format!("sweep `{key}` is declared twice")));
        }
        for value in &values {
            base.with(&key, value.clone()).map_err(|m| {
                let v = display_value(value);
                file.error_at(Some(span.clone()), &format!("sweep `{key}` = {v}: {m}"))
            })?;
        }
        axes.push(Axis { key, values });
    }
    Ok(axes)
}

/// Fails when a key is both set in `[overrides]` and swept in `[sweep]`
/// (or one is a table holding the other): the sweep would replace the
/// override in every cell, so one of them is a mistake. The error is at the
/// sweep's key (`file:line:col`) and names the key and the override's line.
pub(super) fn check_overrides_not_swept(
    file: &SourceFile,
    overrides: &SpannedTable,
    sweep: &SpannedTable,
) -> Result<()> {
    let overridden = flatten(overrides);
    for (key, _, span) in flatten(sweep) {
        let within = |a: &str, b: &str| a.strip_prefix(b).is_some_and(|r| r.starts_with('.'));
        if let Some((set, _, at)) = overridden
            .iter()
            .find(|(o, _, _)| *o == key || within(o, &key) || within(&key, o))
        {
            let (line, _) = file.line_col(at.start);
            let both = if *set == key {
                format!("`{key}` is both set in [overrides] (line {line}) and swept in [sweep]")
            } else {
                format!("[overrides] sets `{set}` (line {line}) and [sweep] sweeps `{key}`")
            };
            return Err(file.error_at(
                Some(span),
                &format!(
                    "{both}; the sweep would replace the override in every cell, so remove \
                     one of them"
                ),
            ));
        }
    }
    Ok(())
}

/// Every cell of the sweep grid, each sim built once with all its axes'
/// values. A cell that does not build is blamed on the one axis value that
/// fails on its own, at that axis, or else on the combination.
pub(super) fn expand_cells(
    file: &SourceFile,
    base: &SimSpec,
    axes: &[Axis],
    sweep: &SpannedTable,
) -> Result<Vec<Cell>> {
    let spans: Vec<_> = flatten(sweep)
        .into_iter()
        .map(|(_, _, span)| span)
        .collect();
    let mut cells = Vec::new();
    for (index, values) in grid(axes).into_iter().enumerate() {
        let settings: Vec<(&str, Value)> = axes
            .iter()
            .zip(&values)
            .map(|(a, v)| (a.key.as_str(), v.clone()))
            .collect();
        let built = base
            .with_all(&settings)
            .and_then(|sim| sim.build().map(|_| sim).map_err(|e| e.to_string()));
        match built {
            Ok(sim) => cells.push(Cell { index, values, sim }),
            Err(message) => {
                for ((axis, value), span) in axes.iter().zip(&values).zip(&spans) {
                    if let Err(e) = base
                        .with(&axis.key, value.clone())
                        .and_then(|sim| sim.build().map_err(|e| e.to_string()))
                    {
                        let v = display_value(value);
                        let m = format!("sweep `{}` = {v}: {e}", axis.key);
                        return Err(file.error_at(Some(span.clone()), &m));
                    }
                }
                let cell = describe_cell(axes, &values);
                let m = format!("sweep cell {index} ({cell}): {message}");
                return Err(file.error_at(spans.first().cloned(), &m));
            }
        }
    }
    Ok(cells)
}

/// Flattens nested tables into dotted keys; a nested value carries its
/// parent's span. An empty table stays a value, so that `n = {}` is an
/// error at its key rather than silently nothing.
pub(super) fn flatten(table: &SpannedTable) -> Vec<(String, Value, std::ops::Range<usize>)> {
    fn walk(
        prefix: &str,
        value: &Value,
        span: &std::ops::Range<usize>,
        out: &mut Vec<(String, Value, std::ops::Range<usize>)>,
    ) {
        match value {
            Value::Table(t) if !t.is_empty() => {
                for (k, v) in t {
                    walk(&format!("{prefix}.{k}"), v, span, out);
                }
            }
            other => out.push((prefix.to_string(), other.clone(), span.clone())),
        }
    }
    let mut out = Vec::new();
    for (key, value) in &table.0 {
        walk(key, value.get_ref(), &value.span(), &mut out);
    }
    out
}

/// The cartesian grid of axis values, row-major with the last axis fastest.
fn grid(axes: &[Axis]) -> Vec<Vec<Value>> {
    let mut cells = vec![Vec::new()];
    for axis in axes {
        cells = cells
            .iter()
            .flat_map(|prefix| {
                axis.values.iter().map(move |v| {
                    let mut cell: Vec<Value> = prefix.clone();
                    cell.push(v.clone());
                    cell
                })
            })
            .collect();
    }
    cells
}

/// Human-readable cell label: "instrument.strength = 0.1, compliance.defiers = 0".
pub(crate) fn describe_cell(axes: &[Axis], values: &[Value]) -> String {
    if axes.is_empty() {
        return "base".to_string();
    }
    axes.iter()
        .zip(values)
        .map(|(a, v)| format!("{} = {}", a.key, display_value(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A TOML value as a user would write it, strings without quotes, numbers
/// short and long values elided.
pub(crate) fn display_value(value: &Value) -> String {
    match value {
        Value::String(s) => elide(s),
        Value::Float(x) => number(*x),
        other => elide(&other.to_string()),
    }
}
