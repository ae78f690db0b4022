//! The pure core of `audit verify`: checking a run of consecutive records (a chunk) on its
//! own, and merging checked chunks, in leaf order, into the log's tree and per-party
//! chains. Chunks are independent, so readers can check several at once; what crosses a
//! chunk boundary (the tree, and each party's link to its record in an earlier chunk) is
//! settled by [`Merger`], in order.

use crate::audit::encoding::{parties_of, Fields, Parts};
use crate::audit::merkle::{Hash, RangeNodes, TreeBuilder};
use std::collections::hash_map::Entry;
use std::collections::HashMap;

type Map<V> = HashMap<PartyKey, V, ahash::RandomState>;

/// A party id as a map key: its UUID's 128 bits when it is a canonical (lower-case,
/// hyphenated) UUID, as every id the gateway hands out is, or else the first 128 bits of
/// SHA-256 of the id. Two ids share a key only by a 2^-128 accident, and that could only
/// raise a false alarm (links compare full 32-byte hashes), never hide a broken link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartyKey {
    Uuid(u128),
    Digest(u128),
}

impl PartyKey {
    fn of(party: &[u8]) -> Self {
        let canonical =
            party.len() == 36 && party.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b) || *b == b'-');
        match uuid::Uuid::try_parse_ascii(party) {
            Ok(uuid) if canonical => Self::Uuid(uuid.as_u128()),
            _ => {
                let digest = crate::keys::crypto::sha256(party);
                let mut head = [0u8; 16];
                head.copy_from_slice(&digest[..16]);
                Self::Digest(u128::from_be_bytes(head))
            }
        }
    }
}

/// One stored record as a reader hands it over, borrowed from the row.
pub struct ItemRef<'a> {
    pub leaf_index: Option<i64>,
    pub parts: Parts<'a>,
    /// The leaf hash stored with the record (what proofs are built from).
    pub stored_leaf: Option<&'a [u8]>,
}

/// One party's records within a chunk, as the merge needs them.
#[derive(Clone, Copy, Debug)]
struct Span {
    first_prev: Option<Hash>,
    first_index: u64,
    last_leaf: Hash,
}

/// A checked run of records starting at leaf index `first`.
#[derive(Debug, Default)]
pub struct Chunk {
    pub first: u64,
    /// The records' leaves and every subtree complete among them, hashed by the reader
    /// so that the merge, which runs on one thread, hashes only a few nodes per chunk.
    pub nodes: RangeNodes,
    /// Each party the chunk's records are about: what its first record there links to
    /// (the previous leaf hash it names, and that record's index), and the leaf of its
    /// last record there.
    parties: Map<Span>,
    /// Party ids by key, for naming a broken link (kept only for [`PartyKey::Digest`] keys).
    names: Map<String>,
    /// The first thing wrong inside the chunk, if any: index and what.
    pub problem: Option<(u64, String)>,
}

/// Checks records with consecutive leaf indices from `first`, one [`push`](Self::push) at a time.
pub struct ChunkChecker {
    chunk: Chunk,
    buffer: Vec<u8>,
    keys: Vec<(PartyKey, Option<Hash>)>,
}

impl ChunkChecker {
    /// A checker for about `size` records from `first`.
    pub fn new(first: u64, size: usize) -> Self {
        let chunk = Chunk {
            first,
            nodes: RangeNodes::new(first, size),
            parties: Map::with_capacity_and_hasher(size, ahash::RandomState::new()),
            ..Chunk::default()
        };
        Self { chunk, buffer: Vec::with_capacity(512), keys: Vec::with_capacity(4) }
    }

    /// Checks the next record; false once a problem was found (stop pushing).
    pub fn push(&mut self, item: Result<ItemRef<'_>, String>) -> bool {
        let index = self.chunk.nodes.end();
        match item.and_then(|item| self.check(index, &item)) {
            Ok(leaf) => {
                self.chunk.nodes.push(leaf);
                true
            }
            Err(message) => {
                self.chunk.problem = Some((index, message));
                false
            }
        }
    }

    /// The checked chunk; `expected` is how many records its range should have held.
    pub fn finish(mut self, expected: u64) -> Chunk {
        let held = self.chunk.nodes.len();
        if self.chunk.problem.is_none() && held < expected {
            let first_missing = self.chunk.first + held;
            self.chunk.problem = Some((first_missing, "missing: the record was deleted or the log truncated".into()));
        }
        self.chunk
    }

