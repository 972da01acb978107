//! Balke and Pearl's (1997) sharp bounds on the average treatment effect of a
//! binary treatment on a binary outcome with a binary instrument, in closed
//! form and as the linear program over response types that they solve.

use microlp::{ComparisonOp, OptimizationDirection, Problem, SolveOptions};

use super::{binary, check_weight, Interval};
use crate::{Error, Result};

/// How far a table's instrument arms may sum away from one, or its cells dip
/// below zero, before [`balke_pearl_lp`] refuses it as not a probability table.
const TABLE_TOLERANCE: f64 = 1e-9;

/// The LP's feasibility tolerance, the tightest microlp accepts: its default
/// (1e-7) lets the optimum drift by as much from the exact vertex.
const LP_FEASIBILITY: f64 = 1e-10;

/// Joint cell probabilities of an IV design, conditional on the instrument:
/// `p[z][w][y]` = P(Y = y, W = w | Z = z); each z-slice sums to one.
///
/// Conditioning on Z (rather than taking joint probabilities of Y, W and Z)
/// is what makes the bounds sharp and free of the instrument's own
/// distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellProbabilities {
    /// `p[z][w][y]` = P(Y = y, W = w | Z = z).
    pub p: [[[f64; 2]; 2]; 2],
}

impl CellProbabilities {
    /// Estimates the table from counts or weights of units `(weight, y, w, z)`
    /// with y, w, z in {0, 1}.
    ///
    /// Errors on a negative or non-finite weight, a non-binary value, or an
    /// instrument arm with zero total weight (its conditional distribution is
    /// then unknown).
    pub fn from_weighted(units: impl IntoIterator<Item = (f64, f64, f64, f64)>) -> Result<Self> {
        let mut p = [[[0.0; 2]; 2]; 2];
        for (unit, (weight, y, w, z)) in units.into_iter().enumerate() {
            let weight = check_weight(unit, weight)?;
            let y = binary("outcome y", unit, y)?;
            let w = binary("treatment w", unit, w)?;
            let z = binary("instrument z", unit, z)?;
            p[z][w][y] += weight;
        }
        for (z, slice) in p.iter_mut().enumerate() {
            let total: f64 = slice.iter().flatten().sum();
            if total <= 0.0 {
                return Err(Error::Data(format!(
                    "no weight in instrument arm Z = {z}: the Balke-Pearl bounds need \
                     units with Z = 0 and units with Z = 1"
                )));
            }
            slice.iter_mut().flatten().for_each(|cell| *cell /= total);
        }
        Ok(CellProbabilities { p })
    }

    /// Whether the table satisfies Pearl's instrumental inequalities, the
    /// testable implication of the IV model (and, for binary variables, the
    /// whole of it): for each w, sum over y of max over z of P(y, w | z) is at
    /// most 1 (+ `tol`).
    pub fn satisfies_iv_inequalities(&self, tol: f64) -> bool {
        (0..2).all(|w| {
            let total: f64 = (0..2).map(|y| self.p[0][w][y].max(self.p[1][w][y])).sum();
            total <= 1.0 + tol
        })
    }

    /// Checks that the table is one: finite, non-negative cells whose
    /// instrument arms each sum to one.
    fn check(&self) -> Result<()> {
        for (z, slice) in self.p.iter().enumerate() {
            let cells = slice.iter().flatten();
            if cells
                .clone()
                .any(|c| !c.is_finite() || *c < -TABLE_TOLERANCE)
            {
                return Err(Error::Data(format!(
                    "instrument arm Z = {z} has a negative or non-finite cell probability"
                )));
            }
            let total: f64 = cells.sum();
            if (total - 1.0).abs() > TABLE_TOLERANCE {
                return Err(Error::Data(format!(
                    "the cell probabilities of instrument arm Z = {z} sum to {total}, not 1"
                )));
            }
        }
        Ok(())
    }
}

/// Balke and Pearl's (1997) sharp bounds on the ATE E[Y(1) - Y(0)] in closed
/// form: the maximum of eight linear terms in p_{yw.z} = P(Y = y, W = w | Z = z)
/// and the minimum of eight.
///
/// These are the canonical bounds in conditional probabilities; the seed
/// paper prints a variant in joint probabilities P(Y, W, Z | X) that collapses
/// to marginals and is not a valid bound, so it is not reproduced here. On a
/// table that violates the instrumental inequalities (estimated cells, say)
/// the result can be crossed; it is returned as computed.
pub fn balke_pearl(p: &CellProbabilities) -> Interval {
    let (lower, upper) = terms(p);
    Interval {
        lower: lower.into_iter().fold(f64::NEG_INFINITY, f64::max),
        upper: upper.into_iter().fold(f64::INFINITY, f64::min),
    }
}

