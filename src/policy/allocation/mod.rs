//! Budget allocation: distribute at most `budget` discrete resource units
//! across regions, region `i` receiving between `floors[i]` and `caps[i]`,
//! to maximize the total gain `sum_i g_i(k_i)`, where the `k`-th unit in
//! region `i` gains `values[i] * returns^(k - 1)`.
//!
//! Two solvers, one proof:
//!
//! - [`greedy`] takes the floors, then the largest positive marginal gains
//!   one at a time. It is optimal whenever each region's marginal gains do
//!   not increase with `k` above its floor, which `returns <= 1` guarantees
//!   for `values[i] >= 0` (and a region with `values[i] < 0` has only
//!   negative marginal gains, which no optimum takes). Proof sketch: an
//!   allocation's gain is the floors' gain plus the sum of the marginal
//!   gains `(i, k)` it takes, a prefix `k = floors[i] + 1 ..= k_i` in every
//!   region. The `B' = budget - sum(floors)` largest positive marginal gains
//!   over all pairs form such prefixes (per region they are non-increasing,
//!   ties broken by `k`), fit the caps and the budget, and no set of at most
//!   `B'` pairs sums to more. The same argument is the classic result for
//!   separable concave resource allocation (Ibaraki and Katoh 1988).
//! - [`exact`] is dynamic programming over regions and units used, optimal
//!   for any gains: it checks the greedy in tests and for users.
//!
//! [`brute_force`] enumerates every allocation of a small problem.
//! [`AllocationPolicy`] decides from estimates and [`Frame`]'s constraints;
//! `crate::evaluate::allocation` judges against the truth.

mod decide;
mod spec;

use std::cmp::Ordering;
use std::collections::BinaryHeap;

pub use decide::{Allocation, AllocationPolicy, Effects, Frame};
pub use spec::{AllocationSpec, Eligible, Fairness, Robust};

use crate::{Error, Result};

/// One allocation problem.
#[derive(Debug, Clone, PartialEq)]
pub struct AllocationProblem {
    /// The gain of the first unit in each region.
    pub values: Vec<f64>,
    /// Units each region must receive (a fairness floor); 0 for none.
    pub floors: Vec<usize>,
    /// Most units each region may receive; 0 for a region that is not eligible.
    pub caps: Vec<usize>,
    /// Most units in all.
    pub budget: usize,
    /// Each further unit in a region gains this share of the previous one's.
    pub returns: f64,
}

/// Cells of the dynamic program's table beyond which [`exact`] refuses.
pub const EXACT_LIMIT: usize = 50_000_000;

/// Allocations [`brute_force`] enumerates at most.
pub const BRUTE_FORCE_LIMIT: u64 = 2_000_000;

impl AllocationProblem {
    /// Checks sizes and values; the error says what does not fit.
    pub fn validate(&self) -> Result<()> {
        let n = self.values.len();
        if self.floors.len() != n || self.caps.len() != n {
            return Err(Error::Data(format!(
                "{n} regions' values but {} floors and {} caps",
                self.floors.len(),
                self.caps.len()
            )));
        }
        if let Some(i) = (0..n).find(|&i| !self.values[i].is_finite()) {
            return Err(Error::Data(format!(
                "region {} has a gain that is not a finite number ({})",
                i + 1,
                self.values[i]
            )));
        }
        if !(self.returns > 0.0 && self.returns <= 1.0) {
            return Err(Error::Data(format!(
                "returns of {} are not in (0, 1]",
                self.returns
            )));
        }
        if let Some(i) = (0..n).find(|&i| self.floors[i] > self.caps[i]) {
            return Err(Error::Data(format!(
                "region {} needs {} units to reach the fairness floor but may receive at most {} \
                 (raise `cap`, lower `min_level`, or make the region eligible)",
                i + 1,
                self.floors[i],
                self.caps[i]
            )));
        }
        let floors: usize = self.floors.iter().sum();
        if floors > self.budget {
            return Err(Error::Data(format!(
                "the fairness floor needs {floors} units but the budget is {}; raise `budget` to \
                 at least {floors} or lower `min_level`",
                self.budget
            )));
        }
        Ok(())
    }

    /// The gain of region `i`'s `k`-th unit (`k >= 1`).
    pub fn marginal(&self, i: usize, k: usize) -> f64 {
        self.values[i] * self.returns.powi(k as i32 - 1)
    }

    /// The gain of `k` units in region `i`: `values[i] * (1 + r + ... + r^(k-1))`.
    pub fn region_gain(&self, i: usize, k: usize) -> f64 {
        let r = self.returns;
        let factor = if r == 1.0 {
            k as f64
        } else {
            (1.0 - r.powi(k as i32)) / (1.0 - r)
        };
        self.values[i] * factor
    }

    /// The total gain of an allocation.
    pub fn gain(&self, units: &[usize]) -> f64 {
        units
            .iter()
            .enumerate()
            .map(|(i, &k)| self.region_gain(i, k))
            .sum()
    }

