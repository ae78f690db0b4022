//! RFC 6962 / RFC 9162 Merkle tree hashing and proofs for the tamper-evident audit log.
//!
//! Pure functions only: no I/O and no database. The database keeps one row per *stored
//! node*, the hash of a complete aligned subtree: node `(level L, index i)` covers the
//! leaves `[i * 2^L, (i + 1) * 2^L)`, level 0 being the leaf hashes themselves. Every
//! range the RFC's `MTH` recursion needs is either such a node or a right-edge range
//! `[a, end)` that splits into a few of them, so a proof or a root of any size can be
//! computed from stored nodes without re-reading leaves.
//!
//! Proof generation is two-phase so a caller can fetch everything in one query: first
//! ask which nodes are needed (`*_nodes`), then pass the fetched map to the function
//! that builds the proof. Verification follows the RFC 9162 §2.1.3.2 and §2.1.4.2
//! algorithms literally, so a proof that verifies here verifies in any RFC 9162 client.

use ring::digest;
use std::collections::HashMap;

mod range;
pub use range::{NotInRun, RangeNodes};

/// A SHA-256 digest: leaf hash, interior node hash or tree root.
pub type Hash = [u8; 32];

/// Position of a stored node: `(level, index)`; it covers leaves `[index << level, (index + 1) << level)`.
pub type NodeKey = (u8, u64);

/// Domain-separation prefix for leaves (RFC 6962 §2.1), so a leaf can never pass for a node.
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix for interior nodes (RFC 6962 §2.1).
const NODE_PREFIX: u8 = 0x01;

/// Why a Merkle computation or verification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// A leaf index at or past the end of the tree: there is nothing to prove.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A consistency request whose old size is larger than its new size (the log cannot shrink).
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    OldSizeTooLarge { old_size: u64, new_size: u64 },
    /// The caller's node map lacks a stored node the computation needs.
    #[error("stored node (level {level}, index {index}) is missing")]
    MissingNode { level: u8, index: u64 },
    /// The proof has the wrong number of hashes for the given index and sizes.
    #[error("proof has {actual} hashes, expected {expected}")]
    ProofLength { expected: usize, actual: usize },
    /// The proof does not lead to the expected (new) root.
    #[error("computed root does not match the expected root")]
    RootMismatch,
    /// The consistency proof does not lead to the expected old root.
    #[error("computed old root does not match the expected old root")]
    OldRootMismatch,
    /// The tree already holds `u64::MAX` leaves and cannot take another.
    #[error("tree is full")]
    TreeFull,
}

/// A complete aligned subtree as the database stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoredNode {
    /// Height above the leaves (0 = leaf hash).
    pub level: u8,
    /// Position within the level: the node covers leaves `[index << level, (index + 1) << level)`.
    pub index: u64,
    /// `MTH` of the covered leaves.
    pub hash: Hash,
}

impl StoredNode {
    /// The `(level, index)` key under which the node is stored and looked up.
    pub fn key(&self) -> NodeKey {
        (self.level, self.index)
    }
}

/// SHA-256 of `data`, as a fixed-size array so hashes can be copied and compared cheaply.
fn sha256(data: &[u8]) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

/// Leaf hash `SHA-256(0x00 || data)` (RFC 6962 §2.1); the prefix stops a leaf posing as a node.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[LEAF_PREFIX]);
    ctx.update(data);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Interior node hash `SHA-256(0x01 || left || right)` (RFC 6962 §2.1).
///
/// Hashes one stack buffer in a single call: this is the hot path of every root computation.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = NODE_PREFIX;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    sha256(&buf)
}

/// Root of the empty tree, `SHA-256("")` (RFC 6962 §2.1), so size 0 still has a checkable root.
pub fn empty_root() -> Hash {
    sha256(&[])
}

/// Largest power of two strictly less than `n` (the RFC 6962 split point); defined for `n >= 2`.
///
/// Saturates to 1 for smaller `n` instead of overflowing, so it can never panic.
fn split_point(n: u64) -> u64 {
    1u64 << 63u32.saturating_sub(n.saturating_sub(1).leading_zeros())
}

/// Folds the hashes of a right edge (left to right, each subtree smaller than the one before)
/// into the `MTH` of their union: the right-most pair is joined first, as the RFC recursion does.
fn fold_edge(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    match iter.next() {
        None => empty_root(),
        Some(last) => iter.fold(*last, |acc, left| node_hash(left, &acc)),
    }
}

/// Looks a stored node up, naming it in the error when the caller did not fetch it.
fn lookup(nodes: &HashMap<NodeKey, Hash>, key: NodeKey) -> Result<Hash, MerkleError> {
    nodes.get(&key).copied().ok_or(MerkleError::MissingNode { level: key.0, index: key.1 })
}

