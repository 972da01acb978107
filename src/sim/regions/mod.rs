//! The regions world: districts with an economic level, urbanity, ageing,
//! disease burden, population and hospital beds, a binary resource
//! investment (the treatment), access to care (a mediator) and a health
//! outcome, declared as structural equations whose variables are the
//! edges of the causal graph. Extra covariates x1..xK, some of them
//! confounders, set the dimension. The treatment may instead be continuous
//! (a dose, e.g. extra beds per 1,000 people).
//!
//! The truth comes from intervening on the equations with each unit's own
//! noise draws: Y(1) and Y(0) per unit, and Y(1, M(0)) (the outcome under
//! treatment with the mediators where the untreated world puts them) for
//! the natural direct and indirect effects. For a dose `d` the unit's effect
//! is that of one more unit at its own dose, Y(d + 1) − Y(d), with
//! Y(d + 1, M(d)) for the direct and indirect parts, and the average slope
//! E[dY/dD] at the units' own doses besides.

mod generate;

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

pub use generate::RegionsSim;

use crate::core::text::{elide, number};
use crate::data::graph::CausalGraph;
use crate::data::missing::Missingness;
use crate::formula::{Formula, FormulaText, Variables};
use crate::sim::limits::{self, MAX_UNITS};
use crate::sim::periods::Periods;
use crate::{Error, Result};

/// Most extra covariates x1..xK a regions world may have.
pub const MAX_COVARIATES: usize = 10_000;

/// Most structural equations (`[[nodes]]`) a regions world may have.
pub const MAX_NODES: usize = 1_000;

/// Most named `[parameters]` a regions world may have.
pub const MAX_PARAMETERS: usize = 1_000;

/// One line on what the world is, for `causim list`.
pub const SUMMARY: &str =
    "regions as structural equations ([[nodes]]: gdp, urban, east, ageing, burden, population, \
beds, resource -> access -> health) with a causal graph, latent nodes, and covariates x1..xK \
of which some confound";

/// Each parameter and what it means, for `causim list`.
pub const PARAMETERS: &[(&str, &str)] = &[
    ("n", "regions per sample (10 to 10,000,000, and n × (nodes + covariates.count) at most 200,000,000)"),
    ("parameters.confounding", "named scalar the formulas use: scales the pre-treatment nodes' edges into the treatment (0: randomized); at most 1,000 parameters, each finite"),
    ("covariates.count", "extra observed covariates x1..xK ~ N(0, 1) (at most 10,000)"),
    ("covariates.confounders", "the first k of them confound: they enter the treatment's log-odds and the outcome"),
    ("covariates.strength", "coefficient of the confounders' standardized sum in both equations"),
    ("covariates.nonlinear", "confounders enter as (x^2 - 1)/sqrt(2): linear adjustment on x is then misspecified"),
    ("missingness.columns", "covariates that lose values after each sample is drawn (default none); the truth stays the full sample's"),
    ("missingness.share", "expected share of units missing each listed column, in [0, 0.9]"),
    ("missingness.mechanism", "mcar (at random), mar (driven by the observed `driver`) or mnar (driven by the missing value itself)"),
    ("missingness.driver", "mar: the fully observed column driving missingness: a covariate, y or w"),
    ("missingness.strength", "log-odds slope of missingness per SD of the driver (mar) or of the value (mnar)"),
    ("periods.count", "periods after the observational sample, for kind = \"feedback\" policies (default 0: none)"),
    ("periods.noise", "sd of each region's outcome noise in each period (default 1)"),
    ("periods.returns", "share of a region's effect left after each period it is funded, in (0, 1] (default 1)"),
    ("periods.drift", "change of the effect per period per SD of `drift_along` (default 0)"),
    ("periods.drift_along", "the covariate the effect drifts along"),
    ("periods.shocks", "[[periods.shocks]]: regions (a formula of the covariates), from, to (periods), effect and outcome (added while it lasts)"),
    ("nodes", "structural equations in causal order: name, formula, type, noise, observed, role (the treatment binary, or continuous: a dose whose truth is the effect of one more unit; at most 1,000 nodes; each formula at most 10,000 characters, and finite on a pilot sample drawn at build)"),
];

/// Whether a node is continuous or binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NodeType {
    /// The formula plus normal noise with sd `noise`.
    #[default]
    Continuous,
    /// 0/1, with P(1) = logistic(formula): the formula is the log-odds.
    Binary,
}

/// The role of a node in the causal question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The intervention (binary, or continuous: a dose); `w` in the data.
    Treatment,
    /// The outcome; `y` in the data.
    Outcome,
}

