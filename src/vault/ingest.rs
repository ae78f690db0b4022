//! Creating parties with their obligations, co-parties, payments and promises — one
//! path for `POST /v1/parties`, `POST /v1/parties:batch`, `custodia import` and the
//! demo, so an imported party is indistinguishable from one created through the API.
//!
//! A batch is checked as a whole against the database in a few queries (identity blind
//! indexes, obligation references), then written as multi-row statements together with
//! one audit record per created record, in the caller's transaction. A holder whose
//! national id or reference already exists is rejected (`duplicate_party`): a person is
//! one party per tenant. A co-debtor or guarantor who already exists is linked, not
//! duplicated — the same person on two obligations is one party.

use super::domain::{Invalid, NewParty, PartyInput};
use super::service::{identity_digests, seal_new_party};
use super::store::{existing_identities, PartyRows};
use crate::audit::{self, AuditEvent, AuditUnavailable};
use crate::db::Conn;
use crate::ids::{ObligationId, PartyId, TenantId};
use crate::keys::{BlindIndexer, KeyError, KeyService, PartyKeyFactory};
use crate::obligations::domain::{parse_choice, NewMovement, NewObligation};
use crate::obligations::store::{existing_refs, ObligationRows};
use chrono::NaiveDate;
use std::collections::{HashMap, HashSet};

/// One validated input record: a holder and the obligations it holds.
pub struct Record {
    pub line: u64,
    pub holder: NewParty,
    pub obligations: Vec<RecordObligation>,
}

