//! The exact solver, for cohorts of any size.
//!
//! Why it is exact. Fix the number `j` of patients sent to internal medicine
//! and the number `k` of them that were observed there. Every objective is
//! then `base[j] + sum of gain[j][i]` over the chosen patients: additive, with
//! the busyness fixed by `j`. The capacities only restrict `j`, and the
//! reassignment limit only restricts `k` (a placement with `k` of the `o`
//! observed internal-medicine patients moves `j + o - 2k` patients). So the
//! feasible placements are exactly the unions of `k` patients from the
//! observed internal-medicine pool and `j - k` from the surgical pool, over
//! the feasible `(j, k)`, and enumerating `(j, k)` loses nothing.
//!
//! - One objective (welfare maximization, and each objective's best value
//!   for the regrets): for fixed `(j, k)` the best choice is the `k` largest
//!   gains of one pool and the `j - k` largest of the other (exchanging a
//!   chosen patient for a larger-gain one in the same pool never lowers the
//!   sum), found from sorted prefix sums.
//! - Minimax regret maximizes `min_o (value_o - best_o)`, the smaller of two
//!   additive objectives, for fixed `(j, k)`: branch and bound over the
//!   patients. For any weight `l` in [0, 1] the combined objective
//!   `l * (value_0 - best_0) + (1 - l) * (value_1 - best_1)` is at least the
//!   minimum of the two, and its maximum over the undecided patients is again
//!   a top-k sum; so every `l` bounds the best completion from above (weak
//!   Lagrangian duality), and a subtree is cut only when a bound proves it
//!   cannot beat the incumbent. The search visits `(j, k)` in order of their
//!   root bounds and stops when no bound exceeds the incumbent; the incumbent
//!   starts as the better of the two single-objective optima and takes each
//!   `(j, k)`'s best combined-gain placement at the bound's weight, improved
//!   by swaps, when that is better. Bi-objective selection under a cardinality
//!   constraint is NP-hard, so the search has a node budget
//!   ([`NODE_BUDGET`]); a solution found when it runs out is flagged
//!   `proven = false` rather than passed off as optimal.

use super::{Criterion, Problem, Solution};
use crate::Result;

/// Slack below which a bound does not count as beating the incumbent.
const EPS: f64 = 1e-12;

/// Branch-and-bound nodes one minimax-regret problem may visit. Beyond it the
/// best placement found is returned with `proven = false` (bi-objective
/// selection under a cardinality constraint is NP-hard, so some inputs have no
/// fast proof).
pub const NODE_BUDGET: usize = 200_000;

/// Golden-section steps when minimizing the Lagrangian bound over the weight.
const BOUND_STEPS: usize = 16;

/// The `(j, k)` pairs the capacities and the reassignment limit allow:
/// `k` patients from the observed internal-medicine pool of size `o`, `j - k`
/// from the other pool of size `n - o`.
fn pairs(problem: &Problem) -> Vec<(usize, usize)> {
    let n = problem.n;
    let o = problem.observed.iter().filter(|&&p| p).count();
    let mut out = Vec::new();
    for j in problem.feasible_counts() {
        let lo = j.saturating_sub(n - o);
        for k in lo..=j.min(o) {
            let moves = j + o - 2 * k;
            if problem.max_moves.is_none_or(|m| moves <= m) {
                out.push((j, k));
            }
        }
    }
    out
}

/// The patients of each pool: observed in internal medicine, observed in surgery.
fn pools(problem: &Problem) -> [Vec<usize>; 2] {
    let mut pools = [Vec::new(), Vec::new()];
    for (i, &p) in problem.observed.iter().enumerate() {
        pools[usize::from(!p)].push(i);
    }
    pools
}

/// The placement choosing `k` of the first pool and `j - k` of the second by descending `key`.
fn top_placement(
    n: usize,
    pools: &[Vec<usize>; 2],
    picks: [usize; 2],
    key: impl Fn(usize) -> f64,
) -> Vec<bool> {
    let mut placement = vec![false; n];
    for (pool, &pick) in pools.iter().zip(&picks) {
        let mut sorted = pool.clone();
        sorted.sort_by(|&a, &b| key(b).total_cmp(&key(a)));
        for &i in &sorted[..pick] {
            placement[i] = true;
        }
    }
    placement
}