/// Adds leaf number `index` to a right-edge stack, merging the subtrees it completes, and
/// reports every node that becomes complete (the leaf itself first, then its new ancestors).
///
/// The stack holds one hash per set bit of `index` (largest subtree first); shared by
/// [`TreeBuilder`] and [`root_from_leaves`] so both run the same allocation-free loop.
fn append_leaf(edge: &mut Vec<Hash>, index: u64, leaf: Hash, mut on_complete: impl FnMut(StoredNode)) {
    let mut hash = leaf;
    on_complete(StoredNode { level: 0, index, hash });
    for level in 1..=index.trailing_ones() {
        let Some(left) = edge.pop() else { break };
        hash = node_hash(&left, &hash);
        // `level` <= 64 because it counts trailing ones of a u64, so it always fits a u8.
        on_complete(StoredNode { level: level as u8, index: index.checked_shr(level).unwrap_or(0), hash });
    }
    edge.push(hash);
}

/// `MTH` of a list of leaf hashes (RFC 6962 §2.1), computed bottom-up with an O(log n) stack.
///
/// Equal to the RFC's recursive split at the largest power of two below `n`, but does
/// exactly `n - 1` node hashes and no per-node allocation, so 10M leaves run at SHA-256 speed.
pub fn root_from_leaves(leaves: &[Hash]) -> Hash {
    let mut edge = Vec::with_capacity(64);
    for (index, leaf) in (0u64..).zip(leaves) {
        append_leaf(&mut edge, index, *leaf, |_| {});
    }
    fold_edge(&edge)
}

/// The stored nodes a sealer must fetch to extend a tree of `size` leaves: the complete
/// subtrees on its right edge, one per set bit of `size`, largest (left-most) first.
///
/// They are also exactly the nodes [`root`] needs, since the root folds them together.
pub fn right_edge_nodes(size: u64) -> Vec<NodeKey> {
    Span { start: 0, end: size }.nodes().collect()
}

/// Streaming tree builder: takes leaf hashes one at a time, keeps only the right edge.
///
/// The verifier streams millions of leaves through it and checks [`TreeBuilder::root`] at
/// each checkpoint size; the sealer resumes it from stored nodes with
/// [`TreeBuilder::from_right_edge`] and stores the nodes [`TreeBuilder::push_with`] reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeBuilder {
    size: u64,
    /// One complete subtree per set bit of `size`, largest (left-most) first.
    edge: Vec<Hash>,
}

impl TreeBuilder {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resumes a tree of `size` leaves from its stored right edge (see [`right_edge_nodes`]),
    /// so appending never needs the earlier leaves.
    pub fn from_right_edge(size: u64, nodes: &HashMap<NodeKey, Hash>) -> Result<Self, MerkleError> {
        let edge = right_edge_nodes(size).into_iter().map(|key| lookup(nodes, key)).collect::<Result<_, _>>()?;
        Ok(Self { size, edge })
    }

    /// Number of leaves pushed so far (including those of the resumed tree).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Root of the first `size()` leaves; O(log n) hashes, cheap enough to call at every checkpoint.
    pub fn root(&self) -> Hash {
        fold_edge(&self.edge)
    }

    /// The current right-edge subtrees, largest first: what a later sealer resumes from.
    pub fn right_edge(&self) -> Vec<StoredNode> {
        right_edge_nodes(self.size)
            .into_iter()
            .zip(&self.edge)
            .map(|((level, index), hash)| StoredNode { level, index, hash: *hash })
            .collect()
    }

    /// Appends one leaf hash.
    pub fn push(&mut self, leaf: Hash) -> Result<(), MerkleError> {
        self.push_with(leaf, |_| {})
    }

    /// Appends one leaf hash and reports each node it completes (level 0 first, then the
    /// ancestors it finishes), so the caller can store them as it goes.
    pub fn push_with(&mut self, leaf: Hash, on_complete: impl FnMut(StoredNode)) -> Result<(), MerkleError> {
        let index = self.size;
        let next = index.checked_add(1).ok_or(MerkleError::TreeFull)?;
        append_leaf(&mut self.edge, index, leaf, on_complete);
        self.size = next;
        Ok(())
    }
}

/// Every stored node that becomes complete when `new_leaves` are appended to a tree of
/// `old_size` leaves, in completion order, level-0 nodes included.
///
/// `right_edge` must hold the nodes listed by [`right_edge_nodes`]`(old_size)` (extra
/// entries are ignored). Use [`TreeBuilder::from_right_edge`] directly if the new root is
/// wanted too.
pub fn new_complete_nodes(
    old_size: u64,
    right_edge: &HashMap<NodeKey, Hash>,
    new_leaves: &[Hash],
) -> Result<Vec<StoredNode>, MerkleError> {
    let mut builder = TreeBuilder::from_right_edge(old_size, right_edge)?;
    let mut out = Vec::with_capacity(new_leaves.len().saturating_mul(2).saturating_add(64));
    for leaf in new_leaves {
        builder.push_with(*leaf, |node| out.push(node))?;
    }
    Ok(out)
}

/// A leaf range `[start, end)` that occurs as a subtree in the RFC 6962 `MTH` recursion:
/// `start` is aligned to a power of two at least as large as the width.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u64,
    end: u64,
}

