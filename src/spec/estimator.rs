//! The registry of estimators: `kind = "..."` in `[[estimators]]` picks a variant,
//! whose payload is the estimator itself (its parameters are its config).

use serde::{Deserialize, Serialize};

use crate::data::strategy::DataStep;
use crate::data::Dataset;
use crate::estimate::cem::Cem;
use crate::estimate::dml::Dml;
use crate::estimate::entropy::EntropyBalancing;
use crate::estimate::forest::{
    CausalForest, FittedForest, ForestParams, InstrumentalForest, RegressionForest,
};
use crate::estimate::gps::Gps;
use crate::estimate::linear::{DifferenceInMeans, Ols, TwoStageLeastSquares};
use crate::estimate::matching::Psm;
use crate::estimate::scm::Scm;
use crate::estimate::{Estimate, Estimator};
use crate::Result;

/// An estimator's spec, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EstimatorSpec {
    /// Difference in mean outcomes between treated and untreated (the naive estimator).
    DifferenceInMeans(DifferenceInMeans),
    /// Least squares of Y on W and the covariates, robust SE.
    Ols(Ols),
    /// Two-stage least squares with the instrument, robust SE (Wald without covariates).
    TwoStageLeastSquares(TwoStageLeastSquares),
    /// Regression forests of Y on X per treatment arm (T-learner), AIPW ATE.
    RegressionForest(RegressionForest),
    /// grf's causal forest: tau(x) under unconfoundedness, AIPW ATE.
    CausalForest(CausalForest),
    /// grf's instrumental forest: tau(x) as a local LATE, doubly robust average.
    InstrumentalForest(InstrumentalForest),
    /// Structural causal model: identification from a causal graph (backdoor,
    /// else front door), linear g-computation, mediation formula.
    Scm(Scm),
    /// Nearest-neighbour matching on the logit of a logistic propensity score.
    Psm(Psm),
    /// Entropy balancing of the controls to the treated covariate means (ATT).
    EntropyBalancing(EntropyBalancing),
    /// Coarsened exact matching: strata of equal coarsened covariates, ATT or ATE.
    Cem(Cem),
    /// Double/debiased machine learning: cross-fitted forest or lasso nuisances, orthogonal scores.
    Dml(Dml),
    /// Generalized propensity score (Hirano and Imbens 2004) for a continuous
    /// treatment: the effect of one more unit of dose, or the average slope.
    Gps(Gps),
}

/// Parameters of the linear estimators (OLS, 2SLS), for `causim list`.
const LINEAR: &[(&str, &str)] = &[
    ("se", "standard errors: classical, hc0, hc1, hc2 or hc3"),
    (
        "covariates",
        "adjust for the covariates (false: Y on W only; Wald for 2SLS)",
    ),
];
/// Parameters of the forest estimators, for `causim list`.
const FOREST: &[(&str, &str)] = &[
    ("num_trees", "trees in the main forest"),
    (
        "sample_fraction",
        "share of units each tree is grown on (<= 0.5 with little bags)",
    ),
    (
        "mtry",
        "mean features tried per split (Poisson); default min(ceil(sqrt(p) + 20), p)",
    ),
    (
        "min_node_size",
        "nodes with at most this many samples are not split",
    ),
    (
        "honesty",
        "split on one half of a tree's sample, estimate leaves on the other",
    ),
    (
        "honesty_fraction",
        "share of a tree's sample that places splits",
    ),
    (
        "honesty_prune_leaves",
        "prune leaves the estimation half leaves empty",
    ),
    ("alpha", "smallest share of the parent a child may hold"),
    ("imbalance_penalty", "penalty on imbalanced splits"),
    (
        "ci_group_size",
        "trees per little bag for variance estimates",
    ),
    (
        "nuisance_trees",
        "trees per nuisance forest; default max(50, num_trees / 4)",
    ),
    (
        "clusters",
        "sample the data's clusters (hospital-days, fit --cluster) whole, as grf's clusters",
    ),
    (
        "criterion",
        "causal/instrumental: \"gradient\" (grf's pseudo-outcomes) or \"moment\" (each child's IV moment solved exactly)",
    ),
    (
        "tune",
        "causal/instrumental: choose min_node_size, sample_fraction, mtry by a doubly robust out-of-bag loss",
    ),
    ("tune_trees", "trees per small forest when tuning"),
    ("tune_draws", "settings drawn and judged when tuning"),
];
/// Parameters of DML, for `causim list`.
const DML: &[(&str, &str)] = &[
    (
        "model",
        "plr (partially linear; a variance-weighted average effect under heterogeneity), irm (AIPW) or iv (LATE, 0/1 instrument)",
    ),
    ("estimand", "att with model = irm for the effect on the treated; slope with model = plr to judge a dose's coefficient against the average slope"),
    ("folds", "cross-fitting folds (stratified by W, or by Z for iv)"),
    ("repetitions", "fold splits; median estimate, SE with the spread between splits"),
    ("learner", "forest or lasso (plug-in penalty; post-lasso means, logistic lasso probabilities)"),
    ("trees", "trees per nuisance forest"),
    ("min_node_size", "forest nodes with at most this many units are not split"),
    ("mtry", "mean features tried per forest split; default min(ceil(sqrt(p) + 20), p)"),
    ("trim", "propensities (of W; of Z for iv) clipped to [trim, 1 - trim]"),
    ("cate", "none, or linear: per-unit effects by the DR-learner (post-lasso fit of the irm's AIPW scores on X)"),
];

