//! Entropy balancing (Hainmueller 2012): weights on the controls, as close to
//! uniform as possible in relative entropy, that reproduce the treated
//! units' covariate means exactly; the ATT is the treated mean outcome minus
//! the weighted control mean.

use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use super::linalg::{ldexp, scale_exponent, Cholesky, SPREAD_TOL};
use super::matching::{binary_treatment, check_arms, with_balance};
use super::{Estimate, Estimator};
use crate::core::text::number;
use crate::core::Estimand;
use crate::data::Dataset;
use crate::{Error, Result};

/// Newton iterations on the dual before giving up.
const MAX_ITERATIONS: usize = 200;

/// Balance is exact when every weighted control mean is within this many
/// control standard deviations of the treated mean.
const BALANCE_TOL: f64 = 1e-9;

/// Damping added to the dual's Hessian, relative to its largest diagonal
/// entry, so that collinear constraints (a binary covariate and its square)
/// still give a Newton direction.
const DAMPING: f64 = 1e-9;

/// Entropy balancing for the ATT.
///
/// Control weights `wⱼ ∝ exp(λᵀcⱼ)` over the balance constraints `c` (the
/// covariates, and with `moments = 2` their squares too) are chosen so that
/// `Σ wⱼ cⱼ` equals the treated mean of `c` exactly; `λ` minimizes the
/// convex dual `log Σⱼ exp(λᵀ(cⱼ − c̄₁))` by Newton's method with a
/// backtracking line search. When the treated means lie outside the convex
/// hull of the controls no weights exist and the dual is unbounded below;
/// since the dual is at least 0 whenever balance is feasible (it is at least
/// the entropy of the balancing weights), a value below zero proves
/// infeasibility and is reported as an error, naming the constraint most
/// out of balance before weighting.
///
/// The estimate is `mean(Y | W = 1) − Σⱼ wⱼ Yⱼ`. Its standard error is the
/// M-estimation (sandwich) variance of the stacked moment conditions
/// (treated means, balance, the two outcome means), which reduces to
/// `Σ_treated rᵢ² / n₁² + Σ_controls wⱼ² rⱼ²` with `r` the residuals of a
/// regression of Y on the constraints weighted by `w` among the controls
/// (centered at each arm's mean outcome); it accounts for the estimation of
/// the weights and of the treated means, and targets the population ATT.
///
/// Diagnostics: `n_treated`, `n_control`, `constraints` (balance
/// constraints used; constraints constant among the controls and already
/// met are dropped), `iterations`, `ess_controls` (effective sample size of
/// the controls, `1 / Σ wⱼ²`), `max_weight_share` (the largest control
/// weight) and the covariate balance before and after weighting
/// (`smd_max_before`, `smd_mean_before`, `smd_max_after`, `smd_mean_after`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EntropyBalancing {
    /// 1 (default): balance the means of the covariates; 2: their means and
    /// the means of their squares.
    pub moments: u8,
}

impl EntropyBalancing {
    /// Checks the settings before any data is seen.
    pub fn validate(&self) -> Result<()> {
        if !(1..=2).contains(&self.moments) {
            return Err(Error::Estimate(format!(
                "entropy_balancing: moments is {}; it must be 1 (means) or 2 (means and squares)",
                self.moments
            )));
        }
        Ok(())
    }
}

impl Default for EntropyBalancing {
    fn default() -> Self {
        EntropyBalancing { moments: 1 }
    }
}

/// The balance constraints among the controls, standardized.
struct Constraints {
    /// `(cⱼ − c̄₁) / sd₀` per control (rows) and constraint (columns).
    controls: Array2<f64>,
    /// The same for the treated units.
    treated: Array2<f64>,
    /// Name of each constraint, for errors.
    names: Vec<String>,
}

impl Estimator for EntropyBalancing {
    fn estimand(&self) -> Estimand {
        Estimand::Att
    }

