//! Doubly robust scores for the average effects of causal and
//! instrumental forests (AIPW, and grf's compliance-weighted IV scores),
//! and the average effect over any set of units from them.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::ensemble::Forest;
use super::grf::{iv_moment, FittedForest, Nuisances, Prediction};
use super::params::ForestParams;
use super::robust::IvParts;
use super::rules::Instrumental;
use crate::core::seed::mix;
use crate::data::binning::Binned;
use crate::data::Clusters;
use crate::{Error, Result};

/// Doubly robust scores for the average effect, with their mean and SE.
#[derive(Debug, Clone)]
pub struct Scores {
    /// One score per training unit; their mean estimates the average effect.
    pub scores: Vec<f64>,
    /// Each training unit's out-of-bag estimated effect of Z on W (before
    /// flooring), for instrumental forests; empty for causal forests.
    pub compliance: Vec<f64>,
    /// The clusters the forest sampled whole, if any: the average's
    /// standard error is then cluster-robust.
    pub clusters: Option<Arc<Clusters>>,
}

impl Scores {
    /// The average effect over all units: the scores' mean and its standard
    /// error (cluster-robust when the forest had clusters).
    pub fn average(&self) -> Option<(f64, f64)> {
        average_over(&self.scores, 0..self.scores.len(), self.clusters.as_deref())
    }
}

/// The average effect over the units `members` of `scores`: their mean and
/// SE, cluster-robust when `clusters` are given ([`clustered_average_effect`],
/// else [`average_effect`]); `None` with fewer than two units or clusters.
pub fn average_over(
    scores: &[f64],
    members: impl IntoIterator<Item = usize>,
    clusters: Option<&Clusters>,
) -> Option<(f64, f64)> {
    let members = members.into_iter();
    match clusters {
        Some(c) => clustered_average_effect(members.map(|i| (scores[i], c.of(i)))),
        None => average_effect(members.map(|i| &scores[i])),
    }
}

/// The average effect over a set of units (all of them, or a group such as
/// a diagnosis): the mean of their doubly robust scores and its standard
/// error; `None` for fewer than two units.
pub fn average_effect<'a>(scores: impl IntoIterator<Item = &'a f64>) -> Option<(f64, f64)> {
    let chosen: Vec<f64> = scores.into_iter().copied().collect();
    let n = chosen.len();
    if n < 2 {
        return None;
    }
    let mean = chosen.iter().sum::<f64>() / n as f64;
    let var = chosen.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    Some((mean, (var / n as f64).sqrt()))
}

/// The average effect over a set of units from `(score, cluster)` pairs:
/// the scores' mean and grf's cluster-robust standard error,
/// `sqrt(G / (G - 1) * sum_c (sum_{i in c} (psi_i - mean))^2) / n` over the
/// `G` clusters present; `None` with fewer than two clusters.
pub fn clustered_average_effect(
    scores: impl IntoIterator<Item = (f64, usize)>,
) -> Option<(f64, f64)> {
    let chosen: Vec<(f64, usize)> = scores.into_iter().collect();
    let n = chosen.len() as f64;
    let mean = chosen.iter().map(|(s, _)| s).sum::<f64>() / n;
    // Ordered by cluster, so the sum of squares is the same in every run.
    let mut sums: BTreeMap<usize, f64> = BTreeMap::new();
    for &(s, c) in &chosen {
        *sums.entry(c).or_insert(0.0) += s - mean;
    }
    let g = sums.len() as f64;
    if sums.len() < 2 {
        return None;
    }
    let squares: f64 = sums.values().map(|s| s * s).sum();
    Some((mean, (g / (g - 1.0) * squares).sqrt() / n))
}

fn binary(v: &[f64], what: &str) -> Result<()> {
    match v.iter().position(|a| *a != 0.0 && *a != 1.0) {
        Some(i) => Err(Error::Estimate(format!(
            "the average effect needs a binary 0/1 {what}; found {} at row {}",
            v[i],
            i + 1
        ))),
        None => Ok(()),
    }
}

/// Propensities this close to 0 or 1 are clipped in the score weights.
const OVERLAP: f64 = 1e-3;

/// AIPW scores of a causal forest: `tau(x) + (W - e)/(e(1 - e)) (Y - m - (W - e) tau(x))`,
/// averaged with cluster-robust errors when `clusters` are given.
pub fn aipw_scores(
    (y, w): (&[f64], &[f64]),
    n: &Nuisances,
    tau: &[Prediction],
    clusters: Option<Arc<Clusters>>,
) -> Result<Scores> {
    binary(w, "treatment")?;
    let scores = (0..y.len())
        .map(|i| {
            let e = n.w_hat[i].clamp(OVERLAP, 1.0 - OVERLAP);
            let residual = y[i] - (n.y_hat[i] + tau[i].tau * (w[i] - n.w_hat[i]));
            tau[i].tau + (w[i] - n.w_hat[i]) / (e * (1.0 - e)) * residual
        })
        .collect();
    Ok(Scores {
        scores,
        compliance: Vec::new(),
        clusters,
    })
}

