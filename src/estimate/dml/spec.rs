//! The DML configuration from the experiment spec, its estimand and its
//! parameter checks.

use serde::{Deserialize, Serialize};

use crate::core::text::number;
use crate::core::Estimand;
use crate::{Error, Result};

/// Fewest units of each treatment (or instrument) arm every training fold
/// must hold for the per-arm nuisance fits.
pub const MIN_ARM: usize = 10;

/// Most cross-fitting folds: beyond a hundred each fold's nuisance fit is
/// the full sample's.
pub const MAX_FOLDS: usize = 100;

/// Most fold splits whose estimates are combined.
pub const MAX_REPETITIONS: usize = 1_000;

/// Most trees per nuisance forest, as for every forest.
pub const MAX_TREES: usize = crate::estimate::forest::MAX_TREES;

/// Which DML model (and so which orthogonal score) to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DmlModel {
    /// Partially linear regression: residual on residual (any numeric W).
    Plr,
    /// Interactive regression model: AIPW scores for the ATE or ATT (0/1 W).
    #[default]
    Irm,
    /// Interactive IV model: the LATE with a 0/1 instrument and treatment.
    Iv,
}

/// The machine learner that fits every nuisance function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Learner {
    /// Regression forests (probabilities: a regression forest on the 0/1 target).
    #[default]
    Forest,
    /// Plug-in lasso (post-lasso for means, logistic lasso for probabilities).
    Lasso,
}

/// Whether (and how) the IRM gives per-unit effects besides its average.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Cate {
    /// The average only.
    #[default]
    None,
    /// The DR-learner with a post-lasso linear second stage (module docs).
    Linear,
}

/// Double/debiased machine learning with cross-fitted nuisances; see the
/// module documentation for the models. Diagnostics: `n`, `folds`,
/// `repetitions`, `outcome_r2` (out-of-fold R² of the outcome model at the
/// observed arm), `treatment_r2` (PLR: of E[W|X]), `propensity_min`,
/// `propensity_max` and `share_trimmed` (IRM: of e(x); IV: of P(Z=1|X),
/// before clipping), `compliance` (IV: the estimated complier share).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dml {
    /// The model: `plr`, `irm` (default) or `iv`.
    pub model: DmlModel,
    /// `att` for the IRM's effect on the treated, `slope` for the PLR's
    /// coefficient of a dose judged against the average slope; otherwise the
    /// model's own estimand (PLR and IRM: ATE, IV: LATE).
    pub estimand: Option<Estimand>,
    /// Folds of the cross-fitting split (stratified by the treatment, or by
    /// the instrument for `iv`).
    pub folds: usize,
    /// Independent fold splits; the estimate is their median and the SE
    /// adds the spread between splits (Chernozhukov et al., section 3.4).
    pub repetitions: usize,
    /// The nuisance learner: `forest` (default) or `lasso`.
    pub learner: Learner,
    /// Trees per nuisance forest.
    pub trees: usize,
    /// Forest nodes with at most this many units are not split.
    pub min_node_size: usize,
    /// Mean features tried per forest split [default: min(ceil(sqrt(p) + 20), p)].
    pub mtry: Option<usize>,
    /// Propensities (of W, or of Z for `iv`) are clipped to `[trim, 1 − trim]`.
    pub trim: f64,
    /// Per-unit effects from the IRM's ATE scores: `none` (default) or
    /// `linear` (the DR-learner), for allocation policies that target.
    pub cate: Cate,
}

impl Default for Dml {
    fn default() -> Self {
        Dml {
            model: DmlModel::Irm,
            estimand: None,
            folds: 5,
            repetitions: 1,
            learner: Learner::Forest,
            trees: 50,
            min_node_size: 5,
            mtry: None,
            trim: 0.01,
            cate: Cate::None,
        }
    }
}

impl Dml {
    /// The estimand this configuration targets, or an error for a
    /// combination the model cannot estimate.
    pub fn target(&self) -> Result<Estimand> {
        match (self.model, self.estimand) {
            (DmlModel::Plr | DmlModel::Irm, None | Some(Estimand::Ate)) => Ok(Estimand::Ate),
            (DmlModel::Irm, Some(Estimand::Att)) => Ok(Estimand::Att),
            (DmlModel::Plr, Some(Estimand::Slope)) => Ok(Estimand::Slope),
            (DmlModel::Iv, None | Some(Estimand::Late)) => Ok(Estimand::Late),
            (model, Some(e)) => Err(Error::Estimate(format!(
                "dml: model {} cannot estimate the {}; plr estimates the ATE or, for a dose, the \
                 average slope (a variance-weighted average under heterogeneity), irm the ATE or \
                 ATT, iv the LATE",
                match model {
                    DmlModel::Plr => "plr",
                    DmlModel::Irm => "irm",
                    DmlModel::Iv => "iv",
                },
                e.label()
            ))),
        }
    }

    /// Checks the parameters' ranges, with what to change.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Estimate(format!("dml: {m}")));
        self.target()?;
        if !(2..=MAX_FOLDS).contains(&self.folds) {
            return bad(format!(
                "folds is {}; cross-fitting needs between 2 and {MAX_FOLDS}",
                self.folds
            ));
        }
        if !(1..=MAX_REPETITIONS).contains(&self.repetitions) {
            return bad(format!(
                "repetitions is {}; it must lie between 1 and {MAX_REPETITIONS}",
                self.repetitions
            ));
        }
        if !(1..=MAX_TREES).contains(&self.trees) {
            return bad(format!(
                "trees is {}; it must lie between 1 and {MAX_TREES}",
                self.trees
            ));
        }
        if self.min_node_size == 0 {
            return bad("min_node_size must be at least 1".into());
        }
        if self.mtry == Some(0) {
            return bad("mtry must be at least 1".into());
        }
        if !(0.0..0.5).contains(&self.trim) {
            return bad(format!(
                "trim is {}; it must lie in [0, 0.5)",
                number(self.trim)
            ));
        }
        if self.cate == Cate::Linear
            && (self.model, self.target()?) != (DmlModel::Irm, Estimand::Ate)
        {
            return bad(
                "cate = \"linear\" needs model = \"irm\" and the ATE: per-unit effects come from \
                 its doubly robust scores"
                    .into(),
            );
        }
        Ok(())
    }
}
