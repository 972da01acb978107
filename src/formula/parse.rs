//! Parsing tokens into a constant-folded expression tree, with errors that
//! name the column and say what was expected.

use super::eval::{Binary, Node, COMPARISON};
use super::functions::{Func, FUNCTIONS};
use super::lex::{lex, unexpected, Tok, Token};
use super::{error, FormulaError};

/// Parses `source` against `variables` into its tree and the indices of the
/// variables it uses, sorted and deduplicated.
pub(super) fn parse(source: &str, variables: &[&str]) -> Result<(Node, Vec<usize>), FormulaError> {
    let tokens = lex(source)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        variables,
        used: Vec::new(),
        depth: 0,
    };
    let root = parser.parse_formula()?;
    let mut used = parser.used;
    used.sort_unstable();
    used.dedup();
    Ok((root, used))
}

struct Parser<'a, 'v> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    variables: &'v [&'v str],
    used: Vec<usize>,
    depth: usize,
}

/// Deepest nesting of parentheses, unary operators and exponents, which keeps recursion bounded.
const MAX_DEPTH: usize = 100;
const WANT_OPERAND: &str = "expected a number, a variable, or `(`";

impl<'a> Parser<'a, '_> {
    fn peek(&self) -> Token<'a> {
        self.tokens[self.pos]
    }

    fn next(&mut self) -> Token<'a> {
        let t = self.tokens[self.pos];
        if t.tok != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn parse_formula(&mut self) -> Result<Node, FormulaError> {
        if self.peek().tok == Tok::End {
            return Err(error(1, "formula is empty"));
        }
        let node = self.parse_binary(1)?;
        let t = self.peek();
        match t.tok {
            Tok::End => Ok(node),
            Tok::RParen => Err(error(t.column, "unexpected `)` with no matching `(`")),
            _ => Err(unexpected(
                t,
                " after a complete expression; is an operator missing?",
            )),
        }
    }

    fn binary(op: Binary, a: Node, b: Node) -> Node {
        Node::Binary(op, Box::new(a), Box::new(b)).folded()
    }

    /// Parses infix operators of precedence `level` or tighter (1 is `||`, then `&&`,
    /// comparisons, `+ -`, and 5 is `* / %`); unary operators and `^` bind tighter still.
    fn parse_binary(&mut self, level: u8) -> Result<Node, FormulaError> {
        if level > 5 {
            return self.parse_unary();
        }
        let mut node = self.parse_binary(level + 1)?;
        while let Some(op) = self.infix(level) {
            self.next();
            node = Self::binary(op, node, self.parse_binary(level + 1)?);
            if level == COMPARISON && self.infix(level).is_some() {
                return Err(error(
                    self.peek().column,
                    "comparisons cannot be chained; write `a < b && b < c` instead",
                ));
            }
        }
        Ok(node)
    }

    fn infix(&self, level: u8) -> Option<Binary> {
        match self.peek().tok {
            Tok::Op(op) if op.level() == level => Some(op),
            _ => None,
        }
    }

    fn parse_unary(&mut self) -> Result<Node, FormulaError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(error(self.peek().column, "formula is nested too deeply"));
        }
        let node = match self.peek().tok {
            Tok::Op(Binary::Add) => {
                self.next();
                self.parse_unary()?
            }
            Tok::Op(Binary::Sub) => {
                self.next();
                Node::Call(|a| -a, Box::new(self.parse_unary()?)).folded()
            }
            Tok::Bang => {
                self.next();
                Node::Call(|a| f64::from(a == 0.0), Box::new(self.parse_unary()?)).folded()
            }
            _ => self.parse_power()?,
        };
        self.depth -= 1;
        Ok(node)
    }

    fn parse_power(&mut self) -> Result<Node, FormulaError> {
        let base = self.parse_primary()?;
        if self.peek().tok != Tok::Op(Binary::Pow) {
            return Ok(base);
        }
        self.next();
        let exponent = self.parse_unary()?;
        Ok(Self::power(base, exponent))
    }

    /// Builds `base ^ exponent`, using `powi` for small integer constant exponents.
    fn power(base: Node, exponent: Node) -> Node {
        match exponent {
            Node::Const(n) if n.fract() == 0.0 && n.abs() <= 64.0 => {
                Node::Powi(Box::new(base), n as i32).folded()
            }
            _ => Self::binary(Binary::Pow, base, exponent),
        }
    }

    fn parse_primary(&mut self) -> Result<Node, FormulaError> {
        let t = self.next();
        match t.tok {
            Tok::Num(value) => Ok(Node::Const(value)),
            Tok::LParen => {
                let node = self.parse_binary(1)?;
                self.expect_close(t, "an operator or `)`")?;
                Ok(node)
            }
            Tok::Ident if self.peek().tok == Tok::LParen => self.parse_call(t),
            Tok::Ident => self.variable(t),
            Tok::End => {
                let prev = self.tokens[self.pos.saturating_sub(1)].text;
                Err(error(
                    t.column,
                    format!("formula ends after `{prev}`; {WANT_OPERAND}"),
                ))
            }
            _ if self.pos == 1 => Err(unexpected(t, &format!(" at the start; {WANT_OPERAND}"))),
            _ => {
                let prev = self.tokens[self.pos - 2].text;
                Err(unexpected(t, &format!(" after `{prev}`; {WANT_OPERAND}")))
            }
        }
    }

    /// Consumes the `)` matching `open`, or explains what is missing.
    fn expect_close(&mut self, open: Token<'_>, wanted: &str) -> Result<(), FormulaError> {
        let t = self.next();
        match t.tok {
            Tok::RParen => Ok(()),
            Tok::End => Err(error(
                t.column,
                format!("missing `)` to close the `(` at column {}", open.column),
            )),
            _ => Err(unexpected(t, &format!("; expected {wanted}"))),
        }
    }

    fn variable(&mut self, t: Token<'_>) -> Result<Node, FormulaError> {
        if let Some(index) = self.variables.iter().position(|v| *v == t.text) {
            self.used.push(index);
            return Ok(Node::Var(index));
        }
        match t.text {
            "pi" => return Ok(Node::Const(std::f64::consts::PI)),
            "e" => return Ok(Node::Const(std::f64::consts::E)),
            _ => {}
        }
        if FUNCTIONS.iter().any(|(name, _)| *name == t.text) {
            return Err(error(
                t.column,
                format!("`{0}` is a function; call it like `{0}(...)`", t.text),
            ));
        }
        let names = self.variables;
        let available = match names.len() {
            0 => "this formula cannot use any variables".to_owned(),
            1..=12 => format!("the available variables are {}", names.join(", ")),
            n => format!(
                "the available variables are {}, ..., {}",
                names[..5].join(", "),
                names[n - 5..].join(", ")
            ),
        };
        Err(error(
            t.column,
            format!("unknown variable `{}`; {available}", t.text),
        ))
    }

    fn parse_call(&mut self, name: Token<'_>) -> Result<Node, FormulaError> {
        let Some(&(_, func)) = FUNCTIONS.iter().find(|(n, _)| *n == name.text) else {
            let what = if self.variables.contains(&name.text) {
                format!("`{}` is a variable, not a function", name.text)
            } else {
                let names: Vec<&str> = FUNCTIONS.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown function `{}`; available functions: {}",
                    name.text,
                    names.join(", ")
                )
            };
            return Err(error(name.column, what));
        };
        let open = self.next();
        let mut args = Vec::new();
        if self.peek().tok != Tok::RParen {
            args.push(self.parse_binary(1)?);
            while self.peek().tok == Tok::Comma {
                self.next();
                args.push(self.parse_binary(1)?);
            }
        }
        self.expect_close(open, &format!("`,` or `)` in the call to `{}`", name.text))?;
        let node = match func {
            Func::Unary(op) => {
                let [a] = exact(name, args)?;
                Node::Call(op, Box::new(a))
            }
            Func::Pow => {
                let [base, exponent] = exact(name, args)?;
                Self::power(base, exponent)
            }
            Func::Clamp => {
                let [x, lo, hi] = exact(name, args)?;
                let x = Self::binary(Binary::Max, x, lo);
                Self::binary(Binary::Min, x, hi)
            }
            Func::If => Node::If(Box::new(exact(name, args)?)),
            Func::Variadic(op) => {
                let got = args.len();
                let mut args = args.into_iter();
                let (Some(a), Some(b)) = (args.next(), args.next()) else {
                    return Err(arity_error(name, "at least 2 arguments", got));
                };
                args.fold(Self::binary(op, a, b), |acc, arg| {
                    Self::binary(op, acc, arg)
                })
            }
        };
        Ok(node.folded())
    }
}

