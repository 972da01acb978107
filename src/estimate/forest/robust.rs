//! Doubly robust averages of an instrumental forest that cannot blow up,
//! beside grf's. grf's average divides each unit's residual by the unit's
//! own estimated compliance; with a weak instrument those estimates are
//! noise around a small mean, a few land near zero, and the average rests
//! on them. The alternatives here bound that division (a compliance floor
//! chosen by a stated rule), or divide once by a pooled first stage (the
//! doubly robust Wald ratio, trimmed or not, and the partialled-out Wald).
//! Each names its estimand: trimming and weighting change the population
//! the average describes, and [`Target::truth`] computes the truth of
//! exactly that population.

use super::grf::{FittedForest, Nuisances, Prediction};
use super::params::ForestParams;
use super::scores::{average_over, intention_to_treat, MIN_COMPLIANCE};
use crate::data::Clusters;
use crate::{Error, Result};

/// Instrument propensities this close to 0 or 1 are clipped in the score
/// weights (as in the forests' own scores).
const OVERLAP: f64 = 1e-3;

/// grf divides by the compliance as it comes; here too, floored only at a
/// magnitude that guards against an exact zero.
pub const NO_FLOOR: f64 = 1e-12;

/// The trimmed averages keep units whose estimated instrument propensity
/// lies in `[TRIM, 1 - TRIM]`: Crump, Hotz, Imbens and Mitnik's (2009)
/// rule of thumb of 0.1.
pub const TRIM: f64 = 0.1;

/// What the doubly robust IV averages need of each training unit.
#[derive(Debug, Clone, Copy)]
pub struct IvParts<'a> {
    /// Outcomes.
    pub y: &'a [f64],
    /// Treatments (0/1).
    pub w: &'a [f64],
    /// Instruments (0/1).
    pub z: &'a [f64],
    /// Out-of-bag E[Y|X], E[W|X] and E[Z|X].
    pub nuisances: &'a Nuisances,
    /// Out-of-bag effects tau(x).
    pub tau: &'a [f64],
    /// Out-of-bag compliance scores: the effect of Z on W at each unit.
    pub compliance: &'a [f64],
    /// Out-of-bag intention-to-treat effects, the effect of Z on Y at each
    /// unit, where fitted: the doubly robust Wald ratio needs them.
    pub itt: Option<&'a [f64]>,
    /// Clusters for cluster-robust standard errors, if any.
    pub clusters: Option<&'a Clusters>,
}

/// An instrumental forest's out-of-bag pieces that its doubly robust
/// averages and diagnostics are built from, owned, so that one fit of the
/// intention-to-treat forest serves every average: the effects, the
/// compliance scores and the intention-to-treat effects at the training units.
#[derive(Debug, Clone)]
pub struct IvPieces {
    /// Out-of-bag effects tau(x).
    pub tau: Vec<f64>,
    /// Out-of-bag compliance scores.
    pub compliance: Vec<f64>,
    /// Out-of-bag intention-to-treat effects.
    pub itt: Vec<f64>,
}

impl IvPieces {
    /// The pieces of `fitted` (trained on `y`, instrument `z`): its
    /// out-of-bag effects `oob`, the compliance scores already computed
    /// with them, and an intention-to-treat forest fitted here.
    pub fn fit(
        fitted: &FittedForest,
        (y, z): (&[f64], &[f64]),
        (oob, compliance): (&[Prediction], Vec<f64>),
        params: &ForestParams,
        seed: u64,
    ) -> Result<Self> {
        Ok(IvPieces {
            tau: oob.iter().map(|p| p.tau).collect(),
            compliance,
            itt: intention_to_treat(fitted, (y, z), params, seed)?,
        })
    }

    /// The averages' inputs: these pieces with `fitted`'s nuisances and
    /// clusters, on its training data `(y, w, z)`.
    pub fn parts<'a>(
        &'a self,
        fitted: &'a FittedForest,
        (y, w, z): (&'a [f64], &'a [f64], &'a [f64]),
    ) -> IvParts<'a> {
        IvParts {
            y,
            w,
            z,
            nuisances: &fitted.nuisances,
            tau: &self.tau,
            compliance: &self.compliance,
            itt: Some(&self.itt),
            clusters: fitted.clusters.as_deref(),
        }
    }
}