    fn fit(&self, data: &Dataset, _seed: u64) -> Result<Estimate> {
        const NAME: &str = "entropy_balancing";
        self.validate()?;
        let treated = binary_treatment(NAME, data)?;
        let n1 = treated.iter().filter(|&&t| t).count();
        let n0 = data.n() - n1;
        check_arms(NAME, n1, n0)?;
        let cons = self.constraints(NAME, data, &treated)?;
        let (weights, iterations) = solve_dual(NAME, &cons)?;

        let y1: Vec<f64> = (0..data.n())
            .filter(|&i| treated[i])
            .map(|i| data.y[i])
            .collect();
        let y0: Array1<f64> = (0..data.n())
            .filter(|&i| !treated[i])
            .map(|i| data.y[i])
            .collect();
        let mu1 = y1.iter().sum::<f64>() / n1 as f64;
        let mu0 = weights.dot(&y0);

        // Slopes of the weighted regression of Y on the constraints among the
        // controls; the constraints' weighted means are the treated means (0
        // after standardizing), so the intercept is mu0.
        let k = cons.names.len();
        let beta = if k == 0 {
            Array1::zeros(0)
        } else {
            let gram = weighted_gram(&cons.controls, &weights);
            let chol = factor_damped(NAME, gram, &cons.names)?;
            let rhs = cons.controls.t().dot(&(&weights * &(&y0 - mu0)));
            chol.solve(rhs.view())
        };
        let fitted1 = cons.treated.dot(&beta);
        let fitted0 = cons.controls.dot(&beta);
        let treated_part: f64 = y1
            .iter()
            .zip(fitted1.iter())
            .map(|(y, f)| (y - mu1 - f).powi(2))
            .sum::<f64>()
            / (n1 * n1) as f64;
        let control_part: f64 = y0
            .iter()
            .zip(fitted0.iter())
            .zip(weights.iter())
            .map(|((y, f), w)| (w * (y - mu0 - f)).powi(2))
            .sum();
        let se = (treated_part + control_part).sqrt();

        let mut unit_weight = vec![1.0; data.n()];
        for (i, &w) in (0..data.n()).filter(|&i| !treated[i]).zip(weights.iter()) {
            unit_weight[i] = w;
        }
        let estimate = Estimate::normal(Estimand::Att, mu1 - mu0, se)
            .with("n_treated", n1 as f64)
            .with("n_control", n0 as f64)
            .with("constraints", k as f64)
            .with("iterations", iterations as f64)
            .with("ess_controls", 1.0 / weights.dot(&weights))
            .with(
                "max_weight_share",
                weights.iter().copied().fold(0.0, f64::max),
            );
        Ok(with_balance(
            estimate,
            data.x.view(),
            &treated,
            &unit_weight,
        ))
    }
}