/// The eight candidate lower bounds and eight candidate upper bounds of
/// Balke and Pearl (1997), where `p{y}{w}_{z}` = P(Y = y, W = w | Z = z).
fn terms(p: &CellProbabilities) -> ([f64; 8], [f64; 8]) {
    let c = |y: usize, w: usize, z: usize| p.p[z][w][y];
    let (p00_0, p01_0, p10_0, p11_0) = (c(0, 0, 0), c(0, 1, 0), c(1, 0, 0), c(1, 1, 0));
    let (p00_1, p01_1, p10_1, p11_1) = (c(0, 0, 1), c(0, 1, 1), c(1, 0, 1), c(1, 1, 1));
    let lower = [
        p11_1 + p00_0 - 1.0,
        p11_0 + p00_1 - 1.0,
        p11_0 - p11_1 - p10_1 - p01_0 - p10_0,
        p11_1 - p11_0 - p10_0 - p01_1 - p10_1,
        -p01_1 - p10_1,
        -p01_0 - p10_0,
        p00_1 - p01_1 - p10_1 - p01_0 - p00_0,
        p00_0 - p01_0 - p10_0 - p01_1 - p00_1,
    ];
    let upper = [
        1.0 - p01_1 - p10_0,
        1.0 - p01_0 - p10_1,
        -p01_0 + p01_1 + p00_1 + p11_0 + p00_0,
        -p01_1 + p11_1 + p00_1 + p01_0 + p00_0,
        p11_1 + p00_1,
        p11_0 + p00_0,
        -p10_1 + p11_1 + p00_1 + p11_0 + p10_0,
        -p10_0 + p11_0 + p00_0 + p11_1 + p10_1,
    ];
    (lower, upper)
}

/// What a unit of response type `kind` does given `input`: 0 = always 0,
/// 1 = follows the input, 2 = opposes it, 3 = always 1. Compliance types
/// (never-taker, complier, defier, always-taker) map Z to W this way and
/// potential-outcome types (never, helped, hurt, always) map W to Y.
fn respond(kind: usize, input: usize) -> usize {
    match kind {
        0 => 0,
        1 => input,
        2 => 1 - input,
        _ => 1,
    }
}

/// Balke and Pearl's bounds as the linear program over the 16 response types
/// (4 compliance × 4 potential-outcome types): the least and greatest ATE of
/// a distribution over types that reproduces P(y, w | z).
///
/// Cross-checks [`balke_pearl`]. Errors when the table is not a probability
/// table, or when no distribution of types reproduces it, i.e. the table
/// violates the IV model (see
/// [`CellProbabilities::satisfies_iv_inequalities`]).
pub fn balke_pearl_lp(p: &CellProbabilities) -> Result<Interval> {
    p.check()?;
    Ok(Interval {
        lower: solve(p, OptimizationDirection::Minimize)?,
        upper: solve(p, OptimizationDirection::Maximize)?,
    })
}