/// Other names of estimator kinds, `(alias, kind)`: read wherever a kind is
/// written, `kind = "2sls"` in an experiment's `[[estimators]]` as well as
/// `causim fit --estimator 2sls` (see [`EstimatorSpec::resolve_kind`]).
pub const KIND_ALIASES: &[(&str, &str)] = &[
    ("naive", "difference_in_means"),
    ("dim", "difference_in_means"),
    ("2sls", "two_stage_least_squares"),
    ("tsls", "two_stage_least_squares"),
    ("iv", "two_stage_least_squares"),
];

impl EstimatorSpec {
    /// The kind a written name stands for: hyphens read as underscores
    /// (`causal-forest`), then an alias of [`KIND_ALIASES`] replaced by its
    /// kind; any other name is returned as written (with underscores), for
    /// deserialization to accept or refuse.
    pub fn resolve_kind(written: &str) -> String {
        let kind = written.replace('-', "_");
        KIND_ALIASES
            .iter()
            .find(|(alias, _)| *alias == kind)
            .map_or(kind, |(_, kind)| (*kind).to_string())
    }

    /// The estimator as a trait object the runner can call.
    pub fn estimator(&self) -> &dyn Estimator {
        match self {
            EstimatorSpec::DifferenceInMeans(e) => e,
            EstimatorSpec::Ols(e) => e,
            EstimatorSpec::TwoStageLeastSquares(e) => e,
            EstimatorSpec::RegressionForest(e) => e,
            EstimatorSpec::CausalForest(e) => e,
            EstimatorSpec::InstrumentalForest(e) => e,
            EstimatorSpec::Scm(e) => e,
            EstimatorSpec::Psm(e) => e,
            EstimatorSpec::EntropyBalancing(e) => e,
            EstimatorSpec::Cem(e) => e,
            EstimatorSpec::Dml(e) => e,
            EstimatorSpec::Gps(e) => e,
        }
    }

    /// Fits like [`Estimator::fit`] and, for the causal and instrumental
    /// forests, keeps the fitted forest: placement policies predict with it
    /// at the busyness each placement would create.
    pub fn fit_with_forest(
        &self,
        data: &Dataset,
        seed: u64,
    ) -> Result<(Estimate, Option<FittedForest>)> {
        match self {
            EstimatorSpec::CausalForest(f) => f.fit_forest(data, seed).map(|(e, f)| (e, Some(f))),
            EstimatorSpec::InstrumentalForest(f) => {
                f.fit_forest(data, seed).map(|(e, f)| (e, Some(f)))
            }
            other => other.estimator().fit(data, seed).map(|e| (e, None)),
        }
    }

