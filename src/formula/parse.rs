//! Parsing tokens into a constant-folded expression tree, with errors that
//! name the column and say what was expected.
//!
//! The parser recurses once per level of nesting (parentheses, signs,
//! powers, calls), which [`MAX_NESTING`] bounds, and builds each node with
//! its depth, which [`MAX_DEPTH`] bounds; a formula longer than
//! [`MAX_LENGTH`] is refused before it is read. No formula can therefore
//! exhaust a thread's stack, in parsing, evaluating, cloning or dropping it.

use super::eval::{Binary, Node, COMPARISON};
use super::functions::{Func, FUNCTIONS};
use super::lex::{lex, unexpected, Tok, Token};
use super::tree::{ChainBuilder, Tree};
use super::{error, FormulaError, Variables, MAX_DEPTH, MAX_LENGTH, MAX_NESTING};
use crate::core::text::elide;

/// Parses `source` against `variables` into its tree and the indices of the
/// variables it uses, sorted and deduplicated.
pub(super) fn parse(
    source: &str,
    variables: &Variables<'_>,
) -> Result<(Node, Vec<usize>), FormulaError> {
    let length = source.chars().count();
    if length > MAX_LENGTH {
        return Err(error(
            MAX_LENGTH + 1,
            format!("formula is {length} characters long; at most {MAX_LENGTH} are allowed"),
        ));
    }
    let tokens = lex(source)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        variables,
        used: Vec::new(),
        nesting: 0,
    };
    let root = parser.parse_formula()?;
    let mut used = parser.used;
    used.sort_unstable();
    used.dedup();
    Ok((root.node, used))
}

