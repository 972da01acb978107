//! Individualized bounds: the Manski and Balke-Pearl bounds computed from
//! kernel weights over training units (a forest's weights around one unit),
//! i.e. from forest-weighted estimates of P(Y, W | Z, X = x).

use super::{balke_pearl, binary, manski_from_weighted, CellProbabilities, Interval};
use crate::{Error, Result};

/// The bounds at one point, with the weighted cell probabilities behind them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalBounds {
    /// Manski's no-assumption bounds from the weighted P(W | x), E[Y | W, x].
    pub manski: Interval,
    /// Balke and Pearl's bounds from the weighted P(Y, W | Z, x); equal to
    /// `manski` when the neighbourhood holds only one instrument arm. Can be
    /// crossed when the estimated cells violate the instrumental inequalities.
    pub balke_pearl: Interval,
    /// The weighted P(Y, W | Z, x), or `None` when the neighbourhood holds no
    /// weight in one instrument arm, whose conditional distribution is then
    /// unknown.
    pub cells: Option<CellProbabilities>,
}

/// Bounds at one point from kernel weights `(training index, weight)` over
/// training units with outcome `y`, treatment `w` and instrument `z` (binary).
///
/// The weights need not sum to one; they are normalized. If the weighted
/// neighbourhood has no unit in one instrument arm, the instrument says
/// nothing about the effect there: the sharp bound from the one arm observed
/// is Manski's, so `balke_pearl` falls back to it (valid, but wide) and
/// `cells` is `None`. Errors on mismatched column lengths, an index out of
/// range, invalid weights or values, or zero total weight.
pub fn local_bounds(
    weights: &[(usize, f64)],
    y: &[f64],
    w: &[f64],
    z: &[f64],
) -> Result<LocalBounds> {
    let n = y.len();
    if w.len() != n || z.len() != n {
        return Err(Error::Data(format!(
            "y, w and z must have one value per training unit, got {}, {} and {}",
            n,
            w.len(),
            z.len()
        )));
    }
    let units = weights
        .iter()
        .map(|&(i, weight)| {
            if i < n {
                Ok((weight, y[i], w[i], z[i]))
            } else {
                Err(Error::Data(format!(
                    "kernel weight refers to training unit {i}, but there are only {n}"
                )))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let manski = manski_from_weighted(units.iter().map(|&(weight, y, w, _)| (weight, y, w)))?;
    // Checked here too so that both branches accept the same data.
    let mut arm = [0.0; 2];
    for (unit, &(weight, y, _, z)) in units.iter().enumerate() {
        binary("outcome y", unit, y)?;
        arm[binary("instrument z", unit, z)?] += weight;
    }
    if arm[0] > 0.0 && arm[1] > 0.0 {
        let cells = CellProbabilities::from_weighted(units)?;
        Ok(LocalBounds {
            manski,
            balke_pearl: balke_pearl(&cells),
            cells: Some(cells),
        })
    } else {
        Ok(LocalBounds {
            manski,
            balke_pearl: manski,
            cells: None,
        })
    }
}
