//! Propensity score matching: a ridge-penalized logistic propensity model,
//! nearest-neighbour matching on the logit of the score (with or without
//! replacement, within a caliper), Abadie-Imbens standard errors and
//! balance diagnostics.

mod balance;
mod neighbors;
mod propensity;

pub(crate) use balance::with_balance;

use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};

use self::neighbors::SortedArm;
use super::{Estimate, Estimator};
use crate::core::text::number;
use crate::core::Estimand;
use crate::data::Dataset;
use crate::{Error, Result};

/// Units of the same arm matched to each unit to estimate its conditional
/// outcome variance (Abadie and Imbens 2006's J; Stata's `teffects` default).
pub const VARIANCE_NEIGHBORS: usize = 2;

/// What a matching estimator averages over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MatchTarget {
    /// The treated: each treated unit is matched to controls.
    #[default]
    Att,
    /// Everyone: treated units are matched to controls and controls to
    /// treated units.
    Ate,
}

impl MatchTarget {
    /// The estimand this target estimates.
    pub fn estimand(self) -> Estimand {
        match self {
            MatchTarget::Att => Estimand::Att,
            MatchTarget::Ate => Estimand::Ate,
        }
    }
}

/// Nearest-neighbour matching on the estimated propensity score.
///
/// The score `e(x) = P(W = 1 | X = x)` comes from a ridge-penalized logistic
/// regression of W on an intercept and all (non-constant, standardized)
/// covariates. Each target unit (the treated for `estimand = "att"`, every
/// unit for `"ate"`) is matched to its `neighbors` nearest units of the other
/// arm in the logit of the score, and its missing potential outcome is their
/// mean. With a caliper, matches farther than `caliper` standard deviations
/// of the logit score are discarded and a unit left without any is dropped:
/// the estimate is then the effect on the matched units, not on all treated
/// (or all) units, and `dropped_share` says how many were lost.
///
/// Standard errors: with replacement, Abadie and Imbens (2006, Theorem 7):
/// the conditional outcome variance of each unit is estimated by matching it
/// to its [`VARIANCE_NEIGHBORS`] nearest units in its own arm, and weighted
/// by how often the unit is used as a match. Without replacement, the
/// variance of the matched differences over the matched units (the matched
/// pairs treated as independent). Both treat the propensity score as known;
/// the adjustment for its estimation (Abadie and Imbens 2016) is not
/// implemented. For the ATE it makes intervals conservative; for the ATT it
/// can go either way.
///
/// Diagnostics: `n_treated`, `n_control`, `n_matched` (target units kept),
/// `dropped_share` (share of target units without a match in the caliper, or
/// left without controls when matching without replacement),
/// `controls_used` (distinct controls used as matches; `treated_used` too
/// for the ATE), `ps_covariates` (covariates in the propensity model),
/// `ps_iterations`, and the balance of the covariates before and after
/// matching (`smd_max_before`, `smd_mean_before`, `smd_max_after`,
/// `smd_mean_after`: absolute standardized mean differences, with each unit
/// weighted by how often it enters the estimate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Psm {
    /// `att` (default) or `ate`.
    pub estimand: MatchTarget,
    /// Matches per unit, M (default 1).
    pub neighbors: usize,
    /// Whether a control may serve as the match of several units (default
    /// true). Without replacement the treated are matched greedily, highest
    /// propensity score first (the hardest to match), and only the ATT is
    /// available.
    pub replacement: bool,
    /// Largest distance to a match, in standard deviations of the logit of
    /// the score (pooled over the arms, `√((s₁² + s₀²) / 2)`); default 0.2
    /// (Austin 2011). 0 means no caliper.
    pub caliper: f64,
    /// Ridge penalty of the propensity model, `penalty / 2 · Σ βⱼ²` on the
    /// slopes of the standardized covariates (default 1, a N(0, 1) prior on
    /// each): negligible when units far outnumber covariates, it keeps the
    /// fit finite when the covariates separate the arms or outnumber the
    /// units; 0 is plain maximum likelihood.
    pub penalty: f64,
}

