//! Worlds: data-generating processes with known truth. Each world is one file
//! holding its serde parameters (which are also its spec) and its generator.

pub mod hospital;
pub mod iv;
pub mod limits;
pub mod periods;
mod quadrature;
pub mod regions;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::Estimand;
use std::sync::Arc;

use crate::data::{Dataset, Unit};
use crate::Result;

/// A world that can generate samples: a plain function of its parameters and a seed.
pub trait Sim: Send + Sync {
    /// Draws one sample; the same seed always gives the same sample. Its
    /// truth carries sample estimands and each unit's own effect; the
    /// conditional per-unit truth is added on demand by [`Sim::add_conditional_truth`].
    fn generate(&self, seed: u64) -> Result<Sample>;

    /// Fills `cate` and `clate` of the sample's truth: each unit's effect
    /// given its observed covariates. It integrates the unobserved confounder
    /// out, which costs more than drawing the sample, so the runner asks only
    /// when an estimator has per-unit effects to compare.
    fn add_conditional_truth(&self, sample: &mut Sample) -> Result<()>;

    /// Draws one sample like [`Sim::generate`] and completes its truth with
    /// what every world that knows each unit's effect can say: the average
    /// effect on the treated (ATT) and on the controls (ATC).
    fn sample(&self, seed: u64) -> Result<Sample> {
        let mut sample = self.generate(seed)?;
        sample.truth.add_treated_effects(sample.data.w.as_slice());
        Ok(sample)
    }
}

/// One generated sample: the data estimators see and the truth they do not.
#[derive(Debug, Clone)]
pub struct Sample {
    /// What an analyst would observe.
    pub data: Dataset,
    /// What only the simulation knows.
    pub truth: Truth,
}

/// What a world whose units are placed in cohorts (`Dataset::cohorts`)
/// knows of any placement: each unit's survival, and a cohort's expected
/// survivors, congestion included. Stages ask it through this trait, so no
/// world's types appear in generic code.
pub trait PlacementTruth: Send + Sync + std::fmt::Debug {
    /// Survival probability of unit `i` in `unit` when
    /// `in_internal_medicine` units of its cohort (itself included if placed
    /// there) go to internal medicine.
    fn survival(&self, i: usize, unit: Unit, in_internal_medicine: usize) -> f64;

    /// Expected survivors of cohort `day` under `placement` (true = internal
    /// medicine, one entry per unit of the cohort in row order): the true
    /// welfare of that placement.
    fn welfare(&self, day: usize, placement: &[bool]) -> f64;

    /// The concrete truth, for the world that made it.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// A unit's compliance type with respect to a binary instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplianceType {
    /// Takes the treatment exactly when the instrument is on.
    Complier,
    /// Takes the treatment exactly when the instrument is off.
    Defier,
    /// Always takes the treatment.
    AlwaysTaker,
    /// Never takes the treatment.
    NeverTaker,
}

impl ComplianceType {
    /// The snake_case name used in CSV columns and records.
    pub fn name(self) -> &'static str {
        match self {
            ComplianceType::Complier => "complier",
            ComplianceType::Defier => "defier",
            ComplianceType::AlwaysTaker => "always_taker",
            ComplianceType::NeverTaker => "never_taker",
        }
    }
}

/// The truth of one sample: sample-level estimands and per-unit quantities.
///
/// Estimands are computed on each generated sample (the sample ATE, the
/// sample LATE), so a diagnosand measures how well an estimator recovers the
/// effect in the data it was given.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Truth {
    /// Named sample-level quantities: `ate`, `late`, compliance shares, ...
    pub values: BTreeMap<String, f64>,
    /// Each unit's expected treatment effect E[Y(1) - Y(0) | unit].
    #[serde(skip)]
    pub tau: Vec<f64>,
    /// Each unit's conditional average effect given its observed covariates, E[tau | x_i]
    /// (the unobserved confounder integrated out): the target of a causal forest.
    #[serde(skip)]
    pub cate: Vec<f64>,
    /// Each unit's conditional LATE given its covariates, E[tau | x_i, complier]:
    /// the target of an instrumental forest; None where the world has no compliers.
    #[serde(skip)]
    pub clate: Option<Vec<f64>>,
    /// Each unit's compliance type, where the world has an instrument.
    #[serde(skip)]
    pub complier_type: Option<Vec<ComplianceType>>,
    /// The true welfare of any placement, where units are placed in cohorts.
    #[serde(skip)]
    pub placement: Option<Arc<dyn PlacementTruth>>,
    /// How funding each region pays off over later periods, where the world
    /// runs over periods (`[periods]`): what feedback policies are judged by.
    #[serde(skip)]
    pub periods: Option<Arc<periods::Dynamics>>,
}

impl Truth {
    /// Adds the ATT and ATC, the mean of each unit's effect over the
    /// treated and over the controls, where the world knows every unit's
    /// effect and has not set them itself. A treatment that is not 0/1 (a
    /// dose) has no treated and controls, so it gets neither.
    pub fn add_treated_effects(&mut self, w: Option<&[f64]>) {
        let Some(w) = w.filter(|w| {
            w.len() == self.tau.len() && !w.is_empty() && w.iter().all(|&v| v == 0.0 || v == 1.0)
        }) else {
            return;
        };
        for (estimand, treated) in [(Estimand::Att, true), (Estimand::Atc, false)] {
            let effects = self
                .tau
                .iter()
                .zip(w)
                .filter(|(_, &wi)| (wi > 0.5) == treated)
                .map(|(t, _)| *t);
            let value = crate::core::stats::mean(effects);
            if value.is_finite() {
                self.values
                    .entry(estimand.key().to_string())
                    .or_insert(value);
            }
        }
    }

    /// The true value of `estimand` in this sample, if the world defines it.
    pub fn estimand(&self, estimand: Estimand) -> Option<f64> {
        self.values.get(estimand.key()).copied()
    }

    /// The per-unit truth an estimator of `estimand` targets: `cate` for the
    /// ATE, `clate` for the LATE (none for the others).
    ///
    /// None where the world does not define it, and for a truth read back
    /// from a record (per-unit values are not stored).
    pub fn conditional(&self, estimand: Estimand) -> Option<&[f64]> {
        let units = match estimand {
            Estimand::Ate => Some(self.cate.as_slice()),
            Estimand::Late => self.clate.as_deref(),
            Estimand::Att
            | Estimand::Atc
            | Estimand::Direct
            | Estimand::Indirect
            | Estimand::Slope => None,
        };
        units.filter(|u| !u.is_empty())
    }
}