/// The best feasible placement for objective `o` alone.
fn best_single(
    problem: &Problem,
    o: usize,
    pairs: &[(usize, usize)],
    pools: &[Vec<usize>; 2],
) -> (f64, Vec<bool>) {
    let n = problem.n;
    let obj = &problem.objectives[o];
    let mut best: Option<(f64, usize, usize)> = None;
    let mut j_prev = usize::MAX;
    let mut prefix: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for &(j, k) in pairs {
        if j != j_prev {
            j_prev = j;
            let gains = &obj.gain[j * n..(j + 1) * n];
            for (p, pool) in pools.iter().enumerate() {
                let mut g: Vec<f64> = pool.iter().map(|&i| gains[i]).collect();
                g.sort_by(|a, b| b.total_cmp(a));
                prefix[p] = std::iter::once(0.0)
                    .chain(g.iter().scan(0.0, |s, v| {
                        *s += v;
                        Some(*s)
                    }))
                    .collect();
            }
        }
        let value = obj.base[j] + prefix[0][k] + prefix[1][j - k];
        if best.is_none_or(|(b, _, _)| value > b) {
            best = Some((value, j, k));
        }
    }
    let (value, j, k) = best.expect("validated problems have a feasible placement");
    let gains = &obj.gain[j * n..(j + 1) * n];
    (value, top_placement(n, pools, [k, j - k], |i| gains[i]))
}

/// Branch and bound for one `(j, k)`: maximize `min(c0 + sum g0, c1 + sum g1)`
/// choosing exactly `picks[p]` items of pool `p`.
struct TwoObjective<'a> {
    g: [&'a [f64]; 2],
    c: [f64; 2],
    /// Decision order: (patient, pool).
    order: Vec<(usize, usize)>,
    best: f64,
    best_set: Option<Vec<bool>>,
    chosen: Vec<bool>,
    scratch: Vec<f64>,
    /// Nodes visited, against the budget shared by the problem's searches.
    nodes: usize,
    budget: usize,
}

impl<'a> TwoObjective<'a> {
    /// The search for one count `j`: each objective's gains at `j` and its
    /// base at `j` less its best value, the patients in pool order, nothing
    /// chosen and no budget yet.
    fn new(problem: &'a Problem, j: usize, best: &[f64], pools: &[Vec<usize>; 2]) -> Self {
        let n = problem.n;
        let g = [
            &problem.objectives[0].gain[j * n..(j + 1) * n],
            &problem.objectives[1].gain[j * n..(j + 1) * n],
        ];
        let c = [
            problem.objectives[0].base[j] - best[0],
            problem.objectives[1].base[j] - best[1],
        ];
        let order: Vec<(usize, usize)> = pools
            .iter()
            .enumerate()
            .flat_map(|(p, pool)| pool.iter().map(move |&i| (i, p)))
            .collect();
        TwoObjective {
            g,
            c,
            order,
            best: f64::NEG_INFINITY,
            best_set: None,
            chosen: vec![false; n],
            scratch: Vec::with_capacity(n),
            nodes: 0,
            budget: 0,
        }
    }

    /// Upper bound on the best completion from decision `at` on, with
    /// partial sums `s` and `left[p]` slots still open in pool `p`.
    fn bound(&mut self, at: usize, s: [f64; 2], left: [usize; 2]) -> (f64, f64) {
        let mut phi = |l: f64| -> f64 {
            let mut total = l * (self.c[0] + s[0]) + (1.0 - l) * (self.c[1] + s[1]);
            for (p, &r) in left.iter().enumerate() {
                if r == 0 {
                    continue;
                }
                self.scratch.clear();
                self.scratch.extend(
                    self.order[at..]
                        .iter()
                        .filter(|(_, q)| *q == p)
                        .map(|&(i, _)| l * self.g[0][i] + (1.0 - l) * self.g[1][i]),
                );
                let r = r.min(self.scratch.len());
                if r < self.scratch.len() {
                    self.scratch
                        .select_nth_unstable_by(r - 1, |a, b| b.total_cmp(a));
                }
                total += self.scratch[..r].iter().sum::<f64>();
            }
            total
        };
        // phi is convex in l; any l gives a valid bound, golden-section search tightens it.
        let (mut a, mut b) = (0.0f64, 1.0f64);
        let (f0, f1) = (phi(0.0), phi(1.0));
        let mut bound = if f0 <= f1 { (f0, 0.0) } else { (f1, 1.0) };
        let ratio = 0.618_033_988_749_895;
        for _ in 0..BOUND_STEPS {
            let (x1, x2) = (b - ratio * (b - a), a + ratio * (b - a));
            let (v1, v2) = (phi(x1), phi(x2));
            if v1 < bound.0 {
                bound = (v1, x1);
            }
            if v2 < bound.0 {
                bound = (v2, x2);
            }
            if v1 < v2 {
                b = x2;
            } else {
                a = x1;
            }
        }
        bound
    }

