//! Rows of a user's CSV taken together: clusters (`--cluster`), which the
//! forests sample whole, and groups (`--group`), each with its average
//! effect from the doubly robust scores of its units.

use anyhow::{bail, Context};

use super::fixed;
use crate::core::text::{elide, number};
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

/// (group value, estimate, SE, units) per distinct value of a column, from
/// the mean and spread of the estimator's doubly robust scores in the group.
pub(super) fn group_effects(
    values: &[f64],
    estimate: &Estimate,
    kind: &str,
    clusters: Option<&Clusters>,
) -> anyhow::Result<Vec<(f64, f64, f64, usize)>> {
    let scores = estimate
        .units
        .as_ref()
        .map(|u| &u.scores)
        .filter(|s| !s.is_empty())
        .with_context(|| {
            format!("{kind} has no doubly robust scores; --group needs a forest estimator")
        })?;
    // Rows by value, each group in file order.
    let mut rows: Vec<usize> = (0..values.len()).collect();
    rows.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    rows.chunk_by(|&a, &b| values[a] == values[b])
        .map(|members| {
            let level = values[members[0]];
            match average_over(scores, members.iter().copied(), clusters) {
                Some((mean, se)) if mean.is_finite() && se.is_finite() => {
                    Ok((level, mean, se, members.len()))
                }
                Some((mean, se)) => bail!(
                    "the group {} has the effect {} with SE {}, not finite numbers",
                    number(level),
                    number(mean),
                    number(se)
                ),
                None => bail!(
                    "the group {} has {} unit{} in {} cluster{}, too few for an effect with a \
                     standard error (it needs 2); merge it into another group or drop its rows",
                    number(level),
                    members.len(),
                    if members.len() == 1 { "" } else { "s" },
                    distinct_clusters(members, clusters),
                    if distinct_clusters(members, clusters) == 1 {
                        ""
                    } else {
                        "s"
                    }
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
pub(super) fn group_table(column: &str, groups: &[(f64, f64, f64, usize)]) -> String {
    let mut out = format!(
        "\nby {column}\n  {:<12} {:>12} {:>12} {:>8}\n",
        "value", "estimate", "se", "n"
    );
    for (level, estimate, se, n) in groups {
        out.push_str(&format!(
            "  {:<12} {:>12} {:>12} {n:>8}\n",
            number(*level),
            fixed(*estimate),
            fixed(*se)
        ));
    }
    out
}
