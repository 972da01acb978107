//! The hospital world: calibration to the placement paper's Table 1, the
//! congestion spillover, its per-patient truth, and its parameter checks.

use std::path::Path;

use causim::data::Unit;
use causim::sim::hospital::HospitalWorld;
use causim::sim::{ComplianceType, Sample, Sim};
use causim::spec::{load_sim, SimSpec};

fn sample(world: &HospitalWorld, seed: u64) -> Sample {
    world
        .build()
        .expect("valid world")
        .generate(seed)
        .expect("sample")
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n as f64
}

#[test]
fn the_shipped_sim_file_is_the_default_world() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sims/swiss_ncu.toml");
    let (_, spec) = load_sim(&path).expect("sims/swiss_ncu.toml loads");
    assert_eq!(spec, SimSpec::Hospital(HospitalWorld::default()));
}

/// Table 1 of the paper: N, unit shares, survival by unit and the share of
/// high-emergency days, overall and by unit, within 2 percentage points (N within 2%).
#[test]
fn default_world_reproduces_table_1() {
    for seed in [1, 2] {
        let s = sample(&HospitalWorld::default(), seed);
        let d = &s.data;
        let n = d.n() as f64;
        assert!((n / 74_355.0 - 1.0).abs() < 0.02, "N = {n}");
        let rows =
            |im: Option<bool>| (0..d.n()).filter(move |&i| im.is_none_or(|t| (d.w[i] > 0.5) == t));
        let share_im = mean(rows(None).map(|i| d.w[i]));
        let checks = [
            ("internal-medicine share", share_im, 0.60),
            ("survival", mean(rows(None).map(|i| d.y[i])), 0.97),
            (
                "survival, int. med.",
                mean(rows(Some(true)).map(|i| d.y[i])),
                0.96,
            ),
            (
                "survival, surgical",
                mean(rows(Some(false)).map(|i| d.y[i])),
                0.98,
            ),
            (
                "high emergency",
                mean(rows(None).map(|i| d.z.as_ref().unwrap()[i])),
                0.46,
            ),
            (
                "high emergency, int. med.",
                mean(rows(Some(true)).map(|i| d.z.as_ref().unwrap()[i])),
                0.45,
            ),
            (
                "high emergency, surgical",
                mean(rows(Some(false)).map(|i| d.z.as_ref().unwrap()[i])),
                0.48,
            ),
        ];
        for (what, got, published) in checks {
            assert!(
                (got - published).abs() <= 0.02,
                "seed {seed}: {what} is {got:.4}, published {published}"
            );
        }
    }
}

#[test]
fn occupancy_stays_within_capacity_and_near_the_published_means() {
    let s = sample(&HospitalWorld::default(), 3);
    let cohorts = s
        .data
        .cohorts
        .as_deref()
        .expect("hospital samples carry cohorts");
    let world = HospitalWorld::default();
    for (h, (name, params)) in world.hospitals.iter().enumerate() {
        for unit in Unit::BOTH {
            let published = match unit {
                Unit::InternalMedicine => &params.internal_medicine,
                Unit::Surgical => &params.surgical,
            };
            let days: Vec<_> = cohorts.days.iter().filter(|c| c.hospital == h).collect();
            let busy: Vec<f64> = days
                .iter()
                .map(|c| {
                    let j = (c.start..c.end).filter(|&i| s.data.w[i] > 0.5).count();
                    c.busyness(j)[unit as usize]
                })
                .collect();
            let max = busy.iter().cloned().fold(0.0, f64::max);
            assert!(
                max <= f64::from(published.capacity),
                "{name} {unit:?}: {max}"
            );
            let m = mean(busy.iter().copied());
            assert!(
                (m / published.mean - 1.0).abs() < 0.05,
                "{name} {unit:?}: mean busyness {m:.1} vs published {}",
                published.mean
            );
        }
    }
}

#[test]
fn moving_one_patient_changes_others_survival_only_with_spillover() {
    for spillover in [2.0, 0.0] {
        let world = HospitalWorld {
            scale: 0.02,
            spillover,
            ..Default::default()
        };
        let s = sample(&world, 4);
        let c = s.data.cohorts.as_deref().expect("cohorts");
        let world = s.truth.placement.as_deref().expect("survival");
        let (d, day) = c
            .days
            .iter()
            .enumerate()
            .find(|(_, day)| day.size() >= 3)
            .expect("a cohort of three");
        let observed: Vec<bool> = (day.start..day.end).map(|i| s.data.w[i] > 0.5).collect();
        let mut moved = observed.clone();
        moved[0] = !moved[0];
        let j = |p: &[bool]| p.iter().filter(|&&x| x).count();
        let other = day.start + 1;
        let unit = if observed[1] {
            Unit::InternalMedicine
        } else {
            Unit::Surgical
        };
        let before = world.survival(other, unit, j(&observed));
        let after = world.survival(other, unit, j(&moved));
        if spillover > 0.0 {
            assert!(
                (before - after).abs() > 1e-6,
                "spillover must couple patients"
            );
        } else {
            assert_eq!(before, after, "without spillover SUTVA holds");
        }
        // Welfare is the sum of the cohort's survival probabilities.
        let sum: f64 = (day.start..day.end)
            .zip(&observed)
            .map(|(i, &p)| {
                let unit = if p {
                    Unit::InternalMedicine
                } else {
                    Unit::Surgical
                };
                world.survival(i, unit, j(&observed))
            })
            .sum();
        assert!((world.welfare(d, &observed) - sum).abs() < 1e-12);
    }
}

