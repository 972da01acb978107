//! Rows of a user's CSV taken together: clusters (`--cluster`), which the
//! forests sample whole, and groups (`--group`), each with its average
//! effect from the doubly robust scores of its units.

use anyhow::{bail, Context};

use super::fixed;
use crate::core::text::{elide, number, plural};
use crate::data::{Clusters, Table};
use crate::estimate::forest::average_over;
use crate::estimate::Estimate;

/// The clusters of `--cluster`: rows that agree on every named column form
/// one; a row with an empty cell there is an error naming it.
pub(super) fn clusters(table: &Table, names: &[String]) -> anyhow::Result<Clusters> {
    let shown = elide(&names.join(","));
    if names.is_empty() || names.iter().any(|n| n.trim().is_empty()) {
        bail!("--cluster `{shown}`: name one or more columns, comma-separated");
    }
    let columns: Vec<Vec<String>> = names
        .iter()
        .map(|n| table.labels(n.trim()))
        .collect::<crate::Result<_>>()?;
    let mut labels = Vec::with_capacity(table.rows());
    for i in 0..table.rows() {
        let parts: Vec<&str> = columns.iter().map(|c| c[i].as_str()).collect();
        if let Some(k) = parts.iter().position(|p| p.is_empty()) {
            bail!(
                "{}: column `{}`, {} is empty: every row needs a cluster",
                table.path(),
                elide(names[k].trim()),
                table.row_label(i)
            );
        }
        labels.push(parts.join("\u{1f}"));
    }
    Clusters::from_labels(&labels).with_context(|| format!("--cluster `{shown}`"))
}

/// Most distinct values a `--group` column may have: each group gets a row
/// of the printed table, and a column with more (a continuous covariate)
/// is not a grouping.
pub const MAX_GROUPS: usize = 50;

/// One value of a `--group` column and the rows that hold it.
#[derive(Debug)]
pub(super) struct Level {
    /// The value as `--json` writes it: a number for a numeric column, else text.
    pub(super) value: serde_json::Value,
    /// The value as the table prints it.
    pub(super) label: String,
    /// The rows (0-based) with this value, in file order.
    pub(super) rows: Vec<usize>,
}

/// The groups of a `--group` column: a numeric column's values in numeric
/// order, a text column's (any column with a cell that is not a number) in
/// text order. An empty text cell, or more than [`MAX_GROUPS`] values, is
/// an error naming the column.
pub(super) fn group_levels(table: &Table, name: &str) -> anyhow::Result<Vec<Level>> {
    let levels: Vec<Level> = match table.column(name) {
        Ok(values) => {
            let mut rows: Vec<usize> = (0..values.len()).collect();
            rows.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
            rows.chunk_by(|&a, &b| values[a] == values[b])
                .map(|members| Level {
                    value: serde_json::json!(values[members[0]]),
                    label: number(values[members[0]]),
                    rows: members.to_vec(),
                })
                .collect()
        }
        Err(_) => {
            let labels = table.labels(name)?;
            if let Some(i) = labels.iter().position(String::is_empty) {
                bail!(
                    "{}: column `{}`, {} is empty: every row needs a group",
                    table.path(),
                    elide(name),
                    table.row_label(i)
                );
            }
            let mut rows: Vec<usize> = (0..labels.len()).collect();
            rows.sort_by(|&a, &b| labels[a].cmp(&labels[b]));
            rows.chunk_by(|&a, &b| labels[a] == labels[b])
                .map(|members| Level {
                    value: serde_json::json!(labels[members[0]]),
                    label: elide(&labels[members[0]]),
                    rows: members.to_vec(),
                })
                .collect()
        }
    };
    if levels.len() > MAX_GROUPS {
        bail!(
            "column `{}` has {} distinct values, more than the {MAX_GROUPS} groups --group \
             reports; group by a column with few values (a diagnosis, a region), or bin this \
             one into at most {MAX_GROUPS} bands first",
            elide(name),
            levels.len()
        );
    }
    Ok(levels)
}

/// (group, estimate, SE) per group, from the mean and spread of the
/// estimator's doubly robust scores in the group.
pub(super) fn group_effects<'a>(
    levels: &'a [Level],
    estimate: &Estimate,
    kind: &str,
    clusters: Option<&Clusters>,
) -> anyhow::Result<Vec<(&'a Level, f64, f64)>> {
    let scores = estimate
        .units
        .as_ref()
        .map(|u| &u.scores)
        .filter(|s| !s.is_empty())
        .with_context(|| {
            format!("{kind} has no doubly robust scores; --group needs a forest estimator")
        })?;
    levels
        .iter()
        .map(|level| {
            let members = &level.rows;
            match average_over(scores, members.iter().copied(), clusters) {
                Some((mean, se)) if mean.is_finite() && se.is_finite() => Ok((level, mean, se)),
                Some((mean, se)) => bail!(
                    "the group {} has the effect {} with SE {}, not finite numbers",
                    level.label,
                    number(mean),
                    number(se)
                ),
                None => bail!(
                    "the group {} has {} in {}, too few for an effect with a standard error \
                     (it needs 2); merge it into another group or drop its rows",
                    level.label,
                    plural(members.len(), "unit"),
                    plural(distinct_clusters(members, clusters), "cluster"),
                ),
            }
        })
        .collect()
}

/// How many distinct clusters the rows `members` span (each row its own
/// without clusters).
fn distinct_clusters(members: &[usize], clusters: Option<&Clusters>) -> usize {
    let mut ids: Vec<usize> = members
        .iter()
        .map(|&i| clusters.map_or(i, |c| c.of(i)))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

/// The group effects as a table under the main one.
pub(super) fn group_table(column: &str, groups: &[(&Level, f64, f64)]) -> String {
    let mut out = format!(
        "\nby {column}\n  {:<12} {:>12} {:>12} {:>8}\n",
        "value", "estimate", "se", "n"
    );
    for (level, estimate, se) in groups {
        out.push_str(&format!(
            "  {:<12} {:>12} {:>12} {:>8}\n",
            level.label,
            fixed(*estimate),
            fixed(*se),
            level.rows.len()
        ));
    }
    out
}