impl Span {
    /// The complete aligned subtrees that tile the span, largest (left-most) first: one per
    /// set bit of its width. A complete subtree is a single node.
    fn nodes(self) -> impl Iterator<Item = NodeKey> {
        let width = self.end.saturating_sub(self.start);
        (0..64u8).rev().filter(move |level| (width >> level) & 1 == 1).scan(self.start, |pos, level| {
            let key = (level, *pos >> level);
            *pos = pos.saturating_add(1u64 << level);
            Some(key)
        })
    }

    /// `MTH` of the span from stored nodes.
    fn hash(self, nodes: &HashMap<NodeKey, Hash>) -> Result<Hash, MerkleError> {
        let hashes = self.nodes().map(|key| lookup(nodes, key)).collect::<Result<Vec<_>, _>>()?;
        Ok(fold_edge(&hashes))
    }
}

/// The subtrees whose roots form `PATH(index, D[0:size])` (RFC 6962 §2.1.1), in proof
/// order (deepest sibling first). Walks the recursion top-down, then reverses.
fn inclusion_spans(index: u64, size: u64) -> Result<Vec<Span>, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let (mut lo, mut hi) = (0u64, size);
    let mut spans = Vec::with_capacity(64);
    while hi - lo > 1 {
        let mid = lo + split_point(hi - lo);
        if index < mid {
            spans.push(Span { start: mid, end: hi });
            hi = mid;
        } else {
            spans.push(Span { start: lo, end: mid });
            lo = mid;
        }
    }
    spans.reverse();
    Ok(spans)
}

/// The subtrees whose roots form `PROOF(old, D[0:new])` = `SUBPROOF(old, D[0:new], true)`
/// (RFC 6962 §2.1.2), in proof order. Empty when `old` is 0 or equal to `new`.
fn consistency_spans(old: u64, new: u64) -> Result<Vec<Span>, MerkleError> {
    if old > new {
        return Err(MerkleError::OldSizeTooLarge { old_size: old, new_size: new });
    }
    let mut spans = Vec::with_capacity(64);
    if old == 0 || old == new {
        return Ok(spans);
    }
    // Invariant: lo < old <= hi, and `whole` is the SUBPROOF flag b.
    let (mut lo, mut hi, mut whole) = (0u64, new, true);
    while old < hi {
        let mid = lo + split_point(hi - lo);
        if old <= mid {
            spans.push(Span { start: mid, end: hi });
            hi = mid;
        } else {
            spans.push(Span { start: lo, end: mid });
            lo = mid;
            whole = false;
        }
    }
    if !whole {
        spans.push(Span { start: lo, end: hi });
    }
    spans.reverse();
    Ok(spans)
}

/// Every stored node needed to build the inclusion proof of leaf `index` in a tree of `size`.
pub fn inclusion_proof_nodes(index: u64, size: u64) -> Result<Vec<NodeKey>, MerkleError> {
    Ok(inclusion_spans(index, size)?.into_iter().flat_map(Span::nodes).collect())
}

/// The RFC 6962 inclusion proof (audit path) of leaf `index` in a tree of `size`, from the
/// nodes listed by [`inclusion_proof_nodes`].
pub fn inclusion_proof(index: u64, size: u64, nodes: &HashMap<NodeKey, Hash>) -> Result<Vec<Hash>, MerkleError> {
    inclusion_spans(index, size)?.into_iter().map(|span| span.hash(nodes)).collect()
}

/// Every stored node needed to build the consistency proof from `old_size` to `new_size`.
pub fn consistency_proof_nodes(old_size: u64, new_size: u64) -> Result<Vec<NodeKey>, MerkleError> {
    Ok(consistency_spans(old_size, new_size)?.into_iter().flat_map(Span::nodes).collect())
}

/// The RFC 6962 consistency proof from `old_size` to `new_size` (empty when `old_size` is 0
/// or equals `new_size`), from the nodes listed by [`consistency_proof_nodes`].
pub fn consistency_proof(
    old_size: u64,
    new_size: u64,
    nodes: &HashMap<NodeKey, Hash>,
) -> Result<Vec<Hash>, MerkleError> {
    consistency_spans(old_size, new_size)?.into_iter().map(|span| span.hash(nodes)).collect()
}

/// Every stored node needed to compute the root of a tree of `size` (its right edge).
pub fn root_nodes(size: u64) -> Vec<NodeKey> {
    right_edge_nodes(size)
}

/// Root of the first `size` leaves from the nodes listed by [`root_nodes`], so any past
/// checkpoint can be recomputed without reading leaves.
pub fn root(size: u64, nodes: &HashMap<NodeKey, Hash>) -> Result<Hash, MerkleError> {
    Span { start: 0, end: size }.hash(nodes)
}

/// Fails with [`MerkleError::ProofLength`] unless the proof has exactly `expected` hashes.
fn check_len(proof: &[Hash], expected: usize) -> Result<(), MerkleError> {
    if proof.len() == expected {
        Ok(())
    } else {
        Err(MerkleError::ProofLength { expected, actual: proof.len() })
    }
}

/// Shifts `fn_` and `sn` right together until `fn_` is odd or zero (RFC 9162 step b.2).
fn shift_to_odd(fn_: &mut u64, sn: &mut u64) {
    while *fn_ & 1 == 0 && *fn_ != 0 {
        *fn_ >>= 1;
        *sn >>= 1;
    }
}