pub struct RecordObligation {
    pub terms: NewObligation,
    pub payments: Vec<NewMovement>,
    pub promises: Vec<NewMovement>,
    pub co_parties: Vec<(&'static str, NewParty)>,
}

/// Validates a whole input record; the first problem is reported with its JSON path.
pub fn validate_record(input: &PartyInput, today: NaiveDate, line: u64) -> Result<Record, Invalid> {
    let holder = input.validate(today, "")?;
    let mut obligations = Vec::with_capacity(input.obligations.len());
    for (i, o) in input.obligations.iter().enumerate() {
        let at = format!("obligations[{i}].");
        let payments = o.payments.iter().enumerate().map(|(j, p)| p.validate(&format!("{at}payments[{j}].")));
        let promises = o.promises.iter().enumerate().map(|(j, p)| p.validate(&format!("{at}promises[{j}].")));
        let mut co_parties = Vec::with_capacity(o.co_parties.len());
        for (j, c) in o.co_parties.iter().enumerate() {
            let cat = format!("{at}co_parties[{j}].");
            let role = parse_choice(&c.role, &["co_debtor", "guarantor"], "invalid_role", &format!("{cat}role"))?;
            if !c.party.obligations.is_empty() {
                return Err(Invalid::new(
                    "nested_obligations",
                    format!("{cat}party.obligations"),
                    "a co-party cannot carry obligations of its own here",
                ));
            }
            co_parties.push((role, c.party.validate(today, &format!("{cat}party."))?));
        }
        obligations.push(RecordObligation {
            terms: o.terms().validate(&at)?,
            payments: payments.collect::<Result<_, _>>()?,
            promises: promises.collect::<Result<_, _>>()?,
            co_parties,
        });
    }
    Ok(Record { line, holder, obligations })
}

/// What happened to one record.
pub enum Outcome {
    Created { party: PartyId, co_parties: Vec<PartyId>, obligations: Vec<ObligationId> },
    Rejected(Invalid),
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Audit(#[from] AuditUnavailable),
}

/// Who is ingesting and how to audit it.
pub struct IngestContext<'a> {
    pub keys: &'a KeyService,
    pub tenant: &'a TenantId,
    pub now: &'a str,
    /// Template of the per-record audit event (actor, action, request id).
    pub audit: AuditEvent,
}

/// Identity claims already taken, in the database or earlier in the batch.
struct Taken {
    identities: HashMap<(String, Vec<u8>), String>,
    obligation_refs: HashSet<String>,
}

impl Taken {
    /// The party holding any of `digests` (one per live index version) of `kind`.
    fn owner(&self, kind: &str, digests: &[Vec<u8>]) -> Option<&String> {
        digests.iter().find_map(|d| self.identities.get(&(kind.to_string(), d.clone())))
    }
}

/// Writes a batch in the caller's transaction; returns one outcome per record, in order.
pub async fn ingest_batch(
    ctx: &IngestContext<'_>,
    conn: &mut Conn,
    records: Vec<Record>,
) -> Result<Vec<(u64, Outcome)>, IngestError> {
    let factory = ctx.keys.party_key_factory(conn, ctx.tenant).await?;
    let indexer = ctx.keys.blind_indexer_for_write(conn, ctx.tenant).await?;
    let taken = lookup_taken(conn, ctx.tenant, &indexer, &records).await?;
    let mut taken = lock_found_parties(conn, ctx.tenant, taken).await?;
    let mut writer = BatchWriter {
        ctx,
        factory: &factory,
        indexer: &indexer,
        parties: PartyRows::default(),
        obligations: ObligationRows::default(),
        events: Vec::new(),
    };
    let mut outcomes = Vec::with_capacity(records.len());
    for record in records {
        let outcome = match plan(&record, &indexer, &taken) {
            Ok(()) => writer.write(&record, &mut taken)?,
            Err(invalid) => Outcome::Rejected(invalid),
        };
        outcomes.push((record.line, outcome));
    }
    writer.parties.insert(conn).await?;
    writer.obligations.insert(conn).await?;
    audit::append_many(conn, &writer.events, ctx.now).await?;
    Ok(outcomes)
}

async fn lookup_taken(
    conn: &mut Conn,
    tenant: &TenantId,
    indexer: &BlindIndexer,
    records: &[Record],
) -> Result<Taken, sqlx::Error> {
    let mut digests: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut refs: Vec<&str> = Vec::new();
    for record in records {
        let parties = std::iter::once(&record.holder)
            .chain(record.obligations.iter().flat_map(|o| o.co_parties.iter().map(|(_, p)| p)));
        for party in parties {
            let d = identity_digests(indexer, &party.values);
            digests.extend(d.national_id.into_iter().map(|digest| ("national_id", digest)));
            digests.extend(d.external_ref.into_iter().map(|digest| ("external_ref", digest)));
        }
        refs.extend(record.obligations.iter().map(|o| o.terms.external_ref.as_str()));
    }
    let borrowed: Vec<(&str, &[u8])> = digests.iter().map(|(k, d)| (*k, d.as_slice())).collect();
    let identities = existing_identities(conn, tenant.as_str(), &borrowed).await?;
    let obligation_refs = existing_refs(conn, tenant.as_str(), &refs).await?;
    Ok(Taken { identities, obligation_refs })
}

/// Takes the per-party lock of every existing party the batch found, as any other write
/// about them does, then looks those identities up again under the locks: an erasure
/// that committed before a lock was ours removed that party's identities (the person is
/// then created anew instead of an obligation being linked to an erased party, and a
/// later erasure sees the new obligation as a hold), and a rectification may have moved
/// one to another party (locked in turn, until a look finds no party not yet locked).
async fn lock_found_parties(conn: &mut Conn, tenant: &TenantId, mut taken: Taken) -> Result<Taken, sqlx::Error> {
    if crate::db::backend_of_conn(conn) != crate::db::Backend::Postgres {
        // SQLite's single writer already serializes every write transaction.
        return Ok(taken);
    }
    let mut locked: HashSet<String> = HashSet::new();
    loop {
        let mut found: Vec<String> = taken.identities.values().filter(|p| !locked.contains(*p)).cloned().collect();
        if found.is_empty() {
            return Ok(taken);
        }
        found.sort();
        found.dedup();
        crate::db::lock_parties_in(conn, &found).await?;
        locked.extend(found);
        let again = {
            let digests: Vec<(&str, &[u8])> =
                taken.identities.keys().map(|(kind, digest)| (kind.as_str(), digest.as_slice())).collect();
            existing_identities(conn, tenant.as_str(), &digests).await?
        };
        taken.identities = again;
    }
}

/// Checks a record against what is taken; linking or creating co-parties is decided
/// when it is written, so a guarantor repeated inside a batch becomes one party.
fn plan(record: &Record, indexer: &BlindIndexer, taken: &Taken) -> Result<(), Invalid> {
    let holder = identity_digests(indexer, &record.holder.values);
    if taken.owner("national_id", &holder.national_id).is_some() {
        return Err(Invalid::new(
            "duplicate_party",
            "national_id",
            "a party with this national id already exists in this tenant",
        ));
    }
    if taken.owner("external_ref", &holder.external_ref).is_some() {
        return Err(Invalid::new(
            "duplicate_external_ref",
            "external_ref",
            "another party already uses this external_ref",
        ));
    }
    let mut refs = HashSet::new();
    // national id digest -> external ref digest of the people this record creates
    let holder_national = holder.national_id_active();
    let mut created: HashMap<Vec<u8>, Vec<u8>> =
        HashMap::from([(holder.national_id_active(), holder.external_ref_active())]);
    for (i, obligation) in record.obligations.iter().enumerate() {
        let reference = &obligation.terms.external_ref;
        if taken.obligation_refs.contains(reference) || !refs.insert(reference.clone()) {
            return Err(Invalid::new(
                "duplicate_obligation",
                format!("obligations[{i}].external_ref"),
                "an obligation with this external_ref already exists",
            ));
        }
        let mut on_this_obligation = HashSet::from([holder_national.clone()]);
        for (j, (_, party)) in obligation.co_parties.iter().enumerate() {
            let at = format!("obligations[{i}].co_parties[{j}].party");
            let digests = identity_digests(indexer, &party.values);
            if !on_this_obligation.insert(digests.national_id_active()) {
                return Err(Invalid::new(
                    "duplicate_co_party",
                    format!("{at}.national_id"),
                    "a person can appear only once on an obligation",
                ));
            }
            check_co_party(digests, &at, taken, &mut created)?;
        }
    }
    Ok(())
}

fn check_co_party(
    d: super::service::IdentityDigests,
    at: &str,
    taken: &Taken,
    created: &mut HashMap<Vec<u8>, Vec<u8>>,
) -> Result<(), Invalid> {
    if taken.owner("national_id", &d.national_id).is_some() {
        return Ok(());
    }
    let ref_taken = taken.owner("external_ref", &d.external_ref).is_some();
    let (national, reference) = (d.national_id_active(), d.external_ref_active());
    match created.get(&national) {
        Some(existing_ref) if *existing_ref == reference => Ok(()),
        Some(_) => Err(Invalid::new(
            "conflicting_party",
            format!("{at}.external_ref"),
            "the same national id appears with two different external_refs",
        )),
        None if ref_taken || created.values().any(|r| *r == reference) => Err(Invalid::new(
            "duplicate_external_ref",
            format!("{at}.external_ref"),
            "another party already uses this external_ref",
        )),
        None => {
            created.insert(national, reference);
            Ok(())
        }
    }
}

struct BatchWriter<'a> {
    ctx: &'a IngestContext<'a>,
    factory: &'a PartyKeyFactory,
    indexer: &'a BlindIndexer,
    parties: PartyRows,
    obligations: ObligationRows,
    events: Vec<AuditEvent>,
}