/// Optimizes the ATE over response-type distributions matching `p`.
fn solve(p: &CellProbabilities, direction: OptimizationDirection) -> Result<f64> {
    let mut problem = Problem::new(direction);
    // (compliance type, outcome type, share)
    let mut types = Vec::with_capacity(16);
    for compliance in 0..4 {
        for outcome in 0..4 {
            let effect = respond(outcome, 1) as f64 - respond(outcome, 0) as f64;
            types.push((compliance, outcome, problem.add_var(effect, (0.0, 1.0))));
        }
    }
    problem.add_constraint(types.iter().map(|t| (t.2, 1.0)), ComparisonOp::Eq, 1.0);
    // Within each arm the cell (y, w) = (0, 0) follows from the others and the
    // total; leaving it out keeps the constraints independent.
    for z in 0..2 {
        for (w, y) in [(0, 1), (1, 0), (1, 1)] {
            let matching = types
                .iter()
                .filter(|&&(c, o, _)| respond(c, z) == w && respond(o, w) == y)
                .map(|t| (t.2, 1.0));
            problem.add_constraint(matching, ComparisonOp::Eq, p.p[z][w][y]);
        }
    }
    let mut options = SolveOptions::default();
    options.tolerances.feasibility = LP_FEASIBILITY;
    match problem.solve_with(options) {
        Ok(outcome) => outcome
            .into_solution()
            .map(|solution| solution.objective())
            .map_err(|_| Error::Estimate("the Balke-Pearl LP stopped without a solution".into())),
        Err(microlp::Error::Infeasible) => Err(Error::Estimate(
            "no distribution of response types reproduces these cell probabilities: \
             they violate the instrumental inequalities of the IV model"
                .into(),
        )),
        Err(e) => Err(Error::Estimate(format!("the Balke-Pearl LP failed: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn every_term_is_the_binding_one_on_some_table_and_agrees_with_the_lp() {
        // A wrong sign in a term that never binds would go unnoticed by a
        // comparison with the LP, so check that each one does bind.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (mut lower_seen, mut upper_seen) = ([false; 8], [false; 8]);
        for _ in 0..4000 {
            let mut p = [[[0.0; 2]; 2]; 2];
            for compliance in 0..4 {
                for outcome in 0..4 {
                    // Sparse shares: about half the types absent.
                    let share = if rng.random::<bool>() {
                        rng.random::<f64>()
                    } else {
                        0.0
                    };
                    for (z, slice) in p.iter_mut().enumerate() {
                        let w = respond(compliance, z);
                        slice[w][respond(outcome, w)] += share;
                    }
                }
            }
            let total: f64 = p[0].iter().flatten().sum();
            if total == 0.0 {
                continue;
            }
            p.iter_mut().flatten().flatten().for_each(|c| *c /= total);
            let cells = CellProbabilities { p };
            let (lower, upper) = terms(&cells);
            let bp = balke_pearl(&cells);
            // Count a term only where it binds alone, by a clear margin.
            let lone = |terms: &[f64; 8], best: f64, seen: &mut [bool; 8]| {
                let at: Vec<usize> = (0..8).filter(|&i| (terms[i] - best).abs() < 1e-6).collect();
                if let [i] = at[..] {
                    seen[i] = true;
                }
            };
            lone(&lower, bp.lower, &mut lower_seen);
            lone(&upper, bp.upper, &mut upper_seen);
            let lp = balke_pearl_lp(&cells).expect("feasible");
            assert!((lp.lower - bp.lower).abs() < 1e-9 && (lp.upper - bp.upper).abs() < 1e-9);
        }
        assert_eq!(lower_seen, [true; 8]);
        assert_eq!(upper_seen, [true; 8]);
    }

    #[test]
    fn from_weighted_normalizes_each_arm_and_rejects_an_empty_arm() {
        let cells = CellProbabilities::from_weighted([
            (1.0, 1.0, 1.0, 1.0),
            (3.0, 0.0, 0.0, 1.0),
            (2.0, 0.0, 1.0, 0.0),
        ])
        .expect("both arms present");
        assert_eq!(cells.p[1][1][1], 0.25);
        assert_eq!(cells.p[1][0][0], 0.75);
        assert_eq!(cells.p[0][1][0], 1.0);
        let one_arm = CellProbabilities::from_weighted([(1.0, 1.0, 1.0, 1.0)]);
        assert!(matches!(one_arm, Err(Error::Data(_))));
        assert!(CellProbabilities::from_weighted([(1.0, 0.5, 1.0, 1.0)]).is_err());
    }

    #[test]
    fn a_useless_instrument_gives_the_manski_bounds() {
        // Identical arms: the instrument carries no information.
        let slice = [[0.3, 0.2], [0.1, 0.4]];
        let cells = CellProbabilities { p: [slice, slice] };
        let bp = balke_pearl(&cells);
        // Manski: [-P(Y=0,W=1) - P(Y=1,W=0), P(Y=1,W=1) + P(Y=0,W=0)].
        assert!((bp.lower - -(0.1 + 0.2)).abs() < 1e-12);
        assert!((bp.upper - (0.4 + 0.3)).abs() < 1e-12);
        let lp = balke_pearl_lp(&cells).expect("feasible");
        assert!((lp.lower - bp.lower).abs() < 1e-9 && (lp.upper - bp.upper).abs() < 1e-9);
    }

    #[test]
    fn a_perfect_instrument_identifies_the_effect() {
        // Everyone complies: W = Z, so each arm reveals one potential outcome.
        let cells = CellProbabilities {
            p: [[[0.6, 0.4], [0.0, 0.0]], [[0.0, 0.0], [0.1, 0.9]]],
        };
        let bp = balke_pearl(&cells);
        assert!((bp.lower - 0.5).abs() < 1e-12 && (bp.upper - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_table_that_is_not_a_distribution_is_refused() {
        let cells = CellProbabilities {
            p: [[[0.5, 0.5], [0.5, 0.0]], [[0.25; 2]; 2]],
        };
        assert!(matches!(balke_pearl_lp(&cells), Err(Error::Data(_))));
    }
}