    /// The settings of a forest estimator (regression, causal or
    /// instrumental forest); `None` for every other kind.
    pub fn forest_params(&self) -> Option<&ForestParams> {
        match self {
            EstimatorSpec::RegressionForest(RegressionForest(params))
            | EstimatorSpec::CausalForest(CausalForest(params))
            | EstimatorSpec::InstrumentalForest(InstrumentalForest(params)) => Some(params),
            _ => None,
        }
    }

    /// Whether this estimator fits on covariates held as bin codes only
    /// ([`crate::data::Dataset::from_codes`]): the causal and instrumental
    /// forests, which never read the covariates' values.
    pub fn fits_codes(&self) -> bool {
        matches!(
            self,
            EstimatorSpec::CausalForest(_) | EstimatorSpec::InstrumentalForest(_)
        )
    }

    /// Whether this estimator is an instrumental forest, whose local bounds
    /// use the instrument.
    pub fn is_instrumental(&self) -> bool {
        matches!(self, EstimatorSpec::InstrumentalForest(_))
    }

    /// Checks the settings an estimator can judge before seeing data, so
    /// that a bad experiment fails at load rather than in every task.
    /// Every variant is listed, so a new estimator states what it checks.
    pub fn check(&self) -> Result<()> {
        match self {
            EstimatorSpec::DifferenceInMeans(_)
            | EstimatorSpec::Ols(_)
            | EstimatorSpec::TwoStageLeastSquares(_) => Ok(()),
            EstimatorSpec::RegressionForest(RegressionForest(params))
            | EstimatorSpec::CausalForest(CausalForest(params))
            | EstimatorSpec::InstrumentalForest(InstrumentalForest(params)) => params.validate(),
            EstimatorSpec::Scm(e) => e.check(),
            EstimatorSpec::Dml(e) => e.validate(),
            EstimatorSpec::Psm(e) => e.validate(),
            EstimatorSpec::EntropyBalancing(e) => e.validate(),
            EstimatorSpec::Cem(e) => e.validate(),
            EstimatorSpec::Gps(e) => e.validate(),
        }
    }

    /// One default-parameter spec of every estimator, for `causim list`.
    pub fn all_defaults() -> Vec<EstimatorSpec> {
        vec![
            EstimatorSpec::DifferenceInMeans(DifferenceInMeans::default()),
            EstimatorSpec::Ols(Ols::default()),
            EstimatorSpec::TwoStageLeastSquares(TwoStageLeastSquares::default()),
            EstimatorSpec::RegressionForest(RegressionForest::default()),
            EstimatorSpec::CausalForest(CausalForest::default()),
            EstimatorSpec::InstrumentalForest(InstrumentalForest::default()),
            EstimatorSpec::Scm(Scm::default()),
            EstimatorSpec::Psm(Psm::default()),
            EstimatorSpec::EntropyBalancing(EntropyBalancing::default()),
            EstimatorSpec::Cem(Cem::default()),
            EstimatorSpec::Dml(Dml::default()),
            EstimatorSpec::Gps(Gps::default()),
        ]
    }