/// Moves the arguments of a fixed-arity function into an array, or reports the wrong count.
fn exact<const N: usize>(name: Token<'_>, args: Vec<Node>) -> Result<[Node; N], FormulaError> {
    let s = if N == 1 { "" } else { "s" };
    <[Node; N]>::try_from(args)
        .map_err(|args| arity_error(name, &format!("{N} argument{s}"), args.len()))
}

fn arity_error(name: Token<'_>, expected: &str, got: usize) -> FormulaError {
    let s = if got == 1 { "" } else { "s" };
    error(
        name.column,
        format!("{} takes {expected}, got {got} argument{s}", name.text),
    )
}

#[cfg(test)]
mod tests {
    use crate::formula::eval::Node;
    use crate::formula::testing::{check, parse};
    use crate::formula::Formula;

    #[test]
    fn precedence_and_associativity() {
        #[rustfmt::skip]
        let cases = [
            ("1 + 2 * 3", 7.0), ("-2^2", -4.0), ("2^3^2", 512.0), ("(1 + 2) * 3", 9.0),
            ("1 - 2 - 3", -4.0), ("8 / 4 / 2", 1.0), ("2^-1", 0.5), ("7 % 4 * 2", 6.0),
            ("-7 % 4", -3.0), ("--3 + +2", 5.0), ("1 + 1 == 2 && 3 > 2 || 0", 1.0),
            ("0 || 1 && 0", 0.0), ("!0 + !5", 1.0), ("-x^2", -4.0), ("x - y * z", 3.5),
            ("2 * pi", std::f64::consts::TAU), ("ln(e)", 1.0), ("1 / 0 > 1e308", 1.0),
        ];
        check(&cases);
    }

