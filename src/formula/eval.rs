//! The compiled expression tree and its evaluation: constant folding and the
//! binary operators' precedence and meaning.
//!
//! Evaluation recurses once per level of the tree, whose depth the parser
//! bounds by [`MAX_DEPTH`](super::MAX_DEPTH); a run of operators of one
//! precedence level (`x1 + x2 - x3 + ...`) or the arguments of `max` and
//! `min` are one [`Node::Chain`], walked in a loop, so a long flat sum costs
//! no depth.

/// A node of the compiled expression tree; variables are slice indices.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Const(f64),
    Var(usize),
    Call(fn(f64) -> f64, Box<Node>),
    Powi(Box<Node>, i32),
    Binary(Binary, Box<Node>, Box<Node>),
    Chain(Box<Chain>),
    If(Box<[Node; 3]>),
}

/// Operands joined left to right by operators of one precedence level:
/// `first op1 a1 op2 a2 ...` is `((first op1 a1) op2 a2) ...`, the value the
/// nested binary nodes would give, computed in a loop.
#[derive(Debug, Clone)]
pub(super) struct Chain {
    pub(super) first: Node,
    pub(super) rest: Vec<(Binary, Node)>,
}

/// A binary operator, infix or from a function such as `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Binary {
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
    pub(super) fn eval(&self, v: &[f64]) -> f64 {
        match self {
            Node::Const(c) => *c,
            Node::Var(i) => v[*i],
            Node::Call(f, a) => f(a.operand(v)),
            Node::Powi(a, n) => a.operand(v).powi(*n),
            Node::Binary(op, a, b) => op.apply(a.operand(v), b.operand(v)),
            Node::Chain(chain) => chain
                .rest
                .iter()
                .fold(chain.first.operand(v), |acc, (op, b)| {
                    op.apply(acc, b.operand(v))
                }),
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

    pub(super) fn is_const(&self) -> bool {
        matches!(self, Node::Const(_))
    }

    /// Replaces a node whose operands are all constants by its value.
    pub(super) fn folded(self) -> Node {
        let constant = match &self {
            Node::Const(_) | Node::Var(_) => false,
            Node::Call(_, a) | Node::Powi(a, _) => a.is_const(),
            Node::Binary(_, a, b) => a.is_const() && b.is_const(),
            Node::Chain(chain) => {
                chain.first.is_const() && chain.rest.iter().all(|(_, b)| b.is_const())
            }
            Node::If(args) => args.iter().all(Node::is_const),
        };
        if constant {
            Node::Const(self.eval(&[]))
        } else {
            self
        }
    }
}

/// Precedence level of the comparison operators, which cannot be chained.
pub(super) const COMPARISON: u8 = 3;

impl Binary {
    /// Infix precedence for [`Parser::parse_binary`]; 0 for operators not parsed there.
    pub(super) fn level(self) -> u8 {
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

    /// The operator's value at operands `a` and `b`.
    pub(super) fn apply(self, a: f64, b: f64) -> f64 {
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

#[cfg(test)]
mod tests {
    use crate::formula::testing::check;
    use crate::formula::Formula;

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
    fn logical_and_comparison_operators() {
        #[rustfmt::skip]
        let cases = [
            ("x == 2", 1.0), ("x != 2", 0.0), ("x < y", 1.0), ("x <= 2", 1.0), ("x > y", 0.0),
            ("y >= 3", 1.0), ("x && 0", 0.0), ("x && y", 1.0), ("0 || y", 1.0), ("0 || 0", 0.0),
            ("!x", 0.0), ("!(x > y)", 1.0), ("x > 1 && y < 4", 1.0), ("0.3 * (z < 0)", 0.3),
        ];
        check(&cases);
    }
}
