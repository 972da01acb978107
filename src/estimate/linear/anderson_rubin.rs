//! Anderson–Rubin confidence sets for just-identified 2SLS: every value of
//! the effect that the Anderson–Rubin test does not reject. The test's size
//! does not depend on the strength of the instrument, so the set keeps its
//! coverage where the Wald interval `τ̂ ± 1.96 se` does not; the price is
//! that with a weak instrument the set can be unbounded.
//!
//! With `γ_y` and `γ_w` the coefficients of `Z` in the reduced form
//! (`Y ~ [1, X, Z]`) and the first stage (`W ~ [1, X, Z]`), and `V` their
//! joint covariance, the statistic for `β₀` is
//! `(γ_y − β₀ γ_w)² / (V_yy − 2 β₀ V_yw + β₀² V_ww)`: the squared t of `Z`
//! in the regression of `Y − β₀ W` on `[1, X, Z]`. The set solves a
//! quadratic inequality in `β₀` exactly.

use std::fmt;

use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::core::stats::Z_95;
use crate::core::text::significant;
use crate::estimate::linalg::{sandwich, LeastSquares, SeKind};
use crate::Result;

/// The 95% critical value of the Anderson–Rubin statistic, the 0.95
/// quantile of χ²₁ (3.841459): the square of the normal's 0.975 quantile,
/// so that the set and the Wald interval are tests of the same level.
pub const AR_CRITICAL_95: f64 = Z_95 * Z_95;

/// A confidence set for a scalar parameter that need not be an interval:
/// inverting a test whose statistic is a ratio of quadratics gives a
/// bounded interval, the line less an open interval, or the whole line.
///
/// The Anderson–Rubin set of just-identified 2SLS is never empty: its
/// statistic is 0 at the 2SLS estimate `γ_y / γ_w`, so there is no empty
/// variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum ConfidenceSet {
    /// The closed interval `[lo, hi]`: the instrument is strong enough to
    /// reject every value far enough from the estimate.
    Bounded {
        /// Lower end, finite.
        lo: f64,
        /// Upper end, finite and at least `lo`.
        hi: f64,
    },
    /// `(−∞, lo] ∪ [hi, ∞)`, every value outside the open interval
    /// `(lo, hi)`: a weak instrument rejects only values near `(lo, hi)`.
    TwoRays {
        /// Where the lower ray ends, finite.
        lo: f64,
        /// Where the upper ray starts, finite and above `lo`.
        hi: f64,
    },
    /// One half-line, `[end, ∞)` or `(−∞, end]`: the boundary case between
    /// the other shapes, where the first-stage Wald statistic equals the
    /// critical value exactly (the quadratic's leading coefficient is 0,
    /// or so small that the far end overflows), and one end of the set
    /// has moved out to infinity.
    HalfLine {
        /// The finite end, included.
        end: f64,
        /// Whether the set runs up from `end` (else down to it).
        upward: bool,
    },
    /// Every real number: no value of the effect is rejected.
    WholeLine,
}

impl ConfidenceSet {
    /// Whether `x` lies in the set (its finite ends included).
    pub fn contains(&self, x: f64) -> bool {
        match *self {
            ConfidenceSet::Bounded { lo, hi } => lo <= x && x <= hi,
            ConfidenceSet::TwoRays { lo, hi } => x <= lo || hi <= x,
            ConfidenceSet::HalfLine { end, upward } => {
                if upward {
                    end <= x
                } else {
                    x <= end
                }
            }
            ConfidenceSet::WholeLine => !x.is_nan(),
        }
    }

    /// Whether the set is a bounded interval.
    pub fn is_bounded(&self) -> bool {
        matches!(self, ConfidenceSet::Bounded { .. })
    }

    /// A short label for the shape: "bounded", "two rays", "half line" or
    /// "whole line".
    pub fn shape(&self) -> &'static str {
        match self {
            ConfidenceSet::Bounded { .. } => "bounded",
            ConfidenceSet::TwoRays { .. } => "two rays",
            ConfidenceSet::HalfLine { .. } => "half line",
            ConfidenceSet::WholeLine => "whole line",
        }
    }

    /// The length of the set: `hi − lo` when bounded, infinite otherwise.
    pub fn width(&self) -> f64 {
        match *self {
            ConfidenceSet::Bounded { lo, hi } => hi - lo,
            _ => f64::INFINITY,
        }
    }
}

