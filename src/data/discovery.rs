//! Causal discovery by the PC algorithm: a causal graph learned from the
//! sample, so that `scm` can be put on trial with the graph an analyst
//! without expert knowledge would get, beside the true one (the review's
//! Table 1 names "reliance on expert experience for causal graph
//! construction" as the structural causal model's weakness).
//!
//! The skeleton comes from PC-stable (Colombo and Maathuis 2014): the edge
//! between two variables is removed as soon as some set of their
//! neighbours, tried in growing sizes, makes them conditionally independent
//! by Fisher's z test of partial correlation at level `alpha`; the
//! neighbours are fixed at the start of each size, so the result does not
//! depend on the order of the columns. Edges are then oriented by
//! background knowledge (`tiers`, and that the outcome causes nothing in
//! the data), by the unshielded colliders the separating sets reveal, by
//! Meek's rules 1 to 3, and what is still undirected by a consistent
//! extension (Dor and Tarsi 1992), so that the result is a directed acyclic
//! graph `scm` can identify the effect in.
//!
//! Partial correlation is the right test for linear Gaussian equations;
//! with binary nodes, interactions or curved equations a dependence the
//! linear test cannot see is missed, and one it mistakes is kept, more
//! often as n grows.

use std::collections::BTreeMap;

use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};

use super::dense::Lower;
use super::graph::CausalGraph;
use crate::core::stats::{mean_and_sd, normal_quantile};
use crate::{Error, Result};

/// Most variables the PC algorithm is run on: its tests grow with the
/// square of the variables times the conditioning sets tried.
pub const MAX_VARIABLES: usize = 200;

/// Deepest conditioning set `max_condition` may ask for.
pub const MAX_CONDITION: usize = 10;

/// Settings of the PC algorithm (`discover = { ... }` on an `scm`
/// estimator): the test's level, the largest conditioning set, and any
/// background knowledge of which variables come first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Discovery {
    /// Level of each conditional-independence test: an edge is removed
    /// when a test cannot reject independence at this level.
    pub alpha: f64,
    /// Largest conditioning set tried (PC's depth); bounds the run time.
    pub max_condition: usize,
    /// Background knowledge: variables in tiers, earliest first; an edge
    /// between two tiers points from the earlier to the later. Variables in
    /// no tier are unconstrained.
    pub tiers: Vec<Vec<String>>,
}

impl Default for Discovery {
    fn default() -> Self {
        Discovery {
            alpha: 0.01,
            max_condition: 4,
            tiers: Vec::new(),
        }
    }
}

/// A graph the PC algorithm learned, with what it took.
#[derive(Debug, Clone)]
pub struct Learned {
    /// The learned directed acyclic graph, every node observed.
    pub graph: CausalGraph,
    /// Edges the data and the knowledge left undirected, which the
    /// extension oriented (any orientation of them fits the data equally).
    pub undirected: usize,
    /// Conditional-independence tests run.
    pub tests: usize,
}

/// How a learned graph differs from the true one, over the nodes both
/// have (observed nodes only: an edge through a latent node is no edge
/// among the data's columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GraphDistance {
    /// Adjacent in the truth, not in the learned graph.
    pub missing: usize,
    /// Adjacent in the learned graph, not in the truth.
    pub extra: usize,
    /// Adjacent in both, pointing the other way.
    pub reversed: usize,
}

impl GraphDistance {
    /// The structural Hamming distance: edges to add, remove or reverse to
    /// turn the learned graph into the true one.
    pub fn shd(&self) -> usize {
        self.missing + self.extra + self.reversed
    }

    /// The skeleton's distance: adjacencies missing or extra, direction
    /// ignored.
    pub fn skeleton(&self) -> usize {
        self.missing + self.extra
    }
}