    fn check(&mut self, index: u64, item: &ItemRef<'_>) -> Result<Hash, String> {
        match item.leaf_index.and_then(|i| u64::try_from(i).ok()) {
            Some(i) if i == index => {}
            Some(i) if i > index => return Err("missing: the record was deleted".into()),
            other => return Err(format!("stored with unexpected index {other:?}")),
        }
        let leaf = item.parts.leaf_hash_with(&mut self.buffer);
        if item.stored_leaf != Some(leaf.as_slice()) {
            return Err("its stored leaf hash does not match its content (proofs would be built from it)".into());
        }
        let parties = parties_of(item.parts.parties).map_err(|e| format!("its parties do not decode: {e}"))?;
        self.keys.clear();
        self.keys.extend(parties.iter().map(|(party, prev)| (PartyKey::of(party), prev.copied())));
        let chunk = &mut self.chunk;
        for ((key, prev), (party, _)) in self.keys.iter().zip(&parties) {
            match chunk.parties.entry(*key) {
                Entry::Occupied(mut seen) => {
                    if prev.as_ref() != Some(&seen.get().last_leaf) {
                        return Err(broken_link(&String::from_utf8_lossy(party)));
                    }
                    seen.get_mut().last_leaf = leaf;
                }
                Entry::Vacant(first) => {
                    first.insert(Span { first_prev: *prev, first_index: index, last_leaf: leaf });
                    if matches!(key, PartyKey::Digest(_)) {
                        chunk.names.insert(*key, String::from_utf8_lossy(party).into_owned());
                    }
                }
            }
        }
        Ok(leaf)
    }
}

/// Checks `items` (the records with leaf indices `first..first + expected`, in order).
/// Stops at the first problem; the leaves before it are kept.
pub fn check_chunk<'a>(
    first: u64,
    expected: u64,
    items: impl IntoIterator<Item = Result<ItemRef<'a>, String>>,
) -> Chunk {
    let mut checker = ChunkChecker::new(first, usize::try_from(expected).unwrap_or(0).min(1 << 16));
    for item in items {
        if !checker.push(item) {
            break;
        }
    }
    checker.finish(expected)
}

fn party_name(chunk: &Chunk, key: PartyKey) -> String {
    match key {
        PartyKey::Uuid(bits) => uuid::Uuid::from_u128(bits).hyphenated().to_string(),
        PartyKey::Digest(_) => chunk.names.get(&key).cloned().unwrap_or_default(),
    }
}

fn broken_link(party: &str) -> String {
    format!(
        "its link to the previous record about party {party} is broken (a record about that party was removed, inserted or reordered)"
    )
}

/// What the checker reads of each record: everything the leaf covers but the log (the
/// query selects one log: its name is known), the leaf index and the stored leaf hash (in
/// this order; [`item`] reads them by position).
pub const COLUMNS: &str = "leaf_index, recorded_at, request_id, client_id, role, on_behalf_of, purpose, \
     action, resource_id, fields, outcome, status, error_code, evidence, parties, leaf_hash";

/// Column access to a row selected with [`COLUMNS`], borrowing the driver's bytes.
pub trait StoredRow {
    fn int(&self, column: usize) -> Result<Option<i64>, String>;
    /// A text column's UTF-8 bytes.
    fn text(&self, column: usize) -> Result<Option<&[u8]>, String>;
    fn blob(&self, column: usize) -> Result<Option<&[u8]>, String>;
}

/// The record of `log` in `row` (selected with [`COLUMNS`] from that log), borrowed: the
/// encoding is written from the row's own bytes.
pub fn item<'a, R: StoredRow>(log: &'a [u8], row: &'a R) -> Result<ItemRef<'a>, String> {
    let (int, text, blob) = (|c| row.int(c), |c| row.text(c), |c| row.blob(c));
    let status = int(11)?.ok_or("status is NULL")?;
    let evidence = match blob(13)? {
        None => None,
        Some(bytes) => Some(<&[u8; 32]>::try_from(bytes).map_err(|_| "evidence is not 32 bytes")?),
    };
    let parts = Parts {
        log,
        recorded_at: text(1)?.ok_or("recorded_at is NULL")?,
        request_id: text(2)?.ok_or("request_id is NULL")?,
        client_id: text(3)?,
        role: text(4)?,
        on_behalf_of: text(5)?,
        purpose: text(6)?,
        action: text(7)?.ok_or("action is NULL")?,
        resource_id: text(8)?,
        fields: Fields::Joined(text(9)?.ok_or("fields is NULL")?),
        outcome: text(10)?.ok_or("outcome is NULL")?,
        status: u16::try_from(status).map_err(|_| "status out of range")?,
        error_code: text(12)?,
        evidence,
        // Records written before parties were stored have none: the empty list.
        parties: blob(14)?.unwrap_or(&[0, 0, 0, 0]),
    };
    Ok(ItemRef { leaf_index: int(0)?, parts, stored_leaf: blob(15)? })
}

