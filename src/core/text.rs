//! How numbers and long values appear in messages: short enough to read,
//! whatever the user wrote.

/// Longest value echoed in full in a message; longer ones are elided.
pub const ECHO_LIMIT: usize = 80;

/// A number as a person would write it: `1e308` rather than 309 digits,
/// `0.1` rather than `0.1000000000000000055511151231257827`, `nan`, `inf`.
pub fn number(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let magnitude = x.abs();
    if magnitude != 0.0 && !(1e-6..1e15).contains(&magnitude) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// A count with its noun, singular for one: `1 covariate`, `2 covariates`,
/// `0 rows` (the plural adds an `s`, which every noun counted here takes).
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A measured number to three significant digits (`0.00809`, `51.8`,
/// `1899`, `7.23e5`), for labels and flags where full precision is noise.
pub fn significant(x: f64) -> String {
    if !x.is_finite() {
        return number(x);
    }
    let magnitude = x.abs();
    if magnitude == 0.0 {
        return "0".to_string();
    }
    if !(1e-4..1e5).contains(&magnitude) {
        return format!("{x:.2e}");
    }
    let digits = magnitude.log10().floor() as i32;
    let decimals = (2 - digits).max(0) as usize;
    format!("{x:.decimals$}")
}

/// `text` cut to at most [`ECHO_LIMIT`] characters, with the length of the
/// whole when cut, so that an error never echoes kilobytes of a spec.
pub fn elide(text: &str) -> String {
    let chars = text.chars().count();
    if chars <= ECHO_LIMIT {
        return text.to_string();
    }
    let head: String = text.chars().take(ECHO_LIMIT - 20).collect();
    let tail: String = text.chars().skip(chars - 12).collect();
    format!("{head} … {tail} ({chars} characters)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_stay_short() {
        assert_eq!(number(1e308), "1e308");
        assert_eq!(number(-2.5e-320), "-2.5e-320");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(2000.0), "2000");
        assert_eq!(number(f64::NAN), "nan");
        assert_eq!(number(f64::NEG_INFINITY), "-inf");
        assert_eq!(number(0.0), "0");
    }

    #[test]
    fn measured_numbers_keep_three_significant_digits() {
        assert_eq!(significant(0.008088766903943804), "0.00809");
        assert_eq!(significant(51.7844079165031), "51.8");
        assert_eq!(significant(-1899.3), "-1899");
        assert_eq!(significant(722597.86), "7.23e5");
        assert_eq!(significant(0.5), "0.500");
        assert_eq!(significant(0.0), "0");
    }

    #[test]
    fn long_text_is_elided_with_its_length() {
        assert_eq!(elide("x1 + x2"), "x1 + x2");
        let long = "x1 + ".repeat(4000);
        let short = elide(&long);
        assert!(short.chars().count() < 100, "{short}");
        assert!(short.ends_with("(20000 characters)"), "{short}");
    }
}
