//! The placement paper's published numbers that the pipeline compares with,
//! copied digit for digit from the seed document `004_130554c110108b29.txt`
//! (Tables 1-5).

/// Table 1: N overall, internal medicine, surgical.
pub const N: [f64; 3] = [74_355.0, 44_726.0, 29_629.0];
/// Table 1: survival overall, internal medicine, surgical.
pub const SURVIVAL: [f64; 3] = [0.97, 0.96, 0.98];
/// Table 1: share placed in internal medicine.
pub const INTERNAL_MEDICINE: f64 = 0.60;
/// Table 1: share admitted on high-emergency days overall, internal medicine, surgical.
pub const HIGH_EMERGENCY: [f64; 3] = [0.46, 0.45, 0.48];

/// Table 2: linear first stage R² and F.
pub const LINEAR_FIRST_STAGE: (f64, f64) = (0.348, 77.45234);
/// Table 2: the forest's first-stage R².
pub const FOREST_FIRST_STAGE_R2: f64 = 0.308;

/// Table 3: (ATE, SE) of the IV causal forest.
pub const ATE_FOREST: (f64, f64) = (-0.0667, 0.0348);
/// Table 3: (ATE, SE) of linear IV.
pub const ATE_LINEAR: (f64, f64) = (0.0681, 0.051);

/// Table 4: CATE and SE by diagnosis group.
pub const CATE: [(&str, f64, f64); 9] = [
    ("I2", -0.16, 0.09),
    ("I3", 0.12, 0.14),
    ("I6", -0.64, 0.26),
    ("I7", -0.28, 0.14),
    ("C1", -0.02, 0.36),
    ("C2", 0.13, 0.32),
    ("C3", -0.30, 0.32),
    ("C4", -0.09, 0.24),
    ("C7", 0.14, 0.19),
];

/// Table 5: average (lower, upper) bounds: frequentist, Manski, Balke-Pearl.
pub const BOUNDS: [(f64, f64); 3] = [(-0.13, 0.00), (-0.51, 0.49), (-0.05, 0.03)];

/// Tables 7-8: mean occupancy per hospital, (observed, welfare max), of
/// [surgical, internal medicine].
pub const OCCUPANCY: [(&str, [(f64, f64); 2]); 5] = [
    ("A", [(203.38, 203.81), (183.43, 182.99)]),
    ("B", [(174.14, 174.61), (176.32, 175.84)]),
    ("C", [(232.69, 233.14), (243.08, 242.64)]),
    ("D", [(234.93, 235.33), (215.64, 215.25)]),
    ("E", [(209.86, 210.32), (193.06, 192.60)]),
];

/// Table 9: share placed in internal medicine by group: observed, welfare
/// max, frequentist minimax.
pub const SHARE_INTERNAL: [(&str, [f64; 3]); 9] = [
    ("C1", [0.40552, 0.43448, 0.50207]),
    ("C2", [0.37132, 0.41216, 0.48528]),
    ("C3", [0.64716, 0.45783, 0.50000]),
    ("C4", [0.39024, 0.48943, 0.42114]),
    ("C7", [0.33797, 0.56420, 0.57977]),
    ("I2", [0.81476, 0.45766, 0.48468]),
    ("I3", [0.52660, 0.43933, 0.48117]),
    ("I6", [0.63684, 0.34749, 0.40692]),
    ("I7", [0.45373, 0.38669, 0.43957]),
];

/// Table 10 and the text of section 2.5: welfare max's mean gain per patient
/// and share of patients reassigned, by group.
pub const GAIN_BY_GROUP: [(&str, f64, f64); 9] = [
    ("I2", 0.00309, 0.773),
    ("I6", 0.00248, 0.639),
    ("I7", 0.00170, 0.456),
    ("I3", 0.00197, 0.530),
    ("C3", 0.00242, 0.628),
    ("C7", 0.00109, 0.359),
    ("C2", 0.00133, 0.392),
    ("C1", 0.00146, 0.429),
    ("C4", 0.00133, 0.421),
];
