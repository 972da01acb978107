//! What a placement policy sees of a day: every patient's effect and lower
//! bounds predicted at the busyness each count in internal medicine
//! creates, as objectives against the observed placement, with the day's
//! free beds. Built from a fitted forest and the day structure, never from
//! the truth.

use ndarray::Array2;

use super::{Day, Objective};
use crate::bounds::{local_bounds, BoundKind};
use crate::core::stats::Z_95;
use crate::data::Cohorts;
use crate::estimate::forest::{FittedForest, Path};
use crate::{Error, Result};

/// The training data behind a forest's local bounds: outcome, treatment and
/// instrument (`None` for a causal forest, whose bounds use no instrument).
#[derive(Debug, Clone, Copy)]
pub struct Training<'a> {
    /// Outcome (binary for the bounds).
    pub y: &'a [f64],
    /// Treatment.
    pub w: &'a [f64],
    /// Instrument, if the forest has one.
    pub z: Option<&'a [f64]>,
}

/// A fitted forest and what the policies need from it.
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    /// The forest predicting each patient's effect.
    pub forest: &'a FittedForest,
    /// Columns of `x` holding the [surgical, internal-medicine] busyness.
    pub busyness: [usize; 2],
    /// The lower bounds to compute (the frequentist one needs little bags).
    pub bounds: &'a [BoundKind],
    /// The data the forest was trained on, for the Manski and Balke-Pearl bounds.
    pub training: Training<'a>,
}

/// An objective valuing a placement against the observed one: `gain[j * n + i]`
/// for patient i in internal medicine at count j, less the observed placement's.
pub(crate) fn against_observed(n: usize, observed: &[bool], gain: Vec<f64>) -> Objective {
    let base = (0..=n)
        .map(|j| {
            -observed
                .iter()
                .enumerate()
                .filter(|(_, &o)| o)
                .map(|(i, _)| gain[j * n + i])
                .sum::<f64>()
        })
        .collect();
    Objective { base, gain }
}

/// The logical range of an effect on a probability: a forest's estimate
/// beyond it (where the local first stage is near zero) is clipped to it.
const EFFECT_RANGE: (f64, f64) = (-1.0, 1.0);

/// Every patient's effect at each count `j` of a day (`tau[j * n + i]`) and
/// the lower ends of the requested bounds, all clipped to [`EFFECT_RANGE`],
/// and how many effects were clipped.
struct Effects {
    tau: Vec<f64>,
    lower: Vec<(BoundKind, Vec<f64>)>,
    clipped: usize,
}

/// An effect or bound clipped to [`EFFECT_RANGE`].
fn clip(v: f64) -> f64 {
    v.clamp(EFFECT_RANGE.0, EFFECT_RANGE.1)
}

/// The training data as the eight (z, w, y) cell indicators (cell
/// `4z + 2w + y`), whose forest-weighted means are the local P(Z, W, Y | x)
/// behind the Manski and Balke-Pearl bounds; `None` without those bounds.
fn cell_columns(model: &Model<'_>) -> Result<Option<Vec<Vec<f64>>>> {
    if !model
        .bounds
        .iter()
        .any(|b| matches!(b, BoundKind::Manski | BoundKind::BalkePearl))
    {
        return Ok(None);
    }
    let t = model.training;
    let n = t.y.len();
    if t.w.len() != n || t.z.is_some_and(|z| z.len() != n) {
        return Err(Error::Data(format!(
            "the bounds' training data has {n} outcomes but {} treatments",
            t.w.len()
        )));
    }
    let binary = |what: &str, r: usize, v: f64| -> Result<usize> {
        match v {
            0.0 => Ok(0),
            1.0 => Ok(1),
            _ => Err(Error::Data(format!(
                "the Manski and Balke-Pearl bounds need a binary {what}; unit {r} has {v}"
            ))),
        }
    };
    let mut columns = vec![vec![0.0; n]; 8];
    for r in 0..n {
        let z = match t.z {
            Some(z) => binary("instrument", r, z[r])?,
            None => 0,
        };
        let cell = 4 * z + 2 * binary("treatment", r, t.w[r])? + binary("outcome", r, t.y[r])?;
        columns[cell][r] = 1.0;
    }
    Ok(Some(columns))
}

/// The local bounds at a point from the forest-weighted cell masses
/// (`masses[4z + 2w + y]`), through [`local_bounds`] on the eight cells as
/// weighted units.
fn bounds_from_cells(masses: &[f64]) -> Result<crate::bounds::LocalBounds> {
    const Y: [f64; 8] = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
    const W: [f64; 8] = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0];
    const Z: [f64; 8] = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
    // Sums along a path carry rounding: a mass of -1e-20 is an empty cell.
    let weights: Vec<(usize, f64)> = masses.iter().map(|m| m.max(0.0)).enumerate().collect();
    local_bounds(&weights, &Y, &W, &Z)
}

