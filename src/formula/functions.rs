//! The built-in functions a formula may call.

use super::eval::Binary;

/// How a built-in function is compiled.
#[derive(Debug, Clone, Copy)]
pub(super) enum Func {
    Unary(fn(f64) -> f64),
    Pow,
    Variadic(Binary),
    Clamp,
    If,
}

/// Built-in functions, sorted by name (the order used in error messages).
pub(super) const FUNCTIONS: &[(&str, Func)] = &[
    ("abs", Func::Unary(f64::abs)),
    ("ceil", Func::Unary(f64::ceil)),
    ("clamp", Func::Clamp),
    ("cos", Func::Unary(f64::cos)),
    ("exp", Func::Unary(f64::exp)),
    ("floor", Func::Unary(f64::floor)),
    ("if", Func::If),
    ("ln", Func::Unary(f64::ln)),
    ("log", Func::Unary(f64::ln)),
    ("log10", Func::Unary(f64::log10)),
    ("logistic", Func::Unary(|a| 1.0 / (1.0 + (-a).exp()))),
    ("max", Func::Variadic(Binary::Max)),
    ("min", Func::Variadic(Binary::Min)),
    ("pow", Func::Pow),
    ("probit", Func::Unary(crate::core::stats::normal_cdf)),
    ("round", Func::Unary(f64::round)),
    (
        "sign",
        Func::Unary(|a| if a == 0.0 { a } else { a.signum() }),
    ),
    ("sin", Func::Unary(f64::sin)),
    ("sqrt", Func::Unary(f64::sqrt)),
    ("step", Func::Unary(|a| f64::from(a > 0.0))),
    ("tanh", Func::Unary(f64::tanh)),
];

#[cfg(test)]
mod tests {
    use crate::formula::testing::{check, parse, VALUES};

    #[test]
    fn functions() {
        #[rustfmt::skip]
        let cases = [
            ("max(1, 5, 3)", 5.0), ("min(4, -2, 3, 0)", -2.0), ("max(x, z)", 2.0),
            ("abs(-2.5)", 2.5), ("sqrt(16)", 4.0), ("exp(0)", 1.0), ("ln(1)", 0.0),
            ("log(exp(2))", 2.0), ("log10(1000)", 3.0), ("sin(0)", 0.0), ("cos(0)", 1.0),
            ("tanh(0)", 0.0), ("floor(-1.5)", -2.0), ("ceil(1.2)", 2.0), ("round(2.5)", 3.0),
            ("round(-2.5)", -3.0), ("sign(-3)", -1.0), ("sign(0)", 0.0), ("sign(0.1)", 1.0),
            ("logistic(0)", 0.5), ("logistic(2)", 0.8807970779778823), ("logistic(-1000)", 0.0),
            ("clamp(5, 0, 1)", 1.0), ("clamp(-5, 0, 1)", 0.0), ("clamp(z, -1, 1)", -0.5),
            ("if(1, 2, 3)", 2.0), ("if(0, 2, 3)", 3.0), ("if(z > 0, z, -z)", 0.5),
            ("step(0)", 0.0), ("step(0.01)", 1.0), ("pow(2, 10)", 1024.0), ("pow(4, 0.5)", 2.0),
            ("x ^ 3", 8.0), ("z ^ -2", 4.0), ("y ^ 0.5", 3f64.sqrt()),
        ];
        check(&cases);
        assert!(parse("sqrt(-1)").eval(&VALUES).is_nan());
    }

    #[test]
    fn probit_matches_known_values() {
        #[rustfmt::skip]
        let cases = [
            ("probit(0)", 0.5), ("probit(1.959963984540054)", 0.975),
            ("probit(-1)", 0.15865525393145707), ("probit(1)", 0.8413447460685429),
            ("probit(-3)", 0.0013498980316300946), ("probit(8)", 1.0), ("probit(-40)", 0.0),
        ];
        check(&cases);
        let tail = parse("probit(-8)").eval(&VALUES);
        assert!((tail / 6.22096057427178e-16 - 1.0).abs() < 1e-7, "{tail}");
    }
}
