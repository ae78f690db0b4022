//! The complete aligned subtrees of one run of consecutive leaves, hashed on their own.
//!
//! `audit verify` checks a log in runs of leaves on several threads. If each run handed
//! its leaves to the single merging thread, that thread would hash one interior node per
//! leaf, serially. Instead each run hashes every aligned node that lies wholly inside it
//! ([`RangeNodes`]), and the merge joins a run to the tree with a few of those nodes
//! ([`TreeBuilder::extend_to`]) and computes the root at a size inside the run without
//! changing the tree ([`TreeBuilder::root_at`]).

use super::{fold_edge, node_hash, Hash, TreeBuilder};

/// Every complete aligned subtree inside the leaves `[first, first + len)`: node
/// `(level k, index i)` (leaves `[i << k, (i + 1) << k)`) is kept once all its leaves are in.
#[derive(Debug, Clone, Default)]
pub struct RangeNodes {
    first: u64,
    /// `levels[k][j]` is the node at level `k` with index `first_index(first, k) + j`.
    levels: Vec<Vec<Hash>>,
}

/// Index of the first level-`level` node that starts at or after leaf `first`.
fn first_index(first: u64, level: usize) -> u64 {
    first.div_ceil(1u64 << level)
}

impl RangeNodes {
    /// An empty run starting at leaf `first`, with room for about `len` leaves.
    pub fn new(first: u64, len: usize) -> Self {
        Self { first, levels: vec![Vec::with_capacity(len)] }
    }

    /// Leaves in the run.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One past the run's last leaf.
    pub fn end(&self) -> u64 {
        self.first + self.len()
    }

    /// Appends the next leaf and hashes every node it completes inside the run.
    pub fn push(&mut self, leaf: Hash) {
        let index = self.end();
        self.levels[0].push(leaf);
        let mut level = 0;
        // The node one level up ends at this leaf if `index + 1` is a multiple of its
        // width; it lies inside the run if it starts at or after `first`.
        while level < 63 {
            let width = 1u64 << (level + 1);
            if (index + 1) & (width - 1) != 0 || index + 1 - width < self.first {
                break;
            }
            let [.., left, right] = self.levels[level].as_slice() else { break };
            let parent = node_hash(left, right);
            level += 1;
            if self.levels.len() == level {
                let room = self.levels[0].capacity() >> level;
                self.levels.push(Vec::with_capacity(room));
            }
            self.levels[level].push(parent);
        }
    }

    /// The node at `level` covering leaves from `start` (aligned), if it is inside the run.
    fn node(&self, level: usize, start: u64) -> Option<&Hash> {
        let index = (start >> level).checked_sub(first_index(self.first, level))?;
        self.levels.get(level)?.get(usize::try_from(index).ok()?)
    }

    /// The largest aligned nodes that tile `[from, to)`, left to right (each as its level
    /// and hash); None if that range is not inside the run.
    fn tiles(&self, from: u64, to: u64) -> Option<Vec<(u32, Hash)>> {
        if from < self.first || to > self.end() || from > to {
            return None;
        }
        let mut out = Vec::new();
        let mut at = from;
        while at < to {
            // As wide as `at`'s alignment allows and the range still holds.
            let level = at.trailing_zeros().min(63 - (to - at).leading_zeros());
            out.push((level, *self.node(level as usize, at)?));
            at += 1u64 << level;
        }
        Some(out)
    }
}

/// Why a run could not be joined to a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("leaves {from}..{to} are not all in the run that was handed over")]
pub struct NotInRun {
    pub from: u64,
    pub to: u64,
}

impl TreeBuilder {
    /// Appends the run's leaves from the tree's size up to `to`, as whole subtrees.
    pub fn extend_to(&mut self, run: &RangeNodes, to: u64) -> Result<(), NotInRun> {
        let from = self.size;
        for (level, hash) in run.tiles(from, to).ok_or(NotInRun { from, to })? {
            self.push_subtree(level, hash);
        }
        Ok(())
    }