/// Checks that `leaf` is leaf `index` of the tree of `size` whose root is `root`
/// (RFC 9162 §2.1.3.2).
///
/// The proof length is checked up front so a malformed proof gets a precise error; the
/// RFC algorithm itself then runs unchanged.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<(), MerkleError> {
    let expected = inclusion_spans(index, size)?.len();
    check_len(proof, expected)?;
    let length_error = MerkleError::ProofLength { expected, actual: proof.len() };
    let (mut fn_, mut sn, mut r) = (index, size - 1, *leaf);
    for p in proof {
        if sn == 0 {
            return Err(length_error);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            shift_to_odd(&mut fn_, &mut sn);
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(length_error);
    }
    if r != *root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `new_size` with root `new_root` extends the tree of `old_size`
/// with root `old_root` (RFC 9162 §2.1.4.2): the log was only appended to.
///
/// Trivial cases, which the RFC leaves to the caller, are strict: an old size of 0 needs
/// an empty proof and `old_root == empty_root()`; equal sizes need an empty proof and
/// equal roots; a shrinking log is rejected.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    let expected = consistency_spans(old_size, new_size)?.len();
    check_len(proof, expected)?;
    if old_size == 0 {
        return verify_from_empty(new_size, old_root, new_root);
    }
    if old_size == new_size {
        return if old_root == new_root { Ok(()) } else { Err(MerkleError::RootMismatch) };
    }
    let sizes = (old_size, new_size);
    let length_error = MerkleError::ProofLength { expected, actual: proof.len() };
    verify_consistency_path(sizes, old_root, new_root, proof).ok_or(length_error)?
}

