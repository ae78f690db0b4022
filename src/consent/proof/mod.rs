//! The proof package (prueba de la autorización, Decreto 1377 de 2013 art. 8): a party's
//! consent events and served notices exactly as hashed, the notices they cite, for each
//! the audit record carrying its hash with an inclusion proof against a signed audit
//! checkpoint, and the whole signed with the consent-proof key ([`key`]).
//!
//! [`build`] assembles the package and checks it with the same verifier a recipient runs
//! offline ([`verify`], `custodia consent verify-proof`); a package that does not verify
//! (a database edited behind the gateway's back) is never handed out. [`assemble`] is the
//! unchecked half, for forensics and tests.
//!
//! The caller seals the audit log first (`state.audit.seal_now()`), outside any write
//! transaction (sealing needs the writer), so every record the package names is covered.

pub mod key;
pub mod package;
pub mod verify;

use crate::audit::log::{self as audit_log, LogError};
use crate::audit::note::VerifierKey;
use crate::audit::rows::{self, StoredRecord};
use crate::audit::signer::AuditSigner;
use crate::consent::ledger::{integrity_on_decode, require_active, ConsentError};
use crate::consent::store;
use crate::db::Conn;
use crate::ids::{PartyId, TenantId};
use crate::notices;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use key::ProofSigner;
use package::{AuditProof, ProofPackage, ProvenConsent, ProvenNotice, ProvenServed, FORMAT};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("no such party in this tenant")]
    UnknownParty,
    #[error("this party's personal data was erased")]
    PartyErased,
    /// A record the package needs is not sealed yet: seal again and retry.
    #[error("an audit record of this party is not sealed yet")]
    NotSealed,
    /// The stored ledger does not match its audit records; names what failed.
    #[error("consent proof failed its integrity check: {0}")]
    Integrity(String),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("signing the package: {0}")]
    Sign(#[from] crate::audit::note::NoteError),
}

impl From<ConsentError> for ProofError {
    fn from(error: ConsentError) -> Self {
        match error {
            ConsentError::UnknownParty => Self::UnknownParty,
            ConsentError::PartyErased => Self::PartyErased,
            ConsentError::Db(e) => Self::Db(e),
            other => Self::Integrity(other.to_string()),
        }
    }
}

/// The signing keys a package involves.
pub struct ProofKeys<'a> {
    pub proof: &'a ProofSigner,
    pub audit: &'a AuditSigner,
}

/// Builds the signed package and verifies it as a recipient would; refuses to return a
/// package that does not verify (`ProofError::Integrity` names the failed check).
pub async fn build(
    conn: &mut Conn,
    keys: &ProofKeys<'_>,
    tenant: &TenantId,
    party: &PartyId,
    now: &str,
) -> Result<ProofPackage, ProofError> {
    let package = assemble(conn, keys, tenant, party, now).await?;
    let bytes = serde_json::to_vec(&package).map_err(|e| ProofError::Integrity(e.to_string()))?;
    let audit_key: &VerifierKey = keys.audit.verifier();
    let checked = verify::verify_package(&bytes, keys.proof.verifier(), audit_key);
    let checked = match checked {
        Ok(_) => check_complete(conn, tenant.as_str(), party.as_str(), &package).await,
        Err(failure) => Err(failure),
    };
    checked.map_err(|failure| {
        tracing::error!(party_id = %party, %failure, "consent proof package failed its own verification");
        ProofError::Integrity(failure)
    })?;
    Ok(package)
}

/// What the offline verifier cannot see: an event whose row is gone. Every allowed audit
/// record that attests a consent or served event of the party must attest one of the
/// package's events.
async fn check_complete(conn: &mut Conn, log: &str, party: &str, package: &ProofPackage) -> Result<(), String> {
    let records = evidence_records(conn, log, party).await.map_err(|e| e.to_string())?;
    let shown: std::collections::HashSet<String> = package
        .events
        .iter()
        .map(|e| e.event.sha256.clone())
        .chain(package.notices_served.iter().map(|e| e.event.sha256.clone()))
        .collect();
    let attesting = ["consent.grant", "consent.revoke", "notice.served"];
    let missing = records
        .values()
        .filter(|r| r.record.outcome == "allowed" && attesting.contains(&r.record.action.as_str()))
        .filter(|r| r.record.evidence_sha256.is_some_and(|h| !shown.contains(&hex::encode(h))))
        .count();
    match missing {
        0 => Ok(()),
        n => Err(format!("{n} audit record(s) attest events the ledger no longer holds (rows deleted)")),
    }
}