struct Parser<'a, 'v> {
    tokens: Vec<Token<'a>>,
    pos: usize,
    variables: &'v Variables<'v>,
    used: Vec<usize>,
    nesting: usize,
}

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

    /// The text of the token before the current one, elided for a message.
    fn previous(&self, back: usize) -> String {
        elide(self.tokens[self.pos.saturating_sub(back)].text)
    }

    /// `tree`, or the error that the formula is too deep, at the last token read.
    #[inline(never)]
    fn deep(&self, tree: Option<Tree>) -> Result<Tree, FormulaError> {
        tree.ok_or_else(|| {
            error(
                self.tokens[self.pos.saturating_sub(1)].column,
                format!(
                    "formula is too deep: its expression tree would have more than \
                     {MAX_DEPTH} levels; write it with fewer nested operations"
                ),
            )
        })
    }

    fn parse_formula(&mut self) -> Result<Tree, FormulaError> {
        if self.peek().tok == Tok::End {
            return Err(error(1, "formula is empty"));
        }
        let node = self.parse_binary()?;
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

    /// Parses an expression: operands joined by infix operators of levels 1
    /// (`||`) to 5 (`* / %`), by precedence climbing over a stack of the
    /// chains still open, tightest last, so that the parser recurses only
    /// for nesting. A run of operators of one level becomes one chain,
    /// however long; unary operators and `^` bind tighter than any.
    fn parse_binary(&mut self) -> Result<Tree, FormulaError> {
        // Each open chain with its level and the operator awaiting its right operand.
        let mut open: Vec<(u8, ChainBuilder, Binary)> = Vec::new();
        let mut operand = self.parse_unary()?;
        loop {
            let op = self.infix();
            let level = op.map_or(0, Binary::level);
            while let Some((_, mut chain, pending)) =
                open.pop_if(|(tighter, _, _)| *tighter > level)
            {
                chain.push(pending, operand);
                operand = self.deep(chain.finish())?;
            }
            let Some(op) = op else {
                return Ok(operand);
            };
            match open.last_mut() {
                Some((same, _, _)) if *same == level && level == COMPARISON => {
                    return Err(chained_comparison(self.peek()));
                }
                Some((same, chain, pending)) if *same == level => {
                    chain.push(*pending, operand);
                    *pending = op;
                }
                _ => open.push((level, ChainBuilder::new(operand), op)),
            }
            self.next();
            operand = self.parse_unary()?;
        }
    }

    /// The infix operator at the current token, if any.
    fn infix(&self) -> Option<Binary> {
        match self.peek().tok {
            Tok::Op(op) if op.level() > 0 => Some(op),
            _ => None,
        }
    }

    fn parse_unary(&mut self) -> Result<Tree, FormulaError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.too_nested());
        }
        let tree = match self.peek().tok {
            Tok::Op(Binary::Add) => {
                self.next();
                self.parse_unary()?
            }
            Tok::Op(Binary::Sub) => {
                self.next();
                let a = self.parse_unary()?;
                self.deep(Tree::grow(Node::Call(|a| -a, Box::new(a.node)), a.depth))?
            }
            Tok::Bang => {
                self.next();
                let a = self.parse_unary()?;
                let not = Node::Call(|a| f64::from(a == 0.0), Box::new(a.node));
                self.deep(Tree::grow(not, a.depth))?
            }
            _ => self.parse_power()?,
        };
        self.nesting -= 1;
        Ok(tree)
    }

    /// The error for nesting deeper than [`MAX_NESTING`], at the current token.
    #[cold]
    #[inline(never)]
    fn too_nested(&self) -> FormulaError {
        error(
            self.peek().column,
            format!(
                "formula is nested too deeply: at most {MAX_NESTING} levels of \
                 parentheses, signs, powers and calls"
            ),
        )
    }

    fn parse_power(&mut self) -> Result<Tree, FormulaError> {
        let base = self.parse_primary()?;
        if self.peek().tok != Tok::Op(Binary::Pow) {
            return Ok(base);
        }
        self.next();
        let exponent = self.parse_unary()?;
        self.power(base, exponent)
    }

    /// Builds `base ^ exponent`, using `powi` for small integer constant exponents.
    fn power(&self, base: Tree, exponent: Tree) -> Result<Tree, FormulaError> {
        let tree = match exponent.node {
            Node::Const(n) if n.fract() == 0.0 && n.abs() <= 64.0 => {
                Tree::grow(Node::Powi(Box::new(base.node), n as i32), base.depth)
            }
            _ => Tree::binary(Binary::Pow, base, exponent),
        };
        self.deep(tree)
    }

    fn parse_primary(&mut self) -> Result<Tree, FormulaError> {
        let t = self.next();
        match t.tok {
            Tok::Num(value) => Ok(Tree::leaf(Node::Const(value))),
            Tok::LParen => {
                let tree = self.parse_binary()?;
                self.expect_close(t, "an operator or `)`")?;
                Ok(tree)
            }
            Tok::Ident if self.peek().tok == Tok::LParen => self.parse_call(t),
            Tok::Ident => self.variable(t).map(Tree::leaf),
            _ => Err(self.missing_operand(t)),
        }
    }

    /// The error for token `t` where an operand should be.
    #[cold]
    #[inline(never)]
    fn missing_operand(&self, t: Token<'_>) -> FormulaError {
        match t.tok {
            Tok::End => error(
                t.column,
                format!("formula ends after `{}`; {WANT_OPERAND}", self.previous(1)),
            ),
            _ if self.pos == 1 => unexpected(t, &format!(" at the start; {WANT_OPERAND}")),
            _ => unexpected(t, &format!(" after `{}`; {WANT_OPERAND}", self.previous(2))),
        }
    }

    /// Consumes the `)` matching `open`, or explains what is missing.
    #[inline(never)]
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

    // Kept out of line, so the frames of the recursion through `parse_primary` stay small.
    #[inline(never)]
    fn variable(&mut self, t: Token<'_>) -> Result<Node, FormulaError> {
        if let Some(index) = self.variables.index(t.text) {
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
        let names = self.variables.names();
        let list = |names: &[&str]| -> String {
            let elided: Vec<String> = names.iter().map(|name| elide(name)).collect();
            elided.join(", ")
        };
        let available = match names.len() {
            0 => "this formula cannot use any variables".to_owned(),
            1..=12 => format!("the available variables are {}", list(names)),
            n => format!(
                "the available variables are {}, ..., {}",
                list(&names[..5]),
                list(&names[n - 5..])
            ),
        };
        Err(error(
            t.column,
            format!("unknown variable `{}`; {available}", elide(t.text)),
        ))
    }

    // Kept out of line, so the frames of the recursion through `parse_primary` stay small.
    #[inline(never)]
    fn parse_call(&mut self, name: Token<'_>) -> Result<Tree, FormulaError> {
        let Some(&(_, func)) = FUNCTIONS.iter().find(|(n, _)| *n == name.text) else {
            return Err(self.unknown_function(name));
        };
        let open = self.next();
        let mut args = Vec::new();
        if self.peek().tok != Tok::RParen {
            args.push(self.parse_binary()?);
            while self.peek().tok == Tok::Comma {
                self.next();
                args.push(self.parse_binary()?);
            }
        }
        if self.peek().tok == Tok::RParen {
            self.next();
        } else {
            let wanted = format!("`,` or `)` in the call to `{}`", name.text);
            self.expect_close(open, &wanted)?;
        }
        self.call(func, name, args)
    }

    /// The error for `name(...)` where `name` is no function.
    #[cold]
    #[inline(never)]
    fn unknown_function(&self, name: Token<'_>) -> FormulaError {
        let what = if self.variables.index(name.text).is_some() {
            format!("`{}` is a variable, not a function", elide(name.text))
        } else {
            let names: Vec<&str> = FUNCTIONS.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown function `{}`; available functions: {}",
                elide(name.text),
                names.join(", ")
            )
        };
        error(name.column, what)
    }

    /// The node of a call to built-in `func` with its parsed `args`.
    #[inline(never)]
    fn call(&self, func: Func, name: Token<'_>, args: Vec<Tree>) -> Result<Tree, FormulaError> {
        let tree = match func {
            Func::Unary(op) => {
                let [a] = exact(name, args)?;
                Tree::grow(Node::Call(op, Box::new(a.node)), a.depth)
            }
            Func::Pow => {
                let [base, exponent] = exact(name, args)?;
                return self.power(base, exponent);
            }
            Func::Clamp => {
                let [x, lo, hi] = exact(name, args)?;
                let x = self.deep(Tree::binary(Binary::Max, x, lo))?;
                Tree::binary(Binary::Min, x, hi)
            }
            Func::If => {
                let args: [Tree; 3] = exact(name, args)?;
                let below = args.iter().map(|a| a.depth).max().unwrap_or(0);
                Tree::grow(Node::If(Box::new(args.map(|a| a.node))), below)
            }
            Func::Variadic(op) => {
                let got = args.len();
                let mut args = args.into_iter();
                let (Some(first), Some(second)) = (args.next(), args.next()) else {
                    return Err(arity_error(name, "at least 2 arguments", got));
                };
                let mut chain = ChainBuilder::new(first);
                chain.push(op, second);
                for arg in args {
                    chain.push(op, arg);
                }
                chain.finish()
            }
        };
        self.deep(tree)
    }
}

