//! A small expression language for formulas written in scenario files, such as
//! `tau = "max(x1, 0) + 0.5 * x2"`.
//!
//! A formula is parsed once against a fixed list of variable names, which are
//! resolved to slice indices, and compiled to a constant-folded expression tree.
//! Evaluation walks that tree without allocating or looking up names.
//!
//! Comparisons and logical operators yield `1.0` or `0.0`; any nonzero value is
//! true. Arithmetic follows IEEE 754 (`1 / 0` is infinite, `sqrt(-1)` is NaN),
//! `%` is the remainder with the dividend's sign, `round` rounds half away from
//! zero, and `max`/`min` ignore a NaN argument as `f64::max` does.

use std::fmt;

/// A parsed formula over a fixed list of named variables.
#[derive(Debug, Clone)]
pub struct Formula {
    source: String,
    root: Node,
    used: Vec<usize>,
}

/// A formula that could not be parsed, with the 1-based character column where the problem is.
#[derive(Debug, Clone, PartialEq)]
pub struct FormulaError {
    /// What is wrong, phrased for the person who wrote the formula.
    pub message: String,
    /// 1-based character column of the offending token (one past the end for a truncated formula).
    pub column: usize,
}

impl fmt::Display for FormulaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for FormulaError {}

impl Formula {
    /// Parses `source`; `variables` are the names it may use, resolved to their index in this slice.
    pub fn parse(source: &str, variables: &[&str]) -> Result<Formula, FormulaError> {
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
        Ok(Formula {
            source: source.to_owned(),
            root,
            used,
        })
    }

    /// Evaluates with `values[i]` bound to `variables[i]` (the slice passed to `parse`).
    ///
    /// Panics if `values` is too short to hold a variable the formula uses.
    #[inline]
    pub fn eval(&self, values: &[f64]) -> f64 {
        self.root.eval(values)
    }

    /// The source text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Indices (into `variables`) of the variables the formula actually uses, sorted, deduplicated.
    pub fn used_variables(&self) -> Vec<usize> {
        self.used.clone()
    }

    /// True when the formula uses no variable (a constant).
    pub fn is_constant(&self) -> bool {
        self.used.is_empty()
    }
}

