//! Obligations (what is owed), the parties on them with their roles, and the payments
//! and promises to pay recorded against them. No personal data lives here.

pub mod domain;
pub mod http;
pub mod store;
