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