/// Writes the source text, so a formula round-trips through configuration files unchanged.
impl fmt::Display for Formula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Formulas are equal when their source texts are equal.
impl PartialEq for Formula {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// A formula as written in a spec: text, or a bare number (`tau = 2`), kept
/// as text until a world parses it with its own variables.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FormulaText(pub String);

impl FormulaText {
    /// The formula's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for FormulaText {
    fn from(text: &str) -> Self {
        FormulaText(text.to_string())
    }
}

impl fmt::Display for FormulaText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for FormulaText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for FormulaText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = FormulaText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a formula (a string such as \"1 + x1\", or a number)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FormulaText, E> {
                Ok(FormulaText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<FormulaText, E> {
                Ok(FormulaText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<FormulaText, E> {
                Ok(FormulaText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<FormulaText, E> {
                Ok(FormulaText(format!("{v:?}")))
            }
        }
        deserializer.deserialize_any(Text)
    }
}

#[derive(Debug, Clone)]
enum Node {
    Const(f64),
    Var(usize),
    Call(fn(f64) -> f64, Box<Node>),
    Powi(Box<Node>, i32),
    Binary(Binary, Box<Node>, Box<Node>),
    If(Box<[Node; 3]>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Binary {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
    Max,
    Min,
}

impl Node {
    fn eval(&self, v: &[f64]) -> f64 {
        match self {
            Node::Const(c) => *c,
            Node::Var(i) => v[*i],
            Node::Call(f, a) => f(a.operand(v)),
            Node::Powi(a, n) => a.operand(v).powi(*n),
            Node::Binary(op, a, b) => op.apply(a.operand(v), b.operand(v)),
            Node::If(args) => {
                let [cond, then, other] = &**args;
                if cond.operand(v) != 0.0 {
                    then.operand(v)
                } else {
                    other.operand(v)
                }
            }
        }
    }

    /// Like [`Node::eval`], but reads leaves without a call, which halves the calls per formula.
    #[inline]
    fn operand(&self, v: &[f64]) -> f64 {
        match self {
            Node::Const(c) => *c,
            Node::Var(i) => v[*i],
            _ => self.eval(v),
        }
    }

    fn is_const(&self) -> bool {
        matches!(self, Node::Const(_))
    }

    /// Replaces a node whose operands are all constants by its value.
    fn folded(self) -> Node {
        let constant = match &self {
            Node::Const(_) | Node::Var(_) => false,
            Node::Call(_, a) | Node::Powi(a, _) => a.is_const(),
            Node::Binary(_, a, b) => a.is_const() && b.is_const(),
            Node::If(args) => args.iter().all(Node::is_const),
        };
        if constant {
            Node::Const(self.eval(&[]))
        } else {
            self
        }
    }
}

const COMPARISON: u8 = 3;

impl Binary {
    /// Infix precedence for [`Parser::parse_binary`]; 0 for operators not parsed there.
    fn level(self) -> u8 {
        match self {
            Binary::Or => 1,
            Binary::And => 2,
            Binary::Eq | Binary::Ne | Binary::Lt | Binary::Le | Binary::Gt | Binary::Ge => {
                COMPARISON
            }
            Binary::Add | Binary::Sub => 4,
            Binary::Mul | Binary::Div | Binary::Rem => 5,
            Binary::Pow | Binary::Max | Binary::Min => 0,
        }
    }

    fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Binary::Or => f64::from(a != 0.0 || b != 0.0),
            Binary::And => f64::from(a != 0.0 && b != 0.0),
            Binary::Eq => f64::from(a == b),
            Binary::Ne => f64::from(a != b),
            Binary::Lt => f64::from(a < b),
            Binary::Le => f64::from(a <= b),
            Binary::Gt => f64::from(a > b),
            Binary::Ge => f64::from(a >= b),
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
            Binary::Rem => a % b,
            Binary::Pow => a.powf(b),
            Binary::Max => a.max(b),
            Binary::Min => a.min(b),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Func {
    Unary(fn(f64) -> f64),
    Pow,
    Variadic(Binary),
    Clamp,
    If,
}

/// Built-in functions, sorted by name (the order used in error messages).
const FUNCTIONS: &[(&str, Func)] = &[
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

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Num(f64),
    Ident,
    LParen,
    RParen,
    Comma,
    Op(Binary),
    Bang,
    End,
}

#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    tok: Tok,
    text: &'a str,
    column: usize,
}

fn unexpected(t: Token<'_>, what: &str) -> FormulaError {
    error(t.column, format!("unexpected `{}`{what}", t.text))
}

fn error(column: usize, message: impl Into<String>) -> FormulaError {
    FormulaError {
        message: message.into(),
        column,
    }
}

/// Splits `source` into tokens ending with `Tok::End`. Only ASCII is accepted outside of errors,
/// so byte offsets equal character offsets for every token.
fn lex(source: &str) -> Result<Vec<Token<'_>>, FormulaError> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut end_column = 1;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let two = bytes.get(i + 1).copied();
        let (tok, len) = match (c, two) {
            (b'0'..=b'9' | b'.', _) => {
                i += bytes[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit() || **b == b'.')
                    .count();
                if matches!(bytes.get(i), Some(b'e' | b'E')) {
                    i += 1;
                    if matches!(bytes.get(i), Some(b'+' | b'-')) {
                        i += 1;
                    }
                    i += bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                }
                let text = &source[start..i];
                let value = text
                    .parse()
                    .map_err(|_| error(start + 1, format!("malformed number `{text}`")))?;
                (Tok::Num(value), i - start)
            }
            (b'a'..=b'z' | b'A'..=b'Z' | b'_', _) => {
                let len = bytes[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                (Tok::Ident, len)
            }
            (b'|', Some(b'|')) => (Tok::Op(Binary::Or), 2),
            (b'&', Some(b'&')) => (Tok::Op(Binary::And), 2),
            (b'=', Some(b'=')) => (Tok::Op(Binary::Eq), 2),
            (b'!', Some(b'=')) => (Tok::Op(Binary::Ne), 2),
            (b'<', Some(b'=')) => (Tok::Op(Binary::Le), 2),
            (b'>', Some(b'=')) => (Tok::Op(Binary::Ge), 2),
            (b'<', _) => (Tok::Op(Binary::Lt), 1),
            (b'>', _) => (Tok::Op(Binary::Gt), 1),
            (b'*', _) => (Tok::Op(Binary::Mul), 1),
            (b'/', _) => (Tok::Op(Binary::Div), 1),
            (b'%', _) => (Tok::Op(Binary::Rem), 1),
            (b'+', _) => (Tok::Op(Binary::Add), 1),
            (b'-', _) => (Tok::Op(Binary::Sub), 1),
            (b'^', _) => (Tok::Op(Binary::Pow), 1),
            (b'!', _) => (Tok::Bang, 1),
            (b'(', _) => (Tok::LParen, 1),
            (b')', _) => (Tok::RParen, 1),
            (b',', _) => (Tok::Comma, 1),
            (b'=', _) => return Err(error(i + 1, "unexpected `=`; use `==` to compare")),
            (b'&', _) => return Err(error(i + 1, "unexpected `&`; use `&&` for logical and")),
            (b'|', _) => return Err(error(i + 1, "unexpected `|`; use `||` for logical or")),
            _ => {
                let ch = source[i..].chars().next().unwrap_or('?');
                return Err(error(i + 1, format!("unexpected character `{ch}`")));
            }
        };
        i = start + len;
        end_column = i + 1;
        tokens.push(Token {
            tok,
            text: &source[start..i],
            column: start + 1,
        });
    }
    tokens.push(Token {
        tok: Tok::End,
        text: "",
        column: end_column,
    });
    Ok(tokens)
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
    use super::*;

    const NAMES: [&str; 3] = ["x", "y", "z"];
    const VALUES: [f64; 3] = [2.0, 3.0, -0.5];

    fn parse(source: &str) -> Formula {
        Formula::parse(source, &NAMES).unwrap_or_else(|e| panic!("`{source}`: {e}"))
    }

    /// Checks each `(formula, expected)` at x = 2, y = 3, z = -0.5.
    fn check(cases: &[(&str, f64)]) {
        for &(source, expected) in cases {
            let got = parse(source).eval(&VALUES);
            assert!(
                (got - expected).abs() <= 1e-12,
                "`{source}` = {got}, expected {expected}"
            );
        }
    }

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
    fn numeric_literals() {
        #[rustfmt::skip]
        let cases = [
            ("1", 1.0), ("0.5", 0.5), (".5", 0.5), ("1e-3", 1e-3), ("2.5E+2", 250.0),
            ("3e2", 300.0), (" \t1.\n", 1.0), ("007", 7.0),
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
    fn design_examples() {
        let names = ["x1", "x2", "x3", "x4", "x5"];
        let tau = Formula::parse("max(x1, 0) + 0.5 * x2", &names).unwrap();
        assert!((tau.eval(&[-0.3, 0.4, 0.0, 0.0, 0.0]) - 0.2).abs() < 1e-15);
        assert!((tau.eval(&[0.6, 0.4, 0.0, 0.0, 0.0]) - 0.8).abs() < 1e-15);
        let p = Formula::parse("0.35 + 0.3 * (x5 > 0)", &names).unwrap();
        assert!((p.eval(&[0.0, 0.0, 0.0, 0.0, 1.2]) - 0.65).abs() < 1e-15);
        assert_eq!(p.eval(&[0.0, 0.0, 0.0, 0.0, -1.2]), 0.35);
        assert_eq!(p.used_variables(), vec![4]);
        let baseline = Formula::parse("x3 + x4^2", &names).unwrap();
        assert_eq!(baseline.eval(&[0.0, 0.0, 1.5, -3.0, 0.0]), 10.5);
        assert_eq!(baseline.used_variables(), vec![2, 3]);
    }

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

    #[test]
    fn logical_and_comparison_operators() {
        #[rustfmt::skip]
        let cases = [
            ("x == 2", 1.0), ("x != 2", 0.0), ("x < y", 1.0), ("x <= 2", 1.0), ("x > y", 0.0),
            ("y >= 3", 1.0), ("x && 0", 0.0), ("x && y", 1.0), ("0 || y", 1.0), ("0 || 0", 0.0),
            ("!x", 0.0), ("!(x > y)", 1.0), ("x > 1 && y < 4", 1.0), ("0.3 * (z < 0)", 0.3),
        ];
        check(&cases);
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