/// The empty tree is a prefix of every tree; only its own root is checkable.
fn verify_from_empty(new_size: u64, old_root: &Hash, new_root: &Hash) -> Result<(), MerkleError> {
    let empty = empty_root();
    if *old_root != empty {
        return Err(MerkleError::OldRootMismatch);
    }
    if new_size == 0 && *new_root != empty {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// The RFC 9162 §2.1.4.2 algorithm for `0 < old_size < new_size`.
///
/// `None` means the proof has the wrong shape for the sizes (the caller reports it as a
/// length error); `Some` carries the root comparison.
fn verify_consistency_path(
    (old_size, new_size): (u64, u64),
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Option<Result<(), MerkleError>> {
    // Step 2: when old_size is a power of two its root is the first path element.
    let (first, rest) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        let (first, rest) = proof.split_first()?;
        (*first, rest)
    };
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (first, first);
    for c in rest {
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            shift_to_odd(&mut fn_, &mut sn);
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return None;
    }
    Some(if fr != *old_root {
        Err(MerkleError::OldRootMismatch)
    } else if sr != *new_root {
        Err(MerkleError::RootMismatch)
    } else {
        Ok(())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    // ---- Independent naive reference: the RFC 6962 §2.1 recursive definitions, verbatim. ----

    fn ref_split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// MTH(D[n]) over leaf hashes.
    fn ref_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = ref_split(n);
                node_hash(&ref_root(&leaves[..k]), &ref_root(&leaves[k..]))
            }
        }
    }

    /// PATH(m, D[n]).
    fn ref_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = ref_split(n);
        let (mut path, sibling) = if m < k {
            (ref_path(m, &leaves[..k]), ref_root(&leaves[k..]))
        } else {
            (ref_path(m - k, &leaves[k..]), ref_root(&leaves[..k]))
        };
        path.push(sibling);
        path
    }

    /// SUBPROOF(m, D[n], b).
    fn ref_subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if b { Vec::new() } else { vec![ref_root(leaves)] };
        }
        let k = ref_split(n);
        let (mut proof, extra) = if m <= k {
            (ref_subproof(m, &leaves[..k], b), ref_root(&leaves[k..]))
        } else {
            (ref_subproof(m - k, &leaves[k..], false), ref_root(&leaves[..k]))
        };
        proof.push(extra);
        proof
    }

    /// PROOF(m, D[n]); empty for m == 0 or m == n.
    fn ref_consistency(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        if m == 0 || m == leaves.len() {
            Vec::new()
        } else {
            ref_subproof(m, leaves, true)
        }
    }

    /// Every complete aligned subtree of the tree, computed level by level from the definition.
    fn ref_complete_nodes(leaves: &[Hash]) -> BTreeMap<NodeKey, Hash> {
        let mut out = BTreeMap::new();
        for level in 0..64u8 {
            let width = 1usize << level;
            if width > leaves.len() {
                break;
            }
            for (index, chunk) in leaves.chunks_exact(width).enumerate() {
                out.insert((level, index as u64), ref_root(chunk));
            }
        }
        out
    }

    /// Only the listed nodes, to prove the `*_nodes` lists are sufficient on their own.
    fn restrict(all: &BTreeMap<NodeKey, Hash>, keys: &[NodeKey]) -> HashMap<NodeKey, Hash> {
        keys.iter().map(|k| (*k, *all.get(k).unwrap_or_else(|| panic!("node {k:?} not in tree")))).collect()
    }

    fn leaves_for(size: usize, seed: u64) -> Vec<Hash> {
        (0..size as u64).map(|i| leaf_hash(&(seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes())).collect()
    }

    fn flip(mut h: Hash, byte: usize) -> Hash {
        h[byte % 32] ^= 0x10;
        h
    }

    // ---- Known answers: transparency-dev/merkle testonly/constants.go, reference_test.go and
    // ---- proof/verify_test.go (the certificate-transparency RFC 6962 vectors). ----

    fn h(hex: &str) -> Hash {
        assert_eq!(hex.len(), 64, "{hex}");
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    fn bytes(hex: &str) -> Vec<u8> {
        (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect()
    }

    const LEAF_INPUTS: [&str; 8] =
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];

    /// Roots for sizes 0..=8.
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// Every complete subtree of the 8-leaf tree, by level then index.
    const NODE_HASHES: [&[&str]; 4] = [
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
            "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
        ],
        &[
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        ],
        &[
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
        &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
    ];

    /// (index, size, proof): 0-based leaf index.
    const INCLUSION_VECTORS: &[(u64, u64, &[&str])] = &[
        (0, 1, &[]),
        (0, 2, &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
        (1, 2, &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
        (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];

    /// (old size, new size, proof).
    const CONSISTENCY_VECTORS: &[(u64, u64, &[&str])] = &[
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];

    fn kat_leaves() -> Vec<Hash> {
        LEAF_INPUTS.iter().map(|input| leaf_hash(&bytes(input))).collect()
    }

    /// Stored nodes of the 8-leaf tree, as the sealer would produce them.
    fn kat_store() -> HashMap<NodeKey, Hash> {
        new_complete_nodes(0, &HashMap::new(), &kat_leaves()).unwrap().iter().map(|n| (n.key(), n.hash)).collect()
    }

    fn hashes(hex: &[&str]) -> Vec<Hash> {
        hex.iter().map(|x| h(x)).collect()
    }

    #[test]
    fn kat_empty_root_and_primitives() {
        assert_eq!(empty_root(), h(ROOTS[0]));
        assert_eq!(root_from_leaves(&[]), h(ROOTS[0]));
        assert_eq!(TreeBuilder::new().root(), h(ROOTS[0]));
        assert_eq!(root(0, &HashMap::new()).unwrap(), h(ROOTS[0]));
        let leaves = kat_leaves();
        assert_eq!(node_hash(&leaves[0], &leaves[1]), h(NODE_HASHES[1][0]));
    }

    #[test]
    fn kat_roots_for_every_size() {
        let leaves = kat_leaves();
        let store: BTreeMap<NodeKey, Hash> = kat_store().into_iter().collect();
        let mut builder = TreeBuilder::new();
        for size in 1..=8usize {
            builder.push(leaves[size - 1]).unwrap();
            let want = h(ROOTS[size]);
            assert_eq!(root_from_leaves(&leaves[..size]), want, "root_from_leaves size {size}");
            assert_eq!(builder.root(), want, "TreeBuilder size {size}");
            assert_eq!(ref_root(&leaves[..size]), want, "reference size {size}");
            let needed = restrict(&store, &root_nodes(size as u64));
            assert_eq!(root(size as u64, &needed).unwrap(), want, "root from stored nodes size {size}");
        }
    }

    #[test]
    fn kat_stored_nodes() {
        let store = kat_store();
        let mut want = HashMap::new();
        for (level, row) in NODE_HASHES.iter().enumerate() {
            for (index, hex) in row.iter().enumerate() {
                want.insert((level as u8, index as u64), h(hex));
            }
        }
        assert_eq!(store, want);
    }

    #[test]
    fn kat_inclusion_proofs() {
        let leaves = kat_leaves();
        let store = kat_store();
        for &(index, size, proof) in INCLUSION_VECTORS {
            let want = hashes(proof);
            assert_eq!(inclusion_proof(index, size, &store).unwrap(), want, "proof {index}/{size}");
            assert_eq!(ref_path(index as usize, &leaves[..size as usize]), want, "reference {index}/{size}");
            verify_inclusion(&leaves[index as usize], index, size, &want, &h(ROOTS[size as usize])).unwrap();
        }
    }

    #[test]
    fn kat_consistency_proofs() {
        let leaves = kat_leaves();
        let store = kat_store();
        for &(old, new, proof) in CONSISTENCY_VECTORS {
            let want = hashes(proof);
            assert_eq!(consistency_proof(old, new, &store).unwrap(), want, "proof {old}->{new}");
            assert_eq!(ref_consistency(old as usize, &leaves[..new as usize]), want, "reference {old}->{new}");
            let (old_root, new_root) = (h(ROOTS[old as usize]), h(ROOTS[new as usize]));
            verify_consistency(old, new, &old_root, &new_root, &want).unwrap();
        }
    }

    #[test]
    fn kat_inclusion_probes_fail() {
        let leaves = kat_leaves();
        let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
        for &(index, size, proof) in INCLUSION_VECTORS {
            let proof = hashes(proof);
            let root = h(ROOTS[size as usize]);
            let leaf = leaves[index as usize];
            let bad = |i: u64, s: u64, leaf: &Hash, proof: &[Hash], root: &Hash| {
                assert!(verify_inclusion(leaf, i, s, proof, root).is_err(), "accepted {i}/{s} {proof:?}");
            };
            bad(index.wrapping_sub(1), size, &leaf, &proof, &root);
            bad(index + 1, size, &leaf, &proof, &root);
            bad(index ^ 2, size, &leaf, &proof, &root);
            bad(index, size * 2, &leaf, &proof, &root);
            bad(index, size / 2, &leaf, &proof, &root);
            bad(index, size, &leaf_hash(b"WrongLeaf"), &proof, &root);
            bad(index, size, &leaf, &proof, &empty_root());
            bad(index, size, &leaf, &proof, &some);
            bad(index, size, &leaf, &[proof.clone(), vec![root]].concat(), &root);
            bad(index, size, &leaf, &[vec![root], proof.clone()].concat(), &root);
            for i in 0..proof.len() {
                let mut wrong = proof.clone();
                wrong[i][0] ^= 8;
                bad(index, size, &leaf, &wrong, &root);
            }
            if !proof.is_empty() {
                bad(index, size, &leaf, &proof[..proof.len() - 1], &root);
            }
        }
    }

    #[test]
    fn kat_consistency_probes_fail() {
        for &(old, new, proof) in CONSISTENCY_VECTORS {
            let proof = hashes(proof);
            if proof.is_empty() {
                continue;
            }
            let (r1, r2) = (h(ROOTS[old as usize]), h(ROOTS[new as usize]));
            let wrong_root = leaf_hash(b"WrongRoot");
            let bad = |o: u64, n: u64, r1: &Hash, r2: &Hash, proof: &[Hash]| {
                assert!(verify_consistency(o, n, r1, r2, proof).is_err(), "accepted {o}->{n} {proof:?}");
            };
            bad(old - 1, new, &r1, &r2, &proof);
            bad(old + 1, new, &r1, &r2, &proof);
            bad(old ^ 2, new, &r1, &r2, &proof);
            bad(old, new * 2, &r1, &r2, &proof);
            bad(old, new / 2, &r1, &r2, &proof);
            bad(old, new, &wrong_root, &r2, &proof);
            bad(old, new, &r1, &wrong_root, &proof);
            bad(old, new, &r2, &r1, &proof);
            bad(old, new, &r1, &r2, &[]);
            for extra in [r1, r2, proof[0]] {
                bad(old, new, &r1, &r2, &[proof.clone(), vec![extra]].concat());
                bad(old, new, &r1, &r2, &[vec![extra], proof.clone()].concat());
            }
            bad(old, new, &r1, &r2, &proof[..proof.len() - 1]);
            for i in 0..proof.len() {
                let mut wrong = proof.clone();
                wrong[i][0] ^= 16;
                bad(old, new, &r1, &r2, &wrong);
            }
        }
    }

    #[test]
    fn trivial_consistency_cases() {
        let (e, a, b) = (empty_root(), leaf_hash(b"a"), leaf_hash(b"b"));
        assert!(verify_consistency(0, 0, &e, &e, &[]).is_ok());
        assert!(verify_consistency(0, 5, &e, &a, &[]).is_ok());
        assert_eq!(verify_consistency(0, 5, &a, &a, &[]), Err(MerkleError::OldRootMismatch));
        assert_eq!(verify_consistency(0, 0, &e, &a, &[]), Err(MerkleError::RootMismatch));
        assert!(verify_consistency(3, 3, &a, &a, &[]).is_ok());
        assert_eq!(verify_consistency(3, 3, &a, &b, &[]), Err(MerkleError::RootMismatch));
        assert_eq!(verify_consistency(3, 3, &a, &a, &[e]), Err(MerkleError::ProofLength { expected: 0, actual: 1 }));
        assert_eq!(verify_consistency(0, 1, &e, &a, &[e]), Err(MerkleError::ProofLength { expected: 0, actual: 1 }));
        assert_eq!(
            verify_consistency(2, 1, &a, &b, &[]),
            Err(MerkleError::OldSizeTooLarge { old_size: 2, new_size: 1 })
        );
        assert_eq!(verify_consistency(1, 2, &a, &b, &[]), Err(MerkleError::ProofLength { expected: 1, actual: 0 }));
        assert_eq!(consistency_proof(3, 3, &HashMap::new()), Ok(Vec::new()));
        assert_eq!(consistency_proof(0, 9, &HashMap::new()), Ok(Vec::new()));
        assert_eq!(consistency_proof_nodes(4, 3), Err(MerkleError::OldSizeTooLarge { old_size: 4, new_size: 3 }));
    }

    #[test]
    fn error_cases() {
        let a = leaf_hash(b"a");
        let out_of_range = Err(MerkleError::IndexOutOfRange { index: 3, size: 3 });
        assert_eq!(verify_inclusion(&a, 3, 3, &[], &a), out_of_range.clone());
        assert_eq!(inclusion_proof_nodes(3, 3), out_of_range.clone().map(|()| Vec::new()));
        assert_eq!(inclusion_proof(3, 3, &HashMap::new()), out_of_range.map(|()| Vec::new()));
        assert!(verify_inclusion(&a, 0, 0, &[], &empty_root()).is_err());
        assert!(verify_inclusion(&a, 0, 1, &[], &a).is_ok());
        assert_eq!(verify_inclusion(&a, 0, 1, &[a], &a), Err(MerkleError::ProofLength { expected: 0, actual: 1 }));
        assert_eq!(verify_inclusion(&a, 0, 1, &[], &empty_root()), Err(MerkleError::RootMismatch));
        assert_eq!(inclusion_proof(0, 2, &HashMap::new()), Err(MerkleError::MissingNode { level: 0, index: 1 }));
        assert_eq!(root(6, &HashMap::new()), Err(MerkleError::MissingNode { level: 2, index: 0 }));
        assert_eq!(
            TreeBuilder::from_right_edge(1, &HashMap::new()),
            Err(MerkleError::MissingNode { level: 0, index: 0 })
        );
        assert_eq!(new_complete_nodes(2, &HashMap::new(), &[a]), Err(MerkleError::MissingNode { level: 1, index: 0 }));
    }

    #[test]
    fn tree_full_is_an_error_not_a_panic() {
        let edge: HashMap<NodeKey, Hash> = right_edge_nodes(u64::MAX).into_iter().map(|k| (k, [7u8; 32])).collect();
        assert_eq!(edge.len(), 64);
        let mut builder = TreeBuilder::from_right_edge(u64::MAX, &edge).unwrap();
        assert_eq!(builder.push([0u8; 32]), Err(MerkleError::TreeFull));
        assert_eq!(builder.size(), u64::MAX);
    }

    #[test]
    fn node_lists_for_huge_trees_are_logarithmic() {
        let size = u64::MAX - 12345;
        assert_eq!(right_edge_nodes(size).len(), size.count_ones() as usize);
        assert!(inclusion_proof_nodes(size - 1, size).unwrap().len() <= 64 * 64);
        assert!(consistency_proof_nodes(size / 3, size).unwrap().len() <= 64 * 64);
        assert_eq!(right_edge_nodes(0), Vec::new());
        assert_eq!(right_edge_nodes(6), vec![(2, 0), (1, 2)]);
        assert_eq!(right_edge_nodes(13), vec![(3, 0), (2, 2), (0, 12)]);
    }

    #[test]
    fn builder_right_edge_round_trips() {
        let leaves = leaves_for(77, 3);
        let mut builder = TreeBuilder::new();
        for leaf in &leaves {
            builder.push(*leaf).unwrap();
        }
        let edge: HashMap<NodeKey, Hash> = builder.right_edge().iter().map(|n| (n.key(), n.hash)).collect();
        let resumed = TreeBuilder::from_right_edge(77, &edge).unwrap();
        assert_eq!(resumed, builder);
        assert_eq!(resumed.root(), ref_root(&leaves));
    }

    /// Every inclusion and consistency proof of one tree, built from exactly the stored nodes
    /// the `*_nodes` functions list, equals the reference proof, verifies, and fails when tampered.
    fn check_all_proofs(size: usize, seed: u64) -> Result<(), TestCaseError> {
        let leaves = leaves_for(size, seed);
        let all = ref_complete_nodes(&leaves);
        let root_hash = root_from_leaves(&leaves);
        prop_assert_eq!(root_hash, ref_root(&leaves));
        let n = size as u64;
        prop_assert_eq!(root(n, &restrict(&all, &root_nodes(n))).unwrap(), root_hash);
        for index in 0..n {
            let nodes = restrict(&all, &inclusion_proof_nodes(index, n).unwrap());
            let proof = inclusion_proof(index, n, &nodes).unwrap();
            prop_assert_eq!(&proof, &ref_path(index as usize, &leaves));
            let leaf = &leaves[index as usize];
            prop_assert!(verify_inclusion(leaf, index, n, &proof, &root_hash).is_ok());
            prop_assert!(verify_inclusion(&flip(*leaf, index as usize), index, n, &proof, &root_hash).is_err());
            prop_assert!(verify_inclusion(leaf, index, n, &proof, &flip(root_hash, 3)).is_err());
            for i in 0..proof.len() {
                let mut wrong = proof.clone();
                wrong[i] = flip(wrong[i], i);
                prop_assert!(verify_inclusion(leaf, index, n, &wrong, &root_hash).is_err());
            }
            if n > 1 {
                let other = (index + 1) % n;
                prop_assert!(verify_inclusion(leaf, other, n, &proof, &root_hash).is_err());
            }
        }
        for old in 0..=n {
            let nodes = restrict(&all, &consistency_proof_nodes(old, n).unwrap());
            let proof = consistency_proof(old, n, &nodes).unwrap();
            prop_assert_eq!(&proof, &ref_consistency(old as usize, &leaves));
            let old_root = ref_root(&leaves[..old as usize]);
            prop_assert!(verify_consistency(old, n, &old_root, &root_hash, &proof).is_ok());
            // Wrong sizes are probed in the known-answer tests only: a proof's hashes can
            // legitimately describe some other tree of another size with the same roots.
            if old == 0 || old == n {
                continue;
            }
            prop_assert!(verify_consistency(old, n, &flip(old_root, 1), &root_hash, &proof).is_err());
            prop_assert!(verify_consistency(old, n, &old_root, &flip(root_hash, 2), &proof).is_err());
            prop_assert!(verify_consistency(old, n, &old_root, &root_hash, &proof[1..]).is_err());
            for i in 0..proof.len() {
                let mut wrong = proof.clone();
                wrong[i] = flip(wrong[i], i);
                prop_assert!(verify_consistency(old, n, &old_root, &root_hash, &wrong).is_err());
            }
        }
        Ok(())
    }

    #[test]
    fn all_proofs_for_every_small_size() {
        for size in 1..=70 {
            check_all_proofs(size, size as u64).unwrap();
        }
    }

    // ---- Property tests against the naive reference. ----

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn proofs_from_stored_nodes_match_reference_and_verify(size in 1usize..300, seed in any::<u64>()) {
            check_all_proofs(size, seed)?;
        }

        #[test]
        fn builder_root_matches_every_prefix(size in 0usize..300, seed in any::<u64>()) {
            let leaves = leaves_for(size, seed);
            let mut builder = TreeBuilder::new();
            prop_assert_eq!(builder.root(), empty_root());
            for (i, leaf) in leaves.iter().enumerate() {
                builder.push(*leaf).unwrap();
                prop_assert_eq!(builder.size(), i as u64 + 1);
                prop_assert_eq!(builder.root(), root_from_leaves(&leaves[..=i]));
                prop_assert_eq!(builder.root(), ref_root(&leaves[..=i]));
            }
        }

        #[test]
        fn new_complete_nodes_over_random_splits(
            size in 0usize..300,
            seed in any::<u64>(),
            cuts in proptest::collection::vec(0usize..300, 0..8),
        ) {
            let leaves = leaves_for(size, seed);
            let mut bounds: Vec<usize> = cuts.into_iter().filter(|c| *c <= size).collect();
            bounds.extend([0, size]);
            bounds.sort_unstable();
            bounds.dedup();
            let mut store: BTreeMap<NodeKey, Hash> = BTreeMap::new();
            for pair in bounds.windows(2) {
                let (old, new) = (pair[0], pair[1]);
                let edge = restrict(&store, &right_edge_nodes(old as u64));
                let added = new_complete_nodes(old as u64, &edge, &leaves[old..new]).unwrap();
                for node in added {
                    prop_assert!(store.insert(node.key(), node.hash).is_none(), "node {:?} emitted twice", node.key());
                }
                let n = new as u64;
                prop_assert_eq!(root(n, &restrict(&store, &root_nodes(n))).unwrap(), ref_root(&leaves[..new]));
            }
            prop_assert_eq!(store, ref_complete_nodes(&leaves));
        }
    }

    // ---- Timing (not an assertion): cargo test --release -- --ignored --nocapture timing_10m ----

    #[test]
    #[ignore]
    fn timing_10m_leaves() {
        use std::time::Instant;
        const N: u64 = 10_000_000;
        let synthetic = |i: u64| {
            let mut leaf = [0u8; 32];
            leaf[..8].copy_from_slice(&i.to_le_bytes());
            leaf
        };

        let started = Instant::now();
        let mut builder = TreeBuilder::new();
        for i in 0..N {
            builder.push(synthetic(i)).unwrap();
        }
        let root_a = builder.root();
        println!("TreeBuilder::push x {N}: {:?}", started.elapsed());

        let started = Instant::now();
        let mut builder = TreeBuilder::new();
        let mut stored = 0u64;
        let mut checkpoints = 0u64;
        for i in 0..N {
            builder.push_with(synthetic(i), |_| stored += 1).unwrap();
            if builder.size() % 1000 == 0 {
                std::hint::black_box(builder.root());
                checkpoints += 1;
            }
        }
        println!(
            "TreeBuilder::push_with + root() every 1000 leaves ({checkpoints} checkpoints, {stored} nodes): {:?}",
            started.elapsed()
        );

        let leaves: Vec<Hash> = (0..N).map(synthetic).collect();
        let started = Instant::now();
        let root_b = root_from_leaves(&leaves);
        println!("root_from_leaves x {N}: {:?}", started.elapsed());
        assert_eq!(root_a, root_b);

        let started = Instant::now();
        let mut acc = [0u8; 32];
        for _ in 1..N {
            acc = node_hash(&acc, &acc);
        }
        std::hint::black_box(acc);
        println!("baseline: {} bare node_hash calls: {:?}", N - 1, started.elapsed());

        let started = Instant::now();
        for i in 0..N {
            std::hint::black_box(leaf_hash(&i.to_le_bytes()));
        }
        println!("for scale: leaf_hash of {N} 8-byte inputs: {:?}", started.elapsed());
    }
}