/// Prints the set as intervals: `[0.12, 1.94]`, `(-inf, -3.1] U [0.8, inf)`,
/// `[0.8, inf)`, `(-inf, inf)`. Ends have three significant digits, or the
/// formatter's precision when one is given (`{:.4}`).
impl fmt::Display for ConfidenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = |x: f64| match f.precision() {
            Some(p) => format!("{x:.p$}"),
            None => significant(x),
        };
        match *self {
            ConfidenceSet::Bounded { lo, hi } => write!(f, "[{}, {}]", end(lo), end(hi)),
            ConfidenceSet::TwoRays { lo, hi } => {
                write!(f, "(-inf, {}] U [{}, inf)", end(lo), end(hi))
            }
            ConfidenceSet::HalfLine { end: e, upward } => {
                if upward {
                    write!(f, "[{}, inf)", end(e))
                } else {
                    write!(f, "(-inf, {}]", end(e))
                }
            }
            ConfidenceSet::WholeLine => f.write_str("(-inf, inf)"),
        }
    }
}

/// The coefficients of the instrument in the reduced form and the first
/// stage, with their joint sampling covariance: all the Anderson–Rubin test
/// needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ReducedForms {
    /// Coefficient of `Z` in `Y ~ [1, X, Z]`.
    pub(super) gamma_y: f64,
    /// Coefficient of `Z` in `W ~ [1, X, Z]`.
    pub(super) gamma_w: f64,
    /// Variance of `γ_y`.
    pub(super) v_yy: f64,
    /// Covariance of `γ_y` and `γ_w`.
    pub(super) v_yw: f64,
    /// Variance of `γ_w`.
    pub(super) v_ww: f64,
}

impl ReducedForms {
    /// The instrument's coefficients in the fits `reduced` (of Y) and
    /// `first` (of W) on the design `zd`, instrument last, with their joint
    /// covariance of kind `se`.
    ///
    /// The covariance is the sandwich over the stacked residuals of both
    /// regressions. Every kind's meat is quadratic in the residuals (with
    /// weights, leverages and degrees of freedom that do not depend on
    /// them), so the variance of `γ_y + γ_w`, the sandwich with residuals
    /// `e_y + e_w`, is `V_yy + 2 V_yw + V_ww`: that gives the cross term
    /// from the one-response sandwich.
    ///
    /// # Errors
    /// As [`sandwich`]: too few units, or a leverage of 1 under HC2/HC3.
    pub(super) fn new(
        reduced: &LeastSquares,
        first: &LeastSquares,
        zd: ArrayView2<f64>,
        se: SeKind,
    ) -> Result<Self> {
        let k = zd.ncols();
        let variance = |residuals: ArrayView1<f64>| -> Result<f64> {
            let cov = sandwich(first.xtx_inv.view(), zd, residuals, se)?;
            Ok(cov[(k - 1, k - 1)])
        };
        let v_yy = variance(reduced.residuals.view())?;
        let v_ww = variance(first.residuals.view())?;
        let v_sum = variance((&reduced.residuals + &first.residuals).view())?;
        Ok(ReducedForms {
            gamma_y: reduced.beta[k - 1],
            gamma_w: first.beta[k - 1],
            v_yy,
            v_yw: (v_sum - v_yy - v_ww) / 2.0,
            v_ww,
        })
    }

    /// The first stage's Wald statistic for excluding `Z`, `γ_w² / V_ww`
    /// (the squared robust t of `Z`; infinite when `W` is an exact function
    /// of `Z` and `X`).
    pub(super) fn first_stage_wald(&self) -> f64 {
        self.gamma_w * self.gamma_w / self.v_ww
    }

    /// The Anderson–Rubin statistic for the effect `beta0`.
    #[cfg(test)]
    pub(super) fn statistic(&self, beta0: f64) -> f64 {
        let gap = self.gamma_y - beta0 * self.gamma_w;
        gap * gap / (self.v_yy - 2.0 * beta0 * self.v_yw + beta0 * beta0 * self.v_ww)
    }

