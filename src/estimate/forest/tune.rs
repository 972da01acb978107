//! Honest tuning of a causal or instrumental forest's `min_node_size`,
//! `sample_fraction` and `mtry` by out-of-bag error, after grf's
//! `tune.parameters`: small forests at random draws of the three, each
//! judged by a debiased out-of-bag loss, the best refitted beside the
//! defaults on fresh seeds, and the winner kept.
//!
//! The loss is where causim departs from grf. grf scores an instrumental
//! forest by the squared residual of the *reduced form* (the effect of the
//! instrument on the outcome), which ranks settings by how well they
//! predict the ITT, not the local effect the forest reports. causim scores
//! each setting by a doubly robust loss of the effect itself:
//!
//! `L(τ̂) = mean_i (Γ_i − τ̂(x_i))² − V_i`,
//! `Γ_i = τ_ref(x_i) + (ỹ_i − τ_ref(x_i) w̃_i) z̃_i / C(x_i)`,
//!
//! with ỹ, w̃, z̃ the centered data, τ_ref and the local first stage
//! `C(x) = Cov(w, z | x)` the default forest's out-of-bag estimates, τ̂ the
//! candidate's out-of-bag predictions and `V_i` their leave-one-tree-out
//! jackknife variance (the Monte Carlo error of a small forest, subtracted
//! as grf does). Because `E[Γ | x] = τ(x)` when either τ_ref or C is right
//! and τ̂ is out of bag, `L` differs from the mean squared error of τ̂
//! against the truth by a constant common to all settings, so the setting
//! with the smallest loss is the one expected to estimate the effects
//! best. For a causal forest (`z = w`), `Γ` is the R-learner's pseudo-outcome.
//! The surrogate grf fits to the losses (a kriging model) is left out:
//! the draws are compared as measured.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::ensemble::LeafValues;
use super::grf::{grow_forest, IvSolution};
use super::params::ForestParams;
use super::rules::Instrumental;
use crate::core::seed::mix;
use crate::data::binning::Binned;
use crate::data::Clusters;
use crate::Result;

/// Fewest out-of-bag trees a unit's small-forest prediction may rest on
/// before the unit is left out of the loss (grf's cutoff: a ratio of a
/// handful of trees is too unstable to judge).
const FEW_TREES: usize = 5;

/// Smallest local first stage used in the pseudo-outcomes, as a share of
/// its mean: one unit whose neighbourhood barely moves with the instrument
/// would otherwise dominate the loss.
const FIRST_STAGE_FLOOR: f64 = 0.2;

/// What tuning chose and why: the settings, and the out-of-bag losses of
/// the chosen and the default settings in the final comparison with the
/// standard error of their difference.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    /// The settings the forest was grown with.
    pub params: ForestParams,
    /// Whether the best draw beat the defaults clearly enough to replace
    /// them (`false`: the defaults were kept).
    pub tuned: bool,
    /// Debiased out-of-bag loss of the best draw, regrown.
    pub loss: f64,
    /// Debiased out-of-bag loss of the default settings, on the same units.
    pub default_loss: f64,
    /// Standard error of the paired difference of the two losses (a draw
    /// replaces the defaults only when it wins by two of them).
    pub difference_se: f64,
    /// Settings drawn and judged (the defaults not counted).
    pub draws: usize,
}

/// One unit's out-of-bag effect from a small forest, its local first
/// stage, and the jackknife estimate of its Monte Carlo variance.
#[derive(Debug, Clone, Copy)]
struct Oob {
    tau: f64,
    first_stage: f64,
    jackknife: f64,
}

/// A unit's out-of-bag prediction from its trees' leaf values (means of y,
/// w, z, yz, wz), or `None` on too few trees or a degenerate moment.
fn oob_unit(values: &LeafValues<'_>) -> Option<Oob> {
    let mut sum = [0.0; 5];
    let mut trees = 0usize;
    for v in values.iter().flatten() {
        for (s, x) in sum.iter_mut().zip(v.iter()) {
            *s += x;
        }
        trees += 1;
    }
    if trees <= FEW_TREES {
        return None;
    }
    let t = trees as f64;
    let avg = sum.map(|s| s / t);
    let full = IvSolution::new(&avg);
    let mut jackknife = 0.0;
    for v in values.iter().flatten() {
        let mut out = [0.0; 5];
        for ((o, s), x) in out.iter_mut().zip(&sum).zip(v.iter()) {
            *o = (s - x) / (t - 1.0);
        }
        jackknife += (IvSolution::new(&out).tau - full.tau).powi(2);
    }
    let jackknife = jackknife * (t - 1.0) / t;
    (full.tau.is_finite() && jackknife.is_finite()).then_some(Oob {
        tau: full.tau,
        first_stage: full.first_stage,
        jackknife,
    })
}