/// Why merging stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// The record at `index` is wrong in itself or in its links.
    Record { index: u64, message: String },
    /// The tree of `size` leaves does not match the root it must have.
    Root { size: u64, what: &'static str },
}

/// The log so far: its tree, each party's last leaf, and the roots still to check.
pub struct Merger<'t> {
    pub tree: TreeBuilder,
    heads: Map<Hash>,
    targets: std::iter::Peekable<std::slice::Iter<'t, (u64, Hash, &'static str)>>,
}

impl<'t> Merger<'t> {
    /// `targets`: (tree size, root it must have, what says so), by size.
    pub fn new(targets: &'t [(u64, Hash, &'static str)]) -> Self {
        Self { tree: TreeBuilder::new(), heads: Map::default(), targets: targets.iter().peekable() }
    }

    /// Adds the next chunk (its `first` must be the tree's size).
    pub fn merge(&mut self, chunk: Chunk) -> Result<(), Failure> {
        let cross = self.link_chunk(&chunk);
        let first_problem = [cross, chunk.problem].into_iter().flatten().min_by_key(|(index, _)| *index);
        let good = first_problem.as_ref().map_or(chunk.nodes.end(), |(index, _)| *index);
        self.check_roots(&chunk.nodes, good)?;
        self.tree
            .extend_to(&chunk.nodes, good)
            .map_err(|e| Failure::Record { index: e.from, message: e.to_string() })?;
        match first_problem {
            Some((index, message)) => Err(Failure::Record { index, message }),
            None => Ok(()),
        }
    }

    /// Checks each party's first record in `chunk` against that party's last record in
    /// the chunks before, and moves each head on to its last record in `chunk`; returns
    /// the first broken link. One map probe per party and chunk: at millions of records
    /// this loop is most of what the single merging thread does.
    fn link_chunk(&mut self, chunk: &Chunk) -> Option<(u64, String)> {
        let mut broken: Option<(u64, PartyKey)> = None;
        for (key, span) in &chunk.parties {
            let linked = match self.heads.entry(*key) {
                Entry::Occupied(mut head) => {
                    let linked = span.first_prev.as_ref() == Some(head.get());
                    head.insert(span.last_leaf);
                    linked
                }
                Entry::Vacant(head) => {
                    head.insert(span.last_leaf);
                    span.first_prev.is_none()
                }
            };
            if !linked && broken.is_none_or(|(index, _)| span.first_index < index) {
                broken = Some((span.first_index, *key));
            }
        }
        broken.map(|(index, key)| (index, broken_link(&party_name(chunk, key))))
    }

    /// Confirms every record up to `latest` was merged and every root checked (the readers'
    /// ranges imply it; this states it).
    pub fn finish(&mut self, latest: u64) -> Result<(), Failure> {
        let size = self.tree.size();
        self.check_roots(&RangeNodes::new(size, 0), size)?;
        if size != latest {
            return Err(Failure::Record {
                index: size,
                message: format!("missing: the log ends at {size} but its checkpoint covers {latest}"),
            });
        }
        match self.targets.peek() {
            Some((size, _, what)) => Err(Failure::Root { size: *size, what }),
            None => Ok(()),
        }
    }

    /// Compares every root still to check at a size up to `upto` with the root the tree
    /// has once extended with `run` to that size.
    fn check_roots(&mut self, run: &RangeNodes, upto: u64) -> Result<(), Failure> {
        while let Some((size, root, what)) = self.targets.peek() {
            if *size > upto {
                break;
            }
            let at = self.tree.root_at(run, *size).map_err(|_| Failure::Root { size: *size, what })?;
            if at != *root {
                return Err(Failure::Root { size: *size, what });
            }
            self.targets.next();
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::audit::merkle::root_from_leaves;
    use crate::audit::record::{PartyLink, Record};

    /// A stored record, owned, as a test builds it.
    struct Stored {
        index: Option<i64>,
        record: Record,
        parties: Vec<u8>,
        leaf: Option<Vec<u8>>,
    }

    impl Stored {
        fn item(&self) -> Result<ItemRef<'_>, String> {
            Ok(ItemRef {
                leaf_index: self.index,
                parts: self.record.parts(&self.parties),
                stored_leaf: self.leaf.as_deref(),
            })
        }
    }

    /// Records 0..n alternating between parties a and b, correctly linked.
    fn log(n: u64) -> Vec<Stored> {
        let mut heads: HashMap<String, Hash> = HashMap::new();
        (0..n)
            .map(|i| {
                let party = if i % 2 == 0 { "a" } else { "b" }.to_string();
                let record = Record {
                    log: "t".into(),
                    recorded_at: "2026-11-23T12:00:00.000000Z".into(),
                    request_id: format!("r{i}"),
                    client_id: None,
                    role: None,
                    on_behalf_of: None,
                    purpose: None,
                    action: "party.read".into(),
                    resource_id: None,
                    fields: vec!["phones:masked".into(), "emails:masked".into()],
                    outcome: "allowed".into(),
                    status: 200,
                    error_code: None,
                    evidence_sha256: None,
                    parties: vec![PartyLink { party: party.clone(), prev_leaf_hash: heads.get(&party).copied() }],
                };
                let leaf = record.leaf_hash();
                heads.insert(party, leaf);
                let parties = record.encode_parties();
                Stored { index: Some(i as i64), record, parties, leaf: Some(leaf.to_vec()) }
            })
            .collect()
    }

    fn merge_in_chunks(items: &[Stored], size: usize, targets: &[(u64, Hash, &'static str)]) -> Result<u64, Failure> {
        let mut merger = Merger::new(targets);
        for (n, part) in items.chunks(size).enumerate() {
            let first = (n * size) as u64;
            merger.merge(check_chunk(first, part.len() as u64, part.iter().map(Stored::item)))?;
        }
        Ok(merger.tree.size())
    }

    #[test]
    fn chunked_checking_matches_the_whole_tree_for_any_chunk_size() {
        let items = log(37);
        let root = root_from_leaves(&items.iter().map(|i| i.record.leaf_hash()).collect::<Vec<_>>());
        for size in [1, 2, 5, 16, 37, 100] {
            let targets = [(37, root, "signed checkpoint")];
            assert_eq!(merge_in_chunks(&items, size, &targets), Ok(37), "chunks of {size}");
        }
    }

    #[test]
    fn the_joined_fields_the_database_stores_encode_like_the_list() {
        let stored = &log(1)[0];
        let joined = stored.record.fields.join(",");
        let parts = Parts {
            fields: crate::audit::encoding::Fields::Joined(joined.as_bytes()),
            ..stored.record.parts(&stored.parties)
        };
        assert_eq!(parts.leaf_hash(), stored.record.leaf_hash());
    }

    #[test]
    fn a_link_broken_across_a_chunk_boundary_names_its_record() {
        // Record 4 (party a) removed and the rest renumbered, as a forger would: record 5
        // (party b) still links correctly; the next record about a (now at index 5) names
        // a predecessor that no longer precedes it.
        let mut items = log(10);
        items.remove(4);
        for (i, item) in items.iter_mut().enumerate() {
            item.index = Some(i as i64);
        }
        for size in [1, 3, 4, 5, 9] {
            match merge_in_chunks(&items, size, &[]) {
                Err(Failure::Record { index, message }) => {
                    assert_eq!(index, 5, "chunks of {size}");
                    assert!(message.contains("party a"), "{message}");
                }
                other => panic!("chunks of {size}: {other:?}"),
            }
        }
    }

    #[test]
    fn canonical_uuids_are_keyed_by_their_bits_and_named_back() {
        let id = "01930000-0000-7000-8000-00000000002a";
        let key = PartyKey::of(id.as_bytes());
        assert!(matches!(key, PartyKey::Uuid(_)));
        assert_eq!(party_name(&Chunk::default(), key), id);
        assert!(matches!(PartyKey::of(b"01930000-0000-7000-8000-00000000002A"), PartyKey::Digest(_)), "not canonical");
    }

    #[test]
    fn a_stored_leaf_hash_that_differs_from_the_content_is_named() {
        let mut items = log(6);
        items[3].leaf = Some(vec![0; 32]);
        let chunk = check_chunk(0, 6, items.iter().map(Stored::item));
        assert_eq!(chunk.problem.as_ref().map(|p| p.0), Some(3));
        assert_eq!(chunk.nodes.len(), 3);
    }

    #[test]
    fn a_short_chunk_reports_the_first_missing_index_and_a_wrong_root_is_caught() {
        let items = log(6);
        let chunk = check_chunk(0, 8, items[..5].iter().map(Stored::item));
        assert_eq!(chunk.problem.map(|p| p.0), Some(5));
        let targets = [(3, [7; 32], "signed checkpoint")];
        assert_eq!(merge_in_chunks(&items, 2, &targets), Err(Failure::Root { size: 3, what: "signed checkpoint" }));
    }
}