    /// The value `min(c0 + sum g0, c1 + sum g1)` of a chosen set.
    fn worth(&self, chosen: &[bool]) -> f64 {
        let mut s = self.c;
        for (i, _) in chosen.iter().enumerate().filter(|(_, &c)| c) {
            s[0] += self.g[0][i];
            s[1] += self.g[1][i];
        }
        s[0].min(s[1])
    }

    /// A good feasible set: the top `left[p]` of each pool by the weight-`l`
    /// combined gain, improved by swaps within a pool until none helps.
    fn heuristic(&self, l: f64, left: [usize; 2]) -> (f64, Vec<bool>) {
        let n = self.chosen.len();
        let key = |i: usize| l * self.g[0][i] + (1.0 - l) * self.g[1][i];
        let mut chosen = vec![false; n];
        for (p, &r) in left.iter().enumerate() {
            let mut pool: Vec<usize> = self
                .order
                .iter()
                .filter(|(_, q)| *q == p)
                .map(|&(i, _)| i)
                .collect();
            pool.sort_by(|&a, &b| key(b).total_cmp(&key(a)));
            for &i in pool.iter().take(r) {
                chosen[i] = true;
            }
        }
        let pool_of: Vec<usize> = {
            let mut v = vec![usize::MAX; n];
            for &(i, p) in &self.order {
                v[i] = p;
            }
            v
        };
        let mut value = self.worth(&chosen);
        let mut s = self.c;
        for (i, _) in chosen.iter().enumerate().filter(|(_, &c)| c) {
            s[0] += self.g[0][i];
            s[1] += self.g[1][i];
        }
        for _ in 0..n {
            let mut improved = false;
            for out in 0..n {
                if !chosen[out] {
                    continue;
                }
                for inn in 0..n {
                    if chosen[inn] || pool_of[inn] != pool_of[out] {
                        continue;
                    }
                    let t = [
                        s[0] - self.g[0][out] + self.g[0][inn],
                        s[1] - self.g[1][out] + self.g[1][inn],
                    ];
                    if t[0].min(t[1]) > value + EPS {
                        chosen[out] = false;
                        chosen[inn] = true;
                        s = t;
                        value = t[0].min(t[1]);
                        improved = true;
                        break;
                    }
                }
            }
            if !improved {
                break;
            }
        }
        (value, chosen)
    }

    /// Depth-first branch and bound from decision `at`: partial sums `s`,
    /// `left[p]` slots open and `remaining[p]` undecided patients in pool `p`;
    /// records a better complete set in `best` and stops past the node budget.
    fn search(&mut self, at: usize, s: [f64; 2], left: [usize; 2], remaining: [usize; 2]) {
        self.nodes += 1;
        if self.nodes > self.budget {
            return;
        }
        if left == [0, 0] {
            let value = (self.c[0] + s[0]).min(self.c[1] + s[1]);
            if value > self.best + EPS || self.best_set.is_none() {
                self.best = value;
                self.best_set = Some(self.chosen.clone());
            }
            return;
        }
        if left[0] > remaining[0] || left[1] > remaining[1] {
            return;
        }
        if self.best_set.is_some() && self.bound(at, s, left).0 <= self.best + EPS {
            return;
        }
        let (i, p) = self.order[at];
        let mut rest = remaining;
        rest[p] -= 1;
        if left[p] > 0 {
            let mut l = left;
            l[p] -= 1;
            self.chosen[i] = true;
            self.search(at + 1, [s[0] + self.g[0][i], s[1] + self.g[1][i]], l, rest);
            self.chosen[i] = false;
        }
        self.search(at + 1, s, left, rest);
    }
}

