//! Upper bounds shared by every world, and the checks that a world's sizes,
//! counts and numbers respect them, so that no spec can exhaust memory,
//! overflow an arithmetic on sizes or carry a NaN into a sample.

use crate::core::text::{elide, number};
use crate::{Error, Result};

/// Most units (regions, patients) a sample may hold.
pub const MAX_UNITS: usize = 10_000_000;

/// Most values a sample's covariate matrix may hold (units × columns):
/// 1.6 GB of 64-bit floats.
pub const MAX_CELLS: usize = 200_000_000;

/// Fails unless the count at `key` lies in [`min`, `max`].
pub fn count(key: &str, value: usize, min: usize, max: usize) -> Result<()> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(Error::Spec(format!(
            "`{key}` is {value}; it must lie between {min} and {max}"
        )))
    }
}

/// Fails unless `rows` × `columns` values fit in [`MAX_CELLS`]; `what`
/// says which sizes make the product, for the message.
pub fn cells(what: &str, rows: usize, columns: usize) -> Result<()> {
    let total = rows as u128 * columns as u128;
    if total <= MAX_CELLS as u128 {
        Ok(())
    } else {
        Err(Error::Spec(format!(
            "a sample of {what} would hold {rows} × {columns} = {total} covariate values; \
             at most {MAX_CELLS} fit, so lower one of them"
        )))
    }
}

/// Fails unless the number at `key` is finite.
pub fn finite(key: &str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::Spec(format!(
            "`{key}` is {}; it must be a finite number",
            number(value)
        )))
    }
}

/// Fails unless the number at `key` is a share in [0, 1].
pub fn share(key: &str, value: f64) -> Result<()> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(Error::Spec(format!(
            "`{key}` is {}; it is a share and must lie in [0, 1]",
            number(value)
        )))
    }
}

/// Where a formula was evaluated, for a message: the values of the
/// variables it uses (indices into `names` and `values`) as
/// ` at x1 = 0.5, u = -4`, the first eight of them and how many more;
/// empty when it uses none (its value is the same everywhere).
pub fn at(names: &[&str], used: &[usize], values: &[f64]) -> String {
    const SHOWN: usize = 8;
    if used.is_empty() {
        return String::new();
    }
    let mut parts: Vec<String> = used
        .iter()
        .take(SHOWN)
        .map(|&j| format!("{} = {}", elide(names[j]), number(values[j])))
        .collect();
    if used.len() > SHOWN {
        parts.push(format!("and {} more", used.len() - SHOWN));
    }
    format!(" at {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_name_the_key_and_the_range() {
        let e = count("n", usize::MAX, 10, MAX_UNITS).expect_err("too many");
        assert!(e.to_string().contains("between 10 and 10000000"), "{e}");
        let e = cells("n = 10000000 units", 10_000_000, 10_000).expect_err("too big");
        assert!(e.to_string().contains("100000000000"), "{e}");
        assert!(cells("n", usize::MAX, usize::MAX).is_err());
        assert!(cells("n", 0, usize::MAX).is_ok());
        let e = finite("noise", f64::NAN).expect_err("nan");
        assert_eq!(e.to_string(), "`noise` is nan; it must be a finite number");
        let e = share("defiers", 1e308).expect_err("not a share");
        assert!(e.to_string().contains("is 1e308;"), "{e}");
    }

    #[test]
    fn points_show_the_used_variables() {
        let names = ["x1", "x2", "u"];
        assert_eq!(
            at(&names, &[0, 2], &[0.5, 9.0, -4.0]),
            " at x1 = 0.5, u = -4"
        );
        assert_eq!(at(&names, &[], &[0.0; 3]), "");
        let many: Vec<String> = (0..10).map(|j| format!("x{j}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let used: Vec<usize> = (0..10).collect();
        assert!(at(&many, &used, &[1.0; 10]).ends_with("x7 = 1, and 2 more"));
    }
}