#[test]
fn truth_matches_the_declared_model() {
    let world = HospitalWorld {
        scale: 0.1,
        ..Default::default()
    };
    let sim = world.build().expect("valid");
    let mut s = sim.generate(5).expect("sample");
    sim.add_conditional_truth(&mut s)
        .expect("conditional truth");
    let c = s.data.cohorts.as_deref().expect("cohorts");
    let world = s.truth.placement.as_deref().expect("survival");
    let n = s.data.n();
    // The outcome's frequency matches the true survival of the observed placement.
    let p_observed = mean((0..n).map(|i| {
        let day = &c.days[c.day_of[i]];
        let j = (day.start..day.end).filter(|&k| s.data.w[k] > 0.5).count();
        let unit = if s.data.w[i] > 0.5 {
            Unit::InternalMedicine
        } else {
            Unit::Surgical
        };
        world.survival(i, unit, j)
    }));
    let y = mean(s.data.y.iter().copied());
    let se = (p_observed * (1.0 - p_observed) / n as f64).sqrt();
    assert!((y - p_observed).abs() < 4.0 * se, "{y} vs {p_observed}");
    // The conditional effect averages the unit effects over severity.
    let ate = s.truth.values["ate"];
    let cate = mean(s.truth.cate.iter().copied());
    assert!((ate - cate).abs() < 0.002, "ate {ate} vs mean cate {cate}");
    // Group truths follow the sign of the declared specialization.
    assert!(s.truth.values["cate_I6"] < -0.003);
    assert!(s.truth.values["cate_C7"] > 0.003);
    // Compliers take internal medicine exactly on high-emergency days.
    let types = s.truth.complier_type.as_ref().expect("types");
    let z = s.data.z.as_ref().expect("instrument");
    for i in 0..n {
        match types[i] {
            ComplianceType::Complier => assert_eq!(s.data.w[i], z[i]),
            ComplianceType::Defier => assert_eq!(s.data.w[i], 1.0 - z[i]),
            ComplianceType::AlwaysTaker => assert_eq!(s.data.w[i], 1.0),
            ComplianceType::NeverTaker => assert_eq!(s.data.w[i], 0.0),
        }
    }
    assert!(s.truth.values["share_complier"] > 0.05);
}

#[test]
fn same_seed_same_sample_and_scale_shrinks_the_world() {
    let small = HospitalWorld {
        scale: 0.05,
        ..Default::default()
    };
    let (a, b) = (sample(&small, 9), sample(&small, 9));
    assert_eq!(a.data.y, b.data.y);
    assert_eq!(a.data.x, b.data.x);
    let n = a.data.n() as f64;
    assert!((n / (0.05 * 74_355.0) - 1.0).abs() < 0.15, "n = {n}");
}

#[test]
fn bad_parameters_are_named() {
    let cases: Vec<(HospitalWorld, &str)> = vec![
        (
            HospitalWorld {
                informative_codes: 30,
                ..Default::default()
            },
            "informative_codes",
        ),
        (
            HospitalWorld {
                scale: 0.0,
                ..Default::default()
            },
            "scale",
        ),
        (
            {
                let mut w = HospitalWorld::default();
                if let Some(a) = w.hospitals.get_mut("A") {
                    a.surgical.mean = 400.0;
                }
                w
            },
            "hospitals.A.surgical",
        ),
        (
            {
                let mut w = HospitalWorld::default();
                if let Some(d) = w.diagnoses.get_mut("I2") {
                    d.survival = 1.5;
                }
                w
            },
            "diagnoses.I2.survival",
        ),
    ];
    for (world, key) in cases {
        let message = world.build().expect_err("must fail").to_string();
        assert!(message.contains(key), "{message} should name {key}");
    }
}

/// At the paper's width the codes that drive placement stay common while
/// the other 2,087 are rare, about 8 per patient in all.
#[test]
fn noise_codes_take_their_own_prevalence() {
    let world = HospitalWorld {
        scale: 0.01,
        codes: 2099,
        noise_code_prevalence: 0.004,
        ..HospitalWorld::default()
    };
    let s = sample(&world, 5);
    let column = |name: &str| {
        let j = s
            .data
            .x_names
            .iter()
            .position(|n| n == name)
            .expect("a code column");
        s.data.x.column(j).to_vec()
    };
    let share = |names: Vec<String>| {
        let k = names.len() as f64;
        names
            .iter()
            .map(|n| mean(column(n).into_iter()))
            .sum::<f64>()
            / k
    };
    let informative = share((1..=12).map(|k| format!("code_{k}")).collect());
    let noise = share((13..=2099).map(|k| format!("code_{k}")).collect());
    assert!(
        (informative - 0.12).abs() < 0.02,
        "informative codes: {informative}"
    );
    assert!((noise - 0.004).abs() < 0.0005, "other codes: {noise}");
    let per_patient = 12.0 * informative + 2087.0 * noise;
    assert!(
        (7.0..11.0).contains(&per_patient),
        "{per_patient} codes per patient"
    );
}
