//! Causal graphs: directed acyclic graphs over named variables, some of them
//! latent, with the identification algorithms a structural causal model
//! needs: ancestors and descendants, d-separation, a backdoor adjustment set
//! and the front-door criterion.
//!
//! A graph comes either from a world's structural equations (the edges are
//! the variables each equation uses) or from a user's [`GraphSpec`] in an
//! experiment (possibly wrong, to show what a misspecified graph costs).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A causal graph as a user writes it: edges like `"gdp -> resource"`, the
/// latent (unobserved) nodes, and the treatment and outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSpec {
    /// Directed edges, each `"parent -> child"`.
    pub edges: Vec<String>,
    /// Nodes that are not in the data (e.g. an unobserved confounder).
    #[serde(default)]
    pub latent: Vec<String>,
    /// The treatment node (the data's treatment column).
    pub treatment: String,
    /// The outcome node (the data's outcome column).
    pub outcome: String,
}

impl GraphSpec {
    /// Parses the edges and builds the graph, with an error naming the edge
    /// or node at fault.
    pub fn build(&self) -> Result<CausalGraph> {
        let mut names: Vec<String> = Vec::new();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        let mut edges = Vec::new();
        for edge in &self.edges {
            let Some((from, to)) = edge.split_once("->") else {
                return Err(Error::Spec(format!(
                    "graph edge `{edge}` has no `->`; write edges like \"gdp -> resource\""
                )));
            };
            let (from, to) = (from.trim(), to.trim());
            if from.is_empty() || to.is_empty() || to.contains("->") {
                return Err(Error::Spec(format!(
                    "graph edge `{edge}` must name exactly two nodes, like \"gdp -> resource\""
                )));
            }
            let mut id = |name: &str| {
                *index.entry(name.to_string()).or_insert_with(|| {
                    names.push(name.to_string());
                    names.len() - 1
                })
            };
            edges.push((id(from), id(to)));
        }
        for name in [&self.treatment, &self.outcome] {
            if !names.contains(name) {
                return Err(Error::Spec(format!(
                    "graph node `{name}` (the treatment or outcome) is on no edge; add its edges"
                )));
            }
        }
        for name in &self.latent {
            if !names.contains(name) {
                return Err(Error::Spec(format!(
                    "latent node `{name}` is on no edge of the graph; add its edges or drop it"
                )));
            }
        }
        let mut parents = vec![Vec::new(); names.len()];
        for &(f, t) in &edges {
            if !parents[t].contains(&f) {
                parents[t].push(f);
            }
        }
        let observed = names.iter().map(|n| !self.latent.contains(n)).collect();
        CausalGraph::new(names, observed, parents, &self.treatment, &self.outcome)
    }
}

/// A directed acyclic graph over named nodes, each observed or latent, with
/// one treatment and one outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CausalGraph {
    /// Node names, unique.
    names: Vec<String>,
    /// Whether each node is in the data.
    observed: Vec<bool>,
    /// Each node's parents (indices into `names`).
    parents: Vec<Vec<usize>>,
    /// The treatment's index.
    treatment: usize,
    /// The outcome's index.
    outcome: usize,
}

/// The front-door criterion's verdict on the graph's observed mediators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrontDoor {
    /// The observed mediators satisfy the criterion (indices of the nodes).
    Valid(Vec<usize>),
    /// Why no front door exists.
    Invalid(String),
}

