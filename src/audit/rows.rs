//! Reading records back: one row decoder for the sealer, the verifier, search and
//! exports, so every reader rebuilds exactly the content the leaf hash covers.

use super::record::{decode_parties, split_fields, Record};
use sqlx::any::AnyRow;
use sqlx::Row;

/// The columns [`decode`] expects, in order (prefix them with a table alias if needed).
pub const COLUMNS: &str =
    "seq, record_id, leaf_index, log_id, recorded_at, request_id, client_id, role, on_behalf_of, \
     purpose, action, resource_id, fields, outcome, status, error_code, evidence, parties";

/// How many columns [`COLUMNS`] names (a query may select more after them).
pub const COLUMN_COUNT: usize = 18;

/// A record as stored: its content plus where it sits.
#[derive(Clone, Debug)]
pub struct StoredRecord {
    pub seq: i64,
    pub record_id: Vec<u8>,
    pub leaf_index: Option<u64>,
    pub record: Record,
}

/// Rows whose bytes do not decode are reported as such (the verifier names them).
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("record seq {seq}: {message}")]
    Corrupt { seq: i64, message: String },
}

/// Decodes one row selected with [`COLUMNS`].
pub fn decode(row: &AnyRow) -> Result<StoredRecord, RowError> {
    let seq: i64 = row.try_get(0)?;
    let corrupt = |message: String| RowError::Corrupt { seq, message };
    let leaf_index: Option<i64> = row.try_get(2)?;
    let status: i64 = row.try_get(14)?;
    let evidence: Option<Vec<u8>> = row.try_get(16)?;
    let parties: Option<Vec<u8>> = row.try_get(17)?;
    let record = Record {
        log: row.try_get(3)?,
        recorded_at: row.try_get(4)?,
        request_id: row.try_get(5)?,
        client_id: row.try_get(6)?,
        role: row.try_get(7)?,
        on_behalf_of: row.try_get(8)?,
        purpose: row.try_get(9)?,
        action: row.try_get(10)?,
        resource_id: row.try_get(11)?,
        fields: split_fields(&row.try_get::<String, _>(12)?),
        outcome: row.try_get(13)?,
        status: u16::try_from(status).map_err(|_| corrupt("status out of range".into()))?,
        error_code: row.try_get(15)?,
        evidence_sha256: evidence
            .map(|e| e.try_into().map_err(|_| corrupt("evidence is not 32 bytes".into())))
            .transpose()?,
        parties: decode_parties(parties.as_deref().unwrap_or_default()).map_err(|e| corrupt(e.to_string()))?,
    };
    Ok(StoredRecord {
        seq,
        record_id: row.try_get(1)?,
        leaf_index: leaf_index
            .map(|i| u64::try_from(i).map_err(|_| corrupt("negative leaf index".into())))
            .transpose()?,
        record,
    })
}