/// A small forest's out-of-bag predictions at every training unit.
fn small_forest(
    x: &Binned,
    rule: Instrumental<'_>,
    params: &ForestParams,
    clusters: Option<&Clusters>,
    seed: u64,
) -> Result<Vec<Option<Oob>>> {
    let forest = grow_forest(x, rule, params, clusters, seed)?;
    Ok(forest.map_points(x, true, oob_unit))
}

/// One unit's debiased loss: the squared distance of its out-of-bag
/// effect from its pseudo-outcome `gamma`, less the effect's Monte Carlo variance.
fn unit_loss(gamma: f64, o: &Oob) -> f64 {
    (gamma - o.tau).powi(2) - o.jackknife
}

/// The debiased loss of `candidate` against the pseudo-outcomes `gamma`,
/// over the units where both are defined; `None` when fewer than half the
/// units are.
fn loss(gamma: &[Option<f64>], candidate: &[Option<Oob>]) -> Option<f64> {
    let (mut total, mut used) = (0.0, 0usize);
    for (g, c) in gamma.iter().zip(candidate) {
        if let (Some(g), Some(c)) = (g, c) {
            total += unit_loss(*g, c);
            used += 1;
        }
    }
    (used * 2 >= gamma.len()).then(|| total / used as f64)
}

/// How many standard errors of the paired loss difference a drawn setting
/// must win by to replace the given settings: a draw that only ties them
/// (within noise) keeps the defaults.
const MARGIN: f64 = 2.0;

/// Two settings' losses on the units where both (and the pseudo-outcome)
/// are defined, and the standard error of their difference.
#[derive(Debug, Clone, Copy)]
struct Comparison {
    loss: f64,
    default_loss: f64,
    difference_se: f64,
}

/// Compares a candidate's out-of-bag effects with the defaults' unit by
/// unit (a paired difference, far less noisy than either loss); `None`
/// when fewer than half the units have both.
fn compare(
    gamma: &[Option<f64>],
    candidate: &[Option<Oob>],
    defaults: &[Option<Oob>],
) -> Option<Comparison> {
    let pairs: Vec<(f64, f64)> = gamma
        .iter()
        .zip(candidate.iter().zip(defaults))
        .filter_map(|(g, (c, d))| {
            let g = (*g)?;
            Some((unit_loss(g, c.as_ref()?), unit_loss(g, d.as_ref()?)))
        })
        .collect();
    if pairs.len() * 2 < gamma.len() || pairs.len() < 2 {
        return None;
    }
    let m = pairs.len() as f64;
    let (loss, default_loss) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), (c, d)| (a + c / m, b + d / m));
    let mean = loss - default_loss;
    let var = pairs
        .iter()
        .map(|(c, d)| (c - d - mean).powi(2))
        .sum::<f64>()
        / (m - 1.0);
    Some(Comparison {
        loss,
        default_loss,
        difference_se: (var / m).sqrt(),
    })
}

/// The doubly robust pseudo-outcomes of the effect at each training unit,
/// from the reference forest's out-of-bag effects and first stages (the
/// first stage floored at [`FIRST_STAGE_FLOOR`] of its mean, keeping its sign).
fn pseudo_outcomes(rule: &Instrumental<'_>, reference: &[Option<Oob>]) -> Vec<Option<f64>> {
    let stages: Vec<f64> = reference.iter().flatten().map(|r| r.first_stage).collect();
    let mean = stages.iter().sum::<f64>() / stages.len().max(1) as f64;
    let (sign, floor) = (mean.signum(), FIRST_STAGE_FLOOR * mean.abs());
    reference
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let r = r.as_ref()?;
            let stage = sign * (sign * r.first_stage).max(floor);
            let residual = rule.y[i] - r.tau * rule.w[i];
            let gamma = r.tau + residual * rule.z[i] / stage;
            (floor > 0.0 && gamma.is_finite()).then_some(gamma)
        })
        .collect()
}