impl Discovery {
    /// Checks the settings before any data is seen.
    pub fn validate(&self) -> Result<()> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::Spec(format!(
                "discover: alpha is {}; the tests' level must be in (0, 1) (0.01 is usual)",
                self.alpha
            )));
        }
        if self.max_condition > MAX_CONDITION {
            return Err(Error::Spec(format!(
                "discover: max_condition is {}; at most {MAX_CONDITION} (each step multiplies \
                 the tests run)",
                self.max_condition
            )));
        }
        let mut seen = BTreeMap::new();
        for (t, tier) in self.tiers.iter().enumerate() {
            for name in tier {
                if let Some(first) = seen.insert(name.as_str(), t) {
                    return Err(Error::Spec(format!(
                        "discover: `{name}` is in tiers {} and {}; a variable sits in one tier",
                        first + 1,
                        t + 1
                    )));
                }
            }
        }
        Ok(())
    }

    /// Learns a graph over the variables `names` with their `columns` (one
    /// entry per unit each); `treatment` and `outcome` name two of them.
    /// Errors name a constant column, a tier naming no variable, or too
    /// many variables.
    pub fn learn(
        &self,
        names: &[String],
        columns: &[ArrayView1<f64>],
        treatment: &str,
        outcome: &str,
    ) -> Result<Learned> {
        self.validate()?;
        let p = names.len();
        if p > MAX_VARIABLES {
            return Err(Error::Estimate(format!(
                "discover: {p} variables; the PC algorithm runs on at most {MAX_VARIABLES} \
                 (use fewer covariates)"
            )));
        }
        for tier in &self.tiers {
            for name in tier {
                if !names.contains(name) {
                    return Err(Error::Estimate(format!(
                        "discover: tier variable `{name}` is not a column of the data; the \
                         columns are {}",
                        names.join(", ")
                    )));
                }
            }
        }
        let outcome_index = names.iter().position(|n| n == outcome);
        let n = columns.first().map_or(0, |c| c.len());
        let correlation = correlations(names, columns)?;
        let tests = Tests::new(&correlation, p, n, self.alpha);
        let tier = |v: usize| {
            self.tiers
                .iter()
                .position(|tier| tier.iter().any(|name| *name == names[v]))
        };
        let may_separate = |s: usize, i: usize, j: usize| {
            if Some(s) == outcome_index {
                return false;
            }
            match (tier(s), tier(i), tier(j)) {
                (Some(ts), Some(ti), Some(tj)) => ts <= ti.max(tj),
                _ => true,
            }
        };
        let (mut pdag, separating, count) = skeleton(p, self.max_condition, &tests, &may_separate);
        if let Some(y) = outcome_index {
            for v in 0..p {
                pdag.orient(v, y);
            }
        }
        for i in 0..p {
            for j in 0..p {
                if let (Some(a), Some(b)) = (tier(i), tier(j)) {
                    if a < b {
                        pdag.orient(i, j);
                    }
                }
            }
        }
        pdag.colliders(&separating);
        pdag.meek();
        let undirected = pdag.undirected_count();
        pdag.extend();
        let parents = (0..p)
            .map(|j| (0..p).filter(|&i| pdag.directed(i, j)).collect())
            .collect();
        let graph = CausalGraph::new(names.to_vec(), vec![true; p], parents, treatment, outcome)?;
        Ok(Learned {
            graph,
            undirected,
            tests: count,
        })
    }
}

/// Compares a learned graph with the true one over the nodes both have,
/// by name; nodes latent in the truth are left out.
pub fn distance(learned: &CausalGraph, truth: &CausalGraph) -> GraphDistance {
    let shared: Vec<(usize, usize)> = (0..learned.len())
        .filter_map(|a| {
            truth
                .index(learned.name(a))
                .filter(|&t| truth.is_observed(t))
                .map(|t| (a, t))
        })
        .collect();
    let edge = |g: &CausalGraph, from: usize, to: usize| g.parents(to).contains(&from);
    let mut d = GraphDistance::default();
    for (k, &(a, ta)) in shared.iter().enumerate() {
        for &(b, tb) in &shared[k + 1..] {
            let learned_ab = (edge(learned, a, b), edge(learned, b, a));
            let truth_ab = (edge(truth, ta, tb), edge(truth, tb, ta));
            let in_learned = learned_ab.0 || learned_ab.1;
            let in_truth = truth_ab.0 || truth_ab.1;
            match (in_learned, in_truth) {
                (false, true) => d.missing += 1,
                (true, false) => d.extra += 1,
                (true, true) if learned_ab != truth_ab => d.reversed += 1,
                _ => {}
            }
        }
    }
    d
}

