//! `custodia audit verify-bundle`: checks a regulator bundle with nothing but the bundle,
//! the gateway's verifier key and, optionally, a checkpoint the verifier already trusts.
//! The same rules as `audit/verify.py` (written independently from `audit/FORMAT.md`).

use super::bundle::{read_tar, ConsistencyFile, ProofLine, Selection, MANIFEST_HEADER};
use super::merkle::{self, Hash};
use super::note::{Checkpoint, Note, VerifierKey};
use super::record::{decode_hash, RecordJson};
use super::verify::parse_checkpoint;
use std::collections::BTreeMap;

/// What a bundle proved.
#[derive(Debug)]
pub struct BundleReport {
    pub origin: String,
    pub tree_size: u64,
    pub records: usize,
    pub party_complete: bool,
    pub consistent_with: Option<u64>,
}

type Files = BTreeMap<String, Vec<u8>>;

/// Verifies `bundle`; the error says exactly which check failed.
pub fn verify_bundle(bundle: &[u8], key: &VerifierKey, trusted: Option<&str>) -> Result<BundleReport, String> {
    let files: Files = read_tar(bundle)?.into_iter().collect();
    let (origin, size) = check_manifest(&files, key)?;
    let checkpoint =
        parse_checkpoint(text(&files, "checkpoint.txt")?, key, &origin).map_err(|m| format!("checkpoint.txt: {m}"))?;
    if checkpoint.size != size {
        return Err(format!("checkpoint.txt: size {} but the manifest says {size}", checkpoint.size));
    }
    let log = origin.rsplit('/').next().unwrap_or_default().to_string();
    let selection: Selection =
        serde_json::from_str(text(&files, "selection.json")?).map_err(|e| format!("selection.json: {e}"))?;
    if selection.log != log {
        return Err("selection.json: names another log than the checkpoint".into());
    }
    let records = check_records(&files, &checkpoint, &log)?;
    let party_complete = match &selection.party {
        Some(party) => {
            check_party_chain(&records, party, &selection)?;
            true
        }
        None => {
            check_range(&records, &selection)?;
            false
        }
    };
    let consistent_with = check_consistency(&files, key, &origin, &checkpoint, trusted)?;
    Ok(BundleReport { origin, tree_size: size, records: records.len(), party_complete, consistent_with })
}

fn text<'a>(files: &'a Files, name: &str) -> Result<&'a str, String> {
    let bytes = files.get(name).ok_or_else(|| format!("{name} is missing from the bundle"))?;
    std::str::from_utf8(bytes).map_err(|_| format!("{name} is not UTF-8"))
}

/// The manifest is signed by `key` and lists every other file with its SHA-256, exactly.
fn check_manifest(files: &Files, key: &VerifierKey) -> Result<(String, u64), String> {
    let note = Note::parse(text(files, "manifest.txt")?).map_err(|e| format!("manifest.txt: {e}"))?;
    note.verify(std::slice::from_ref(key)).map_err(|e| format!("manifest.txt: signature does not verify: {e}"))?;
    let mut lines = note.text().lines();
    if lines.next() != Some(MANIFEST_HEADER) {
        return Err("manifest.txt: unknown bundle format".into());
    }
    let origin =
        lines.next().and_then(|l| l.strip_prefix("origin ")).ok_or("manifest.txt: no origin line")?.to_string();
    let size = lines
        .next()
        .and_then(|l| l.strip_prefix("tree_size "))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or("manifest.txt: no tree_size line")?;
    let mut listed = BTreeMap::new();
    for line in lines {
        let (hash, name) = line.split_once("  ").ok_or_else(|| format!("manifest.txt: bad line `{line}`"))?;
        listed.insert(name.to_string(), hash.to_string());
    }
    for (name, bytes) in files.iter().filter(|(n, _)| n.as_str() != "manifest.txt") {
        let listed_hash = listed.remove(name).ok_or_else(|| format!("{name}: not listed in the manifest"))?;
        if listed_hash != hex::encode(crate::keys::crypto::sha256(bytes)) {
            return Err(format!("{name}: SHA-256 does not match the manifest (file modified)"));
        }
    }
    if let Some(name) = listed.keys().next() {
        return Err(format!("{name}: listed in the manifest but missing from the bundle"));
    }
    Ok((origin, size))
}

/// Every record: in this log, strictly increasing index, proven included in the checkpoint.
fn check_records(files: &Files, checkpoint: &Checkpoint, log: &str) -> Result<Vec<(RecordJson, Hash)>, String> {
    let records: Vec<RecordJson> = ndjson(text(files, "records.ndjson")?, "records.ndjson")?;
    let proofs: Vec<ProofLine> = ndjson(text(files, "proofs.ndjson")?, "proofs.ndjson")?;
    if records.len() != proofs.len() {
        return Err(format!("proofs.ndjson: {} proofs for {} records", proofs.len(), records.len()));
    }
    let mut out = Vec::with_capacity(records.len());
    let mut last: Option<u64> = None;
    for (line, (record, proof)) in records.into_iter().zip(proofs).enumerate() {
        let at = |m: String| format!("records.ndjson line {}: {m}", line + 1);
        let index = record.index.ok_or_else(|| at("record has no index".into()))?;
        if last.is_some_and(|l| index <= l) {
            return Err(at(format!("index {index} is out of order (records reordered or duplicated)")));
        }
        if record.log != log || proof.index != index || proof.tree_size != checkpoint.size {
            return Err(at(format!("record {index}: its log, proof index or proof size does not match")));
        }
        let leaf = record.to_record().map_err(|e| at(e.to_string()))?.leaf_hash();
        let hashes = proof
            .hashes
            .iter()
            .map(|h| decode_hash(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| at(e.to_string()))?;
        merkle::verify_inclusion(&leaf, index, checkpoint.size, &hashes, &checkpoint.root)
            .map_err(|e| at(format!("record {index} is not in the checkpoint's tree (modified or inserted): {e}")))?;
        last = Some(index);
        out.push((record, leaf));
    }
    Ok(out)
}

fn ndjson<T: serde::de::DeserializeOwned>(body: &str, name: &str) -> Result<Vec<T>, String> {
    body.lines()
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("{name} line {}: {e}", i + 1)))
        .collect()
}