impl CausalGraph {
    /// Builds a graph from names, observed flags and parent lists, checking
    /// that it is acyclic and that treatment and outcome are distinct
    /// observed nodes.
    pub fn new(
        names: Vec<String>,
        observed: Vec<bool>,
        parents: Vec<Vec<usize>>,
        treatment: &str,
        outcome: &str,
    ) -> Result<Self> {
        let k = names.len();
        if observed.len() != k || parents.len() != k || parents.iter().flatten().any(|&p| p >= k) {
            return Err(Error::Spec(format!(
                "a graph of {k} nodes needs {k} observed flags and {k} parent lists with \
                 indices below {k}"
            )));
        }
        let find = |name: &str, role: &str| {
            names
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| Error::Spec(format!("the graph has no node `{name}` (the {role})")))
        };
        let (t, y) = (find(treatment, "treatment")?, find(outcome, "outcome")?);
        if t == y {
            return Err(Error::Spec(format!(
                "`{treatment}` is both treatment and outcome; name two different nodes"
            )));
        }
        for (i, role) in [(t, "treatment"), (y, "outcome")] {
            if !observed[i] {
                return Err(Error::Spec(format!(
                    "the {role} `{}` is latent; it must be observed",
                    names[i]
                )));
            }
        }
        let graph = CausalGraph {
            names,
            observed,
            parents,
            treatment: t,
            outcome: y,
        };
        graph.check_acyclic()?;
        Ok(graph)
    }

    /// Fails with a node on a directed cycle.
    fn check_acyclic(&self) -> Result<()> {
        // 0: unvisited, 1: on the current path, 2: done.
        let mut state = vec![0u8; self.len()];
        for start in 0..self.len() {
            if state[start] != 0 {
                continue;
            }
            let mut stack = vec![(start, 0usize)];
            state[start] = 1;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&p) = self.parents[node].get(*next) {
                    *next += 1;
                    match state[p] {
                        0 => {
                            state[p] = 1;
                            stack.push((p, 0));
                        }
                        1 => {
                            return Err(Error::Spec(format!(
                                "the graph has a directed cycle through `{}`; a causal graph \
                                 must be acyclic",
                                self.names[p]
                            )))
                        }
                        _ => {}
                    }
                } else {
                    state[node] = 2;
                    stack.pop();
                }
            }
        }
        Ok(())
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True for a graph without nodes (never, for a built graph).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The node names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The name of node `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// Index of the node called `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Whether node `i` is in the data.
    pub fn is_observed(&self, i: usize) -> bool {
        self.observed[i]
    }

    /// The parents of node `i`.
    pub fn parents(&self, i: usize) -> &[usize] {
        &self.parents[i]
    }

    /// The treatment's index.
    pub fn treatment(&self) -> usize {
        self.treatment
    }

    /// The outcome's index.
    pub fn outcome(&self) -> usize {
        self.outcome
    }

    /// The edges as `"parent -> child"` strings, the form a [`GraphSpec`] reads.
    pub fn edges(&self) -> Vec<String> {
        let mut edges = Vec::new();
        for (child, parents) in self.parents.iter().enumerate() {
            for &p in parents {
                edges.push(format!("{} -> {}", self.names[p], self.names[child]));
            }
        }
        edges
    }

    fn children(&self) -> Vec<Vec<usize>> {
        let mut children = vec![Vec::new(); self.len()];
        for (child, parents) in self.parents.iter().enumerate() {
            for &p in parents {
                children[p].push(child);
            }
        }
        children
    }

    /// The nodes reachable from `from` along `next`, including `from` itself.
    fn reach(&self, from: &[usize], next: &[Vec<usize>]) -> BTreeSet<usize> {
        let mut seen: BTreeSet<usize> = from.iter().copied().collect();
        let mut stack: Vec<usize> = from.to_vec();
        while let Some(v) = stack.pop() {
            for &u in &next[v] {
                if seen.insert(u) {
                    stack.push(u);
                }
            }
        }
        seen
    }

    /// The ancestors of the nodes `of`, including the nodes themselves.
    pub fn ancestors(&self, of: &[usize]) -> BTreeSet<usize> {
        self.reach(of, &self.parents)
    }

    /// The descendants of the nodes `of`, including the nodes themselves.
    pub fn descendants(&self, of: &[usize]) -> BTreeSet<usize> {
        self.reach(of, &self.children())
    }

    /// The mediators: descendants of the treatment that are ancestors of the
    /// outcome, neither of them included, in index order.
    pub fn mediators(&self) -> Vec<usize> {
        let down = self.descendants(&[self.treatment]);
        let up = self.ancestors(&[self.outcome]);
        down.intersection(&up)
            .copied()
            .filter(|&v| v != self.treatment && v != self.outcome)
            .collect()
    }

    /// This graph without the edges out of the nodes `cut`.
    fn without_edges_out_of(&self, cut: &[usize]) -> CausalGraph {
        let mut g = self.clone();
        for parents in &mut g.parents {
            parents.retain(|p| !cut.contains(p));
        }
        g
    }

    /// Whether `xs` and `ys` are d-separated given `zs`, by the moralized
    /// ancestral graph (Lauritzen et al. 1990): take the ancestors of all
    /// three sets, marry the parents of each node, drop directions, delete
    /// `zs`, and look for an undirected path from `xs` to `ys`.
    ///
    /// The parents of a node are married through one extra node joined to
    /// each of them (a path p - family - q stands for the edge p - q), so
    /// the graph stays linear in the edges: a node with 10,000 parents
    /// would otherwise add 50 million edges.
    pub fn d_separated(&self, xs: &[usize], ys: &[usize], zs: &[usize]) -> bool {
        let n = self.parents.len();
        let all: Vec<usize> = xs.iter().chain(ys).chain(zs).copied().collect();
        let keep = self.ancestors(&all);
        let mut adjacent: Vec<Vec<usize>> = vec![Vec::new(); 2 * n];
        for &v in &keep {
            let family = n + v;
            for &p in &self.parents[v] {
                adjacent[v].push(p);
                adjacent[p].push(v);
                adjacent[family].push(p);
                adjacent[p].push(family);
            }
        }
        let mut blocked = vec![false; 2 * n];
        for &z in zs {
            blocked[z] = true;
        }
        let mut target = vec![false; 2 * n];
        for &y in ys {
            target[y] = true;
        }
        let mut seen = vec![false; 2 * n];
        let mut stack: Vec<usize> = Vec::new();
        for &x in xs {
            if !blocked[x] && !seen[x] {
                seen[x] = true;
                stack.push(x);
            }
        }
        while let Some(v) = stack.pop() {
            if target[v] {
                return false;
            }
            for &u in &adjacent[v] {
                if !blocked[u] && !seen[u] {
                    seen[u] = true;
                    stack.push(u);
                }
            }
        }
        true
    }

    /// Whether `set` satisfies the (generalized) backdoor criterion for the
    /// effect of the treatment on the outcome: it holds no node on or after
    /// a proper causal path's forbidden part, and it d-separates treatment
    /// and outcome once the treatment's outgoing edges are cut.
    pub fn is_adjustment_set(&self, set: &[usize]) -> bool {
        let forbidden = self.forbidden();
        if set.iter().any(|v| forbidden.contains(v)) {
            return false;
        }
        self.without_edges_out_of(&[self.treatment]).d_separated(
            &[self.treatment],
            &[self.outcome],
            set,
        )
    }

    /// The treatment and the descendants of every node on a proper causal
    /// path from it to the outcome: what an adjustment set must not hold.
    fn forbidden(&self) -> BTreeSet<usize> {
        let mut causal = self.mediators();
        causal.push(self.outcome);
        let mut forbidden = self.descendants(&causal);
        forbidden.insert(self.treatment);
        forbidden
    }

    /// The canonical adjustment set: the observed ancestors of treatment and
    /// outcome that are not forbidden, if it is a valid adjustment set.
    ///
    /// If any valid adjustment set of observed nodes exists, this one is
    /// (van der Zander, Liśkiewicz and Textor 2014, "Constructing separators
    /// and adjustment sets in ancestral graphs", Theorem 5; Perković et al.
    /// 2018, "Complete graphical characterization and construction of
    /// adjustment sets in Markov equivalence classes", JMLR 18), so None
    /// means the effect has no backdoor adjustment set at all.
    pub fn adjustment_set(&self) -> Option<Vec<usize>> {
        let forbidden = self.forbidden();
        let set: Vec<usize> = self
            .ancestors(&[self.treatment, self.outcome])
            .into_iter()
            .filter(|&v| self.observed[v] && !forbidden.contains(&v))
            .collect();
        self.is_adjustment_set(&set).then_some(set)
    }

    /// The front-door criterion (Pearl 2009, Definition 3.3.3) for the set of
    /// observed mediators M: (i) M intercepts every directed path from the
    /// treatment to the outcome, (ii) no backdoor path from the treatment to
    /// M is open, and (iii) every backdoor path from M to the outcome is
    /// blocked by the treatment.
    pub fn front_door(&self) -> FrontDoor {
        let t = self.treatment;
        let mediators = self.mediators();
        let latent: Vec<&str> = mediators
            .iter()
            .filter(|&&m| !self.observed[m])
            .map(|&m| self.name(m))
            .collect();
        if mediators.is_empty() {
            return FrontDoor::Invalid(format!(
                "no mediator lies between `{}` and `{}`",
                self.name(t),
                self.name(self.outcome)
            ));
        }
        if !latent.is_empty() {
            return FrontDoor::Invalid(format!("mediator(s) {} are latent", latent.join(", ")));
        }
        if self.parents[self.outcome].contains(&t) {
            return FrontDoor::Invalid(format!(
                "the direct edge {} -> {} bypasses every mediator",
                self.name(t),
                self.name(self.outcome)
            ));
        }
        // (i) holds: every directed path from the treatment enters the
        // outcome through a parent that is a mediator (all of them are in M).
        if !self
            .without_edges_out_of(&[t])
            .d_separated(&[t], &mediators, &[])
        {
            return FrontDoor::Invalid(format!(
                "a backdoor path from `{}` to the mediators is open",
                self.name(t)
            ));
        }
        if !self
            .without_edges_out_of(&mediators)
            .d_separated(&mediators, &[self.outcome], &[t])
        {
            return FrontDoor::Invalid(format!(
                "a backdoor path from the mediators to `{}` stays open given `{}`",
                self.name(self.outcome),
                self.name(t)
            ));
        }
        FrontDoor::Valid(mediators)
    }

    /// Whether the mediators' effect on the outcome is unconfounded given the
    /// treatment and `set`: every backdoor path from the mediators (as one
    /// block) to the outcome is blocked, as the mediation formula needs.
    pub fn mediators_unconfounded(&self, set: &[usize]) -> bool {
        let mediators = self.mediators();
        let mut given = set.to_vec();
        given.push(self.treatment);
        self.without_edges_out_of(&mediators)
            .d_separated(&mediators, &[self.outcome], &given)
    }

    /// Why the backdoor criterion fails: the latent nodes among the
    /// treatment's and outcome's ancestors, which no observed set can stand in for.
    pub fn latent_ancestors(&self) -> Vec<&str> {
        self.ancestors(&[self.treatment, self.outcome])
            .into_iter()
            .filter(|&v| !self.observed[v])
            .map(|v| self.name(v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[&str], latent: &[&str], t: &str, y: &str) -> CausalGraph {
        GraphSpec {
            edges: edges.iter().map(|e| e.to_string()).collect(),
            latent: latent.iter().map(|e| e.to_string()).collect(),
            treatment: t.into(),
            outcome: y.into(),
        }
        .build()
        .expect("valid graph")
    }

    fn names(g: &CausalGraph, set: &[usize]) -> Vec<String> {
        set.iter().map(|&v| g.name(v).to_string()).collect()
    }

    fn ids(g: &CausalGraph, names: &[&str]) -> Vec<usize> {
        names.iter().map(|n| g.index(n).expect("node")).collect()
    }

    #[test]
    fn a_confounder_is_adjusted_for() {
        let g = graph(&["c -> t", "c -> y", "t -> y"], &[], "t", "y");
        let set = g.adjustment_set().expect("identified");
        assert_eq!(names(&g, &set), ["c"]);
        assert!(!g.is_adjustment_set(&[]));
        assert!(matches!(g.front_door(), FrontDoor::Invalid(_)));
    }

    #[test]
    fn m_bias_leaves_the_collider_out() {
        // t <- a -> m <- b -> y: m is a collider; adjusting for it opens the path.
        let g = graph(
            &["a -> t", "a -> m", "b -> m", "b -> y", "t -> y"],
            &["a", "b"],
            "t",
            "y",
        );
        assert!(g.is_adjustment_set(&[]));
        assert!(!g.is_adjustment_set(&ids(&g, &["m"])));
        assert_eq!(g.adjustment_set(), Some(Vec::new()));
        // With a and b observed, the canonical set holds them and m, and is valid.
        let g = graph(
            &["a -> t", "a -> m", "b -> m", "b -> y", "t -> y"],
            &[],
            "t",
            "y",
        );
        assert!(g.is_adjustment_set(&ids(&g, &["m", "a"])));
        assert!(!g.is_adjustment_set(&ids(&g, &["m"])));
        assert!(g.adjustment_set().is_some());
    }

    #[test]
    fn d_separation_on_a_chain_fork_and_collider() {
        let g = graph(&["a -> b", "b -> c", "b -> d", "e -> d"], &[], "a", "c");
        let v = ids(&g, &["a", "b", "c", "d", "e"]);
        let (a, b, c, d, e) = (v[0], v[1], v[2], v[3], v[4]);
        assert!(!g.d_separated(&[a], &[c], &[]));
        assert!(g.d_separated(&[a], &[c], &[b]));
        assert!(g.d_separated(&[a], &[e], &[]));
        assert!(!g.d_separated(&[a], &[e], &[d]));
        assert!(g.d_separated(&[a], &[e], &[b, d]));
        assert!(!g.d_separated(&[c], &[d], &[]));
    }

    #[test]
    fn the_front_door_identifies_with_a_latent_confounder() {
        let g = graph(&["u -> t", "u -> y", "t -> m", "m -> y"], &["u"], "t", "y");
        assert_eq!(g.adjustment_set(), None);
        assert_eq!(g.latent_ancestors(), ["u"]);
        assert_eq!(g.front_door(), FrontDoor::Valid(ids(&g, &["m"])));
        assert_eq!(names(&g, &g.mediators()), ["m"]);
    }

    #[test]
    fn a_graph_without_identification_is_recognised() {
        // The latent u confounds t and y, and t also acts on y directly.
        let g = graph(
            &["u -> t", "u -> y", "t -> m", "m -> y", "t -> y"],
            &["u"],
            "t",
            "y",
        );
        assert_eq!(g.adjustment_set(), None);
        let FrontDoor::Invalid(why) = g.front_door() else {
            panic!("no front door with a direct edge");
        };
        assert!(why.contains("t -> y"), "{why}");
        // u also confounds the mediator: the front door fails at (ii).
        let g = graph(
            &["u -> t", "u -> y", "u -> m", "t -> m", "m -> y"],
            &["u"],
            "t",
            "y",
        );
        assert!(matches!(g.front_door(), FrontDoor::Invalid(w) if w.contains("backdoor")));
    }

    #[test]
    fn descendants_of_the_treatment_are_never_adjusted_for() {
        // m is a mediator, d a descendant of the treatment only.
        let g = graph(
            &["c -> t", "c -> y", "t -> m", "m -> y", "t -> d"],
            &[],
            "t",
            "y",
        );
        let set = g.adjustment_set().expect("identified");
        assert_eq!(names(&g, &set), ["c"]);
        assert!(!g.is_adjustment_set(&ids(&g, &["c", "m"])));
    }

    #[test]
    fn bad_graphs_are_errors_naming_the_problem() {
        let spec = |edges: &[&str], t: &str| GraphSpec {
            edges: edges.iter().map(|e| e.to_string()).collect(),
            latent: Vec::new(),
            treatment: t.into(),
            outcome: "y".into(),
        };
        let err = spec(&["t -> y", "y -> t"], "t").build().expect_err("cycle");
        assert!(err.to_string().contains("cycle"), "{err}");
        let err = spec(&["t y"], "t").build().expect_err("no arrow");
        assert!(err.to_string().contains("`t y`"), "{err}");
        let err = spec(&["a -> y"], "t").build().expect_err("no treatment");
        assert!(err.to_string().contains("`t`"), "{err}");
        let g = spec(&["a -> t", "t -> y"], "t").build().expect("valid");
        assert_eq!(g.edges(), ["a -> t", "t -> y"]);
    }
}
