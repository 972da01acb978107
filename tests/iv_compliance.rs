//! The IV world's compliance shares as formulas of the covariates: a first
//! stage that varies with x, checked against brute-force Monte Carlo over
//! the simulated units' types, and the truth that follows it (the sample
//! LATE, each unit's conditional LATE); numbers draw what they drew before,
//! shares outside [0, 1] are errors naming their key, and a sweep takes formulas.

mod common;

use causim::core::stats::logistic;
use causim::sim::iv::{Compliance, Instrument, IvWorld};
use causim::sim::{ComplianceType, Sample, Sim};
use causim::spec::{Experiment, SimSpec};

/// A sample with its conditional per-unit truth added.
fn sample(world: IvWorld, seed: u64) -> Sample {
    let sim = world.build().expect("valid world");
    let mut sample = sim.generate(seed).expect("sample");
    sim.add_conditional_truth(&mut sample)
        .expect("conditional truth");
    sample
}

/// An IV world of `n` units with two covariates, tau and the shares as given.
fn world(n: usize, tau: &str, strength: &str, defiers: &str) -> IvWorld {
    IvWorld {
        n,
        covariates: 2,
        tau: tau.into(),
        confounding: 1.0,
        instrument: Instrument {
            strength: strength.into(),
            ..Default::default()
        },
        compliance: Compliance {
            defiers: defiers.into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The mean of `values` and its standard error.
fn mean_se(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// E[f(u)] for u ~ N(0, 1) by a fine trapezoid rule on [-12, 12]: an
/// integration independent of the world's Gauss-Hermite rule.
fn normal_expectation(f: impl Fn(f64) -> f64) -> f64 {
    let h = 1e-3;
    (-12_000..=12_000)
        .map(|k| {
            let u = f64::from(k) * h;
            h * f(u) * (-u * u / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt()
        })
        .sum()
}

/// P(defier | responder, x) averaged over u, for a defier share `d` at u = 0
/// and a confounding of 1, as the world draws it.
fn defier_share(d: f64) -> f64 {
    normal_expectation(|u| logistic((d / (1.0 - d)).ln() + u))
}

fn is_responder(kind: ComplianceType) -> bool {
    matches!(kind, ComplianceType::Complier | ComplianceType::Defier)
}

#[test]
fn the_first_stage_by_x_bin_follows_the_formulas() {
    let s = sample(
        world(200_000, "1 + x1", "0.2 + 0.3 * (x1 + 1)", "0.2 * (x2 > 0)"),
        11,
    );
    let types = s.truth.complier_type.as_ref().expect("compliance types");
    let (x, w) = (&s.data.x, &s.data.w);
    let z = s.data.z.as_ref().expect("an instrument");
    let defy = defier_share(0.2);
    // Defiers among responders, by the sign of x2: none below 0, and the
    // u-averaged share above it.
    for (positive, want) in [(false, 0.0), (true, defy)] {
        let defied: Vec<f64> = (0..s.data.n())
            .filter(|&i| (x[[i, 1]] > 0.0) == positive && is_responder(types[i]))
            .map(|i| f64::from(u8::from(types[i] == ComplianceType::Defier)))
            .collect();
        let (got, se) = mean_se(&defied);
        let margin = 4.0 * (want * (1.0 - want) / defied.len() as f64).sqrt();
        assert!(
            (got - want).abs() <= margin.max(1e-12),
            "x2 > 0: {positive}: defiers {got} (SE {se}), want {want}"
        );
    }
    // Eight bins of x1: the responders' share is the formula's mean over
    // the bin's units, and the observed first stage E[W | Z = 1] - E[W | Z = 0]
    // is that share times the compliers less the defiers among responders,
    // 1 - 2 * defy where x2 > 0 and 1 where x2 < 0: 1 - defy on average.
    for bin in 0..8 {
        let lo = -1.0 + 0.25 * f64::from(bin);
        let units: Vec<usize> = (0..s.data.n())
            .filter(|&i| x[[i, 0]] >= lo && x[[i, 0]] < lo + 0.25)
            .collect();
        let strength: Vec<f64> = units
            .iter()
            .map(|&i| 0.2 + 0.3 * (x[[i, 0]] + 1.0))
            .collect();
        let (want, _) = mean_se(&strength);
        let responded: Vec<f64> = units
            .iter()
            .map(|&i| f64::from(u8::from(is_responder(types[i]))))
            .collect();
        let (got, se) = mean_se(&responded);
        assert!(
            (got - want).abs() < 4.0 * se,
            "x1 in [{lo}, {}): responders {got} (SE {se}), formula {want}",
            lo + 0.25
        );
        let arm = |on: bool| -> Vec<f64> {
            units
                .iter()
                .filter(|&&i| (z[i] > 0.5) == on)
                .map(|&i| w[i])
                .collect()
        };
        let ((treated_on, se_on), (treated_off, se_off)) =
            (mean_se(&arm(true)), mean_se(&arm(false)));
        let first_stage = treated_on - treated_off;
        let se = se_on.hypot(se_off);
        let want_fs = want * (1.0 - defy);
        assert!(
            (first_stage - want_fs).abs() < 4.0 * se,
            "x1 in [{lo}, {}): first stage {first_stage} (SE {se}), truth {want_fs}",
            lo + 0.25
        );
    }
}

#[test]
fn the_conditional_late_follows_defiers_that_vary_with_x() {
    // Defiers, selected on u, only where x1 > 0: there the compliers have
    // lower u and so lower effects than the unit's conditional effect.
    let s = sample(
        world(
            200_000,
            "1 + x1 + u",
            "0.3 + 0.5 * (x2 > 0)",
            "0.4 * (x1 > 0)",
        ),
        12,
    );
    let t = &s.truth;
    let clate = t.clate.as_ref().expect("every unit admits compliers");
    let types = t.complier_type.as_ref().expect("compliance types");
    let x = &s.data.x;
    // E[u | complier] where the defier share at u = 0 is 0.4, by an
    // integration independent of the world's quadrature.
    let defy_logit = (0.4f64 / 0.6).ln();
    let complies = |u: f64| 1.0 - logistic(defy_logit + u);
    let shift = normal_expectation(|u| u * complies(u)) / normal_expectation(complies);
    assert!(shift < -0.1, "compliers' mean u {shift}");
    for i in 0..s.data.n() {
        let cate = 1.0 + x[[i, 0]];
        assert!(
            (t.cate[i] - cate).abs() < 1e-9,
            "unit {i}: cate {}",
            t.cate[i]
        );
        let want = if x[[i, 0]] > 0.0 { cate + shift } else { cate };
        assert!(
            (clate[i] - want).abs() < 1e-6,
            "unit {i}: clate {}",
            clate[i]
        );
    }
    // Monte Carlo: over the simulated compliers on each side of x1 = 0, the
    // unit effects average to their conditional LATE, and not to their
    // conditional effect where there are defiers.
    for positive in [false, true] {
        let compliers: Vec<usize> = (0..s.data.n())
            .filter(|&i| (x[[i, 0]] > 0.0) == positive && types[i] == ComplianceType::Complier)
            .collect();
        let gap = |truth: &[f64]| -> (f64, f64) {
            let gaps: Vec<f64> = compliers.iter().map(|&i| t.tau[i] - truth[i]).collect();
            mean_se(&gaps)
        };
        let (to_clate, se) = gap(clate);
        assert!(
            to_clate.abs() < 4.0 * se,
            "x1 > 0: {positive}: compliers' effects less their clate {to_clate} (SE {se})"
        );
        let (to_cate, se) = gap(&t.cate);
        if positive {
            assert!(
                to_cate < -0.1 && to_cate < -10.0 * se,
                "{to_cate} (SE {se})"
            );
        }
    }
    // The sample LATE is the compliers' mean effect, and so the mean of
    // their conditional LATEs within Monte Carlo error.
    let compliers: Vec<usize> = (0..s.data.n())
        .filter(|&i| types[i] == ComplianceType::Complier)
        .collect();
    let late = t.values["late"];
    let effects: Vec<f64> = compliers.iter().map(|&i| t.tau[i]).collect();
    assert!((late - mean_se(&effects).0).abs() < 1e-9);
    let gaps: Vec<f64> = compliers.iter().map(|&i| t.tau[i] - clate[i]).collect();
    let (gap, se) = mean_se(&gaps);
    assert!(gap.abs() < 4.0 * se, "LATE less mean clate {gap} (SE {se})");
}

#[test]
fn a_first_stage_that_varies_with_x_weights_the_late_by_compliance() {
    // Compliers are 10% of units where x1 < 0 and 80% where x1 > 0, and the
    // effect is x1: the LATE is (0.1 * -0.5 + 0.8 * 0.5) / 0.9 = 0.389, the
    // mean conditional LATE over units 0.
    let s = sample(world(100_000, "x1", "0.1 + 0.7 * (x1 > 0)", "0"), 13);
    let t = &s.truth;
    let late = t.values["late"];
    assert!((late - 0.35 / 0.9).abs() < 0.015, "LATE {late}");
    let share = t.values["share_complier"];
    assert!((share - 0.45).abs() < 0.01, "compliers {share}");
    let clate = t.clate.as_ref().expect("every unit admits compliers");
    let (mean_clate, _) = mean_se(clate);
    assert!(mean_clate.abs() < 0.015, "mean clate {mean_clate}");
    assert_eq!(clate, &t.tau, "no defiers: each unit's clate is its effect");
}

#[test]
fn units_without_compliers_leave_the_conditional_late_undefined() {
    for (strength, defiers) in [("0.8 * (x1 > 0)", "0"), ("0.5", "if(x1 > 0.5, 1, 0.1)")] {
        let s = sample(world(2_000, "1 + u", strength, defiers), 14);
        assert!(s.truth.clate.is_none(), "{strength}, {defiers}");
        assert_eq!(s.truth.cate.len(), 2_000);
        assert!(s.truth.values.contains_key("late"), "some units comply");
    }
}

#[test]
fn a_formula_equal_to_a_number_everywhere_draws_the_same_sample() {
    // The formulas use x1, so they are evaluated unit by unit (and the
    // defier share's quadrature weights computed per unit), yet equal the numbers.
    let number = world(3_000, "1 + x1 + u", "0.5", "0.2");
    let formula = world(3_000, "1 + x1 + u", "if(x1 > 2, 0, 0.5)", "0.2 + 0 * x1");
    let (a, b) = (sample(number, 15), sample(formula, 15));
    assert_eq!(a.data.y, b.data.y);
    assert_eq!(a.data.w, b.data.w);
    assert_eq!(a.truth.tau, b.truth.tau);
    assert_eq!(a.truth.complier_type, b.truth.complier_type);
    assert_eq!(a.truth.values, b.truth.values);
    assert_eq!(a.truth.cate, b.truth.cate);
    assert_eq!(a.truth.clate, b.truth.clate);
    assert!(a.truth.clate.is_some());
}

/// The message of `world`'s build error.
fn build_error(world: IvWorld) -> String {
    match world.build() {
        Ok(_) => panic!("should not build"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn shares_outside_the_unit_interval_or_using_u_are_errors_naming_their_key() {
    let message = build_error(world(100, "1", "x1", "0"));
    common::assert_has(
        &message,
        &[
            "formula `instrument.strength` = \"x1\" is -1 at x1 = -1",
            "[0, 1]",
        ],
    );
    let message = build_error(world(100, "1", "0.5", "0.9 + 0.2 * x2"));
    common::assert_has(
        &message,
        &["compliance.defiers", "is 1.1 at x2 = ", "[0, 1]"],
    );
    let message = build_error(world(100, "1", "1.5", "0"));
    common::assert_has(
        &message,
        &["formula `instrument.strength` = \"1.5\" is 1.5", "[0, 1]"],
    );
    let message = build_error(world(100, "1", "0.5", "0.1 + 0.05 * u"));
    common::assert_has(&message, &["formula `compliance.defiers`", "uses `u`"]);
    let message = build_error(world(100, "1", "0.5 * x9", "0"));
    common::assert_has(&message, &["instrument.strength", "unknown variable `x9`"]);
    // A share that leaves [0, 1] only in a sliver the build's points miss
    // fails at the first unit drawn there, naming the key and the unit.
    let sliver = world(20_000, "1", "if(abs(x1 - 0.71) < 0.0002, 1.5, 0.5)", "0");
    let sim = sliver.build().expect("the build's points miss the sliver");
    let message = sim
        .generate(1)
        .expect_err("a unit in the sliver")
        .to_string();
    common::assert_has(
        &message,
        &["formula `instrument.strength`", "is 1.5 at unit ", "[0, 1]"],
    );
}

#[test]
fn a_sweep_takes_numbers_and_formulas_for_the_shares() {
    let dir = common::scratch("iv_compliance_sweep");
    common::write(&dir, "sim.toml", common::SMALL_SIM);
    let experiment = |axis: &str| {
        format!(
            "sim = \"sim.toml\"\nreplications = 2\n[sweep]\n{axis}\n[[estimators]]\n\
             name = \"2sls\"\nkind = \"two_stage_least_squares\"\n"
        )
    };
    let path = common::write(
        &dir,
        "experiment.toml",
        &experiment(
            "\"instrument.strength\" = [0.3, \"0.1 + 0.7 * (x1 > 0)\"]\n\
             \"compliance.defiers\" = [0.0, \"0.2 * (x2 > 0)\"]",
        ),
    );
    let loaded = Experiment::load(&path).expect("a sweep of numbers and formulas");
    assert_eq!(loaded.cells.len(), 4);
    let SimSpec::Iv(last) = &loaded.cells[3].sim else {
        panic!("an IV world");
    };
    assert_eq!(last.instrument.strength.as_str(), "0.1 + 0.7 * (x1 > 0)");
    assert_eq!(last.compliance.defiers.as_str(), "0.2 * (x2 > 0)");
    let SimSpec::Iv(first) = &loaded.cells[0].sim else {
        panic!("an IV world");
    };
    let built = first.build().expect("builds");
    let numbers = IvWorld {
        instrument: Instrument {
            strength: "0.3".into(),
            ..first.instrument.clone()
        },
        compliance: Compliance {
            defiers: "0".into(),
            ..first.compliance.clone()
        },
        ..first.clone()
    };
    let (a, b) = (
        built.generate(5).expect("a sample"),
        numbers.build().expect("builds"),
    );
    assert_eq!(a.data.w, b.generate(5).expect("a sample").data.w);
    let path = common::write(
        &dir,
        "experiment.toml",
        &experiment("\"instrument.strength\" = [0.3, \"x1\"]"),
    );
    let message = Experiment::load(&path)
        .expect_err("a share below 0")
        .to_string();
    common::assert_has(
        &message,
        &[
            "sweep `instrument.strength` = x1",
            "is -1 at x1 = -1",
            "[0, 1]",
        ],
    );
}
