//! Coarsened exact matching (Iacus, King and Porro 2012): each covariate is
//! coarsened into bins, units with the same bins on every covariate form a
//! stratum, strata without both a treated and a control unit are dropped,
//! and the effect is the average of the within-stratum differences in mean
//! outcomes, weighted by the strata's treated units (ATT) or sizes (ATE).

use std::collections::HashMap;

use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};

use super::matching::{binary_treatment, check_arms, with_balance, MatchTarget};
use super::{Estimate, Estimator};
use crate::core::text::plural;
use crate::core::Estimand;
use crate::data::Dataset;
use crate::{Error, Result};

/// The estimator's name in errors.
const NAME: &str = "cem";

/// Most bins per covariate: a million equal-width bins are finer than any
/// sample causim draws, so more would only be a mistyped number.
pub const MAX_BINS: usize = 1_000_000;

/// Share of the target units (the treated for the ATT, everyone for the
/// ATE) that may be dropped before the estimate warns that it is the
/// matched units' effect.
pub const WARN_DROPPED: f64 = 0.1;

/// What coarsened exact matching averages over: the treated (`att`, each
/// stratum weighted by its treated units) or everyone (`ate`, each stratum
/// weighted by its size). The same targets as [`crate::estimate::matching::Psm`]'s.
pub type CemTarget = MatchTarget;

/// Coarsened exact matching.
///
/// Each covariate is cut into `bins` equal-width bins over its range (with
/// `bins = 0`, Sturges' rule: `⌈log₂ n⌉ + 1` bins); a covariate with at most
/// that many distinct values is kept exact, each value its own bin, so that
/// binary and count covariates match exactly. Units with the same bin on
/// every covariate form a stratum, and strata without both a treated and a
/// control unit are dropped with their units. Over the matched strata `s`,
/// with `n₁ₛ` treated, `n₀ₛ` controls and mean outcomes `ȳ₁ₛ`, `ȳ₀ₛ`, the
/// estimate is `Σₛ (tₛ / T)(ȳ₁ₛ − ȳ₀ₛ)`, where `tₛ` is `n₁ₛ` for the ATT and
/// `nₛ = n₁ₛ + n₀ₛ` for the ATE and `T = Σₛ tₛ`: the weighted difference in
/// means with CEM's weights (for the ATT, 1 for a matched treated unit and
/// `n₁ₛ / n₀ₛ` for a control, up to scale). It is unbiased for the effect
/// on the matched units when the coarsened covariates leave no confounding
/// within a stratum; the bins' widths bound what is left.
///
/// Standard error: the strata held fixed, the variance of the sum of the
/// units' influence contributions, `V = (1/T²) Σₛ tₛ [(tₛ − 1) vₛ + (τ̂ₛ − τ̂)²]`
/// with `vₛ = s²₁ₛ / n₁ₛ + s²₀ₛ / n₀ₛ` the variance of the stratum's
/// difference in means (`s²` the outcome variance within the stratum's arm,
/// divided by `n − 1`). It is `Σₛ (tₛ / T)² vₛ`, the variance of the
/// stratified estimator given the units' covariates and arms, plus the
/// spread of the stratum effects over the target units net of their noise,
/// `Σₛ tₛ [(τ̂ₛ − τ̂)² − vₛ] / T²`, so that it covers the population ATT or
/// ATE rather than the sample's; it equals Abadie and Imbens's (2006)
/// matching variance with each target unit matched to all units of the other
/// arm in its stratum, as `psm` computes it. An arm with a single unit in a
/// stratum has no variance of its own; it takes that arm's variance pooled
/// within all matched strata.
///
/// Diagnostics: `n_treated`, `n_control`, `n_strata` (distinct coarsened
/// signatures), `matched_strata` (those with both arms), `n_treated_matched`,
/// `n_control_matched`, `treated_dropped_share` (treated units in strata
/// without a control), `dropped_share` (dropped target units: the treated for
/// the ATT, everyone for the ATE), `bins_mean` (bins per covariate, averaged;
/// distinct values for a covariate kept exact) and the balance of the
/// covariates before and after CEM's weights (`smd_max_before`,
/// `smd_mean_before`, `smd_max_after`, `smd_mean_after`). A warning says so
/// when more than [`WARN_DROPPED`] of the target units are dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Cem {
    /// Equal-width bins per covariate; 0 (default): Sturges' rule,
    /// `⌈log₂ n⌉ + 1`. A covariate with at most this many distinct values is
    /// kept exact.
    pub bins: usize,
    /// `att` (default) or `ate`.
    pub estimand: CemTarget,
}

