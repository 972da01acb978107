//! The outcome model a feedback rule learns from the periods it has seen:
//! least squares of the outcome on the effect modifiers, the funding
//! indicator and their products, `y = a + b'c + w (e + d'c) + noise`, so
//! that a region's estimated effect of funding is `e + d'c` with the
//! classical covariance of the coefficients. The sums of squares and
//! products are kept per period, so a refit over all periods or a window
//! of the latest costs no pass over the rows.

use ndarray::ArrayView2;

use crate::data::dense::Lower;
use crate::{Error, Result};

/// Most effect modifiers a feedback rule's model may have.
pub const MAX_MODIFIERS: usize = 200;

/// The name of the modifier that counts the periods a region was funded.
pub const STOCK: &str = "stock";

/// The name of the modifier that holds the period.
pub const PERIOD: &str = "period";

/// Where one effect modifier's value comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    /// A covariate column of the data.
    Covariate(usize),
    /// The periods the region was funded before this one.
    Stock,
    /// The period.
    Period,
}

/// The model's effect modifiers: covariates, and the region's funding stock
/// and the period, which the world's dynamics move and the covariates miss.
#[derive(Debug, Clone)]
pub struct Design {
    sources: Vec<Source>,
}

impl Design {
    /// The modifiers named in `model` (covariates of `x_names`, `stock`,
    /// `period`); an empty list means every covariate and `stock`.
    pub fn new(model: &[String], x_names: &[String]) -> Result<Design> {
        let sources: Vec<Source> = if model.is_empty() {
            (0..x_names.len())
                .map(Source::Covariate)
                .chain([Source::Stock])
                .collect()
        } else {
            model
                .iter()
                .map(|name| match name.as_str() {
                    STOCK => Ok(Source::Stock),
                    PERIOD => Ok(Source::Period),
                    _ => x_names
                        .iter()
                        .position(|n| n == name)
                        .map(Source::Covariate)
                        .ok_or_else(|| {
                            Error::Data(format!(
                                "`model` names `{name}`, which is neither a covariate nor \
                                 `{STOCK}` or `{PERIOD}`; the covariates are {}",
                                x_names.join(", ")
                            ))
                        }),
                })
                .collect::<Result<_>>()?
        };
        if sources.len() > MAX_MODIFIERS {
            return Err(Error::Data(format!(
                "the feedback model has {} effect modifiers; at most {MAX_MODIFIERS} fit: list \
                 fewer in `model`",
                sources.len()
            )));
        }
        Ok(Design { sources })
    }

    /// Effect modifiers.
    pub fn modifiers(&self) -> usize {
        self.sources.len()
    }

    /// Coefficients of the model: intercept, modifiers, funding and its products.
    pub fn width(&self) -> usize {
        2 * (self.sources.len() + 1)
    }

    /// Region `i`'s modifiers in period `t` after `stock` funded periods, into `out`.
    pub fn modifiers_of(
        &self,
        x: &ArrayView2<f64>,
        i: usize,
        t: usize,
        stock: usize,
        out: &mut [f64],
    ) {
        for (o, s) in out.iter_mut().zip(&self.sources) {
            *o = match *s {
                Source::Covariate(j) => x[(i, j)],
                Source::Stock => stock as f64,
                Source::Period => t as f64,
            };
        }
    }

    /// The full row of a region with modifiers `c`, funded (`w` = 1) or not, into `out`.
    pub fn row(&self, c: &[f64], w: f64, out: &mut [f64]) {
        let q = c.len();
        out[0] = 1.0;
        out[1..=q].copy_from_slice(c);
        out[q + 1] = w;
        for (o, v) in out[q + 2..].iter_mut().zip(c) {
            *o = w * v;
        }
    }
}

/// Sums of squares and products of rows (`X'X`, `X'y`, `y'y` and the count).
#[derive(Debug, Clone)]
pub struct Moments {
    d: usize,
    xtx: Vec<f64>,
    xty: Vec<f64>,
    yty: f64,
    n: usize,
}