impl EntropyBalancing {
    /// The standardized balance constraints; errors when a constraint is
    /// constant among the controls at a value the treated mean differs from.
    fn constraints(&self, name: &str, data: &Dataset, treated: &[bool]) -> Result<Constraints> {
        let mut columns = Vec::new();
        for (j, col) in data.x.columns().into_iter().enumerate() {
            let label = data.x_names.get(j).map_or("?", String::as_str);
            columns.push((format!("`{label}`"), col.to_owned()));
            if self.moments == 2 {
                columns.push((format!("the square of `{label}`"), col.mapv(|v| v * v)));
            }
        }
        let rows1: Vec<usize> = (0..data.n()).filter(|&i| treated[i]).collect();
        let rows0: Vec<usize> = (0..data.n()).filter(|&i| !treated[i]).collect();
        let mut names = Vec::new();
        let mut kept = Vec::new();
        for (label, col) in columns {
            if let Some(i) = col.iter().position(|v| !v.is_finite()) {
                return Err(Error::Estimate(format!(
                    "{name}: {label} overflows at row {} ({}); rescale the covariate",
                    i + 1,
                    number(col[i])
                )));
            }
            // Judged on the column brought near 1 by a power of two, so that
            // constancy is relative to its magnitude.
            let e = scale_exponent(largest_at(&col, &rows0).max(largest_at(&col, &rows1)));
            let col = col.mapv(|v| ldexp(v, -e));
            let mean =
                |rows: &[usize]| rows.iter().map(|&i| col[i]).sum::<f64>() / rows.len() as f64;
            let (m1, m0) = (mean(&rows1), mean(&rows0));
            let sd0 = (rows0.iter().map(|&i| (col[i] - m0).powi(2)).sum::<f64>()
                / rows0.len() as f64)
                .sqrt();
            let (top0, top1) = (largest_at(&col, &rows0), largest_at(&col, &rows1));
            if sd0 <= SPREAD_TOL * top0 {
                if (m1 - m0).abs() <= SPREAD_TOL * top0.max(top1) {
                    continue;
                }
                return Err(Error::Estimate(format!(
                    "{name}: balance is infeasible: {label} is constant ({}) among the \
                     controls but its treated mean is {}; drop it or restrict the sample",
                    number(ldexp(m0, e)),
                    number(ldexp(m1, e))
                )));
            }
            names.push(label);
            kept.push((col, m1, sd0));
        }
        if kept.len() >= rows0.len() {
            return Err(Error::Estimate(format!(
                "{name}: {} balance constraints for {} controls: weights on n controls can \
                 meet at most n - 1 means exactly, so balance is infeasible (and solving for it \
                 costs the cube of the constraints); use fewer covariates (causim fit --x \
                 a,b,c), more units, or an estimator made for many covariates: dml with \
                 learner = \"lasso\"",
                kept.len(),
                rows0.len()
            )));
        }
        let standardized = |rows: &[usize]| {
            Array2::from_shape_fn((rows.len(), kept.len()), |(r, c)| {
                let (col, m1, sd0) = &kept[c];
                (col[rows[r]] - m1) / sd0
            })
        };
        Ok(Constraints {
            controls: standardized(&rows0),
            treated: standardized(&rows1),
            names,
        })
    }
}

/// The largest magnitude of `col` over `rows`.
fn largest_at(col: &Array1<f64>, rows: &[usize]) -> f64 {
    rows.iter().fold(0.0, |m: f64, &i| m.max(col[i].abs()))
}