/// The error for a second comparison at token `t`.
#[cold]
#[inline(never)]
fn chained_comparison(t: Token<'_>) -> FormulaError {
    error(
        t.column,
        "comparisons cannot be chained; write `a < b && b < c` instead",
    )
}

/// Moves the arguments of a fixed-arity function into an array, or reports the wrong count.
fn exact<const N: usize>(name: Token<'_>, args: Vec<Tree>) -> Result<[Tree; N], FormulaError> {
    let s = if N == 1 { "" } else { "s" };
    <[Tree; N]>::try_from(args)
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
    use crate::formula::testing::{check, on_small_stack, parse, NAMES, VALUES};
    use crate::formula::{Formula, MAX_LENGTH, MAX_NESTING};

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
            ("1e400 * x1", 1, "number `1e400` is too large for a float"),
        ];
        for (source, column, message) in cases {
            let e = Formula::parse(source, &names).expect_err(source);
            assert_eq!(e.column, column, "`{source}`: {e}");
            assert!(e.message.contains(message), "`{source}`: {e}");
        }
        let long = format!("x1 + {}", "y".repeat(5000));
        let e = Formula::parse(&long, &names).expect_err("unknown");
        assert!(e.message.contains("(5000 characters)"), "{e}");
        assert!(e.message.len() < 300, "{e}");
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
    fn formulas_longer_than_the_limit_are_refused_before_they_are_read() {
        for terms in [50_000, 200_000, 1_000_000] {
            let sum = format!("{}x", "x + ".repeat(terms - 1));
            let e = on_small_stack(move || Formula::parse(&sum, &["x"]).expect_err("too long"));
            assert_eq!(e.column, MAX_LENGTH + 1);
            let chars = 4 * terms - 3;
            assert!(
                e.message.contains(&format!("{chars} characters long"))
                    && e.message.contains("at most 10000"),
                "{e}"
            );
        }
        let limit = format!("{}1 ", "1+".repeat((MAX_LENGTH - 1) / 2));
        assert!(Formula::parse(&limit, &[]).is_ok());
        assert!(Formula::parse(&format!("{limit} "), &[]).is_err());
    }

    #[test]
    fn deep_nesting_fails_with_the_limit_and_never_overflows() {
        let n = MAX_NESTING - 1;
        #[rustfmt::skip]
        let within = [
            format!("{}x{}", "(".repeat(n), ")".repeat(n)),
            format!("{}x{}", "abs(".repeat(n), ")".repeat(n)),
            format!("{}x{}", "max(1, ".repeat(n), ")".repeat(n)),
            format!("{}x", "x^".repeat(n)),
            format!("{}x", "-".repeat(n)),
            format!("{}x{}", "x * (x + ".repeat(n), ")".repeat(n)),
        ];
        for source in within {
            let f = on_small_stack(move || {
                let f = parse(&source);
                (f.eval(&VALUES), f)
            });
            drop(f);
        }
        let n = MAX_NESTING + 1;
        for source in [
            format!("{}x{}", "(".repeat(n), ")".repeat(n)),
            format!("{}x{}", "if(x, 1, ".repeat(n), ")".repeat(n)),
            format!("{}x", "x^".repeat(n)),
            format!("{}x", "!".repeat(n)),
            format!("{}x{}", "(".repeat(1_000_000), ")".repeat(1_000_000)),
        ] {
            let e = on_small_stack(move || Formula::parse(&source, &NAMES).expect_err("deep"));
            assert!(
                e.message.contains("nested too deeply") || e.message.contains("characters long"),
                "{e}"
            );
        }
        let e = Formula::parse(&format!("{}x{}", "(".repeat(n), ")".repeat(n)), &NAMES)
            .expect_err("deep");
        assert!(e.message.contains("at most 100 levels"), "{e}");
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