/// The correlation matrix of the columns, row-major; a constant or
/// non-finite column is an error naming it.
fn correlations(names: &[String], columns: &[ArrayView1<f64>]) -> Result<Vec<f64>> {
    let p = columns.len();
    let mut standardized = Vec::with_capacity(p);
    for (name, column) in names.iter().zip(columns) {
        if let Some(i) = column.iter().position(|v| !v.is_finite()) {
            return Err(Error::Data(format!(
                "discover: column `{name}` has a non-finite value ({}) at row {}",
                column[i],
                i + 1
            )));
        }
        let (mean, sd) = mean_and_sd(column.view());
        if sd <= 1e-12 * mean.abs().max(1.0) {
            return Err(Error::Data(format!(
                "discover: column `{name}` is constant; no test of independence can use it \
                 (drop it from the data)"
            )));
        }
        standardized.push(column.iter().map(|v| (v - mean) / sd).collect::<Vec<f64>>());
    }
    let n = columns.first().map_or(1, |c| c.len()) as f64;
    let mut r = vec![0.0; p * p];
    for i in 0..p {
        r[i * p + i] = 1.0;
        for j in i + 1..p {
            let c = standardized[i]
                .iter()
                .zip(&standardized[j])
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / n;
            r[i * p + j] = c;
            r[j * p + i] = c;
        }
    }
    Ok(r)
}

/// Fisher's z test of zero partial correlation on a correlation matrix.
struct Tests<'a> {
    /// The correlations, `p × p` row-major.
    r: &'a [f64],
    /// Variables.
    p: usize,
    /// Units the correlations were computed on.
    n: usize,
    /// `|z|` at or below this cannot reject independence.
    critical: f64,
}

impl<'a> Tests<'a> {
    fn new(r: &'a [f64], p: usize, n: usize, alpha: f64) -> Self {
        Tests {
            r,
            p,
            n,
            critical: normal_quantile(1.0 - alpha / 2.0),
        }
    }

    fn at(&self, i: usize, j: usize) -> f64 {
        self.r[i * self.p + j]
    }

    /// Whether `i` and `j` are independent given `given` at the test's
    /// level; too few units for the set keeps them dependent.
    fn independent(&self, i: usize, j: usize, given: &[usize]) -> bool {
        let dof = self.n as f64 - given.len() as f64 - 3.0;
        if dof <= 0.0 {
            return false;
        }
        let r = self.partial(i, j, given).clamp(-1.0 + 1e-12, 1.0 - 1e-12);
        r.atanh().abs() * dof.sqrt() <= self.critical
    }

    /// The partial correlation of `i` and `j` given `given`, from the
    /// residual covariances `Σ_ab − Σ_aS Σ_SS⁻¹ Σ_Sb`.
    fn partial(&self, i: usize, j: usize, given: &[usize]) -> f64 {
        let k = given.len();
        if k == 0 {
            return self.at(i, j);
        }
        let a: Vec<f64> = given
            .iter()
            .flat_map(|&s| given.iter().map(move |&t| (s, t)))
            .map(|(s, t)| self.at(s, t) + if s == t { 1e-10 } else { 0.0 })
            .collect();
        let mut b: Vec<f64> = given
            .iter()
            .map(|&s| self.at(s, i))
            .chain(given.iter().map(|&s| self.at(s, j)))
            .collect();
        let Some(factor) = Lower::factor(a, k) else {
            return self.at(i, j);
        };
        for column in b.chunks_mut(k) {
            factor.solve(column);
        }
        let (bi, bj) = b.split_at(k);
        let dot = |x: &[f64], v: usize| -> f64 {
            given.iter().zip(x).map(|(&s, c)| self.at(s, v) * c).sum()
        };
        let ii = self.at(i, i) - dot(bi, i);
        let jj = self.at(j, j) - dot(bj, j);
        let ij = self.at(i, j) - dot(bj, i);
        if ii <= 1e-12 || jj <= 1e-12 {
            return 1.0;
        }
        ij / (ii * jj).sqrt()
    }
}

/// The separating set found for each removed edge, keyed `(low, high)`.
type Separating = BTreeMap<(usize, usize), Vec<usize>>;