impl Default for Psm {
    fn default() -> Self {
        Psm {
            estimand: MatchTarget::Att,
            neighbors: 1,
            replacement: true,
            caliper: 0.2,
            penalty: 1.0,
        }
    }
}

impl Psm {
    /// Checks the settings, with what to change.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Estimate(format!("psm: {m}")));
        if !(1..=MAX_NEIGHBORS).contains(&self.neighbors) {
            return bad(format!(
                "neighbors is {}; it must lie between 1 and {MAX_NEIGHBORS}",
                self.neighbors
            ));
        }
        if !(self.caliper >= 0.0 && self.caliper.is_finite()) {
            return bad(format!(
                "caliper is {}; it must be >= 0 (0 for no caliper)",
                number(self.caliper)
            ));
        }
        if !(self.penalty >= 0.0 && self.penalty.is_finite()) {
            return bad(format!(
                "penalty is {}; it must be >= 0",
                number(self.penalty)
            ));
        }
        if !self.replacement && self.estimand == MatchTarget::Ate {
            return bad(
                "matching without replacement estimates the ATT only (each control is used \
                 at most once, so the controls cannot all be matched too); set estimand = \
                 \"att\", or replacement = true for the ATE"
                    .into(),
            );
        }
        Ok(())
    }
}

/// Most matches per unit: beyond a thousand, matching is weighting.
pub const MAX_NEIGHBORS: usize = 1_000;

/// The estimator's name in errors.
const NAME: &str = "psm";

/// What matching works on: each unit's arm and logit propensity score, and
/// both arms sorted by the score for nearest-neighbour search.
struct Scores<'a> {
    treated: &'a [bool],
    eta: &'a [f64],
    treated_arm: SortedArm,
    control_arm: SortedArm,
}

impl Scores<'_> {
    /// The sorted arm opposite unit `i`'s, where its matches come from.
    fn other_arm(&self, i: usize) -> &SortedArm {
        if self.treated[i] {
            &self.control_arm
        } else {
            &self.treated_arm
        }
    }

    /// The sorted arm of unit `i` itself.
    fn own_arm(&self, i: usize) -> &SortedArm {
        if self.treated[i] {
            &self.treated_arm
        } else {
            &self.control_arm
        }
    }
}

impl Estimator for Psm {
    fn estimand(&self) -> Estimand {
        self.estimand.estimand()
    }

    fn fit(&self, data: &Dataset, _seed: u64) -> Result<Estimate> {
        self.validate()?;
        let treated = binary_treatment(NAME, data)?;
        let n1 = treated.iter().filter(|&&t| t).count();
        check_arms(NAME, n1, data.n() - n1)?;
        let ps = propensity::fit(NAME, data.x.view(), data.w.view(), self.penalty)?;
        if ps.covariates == 0 {
            return Err(Error::Estimate(format!(
                "{NAME}: no covariate varies (the data has {}), so the propensity score is \
                 constant and there is nothing to match on",
                data.x.ncols()
            )));
        }
        let eta = &ps.logit;
        let width = if self.caliper == 0.0 {
            f64::INFINITY
        } else {
            self.caliper * pooled_sd(eta, &treated)
        };
        let flags = &treated;
        let rows = |arm: bool| (0..data.n()).filter(move |&i| flags[i] == arm);
        let scores = Scores {
            treated: &treated,
            eta,
            treated_arm: SortedArm::new(rows(true), eta),
            control_arm: SortedArm::new(rows(false), eta),
        };
        let (targets, matches) = self.match_units(&scores, width);

        let y = data.y.view();
        let usage = Usage::new(data.n(), &targets, &matches, y, &treated);
        let kept = usage.effects.len();
        if kept == 0 {
            return Err(Error::Estimate(format!(
                "{NAME}: no unit has a match within the caliper ({} standard deviations of the \
                 logit propensity score); widen `caliper` or set it to 0 for none",
                self.caliper
            )));
        }
        let tau = usage.effects.iter().sum::<f64>() / kept as f64;
        let spread: f64 = usage.effects.iter().map(|e| (e - tau) * (e - tau)).sum();
        let variance = self.variance(&scores, &usage, y, spread)?;

        let count = |arm: bool| {
            (0..data.n())
                .filter(|&i| treated[i] == arm && usage.used[i] > 0.0)
                .count() as f64
        };
        let weight: Vec<f64> = usage
            .own
            .iter()
            .zip(&usage.used)
            .map(|(a, b)| a + b)
            .collect();
        let mut estimate = Estimate::normal(self.estimand(), tau, variance.sqrt())
            .with("n_treated", n1 as f64)
            .with("n_control", (data.n() - n1) as f64)
            .with("n_matched", kept as f64)
            .with("dropped_share", 1.0 - kept as f64 / targets.len() as f64)
            .with("controls_used", count(false))
            .with("ps_covariates", ps.covariates as f64)
            .with("ps_iterations", ps.iterations as f64);
        if self.estimand == MatchTarget::Ate {
            estimate = estimate.with("treated_used", count(true));
        }
        Ok(with_balance(estimate, data.x.view(), &treated, &weight))
    }
}