impl IvParts<'_> {
    fn n(&self) -> usize {
        self.y.len()
    }

    /// The clipped instrument propensity of unit `i`.
    fn e(&self, i: usize) -> f64 {
        self.nuisances.z_hat[i].clamp(OVERLAP, 1.0 - OVERLAP)
    }

    fn zc(&self, i: usize) -> f64 {
        self.z[i] - self.nuisances.z_hat[i]
    }

    fn wc(&self, i: usize) -> f64 {
        self.w[i] - self.nuisances.w_hat[i]
    }

    fn yc(&self, i: usize) -> f64 {
        self.y[i] - self.nuisances.y_hat[i]
    }

    /// The doubly robust weight `(Z - z_hat) / (z_hat (1 - z_hat))` before
    /// any division by compliance.
    fn ipw(&self, i: usize) -> f64 {
        self.zc(i) / (self.e(i) * (1.0 - self.e(i)))
    }

    /// The mean and (cluster-robust, when clustered) SE of per-unit values
    /// over the units `kept`.
    fn mean_se(&self, values: &[f64], kept: &[usize]) -> Option<(f64, f64)> {
        average_over(values, kept.iter().copied(), self.clusters)
    }

    /// The pooled first stage on the partialled-out data:
    /// `sum (W - w_hat)(Z - z_hat) / sum (Z - z_hat)^2`.
    pub fn pooled_first_stage(&self) -> f64 {
        let (mut wz, mut zz) = (0.0, 0.0);
        for i in 0..self.n() {
            wz += self.wc(i) * self.zc(i);
            zz += self.zc(i) * self.zc(i);
        }
        wz / zz
    }

    /// grf's doubly robust scores with the compliance magnitude floored at
    /// `floor`: `tau(x) + weight (Y - y_hat - tau(x) (W - w_hat))`, with
    /// `weight = (Z - z_hat) / (z_hat (1 - z_hat)) / delta(x)`.
    pub fn scores(&self, floor: f64) -> Vec<f64> {
        (0..self.n())
            .map(|i| self.tau[i] + self.dr_weight(i, floor) * self.residual(i))
            .collect()
    }

    /// Unit `i`'s doubly robust weight with the compliance floored at `floor`.
    pub fn dr_weight(&self, i: usize, floor: f64) -> f64 {
        let c = self.compliance[i];
        let floored = if c.abs() < floor {
            floor.copysign(c)
        } else {
            c
        };
        self.ipw(i) / floored
    }

    /// The residual `Y - y_hat - tau(x) (W - w_hat)`.
    fn residual(&self, i: usize) -> f64 {
        self.y[i] - (self.nuisances.y_hat[i] + self.tau[i] * self.wc(i))
    }
}

/// The population and weights an average describes, so that its truth can
/// be computed on the same units: `sum_i k_i h_i d_i tau_i / sum_i k_i h_i d_i`
/// with `k` the kept units, `h` the weights and `d` the true compliance
/// (1 for compliers, -1 for defiers, 0 otherwise) when compliance-weighted.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The units the average keeps (all when `None`).
    pub kept: Option<Vec<bool>>,
    /// Per-unit weights (equal when `None`).
    pub weight: Option<Vec<f64>>,
    /// Whether units count by their compliance (a LATE) or equally (an
    /// average of conditional effects).
    pub compliers: bool,
}