/// Collects and signs the package without checking it.
pub async fn assemble(
    conn: &mut Conn,
    keys: &ProofKeys<'_>,
    tenant: &TenantId,
    party: &PartyId,
    now: &str,
) -> Result<ProofPackage, ProofError> {
    let (log, party_str) = (tenant.as_str(), party.as_str());
    require_active(conn, log, party_str).await?;
    let events = store::events(conn, log, party_str).await.map_err(|e| ProofError::from(integrity_on_decode(e)))?;
    let served = notices::store::served_for(conn, log, party_str).await.map_err(integrity_on_decode)?;
    let records = evidence_records(conn, log, party_str).await?;
    let checkpoint = audit_log::latest_checkpoint(conn, log).await?;
    let mut proofs = Prover { conn, log, size: checkpoint.size, records: &records };
    let mut proven_events = Vec::with_capacity(events.len());
    for (event, stored_hash) in &events {
        let audit = proofs.prove(&[*stored_hash, event.sha256()], &event.seq).await?;
        let encoding = B64.encode(event.encode());
        proven_events.push(ProvenConsent { event: event.to_json(), encoding, audit });
    }
    let mut proven_served = Vec::with_capacity(served.len());
    for (event, stored_hash) in &served {
        let audit = proofs.prove(&[*stored_hash, event.sha256()], &event.seq).await?;
        proven_served.push(ProvenServed { event: event.to_json(), encoding: B64.encode(event.encode()), audit });
    }
    let cited: std::collections::BTreeSet<[u8; 32]> =
        events.iter().filter_map(|(e, _)| e.notice_hash).chain(served.iter().map(|(e, _)| e.notice_hash)).collect();
    let mut proven_notices = Vec::with_capacity(cited.len());
    for hash in cited {
        proven_notices.push(proofs.notice(&hash).await?);
    }
    let mut package = ProofPackage {
        format: FORMAT.to_string(),
        tenant: log.to_string(),
        party_id: party_str.to_string(),
        generated_at: now.to_string(),
        audit_origin: keys.audit.origin(log),
        checkpoint: checkpoint.note,
        tree_size: checkpoint.size,
        notices: proven_notices,
        events: proven_events,
        notices_served: proven_served,
        signature: String::new(),
    };
    let value = serde_json::to_value(&package).map_err(|e| ProofError::Integrity(e.to_string()))?;
    let digest = package::digest(&value).map_err(ProofError::Integrity)?;
    package.signature = keys.proof.sign(&package::signed_text(log, party_str, &digest))?;
    Ok(package)
}

/// Every audit record about `party` that attests an event, by evidence hash.
async fn evidence_records(
    conn: &mut Conn,
    log: &str,
    party: &str,
) -> Result<HashMap<[u8; 32], StoredRecord>, ProofError> {
    let sql = format!(
        "SELECT {} FROM audit_records WHERE log_id = $1 AND evidence IS NOT NULL AND record_id IN \
         (SELECT record_id FROM audit_record_parties WHERE log_id = $1 AND party_id = $2) ORDER BY seq",
        rows::COLUMNS
    );
    let found = sqlx::query(&sql).bind(log).bind(party).fetch_all(&mut *conn).await?;
    let mut out = HashMap::with_capacity(found.len());
    for row in &found {
        let stored = rows::decode(row).map_err(|e| ProofError::Integrity(e.to_string()))?;
        if let Some(hash) = stored.record.evidence_sha256 {
            out.entry(hash).or_insert(stored);
        }
    }
    Ok(out)
}

/// Finds the audit record of each event and proves it into the checkpoint.
struct Prover<'c, 'r> {
    conn: &'c mut Conn,
    log: &'c str,
    size: u64,
    records: &'r HashMap<[u8; 32], StoredRecord>,
}

impl Prover<'_, '_> {
    /// The record attesting one of `hashes` (the stored one first, then the recomputed
    /// one), with its inclusion proof.
    async fn prove(&mut self, hashes: &[[u8; 32]], seq: &u64) -> Result<AuditProof, ProofError> {
        let record = hashes.iter().find_map(|h| self.records.get(h)).ok_or_else(|| {
            ProofError::Integrity(format!(
                "event {seq} has no audit record attesting it (the row was changed or inserted)"
            ))
        })?;
        self.proof_of(record).await
    }

    async fn proof_of(&mut self, record: &StoredRecord) -> Result<AuditProof, ProofError> {
        let index = record.leaf_index.filter(|i| *i < self.size).ok_or(ProofError::NotSealed)?;
        let hashes = audit_log::inclusion_proof(self.conn, self.log, index, self.size).await?;
        let prev = audit_log::prev_indices(self.conn, self.log, record).await?;
        Ok(AuditProof {
            index,
            record: record.record.to_json(Some(index), &prev),
            inclusion_proof: hashes.iter().map(|h| B64.encode(h)).collect(),
        })
    }

    /// A cited notice with the record of its publication.
    async fn notice(&mut self, hash: &[u8; 32]) -> Result<ProvenNotice, ProofError> {
        let missing = || ProofError::Integrity("a cited notice is missing or unpublished".into());
        let notice = notices::store::by_hash(self.conn, self.log, hash).await?.ok_or_else(missing)?;
        let published_at = notice.published_at.clone().filter(|_| notice.published).ok_or_else(missing)?;
        let sql = format!(
            "SELECT {} FROM audit_records WHERE log_id = $1 AND action = 'notice.publish' AND evidence = $2 ORDER BY seq LIMIT 1",
            rows::COLUMNS
        );
        let row = sqlx::query(&sql).bind(self.log).bind(hash.to_vec()).fetch_optional(&mut *self.conn).await?;
        let row = row.ok_or_else(|| ProofError::Integrity("a cited notice has no publication record".into()))?;
        let record = rows::decode(&row).map_err(|e| ProofError::Integrity(e.to_string()))?;
        let publication = self.proof_of(&record).await?;
        let c = &notice.content;
        Ok(ProvenNotice {
            content_hash: hex::encode(notice.content_hash),
            name: c.name.clone(),
            version: c.version,
            language: c.language.clone(),
            title: c.title.clone(),
            text: c.text.clone(),
            purposes: c.purposes.clone(),
            channels: c.channels.clone(),
            published_at,
            encoding: B64.encode(c.encode()),
            publication,
        })
    }
}