impl Moments {
    /// Empty sums for rows of width `d`.
    pub fn new(d: usize) -> Moments {
        Moments {
            d,
            xtx: vec![0.0; d * d],
            xty: vec![0.0; d],
            yty: 0.0,
            n: 0,
        }
    }

    /// Adds one row and its outcome.
    pub fn add(&mut self, row: &[f64], y: f64) {
        let d = self.d;
        for (a, &ra) in row.iter().enumerate() {
            if ra == 0.0 {
                continue;
            }
            let line = &mut self.xtx[a * d..a * d + d];
            for (cell, &rb) in line[a..].iter_mut().zip(&row[a..]) {
                *cell += ra * rb;
            }
            self.xty[a] += ra * y;
        }
        self.yty += y * y;
        self.n += 1;
    }

    /// Adds another period's sums.
    pub fn merge(&mut self, other: &Moments) {
        for (a, b) in self.xtx.iter_mut().zip(&other.xtx) {
            *a += b;
        }
        for (a, b) in self.xty.iter_mut().zip(&other.xty) {
            *a += b;
        }
        self.yty += other.yty;
        self.n += other.n;
    }

    /// The least-squares fit of these rows. Columns constant over them (a
    /// stock that is still 0 everywhere, funding no row has) are left out
    /// with a coefficient of 0; the error says when the rest cannot be fit.
    pub fn fit(&self) -> Result<Posterior> {
        let d = self.d;
        let n = self.n as f64;
        let at = |a: usize, b: usize| self.xtx[a.min(b) * d + a.max(b)];
        let kept: Vec<usize> = (0..d)
            .filter(|&j| {
                if j == 0 {
                    return true;
                }
                let mean = at(0, j) / n;
                let square = at(j, j) / n;
                square - mean * mean > 1e-10 * square.max(1.0)
            })
            .collect();
        let k = kept.len();
        if self.n <= k + 1 {
            return Err(Error::Data(format!(
                "the feedback model has {k} coefficients to fit from {} rows; it needs more rows \
                 than coefficients",
                self.n
            )));
        }
        let mut a: Vec<f64> = kept
            .iter()
            .flat_map(|&r| kept.iter().map(move |&c| (r, c)))
            .map(|(r, c)| at(r, c))
            .collect();
        let factor = Lower::factor(a.clone(), k).or_else(|| {
            let scale = (0..k).map(|j| a[j * k + j]).fold(0.0, f64::max);
            for j in 0..k {
                a[j * k + j] += 1e-9 * scale;
            }
            Lower::factor(a, k)
        });
        let factor = factor.ok_or_else(|| {
            Error::Data(
                "the feedback model's columns are collinear in the rows it has seen; list fewer \
                 or other covariates in `model`"
                    .into(),
            )
        })?;
        let mut beta: Vec<f64> = kept.iter().map(|&j| self.xty[j]).collect();
        factor.solve(&mut beta);
        let fitted: f64 = kept.iter().zip(&beta).map(|(&j, b)| b * self.xty[j]).sum();
        let sigma2 = ((self.yty - fitted) / (n - k as f64)).max(0.0);
        Ok(Posterior {
            d,
            kept,
            beta,
            factor,
            sigma: sigma2.sqrt(),
        })
    }
}

/// A fitted model: coefficients of the kept columns and the Cholesky factor
/// of their cross-products, whose inverse times `sigma^2` is their
/// classical covariance.
pub struct Posterior {
    d: usize,
    kept: Vec<usize>,
    beta: Vec<f64>,
    factor: Lower,
    sigma: f64,
}

impl Posterior {
    /// The effect-gradient of a region with modifiers `c` on the kept
    /// coefficients: 1 for funding, `c` for its products, 0 elsewhere.
    fn gradient(&self, c: &[f64]) -> Vec<f64> {
        let q = (self.d - 2) / 2;
        self.kept
            .iter()
            .map(|&j| match j {
                j if j == q + 1 => 1.0,
                j if j > q + 1 => c[j - q - 2],
                _ => 0.0,
            })
            .collect()
    }