/// PC-stable's skeleton: the complete graph thinned by tests given
/// subsets of growing size of each endpoint's neighbours, fixed per size,
/// leaving out the neighbours `may_separate(s, i, j)` rules out (those the
/// knowledge says cause neither `i` nor `j`: a separating set can always be
/// found among the endpoints' parents, and conditioning on a common
/// descendant is what makes dependences cancel). Returns the undirected
/// graph, the separating sets and the tests run.
fn skeleton(
    p: usize,
    max_condition: usize,
    tests: &Tests,
    may_separate: &dyn Fn(usize, usize, usize) -> bool,
) -> (Pdag, Separating, usize) {
    let mut pdag = Pdag::complete(p);
    let mut separating = Separating::new();
    let mut count = 0;
    for size in 0..=max_condition {
        let neighbours: Vec<Vec<usize>> = (0..p).map(|v| pdag.adjacent_to(v)).collect();
        let mut any = false;
        for (i, around) in neighbours.iter().enumerate() {
            for j in 0..p {
                if i == j || !pdag.adjacent(i, j) {
                    continue;
                }
                let candidates: Vec<usize> = around
                    .iter()
                    .copied()
                    .filter(|&v| v != j && may_separate(v, i, j))
                    .collect();
                if candidates.len() < size {
                    continue;
                }
                any = true;
                let mut subset: Vec<usize> = (0..size).collect();
                loop {
                    let given: Vec<usize> = subset.iter().map(|&s| candidates[s]).collect();
                    count += 1;
                    if tests.independent(i, j, &given) {
                        pdag.remove(i, j);
                        separating.insert((i.min(j), i.max(j)), given);
                        break;
                    }
                    if !next_subset(&mut subset, candidates.len()) {
                        break;
                    }
                }
            }
        }
        if !any {
            break;
        }
    }
    (pdag, separating, count)
}

/// Steps `subset` (increasing indices below `n`) to the next subset of its
/// size in lexicographic order; false after the last.
fn next_subset(subset: &mut [usize], n: usize) -> bool {
    let k = subset.len();
    let Some(i) = (0..k).rev().find(|&i| subset[i] < n - k + i) else {
        return false;
    };
    subset[i] += 1;
    for m in i + 1..k {
        subset[m] = subset[m - 1] + 1;
    }
    true
}

/// A partially directed graph: `mark[i][j]` says an edge may point from
/// `i` to `j`; both marks make it undirected, one makes it directed.
struct Pdag {
    /// Variables.
    p: usize,
    /// `p × p` row-major marks.
    mark: Vec<bool>,
}

impl Pdag {
    /// Every pair joined by an undirected edge.
    fn complete(p: usize) -> Self {
        let mut mark = vec![true; p * p];
        for v in 0..p {
            mark[v * p + v] = false;
        }
        Pdag { p, mark }
    }

    fn has(&self, i: usize, j: usize) -> bool {
        self.mark[i * self.p + j]
    }

    fn adjacent(&self, i: usize, j: usize) -> bool {
        self.has(i, j) || self.has(j, i)
    }

    fn undirected(&self, i: usize, j: usize) -> bool {
        self.has(i, j) && self.has(j, i)
    }

    fn directed(&self, i: usize, j: usize) -> bool {
        self.has(i, j) && !self.has(j, i)
    }

    fn adjacent_to(&self, v: usize) -> Vec<usize> {
        (0..self.p).filter(|&u| self.adjacent(v, u)).collect()
    }

    fn remove(&mut self, i: usize, j: usize) {
        self.mark[i * self.p + j] = false;
        self.mark[j * self.p + i] = false;
    }

    /// Whether a directed path leads from `from` to `to`.
    fn reaches(&self, from: usize, to: usize) -> bool {
        let mut seen = vec![false; self.p];
        let mut stack = vec![from];
        while let Some(v) = stack.pop() {
            if v == to {
                return true;
            }
            for (u, seen) in seen.iter_mut().enumerate() {
                if !*seen && self.directed(v, u) {
                    *seen = true;
                    stack.push(u);
                }
            }
        }
        false
    }

    /// Orients the undirected edge `i — j` as `i → j` unless that closes a
    /// directed cycle; returns whether it did.
    fn orient(&mut self, i: usize, j: usize) -> bool {
        if !self.undirected(i, j) || self.reaches(j, i) {
            return false;
        }
        self.mark[j * self.p + i] = false;
        true
    }

    /// Orients every unshielded triple `i — k — j` whose separating set
    /// lacks `k` as the collider `i → k ← j`.
    fn colliders(&mut self, separating: &Separating) {
        for k in 0..self.p {
            let around = self.adjacent_to(k);
            for (a, &i) in around.iter().enumerate() {
                for &j in &around[a + 1..] {
                    if self.adjacent(i, j) {
                        continue;
                    }
                    let apart = separating
                        .get(&(i.min(j), i.max(j)))
                        .is_some_and(|set| !set.contains(&k));
                    if apart {
                        self.orient(i, k);
                        self.orient(j, k);
                    }
                }
            }
        }
    }