impl Target {
    /// The truth of this estimand from the units' true effects and, for
    /// compliance-weighted targets, their true compliance; `None` when the
    /// weights sum to zero or the compliance is unknown.
    pub fn truth(&self, tau: &[f64], compliance: Option<&[f64]>) -> Option<f64> {
        let (mut num, mut den) = (0.0, 0.0);
        for (i, &t) in tau.iter().enumerate() {
            if self.kept.as_ref().is_some_and(|k| !k[i]) {
                continue;
            }
            let h = self.weight.as_ref().map_or(1.0, |h| h[i]);
            let d = if self.compliers { compliance?[i] } else { 1.0 };
            num += h * d * t;
            den += h * d;
        }
        (den != 0.0).then(|| num / den)
    }
}

/// One doubly robust average: which, what it estimates, its value and SE.
#[derive(Debug, Clone, PartialEq)]
pub struct RobustAverage {
    /// Short stable name, e.g. `dr_wald`.
    pub key: &'static str,
    /// How it is computed, for a table row.
    pub label: String,
    /// What it estimates, in words.
    pub estimand: &'static str,
    /// The estimate.
    pub estimate: f64,
    /// Its standard error (cluster-robust when clustered).
    pub se: f64,
    /// Units it averages over.
    pub units: usize,
    /// The population it describes, for its truth.
    pub target: Target,
}

/// The average of conditional local effects over all units.
const ACLATE: &str = "the average over patients of the conditional local effect tau(x)";

/// The averages side by side: grf's (no floor), causim's fixed floor, a
/// floor at half the pooled first stage, the doubly robust Wald ratio (all
/// units, and trimmed to `[TRIM, 1 - TRIM]`), and the partialled-out Wald.
pub fn robust_averages(parts: &IvParts<'_>) -> Result<Vec<RobustAverage>> {
    let n = parts.n();
    if n < 2 {
        return Err(Error::Estimate(
            "too few units for an average effect".into(),
        ));
    }
    let all: Vec<usize> = (0..n).collect();
    let pooled = parts.pooled_first_stage();
    if !pooled.is_finite() || pooled.abs() < NO_FLOOR {
        return Err(Error::Estimate(
            "the instrument does not move the treatment once the covariates are partialled out"
                .into(),
        ));
    }
    let everyone = Target {
        kept: None,
        weight: None,
        compliers: false,
    };
    let mut out = Vec::new();
    let floors = [
        (
            "grf",
            "grf's doubly robust average (compliance not floored)".to_string(),
            NO_FLOOR,
        ),
        (
            "floor_fixed",
            format!("compliance floored at {MIN_COMPLIANCE} (causim's forest scores)"),
            MIN_COMPLIANCE,
        ),
        (
            "floor_half_pooled",
            "compliance floored at half the pooled first stage".to_string(),
            pooled.abs() / 2.0,
        ),
    ];
    for (key, label, floor) in floors {
        let scores = parts.scores(floor);
        if let Some((estimate, se)) = parts.mean_se(&scores, &all) {
            out.push(RobustAverage {
                key,
                label,
                estimand: ACLATE,
                estimate,
                se,
                units: n,
                target: everyone.clone(),
            });
        }
    }
    let trimmed: Vec<bool> = parts
        .nuisances
        .z_hat
        .iter()
        .map(|e| (TRIM..=1.0 - TRIM).contains(e))
        .collect();
    let kept: Vec<usize> = (0..n).filter(|&i| trimmed[i]).collect();
    out.extend(dr_wald(parts, &all, None, "dr_wald"));
    out.extend(dr_wald(parts, &kept, Some(trimmed), "dr_wald_trimmed"));
    out.extend(partialled_out_wald(parts));
    Ok(out)
}