/// Smallest magnitude of a unit's estimated effect of Z on W in the doubly
/// robust IV scores (a departure from grf, which does not floor it).
pub const MIN_COMPLIANCE: f64 = 0.01;

/// Doubly robust scores of an instrumental forest (grf's compliance-score
/// construction, after Aronow and Carnegie): the debiasing weight is
/// `(Z - z_hat) / (z_hat (1 - z_hat)) / delta(x)`, with `delta(x)` the effect
/// of Z on W from an auxiliary causal forest.
pub fn iv_scores(
    fitted: &FittedForest,
    data: (&[f64], &[f64], &[f64]),
    tau: &[Prediction],
    params: &ForestParams,
    seed: u64,
) -> Result<Scores> {
    let (y, w, z) = data;
    let n = &fitted.nuisances;
    binary(z, "instrument")?;
    let clusters = fitted.clusters.as_deref();
    let compliance = compliance_scores(&fitted.binned, (w, z), n, params, clusters, seed)?;
    let missing = compliance.iter().filter(|c| !c.is_finite()).count();
    if missing > 0 {
        return Err(Error::Estimate(format!(
            "the compliance forest has no out-of-bag estimate for {missing} units; use more trees"
        )));
    }
    let tau: Vec<f64> = tau.iter().map(|p| p.tau).collect();
    let parts = IvParts {
        y,
        w,
        z,
        nuisances: n,
        tau: &tau,
        compliance: &compliance,
        itt: None,
        clusters,
    };
    // grf divides by the compliance score as it comes; near zero (a weak
    // instrument, or noise crossing zero) one unit's weight would dominate
    // the average, so its magnitude is floored at MIN_COMPLIANCE.
    let scores = parts.scores(MIN_COMPLIANCE);
    Ok(Scores {
        scores,
        compliance,
        clusters: fitted.clusters.clone(),
    })
}

/// Out-of-bag effect of Z on W: a causal forest of W on Z centered by the
/// nuisances already fitted.
fn compliance_scores(
    binned: &Binned,
    (w, z): (&[f64], &[f64]),
    n: &Nuisances,
    params: &ForestParams,
    clusters: Option<&Clusters>,
    seed: u64,
) -> Result<Vec<f64>> {
    effect_of_z(
        binned,
        (w, &n.w_hat),
        (z, &n.z_hat),
        params,
        clusters,
        mix(seed ^ 5),
    )
}

/// Out-of-bag intention-to-treat effects, the effect of Z on Y at each
/// training unit: a causal forest of Y on Z centered by the fitted
/// nuisances, sized like the compliance forest. The doubly robust Wald ratio
/// uses it as its outcome model, so that it never multiplies the noisy
/// local ratio tau(x) back by a compliance score.
pub fn intention_to_treat(
    fitted: &FittedForest,
    (y, z): (&[f64], &[f64]),
    params: &ForestParams,
    seed: u64,
) -> Result<Vec<f64>> {
    let n = &fitted.nuisances;
    let clusters = fitted.clusters.as_deref();
    let itt = effect_of_z(
        &fitted.binned,
        (y, &n.y_hat),
        (z, &n.z_hat),
        params,
        clusters,
        mix(seed ^ 6),
    )?;
    match itt.iter().filter(|v| !v.is_finite()).count() {
        0 => Ok(itt),
        missing => Err(Error::Estimate(format!(
            "the intention-to-treat forest has no out-of-bag estimate for {missing} units; use more trees"
        ))),
    }
}

