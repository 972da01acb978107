//! Building the expression tree with each node's depth, so that no tree
//! deeper than [`MAX_DEPTH`] is ever built, and with long runs of one
//! operator as flat chains.

use super::eval::{Binary, Chain, Node};
use super::MAX_DEPTH;

/// A node with the depth of its tree (1 for a leaf).
pub(super) struct Tree {
    /// The node.
    pub(super) node: Node,
    /// Levels of its tree, itself included.
    pub(super) depth: usize,
}

impl Tree {
    /// A constant or a variable.
    pub(super) fn leaf(node: Node) -> Tree {
        Tree { node, depth: 1 }
    }

    /// `node`, whose deepest child is `below` levels deep, constant-folded;
    /// None when its tree would be deeper than [`MAX_DEPTH`]. Out of line, to
    /// keep the frames of the parser's recursion small.
    #[inline(never)]
    pub(super) fn grow(node: Node, below: usize) -> Option<Tree> {
        if below >= MAX_DEPTH {
            return None;
        }
        let node = node.folded();
        let depth = if node.is_const() { 1 } else { below + 1 };
        Some(Tree { node, depth })
    }

    /// `a op b`, folded; None when too deep.
    pub(super) fn binary(op: Binary, a: Tree, b: Tree) -> Option<Tree> {
        let below = a.depth.max(b.depth);
        Tree::grow(Node::Binary(op, Box::new(a.node), Box::new(b.node)), below)
    }
}

/// Operands joined left to right by operators of one level, as they are
/// parsed: a leading run of constants is folded as it comes, as nested
/// binary nodes would fold it, and the rest becomes one [`Chain`].
pub(super) struct ChainBuilder {
    /// The first operand (the folded leading constants, while nothing else came).
    first: Tree,
    /// Each later operator with its right operand.
    rest: Vec<(Binary, Node)>,
    /// Depth of the deepest operand.
    below: usize,
}

impl ChainBuilder {
    /// A chain that starts with `first`.
    pub(super) fn new(first: Tree) -> ChainBuilder {
        let below = first.depth;
        ChainBuilder {
            first,
            rest: Vec::new(),
            below,
        }
    }

    /// Appends `op operand`.
    pub(super) fn push(&mut self, op: Binary, operand: Tree) {
        if self.rest.is_empty() {
            if let (Node::Const(a), Node::Const(b)) = (&self.first.node, &operand.node) {
                self.first = Tree::leaf(Node::Const(op.apply(*a, *b)));
                return;
            }
        }
        self.below = self.below.max(operand.depth);
        self.rest.push((op, operand.node));
    }

    /// The chain as a node: its first operand alone, one binary node, or a
    /// [`Chain`]; None when too deep.
    #[inline(never)]
    pub(super) fn finish(self) -> Option<Tree> {
        let ChainBuilder {
            first,
            mut rest,
            below,
        } = self;
        match rest.len() {
            0 => Some(first),
            1 => {
                let (op, b) = rest.pop()?;
                Tree::grow(Node::Binary(op, Box::new(first.node), Box::new(b)), below)
            }
            _ => Tree::grow(
                Node::Chain(Box::new(Chain {
                    first: first.node,
                    rest,
                })),
                below,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::formula::eval::Node;
    use crate::formula::testing::{on_small_stack, parse, NAMES, VALUES};
    use crate::formula::Formula;

    #[test]
    fn long_flat_sums_and_variadic_calls_are_one_level() {
        on_small_stack(|| {
            // 5,000 terms in 9,999 characters, within the length limit.
            let sum = format!("{}x", "x+".repeat(4999));
            let f = parse(&sum);
            assert_eq!(f.eval(&VALUES), 10_000.0);
            assert!(matches!(f.root, Node::Chain(_)));
            let mixed = format!("1{}", "+x-y*z".repeat(1600));
            assert!((parse(&mixed).eval(&VALUES) - 1.0 - 1600.0 * 3.5).abs() < 1e-9);
            let max = format!("max({}z)", "x, ".repeat(3000));
            assert_eq!(parse(&max).eval(&VALUES), 2.0);
            let clone = f.clone();
            drop(f);
            assert_eq!(clone.eval(&VALUES), 10_000.0);
        });
    }

    #[test]
    fn constant_runs_fold_as_nested_binary_nodes_would() {
        assert!(matches!(parse("1 + 2 * 3 - 4").root, Node::Const(c) if c == 3.0));
        assert!(matches!(parse("1 + 2 + x").root, Node::Binary(..)));
        assert!(matches!(parse("x + 1 + 2").root, Node::Chain(_)));
        assert!(matches!(parse("max(1, 2, x)").root, Node::Binary(..)));
    }

    #[test]
    fn trees_deeper_than_the_limit_are_never_built() {
        // Each group adds six levels of tree and two of nesting.
        let groups = 40;
        let source = format!(
            "{}x{}",
            "x || x && x == x + x * -(".repeat(groups),
            ")".repeat(groups)
        );
        let e = on_small_stack(move || Formula::parse(&source, &NAMES).expect_err("too deep"));
        assert!(e.message.contains("more than 200 levels"), "{e}");
        let fits = format!(
            "{}x{}",
            "x || x && x == x + x * -(".repeat(30),
            ")".repeat(30)
        );
        let value = on_small_stack(move || parse(&fits).eval(&VALUES));
        assert_eq!(value, 1.0);
    }
}
