//! The integration suite: the real router on a random port, a real database per test
//! (SQLite by default, PostgreSQL with `CUSTODIA_TEST_POSTGRES_URL`), talking HTTP.

mod access_matrix;
mod at_rest;
mod audit_log;
mod audit_trail;
mod bad_input;
mod binary;
mod cached_reads;
mod consent;
mod consent_access;
mod consent_bad_input;
mod consent_concurrency;
mod consent_proof;
mod consent_support;
mod dsr_access;
mod dsr_answers;
mod dsr_deadlines;
mod dsr_dossier;
mod dsr_states;
mod dsr_support;
mod dsr_sweeper;
mod erasure;
mod flags;
mod helpers;
mod idempotency;
mod index_rotation;
mod key_jobs;
mod keys;
mod multi_process;
mod notices;
mod ops;
mod processes;
mod retention;
mod smoke;
mod tenancy;
