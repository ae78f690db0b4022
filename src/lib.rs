//! Custodia: a compliance gateway for debt-collection data.
//!
//! It sits in front of a creditor's collections data and is the only way in or out:
//! personal fields are encrypted under per-party keys, every access is audited before it
//! is answered, and what each caller sees depends on its role and declared purpose.
//! See `README.md` for the quick start and `../shared/DESIGN.md` for the invariants.

pub mod access;
pub mod api;
pub mod audit;
pub mod cache;
pub mod calendar;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod consent;
pub mod db;
pub mod demo;
pub mod dsr;
pub mod flags;
pub mod idempotency;
pub mod ids;
pub mod import;
pub mod keys;
pub mod notices;
pub mod obligations;
pub mod startup;
pub mod telemetry;
pub mod vault;

/// The process's allocator, for the binary and every test and benchmark alike. Under the
/// audited read, glibc's malloc spent about a third of the request workers' CPU merging
/// and unlinking free chunks across threads (`malloc_consolidate`, `unlink_chunk`);
/// mimalloc's per-thread free lists do not. SQLite keeps using the C allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