    #[test]
    fn variables_resolve_by_index() {
        let f = Formula::parse("c - a * 10", &["a", "b", "c"]).unwrap();
        assert_eq!(f.eval(&[1.0, 100.0, 5.0]), -5.0);
        assert_eq!(f.used_variables(), vec![0, 2]);
        assert!(!f.is_constant());
        let shadowed = Formula::parse("pi + e", &["e", "pi"]).unwrap();
        assert_eq!(shadowed.eval(&[1.0, 2.0]), 3.0);
        let g = Formula::parse("x_1 * X2", &["x_1", "X2"]).unwrap();
        assert_eq!(g.eval(&[3.0, 4.0]), 12.0);
    }

    #[test]
    fn constants_and_metadata() {
        let f = parse("2 * pi + sqrt(4) - clamp(3, 0, 1)");
        assert!(f.is_constant());
        assert!(f.used_variables().is_empty());
        assert!(matches!(f.root, Node::Const(_)));
        let g = parse("z * x + z");
        assert_eq!(g.used_variables(), vec![0, 2]);
        assert_eq!(g.source(), "z * x + z");
        assert_eq!(g.to_string(), "z * x + z");
        assert_eq!(g, parse("z * x + z"));
        assert_ne!(g, parse("z*x + z"));
    }

    #[test]
    fn errors_report_column_and_reason() {
        let names: Vec<String> = (1..=10).map(|i| format!("x{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        #[rustfmt::skip]
        let cases = [
            ("x1 + x12", 6, "unknown variable `x12`; the available variables are x1, x2, x3"),
            ("foo(x1)", 1, "unknown function `foo`; available functions: abs, ceil"),
            ("1 + max(x1)", 5, "max takes at least 2 arguments, got 1 argument"),
            ("sqrt(1, 2)", 1, "sqrt takes 1 argument, got 2 arguments"),
            ("clamp(1, 2)", 1, "clamp takes 3 arguments, got 2"),
            ("max()", 1, "got 0 arguments"),
            ("x1 $ 2", 4, "unexpected character `$`"),
            ("x1 + é", 6, "unexpected character `é`"),
            ("x1 = 2", 4, "use `==`"),
            ("x1 & x2", 4, "use `&&`"),
            ("x1 | x2", 4, "use `||`"),
            ("x1 +  ", 5, "formula ends after `+`; expected a number, a variable, or `(`"),
            ("(x1 + 2", 8, "missing `)` to close the `(` at column 1"),
            ("max(x1, 2", 10, "missing `)` to close the `(` at column 4"),
            ("x1 + 2)", 7, "unexpected `)` with no matching `(`"),
            ("(x1 2)", 5, "unexpected `2`; expected an operator or `)`"),
            ("max(x1 2)", 8, "expected `,` or `)` in the call to `max`"),
            ("2 x1", 3, "unexpected `x1` after a complete expression"),
            ("", 1, "formula is empty"),
            ("   ", 1, "formula is empty"),
            ("* 2", 1, "unexpected `*` at the start"),
            ("1 + * 2", 5, "unexpected `*` after `+`"),
            ("max(1,)", 7, "unexpected `)` after `,`"),
            ("1.2.3 + x1", 1, "malformed number `1.2.3`"),
            ("2e + 1", 1, "malformed number `2e`"),
            ("0 < x1 < 1", 8, "comparisons cannot be chained"),
            ("max + 1", 1, "`max` is a function; call it like `max(...)`"),
            ("x1(2)", 1, "`x1` is a variable, not a function"),
        ];
        for (source, column, message) in cases {
            let e = Formula::parse(source, &names).expect_err(source);
            assert_eq!(e.column, column, "`{source}`: {e}");
            assert!(e.message.contains(message), "`{source}`: {e}");
        }
        let e = Formula::parse("(", &[]).expect_err("unclosed");
        let expected = "column 2: formula ends after `(`; expected a number, a variable, or `(`";
        assert_eq!(e.to_string(), expected);
        let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        assert!(Formula::parse(&deep, &[]).is_err());
        assert_eq!(
            Formula::parse(&"-".repeat(50), &[])
                .expect_err("dashes")
                .column,
            51
        );
    }

    #[test]
    fn unknown_variable_lists_are_abbreviated() {
        let many: Vec<String> = (1..=20).map(|i| format!("v{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let e = Formula::parse("v21", &many).expect_err("unknown");
        assert!(
            e.message
                .ends_with("v1, v2, v3, v4, v5, ..., v16, v17, v18, v19, v20"),
            "{e}"
        );
        let e = Formula::parse("x", &[]).expect_err("unknown");
        assert!(e.message.contains("cannot use any variables"), "{e}");
    }
}
