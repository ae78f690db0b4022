//! The party vault: debtors, co-debtors and guarantors, their personal fields encrypted
//! under per-party data keys, found through blind indexes, and shown to each caller as
//! the access policy allows.
//!
//! Layout: `pii` (validated personal values), `mask` (partial display), `domain` (wire
//! shapes and views), `service` (encryption), `store` (SQL), `ingest` (the one creation
//! path), `patch` (rectification), `http` (handlers), `gate` (404/410 for every endpoint
//! about a party), `reindex` (blind-index key rotation), and the sub-modules `retention`
//! (what keeps a party's data from being erased) and `erasure` (supresión by
//! crypto-shredding).

pub mod domain;
pub mod erasure;
pub mod gate;
pub mod http;
pub mod ingest;
pub mod mask;
pub mod patch;
pub mod pii;
pub mod reindex;
pub mod retention;
pub mod service;
pub mod store;

/// Encrypted party rows (ciphertexts and the wrapped key, never plaintext) by tenant and
/// party id, for reads that then cost no database round trip of their own. A read served
/// from here records the row's version in its audit event; the audit transaction checks
/// it (`crate::audit::freshness`) and the read is redone from the database if it changed.
pub type PartyCache = crate::cache::TtlCache<(String, String), std::sync::Arc<store::StoredParty>>;
