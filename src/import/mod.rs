//! Bulk import: `custodia import --tenant T FILE` for NDJSON and CSV, and the demo's
//! seeding, through the same ingest path as the API (same encryption, blind indexes,
//! constraints, one audit record per record).
//!
//! Streaming: input is read line by line and written in batches, so memory does not
//! grow with the file. Rejected lines go to a reject file as `line,field,code,message` —
//! the field's name, never its value — and a summary closes the run.

pub mod csv_input;

use crate::audit::{Actor, AuditEvent, Outcome as AuditOutcome};
use crate::db::Db;
use crate::ids::TenantId;
use crate::keys::KeyService;
use crate::vault::domain::{Invalid, PartyInput};
use crate::vault::ingest::{ingest_batch, validate_record, IngestContext, Outcome};
use chrono::NaiveDate;
use std::io::Write;

/// Records per transaction: big enough for multi-row statements to pay off, small
/// enough that one transaction never holds the SQLite writer for long.
pub const DEFAULT_BATCH: usize = 500;

/// Counts for the closing summary.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Summary {
    pub read: u64,
    pub created: u64,
    pub rejected: u64,
}

/// Where rejected lines go.
pub trait RejectSink {
    fn reject(&mut self, line: u64, invalid: &Invalid) -> std::io::Result<()>;
}

/// Reject file in CSV: `line,field,code,message`. Messages name fields, never values.
pub struct RejectFile<W: Write>(pub csv::Writer<W>);

impl<W: Write> RejectFile<W> {
    pub fn new(inner: W) -> std::io::Result<Self> {
        let mut writer = csv::Writer::from_writer(inner);
        writer.write_record(["line", "field", "code", "message"])?;
        Ok(Self(writer))
    }
}

impl<W: Write> RejectSink for RejectFile<W> {
    fn reject(&mut self, line: u64, invalid: &Invalid) -> std::io::Result<()> {
        self.0.write_record([
            line.to_string().as_str(),
            invalid.field.as_str(),
            invalid.code,
            invalid.message.as_str(),
        ])?;
        self.0.flush()
    }
}

/// Who performs an import and how to stamp its records.
pub struct Importer<'a> {
    pub db: &'a Db,
    pub keys: &'a KeyService,
    pub tenant: TenantId,
    pub today: NaiveDate,
    pub now: String,
    pub batch: usize,
    pub actor: Actor,
    pub request_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("writing the reject file failed: {0}")]
    Rejects(#[from] std::io::Error),
    #[error(transparent)]
    Ingest(#[from] crate::vault::ingest::IngestError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl Importer<'_> {
    /// Imports a stream of parsed lines; `progress` gets the running summary per batch.
    pub async fn run(
        &self,
        lines: impl Iterator<Item = (u64, Result<PartyInput, Invalid>)>,
        rejects: &mut dyn RejectSink,
        mut progress: impl FnMut(&Summary),
    ) -> Result<Summary, ImportError> {
        let mut summary = Summary::default();
        let mut batch = Vec::with_capacity(self.batch);
        for (line, parsed) in lines {
            summary.read += 1;
            match parsed.and_then(|input| validate_record(&input, self.today, line)) {
                Ok(record) => batch.push(record),
                Err(invalid) => {
                    summary.rejected += 1;
                    rejects.reject(line, &invalid)?;
                }
            }
            if batch.len() >= self.batch {
                self.flush(std::mem::take(&mut batch), rejects, &mut summary).await?;
                progress(&summary);
            }
        }
        self.flush(batch, rejects, &mut summary).await?;
        progress(&summary);
        Ok(summary)
    }

    async fn flush(
        &self,
        records: Vec<crate::vault::ingest::Record>,
        rejects: &mut dyn RejectSink,
        summary: &mut Summary,
    ) -> Result<(), ImportError> {
        if records.is_empty() {
            return Ok(());
        }
        let audit = AuditEvent {
            actor: self.actor.clone(),
            action: "party.import",
            resource_id: None,
            parties: Vec::new(),
            evidence: None,
            fields: Vec::new(),
            outcome: AuditOutcome::Allowed,
            status: 201,
            error_code: None,
            request_id: self.request_id.clone(),
            seen_versions: Vec::new(),
        };
        let ctx = IngestContext { keys: self.keys, tenant: &self.tenant, now: &self.now, audit };
        let mut tx = self.db.begin_write().await?;
        let outcomes = ingest_batch(&ctx, &mut tx, records).await?;
        tx.commit().await?;
        for (line, outcome) in outcomes {
            match outcome {
                Outcome::Created { .. } => summary.created += 1,
                Outcome::Rejected(invalid) => {
                    summary.rejected += 1;
                    rejects.reject(line, &invalid)?;
                }
            }
        }
        Ok(())
    }
}

/// Parses NDJSON lines into party inputs, numbering lines from 1 and skipping blanks.
pub fn ndjson_lines<R: std::io::BufRead>(reader: R) -> impl Iterator<Item = (u64, Result<PartyInput, Invalid>)> {
    reader.lines().enumerate().filter_map(|(index, line)| {
        let number = index as u64 + 1;
        match line {
            Ok(text) if text.trim().is_empty() => None,
            Ok(text) => Some((number, parse_line(text.as_bytes()))),
            Err(_) => Some((number, Err(Invalid::new("unreadable_line", "", "the line is not valid UTF-8 text")))),
        }
    })
}

fn parse_line(bytes: &[u8]) -> Result<PartyInput, Invalid> {
    serde_json::from_slice(bytes).map_err(|err| {
        let code = if err.classify() == serde_json::error::Category::Data { "invalid_body" } else { "malformed_json" };
        Invalid::new(code, "", crate::api::error::describe_serde_error(&err.to_string()))
    })
}
