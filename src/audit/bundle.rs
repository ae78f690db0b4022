//! Regulator bundles: the selected records, the signed checkpoint they are proven
//! against, an inclusion proof per record, optionally a consistency proof from a
//! checkpoint the recipient already holds, and a signed manifest of every file's
//! SHA-256 — one uncompressed tar, laid out as in `audit/FORMAT.md` §Bundle.
//!
//! A party export always ends with the export's own audit record, sealed before the
//! bundle is built: the per-party chain from it back to the first selected record is
//! what proves no record about the party was left out.

use super::log::{self as audit_log, LogError};
use super::merkle::Hash;
use super::note::Checkpoint;
use super::rows::{self, StoredRecord};
use super::signer::AuditSigner;
use crate::db::Conn;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// First line of every manifest.
pub const MANIFEST_HEADER: &str = "custodia-audit-bundle/v1";

/// What a bundle holds (also written into it as `selection.json`). Like every JSON
/// object of FORMAT.md, all keys must be present (nullable ones as `null`) and unknown
/// keys are refused when parsing.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    pub log: String,
    /// Inclusive bounds on `recorded_at`, in record time format (FORMAT.md §7.4).
    #[serde(deserialize_with = "Option::deserialize")]
    pub from: Option<String>,
    #[serde(deserialize_with = "Option::deserialize")]
    pub to: Option<String>,
    #[serde(deserialize_with = "Option::deserialize")]
    pub party: Option<String>,
    /// Request id of the export's own audit record (last record of a party export).
    pub export_request_id: String,
}

/// One record's inclusion proof line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofLine {
    pub index: u64,
    pub tree_size: u64,
    pub hashes: Vec<String>,
}

/// The consistency proof file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyFile {
    pub from_size: u64,
    pub to_size: u64,
    pub hashes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Row(#[from] rows::RowError),
    #[error("the since-checkpoint is not a checkpoint of this log signed by this gateway: {0}")]
    BadSince(String),
    #[error("the since-checkpoint (size {0}) is newer than the bundle's checkpoint")]
    SinceTooNew(u64),
    #[error("the export's own audit record is not sealed yet; retry")]
    ExportNotSealed,
    #[error("building the bundle: {0}")]
    Build(String),
}

/// Builds the bundle for `selection` against the latest checkpoint. `since` is the text
/// of a checkpoint note the recipient holds; `from_db`/`to_db` are the bounds in
/// database time.
pub async fn build(
    conn: &mut Conn,
    signer: &AuditSigner,
    selection: &Selection,
    bounds: (Option<String>, Option<String>),
    since: Option<&str>,
) -> Result<Vec<u8>, BundleError> {
    let log = selection.log.as_str();
    let checkpoint = audit_log::latest_checkpoint(conn, log).await?;
    let size = checkpoint.size;
    let records = match &selection.party {
        Some(party) => party_records(conn, log, party, size, &bounds, &selection.export_request_id).await?,
        None => range_records(conn, log, size, &bounds).await?,
    };
    let indices: Vec<u64> = records.iter().filter_map(|r| r.leaf_index).collect();
    let proofs = audit_log::inclusion_proofs(conn, log, &indices, size).await?;
    let prev = prev_indices(conn, log, &records).await?;
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("checkpoint.txt".into(), checkpoint.note.into_bytes()),
        ("records.ndjson".into(), records_ndjson(&records, &prev)?),
        ("proofs.ndjson".into(), proofs_ndjson(&indices, size, &proofs)?),
        ("selection.json".into(), json_line(selection)?),
    ];
    if let Some(since) = since {
        let old = parse_since(signer, log, since)?;
        if old.size > size {
            return Err(BundleError::SinceTooNew(old.size));
        }
        let hashes = audit_log::consistency_proof(conn, log, old.size, size).await?;
        let file = ConsistencyFile { from_size: old.size, to_size: size, hashes: encode_all(&hashes) };
        files.push(("consistency.json".into(), json_line(&file)?));
        files.push(("since-checkpoint.txt".into(), since.as_bytes().to_vec()));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let manifest = manifest_text(&signer.origin(log), size, &files);
    let signed = signer.sign_text(&manifest).map_err(|e| BundleError::Build(e.to_string()))?;
    files.insert(0, ("manifest.txt".into(), signed.into_bytes()));
    write_tar(&files)
}