    /// Meek's rules 1 to 3, applied until none orients another edge.
    fn meek(&mut self) {
        let p = self.p;
        let mut changed = true;
        while changed {
            changed = false;
            for i in 0..p {
                for j in 0..p {
                    if !self.undirected(i, j) {
                        continue;
                    }
                    let rule1 = (0..p).any(|k| self.directed(k, i) && !self.adjacent(k, j));
                    let rule2 = (0..p).any(|k| self.directed(i, k) && self.directed(k, j));
                    let rule3 = {
                        let into: Vec<usize> = (0..p)
                            .filter(|&k| self.undirected(i, k) && self.directed(k, j))
                            .collect();
                        into.iter()
                            .enumerate()
                            .any(|(a, &k)| into[a + 1..].iter().any(|&l| !self.adjacent(k, l)))
                    };
                    if (rule1 || rule2 || rule3) && self.orient(i, j) {
                        changed = true;
                    }
                }
            }
        }
    }

    fn undirected_count(&self) -> usize {
        (0..self.p)
            .map(|i| (i + 1..self.p).filter(|&j| self.undirected(i, j)).count())
            .sum()
    }

    /// Orients what is left undirected without new colliders or cycles
    /// (Dor and Tarsi 1992): repeatedly take a node with no edge out of it
    /// whose undirected neighbours are adjacent to all its other
    /// neighbours, point its undirected edges into it and set it aside.
    /// When test errors leave no such node, a node with no edge out of it
    /// is taken anyway, which keeps the graph acyclic.
    fn extend(&mut self) {
        let p = self.p;
        let mut left = vec![true; p];
        for _ in 0..p {
            let sink =
                |v: usize, this: &Pdag| left[v] && (0..p).all(|u| !left[u] || !this.directed(v, u));
            let fits = |v: usize, this: &Pdag| {
                let around: Vec<usize> =
                    (0..p).filter(|&u| left[u] && this.adjacent(v, u)).collect();
                around.iter().all(|&u| {
                    !this.undirected(u, v) || around.iter().all(|&t| t == u || this.adjacent(u, t))
                })
            };
            let chosen = (0..p)
                .rev()
                .find(|&v| sink(v, self) && fits(v, self))
                .or_else(|| (0..p).rev().find(|&v| sink(v, self)));
            let Some(v) = chosen else {
                break;
            };
            let into: Vec<usize> = (0..p)
                .filter(|&u| left[u] && self.undirected(u, v))
                .collect();
            for u in into {
                self.mark[v * p + u] = false;
            }
            left[v] = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    /// A linear Gaussian DAG a → c ← b, c → d, d → y, a → y, with `w`
    /// standing for a and y the outcome: one collider, a chain, and an
    /// edge into the outcome.
    fn sample(n: usize, seed: u64) -> (Vec<String>, Vec<Array1<f64>>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut e = || rng.sample::<f64, _>(StandardNormal);
        let (mut a, mut b, mut c, mut d, mut y) = (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            let (va, vb) = (e(), e());
            let vc = 0.8 * va + 0.7 * vb + e();
            let vd = 0.9 * vc + e();
            let vy = 0.6 * vd + 0.5 * va + e();
            a.push(va);
            b.push(vb);
            c.push(vc);
            d.push(vd);
            y.push(vy);
        }
        let names = ["a", "b", "c", "d", "y"].map(String::from).to_vec();
        let columns = [a, b, c, d, y].into_iter().map(Array1::from).collect();
        (names, columns)
    }

    fn learn(discovery: &Discovery, n: usize, seed: u64) -> Learned {
        let (names, columns) = sample(n, seed);
        let views: Vec<ArrayView1<f64>> = columns.iter().map(|c| c.view()).collect();
        discovery
            .learn(&names, &views, "a", "y")
            .expect("the sample is fit to learn from")
    }

    fn edges(graph: &CausalGraph) -> Vec<String> {
        let mut edges = graph.edges();
        edges.sort();
        edges
    }

    #[test]
    fn a_linear_gaussian_dag_is_recovered_with_its_collider() {
        let learned = learn(&Discovery::default(), 5000, 1);
        assert_eq!(
            edges(&learned.graph),
            ["a -> c", "a -> y", "b -> c", "c -> d", "d -> y"],
            "the collider orients a, b -> c; Meek's rule 1 then c -> d; the outcome is a sink"
        );
        assert_eq!(learned.undirected, 0);
        assert!(learned.tests > 10);
    }

    #[test]
    fn distance_counts_missing_extra_and_reversed_edges() {
        let truth = learn(&Discovery::default(), 5000, 1).graph;
        let names = truth.names().to_vec();
        let index = |n: &str| names.iter().position(|m| m == n).expect("a node");
        let mut parents = vec![Vec::new(); names.len()];
        parents[index("a")].push(index("c"));
        parents[index("c")].push(index("b"));
        parents[index("y")].push(index("b"));
        let other =
            CausalGraph::new(names, vec![true; 5], parents, "a", "y").expect("a valid graph");
        let d = distance(&other, &truth);
        assert_eq!(
            d,
            GraphDistance {
                missing: 3,
                extra: 1,
                reversed: 1
            }
        );
        assert_eq!((d.shd(), d.skeleton()), (5, 4));
        assert_eq!(distance(&truth, &truth).shd(), 0);
    }

    #[test]
    fn tiers_orient_what_the_data_cannot() {
        // b -> c -> d alone, d the outcome: the outcome is a sink, so
        // c -> d, but nothing in the data orients b — c; the extension
        // picks b -> c, the tiers the other way.
        let (names, columns) = sample(3000, 3);
        let views: Vec<ArrayView1<f64>> = columns.iter().map(|c| c.view()).collect();
        let on_chain = |discovery: Discovery| {
            let learned = discovery
                .learn(&names[1..4], &views[1..4], "b", "d")
                .expect("three columns");
            (edges(&learned.graph), learned.undirected)
        };
        let owned = |edges: [&str; 2]| edges.map(String::from).to_vec();
        assert_eq!(
            on_chain(Discovery::default()),
            (owned(["b -> c", "c -> d"]), 1)
        );
        let knowing = Discovery {
            tiers: vec![vec!["c".into()], vec!["b".into()]],
            ..Discovery::default()
        };
        assert_eq!(on_chain(knowing), (owned(["c -> b", "c -> d"]), 0));
        let contradicting = Discovery {
            tiers: vec![vec!["d".into()], vec!["c".into()]],
            ..Discovery::default()
        };
        assert_eq!(
            on_chain(contradicting).0,
            owned(["b -> c", "c -> d"]),
            "the outcome stays a sink whatever the tiers say"
        );
    }

    #[test]
    fn bad_settings_and_data_are_named() {
        let bad = |d: Discovery| d.validate().expect_err("refused").to_string();
        assert!(bad(Discovery {
            alpha: 0.0,
            ..Discovery::default()
        })
        .contains("alpha is 0"));
        assert!(bad(Discovery {
            max_condition: 11,
            ..Discovery::default()
        })
        .contains("at most 10"));
        assert!(bad(Discovery {
            tiers: vec![vec!["a".into()], vec!["a".into()]],
            ..Discovery::default()
        })
        .contains("tiers 1 and 2"));
        let (names, mut columns) = sample(100, 4);
        columns[1].fill(2.0);
        let views: Vec<ArrayView1<f64>> = columns.iter().map(|c| c.view()).collect();
        let err = Discovery::default()
            .learn(&names, &views, "a", "y")
            .expect_err("a constant column")
            .to_string();
        assert!(err.contains("column `b` is constant"), "{err}");
        let unknown = Discovery {
            tiers: vec![vec!["q".into()]],
            ..Discovery::default()
        };
        let (names, columns) = sample(100, 4);
        let views: Vec<ArrayView1<f64>> = columns.iter().map(|c| c.view()).collect();
        let err = unknown
            .learn(&names, &views, "a", "y")
            .expect_err("no such column")
            .to_string();
        assert!(err.contains("`q` is not a column"), "{err}");
    }

    #[test]
    fn subsets_are_enumerated_once_each() {
        let mut subset = vec![0, 1];
        let mut all = vec![subset.clone()];
        while next_subset(&mut subset, 4) {
            all.push(subset.clone());
        }
        assert_eq!(
            all,
            [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]].map(|s| s.to_vec())
        );
        let mut empty: Vec<usize> = Vec::new();
        assert!(!next_subset(&mut empty, 3));
    }
}
