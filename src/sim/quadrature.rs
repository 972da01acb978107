//! Gauss-Hermite quadrature: expectations over a standard normal variable,
//! used to integrate the unobserved confounder out of a unit's effect.

use std::sync::{Mutex, PoisonError};

/// Gauss-Hermite quadrature for E[f(u)] with u ~ N(0, 1) (the probabilists'
/// rule) with `n` nodes: the roots of the n-th Hermite polynomial, found by
/// Newton's method on the orthonormal three-term recurrence from the
/// asymptotic first guesses of Numerical Recipes' `gauher`, then rescaled from
/// the weight function exp(-t^2) to the standard normal density. Returns the
/// nodes (descending) and weights (normalized to sum to 1).
///
/// A rule is computed once per `n` and then copied from a cache: every
/// world built (each cell of a sweep) asks for the same rule.
pub fn gauss_hermite(n: usize) -> (Vec<f64>, Vec<f64>) {
    static RULES: Mutex<Vec<(usize, Rule)>> = Mutex::new(Vec::new());
    let mut rules = RULES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, rule)) = rules.iter().find(|(m, _)| *m == n) {
        return rule.clone();
    }
    let rule = compute_rule(n);
    rules.push((n, rule.clone()));
    rule
}

/// A quadrature rule: its nodes and weights.
type Rule = (Vec<f64>, Vec<f64>);

/// The rule of [`gauss_hermite`], computed.
fn compute_rule(n: usize) -> Rule {
    let nf = n as f64;
    // The orthonormal Hermite polynomial h_n(t) and its derivative.
    let hermite = |t: f64| {
        let (mut p1, mut p2) = (std::f64::consts::PI.powf(-0.25), 0.0);
        for j in 1..=n {
            let jf = j as f64;
            let p3 = p2;
            p2 = p1;
            p1 = t * (2.0 / jf).sqrt() * p2 - ((jf - 1.0) / jf).sqrt() * p3;
        }
        (p1, (2.0 * nf).sqrt() * p2)
    };
    let (mut t, mut w) = (vec![0.0; n], vec![0.0; n]);
    let mut z = 0.0;
    for i in 0..n.div_ceil(2) {
        z = match i {
            0 => (2.0 * nf + 1.0).sqrt() - 1.85575 * (2.0 * nf + 1.0).powf(-1.0 / 6.0),
            1 => z - 1.14 * nf.powf(0.426) / z,
            2 => 1.86 * z - 0.86 * t[0],
            3 => 1.91 * z - 0.91 * t[1],
            _ => 2.0 * z - t[i - 2],
        };
        for _ in 0..100 {
            let (p, dp) = hermite(z);
            let step = p / dp;
            z -= step;
            if step.abs() <= 1e-15 * z.abs().max(1.0) {
                break;
            }
        }
        let dp = hermite(z).1;
        t[i] = z;
        t[n - 1 - i] = -z;
        w[i] = 2.0 / (dp * dp);
        w[n - 1 - i] = w[i];
    }
    // Nodes for exp(-t^2) scale by sqrt(2) for N(0, 1); the weights (which
    // sum to sqrt(pi) in exact arithmetic) are normalized to sum to 1.
    let total: f64 = w.iter().sum();
    let nodes = t.iter().map(|t| t * std::f64::consts::SQRT_2).collect();
    (nodes, w.iter().map(|w| w / total).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule size the IV world uses, as in numpy's table below.
    const QUADRATURE_NODES: usize = 40;

    #[test]
    fn gauss_hermite_matches_numpy_hermegauss() {
        // numpy.polynomial.hermite_e.hermegauss(40), weights divided by sqrt(2 pi).
        let (nodes, weights) = gauss_hermite(QUADRATURE_NODES);
        assert!((weights.iter().sum::<f64>() - 1.0).abs() < 1e-14);
        for (i, node, weight) in [
            (0, 11.45337784154873, 1.461839873869401e-29),
            (10, 4.8062871920938735, 2.0488974360814553e-06),
            (19, 0.24683289602272435, 0.19105900966199035),
        ] {
            assert!((nodes[i] - node).abs() < 1e-12, "node {i}: {}", nodes[i]);
            assert!(
                ((weights[i] - weight) / weight).abs() < 1e-10,
                "weight {i}: {}",
                weights[i]
            );
            assert_eq!(nodes[QUADRATURE_NODES - 1 - i], -nodes[i]);
        }
    }

    #[test]
    fn gauss_hermite_matches_a_published_small_rule() {
        // Three-point probabilists' rule: nodes 0, ±sqrt(3); weights 2/3, 1/6.
        let (nodes, weights) = gauss_hermite(3);
        let expected = [
            (3f64.sqrt(), 1.0 / 6.0),
            (0.0, 2.0 / 3.0),
            (-(3f64.sqrt()), 1.0 / 6.0),
        ];
        for ((u, w), (eu, ew)) in nodes.iter().zip(&weights).zip(expected) {
            assert!((u - eu).abs() < 1e-14 && (w - ew).abs() < 1e-14, "{u} {w}");
        }
    }
}