/// The manifest text (before signing): header, origin, size, one hash line per file.
pub fn manifest_text(origin: &str, size: u64, files: &[(String, Vec<u8>)]) -> String {
    let mut text = format!("{MANIFEST_HEADER}\norigin {origin}\ntree_size {size}\n");
    for (name, bytes) in files {
        text.push_str(&format!("{}  {name}\n", hex::encode(crate::keys::crypto::sha256(bytes))));
    }
    text
}

fn parse_since(signer: &AuditSigner, log: &str, since: &str) -> Result<Checkpoint, BundleError> {
    let bad = |m: String| BundleError::BadSince(m);
    let note = super::note::Note::parse(since).map_err(|e| bad(e.to_string()))?;
    note.verify(std::slice::from_ref(signer.verifier())).map_err(|e| bad(e.to_string()))?;
    let checkpoint = Checkpoint::parse(note.text()).map_err(|e| bad(e.to_string()))?;
    if checkpoint.origin != signer.origin(log) {
        return Err(bad("it names another log".into()));
    }
    Ok(checkpoint)
}

async fn party_records(
    conn: &mut Conn,
    log: &str,
    party: &str,
    size: u64,
    (from, _to): &(Option<String>, Option<String>),
    export_request_id: &str,
) -> Result<Vec<StoredRecord>, BundleError> {
    let columns: Vec<String> = rows::COLUMNS.split(", ").map(|c| format!("r.{}", c.trim())).collect();
    let sql = format!(
        "SELECT {} FROM audit_record_parties p CROSS JOIN audit_records r \
         WHERE r.record_id = p.record_id AND p.log_id = $1 AND p.party_id = $2 AND r.log_id = $1 AND r.leaf_index IS NOT NULL AND r.leaf_index < $3 \
         ORDER BY r.leaf_index",
        columns.join(", ")
    );
    let found = sqlx::query(&sql)
        .bind(log)
        .bind(party)
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await?;
    let mut records: Vec<StoredRecord> = found.iter().map(rows::decode).collect::<Result<_, _>>()?;
    // The selection ends at the export's own record, even if records about the party were
    // sealed after it (concurrent requests).
    let is_export = |r: &StoredRecord| r.record.action == "audit.export" && r.record.request_id == export_request_id;
    let Some(export_at) = records.iter().rposition(is_export) else {
        return Err(BundleError::ExportNotSealed);
    };
    records.truncate(export_at + 1);
    if let Some(from) = from {
        // Start at the boundary record: the party's record just before its first record
        // (in index order) recorded at or after `from`. Records after the boundary stay even
        // if recorded before `from` (recorded_at does not follow the index): the chain
        // from the boundary to the export must be unbroken.
        let first_inside = records.iter().position(|r| r.record.recorded_at.as_str() >= from.as_str());
        let keep_from = first_inside.unwrap_or(records.len()).saturating_sub(1);
        records.drain(..keep_from);
    }
    Ok(records)
}

async fn range_records(
    conn: &mut Conn,
    log: &str,
    size: u64,
    (from, to): &(Option<String>, Option<String>),
) -> Result<Vec<StoredRecord>, BundleError> {
    let sql = format!(
        "SELECT {} FROM audit_records WHERE log_id = $1 AND leaf_index IS NOT NULL AND leaf_index < $2 \
         AND recorded_at >= $3 AND recorded_at <= $4 ORDER BY leaf_index",
        rows::COLUMNS
    );
    let found = sqlx::query(&sql)
        .bind(log)
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .bind(from.clone().unwrap_or_default())
        .bind(to.clone().unwrap_or_else(|| "9999".into()))
        .fetch_all(&mut *conn)
        .await?;
    Ok(found.iter().map(rows::decode).collect::<Result<_, _>>()?)
}