    /// The root the tree would have if extended with the run's leaves up to `to`.
    pub fn root_at(&self, run: &RangeNodes, to: u64) -> Result<Hash, NotInRun> {
        let from = self.size;
        let tiles = run.tiles(from, to).ok_or(NotInRun { from, to })?;
        let mut grown = self.clone();
        for (level, hash) in tiles {
            grown.push_subtree(level, hash);
        }
        Ok(fold_edge(&grown.edge))
    }

    /// Appends a complete subtree of `2^level` leaves. Callers pass only subtrees that
    /// start at a multiple of their width ([`RangeNodes::tiles`] yields no other kind), so
    /// the edge's smaller subtrees merge with it exactly as its leaves would have.
    fn push_subtree(&mut self, level: u32, hash: Hash) {
        let mut hash = hash;
        for _ in 0..(self.size >> level).trailing_ones() {
            let Some(left) = self.edge.pop() else { break };
            hash = node_hash(&left, &hash);
        }
        self.edge.push(hash);
        self.size += 1u64 << level;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::audit::merkle::{leaf_hash, root_from_leaves};
    use proptest::prelude::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// Joins `all` to a tree in runs of `run` leaves, checking the root at every size.
    fn joined_in_runs(all: &[Hash], run: usize) {
        let mut tree = TreeBuilder::new();
        for (n, part) in all.chunks(run).enumerate() {
            let first = (n * run) as u64;
            let mut nodes = RangeNodes::new(first, part.len());
            part.iter().for_each(|leaf| nodes.push(*leaf));
            for size in first..=nodes.end() {
                assert_eq!(tree.root_at(&nodes, size).unwrap(), root_from_leaves(&all[..size as usize]), "size {size}");
            }
            tree.extend_to(&nodes, nodes.end()).unwrap();
            assert_eq!(tree.root(), root_from_leaves(&all[..nodes.end() as usize]));
        }
        assert_eq!(tree.size(), all.len() as u64);
    }

    #[test]
    fn runs_of_any_width_join_into_the_tree_their_leaves_make() {
        let all = leaves(70);
        for run in [1, 2, 3, 4, 5, 8, 16, 33, 64, 70, 100] {
            joined_in_runs(&all, run);
        }
    }

    #[test]
    fn a_range_outside_the_run_is_refused() {
        let mut nodes = RangeNodes::new(8, 8);
        leaves(4).into_iter().for_each(|leaf| nodes.push(leaf));
        let tree = TreeBuilder::new();
        assert_eq!(tree.root_at(&nodes, 10), Err(NotInRun { from: 0, to: 10 }));
        let mut at_eight = TreeBuilder::new();
        at_eight.extend_to(&run_of(&leaves(8), 0), 8).unwrap();
        assert_eq!(at_eight.root_at(&nodes, 13), Err(NotInRun { from: 8, to: 13 }));
        assert!(at_eight.root_at(&nodes, 12).is_ok());
    }

    fn run_of(all: &[Hash], first: u64) -> RangeNodes {
        let mut nodes = RangeNodes::new(first, all.len());
        all.iter().for_each(|leaf| nodes.push(*leaf));
        nodes
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_split_into_runs_gives_the_roots_of_the_leaves(n in 1u64..300, cuts in proptest::collection::vec(1u64..300, 0..6)) {
            let all = leaves(n);
            let mut bounds: Vec<u64> = cuts.into_iter().filter(|c| *c < n).collect();
            bounds.push(0);
            bounds.push(n);
            bounds.sort_unstable();
            bounds.dedup();
            let mut tree = TreeBuilder::new();
            for pair in bounds.windows(2) {
                let run = run_of(&all[pair[0] as usize..pair[1] as usize], pair[0]);
                let middle = (pair[0] + pair[1]) / 2;
                prop_assert_eq!(tree.root_at(&run, middle).unwrap(), root_from_leaves(&all[..middle as usize]));
                tree.extend_to(&run, pair[1]).unwrap();
            }
            prop_assert_eq!(tree.root(), root_from_leaves(&all));
        }
    }
}