    /// A one-line description and a description of each parameter, for `causim list`.
    pub fn docs(&self) -> (&'static str, &'static [(&'static str, &'static str)]) {
        match self {
            EstimatorSpec::DifferenceInMeans(_) => (
                "mean outcome of the treated minus the untreated; Neyman SE (the naive comparison)",
                &[],
            ),
            EstimatorSpec::Ols(_) => ("least squares of Y on W and covariates, robust SE", LINEAR),
            EstimatorSpec::TwoStageLeastSquares(_) => (
                "two-stage least squares, W instrumented by Z, covariates as controls; reports first-stage F and partial R2",
                LINEAR,
            ),
            EstimatorSpec::RegressionForest(_) => (
                "T-learner: regression forests of Y on X among treated and untreated; tau(x) = mu1 - mu0, AIPW ATE",
                FOREST,
            ),
            EstimatorSpec::CausalForest(_) => (
                "grf causal forest: tau(x) under unconfoundedness with little-bags SEs, AIPW ATE",
                FOREST,
            ),
            EstimatorSpec::InstrumentalForest(_) => (
                "grf instrumental forest: local LATE tau(x) with little-bags SEs, doubly robust average (compliance score)",
                FOREST,
            ),
            EstimatorSpec::Scm(_) => (
                "causal graph: backdoor adjustment (Lin's interacted g-computation, per-unit effects), else front door; direct/indirect by the mediation formula",
                &[
                    ("effect", "total (ATE), direct or indirect (natural effects through the graph's mediators)"),
                    ("graph", "{ edges = [\"a -> b\", ...], latent = [...], treatment, outcome }; default: the data's own graph"),
                    ("bootstrap", "bootstrap replicates for the SEs of the front door and of direct/indirect effects"),
                    ("discover", "{ alpha, max_condition, tiers = [[...], ...] }: learn the graph from the sample by the PC algorithm (Fisher-z tests; tiers: variables in time order); diagnostics compare it with the data's own graph (shd)"),
                ],
            ),
            EstimatorSpec::Psm(_) => (
                "nearest-neighbour matching on the logit of a ridge-logistic propensity score; Abadie-Imbens SE (score treated as known); balance diagnostics",
                &[
                    ("estimand", "att (match the treated) or ate (match everyone; needs replacement)"),
                    ("neighbors", "matches per unit, M"),
                    ("replacement", "a control may match several units; false: greedy, highest score first, ATT only"),
                    ("caliper", "largest match distance in SDs of the logit score; units without a match are dropped; 0: none"),
                    ("penalty", "ridge penalty on the standardized slopes of the propensity model (keeps it defined under separation or p > n)"),
                ],
            ),
            EstimatorSpec::EntropyBalancing(_) => (
                "entropy balancing (Hainmueller 2012): control weights that match the treated covariate means exactly; ATT with M-estimation SE",
                &[("moments", "1: balance means; 2: means and means of squares")],
            ),
            EstimatorSpec::Cem(_) => (
                "coarsened exact matching (Iacus, King and Porro 2012): strata of units with the same binned covariates, strata lacking an arm dropped; stratified difference in means, SE with the strata fixed; balance diagnostics",
                &[
                    ("bins", "equal-width bins per covariate; 0: Sturges' rule, ceil(log2 n) + 1; a covariate with at most that many values is kept exact"),
                    ("estimand", "att (strata weighted by their treated units) or ate (by their sizes)"),
                ],
            ),
            EstimatorSpec::Dml(_) => (
                "double/debiased machine learning: cross-fitted nuisances, Neyman-orthogonal score, SE from its variance",
                DML,
            ),
            EstimatorSpec::Gps(_) => (
                "generalized propensity score (Hirano and Imbens 2004) for a continuous treatment (a dose): normal dose model on the covariates, outcome quadratic in the dose and the score; the average effect of one more unit at the units' own doses, per-unit effects, pairs-bootstrap SEs",
                &[
                    ("estimand", "ate (one more unit of dose at each unit's own dose) or slope (the average derivative of the dose response)"),
                    ("bootstrap", "pairs-bootstrap replicates for the SEs (10 to 10,000)"),
                ],
            ),
        }
    }

    /// The `kind` string of this estimator.
    pub fn kind(&self) -> &'static str {
        match self {
            EstimatorSpec::DifferenceInMeans(_) => "difference_in_means",
            EstimatorSpec::Ols(_) => "ols",
            EstimatorSpec::TwoStageLeastSquares(_) => "two_stage_least_squares",
            EstimatorSpec::RegressionForest(_) => "regression_forest",
            EstimatorSpec::CausalForest(_) => "causal_forest",
            EstimatorSpec::InstrumentalForest(_) => "instrumental_forest",
            EstimatorSpec::Scm(_) => "scm",
            EstimatorSpec::Psm(_) => "psm",
            EstimatorSpec::EntropyBalancing(_) => "entropy_balancing",
            EstimatorSpec::Cem(_) => "cem",
            EstimatorSpec::Dml(_) => "dml",
            EstimatorSpec::Gps(_) => "gps",
        }
    }
}

/// An estimator with the label it carries in records and reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedEstimator {
    /// Unique label within the experiment (defaults to the kind).
    pub name: String,
    /// The estimator's spec.
    pub spec: EstimatorSpec,
    /// What is done to the sample before fitting (`data = [...]`): drop
    /// or impute missing values, oversample a stratum, reduce to principal
    /// components; empty: the sample as drawn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data: Vec<DataStep>,
}
