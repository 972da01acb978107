//! Drawing a sample of the IV world: covariates, the unobserved confounder,
//! compliance types, the instrument, treatment and outcome.

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::{binary_probabilities, iv_truth, probability, share, At, IvSim, Outcome};
use crate::core::stats::logit;
use crate::data::Dataset;
use crate::sim::{ComplianceType, Sample};
use crate::Result;

/// A unit's compliance shares at its covariates: P(responder | x) and, on
/// the log-odds scale at u = 0, P(defier | responder, x) and P(always-taker | non-responder).
struct Shares {
    strength: f64,
    defy_logit: f64,
    always_logit: f64,
}

/// The uniform draws that decide a unit's compliance type, in the order drawn.
struct TypeDraws {
    respond: f64,
    defy: f64,
    always: f64,
}

impl IvSim {
    /// Draws one sample; the same seed always gives the same sample.
    pub(super) fn draw(&self, seed: u64) -> Result<Sample> {
        let w_ = &self.world;
        let (n, p) = (w_.n, w_.covariates);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Array2::<f64>::zeros((n, p));
        let (mut y, mut w, mut z) = (Array1::zeros(n), Array1::zeros(n), Array1::zeros(n));
        let mut tau = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        let always_logit = logit(w_.compliance.always_takers);
        // Covariates x1..xp, then the unobserved u: the formulas' variables.
        let mut xs = vec![0.0; p + 1];
        for i in 0..n {
            // Every unit consumes the same draws in the same order whatever the
            // parameters, so cells share common random numbers.
            for v in xs[..p].iter_mut() {
                *v = rng.random_range(-1.0..1.0);
            }
            x.row_mut(i).assign(&ndarray::ArrayView1::from(&xs[..p]));
            let u: f64 = StandardNormal.sample(&mut rng);
            xs[p] = u;
            // Struct fields are evaluated in the order written.
            let draws = TypeDraws {
                respond: rng.random(),
                defy: rng.random(),
                always: rng.random(),
            };
            let (v_z, v_y): (f64, f64) = (rng.random(), rng.random());
            let eps: f64 = StandardNormal.sample(&mut rng);

            let strength = probability(
                &self.strength,
                "instrument.strength",
                self.strength.eval(&xs),
                At::Unit(i),
            )?;
            let defiers = probability(
                &self.defiers,
                "compliance.defiers",
                self.defiers.eval(&xs),
                At::Unit(i),
            )?;
            let shares = Shares {
                strength,
                defy_logit: logit(defiers),
                always_logit,
            };
            let kind = self.compliance_type(&draws, &shares, u);
            let pz = probability(
                &self.propensity,
                "instrument.propensity",
                self.propensity.eval(&xs),
                At::Unit(i),
            )?;
            let zi = f64::from(u8::from(v_z < pz));
            let wi = match kind {
                ComplianceType::Complier => zi,
                ComplianceType::Defier => 1.0 - zi,
                ComplianceType::AlwaysTaker => 1.0,
                ComplianceType::NeverTaker => 0.0,
            };
            let (b, t) = (self.baseline.eval(&xs), self.tau.eval(&xs));
            let (yi, ti) = match w_.outcome {
                Outcome::Continuous => (b + t * wi + w_.confounding * u + w_.noise * eps, t),
                Outcome::Binary => {
                    let b = probability(&self.baseline, "baseline", b, At::Unit(i))?;
                    let (p0, p1) = binary_probabilities(logit(b) + w_.confounding * u, t);
                    let pw = if wi > 0.5 { p1 } else { p0 };
                    (f64::from(u8::from(v_y < pw)), p1 - p0)
                }
            };
            y[i] = yi;
            w[i] = wi;
            z[i] = zi;
            tau.push(ti);
            types.push(kind);
        }
        let truth = iv_truth(tau, Vec::new(), None, types);
        let data = Dataset::new(y, w, Some(z), x, self.names.clone())?;
        Ok(Sample { data, truth })
    }

    /// A unit's compliance type from its draws, its shares and its unobserved
    /// `u`, which shifts responders towards defying and non-responders towards taking.
    fn compliance_type(&self, draws: &TypeDraws, shares: &Shares, u: f64) -> ComplianceType {
        let (confounding, always_logit) = (self.world.confounding, shares.always_logit);
        if draws.respond < shares.strength {
            if draws.defy < share(shares.defy_logit, confounding * u) {
                ComplianceType::Defier
            } else {
                ComplianceType::Complier
            }
        } else if draws.always < share(always_logit, confounding * u) {
            ComplianceType::AlwaysTaker
        } else {
            ComplianceType::NeverTaker
        }
    }
}
