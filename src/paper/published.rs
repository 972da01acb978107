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