/// Minimizes the dual `log Σⱼ exp(λᵀcⱼ)` by damped Newton steps with a
/// backtracking line search; returns the control weights (summing to one)
/// and the iterations used.
fn solve_dual(name: &str, cons: &Constraints) -> Result<(Array1<f64>, usize)> {
    let c = &cons.controls;
    let k = c.ncols();
    let mut lambda = Array1::<f64>::zeros(k);
    let (mut value, mut weights) = dual(c, &lambda);
    // The largest imbalance before weighting, in control standard deviations.
    let (worst, size) = c
        .t()
        .dot(&weights)
        .iter()
        .enumerate()
        .map(|(j, g)| (j, g.abs()))
        .fold((0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
    let infeasible = |how: String| {
        Error::Estimate(format!(
            "{name}: balance is infeasible: the treated means lie outside the convex hull of \
             the controls, so no weighting of the controls reproduces them ({how}; largest \
             imbalance before weighting: {}, {size:.3} control standard deviations); drop or \
             transform the covariates on which treated and controls do not overlap",
            cons.names[worst]
        ))
    };
    for iteration in 0..=MAX_ITERATIONS {
        let gradient = c.t().dot(&weights);
        if gradient.iter().all(|g| g.abs() <= BALANCE_TOL) {
            return Ok((weights, iteration));
        }
        if value < 0.0 {
            return Err(infeasible(format!(
                "the dual fell below zero after {iteration} Newton steps"
            )));
        }
        if iteration == MAX_ITERATIONS {
            break;
        }
        let mut hessian = weighted_gram(c, &weights);
        for i in 0..k {
            for j in 0..k {
                hessian[(i, j)] -= gradient[i] * gradient[j];
            }
        }
        let chol = factor_damped(name, hessian, &cons.names)?;
        let step = chol.solve(gradient.view());
        let slope = gradient.dot(&step);
        let mut t = 1.0;
        loop {
            let candidate = &lambda - &(&step * t);
            let (v, w) = dual(c, &candidate);
            if v <= value - 1e-4 * t * slope {
                lambda = candidate;
                value = v;
                weights = w;
                break;
            }
            t /= 2.0;
            if t < 1e-12 {
                return Err(infeasible(format!(
                    "the line search stalled after {iteration} Newton steps"
                )));
            }
        }
    }
    Err(Error::Estimate(format!(
        "{name}: the dual did not converge in {MAX_ITERATIONS} Newton steps: the treated \
         means lie on or very near the edge of the controls' convex hull, so balance needs \
         almost all weight on a few controls; drop or coarsen covariates, or use moments = 1"
    )))
}

/// The dual `log Σⱼ exp(λᵀcⱼ)` and the weights `exp(λᵀcⱼ) / Σ`, computed
/// without overflow.
fn dual(c: &Array2<f64>, lambda: &Array1<f64>) -> (f64, Array1<f64>) {
    let s = c.dot(lambda);
    let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e = s.mapv(|v| (v - max).exp());
    let total = e.sum();
    (max + total.ln(), e / total)
}

/// `Σⱼ wⱼ cⱼ cⱼᵀ`.
fn weighted_gram(c: &Array2<f64>, weights: &Array1<f64>) -> Array2<f64> {
    let mut scaled = c.clone();
    for (mut row, &w) in scaled.rows_mut().into_iter().zip(weights.iter()) {
        row *= w.sqrt();
    }
    scaled.t().dot(&scaled)
}

/// Cholesky factor of `a` plus [`DAMPING`] times its largest diagonal entry.
fn factor_damped(name: &str, mut a: Array2<f64>, names: &[String]) -> Result<Cholesky> {
    let top = a.diag().iter().copied().fold(0.0, f64::max);
    for i in 0..a.nrows() {
        a[(i, i)] += DAMPING * top;
    }
    Cholesky::factor(a.view(), names).map_err(|err| {
        Error::Estimate(format!(
            "{name}: the balance problem is degenerate: the weights sit on too few controls \
             to vary the constraints ({err})"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn data(x: Array2<f64>, w: Array1<f64>, y: Array1<f64>) -> Dataset {
        let names = (1..=x.ncols()).map(|j| format!("x{j}")).collect();
        Dataset::new(y, w, None, x, names).expect("consistent")
    }

    #[test]
    fn balances_a_small_sample_exactly() {
        // Controls at 0, 1, 2 and 4; treated mean 1.5: weights are exponential
        // in x and reproduce it.
        let x = array![[0.0], [1.0], [2.0], [4.0], [1.0], [2.0]];
        let w = array![0.0, 0.0, 0.0, 0.0, 1.0, 1.0];
        let y = array![0.0, 1.0, 2.0, 4.0, 3.0, 5.0];
        let est = EntropyBalancing::default()
            .fit(&data(x, w, y), 0)
            .expect("feasible");
        // Y = X among the controls, so the weighted control mean is 1.5.
        assert!((est.estimate - 2.5).abs() < 1e-8, "{}", est.estimate);
        assert!(est.diagnostics["smd_max_after"] < 1e-8);
        assert!(est.diagnostics["ess_controls"] < 4.0);
        // Y = X among the controls, so their residuals vanish; the treated
        // residuals net of x are -0.5 and 0.5: SE = √(0.5 / 2²).
        assert!((est.se - (0.5f64 / 4.0).sqrt()).abs() < 1e-6, "{}", est.se);
    }

    #[test]
    fn a_binary_covariate_and_its_square_are_collinear_but_feasible() {
        let x = array![
            [0.0, 0.1],
            [1.0, 0.2],
            [0.0, 0.3],
            [1.0, 0.4],
            [0.0, 0.6],
            [1.0, 0.7],
            [0.0, 0.8],
            [1.0, 0.9],
            [1.0, 0.2],
            [0.0, 0.8]
        ];
        let w = array![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0];
        let y = array![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        let est = EntropyBalancing { moments: 2 }
            .fit(&data(x, w, y), 0)
            .expect("feasible");
        assert!(est.diagnostics["smd_max_after"] < 1e-8);
        assert_eq!(est.diagnostics["constraints"], 4.0);
    }
}
