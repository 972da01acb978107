//! The IV world's per-unit truth: each unit's conditional effects given its
//! observed covariates (the unobserved confounder integrated out), checked
//! against closed forms and Monte Carlo.

use causim::core::Estimand;
use causim::sim::iv::{Compliance, Instrument, IvWorld, Outcome};
use causim::sim::{ComplianceType, Sample, Sim};

/// A sample with its conditional per-unit truth added.
fn sample(world: IvWorld, seed: u64) -> Sample {
    let sim = world.build().expect("valid world");
    let mut sample = sim.generate(seed).expect("sample");
    sim.add_conditional_truth(&mut sample)
        .expect("conditional truth");
    sample
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

#[test]
fn without_u_the_conditional_effects_are_the_unit_effects() {
    let s = sample(
        IvWorld {
            n: 500,
            covariates: 2,
            tau: "1 + x1".into(),
            ..Default::default()
        },
        3,
    );
    let t = &s.truth;
    let clate = t.clate.as_ref().expect("the world has compliers");
    assert_eq!(t.cate, t.tau);
    assert_eq!(clate, &t.tau);
    for (i, tau) in t.tau.iter().enumerate() {
        assert_eq!(*tau, 1.0 + s.data.x[[i, 0]]);
    }
    assert_eq!(t.conditional(Estimand::Ate), Some(t.cate.as_slice()));
    assert_eq!(t.conditional(Estimand::Late), Some(clate.as_slice()));
}

#[test]
fn an_effect_linear_in_u_integrates_to_its_value_at_u_zero() {
    let s = sample(
        IvWorld {
            n: 500,
            covariates: 2,
            tau: "1 + x1 + 0.5 * u".into(),
            confounding: 1.0,
            compliance: Compliance {
                defiers: "0".into(),
                ..Default::default()
            },
            ..Default::default()
        },
        4,
    );
    let t = &s.truth;
    let clate = t.clate.as_ref().expect("the world has compliers");
    for (i, (cate, clate)) in t.cate.iter().zip(clate).enumerate() {
        let x1 = s.data.x[[i, 0]];
        assert!((cate - (1.0 + x1)).abs() < 1e-9, "unit {i}: {cate}");
        // Without defiers compliance does not depend on u.
        assert!((clate - cate).abs() < 1e-9, "unit {i}: {clate}");
    }
    // The unit effects do depend on u.
    assert!(t.tau.iter().zip(&t.cate).any(|(a, b)| (a - b).abs() > 0.1));
}

#[test]
fn defiers_selected_on_u_leave_compliers_with_lower_effects() {
    let s = sample(
        IvWorld {
            n: 200_000,
            covariates: 2,
            tau: "1 + 0.5 * u".into(),
            confounding: 1.0,
            instrument: Instrument {
                strength: "0.6".into(),
                ..Default::default()
            },
            compliance: Compliance {
                defiers: "0.3".into(),
                ..Default::default()
            },
            ..Default::default()
        },
        5,
    );
    let t = &s.truth;
    let clate = t.clate.as_ref().expect("the world has compliers");
    for (cate, clate) in t.cate.iter().zip(clate) {
        assert!((cate - 1.0).abs() < 1e-9, "{cate}");
        assert!(*clate < cate - 0.01, "{clate}");
    }
    // Compliance does not depend on x, so the mean effect among the sample's
    // compliers estimates every unit's clate.
    let types = t.complier_type.as_ref().expect("compliance types");
    let compliers: Vec<f64> = t
        .tau
        .iter()
        .zip(types)
        .filter(|(_, k)| **k == ComplianceType::Complier)
        .map(|(tau, _)| *tau)
        .collect();
    let (monte_carlo, quadrature) = (mean(&compliers), mean(clate));
    assert!(
        (monte_carlo - quadrature).abs() < 0.01,
        "compliers' mean effect {monte_carlo}, mean clate {quadrature}"
    );
    let late = t.estimand(Estimand::Late).expect("late");
    assert!((late - monte_carlo).abs() < 1e-12);
}

#[test]
fn binary_effects_shrink_where_the_probability_is_clamped() {
    let s = sample(
        IvWorld {
            n: 100_000,
            covariates: 2,
            outcome: Outcome::Binary,
            baseline: "0.3".into(),
            tau: "0.2".into(),
            confounding: 1.0,
            ..Default::default()
        },
        6,
    );
    let t = &s.truth;
    for &c in &t.cate {
        assert!(c > 0.0 && c <= 0.2, "{c}");
    }
    // Clamping at 1 bites for units with a high u (p0 > 0.8), so the
    // conditional effect is below 0.2: compare with a fine trapezoid rule.
    let h = 1e-4;
    let exact: f64 = (-120_000..=120_000)
        .map(|k| {
            let u = f64::from(k) * h;
            let p0 = 1.0 / (1.0 + (-((0.3f64 / 0.7).ln() + u)).exp());
            let density = (-u * u / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
            h * ((p0 + 0.2).min(1.0) - p0) * density
        })
        .sum();
    assert!(exact < 0.2 - 1e-4, "{exact}");
    // The clamp's kink slows Gauss-Hermite to about 1e-4 at 40 nodes.
    for &c in &t.cate {
        assert!((c - exact).abs() < 2e-4, "cate {c}, trapezoid {exact}");
    }
    let (unit, conditional) = (mean(&t.tau), mean(&t.cate));
    assert!(
        (unit - conditional).abs() < 0.01,
        "mean unit effect {unit}, mean cate {conditional}"
    );
    assert!(t.clate.is_some());
}

#[test]
fn the_sample_ate_is_still_the_mean_unit_effect() {
    let s = sample(
        IvWorld {
            n: 1000,
            covariates: 3,
            tau: "1 + x1 + 0.5 * u".into(),
            ..Default::default()
        },
        7,
    );
    let ate = s.truth.estimand(Estimand::Ate).expect("ate");
    assert!((ate - mean(&s.truth.tau)).abs() < 1e-12);
}

#[test]
fn a_world_without_compliers_has_no_conditional_late() {
    for (strength, defiers) in [("0", "0.2"), ("0.5", "1")] {
        let s = sample(
            IvWorld {
                n: 100,
                covariates: 2,
                tau: "1 + u".into(),
                instrument: Instrument {
                    strength: strength.into(),
                    ..Default::default()
                },
                compliance: Compliance {
                    defiers: defiers.into(),
                    ..Default::default()
                },
                ..Default::default()
            },
            8,
        );
        assert!(s.truth.clate.is_none());
        assert!(s.truth.conditional(Estimand::Late).is_none());
        assert_eq!(s.truth.cate.len(), 100);
        assert!(s.truth.conditional(Estimand::Ate).is_some());
    }
}

/// Every world that knows each unit's effect gives the ATT and ATC: the
/// mean effect over the treated and over the controls of the sample, which
/// average to the ATE with the treated share as weight.
#[test]
fn the_iv_world_provides_att_and_atc() {
    let (_, spec) = causim::spec::load_sim(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sims/iv.toml"
    )))
    .expect("the shipped IV world");
    let sample = spec.build().expect("builds").sample(3).expect("a sample");
    let truth = &sample.truth;
    let w = &sample.data.w;
    let treated = w.iter().filter(|&&v| v > 0.5).count() as f64 / w.len() as f64;
    let (ate, att, atc) = (
        truth.values["ate"],
        truth.values["att"],
        truth.values["atc"],
    );
    assert!((treated * att + (1.0 - treated) * atc - ate).abs() < 1e-9);
    // The unobserved confounder pushes units with larger effects into treatment.
    assert!(att > atc + 0.05, "att {att} atc {atc}");
}
