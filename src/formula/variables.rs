//! The names a formula may use, indexed so that resolving a name costs the
//! same whatever the number of variables.

use std::collections::HashMap;

/// The names a formula may use, each resolved to its index in the list;
/// build it once to parse many formulas against a long list of names.
#[derive(Debug, Clone)]
pub struct Variables<'a> {
    names: &'a [&'a str],
    index: HashMap<&'a str, usize>,
}

impl<'a> Variables<'a> {
    /// Indexes `names`; a name listed twice resolves to its first position.
    pub fn new(names: &'a [&'a str]) -> Variables<'a> {
        let mut index = HashMap::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            index.entry(*name).or_insert(i);
        }
        Variables { names, index }
    }

    /// The names, in order.
    pub fn names(&self) -> &'a [&'a str] {
        self.names
    }

    /// The index of `name`, if it is one of the names.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
}