impl BatchWriter<'_> {
    fn write(&mut self, record: &Record, taken: &mut Taken) -> Result<Outcome, KeyError> {
        let holder = self.create_party(&record.holder, taken)?;
        let mut created_co = Vec::new();
        let mut obligation_ids = Vec::new();
        let (tenant, now) = (self.ctx.tenant.as_str(), self.ctx.now);
        for obligation in &record.obligations {
            let id = ObligationId::new();
            self.obligations.obligation(id.as_str(), tenant, &obligation.terms, now);
            self.obligations.link(id.as_str(), holder.as_str(), tenant, "holder");
            taken.obligation_refs.insert(obligation.terms.external_ref.clone());
            for (role, party) in &obligation.co_parties {
                let national = identity_digests(self.indexer, &party.values).national_id;
                let party_id = match taken.owner("national_id", &national) {
                    Some(existing) => existing.clone(),
                    None => {
                        let created = self.create_party(party, taken)?;
                        created_co.push(created.clone());
                        created.as_str().to_string()
                    }
                };
                self.obligations.link(id.as_str(), &party_id, tenant, role);
            }
            obligation.payments.iter().for_each(|p| self.obligations.payment(id.as_str(), tenant, p, now));
            obligation.promises.iter().for_each(|p| self.obligations.promise(id.as_str(), tenant, p, now));
            obligation_ids.push(id);
        }
        self.audit(&holder, &created_co, &record.holder);
        Ok(Outcome::Created { party: holder, co_parties: created_co, obligations: obligation_ids })
    }

    fn create_party(&mut self, party: &NewParty, taken: &mut Taken) -> Result<PartyId, KeyError> {
        let id = PartyId::new();
        seal_new_party(self.factory, self.indexer, self.ctx.tenant, &id, party, self.ctx.now, &mut self.parties)?;
        let d = identity_digests(self.indexer, &party.values);
        for digest in d.national_id {
            taken.identities.insert(("national_id".into(), digest), id.as_str().to_string());
        }
        for digest in d.external_ref {
            taken.identities.insert(("external_ref".into(), digest), id.as_str().to_string());
        }
        Ok(id)
    }

    fn audit(&mut self, holder: &PartyId, co_parties: &[PartyId], party: &NewParty) {
        let mut event = self.ctx.audit.clone();
        event.resource_id = Some(holder.to_string());
        event.parties = std::iter::once(holder).chain(co_parties).map(PartyId::to_string).collect();
        event.fields = written_fields(party);
        self.events.push(event);
    }
}

/// Names of the personal fields a new party carries (for its audit record).
pub fn written_fields(party: &NewParty) -> Vec<String> {
    let v = &party.values;
    let mut fields = vec!["external_ref", "full_name", "national_id"];
    if !v.phones.is_empty() {
        fields.push("phones");
    }
    if !v.emails.is_empty() {
        fields.push("emails");
    }
    if v.address.is_some() {
        fields.push("address");
    }
    if v.date_of_birth.is_some() {
        fields.push("date_of_birth");
    }
    fields.into_iter().map(str::to_string).collect()
}