/// Each record's `prev_index` for each of its party links (FORMAT.md §2.2: set exactly
/// when `prev_leaf_hash` is): taken from the bundle's own records where the party's
/// previous record is among them, looked up in the log otherwise.
async fn prev_indices(
    conn: &mut Conn,
    log: &str,
    records: &[StoredRecord],
) -> Result<Vec<Vec<Option<u64>>>, BundleError> {
    let mut prev = prev_indices_within(records);
    for (stored, links) in records.iter().zip(&mut prev) {
        let Some(index) = stored.leaf_index else { continue };
        for (link, slot) in stored.record.parties.iter().zip(links.iter_mut()) {
            if link.prev_leaf_hash.is_some() && slot.is_none() {
                *slot = audit_log::previous_index(conn, log, &link.party, index).await?;
            }
        }
    }
    Ok(prev)
}

/// The `prev_index` of each party link whose previous record is the latest earlier record
/// of the same party in `records` (sorted by index) and has the linked leaf hash; None
/// for every other link.
pub(crate) fn prev_indices_within(records: &[StoredRecord]) -> Vec<Vec<Option<u64>>> {
    let mut last: HashMap<&str, (u64, Hash)> = HashMap::new();
    let mut out = Vec::with_capacity(records.len());
    for stored in records {
        let links = &stored.record.parties;
        out.push(
            links
                .iter()
                .map(|link| {
                    let (index, leaf) = last.get(link.party.as_str())?;
                    (link.prev_leaf_hash.as_ref() == Some(leaf)).then_some(*index)
                })
                .collect(),
        );
        if let Some(index) = stored.leaf_index {
            let leaf = stored.record.leaf_hash();
            for link in links {
                last.insert(link.party.as_str(), (index, leaf));
            }
        }
    }
    out
}

/// Records as NDJSON, one line each (FORMAT.md §7.3), with the `prev_index` of each
/// party link from `prev` (one entry per record, one per link).
pub(crate) fn records_ndjson(records: &[StoredRecord], prev: &[Vec<Option<u64>>]) -> Result<Vec<u8>, BundleError> {
    let mut out = Vec::new();
    for (stored, prev) in records.iter().zip(prev) {
        out.extend(json_line(&stored.record.to_json(stored.leaf_index, prev))?);
    }
    Ok(out)
}

pub(crate) fn proofs_ndjson(indices: &[u64], size: u64, proofs: &[Vec<Hash>]) -> Result<Vec<u8>, BundleError> {
    let mut out = Vec::new();
    for (index, hashes) in indices.iter().zip(proofs) {
        out.extend(json_line(&ProofLine { index: *index, tree_size: size, hashes: encode_all(hashes) })?);
    }
    Ok(out)
}

fn encode_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

pub(crate) fn json_line(value: &impl Serialize) -> Result<Vec<u8>, BundleError> {
    let mut line = serde_json::to_vec(value).map_err(|e| BundleError::Build(e.to_string()))?;
    line.push(b'\n');
    Ok(line)
}

pub(crate) fn write_tar(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, BundleError> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        builder.append_data(&mut header, name, bytes.as_slice()).map_err(|e| BundleError::Build(e.to_string()))?;
    }
    builder.into_inner().map_err(|e| BundleError::Build(e.to_string()))
}

/// Reads a bundle's files (name → bytes), refusing anything but plain files.
pub fn read_tar(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut archive = tar::Archive::new(bytes);
    let mut files = Vec::new();
    for entry in archive.entries().map_err(|e| format!("not a tar archive: {e}"))? {
        let mut entry = entry.map_err(|e| format!("bad tar entry: {e}"))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err("the bundle holds something other than plain files".into());
        }
        let name = entry.path().map_err(|e| format!("bad file name: {e}"))?.to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).map_err(|e| format!("reading {name}: {e}"))?;
        files.push((name, data));
    }
    Ok(files)
}