impl Cem {
    /// Checks the settings before any data is seen.
    pub fn validate(&self) -> Result<()> {
        if self.bins == 1 {
            return Err(Error::Estimate(format!(
                "{NAME}: bins is 1, which puts every value of a covariate in one bin and so \
                 ignores every covariate with more than one value; use 0 for Sturges' rule or \
                 at least 2"
            )));
        }
        if self.bins > MAX_BINS {
            return Err(Error::Estimate(format!(
                "{NAME}: bins is {}; it must be at most {MAX_BINS} (0 for Sturges' rule)",
                self.bins
            )));
        }
        Ok(())
    }

    /// Bins per covariate for `n` units: the setting, or Sturges' rule.
    pub fn bins_for(&self, n: usize) -> usize {
        if self.bins > 0 {
            self.bins
        } else {
            sturges(n)
        }
    }
}

/// Sturges' rule, `⌈log₂ n⌉ + 1` bins for `n` values.
pub fn sturges(n: usize) -> usize {
    n.max(1).next_power_of_two().trailing_zeros() as usize + 1
}

/// One covariate coarsened: each unit's bin, and how many bins there are
/// (its distinct values when kept exact).
fn coarsen(col: ArrayView1<f64>, bins: usize) -> (Vec<u32>, usize) {
    let mut distinct: Vec<f64> = col.to_vec();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup_by(|a, b| a == b);
    if distinct.len() <= bins {
        // `<` treats -0 and 0 alike, as the dedup did.
        let codes = col
            .iter()
            .map(|&v| distinct.partition_point(|&d| d < v) as u32)
            .collect();
        return (codes, distinct.len());
    }
    let (lo, hi) = (distinct[0], distinct[distinct.len() - 1]);
    // The range overflows only for values of opposite sign near the
    // largest float; halving both ends keeps it finite.
    let (shift, span, half) = if (hi - lo).is_finite() {
        (lo, hi - lo, false)
    } else {
        (lo / 2.0, hi / 2.0 - lo / 2.0, true)
    };
    let top = bins - 1;
    let codes = col
        .iter()
        .map(|&v| {
            let v = if half { v / 2.0 } else { v };
            let t = (v - shift) / span * bins as f64;
            // `as` saturates, and t is at least 0.
            (t as usize).min(top) as u32
        })
        .collect();
    (codes, bins)
}

/// One stratum's arms: sizes and outcome sums, then squared deviations.
#[derive(Default, Clone)]
struct Stratum {
    /// Treated units.
    n1: usize,
    /// Controls.
    n0: usize,
    /// `Σ y` over the treated.
    sum1: f64,
    /// `Σ y` over the controls.
    sum0: f64,
    /// `Σ (y − ȳ₁)²` over the treated, filled in a second pass.
    ss1: f64,
    /// `Σ (y − ȳ₀)²` over the controls.
    ss0: f64,
}

impl Stratum {
    fn matched(&self) -> bool {
        self.n1 > 0 && self.n0 > 0
    }

    fn mean1(&self) -> f64 {
        self.sum1 / self.n1 as f64
    }

    fn mean0(&self) -> f64 {
        self.sum0 / self.n0 as f64
    }

    fn effect(&self) -> f64 {
        self.mean1() - self.mean0()
    }
}

impl Estimator for Cem {
    fn estimand(&self) -> Estimand {
        self.estimand.estimand()
    }