/// One structural equation: a node, its formula of earlier nodes, the
/// covariates and the named parameters, and its noise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// The node's name: a column of the data when observed.
    pub name: String,
    /// Its mean (continuous) or log-odds (binary), a formula of earlier
    /// nodes, x1..xK and the `[parameters]`; the variables it uses are its parents.
    pub formula: FormulaText,
    /// Continuous or binary.
    #[serde(rename = "type", default)]
    pub kind: NodeType,
    /// Standard deviation of a continuous node's additive normal noise
    /// (default 1; binary nodes draw their own randomness).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
    /// Whether the node is in the data (false: latent, e.g. an unobserved confounder).
    #[serde(default = "yes")]
    pub observed: bool,
    /// `treatment` or `outcome`, for exactly one node each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

fn yes() -> bool {
    true
}

/// The extra covariates that set the dimension of the problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Covariates {
    /// Number of covariates x1..xK, each N(0, 1), all observed.
    pub count: usize,
    /// The first `confounders` of them enter the treatment's log-odds and
    /// the outcome; the rest are noise.
    pub confounders: usize,
    /// Coefficient of the confounders' standardized sum (sum / sqrt(k)) in
    /// both the treatment's log-odds and the outcome.
    pub strength: f64,
    /// Whether the confounders enter as (x^2 - 1) / sqrt(2) (mean 0, sd 1,
    /// uncorrelated with x) rather than as x: adjusting linearly for x then
    /// removes none of their confounding, a flexible learner all of it.
    pub nonlinear: bool,
}

impl Default for Covariates {
    fn default() -> Self {
        Covariates {
            count: 10,
            confounders: 2,
            strength: 0.5,
            nonlinear: false,
        }
    }
}

/// Parameters of the regions world (`kind = "regions"`); they are also its spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegionsWorld {
    /// Number of regions per sample.
    pub n: usize,
    /// Named scalars the formulas may use; a sweep varies them as
    /// `parameters.NAME` (the `[[nodes]]` array cannot be swept by key).
    pub parameters: BTreeMap<String, f64>,
    /// The extra covariates.
    pub covariates: Covariates,
    /// The structural equations, parents before children.
    pub nodes: Vec<NodeSpec>,
    /// Covariate values the world removes after drawing each sample
    /// (MCAR, MAR or MNAR); the truth stays that of the full sample.
    #[serde(skip_serializing_if = "Missingness::is_default")]
    pub missingness: Missingness,
    /// The world over periods after the observational sample, for feedback
    /// policies: drift, shocks and diminishing returns (off by default).
    #[serde(skip_serializing_if = "Periods::is_default")]
    pub periods: Periods,
}

/// A node of the default world.
fn node(name: &str, formula: &str, kind: NodeType, noise: Option<f64>) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        formula: formula.into(),
        kind,
        noise,
        observed: true,
        role: None,
    }
}

impl Default for RegionsWorld {
    fn default() -> Self {
        use NodeType::{Binary, Continuous};
        let mut nodes = vec![
            node("gdp", "0", Continuous, Some(1.0)),
            node("urban", "-0.2 + gdp", Binary, None),
            node("east", "0.8 * gdp", Binary, None),
            node("ageing", "0.3 * east - 0.2 * gdp", Continuous, Some(1.0)),
            node(
                "burden",
                "0.5 * ageing - 0.3 * gdp + 0.2 * urban",
                Continuous,
                Some(1.0),
            ),
            node(
                "population",
                "exp(0.5 + 0.6 * urban + 0.2 * gdp)",
                Continuous,
                Some(0.2),
            ),
            node(
                "beds",
                "exp(0.9 + 0.2 * gdp + 0.15 * urban + 0.1 * east)",
                Continuous,
                Some(0.2),
            ),
            node(
                "resource",
                "-0.3 + confounding * (0.8 * gdp + 0.4 * urban + 0.2 * (population - 2))",
                Binary,
                None,
            ),
            node(
                "access",
                "-1 + 0.4 * urban + 0.2 * gdp + resource * (0.8 - 0.4 * (beds - 2.5))",
                Continuous,
                Some(0.5),
            ),
            node(
                "health",
                "0.5 + 0.6 * gdp - 0.5 * burden - 0.2 * ageing + 0.3 * (beds - 2.5) \
                 + 0.6 * access + resource * (0.4 - 0.3 * (beds - 2.5) + 0.2 * burden)",
                Continuous,
                Some(1.0),
            ),
        ];
        nodes[7].role = Some(Role::Treatment);
        nodes[9].role = Some(Role::Outcome);
        RegionsWorld {
            n: 2000,
            parameters: BTreeMap::from([("confounding".to_string(), 1.0)]),
            covariates: Covariates::default(),
            nodes,
            missingness: Missingness::default(),
            periods: Periods::default(),
        }
    }
}

/// A spec error with `message`.
fn spec<T>(message: String) -> Result<T> {
    Err(Error::Spec(message))
}

