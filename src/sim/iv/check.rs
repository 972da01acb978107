//! The IV world's formulas checked when it is built, on a fixed set of
//! points of its ranges: a formula that is not finite there (`1/0`,
//! `log(-1)`, `sqrt(x1 - 2)`) or a probability outside [0, 1] is an error
//! naming its key and the point, before any sample is drawn.
//!
//! The covariates x1..xp ~ U(-1, 1) take the centre of their box, its
//! corners (all of them when a formula uses at most eight covariates, else
//! the two extremes, two alternating ones and seeded random ones) and each
//! covariate's two ends with the others at 0; u ~ N(0, 1) takes 0, ±1, ±2
//! and ±4 at each of them. Seeded random points of the box with a normal u
//! complete the set. Only the covariates a formula uses are varied.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::core::text::{elide, number};
use crate::formula::Formula;
use crate::sim::limits::at;
use crate::{Error, Result};

/// The values of u at the fixed points: all but 6 in 100,000 draws of u lie within ±4.
const U_VALUES: [f64; 7] = [0.0, -1.0, 1.0, -2.0, 2.0, -4.0, 4.0];

/// A formula using at most this many covariates is checked at every corner of their box.
const ENUMERATED: usize = 8;

/// Random corners checked for a formula that uses more covariates.
const RANDOM_CORNERS: usize = 64;

/// Random points of the box checked for every formula.
const RANDOM_POINTS: usize = 256;

/// Seed of the random corners and points, so a build always checks the same points.
const SEED: u64 = 2_024;

/// The largest covariate drawn: U(-1, 1) never reaches 1.
const X_HIGH: f64 = 1.0 - f64::EPSILON;

/// What a formula's values must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Range {
    /// Any finite number.
    Finite,
    /// A probability in [0, 1].
    Probability,
}

/// A formula to check: its key in the spec, the formula and its range.
pub(super) struct Check<'a> {
    pub(super) key: &'a str,
    pub(super) formula: &'a Formula,
    pub(super) range: Range,
}

/// Checks each formula over `p` covariates named by `names` (x1..xp, then u).
pub(super) fn check_formulas(p: usize, names: &[&str], checks: &[Check<'_>]) -> Result<()> {
    for check in checks {
        let used = check.formula.used_variables();
        let covariates: Vec<usize> = used.iter().copied().filter(|&j| j < p).collect();
        let mut vars = vec![0.0; p + 1];
        let mut test = |vars: &[f64]| {
            let value = check.formula.eval(vars);
            let fine = match check.range {
                Range::Finite => value.is_finite(),
                Range::Probability => (0.0..=1.0).contains(&value),
            };
            if fine {
                Ok(())
            } else {
                Err(failure(check, value, &at(names, &used, vars)))
            }
        };
        let uses_u = used.contains(&p);
        each_point(&covariates, p, uses_u, &mut vars, &mut test)?;
    }
    Ok(())
}

/// The error for `check`'s formula, whose value is `value` at `place`.
fn failure(check: &Check<'_>, value: f64, place: &str) -> Error {
    let (key, source) = (check.key, elide(check.formula.source()));
    let value = number(value);
    Error::Formula(match check.range {
        Range::Finite => format!(
            "formula `{key}` = \"{source}\" is not finite{place}: it is {value}; a formula \
             must be finite for x1..xp in [-1, 1) and u in [-4, 4]"
        ),
        Range::Probability => format!(
            "formula `{key}` = \"{source}\" is {value}{place}; a probability must lie in \
             [0, 1] for x1..xp in [-1, 1) and u in [-4, 4]"
        ),
    })
}

/// Calls `test` at every point of the set, with the `covariates` (indices
/// below `p`) varied in `vars` and u, at index `p`, too when `uses_u`.
fn each_point(
    covariates: &[usize],
    p: usize,
    uses_u: bool,
    vars: &mut [f64],
    test: &mut impl FnMut(&[f64]) -> Result<()>,
) -> Result<()> {
    let u_values: &[f64] = if uses_u { &U_VALUES } else { &[0.0] };
    let mut at_each_u = |vars: &mut [f64]| {
        for &u in u_values {
            vars[p] = u;
            test(vars)?;
        }
        Ok::<(), Error>(())
    };
    let set = |vars: &mut [f64], value: &mut dyn FnMut(usize) -> f64| {
        for (i, &j) in covariates.iter().enumerate() {
            vars[j] = value(i);
        }
    };
    // The centre, then the corners.
    at_each_u(vars)?;
    let k = covariates.len();
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let end = |high: bool| if high { X_HIGH } else { -1.0 };
    if k <= ENUMERATED {
        for corner in 0..1usize << k {
            set(vars, &mut |i| end((corner >> i) & 1 == 1));
            at_each_u(vars)?;
        }
    } else {
        let fixed: [fn(usize) -> bool; 4] = [|_| false, |_| true, |i| i % 2 == 0, |i| i % 2 == 1];
        for corner in fixed {
            set(vars, &mut |i| end(corner(i)));
            at_each_u(vars)?;
        }
        for _ in 0..RANDOM_CORNERS {
            set(vars, &mut |_| end(rng.random()));
            at_each_u(vars)?;
        }
    }
    // Each covariate at its two ends, the others at 0.
    set(vars, &mut |_| 0.0);
    for &j in covariates {
        for high in [false, true] {
            vars[j] = end(high);
            at_each_u(vars)?;
        }
        vars[j] = 0.0;
    }
    for _ in 0..RANDOM_POINTS {
        set(vars, &mut |_| rng.random_range(-1.0..1.0));
        vars[p] = if uses_u {
            StandardNormal.sample(&mut rng)
        } else {
            0.0
        };
        test(vars)?;
    }
    Ok(())
}