impl Psm {
    /// The target units (the treated for the ATT, everyone for the ATE;
    /// without replacement the treated by falling score) and each one's
    /// matches within `width`.
    fn match_units(&self, scores: &Scores<'_>, width: f64) -> (Vec<usize>, Vec<Vec<usize>>) {
        let (treated, eta) = (scores.treated, scores.eta);
        let n = treated.len();
        if self.replacement {
            let targets: Vec<usize> = match self.estimand {
                MatchTarget::Att => (0..n).filter(|&i| treated[i]).collect(),
                MatchTarget::Ate => (0..n).collect(),
            };
            let mut found = Vec::with_capacity(self.neighbors);
            let matches = targets
                .iter()
                .map(|&i| {
                    let other = scores.other_arm(i);
                    other.nearest(eta[i], self.neighbors, None, &mut found);
                    found
                        .iter()
                        .filter(|&&(_, d)| d <= width)
                        .map(|&(j, _)| j)
                        .collect::<Vec<_>>()
                })
                .collect();
            (targets, matches)
        } else {
            let mut targets: Vec<usize> = (0..n).filter(|&i| treated[i]).collect();
            targets.sort_by(|&a, &b| eta[b].total_cmp(&eta[a]).then(a.cmp(&b)));
            let matches = scores
                .control_arm
                .greedy(&targets, eta, self.neighbors, width);
            (targets, matches)
        }
    }

    /// The estimate's variance from the `spread` of the matched effects:
    /// Abadie and Imbens's with replacement (each used unit's conditional
    /// variance from its own arm's nearest neighbours), the paired variance
    /// without.
    fn variance(
        &self,
        scores: &Scores<'_>,
        usage: &Usage,
        y: ArrayView1<f64>,
        spread: f64,
    ) -> Result<f64> {
        let kept = usage.effects.len();
        let eta = scores.eta;
        Ok(if self.replacement {
            let mut neighbours = Vec::with_capacity(VARIANCE_NEIGHBORS);
            let mut sum = spread;
            for i in 0..scores.treated.len() {
                let (a, b) = (usage.own[i], usage.used[i]);
                if a + b == 0.0 {
                    continue;
                }
                let arm = scores.own_arm(i);
                arm.nearest(eta[i], VARIANCE_NEIGHBORS, Some(i), &mut neighbours);
                let j = neighbours.len() as f64;
                let mean = neighbours.iter().map(|&(r, _)| y[r]).sum::<f64>() / j;
                let sigma2 = j / (j + 1.0) * (y[i] - mean) * (y[i] - mean);
                sum += ((a + b) * (a + b) - a - usage.used_sq[i]) * sigma2;
            }
            sum / (kept * kept) as f64
        } else {
            if kept < 2 {
                return Err(Error::Estimate(format!(
                    "{NAME}: only 1 treated unit has a match, so the paired variance is \
                     undefined; widen `caliper` or set it to 0 for none"
                )));
            }
            spread / (kept * (kept - 1)) as f64
        })
    }
}