/// Whether `name` can be a variable in a formula: a letter or `_`, then
/// letters, digits or `_`.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A node's noise standard deviation: 1 by default for a continuous node,
/// none for a binary one (its randomness is the 0/1 draw).
fn node_noise(v: &NodeSpec) -> Result<f64> {
    let name = elide(&v.name);
    Ok(match (v.kind, v.noise) {
        (NodeType::Continuous, None) => 1.0,
        (NodeType::Continuous, Some(sd)) if sd.is_finite() && sd >= 0.0 => sd,
        (NodeType::Continuous, Some(sd)) => {
            return spec(format!(
                "node `{name}`: `noise` is {}; it is a standard deviation and must \
                 be finite and non-negative",
                number(sd)
            ))
        }
        (NodeType::Binary, None) => 0.0,
        (NodeType::Binary, Some(_)) => {
            return spec(format!(
                "node `{name}` is binary: its randomness is the 0/1 draw from its \
                 log-odds; drop its `noise`"
            ))
        }
    })
}

impl RegionsWorld {
    /// Whether the node with role = "treatment" is continuous (a dose)
    /// rather than binary; false when no node has that role.
    pub fn continuous_treatment(&self) -> bool {
        self.nodes
            .iter()
            .any(|v| v.role == Some(Role::Treatment) && v.kind == NodeType::Continuous)
    }

    /// Checks the world and parses its equations into a runnable sim; an
    /// error names the node or key and what to change.
    pub fn build(&self) -> Result<RegionsSim> {
        self.check_sizes()?;
        let cov = &self.covariates;
        let nodes = &self.nodes;
        let covariate_names: Vec<String> = (1..=cov.count).map(|j| format!("x{j}")).collect();
        let variables = self.variables(&covariate_names)?;
        let (treatment, outcome) = (self.role(Role::Treatment)?, self.role(Role::Outcome)?);
        let (formulas, noise) = self.parse_nodes(&variables)?;
        self.check_roles(treatment, outcome)?;
        let graph = self.graph(&formulas, &variables, treatment, outcome)?;
        let params: Vec<f64> = self.parameters.values().copied().collect();
        let descendant = graph.descendants(&[treatment]);
        let is_descendant = (0..nodes.len()).map(|i| descendant.contains(&i)).collect();
        let observed_pre: Vec<usize> = (0..nodes.len())
            .filter(|&i| nodes[i].observed && !descendant.contains(&i) && i != outcome)
            .collect();
        let mediators: Vec<usize> = graph
            .mediators()
            .into_iter()
            .filter(|&i| nodes[i].observed)
            .collect();
        let mut x_names: Vec<String> = observed_pre
            .iter()
            .map(|&i| nodes[i].name.clone())
            .collect();
        x_names.extend(covariate_names);
        self.missingness.validate(&x_names)?;
        let periods = self.periods.plan(&x_names)?;
        let sim = RegionsSim {
            world: self.clone(),
            formulas,
            noise,
            params,
            treatment,
            outcome,
            is_descendant,
            observed_pre,
            mediators,
            x_names,
            graph,
            periods,
        };
        sim.pilot()?;
        Ok(sim)
    }

    /// Checks the sizes against their bounds and the covariates' strength.
    fn check_sizes(&self) -> Result<()> {
        let cov = &self.covariates;
        limits::count("n", self.n, 10, MAX_UNITS)?;
        limits::count("covariates.count", cov.count, 0, MAX_COVARIATES)?;
        if cov.confounders > cov.count {
            return spec(format!(
                "`covariates.confounders` is {} but `covariates.count` is {}; at most all \
                 covariates can confound",
                cov.confounders, cov.count
            ));
        }
        limits::count("nodes", self.nodes.len(), 0, MAX_NODES)?;
        limits::count("parameters", self.parameters.len(), 0, MAX_PARAMETERS)?;
        let columns = self.nodes.len() + cov.count;
        limits::cells(
            &format!(
                "n = {} regions with {} nodes and {} covariates",
                self.n,
                self.nodes.len(),
                cov.count
            ),
            self.n,
            columns,
        )?;
        limits::finite("covariates.strength", cov.strength)
    }

    /// The names a formula may use, in order: the nodes, the covariates
    /// x1..xp and the parameters; fails on a bad or repeated name.
    fn variables<'a>(&'a self, covariate_names: &'a [String]) -> Result<Vec<&'a str>> {
        let (cov, nodes) = (&self.covariates, &self.nodes);
        let mut variables: Vec<&str> = nodes.iter().map(|v| v.name.as_str()).collect();
        variables.extend(covariate_names.iter().map(String::as_str));
        for (name, value) in &self.parameters {
            if !is_identifier(name) {
                return spec(format!(
                    "parameter `{}` must be a name like `confounding`",
                    elide(name)
                ));
            }
            limits::finite(&format!("parameters.{}", elide(name)), *value)?;
            variables.push(name);
        }
        let mut seen = HashSet::with_capacity(variables.len());
        if let Some(name) = variables.iter().find(|name| !seen.insert(**name)) {
            return spec(format!(
                "`{}` names two things (nodes, covariates x1..x{} or parameters); rename one",
                elide(name),
                cov.count
            ));
        }
        Ok(variables)
    }