/// Solves a day's problem exactly under `criterion` (see the module documentation for why).
pub fn exact(problem: &Problem, criterion: Criterion) -> Result<Solution> {
    problem.validate(criterion)?;
    let pairs = pairs(problem);
    if pairs.is_empty() {
        return Err(crate::Error::Data(
            "no placement satisfies the capacities and the reassignment limit".into(),
        ));
    }
    let pools = pools(problem);
    let objectives = match criterion {
        Criterion::WelfareMax => 1,
        Criterion::MinimaxRegret => 2,
    };
    let singles: Vec<(f64, Vec<bool>)> = (0..objectives)
        .map(|o| best_single(problem, o, &pairs, &pools))
        .collect();
    let best: Vec<f64> = singles.iter().map(|s| s.0).collect();
    if criterion == Criterion::WelfareMax {
        let placement = singles.into_iter().next().map(|s| s.1).unwrap_or_default();
        return Ok(problem.solution(criterion, &best, placement));
    }
    // Incumbent: the better of the two single-objective optima.
    let mut incumbent = singles
        .iter()
        .map(|(_, p)| (problem.criterion(criterion, &best, p), p.clone()))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .expect("two objectives");
    let (roots, mut searches) = root_searches(problem, &pairs, &pools, &best, &mut incumbent);
    let proven = branch_and_bound(&roots, &mut searches, &pools, &mut incumbent);
    let mut solution = problem.solution(criterion, &best, incumbent.1);
    solution.proven = proven;
    Ok(solution)
}

/// The best placement found so far and its minimax-regret value.
type Incumbent = (f64, Vec<bool>);

/// One minimax-regret search per `(j, k)` and its root bound `(bound, j, k)`,
/// with the branching order set by the bound's weight; the incumbent takes a
/// pair's swap-improved heuristic placement when the pair's root bound could
/// beat it and the placement does.
fn root_searches<'a>(
    problem: &'a Problem,
    pairs: &[(usize, usize)],
    pools: &[Vec<usize>; 2],
    best: &[f64],
    incumbent: &mut Incumbent,
) -> (Vec<(f64, usize, usize)>, Vec<TwoObjective<'a>>) {
    let mut roots: Vec<(f64, usize, usize)> = Vec::with_capacity(pairs.len());
    let mut searches = Vec::with_capacity(pairs.len());
    for &(j, k) in pairs {
        let mut bb = TwoObjective::new(problem, j, best, pools);
        let left = [k, j - k];
        let (root, l) = bb.bound(0, [0.0, 0.0], left);
        // Branch on patients by the combined gain at the bound's weight.
        let g = bb.g;
        let key = |i: usize| l * g[0][i] + (1.0 - l) * g[1][i];
        bb.order.sort_by(|a, b| key(b.0).total_cmp(&key(a.0)));
        if root > incumbent.0 + EPS {
            let (value, set) = bb.heuristic(l, left);
            if value > incumbent.0 + EPS {
                *incumbent = (value, set);
            }
        }
        roots.push((root, j, k));
        searches.push(bb);
    }
    (roots, searches)
}

/// Runs the searches in order of descending root bound, each starting from
/// the incumbent and improving it, until no root bound beats the incumbent or
/// the shared [`NODE_BUDGET`] runs out; whether the incumbent is proven optimal.
fn branch_and_bound(
    roots: &[(f64, usize, usize)],
    searches: &mut [TwoObjective<'_>],
    pools: &[Vec<usize>; 2],
    incumbent: &mut Incumbent,
) -> bool {
    let mut by_bound: Vec<usize> = (0..roots.len()).collect();
    by_bound.sort_by(|&a, &b| roots[b].0.total_cmp(&roots[a].0));
    let mut spent = 0;
    let mut proven = true;
    for idx in by_bound {
        let (root, j, k) = roots[idx];
        if root <= incumbent.0 + EPS {
            break;
        }
        let bb = &mut searches[idx];
        bb.best = incumbent.0;
        bb.best_set = Some(incumbent.1.clone());
        bb.budget = NODE_BUDGET.saturating_sub(spent);
        let remaining = [pools[0].len(), pools[1].len()];
        bb.search(0, [0.0, 0.0], [k, j - k], remaining);
        spent += bb.nodes;
        if bb.nodes > bb.budget {
            proven = false;
        }
        if let Some(set) = bb.best_set.take() {
            if bb.best > incumbent.0 + EPS {
                *incumbent = (bb.best, set);
            }
        }
        if spent >= NODE_BUDGET {
            proven = false;
            break;
        }
    }
    proven
}