/// The doubly robust Wald ratio over the units `kept`, with its SE: the
/// mean of the intention-to-treat scores
/// `itt + ipw (Y - y_hat - itt (Z - z_hat))` over the mean of the
/// first-stage scores `delta + ipw (W - w_hat - delta (Z - z_hat))`, with
/// `ipw = (Z - z_hat) / (z_hat (1 - z_hat))` (the interactive IV model of
/// double/debiased ML on the forest's pieces). It divides once, by a pooled
/// first stage, and estimates the LATE of the kept units; `None` without
/// intention-to-treat effects, for fewer than two units (or clusters) or a
/// zero first stage.
pub fn dr_wald_ratio(parts: &IvParts<'_>, kept: &[usize]) -> Option<(f64, f64)> {
    let n = parts.n();
    let effect = parts.itt?;
    let mut itt = vec![0.0; n];
    let mut first = vec![0.0; n];
    for &i in kept {
        let (delta, ipw) = (parts.compliance[i], parts.ipw(i));
        itt[i] = effect[i] + ipw * (parts.yc(i) - effect[i] * parts.zc(i));
        first[i] = delta + ipw * (parts.wc(i) - delta * parts.zc(i));
    }
    let m = kept.len() as f64;
    let mean_first = kept.iter().map(|&i| first[i]).sum::<f64>() / m;
    let theta = kept.iter().map(|&i| itt[i]).sum::<f64>() / m / mean_first;
    if !theta.is_finite() {
        return None;
    }
    let influence: Vec<f64> = (0..n)
        .map(|i| (itt[i] - theta * first[i]) / mean_first)
        .collect();
    let (_, se) = parts.mean_se(&influence, kept)?;
    Some((theta, se))
}

/// [`dr_wald_ratio`] as one of the side-by-side averages, over all units
/// or (with `trimmed`) the units it marks.
fn dr_wald(
    parts: &IvParts<'_>,
    kept: &[usize],
    trimmed: Option<Vec<bool>>,
    key: &'static str,
) -> Option<RobustAverage> {
    let (estimate, se) = dr_wald_ratio(parts, kept)?;
    let (label, estimand) = match &trimmed {
        None => (
            "doubly robust Wald ratio (divides once, by the pooled first stage)",
            "the LATE: the effect on patients whose placement the instrument moves",
        ),
        Some(_) => (
            "doubly robust Wald ratio, patients with instrument propensity in [0.1, 0.9]",
            "the LATE of the patients with estimated instrument propensity in [0.1, 0.9]",
        ),
    };
    Some(RobustAverage {
        key,
        label: label.into(),
        estimand,
        estimate,
        se,
        units: kept.len(),
        target: Target {
            kept: trimmed,
            weight: None,
            compliers: true,
        },
    })
}

