//! Helpers shared by the formula tests: fixed variables and values, and a
//! check of formulas against expected values.

use super::Formula;

/// The variables of the test formulas.
pub(super) const NAMES: [&str; 3] = ["x", "y", "z"];
/// Their values in [`check`].
pub(super) const VALUES: [f64; 3] = [2.0, 3.0, -0.5];

/// Parses a test formula over [`NAMES`], panicking on an error.
pub(super) fn parse(source: &str) -> Formula {
    Formula::parse(source, &NAMES).unwrap_or_else(|e| panic!("`{source}`: {e}"))
}

/// Checks each `(formula, expected)` at x = 2, y = 3, z = -0.5.
pub(super) fn check(cases: &[(&str, f64)]) {
    for &(source, expected) in cases {
        let got = parse(source).eval(&VALUES);
        assert!(
            (got - expected).abs() <= 1e-12,
            "`{source}` = {got}, expected {expected}"
        );
    }
}

/// Stack size of the threads [`on_small_stack`] runs on: an eighth of the
/// default for spawned threads.
pub(super) const SMALL_STACK: usize = 256 * 1024;

/// Runs `f` on a thread with a [`SMALL_STACK`]-byte stack and returns its
/// value; a stack overflow there aborts the test binary.
pub(super) fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .expect("a thread")
        .join()
        .expect("no panic")
}