    /// The one node with role `want`; fails when none or several have it.
    fn role(&self, want: Role) -> Result<usize> {
        let nodes = &self.nodes;
        let with: Vec<usize> = (0..nodes.len())
            .filter(|&i| nodes[i].role == Some(want))
            .collect();
        let word = if want == Role::Treatment {
            "treatment"
        } else {
            "outcome"
        };
        match with.as_slice() {
            [i] => Ok(*i),
            [] => spec(format!(
                "no node has role = \"{word}\"; mark exactly one node as the {word}"
            )),
            [a, b, ..] => spec(format!(
                "nodes `{}` and `{}` both have role = \"{word}\"; keep exactly one",
                elide(&nodes[*a].name),
                elide(&nodes[*b].name)
            )),
        }
    }

    /// Parses each node's formula against `variables` and reads its noise;
    /// a formula may use only nodes declared before it.
    fn parse_nodes(&self, variables: &[&str]) -> Result<(Vec<Formula>, Vec<f64>)> {
        let nodes = &self.nodes;
        let index = Variables::new(variables);
        let mut formulas = Vec::with_capacity(nodes.len());
        let mut noise = Vec::with_capacity(nodes.len());
        for (i, v) in nodes.iter().enumerate() {
            let name = elide(&v.name);
            if !is_identifier(&v.name) {
                return spec(format!(
                    "node name `{name}` must start with a letter and hold only letters, \
                     digits and `_`"
                ));
            }
            let source = elide(v.formula.as_str());
            let f = Formula::parse_in(v.formula.as_str(), &index)
                .map_err(|e| Error::Formula(format!("node `{name}`: formula \"{source}\": {e}")))?;
            if let Some(&later) = f
                .used_variables()
                .iter()
                .find(|&&j| j >= i && j < nodes.len())
            {
                let used = elide(variables[later]);
                return Err(Error::Formula(format!(
                    "node `{name}`: formula \"{source}\" uses `{used}`, which is {}; a formula \
                     may use only nodes declared before it, so move `{used}` above `{name}`",
                    if later == i {
                        "the node itself"
                    } else {
                        "declared later"
                    },
                )));
            }
            formulas.push(f);
            noise.push(node_noise(v)?);
        }
        Ok((formulas, noise))
    }

    /// Checks that the outcome comes after the treatment and both are
    /// observed; the treatment may be binary or continuous (a dose).
    fn check_roles(&self, treatment: usize, outcome: usize) -> Result<()> {
        let nodes = &self.nodes;
        if outcome < treatment {
            return spec(format!(
                "the outcome `{}` is declared before the treatment `{}`, so the treatment \
                 cannot affect it; declare the outcome after the treatment",
                elide(&nodes[outcome].name),
                elide(&nodes[treatment].name)
            ));
        }
        for i in [treatment, outcome] {
            if !nodes[i].observed {
                return spec(format!(
                    "node `{}` is the {}, so it must be observed; drop observed = false",
                    elide(&nodes[i].name),
                    if i == treatment {
                        "treatment"
                    } else {
                        "outcome"
                    }
                ));
            }
        }
        Ok(())
    }

    /// The causal graph of the equations: each node's parents are the nodes
    /// and covariates its formula uses, plus the confounding covariates for
    /// the treatment and the outcome.
    fn graph(
        &self,
        formulas: &[Formula],
        variables: &[&str],
        treatment: usize,
        outcome: usize,
    ) -> Result<CausalGraph> {
        let (m, k) = (self.nodes.len(), self.covariates.count);
        let mut parents: Vec<Vec<usize>> = formulas
            .iter()
            .map(|f| {
                f.used_variables()
                    .into_iter()
                    .filter(|&j| j < m + k)
                    .collect()
            })
            .collect();
        parents.extend((0..k).map(|_| Vec::new()));
        if self.covariates.strength != 0.0 {
            for i in [treatment, outcome] {
                parents[i].extend(m..m + self.covariates.confounders);
            }
        }
        let names: Vec<String> = variables[..m + k].iter().map(|s| s.to_string()).collect();
        let mut observed: Vec<bool> = self.nodes.iter().map(|v| v.observed).collect();
        observed.extend(std::iter::repeat_n(true, k));
        CausalGraph::new(
            names,
            observed,
            parents,
            &self.nodes[treatment].name,
            &self.nodes[outcome].name,
        )
    }
}