    /// Whether an allocation respects floors, caps and the budget.
    pub fn feasible(&self, units: &[usize]) -> bool {
        units.len() == self.values.len()
            && units.iter().sum::<usize>() <= self.budget
            && units
                .iter()
                .enumerate()
                .all(|(i, &k)| self.floors[i] <= k && k <= self.caps[i])
    }
}

/// A candidate unit in the greedy's heap: larger gain first, then the lower region.
#[derive(Debug, PartialEq)]
struct Candidate {
    gain: f64,
    region: usize,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.gain
            .total_cmp(&other.gain)
            .then_with(|| other.region.cmp(&self.region))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The floors, then the largest positive marginal gains while budget lasts:
/// optimal for the concave gains of an [`AllocationProblem`] (see the module docs).
pub fn greedy(problem: &AllocationProblem) -> Result<Vec<usize>> {
    problem.validate()?;
    let mut units = problem.floors.clone();
    let mut left = problem.budget - units.iter().sum::<usize>();
    let mut heap: BinaryHeap<Candidate> = (0..units.len())
        .filter(|&i| units[i] < problem.caps[i])
        .map(|i| Candidate {
            gain: problem.marginal(i, units[i] + 1),
            region: i,
        })
        .filter(|c| c.gain > 0.0)
        .collect();
    while left > 0 {
        let Some(Candidate { region, .. }) = heap.pop() else {
            break;
        };
        units[region] += 1;
        left -= 1;
        if units[region] < problem.caps[region] {
            let gain = problem.marginal(region, units[region] + 1);
            if gain > 0.0 {
                heap.push(Candidate { gain, region });
            }
        }
    }
    Ok(units)
}

/// The optimal allocation for any gains, by dynamic programming over regions
/// and units used (`O(regions * budget * cap)` time); an error when its
/// table would exceed [`EXACT_LIMIT`] cells.
pub fn exact(problem: &AllocationProblem) -> Result<Vec<usize>> {
    problem.validate()?;
    let n = problem.values.len();
    let width = problem.budget + 1;
    if n.saturating_mul(width) > EXACT_LIMIT {
        return Err(Error::Data(format!(
            "the exact allocation solver's table would hold {n} regions x {width} budget levels, \
             more than {EXACT_LIMIT}; use solver = \"greedy\", which is optimal for these \
             concave gains"
        )));
    }
    // best[b]: the largest gain of the regions so far using exactly b units
    // (-inf where no allocation does); choice[i * width + b]: region i's units there.
    let mut best = vec![f64::NEG_INFINITY; width];
    best[0] = 0.0;
    let mut next = vec![f64::NEG_INFINITY; width];
    let mut choice = vec![0u32; n * width];
    for i in 0..n {
        next.fill(f64::NEG_INFINITY);
        let (floor, cap) = (problem.floors[i], problem.caps[i].min(problem.budget));
        let gains: Vec<f64> = (0..=cap).map(|k| problem.region_gain(i, k)).collect();
        for (b, slot) in next.iter_mut().enumerate() {
            for k in floor..=cap.min(b) {
                let value = best[b - k] + gains[k];
                if value > *slot {
                    *slot = value;
                    choice[i * width + b] = k as u32;
                }
            }
        }
        std::mem::swap(&mut best, &mut next);
    }
    let mut b = (0..width)
        .filter(|&b| best[b].is_finite())
        .max_by(|&a, &c| best[a].total_cmp(&best[c]).then(c.cmp(&a)))
        .ok_or_else(|| Error::Data("no allocation meets the floors within the budget".into()))?;
    let mut units = vec![0; n];
    for i in (0..n).rev() {
        let k = choice[i * width + b] as usize;
        units[i] = k;
        b -= k;
    }
    Ok(units)
}

/// The best allocation by enumerating all of them: for checking the solvers
/// on problems with at most [`BRUTE_FORCE_LIMIT`] allocations.
pub fn brute_force(problem: &AllocationProblem) -> Result<Vec<usize>> {
    problem.validate()?;
    let n = problem.values.len();
    let count = (0..n).try_fold(1u64, |acc, i| {
        acc.checked_mul((problem.caps[i] - problem.floors[i] + 1) as u64)
            .filter(|&c| c <= BRUTE_FORCE_LIMIT)
    });
    if count.is_none() {
        return Err(Error::Data(format!(
            "brute force would enumerate more than {BRUTE_FORCE_LIMIT} allocations; use the \
             exact solver"
        )));
    }
    let mut units = problem.floors.clone();
    let mut best: Option<(f64, Vec<usize>)> = None;
    loop {
        if units.iter().sum::<usize>() <= problem.budget {
            let gain = problem.gain(&units);
            if best.as_ref().is_none_or(|(g, _)| gain > *g) {
                best = Some((gain, units.clone()));
            }
        }
        // The next allocation, like an odometer.
        let mut i = 0;
        loop {
            if i == n {
                return best
                    .map(|(_, u)| u)
                    .ok_or_else(|| Error::Data("no allocation fits the budget".into()));
            }
            if units[i] < problem.caps[i] {
                units[i] += 1;
                break;
            }
            units[i] = problem.floors[i];
            i += 1;
        }
    }
}