/// `base` with one draw of grf's tuning distribution applied: `min_node_size`
/// log-uniform in [1, n/16], `sample_fraction` uniform in [0.05, 0.5] and
/// `mtry` uniform up to grf's default, from the uniforms `u`.
fn draw(base: &ForestParams, n: usize, p: usize, u: [f64; 3]) -> ForestParams {
    let span = ((n as f64).log2() - 4.0).max(0.0);
    let cap = (p as f64).min((p as f64).sqrt() + 20.0);
    ForestParams {
        min_node_size: (2f64.powf(u[0] * span).floor() as usize).max(1),
        sample_fraction: 0.05 + 0.45 * u[1],
        mtry: Some(((cap * u[2]).ceil() as usize).clamp(1, p.max(1))),
        ..base.clone()
    }
}

/// Chooses `min_node_size`, `sample_fraction` and `mtry` for a forest on
/// the centered data in `rule` by the debiased out-of-bag loss (module
/// docs): `params.tune_draws` settings at `params.tune_trees` trees each,
/// then the best of them and the defaults (`params` itself) refitted on
/// fresh seeds and compared unit by unit, the draw winning only by a
/// clear margin ([`MARGIN`]). Only the training units enter; a
/// draw that cannot grow (too few clusters for its sample fraction) is
/// skipped.
pub fn tune(
    x: &Binned,
    rule: Instrumental<'_>,
    params: &ForestParams,
    clusters: Option<&Clusters>,
    seed: u64,
) -> Result<Tuning> {
    let small = |p: &ForestParams| ForestParams {
        num_trees: params.tune_trees,
        ci_group_size: 1,
        tune: false,
        ..p.clone()
    };
    let defaults = small(params);
    let reference = small_forest(x, rule, &defaults, clusters, mix(seed ^ 11))?;
    let gamma = pseudo_outcomes(&rule, &reference);
    let keep_defaults = |draws| Tuning {
        params: params.clone(),
        tuned: false,
        loss: f64::NAN,
        default_loss: f64::NAN,
        difference_se: f64::NAN,
        draws,
    };
    if gamma.iter().flatten().count() * 2 < gamma.len() {
        return Ok(keep_defaults(0));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(mix(seed ^ 12));
    let (n, p) = (x.rows(), x.features());
    let mut best: Option<(f64, ForestParams)> = None;
    for d in 0..params.tune_draws {
        let u = [rng.random(), rng.random(), rng.random()];
        let candidate = small(&draw(params, n, p, u));
        let Ok(oob) = small_forest(
            x,
            rule,
            &candidate,
            clusters,
            mix(seed ^ 13 ^ mix(d as u64)),
        ) else {
            continue;
        };
        if let Some(l) = loss(&gamma, &oob) {
            if best.as_ref().is_none_or(|(b, _)| l < *b) {
                best = Some((l, candidate));
            }
        }
    }
    let Some((_, chosen)) = best else {
        return Ok(keep_defaults(params.tune_draws));
    };
    // Judged on fresh forests, so the winner's loss is not the minimum of
    // many noisy draws (grf's guard against selection bias), and against
    // the defaults unit by unit: the draw wins only by more than
    // [`MARGIN`] standard errors of the paired difference.
    let fresh = |p: &ForestParams, salt: u64| small_forest(x, rule, p, clusters, mix(seed ^ salt));
    let (chosen_oob, default_oob) = (fresh(&chosen, 14)?, fresh(&defaults, 15)?);
    let Some(c) = compare(&gamma, &chosen_oob, &default_oob) else {
        return Ok(keep_defaults(params.tune_draws));
    };
    let tuned = c.loss + MARGIN * c.difference_se < c.default_loss;
    let used = if tuned { &chosen } else { params };
    Ok(Tuning {
        params: ForestParams {
            min_node_size: used.min_node_size,
            sample_fraction: used.sample_fraction,
            mtry: used.mtry,
            ..params.clone()
        },
        tuned,
        loss: c.loss,
        default_loss: c.default_loss,
        difference_se: c.difference_se,
        draws: params.tune_draws,
    })
}