    fn fit(&self, data: &Dataset, _seed: u64) -> Result<Estimate> {
        self.validate()?;
        if data.x.ncols() == 0 && data.codes.is_some() {
            return Err(Error::Data(format!(
                "{NAME} needs the covariates' values to coarsen them, and this data holds its \
                 {} as bin codes only (as read for a forest); fit it on the covariates' values",
                plural(data.x_names.len(), "covariate")
            )));
        }
        let treated = binary_treatment(NAME, data)?;
        let n = data.n();
        let n1 = treated.iter().filter(|&&t| t).count();
        check_arms(NAME, n1, n - n1)?;

        let bins = self.bins_for(n);
        let p = data.x.ncols();
        // Each unit's signature, its bins on every covariate: row-major,
        // unit i's at [i * p, (i + 1) * p).
        let mut signatures = vec![0u32; n * p];
        let mut bins_total = 0usize;
        for (j, col) in data.x.columns().into_iter().enumerate() {
            let (codes, used) = coarsen(col, bins);
            bins_total += used;
            for (i, code) in codes.into_iter().enumerate() {
                signatures[i * p + j] = code;
            }
        }
        let bins_mean = if p == 0 {
            0.0
        } else {
            bins_total as f64 / p as f64
        };

        // Strata numbered in order of first appearance; without covariates,
        // one stratum.
        let (stratum_of, count) = if p == 0 {
            (vec![0; n], 1)
        } else {
            let mut ids: HashMap<&[u32], usize> = HashMap::new();
            let of: Vec<usize> = signatures
                .chunks_exact(p)
                .map(|sig| {
                    let next = ids.len();
                    *ids.entry(sig).or_insert(next)
                })
                .collect();
            (of, ids.len())
        };
        let mut strata = vec![Stratum::default(); count];
        let y = &data.y;
        for i in 0..n {
            let s = &mut strata[stratum_of[i]];
            if treated[i] {
                s.n1 += 1;
                s.sum1 += y[i];
            } else {
                s.n0 += 1;
                s.sum0 += y[i];
            }
        }
        let means: Vec<(f64, f64)> = strata
            .iter()
            .map(|s| (s.sum1 / s.n1.max(1) as f64, s.sum0 / s.n0.max(1) as f64))
            .collect();
        for i in 0..n {
            let s = stratum_of[i];
            if treated[i] {
                strata[s].ss1 += (y[i] - means[s].0).powi(2);
            } else {
                strata[s].ss0 += (y[i] - means[s].1).powi(2);
            }
        }

        let matched: Vec<&Stratum> = strata.iter().filter(|s| s.matched()).collect();
        if matched.is_empty() {
            return Err(Error::Estimate(format!(
                "{NAME}: no stratum holds both a treated and a control unit: {} coarsened \
                 into {bins_mean:.1} bins each on average split the {n} units into {} strata, \
                 each with one arm only; use fewer bins (e.g. bins = 3) or fewer covariates \
                 (causim fit --x a,b)",
                plural(p, "covariate"),
                strata.len()
            )));
        }
        let target = |s: &Stratum| match self.estimand {
            MatchTarget::Att => s.n1,
            MatchTarget::Ate => s.n1 + s.n0,
        };
        let total: usize = matched.iter().map(|s| target(s)).sum();
        let t = total as f64;
        let tau = matched
            .iter()
            .map(|s| target(s) as f64 * s.effect())
            .sum::<f64>()
            / t;
        let variance = self.variance(&matched, target, tau, t)?;

        let n1m: usize = matched.iter().map(|s| s.n1).sum();
        let n0m: usize = matched.iter().map(|s| s.n0).sum();
        let treated_dropped = 1.0 - n1m as f64 / n1 as f64;
        let dropped = match self.estimand {
            MatchTarget::Att => treated_dropped,
            MatchTarget::Ate => 1.0 - (n1m + n0m) as f64 / n as f64,
        };
        // CEM's weights, each arm up to scale: the stratum's target units
        // over its units of the arm.
        let weight: Vec<f64> = (0..n)
            .map(|i| {
                let s = &strata[stratum_of[i]];
                if !s.matched() {
                    0.0
                } else if treated[i] {
                    target(s) as f64 / s.n1 as f64
                } else {
                    target(s) as f64 / s.n0 as f64
                }
            })
            .collect();
        let mut estimate = Estimate::normal(self.estimand(), tau, variance.sqrt())
            .with("n_treated", n1 as f64)
            .with("n_control", (n - n1) as f64)
            .with("n_strata", strata.len() as f64)
            .with("matched_strata", matched.len() as f64)
            .with("n_treated_matched", n1m as f64)
            .with("n_control_matched", n0m as f64)
            .with("treated_dropped_share", treated_dropped)
            .with("dropped_share", dropped)
            .with("bins_mean", bins_mean);
        if dropped > WARN_DROPPED {
            let (whom, all) = match self.estimand {
                MatchTarget::Att => ("treated units", "all treated units"),
                MatchTarget::Ate => ("units", "all units"),
            };
            estimate.warnings.push(format!(
                "{NAME} dropped {:.1}% of the {whom}, whose strata lack the other arm: the \
                 estimate is of the matched units' effect, not of {all}; coarser bins (a \
                 smaller `bins`) or fewer covariates keep more units",
                100.0 * dropped
            ));
        }
        Ok(with_balance(estimate, data.x.view(), &treated, &weight))
    }
}