    /// The estimated effect of funding a region with modifiers `c`, and its standard error.
    pub fn effect(&self, c: &[f64]) -> (f64, f64) {
        let mut g = self.gradient(c);
        let tau = g.iter().zip(&self.beta).map(|(a, b)| a * b).sum();
        self.factor.forward(&mut g);
        let se = self.sigma * g.iter().map(|v| v * v).sum::<f64>().sqrt();
        (tau, se)
    }

    /// A draw of the coefficients from their approximate posterior
    /// N(beta, sigma^2 (X'X)^-1), given standard normal draws `z` (one per
    /// kept coefficient); the effects it implies are read with [`Draw::effect`].
    pub fn draw(&self, mut z: Vec<f64>) -> Draw<'_> {
        self.factor.backward(&mut z);
        let beta = self
            .beta
            .iter()
            .zip(&z)
            .map(|(b, v)| b + self.sigma * v)
            .collect();
        Draw {
            posterior: self,
            beta,
        }
    }

    /// Coefficients kept in the fit (the others were constant in its rows).
    pub fn kept(&self) -> usize {
        self.kept.len()
    }
}

/// One draw of a model's coefficients (Thompson sampling).
pub struct Draw<'a> {
    posterior: &'a Posterior,
    beta: Vec<f64>,
}

impl Draw<'_> {
    /// The effect of funding a region with modifiers `c` under this draw.
    pub fn effect(&self, c: &[f64]) -> f64 {
        let g = self.posterior.gradient(c);
        g.iter().zip(&self.beta).map(|(a, b)| a * b).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    #[test]
    fn the_fit_recovers_a_linear_effect_and_drops_constant_columns() {
        let n = 4000;
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let x = Array2::from_shape_fn((n, 1), |_| StandardNormal.sample(&mut rng));
        let names = vec!["a".to_string()];
        let design = Design::new(&["a".into(), STOCK.into()], &names).expect("design");
        let mut moments = Moments::new(design.width());
        let (mut c, mut row) = (vec![0.0; 2], vec![0.0; design.width()]);
        for i in 0..n {
            design.modifiers_of(&x.view(), i, 0, 0, &mut c);
            let w = f64::from(u8::from(i % 2 == 0));
            let e: f64 = StandardNormal.sample(&mut rng);
            let y = 1.0 + 0.5 * x[(i, 0)] + w * (2.0 - x[(i, 0)]) + 0.3 * e;
            design.row(&c, w, &mut row);
            moments.add(&row, y);
        }
        let fit = moments.fit().expect("fit");
        // The stock is 0 in every row: it and its product are left out.
        assert_eq!(fit.kept(), 4);
        let (tau, se) = fit.effect(&[1.5, 0.0]);
        assert!((tau - 0.5).abs() < 4.0 * se, "{tau} ± {se}");
        assert!(se > 0.0 && se < 0.05, "{se}");
        let draws: Vec<f64> = (0..400)
            .map(|_| {
                let z = (0..fit.kept())
                    .map(|_| StandardNormal.sample(&mut rng))
                    .collect();
                fit.draw(z).effect(&[1.5, 0.0])
            })
            .collect();
        let mean = draws.iter().sum::<f64>() / 400.0;
        let sd = (draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / 399.0).sqrt();
        assert!((mean - tau).abs() < 4.0 * se / 20.0, "{mean} vs {tau}");
        assert!((sd / se - 1.0).abs() < 0.15, "draw sd {sd} vs se {se}");
    }

    #[test]
    fn unknown_modifiers_and_too_few_rows_are_clear_errors() {
        let names = vec!["beds".to_string()];
        let e = Design::new(&["bed".into()], &names).expect_err("unknown");
        assert!(e.to_string().contains("covariates are beds"), "{e}");
        let design = Design::new(&[], &names).expect("all");
        assert_eq!(design.modifiers(), 2);
        let e = Moments::new(design.width()).fit().err().expect("no rows");
        assert!(e.to_string().contains("more rows"), "{e}");
    }
}
