//! The erasure receipt: what an erasure destroyed and what it scheduled, and its
//! canonical byte encoding, whose SHA-256 is the `party.erase` audit record's `evidence`
//! (so a receipt handed to a titular or the SIC verifies against an audit checkpoint).
//!
//! Encoding (stable): the parts below, each a 4-byte big-endian length and its UTF-8
//! bytes (`crate::keys::crypto::associated_data`), in this order:
//! `"custodia/erasure-receipt/v1"`, tenant, party id, erased_at (database time text),
//! request id, data-key id, tenant data-key version the key was wrapped under (decimal),
//! the number of field values deleted, the number of blind-index rows deleted, the
//! number of field names that follow, each field name (sorted), `retire_below` (decimal),
//! the key job id.

use crate::keys::crypto::{associated_data, sha256};
use serde::Serialize;
use utoipa::ToSchema;

/// What one erasure did. Holds opaque ids and counts only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErasureReceipt {
    pub tenant: String,
    pub party: String,
    pub erased_at: String,
    pub request_id: String,
    /// Id of the destroyed data key (None if the party had none left).
    pub data_key_id: Option<String>,
    /// The tenant data-key version the destroyed key was wrapped under.
    pub wrapped_under: Option<u32>,
    pub field_values: u64,
    pub blind_indexes: u64,
    /// Names of the personal fields whose values were destroyed, sorted.
    pub fields: Vec<String>,
    /// Every tenant data-key version below this is to be retired by `job_id`.
    pub retire_below: u32,
    pub job_id: String,
}

impl ErasureReceipt {
    /// The canonical encoding (module docs).
    pub fn canonical(&self) -> Vec<u8> {
        let key_id = self.data_key_id.clone().unwrap_or_default();
        let wrapped_under = self.wrapped_under.map(|v| v.to_string()).unwrap_or_default();
        let (values, indexes) = (self.field_values.to_string(), self.blind_indexes.to_string());
        let (count, retire_below) = (self.fields.len().to_string(), self.retire_below.to_string());
        let mut parts: Vec<&str> = vec![
            "custodia/erasure-receipt/v1",
            &self.tenant,
            &self.party,
            &self.erased_at,
            &self.request_id,
            &key_id,
            &wrapped_under,
            &values,
            &indexes,
            &count,
        ];
        parts.extend(self.fields.iter().map(String::as_str));
        parts.push(&retire_below);
        parts.push(&self.job_id);
        associated_data(&parts)
    }

    /// SHA-256 of [`ErasureReceipt::canonical`].
    pub fn sha256(&self) -> [u8; 32] {
        sha256(&self.canonical())
    }

    pub fn view(&self) -> ErasureView {
        use base64::Engine as _;
        ErasureView {
            party_id: self.party.clone(),
            erased_at: self.erased_at.clone(),
            evidence_sha256: base64::engine::general_purpose::STANDARD.encode(self.sha256()),
            removed: Removed {
                data_key: self.data_key_id.is_some(),
                fields: self.fields.clone(),
                field_values: self.field_values,
                blind_indexes: self.blind_indexes,
            },
            key_rotation: KeyRotation { job_id: self.job_id.clone(), retire_below: self.retire_below },
        }
    }
}

/// The answer to an erasure: the receipt as JSON, with the hash the audit record holds.
#[derive(Serialize, ToSchema)]
pub struct ErasureView {
    pub party_id: String,
    pub erased_at: String,
    /// Base64 SHA-256 of the receipt's canonical encoding; the `party.erase` audit
    /// record's `evidence_sha256`.
    pub evidence_sha256: String,
    pub removed: Removed,
    pub key_rotation: KeyRotation,
}

#[derive(Serialize, ToSchema)]
pub struct Removed {
    /// The party's wrapped data key was deleted (crypto-shredding).
    pub data_key: bool,
    /// Names of the personal fields destroyed.
    pub fields: Vec<String>,
    pub field_values: u64,
    pub blind_indexes: u64,
}

/// The scheduled tenant-key rotation that retires the version the key was wrapped under.
#[derive(Serialize, ToSchema)]
pub struct KeyRotation {
    pub job_id: String,
    /// Every tenant data-key version below this one will be retired.
    pub retire_below: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt() -> ErasureReceipt {
        ErasureReceipt {
            tenant: "acme".into(),
            party: "p-1".into(),
            erased_at: "2026-12-01T10:00:00.000000Z".into(),
            request_id: "r-1".into(),
            data_key_id: Some("dk-1".into()),
            wrapped_under: Some(1),
            field_values: 8,
            blind_indexes: 5,
            fields: vec!["email".into(), "phone".into()],
            retire_below: 2,
            job_id: "j-1".into(),
        }
    }

    #[test]
    fn every_part_of_the_receipt_changes_its_hash() {
        let base = receipt().sha256();
        let edits: [fn(&mut ErasureReceipt); 12] = [
            |r| r.tenant = "acmf".into(),
            |r| r.party = "p-2".into(),
            |r| r.erased_at = "2026-12-01T10:00:00.000001Z".into(),
            |r| r.request_id = "r-2".into(),
            |r| r.data_key_id = None,
            |r| r.wrapped_under = Some(2),
            |r| r.field_values = 7,
            |r| r.blind_indexes = 4,
            |r| r.fields = vec!["email".into()],
            |r| r.fields = vec!["emailphone".into()],
            |r| r.retire_below = 3,
            |r| r.job_id = "j-2".into(),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut changed = receipt();
            edit(&mut changed);
            assert_ne!(changed.sha256(), base, "edit {i}");
        }
        assert_eq!(receipt().sha256(), base, "stable");
    }

    #[test]
    fn the_view_carries_the_hash_and_no_value() {
        let view = serde_json::to_string(&receipt().view()).unwrap_or_default();
        assert!(view.contains("\"retire_below\":2") && view.contains("evidence_sha256"), "{view}");
    }
}