/// How each unit enters a matching estimate `τ̂ = (1/N) Σᵢ τ̂ᵢ` over the N
/// matched target units, where `τ̂ᵢ = ±(Yᵢ − mean of Y over i's matches)`.
struct Usage {
    /// `τ̂ᵢ` per matched target unit.
    effects: Vec<f64>,
    /// 1 for a matched target unit, else 0.
    own: Vec<f64>,
    /// `Σ 1/mₖ` over the target units k that use this unit as one of their
    /// `mₖ` matches (Abadie and Imbens's `K_M(i) / M` when every unit has M).
    used: Vec<f64>,
    /// `Σ 1/mₖ²` over the same units (`K_M(i) / M²`).
    used_sq: Vec<f64>,
}

impl Usage {
    fn new(
        n: usize,
        targets: &[usize],
        matches: &[Vec<usize>],
        y: ArrayView1<f64>,
        treated: &[bool],
    ) -> Self {
        let mut usage = Usage {
            effects: Vec::with_capacity(targets.len()),
            own: vec![0.0; n],
            used: vec![0.0; n],
            used_sq: vec![0.0; n],
        };
        for (&i, found) in targets.iter().zip(matches) {
            if found.is_empty() {
                continue;
            }
            let m = found.len() as f64;
            let imputed = found.iter().map(|&j| y[j]).sum::<f64>() / m;
            let sign = if treated[i] { 1.0 } else { -1.0 };
            usage.effects.push(sign * (y[i] - imputed));
            usage.own[i] = 1.0;
            for &j in found {
                usage.used[j] += 1.0 / m;
                usage.used_sq[j] += 1.0 / (m * m);
            }
        }
        usage
    }
}

/// Pooled standard deviation `√((s₁² + s₀²) / 2)` of `v` over the arms.
fn pooled_sd(v: &[f64], treated: &[bool]) -> f64 {
    let var = |arm: bool| {
        let vals: Vec<f64> = v
            .iter()
            .zip(treated)
            .filter(|&(_, &t)| t == arm)
            .map(|(&x, _)| x)
            .collect();
        let n = vals.len() as f64;
        let mean = vals.iter().sum::<f64>() / n;
        vals.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)
    };
    ((var(true) + var(false)) / 2.0).sqrt()
}

/// Checks that outcome, treatment and covariates are finite and the
/// treatment is 0/1; returns whether each unit is treated.
pub(crate) fn binary_treatment(estimator: &str, data: &Dataset) -> Result<Vec<bool>> {
    let non_finite = |what: &str, value: f64, i: usize| {
        Error::Data(format!(
            "{estimator}: {what} has a non-finite value ({value}) at row {}",
            i + 1
        ))
    };
    if let Some(i) = data.y.iter().position(|v| !v.is_finite()) {
        return Err(non_finite("the outcome", data.y[i], i));
    }
    for (j, col) in data.x.columns().into_iter().enumerate() {
        if let Some(i) = col.iter().position(|v| !v.is_finite()) {
            let name = data.x_names.get(j).map_or("?", String::as_str);
            return Err(non_finite(&format!("covariate `{name}`"), col[i], i));
        }
    }
    data.w
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            if w == 0.0 || w == 1.0 {
                Ok(w == 1.0)
            } else {
                Err(Error::Data(format!(
                    "{estimator} needs a binary 0/1 treatment; found value {} at row {}{}",
                    number(w),
                    i + 1,
                    super::DOSE_HINT
                )))
            }
        })
        .collect()
}

/// Checks that each arm has at least two units (one to match, one more to
/// estimate variances within the arm).
pub(crate) fn check_arms(estimator: &str, n1: usize, n0: usize) -> Result<()> {
    for (arm, size, other) in [("treated", n1, 0), ("control", n0, 1)] {
        let problem = match size {
            0 => format!("the {arm} arm is empty (all W = {other})"),
            1 => format!("the {arm} arm has only 1 unit"),
            _ => continue,
        };
        return Err(Error::Estimate(format!(
            "{problem}; {estimator} needs at least 2 treated and 2 control units"
        )));
    }
    Ok(())
}