/// Out-of-bag effect of Z on `target` from a causal forest of the centered
/// target on the centered instrument (grf trains such auxiliary forests
/// with 500 trees next to a 2,000-tree forest: a quarter, as for the
/// nuisances, rounded to whole little bags).
fn effect_of_z(
    binned: &Binned,
    (target, target_hat): (&[f64], &[f64]),
    (z, z_hat): (&[f64], &[f64]),
    params: &ForestParams,
    clusters: Option<&Clusters>,
    seed: u64,
) -> Result<Vec<f64>> {
    let trees = params.nuisance().num_trees;
    let aux = ForestParams {
        num_trees: (trees - trees % params.ci_group_size).max(params.ci_group_size),
        ..params.clone()
    };
    let tc: Vec<f64> = target.iter().zip(target_hat).map(|(a, b)| a - b).collect();
    let zc: Vec<f64> = z.iter().zip(z_hat).map(|(a, b)| a - b).collect();
    let rule = Instrumental::causal(&tc, &zc);
    let forest = Forest::train(binned, rule, &aux, clusters, seed)?;
    let group = forest.group_size();
    Ok(forest.map_points(binned, true, |v| iv_moment(v, group).tau))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn predictions(tau: f64, n: usize) -> Vec<Prediction> {
        vec![
            Prediction {
                tau,
                variance: f64::NAN,
            };
            n
        ]
    }

    #[test]
    fn average_effect_is_the_mean_with_its_standard_error() {
        let (mean, se) = average_effect(&[1.0, 2.0, 3.0, 6.0]).expect("enough units");
        assert_eq!(mean, 3.0);
        // Sample variance 14 / 3 over 4 units.
        assert!((se - (14.0_f64 / 3.0 / 4.0).sqrt()).abs() < 1e-12, "{se}");
        assert!(average_effect(&[1.0]).is_none());
    }

    #[test]
    fn clustered_standard_errors_add_up_residuals_within_clusters() {
        // Two clusters whose residuals cancel inside: a zero clustered SE.
        let cancel = [(1.0, 0), (3.0, 0), (1.0, 1), (3.0, 1)];
        assert_eq!(clustered_average_effect(cancel), Some((2.0, 0.0)));
        // Residuals -1, -1, +1, +1 in two clusters: sqrt(2/1 * (4 + 4)) / 4 = 1.
        let (mean, se) = clustered_average_effect([(1.0, 0), (1.0, 0), (3.0, 1), (3.0, 1)])
            .expect("two clusters");
        assert_eq!((mean, se), (2.0, 1.0));
        assert!(clustered_average_effect([(1.0, 4), (5.0, 4)]).is_none());
    }

    #[test]
    fn aipw_scores_recover_the_effect_with_a_wrong_effect_model() {
        // Y = m(x) + 1.5 W, a fair coin for W, E[Y|X] known: the scores are
        // 1.5 at every unit although the forest's effect is taken to be 0.
        let m = [0.3, -1.0, 2.0, 0.5];
        let w = [1.0, 0.0, 0.0, 1.0];
        let y: Vec<f64> = m.iter().zip(&w).map(|(a, b)| a + 1.5 * b).collect();
        let nuisances = Nuisances {
            y_hat: m.iter().map(|a| a + 0.75).collect(),
            w_hat: vec![0.5; 4],
            z_hat: vec![0.5; 4],
        };
        let scores = aipw_scores((&y, &w), &nuisances, &predictions(0.0, 4), None).expect("scores");
        for s in &scores.scores {
            assert!((s - 1.5).abs() < 1e-12, "{s}");
        }
        assert!(aipw_scores((&y, &[0.5; 4]), &nuisances, &predictions(0.0, 4), None).is_err());
    }

    #[test]
    fn iv_scores_average_to_the_effect_among_compliers() {
        // Half the units comply (W = Z) and half never take: the effect of Z
        // on W is 0.5 and the Wald ratio of (ITT 0.5 tau) / 0.5 is tau = 2.
        let (tau, m) = (2.0, 1.0);
        let z = [1.0, 1.0, 0.0, 0.0];
        let w = [1.0, 0.0, 0.0, 0.0];
        let y: Vec<f64> = w.iter().map(|b| m + tau * b).collect();
        let nuisances = Nuisances {
            y_hat: vec![m + tau * 0.25; 4],
            w_hat: vec![0.25; 4],
            z_hat: vec![0.5; 4],
        };
        let scores = |compliance: &[f64], floor: f64| {
            let parts = IvParts {
                y: &y,
                w: &w,
                z: &z,
                nuisances: &nuisances,
                tau: &[0.0; 4],
                compliance,
                itt: None,
                clusters: None,
            };
            parts.scores(floor)
        };
        let (mean, _) = average_effect(&scores(&[0.5; 4], MIN_COMPLIANCE)).expect("enough units");
        assert!((mean - tau).abs() < 1e-12, "{mean}");
        // A compliance near zero is floored, not divided by.
        let tiny = scores(&[1e-9; 4], MIN_COMPLIANCE);
        assert_eq!(tiny, scores(&[MIN_COMPLIANCE; 4], MIN_COMPLIANCE));
        assert!(scores(&[1e-9; 4], 1e-12)[0].abs() > 1e6 * tiny[0].abs());
    }
}