/// The party's records link to each other with no gap, from the first (or the boundary
/// record before `from`) to the export's own record at the end.
fn check_party_chain(records: &[(RecordJson, Hash)], party: &str, selection: &Selection) -> Result<(), String> {
    let mut previous: Option<(u64, Hash)> = None;
    for (position, (record, leaf)) in records.iter().enumerate() {
        let index = record.index.unwrap_or_default();
        let link = record
            .parties
            .iter()
            .find(|p| p.party == party)
            .ok_or_else(|| format!("record {index} is not about the exported party"))?;
        let prev = link.prev_leaf_hash.as_deref().map(decode_hash).transpose().map_err(|e| e.to_string())?;
        match (&previous, prev) {
            (None, None) => {}
            (None, Some(_)) => {
                let from = selection.from.as_deref().map(crate::clock::parse_instant).transpose().ok().flatten();
                let recorded = crate::clock::parse_instant(&record.recorded_at).ok();
                let is_boundary = matches!((from, recorded), (Some(f), Some(r)) if r < f);
                if !is_boundary {
                    return Err(format!(
                        "record {index}: the party's earlier records are missing (its chain points to a record not in the bundle)"
                    ));
                }
            }
            (Some((prev_index, prev_leaf)), link_hash) => {
                if link_hash.as_ref() != Some(prev_leaf) {
                    return Err(format!(
                        "record {index}: a record about the party between index {prev_index} and {index} was left out"
                    ));
                }
                if link.prev_index.is_some_and(|p| p != *prev_index) {
                    return Err(format!("record {index}: prev_index does not name the previous record"));
                }
            }
        }
        if position + 1 == records.len()
            && !(record.action == "audit.export" && record.request_id == selection.export_request_id)
        {
            return Err(
                "the bundle does not end with the export's own audit record, so records after it may be missing".into(),
            );
        }
        previous = Some((index, *leaf));
    }
    if previous.is_none() {
        return Err("the party export holds no records (not even the export's own record)".into());
    }
    Ok(())
}

/// A time-range export holds only records inside the range.
fn check_range(records: &[(RecordJson, Hash)], selection: &Selection) -> Result<(), String> {
    let bound = |v: &Option<String>| {
        v.as_deref()
            .map(crate::clock::parse_instant)
            .transpose()
            .map_err(|_| "selection.json: bad time bound".to_string())
    };
    let (from, to) = (bound(&selection.from)?, bound(&selection.to)?);
    for (record, _) in records {
        let at = crate::clock::parse_instant(&record.recorded_at)
            .map_err(|_| "records.ndjson: bad recorded_at".to_string())?;
        if from.is_some_and(|f| at < f) || to.is_some_and(|t| at > t) {
            return Err(format!("record {}: outside the selected time range", record.index.unwrap_or_default()));
        }
    }
    Ok(())
}

/// The bundle's checkpoint extends the since-checkpoint it carries, and the verifier's
/// trusted checkpoint (if any) is that one or the bundle's own.
fn check_consistency(
    files: &Files,
    key: &VerifierKey,
    origin: &str,
    checkpoint: &Checkpoint,
    trusted: Option<&str>,
) -> Result<Option<u64>, String> {
    let since = match files.get("since-checkpoint.txt") {
        Some(_) => {
            let old = parse_checkpoint(text(files, "since-checkpoint.txt")?, key, origin)
                .map_err(|m| format!("since-checkpoint.txt: {m}"))?;
            let proof: ConsistencyFile =
                serde_json::from_str(text(files, "consistency.json")?).map_err(|e| format!("consistency.json: {e}"))?;
            if proof.from_size != old.size || proof.to_size != checkpoint.size {
                return Err("consistency.json: sizes do not match the two checkpoints".into());
            }
            let hashes = proof
                .hashes
                .iter()
                .map(|h| decode_hash(h))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            merkle::verify_consistency(old.size, checkpoint.size, &old.root, &checkpoint.root, &hashes).map_err(|e| {
                format!("consistency.json: the bundle's log does not extend since-checkpoint.txt (history rewritten): {e}")
            })?;
            Some(old)
        }
        None => None,
    };
    let Some(trusted) = trusted else { return Ok(since.map(|s| s.size)) };
    let trusted = parse_checkpoint(trusted, key, origin).map_err(|m| format!("trusted checkpoint: {m}"))?;
    if trusted.size > checkpoint.size {
        return Err(format!(
            "the bundle (size {}) is older than your trusted checkpoint (size {})",
            checkpoint.size, trusted.size
        ));
    }
    if trusted.size == checkpoint.size {
        return if trusted.root == checkpoint.root {
            Ok(Some(trusted.size))
        } else {
            Err("the bundle's checkpoint has your trusted checkpoint's size but another root (history rewritten)"
                .into())
        };
    }
    match since {
        Some(old) if old.size == trusted.size && old.root == trusted.root => Ok(Some(trusted.size)),
        Some(_) => Err("since-checkpoint.txt is not your trusted checkpoint (history rewritten?)".into()),
        None => Err(
            "the bundle carries no consistency proof from your trusted checkpoint; export it with --since-checkpoint"
                .into(),
        ),
    }
}