impl Cem {
    /// The estimate's variance over the `matched` strata, each with
    /// `target(s)` target units of `t` in all:
    /// `(1/t²) Σₛ tₛ [(tₛ − 1) vₛ + (τ̂ₛ − τ̂)²]`. An arm with one unit in a
    /// stratum takes its arm's variance pooled within the matched strata.
    fn variance(
        &self,
        matched: &[&Stratum],
        target: impl Fn(&Stratum) -> usize,
        tau: f64,
        t: f64,
    ) -> Result<f64> {
        let pooled = |arm: &dyn Fn(&Stratum) -> (usize, f64)| {
            let (ss, dof) = matched
                .iter()
                .map(|s| arm(s))
                .filter(|&(n, _)| n > 1)
                .fold((0.0, 0usize), |(ss, dof), (n, q)| (ss + q, dof + n - 1));
            (dof > 0).then(|| ss / dof as f64)
        };
        let pooled1 = pooled(&|s| (s.n1, s.ss1));
        let pooled0 = pooled(&|s| (s.n0, s.ss0));
        let mut sum = 0.0;
        for s in matched {
            let ts = target(s) as f64;
            if ts > 1.0 {
                let arm = |n: usize, ss: f64, pooled: Option<f64>, which: &str| {
                    if n > 1 {
                        Ok(ss / (n - 1) as f64 / n as f64)
                    } else {
                        pooled.ok_or_else(|| {
                            Error::Estimate(format!(
                                "{NAME}: every matched stratum holds a single {which} unit, so \
                                 the outcome variance within strata cannot be estimated; use \
                                 fewer bins or fewer covariates"
                            ))
                        })
                    }
                };
                let v =
                    arm(s.n1, s.ss1, pooled1, "treated")? + arm(s.n0, s.ss0, pooled0, "control")?;
                sum += ts * (ts - 1.0) * v;
            }
            sum += ts * (s.effect() - tau).powi(2);
        }
        Ok(sum / (t * t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::linear::DifferenceInMeans;
    use ndarray::{array, Array1, Array2};

    fn data(x: Array2<f64>, w: Array1<f64>, y: Array1<f64>) -> Dataset {
        let names = (1..=x.ncols()).map(|j| format!("x{j}")).collect();
        Dataset::new(y, w, None, x, names).expect("consistent")
    }

    #[test]
    fn cem_sturges_rule_counts_bins() {
        assert_eq!(sturges(1), 1);
        assert_eq!(sturges(2), 2);
        assert_eq!(sturges(1_000), 11);
        assert_eq!(sturges(1_024), 11);
        assert_eq!(sturges(1_025), 12);
    }

    #[test]
    fn cem_coarsens_into_equal_width_bins_and_keeps_few_values_exact() {
        let col = array![0.0, 0.9, 1.0, 2.5, 4.0, 3.99];
        let (codes, bins) = coarsen(col.view(), 4);
        assert_eq!(bins, 4);
        assert_eq!(codes, vec![0, 0, 1, 2, 3, 3]);
        // Three distinct values, at most 4 bins: each value its own bin.
        let col = array![5.0, -1.0, 5.0, 100.0, -0.0, 0.0];
        let col = col.mapv(|v| if v == 100.0 { -1.0 } else { v });
        let (codes, bins) = coarsen(col.view(), 4);
        assert_eq!(bins, 3);
        assert_eq!(codes, vec![2, 0, 2, 0, 1, 1]);
        // A range that overflows still bins.
        let col = array![-1e308, 0.0, 1e308, 0.5e308, -0.6e308];
        let (codes, _) = coarsen(col.view(), 2);
        assert_eq!(codes, vec![0, 1, 1, 1, 0]);
    }

    #[test]
    fn cem_without_covariates_is_the_difference_in_means() {
        let w = array![1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        let y = array![3.0, 5.0, 4.0, 1.0, 2.0, 0.0, 1.0];
        let d = data(Array2::zeros((7, 0)), w, y);
        let naive = DifferenceInMeans::default().fit(&d, 0).expect("fits");
        for estimand in [MatchTarget::Att, MatchTarget::Ate] {
            let est = Cem { bins: 0, estimand }.fit(&d, 0).expect("fits");
            assert!((est.estimate - naive.estimate).abs() < 1e-12);
            assert_eq!(est.diagnostics["n_strata"], 1.0);
            assert_eq!(est.diagnostics["bins_mean"], 0.0);
            // The target units' (T − 1) / T times Neyman's variance.
            let t: f64 = if estimand == MatchTarget::Att {
                3.0
            } else {
                7.0
            };
            let want = naive.se * ((t - 1.0) / t).sqrt();
            assert!((est.se - want).abs() < 1e-12, "{} vs {want}", est.se);
        }
    }

    #[test]
    fn cem_settings_are_checked() {
        assert!(Cem::default().validate().is_ok());
        let msg = Cem {
            bins: 1,
            ..Cem::default()
        }
        .validate()
        .expect_err("one bin")
        .to_string();
        assert!(msg.contains("bins is 1"), "{msg}");
        let msg = Cem {
            bins: MAX_BINS + 1,
            ..Cem::default()
        }
        .validate()
        .expect_err("too many")
        .to_string();
        assert!(msg.contains("it must be at most 1000000"), "{msg}");
    }
}