/// Effects of every patient of `days` at the busyness of each count, and the
/// requested lower bounds, from one walk of each tree per patient
/// ([`FittedForest::predict_paths`]).
fn effects(
    cohorts: &Cohorts,
    x: &Array2<f64>,
    days: &[usize],
    model: &Model<'_>,
) -> Result<Vec<Effects>> {
    let cells = cell_columns(model)?;
    let leaf_means = match &cells {
        Some(columns) => {
            let refs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
            Some(model.forest.leaf_means(&refs)?)
        }
        None => None,
    };
    let predicted = predict_paths(cohorts, x, days, model, leaf_means.as_ref())?;
    let mut out = Vec::with_capacity(days.len());
    let mut first = 0;
    for &d in days {
        let n = cohorts.days[d].size();
        out.push(day_effects(
            &predicted,
            first,
            n,
            model.bounds,
            leaf_means.as_ref(),
        )?);
        first += n;
    }
    Ok(out)
}

/// The forest's predictions along every patient's path of `days`, day by
/// day in patient order: the patient's covariates with the [surgical,
/// internal-medicine] busyness of each count of its day.
fn predict_paths(
    cohorts: &Cohorts,
    x: &Array2<f64>,
    days: &[usize],
    model: &Model<'_>,
    leaf_means: Option<&crate::estimate::forest::LeafMeans>,
) -> Result<crate::estimate::forest::PathPredictions> {
    let x = x.as_standard_layout();
    // The busyness of [surgical, internal medicine] at each count, per day.
    let steps: Vec<Vec<f64>> = days
        .iter()
        .map(|&d| {
            let day = &cohorts.days[d];
            (0..=day.size()).flat_map(|j| day.busyness(j)).collect()
        })
        .collect();
    let mut paths = Vec::new();
    for (k, &d) in days.iter().enumerate() {
        let day = &cohorts.days[d];
        for i in day.start..day.end {
            let base = x
                .row(i)
                .to_slice()
                .ok_or_else(|| Error::Data("the covariate matrix is not contiguous".into()))?;
            paths.push(Path {
                base,
                values: &steps[k],
            });
        }
    }
    model
        .forest
        .predict_paths(&model.busyness, &paths, leaf_means)
}

/// One day's [`Effects`] from its `n` patients' paths, which start at path
/// `first` of `predicted`: the clipped effects, and each requested lower
/// bound (the local Manski or Balke-Pearl bound from the cell masses with
/// leaf means, else the effect less its 95% margin), clipped.
fn day_effects(
    predicted: &crate::estimate::forest::PathPredictions,
    first: usize,
    n: usize,
    bounds: &[BoundKind],
    leaf_means: Option<&crate::estimate::forest::LeafMeans>,
) -> Result<Effects> {
    // Path `first + i`, step `j` is patient i at count j.
    let at = |i: usize, j: usize| predicted.offsets[first + i] + j;
    let mut tau = vec![0.0; (n + 1) * n];
    let mut clipped = 0;
    let mut lower: Vec<(BoundKind, Vec<f64>)> = bounds
        .iter()
        .map(|&b| (b, vec![0.0; (n + 1) * n]))
        .collect();
    for i in 0..n {
        for j in 0..=n {
            let r = at(i, j);
            let p = predicted.predictions[r];
            if !(EFFECT_RANGE.0..=EFFECT_RANGE.1).contains(&p.tau) {
                clipped += 1;
            }
            tau[j * n + i] = clip(p.tau);
            let local = match leaf_means {
                Some(m) => Some(bounds_from_cells(
                    &predicted.means[r * m.columns()..(r + 1) * m.columns()],
                )?),
                None => None,
            };
            for (b, ends) in &mut lower {
                ends[j * n + i] = clip(match (*b, &local) {
                    (BoundKind::Manski, Some(l)) => l.manski.lower,
                    (BoundKind::BalkePearl, Some(l)) => l.balke_pearl.lower,
                    _ => p.tau - Z_95 * p.variance.max(0.0).sqrt(),
                });
            }
        }
    }
    Ok(Effects {
        tau,
        lower,
        clipped,
    })
}

/// Builds each selected day as a policy sees it: its observed placement,
/// free beds and, with a model, the estimated and lower-bound welfare.
pub fn days(
    cohorts: &Cohorts,
    x: &Array2<f64>,
    w: &[f64],
    days: &[usize],
    model: Option<&Model<'_>>,
) -> Result<Vec<Day>> {
    let effects = match model {
        Some(m) => Some(effects(cohorts, x, days, m)?),
        None => None,
    };
    days.iter()
        .enumerate()
        .map(|(k, &d)| {
            let day = &cohorts.days[d];
            let n = day.size();
            let observed: Vec<bool> = (day.start..day.end).map(|i| w[i] > 0.5).collect();
            let (estimated, lower, clipped) = match &effects {
                Some(e) => {
                    let Effects {
                        tau,
                        lower,
                        clipped,
                    } = &e[k];
                    let lower = lower
                        .iter()
                        .map(|(b, ends)| (*b, against_observed(n, &observed, ends.clone())))
                        .collect();
                    (
                        Some(against_observed(n, &observed, tau.clone())),
                        lower,
                        *clipped,
                    )
                }
                None => (None, Vec::new(), 0),
            };
            let free = day.free_beds();
            Ok(Day {
                day: d,
                observed,
                free: [free[0].max(0.0) as usize, free[1].max(0.0) as usize],
                estimated,
                lower,
                clipped,
            })
        })
        .collect()
}