    /// The values `β₀` whose statistic is at most `critical`.
    ///
    /// Multiplying out the (non-negative) variance, they solve
    /// `a β₀² − 2 h β₀ + d ≤ 0` with `a = γ_w² − c V_ww`,
    /// `h = γ_y γ_w − c V_yw` and `d = γ_y² − c V_yy`. At `β₀ = γ_y / γ_w`
    /// the left side is `−c` times a variance, so the set is never empty.
    /// It is bounded when `a > 0`, that is when the first-stage Wald
    /// statistic exceeds `c`; two rays or the whole line when `a < 0`; a
    /// half-line when `a = 0`.
    pub(super) fn confidence_set(&self, critical: f64) -> ConfidenceSet {
        let c = critical;
        let a = self.gamma_w * self.gamma_w - c * self.v_ww;
        let h = self.gamma_y * self.gamma_w - c * self.v_yw;
        let d = self.gamma_y * self.gamma_y - c * self.v_yy;
        sublevel_set(a, h, d)
    }
}

/// `{β : a β² − 2 h β + d ≤ 0}`, known to be non-empty.
fn sublevel_set(a: f64, h: f64, d: f64) -> ConfidenceSet {
    let discriminant = h * h - a * d;
    // Non-empty with a > 0 means a non-negative discriminant: a negative one
    // is rounding, and the set is the single point where the minimum sits.
    let root = discriminant.max(0.0).sqrt();
    // The roots are (h ± root) / a; the one with the larger numerator is
    // computed so, the other as d / (h ± root) (their product is d / a), so
    // that neither cancels. A zero q means h = 0 and a d = 0: a double root
    // at 0.
    let q = h + root.copysign(h);
    let (far, near) = if q == 0.0 { (0.0, 0.0) } else { (q / a, d / q) };
    if !far.is_finite() {
        // a = 0 (or too small for the far root to be a number): the
        // inequality is −2 h β + d ≤ 0, a half-line.
        if h == 0.0 {
            return ConfidenceSet::WholeLine;
        }
        return ConfidenceSet::HalfLine {
            end: d / (2.0 * h),
            upward: h > 0.0,
        };
    }
    let (lo, hi) = if far < near { (far, near) } else { (near, far) };
    if a > 0.0 {
        ConfidenceSet::Bounded { lo, hi }
    } else if discriminant > 0.0 && lo < hi {
        ConfidenceSet::TwoRays { lo, hi }
    } else {
        // A concave quadratic that never rises above 0.
        ConfidenceSet::WholeLine
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array1;

    use super::{sublevel_set, ConfidenceSet, ReducedForms, AR_CRITICAL_95};
    use crate::estimate::linalg::{sandwich, LeastSquares};
    use crate::estimate::linear::testing::{close, confounded, dataset, no_covariates, tsls};
    use crate::estimate::linear::{design, SeKind};
    use crate::estimate::{Estimate, Estimator};

    #[test]
    fn the_critical_value_is_the_chi_square_quantile() {
        assert!((AR_CRITICAL_95 - 3.841_458_820_694_124).abs() < 1e-12);
    }

    #[test]
    fn confidence_sets_contain_print_and_measure_themselves() {
        let bounded = ConfidenceSet::Bounded {
            lo: 0.123,
            hi: 1.94,
        };
        assert!(bounded.contains(0.123) && bounded.contains(1.0) && bounded.contains(1.94));
        assert!(!bounded.contains(0.12) && !bounded.contains(2.0) && !bounded.contains(f64::NAN));
        assert!(bounded.is_bounded());
        assert!(close(bounded.width(), 1.817, 1e-12));
        assert_eq!(bounded.shape(), "bounded");
        assert_eq!(bounded.to_string(), "[0.123, 1.94]");
        assert_eq!(format!("{bounded:.1}"), "[0.1, 1.9]");

        let rays = ConfidenceSet::TwoRays { lo: -3.1, hi: 0.8 };
        assert!(rays.contains(-3.1) && rays.contains(-1e300) && rays.contains(0.8));
        assert!(rays.contains(f64::INFINITY) && !rays.contains(0.0));
        assert!(!rays.is_bounded() && rays.width().is_infinite());
        assert_eq!(rays.shape(), "two rays");
        assert_eq!(rays.to_string(), "(-inf, -3.10] U [0.800, inf)");

        let up = ConfidenceSet::HalfLine {
            end: 0.8,
            upward: true,
        };
        let down = ConfidenceSet::HalfLine {
            end: 0.8,
            upward: false,
        };
        assert!(up.contains(0.8) && up.contains(5.0) && !up.contains(0.7));
        assert!(down.contains(0.8) && down.contains(-5.0) && !down.contains(0.9));
        assert_eq!(
            (up.to_string(), down.to_string()),
            ("[0.800, inf)".into(), "(-inf, 0.800]".into())
        );
        assert_eq!(up.shape(), "half line");
        assert!(!up.is_bounded() && up.width().is_infinite());

        let all = ConfidenceSet::WholeLine;
        assert!(all.contains(-1e300) && all.contains(f64::NEG_INFINITY) && !all.contains(f64::NAN));
        assert_eq!(
            (all.shape(), all.to_string()),
            ("whole line", "(-inf, inf)".into())
        );
        assert!(!all.is_bounded() && all.width().is_infinite());
    }

    #[test]
    fn confidence_sets_serialize_with_their_shape() {
        let sets = [
            ConfidenceSet::Bounded { lo: -1.0, hi: 2.5 },
            ConfidenceSet::TwoRays { lo: -3.0, hi: 0.5 },
            ConfidenceSet::HalfLine {
                end: 1.0,
                upward: false,
            },
            ConfidenceSet::WholeLine,
        ];
        let json: Vec<String> = sets
            .iter()
            .map(|s| serde_json::to_string(s).expect("encodes"))
            .collect();
        assert_eq!(json[0], r#"{"shape":"bounded","lo":-1.0,"hi":2.5}"#);
        assert_eq!(json[3], r#"{"shape":"whole_line"}"#);
        for (set, text) in sets.iter().zip(&json) {
            let back: ConfidenceSet = serde_json::from_str(text).expect("decodes");
            assert_eq!(&back, set);
        }
    }

    #[test]
    fn estimates_without_a_set_read_and_write_as_before() {
        let old = r#"{"estimand":"late","estimate":1.0,"se":0.5,"ci_lower":0.02,"ci_upper":1.98}"#;
        let est: Estimate = serde_json::from_str(old).expect("an old record reads");
        assert_eq!(est.confidence_set, None);
        let json = serde_json::to_string(&est).expect("encodes");
        assert!(!json.contains("confidence_set"), "{json}");
        let with = est.with_confidence_set(ConfidenceSet::WholeLine);
        let json = serde_json::to_string(&with).expect("encodes");
        assert!(
            json.contains(r#""confidence_set":{"shape":"whole_line"}"#),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<Estimate>(&json).expect("decodes"),
            with
        );
    }

    #[test]
    fn sublevel_sets_of_quadratics_have_every_shape() {
        // (β − 1)(β − 3) ≤ 0.
        assert_eq!(
            sublevel_set(1.0, 2.0, 3.0),
            ConfidenceSet::Bounded { lo: 1.0, hi: 3.0 }
        );
        // −(β − 1)(β − 3) ≤ 0.
        assert_eq!(
            sublevel_set(-1.0, -2.0, -3.0),
            ConfidenceSet::TwoRays { lo: 1.0, hi: 3.0 }
        );
        // −β² − 1 ≤ 0 everywhere; −β² ≤ 0 everywhere (a double root).
        assert_eq!(sublevel_set(-1.0, 0.0, -1.0), ConfidenceSet::WholeLine);
        assert_eq!(sublevel_set(-1.0, 0.0, 0.0), ConfidenceSet::WholeLine);
        // β² ≤ 0 is the point 0; a rounding-negative discriminant is the
        // minimum's point.
        assert_eq!(
            sublevel_set(1.0, 0.0, 0.0),
            ConfidenceSet::Bounded { lo: 0.0, hi: 0.0 }
        );
        let ConfidenceSet::Bounded { lo, hi } = sublevel_set(1.0, 2.0, 4.0 + 1e-15) else {
            panic!("a > 0 is bounded");
        };
        assert!(lo == 2.0 && (hi - 2.0).abs() < 1e-15, "[{lo}, {hi}]");
        // Linear: −4β + 2 ≤ 0 is β ≥ 0.5; 4β + 2 ≤ 0 is β ≤ −0.5; −1 ≤ 0.
        assert_eq!(
            sublevel_set(0.0, 2.0, 2.0),
            ConfidenceSet::HalfLine {
                end: 0.5,
                upward: true
            }
        );
        assert_eq!(
            sublevel_set(0.0, -2.0, 2.0),
            ConfidenceSet::HalfLine {
                end: -0.5,
                upward: false
            }
        );
        assert_eq!(sublevel_set(0.0, 0.0, -1.0), ConfidenceSet::WholeLine);
        // A leading coefficient too small for the far root: the near root
        // is still accurate, without cancellation.
        assert_eq!(
            sublevel_set(1e-320, 2.0, 2.0),
            ConfidenceSet::HalfLine {
                end: 0.5,
                upward: true
            }
        );
        let ConfidenceSet::Bounded { lo, hi } = sublevel_set(1e-12, 2.0, 2.0) else {
            panic!("a > 0 is bounded");
        };
        assert!(
            close(lo, 0.5, 1e-12) && close(hi, 4e12, 1e-9),
            "[{lo}, {hi}]"
        );
    }

    /// The squared t of `Z` in the regression of `Y − β₀ W` on the design
    /// `zd` (instrument last), with standard errors of kind `se`: the
    /// Anderson–Rubin statistic computed the long way.
    fn brute_force_statistic(
        data: &crate::data::Dataset,
        zd: &ndarray::Array2<f64>,
        beta0: f64,
        se: SeKind,
    ) -> f64 {
        let k = zd.ncols();
        let y: Array1<f64> = &data.y - &(&data.w * beta0);
        let fit = LeastSquares::fit(zd.view(), y.view(), &[]).expect("fits");
        let cov = sandwich(fit.xtx_inv.view(), zd.view(), fit.residuals.view(), se).expect("n > k");
        fit.beta[k - 1].powi(2) / cov[(k - 1, k - 1)]
    }

    /// The reduced forms of `data` on `[1, (X), Z]`.
    fn forms(
        data: &crate::data::Dataset,
        covariates: bool,
        se: SeKind,
    ) -> (ReducedForms, ndarray::Array2<f64>) {
        let z = data.z.as_ref().expect("instrument");
        let (zd, _) = design(data, covariates, z.view(), "z");
        let [first, reduced] =
            LeastSquares::fit_many(zd.view(), [data.w.view(), data.y.view()], &[]).expect("fits");
        (
            ReducedForms::new(&reduced, &first, zd.view(), se).expect("n > k"),
            zd,
        )
    }

    #[test]
    fn classical_sets_match_a_grid_inversion_of_the_test() {
        // Without covariates and with classical SEs, invert the test on a
        // grid: β₀ is in the set when the t-test of Z in Y − β₀ W ~ 1 + Z
        // does not reject. Strong to irrelevant instruments, so that every
        // shape occurs.
        let mut shapes = std::collections::BTreeSet::new();
        for (i, pi) in [0.5, 0.1, 0.05, 0.02, 0.0].into_iter().enumerate() {
            for seed in 0..8 {
                let data = confounded(300, pi, 10 * i as u64 + seed);
                let (forms, zd) = forms(&data, false, SeKind::Classical);
                let set = forms.confidence_set(AR_CRITICAL_95);
                for j in 0..=2000 {
                    let beta0 = -20.0 + 0.02 * j as f64;
                    let stat = brute_force_statistic(&data, &zd, beta0, SeKind::Classical);
                    assert!(close(forms.statistic(beta0), stat, 1e-9), "β₀ {beta0}");
                    // They may disagree only where the statistic sits at
                    // the critical value.
                    assert!(
                        (stat <= AR_CRITICAL_95) == set.contains(beta0)
                            || (stat - AR_CRITICAL_95).abs() < 1e-9,
                        "{set} at {beta0}: {stat}"
                    );
                }
                shapes.insert(set.shape());
            }
        }
        assert_eq!(
            shapes.into_iter().collect::<Vec<_>>(),
            ["bounded", "two rays", "whole line"]
        );
    }

    #[test]
    fn robust_set_ends_are_where_the_robust_test_sits_at_the_critical_value() {
        // For every kind of SE and with covariates, the finite ends of the
        // set are where the robust t² of Z in Y − β₀ W ~ [1, X, Z] equals
        // 3.84, which checks the cross term V_yw; between them (bounded) or
        // beyond them (two rays) it is below.
        let mut ends_checked = [0, 0];
        for (i, pi) in [0.4, 0.05, 0.02].into_iter().enumerate() {
            for seed in 0..6 {
                let data = confounded(400, pi, 40 + 10 * i as u64 + seed);
                for kind in [
                    SeKind::Classical,
                    SeKind::Hc0,
                    SeKind::Hc1,
                    SeKind::Hc2,
                    SeKind::Hc3,
                ] {
                    let (forms, zd) = forms(&data, true, kind);
                    let set = forms.confidence_set(AR_CRITICAL_95);
                    let estimate = forms.gamma_y / forms.gamma_w;
                    assert!(set.contains(estimate), "{set} misses {estimate}");
                    let (lo, hi, inside, slot) = match set {
                        ConfidenceSet::Bounded { lo, hi } => (lo, hi, (lo + hi) / 2.0, 0),
                        ConfidenceSet::TwoRays { lo, hi } => (lo, hi, hi + 1.0, 1),
                        _ => continue,
                    };
                    for end in [lo, hi] {
                        let stat = brute_force_statistic(&data, &zd, end, kind);
                        assert!(close(stat, AR_CRITICAL_95, 1e-8), "{kind:?} {set}: {stat}");
                    }
                    assert!(brute_force_statistic(&data, &zd, inside, kind) < AR_CRITICAL_95);
                    ends_checked[slot] += 1;
                }
            }
        }
        assert!(
            ends_checked[0] >= 10 && ends_checked[1] >= 5,
            "bounded, two rays: {ends_checked:?}"
        );
    }

    #[test]
    fn the_set_is_bounded_exactly_when_the_first_stage_wald_exceeds_the_critical_value() {
        let mut seen = [0, 0];
        for seed in 0..60 {
            let pi = 0.02 * (seed % 10) as f64;
            let data = confounded(200, pi, 100 + seed);
            let est = tsls(SeKind::Hc1, true).fit(&data, 0).expect("fits");
            let set = est.confidence_set.expect("2SLS has an AR set");
            let wald = est.diagnostics["first_stage_f_robust"];
            assert_eq!(set.is_bounded(), wald > AR_CRITICAL_95, "F {wald}: {set}");
            assert!(set.contains(est.estimate));
            seen[usize::from(set.is_bounded())] += 1;
        }
        assert!(
            seen[0] >= 10 && seen[1] >= 10,
            "unbounded, bounded: {seen:?}"
        );
    }

    #[test]
    fn an_exact_first_stage_gives_a_bounded_set_around_the_estimate() {
        // W is exactly 2 Z and Y = W + noise: V_ww is 0 but for rounding,
        // so the first-stage Wald statistic is huge and the set bounded.
        let n = 50;
        let z = Array1::from_shape_fn(n, |i| (i % 2) as f64);
        let w = &z * 2.0;
        let y = Array1::from_shape_fn(n, |i| w[i] + [0.3, -0.2, 0.1, -0.4, 0.2][i % 5]);
        let data = dataset(y, w, Some(z), no_covariates(n));
        let est = tsls(SeKind::Hc1, false).fit(&data, 0).expect("fits");
        let set = est.confidence_set.expect("2SLS has an AR set");
        assert!(est.diagnostics["first_stage_f_robust"] > 1e20);
        let ConfidenceSet::Bounded { lo, hi } = set else {
            panic!("unexpected {set}");
        };
        // The set is then the Wald interval: both are τ̂ ± 1.96 √V_yy / 2.
        assert!(
            close(lo, est.ci_lower, 1e-9) && close(hi, est.ci_upper, 1e-9),
            "{set}"
        );
    }
}
