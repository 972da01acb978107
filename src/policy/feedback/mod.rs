//! Feedback policies: allocation over periods in a closed loop of
//! decision, implementation, feedback and re-estimation (the review's
//! feedback layer, `000_*.txt` sections 4.2-4.3). Each period a rule funds
//! at most `budget` regions from what it has seen so far (the
//! observational sample and the outcomes of its own earlier decisions);
//! the world then gives every region's outcome, which the rule adds to its
//! data.
//!
//! The learning rules share one model (see [`model`]): least squares of the
//! outcome on the funding indicator, the effect modifiers and their
//! products, refit each period from sums kept per period. Its classical
//! covariance is the posterior Thompson sampling draws from and the standard
//! error the upper-confidence rule adds. [`Learner`] is the rule as a
//! [`Policy`]; it never sees the truth: `crate::evaluate::feedback` plays it
//! against the world's dynamics, and decides for the oracle itself.

pub mod model;
mod spec;

use ndarray::ArrayView2;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

pub use model::{Design, Moments, Posterior};
pub use spec::{FeedbackSpec, Rule};

use crate::core::seed::estimator_seed;
use crate::data::Dataset;
use crate::policy::allocation::{greedy, AllocationProblem};
use crate::policy::Policy;
use crate::{Error, Result};

/// The regions with the largest positive `values`, at most `budget` of them
/// (ties to the lower region): each period's decision given its gains.
pub fn choose(values: Vec<f64>, budget: usize) -> Result<Vec<bool>> {
    let n = values.len();
    let units = greedy(&AllocationProblem {
        values,
        floors: vec![0; n],
        caps: vec![1; n],
        budget,
        returns: 1.0,
    })?;
    Ok(units.into_iter().map(|k| k > 0).collect())
}

/// A learning or random rule over the periods: its model's sums per period
/// seen, and what it needs to score the regions.
pub struct Learner<'a> {
    spec: &'a FeedbackSpec,
    design: Design,
    x: ArrayView2<'a, f64>,
    weights: &'a [f64],
    /// The model's sums, one entry per period seen (period 0 first).
    seen: Vec<Moments>,
    seed: u64,
}

/// What a rule decides from at the start of a period: the period and each
/// region's stock (the periods it was funded before).
pub struct PeriodState<'a> {
    /// The period, from 1.
    pub period: usize,
    /// Each region's funded periods so far.
    pub stock: &'a [usize],
}

impl<'a> Learner<'a> {
    /// The rule `spec` (not the oracle) on the observational sample `data`,
    /// whose rows are its period 0, each region's gain scaled by its
    /// `weights` (see [`crate::policy::weights`]); `seed` drives its draws. The error says
    /// why the data cannot feed the model (a missing value, an unknown column).
    pub fn new(
        spec: &'a FeedbackSpec,
        data: &'a Dataset,
        weights: &'a [f64],
        seed: u64,
    ) -> Result<Learner<'a>> {
        if spec.rule == Rule::Oracle {
            return Err(Error::Data(
                "the oracle decides by the truth; it has no learner".into(),
            ));
        }
        if data.x.iter().any(|v| !v.is_finite()) {
            return Err(Error::Data(
                "the sample has missing covariate values; a feedback rule's model needs \
                 complete covariates (drop the world's [missingness])"
                    .into(),
            ));
        }
        let design = Design::new(&spec.model, &data.x_names)?;
        let mut learner = Learner {
            spec,
            design,
            x: data.x.view(),
            weights,
            seen: Vec::new(),
            seed,
        };
        let stock = vec![0; data.n()];
        let funded: Vec<bool> = data.w.iter().map(|&w| w > 0.5).collect();
        learner.observe(0, &stock, &funded, &data.y.to_vec());
        Ok(learner)
    }

    /// Adds period `t`'s rows: each region's modifiers at its `stock`, whether
    /// it was funded and its outcome `y`.
    pub fn observe(&mut self, t: usize, stock: &[usize], funded: &[bool], y: &[f64]) {
        if !self.spec.rule.learns() {
            return;
        }
        let d = self.design.width();
        let mut moments = Moments::new(d);
        let (mut c, mut row) = (vec![0.0; self.design.modifiers()], vec![0.0; d]);
        for i in 0..y.len() {
            self.design.modifiers_of(&self.x, i, t, stock[i], &mut c);
            self.design
                .row(&c, f64::from(u8::from(funded[i])), &mut row);
            moments.add(&row, y[i]);
        }
        self.seen.push(moments);
    }

    /// The model fit on the periods the rule uses now: the observational one
    /// for `once`, else the latest `window` periods seen, or all of them.
    fn fit(&self) -> Result<Posterior> {
        let seen = match (self.spec.rule, self.spec.window) {
            (Rule::Once, _) => &self.seen[..1],
            (_, Some(w)) => &self.seen[self.seen.len().saturating_sub(w)..],
            (_, None) => &self.seen[..],
        };
        let mut sums = Moments::new(self.design.width());
        for m in seen {
            sums.merge(m);
        }
        sums.fit()
    }

    /// Each region's score in `state`: its estimated effect, a posterior
    /// draw of it, or its upper confidence bound.
    fn scores(&self, state: &PeriodState<'_>, rng: &mut ChaCha8Rng) -> Result<Vec<f64>> {
        let fit = self.fit()?;
        let draw = (self.spec.rule == Rule::Thompson).then(|| {
            let z = (0..fit.kept())
                .map(|_| StandardNormal.sample(rng))
                .collect();
            fit.draw(z)
        });
        let kappa = self.spec.kappa.unwrap_or(0.0);
        let mut c = vec![0.0; self.design.modifiers()];
        Ok((0..self.x.nrows())
            .map(|i| {
                let (t, stock) = match self.spec.rule {
                    Rule::Once => (1, 0),
                    _ => (state.period, state.stock[i]),
                };
                self.design.modifiers_of(&self.x, i, t, stock, &mut c);
                match (&draw, self.spec.rule) {
                    (Some(d), _) => d.effect(&c),
                    (None, Rule::Ucb) => {
                        let (tau, se) = fit.effect(&c);
                        tau + kappa * se
                    }
                    _ => fit.effect(&c).0,
                }
            })
            .collect())
    }
}

impl Policy for Learner<'_> {
    type Input<'b> = PeriodState<'b>;
    type Decision = Vec<bool>;

    /// The regions funded in the period: the best `budget` by the rule's
    /// scores (weighted by population), or `budget` drawn at random.
    fn decide(&self, state: PeriodState<'_>) -> Result<Vec<bool>> {
        let mut rng = ChaCha8Rng::seed_from_u64(estimator_seed(
            self.seed,
            &format!("period {}", state.period),
        ));
        let n = self.x.nrows();
        if self.spec.rule == Rule::Random {
            let mut funded = vec![false; n];
            for i in sample(&mut rng, n, self.spec.budget.min(n)) {
                funded[i] = true;
            }
            return Ok(funded);
        }
        let scores = self.scores(&state, &mut rng)?;
        let values = scores
            .iter()
            .zip(self.weights)
            .map(|(s, w)| s * w)
            .collect();
        choose(values, self.spec.budget)
    }
}
