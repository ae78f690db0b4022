//! Identifier newtypes shared across domains, so a tenant id can never be passed where
//! a party id is expected. Opaque ids are UUIDv7 (time-ordered, good index locality);
//! they identify rows, never people, and are safe to log and audit.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an identifier from the outside was refused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{kind} id is malformed")]
pub struct BadId {
    pub kind: &'static str,
}

macro_rules! opaque_id {
    ($name:ident, $kind:literal) => {
        #[doc = concat!("Opaque, time-ordered id of a ", $kind, ".")]
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// Accepts only the canonical hyphenated UUID form we hand out.
            pub fn parse(text: &str) -> Result<Self, BadId> {
                let id = uuid::Uuid::try_parse(text).map_err(|_| BadId { kind: $kind })?;
                Ok(Self(id.hyphenated().to_string()))
            }

            /// Trusted text read back from our own database.
            pub fn from_db(text: String) -> Self {
                Self(text)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

opaque_id!(PartyId, "party");
opaque_id!(ObligationId, "obligation");
opaque_id!(ClientId, "client");
opaque_id!(RecordId, "record");

/// A tenant's slug: 1–40 characters of `[a-z0-9-]`, chosen by the operator.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(text: &str) -> Result<Self, BadId> {
        let ok = (1..=40).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !text.starts_with('-');
        if ok {
            Ok(Self(text.to_string()))
        } else {
            Err(BadId { kind: "tenant" })
        }
    }

    pub fn from_db(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_their_canonical_form() {
        let id = PartyId::new();
        assert_eq!(PartyId::parse(id.as_str()), Ok(id));
        assert!(PartyId::parse("1020304050").is_err());
        assert!(TenantId::parse("demo-bank").is_ok());
        assert!(TenantId::parse("Demo").is_err());
        assert!(TenantId::parse("").is_err());
    }
}