/// The partially linear IV estimate on the forest's nuisances:
/// `sum (Y - y_hat)(Z - z_hat) / sum (W - w_hat)(Z - z_hat)`, with the SE of
/// its orthogonal score. It weights each unit's effect by its compliance
/// and by the instrument's conditional variance `z_hat (1 - z_hat)`.
fn partialled_out_wald(parts: &IvParts<'_>) -> Option<RobustAverage> {
    let n = parts.n();
    let len = n as f64;
    let jacobian = (0..n).map(|i| parts.wc(i) * parts.zc(i)).sum::<f64>() / len;
    let theta = (0..n).map(|i| parts.yc(i) * parts.zc(i)).sum::<f64>() / len / jacobian;
    if !theta.is_finite() {
        return None;
    }
    let influence: Vec<f64> = (0..n)
        .map(|i| (parts.yc(i) - theta * parts.wc(i)) * parts.zc(i) / jacobian)
        .collect();
    let all: Vec<usize> = (0..n).collect();
    let (_, se) = parts.mean_se(&influence, &all)?;
    let weight = parts
        .nuisances
        .z_hat
        .iter()
        .map(|e| e * (1.0 - e))
        .collect();
    Some(RobustAverage {
        key: "partialled_out_wald",
        label: "partialled-out Wald (the partially linear IV model on the forest's nuisances)"
            .into(),
        estimand: "the LATE weighted by the instrument's conditional variance z_hat (1 - z_hat)",
        estimate: theta,
        se,
        units: n,
        target: Target {
            kept: None,
            weight: Some(weight),
            compliers: true,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::super::scores::average_effect;
    use super::*;

    /// Half the units comply (W = Z) and half never take: the effect of Z on
    /// W is 0.5, on Y 0.5 tau, and the LATE is tau = 2; the nuisances are exact.
    fn world() -> ([f64; 4], [f64; 4], [f64; 4], Nuisances) {
        let (tau, m) = (2.0, 1.0);
        let z = [1.0, 1.0, 0.0, 0.0];
        let w = [1.0, 0.0, 0.0, 0.0];
        let y = w.map(|b| m + tau * b);
        let nuisances = Nuisances {
            y_hat: vec![m + tau * 0.25; 4],
            w_hat: vec![0.25; 4],
            z_hat: vec![0.5; 4],
        };
        (y, w, z, nuisances)
    }

    #[test]
    fn the_wald_ratio_recovers_the_late_even_where_compliance_scores_are_near_zero() {
        let (y, w, z, nuisances) = world();
        let parts = |compliance: &'static [f64]| IvParts {
            y: &y,
            w: &w,
            z: &z,
            nuisances: &nuisances,
            tau: &[2.0; 4],
            compliance,
            itt: Some(&[1.0; 4]),
            clusters: None,
        };
        let all = [0, 1, 2, 3];
        let (good, _) = dr_wald_ratio(&parts(&[0.5; 4]), &all).expect("ratio");
        assert!((good - 2.0).abs() < 1e-12, "{good}");
        // Compliance scores of 1e-9 wreck grf's average (once its effect
        // model is off, here zero) but not the ratio.
        let tiny = IvParts {
            tau: &[0.0; 4],
            ..parts(&[1e-9; 4])
        };
        let (ratio, _) = dr_wald_ratio(&tiny, &all).expect("ratio");
        assert!((ratio - 2.0).abs() < 1e-6, "{ratio}");
        let grf = average_effect(&tiny.scores(NO_FLOOR)).expect("mean").0;
        assert!(grf.abs() > 1e6, "{grf}");
        assert!(dr_wald_ratio(&IvParts { itt: None, ..tiny }, &all).is_none());
        // The pooled first stage: sum (W - w_hat)(Z - z_hat) / sum (Z - z_hat)^2.
        assert!((tiny.pooled_first_stage() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn every_average_names_a_target_whose_truth_is_its_own_population() {
        let tau = [1.0, 2.0, 3.0, 10.0];
        let compliance = [1.0, 1.0, -1.0, 0.0];
        let everyone = Target {
            kept: None,
            weight: None,
            compliers: false,
        };
        assert_eq!(everyone.truth(&tau, None), Some(4.0));
        // Compliers less defiers: (1 + 2 - 3) / (1 + 1 - 1).
        let late = Target {
            compliers: true,
            ..everyone.clone()
        };
        assert_eq!(late.truth(&tau, Some(&compliance)), Some(0.0));
        assert_eq!(late.truth(&tau, None), None);
        let trimmed = Target {
            kept: Some(vec![true, true, false, true]),
            ..late.clone()
        };
        assert_eq!(trimmed.truth(&tau, Some(&compliance)), Some(1.5));
        let weighted = Target {
            weight: Some(vec![3.0, 1.0, 1.0, 1.0]),
            ..late
        };
        assert_eq!(weighted.truth(&tau, Some(&compliance)), Some(2.0 / 3.0));
    }

    #[test]
    fn the_side_by_side_averages_agree_on_exact_pieces() {
        let (y, w, z, nuisances) = world();
        let parts = IvParts {
            y: &y,
            w: &w,
            z: &z,
            nuisances: &nuisances,
            tau: &[2.0; 4],
            compliance: &[0.5; 4],
            itt: Some(&[1.0; 4]),
            clusters: None,
        };
        let averages = robust_averages(&parts).expect("averages");
        let keys: Vec<&str> = averages.iter().map(|a| a.key).collect();
        assert_eq!(
            keys,
            [
                "grf",
                "floor_fixed",
                "floor_half_pooled",
                "dr_wald",
                "dr_wald_trimmed",
                "partialled_out_wald"
            ]
        );
        for a in &averages {
            assert!((a.estimate - 2.0).abs() < 1e-9, "{}: {}", a.key, a.estimate);
        }
    }
}
