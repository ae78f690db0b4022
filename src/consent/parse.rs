//! Parsing values from the outside into what the ledger stores: element ids, opaque
//! actor ids and references (a charset that keeps free text, and so personal data, out),
//! instants, dates and hex hashes. Each refusal names the field, never the value.

use super::domain::BadInput;
use super::encoding::parse_hex_hash;
use crate::audit::merkle::Hash;
use chrono::{DateTime, NaiveDate, Utc};

/// An element id as the vault names them.
pub fn element_id(text: &str, field: &str) -> Result<String, BadInput> {
    crate::vault::pii::ElementId::parse(text, field)
        .map(|e| e.as_str().to_string())
        .map_err(|_| BadInput::new("invalid_destination", field, "an element id: 1-32 of a-z, 0-9, '_', '-'"))
}

/// Who captured or served something: 1-64 of `[A-Za-z0-9._@-]` (like `X-On-Behalf-Of`).
pub fn actor_id(text: &str, field: &str) -> Result<String, BadInput> {
    let ok = (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    ok.then(|| text.to_string())
        .ok_or_else(|| BadInput::new("invalid_actor", field, "1-64 of letters, digits, '.', '_', '@', '-'"))
}

/// An opaque reference in another system: 1-128 of `[A-Za-z0-9._:/#-]`. It must not
/// carry personal data (documented in the README); the charset keeps free text out.
pub fn reference(text: &str, field: &str) -> Result<String, BadInput> {
    let ok =
        (1..=128).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:/#-".contains(&b));
    ok.then(|| text.to_string()).ok_or_else(|| {
        BadInput::new("invalid_reference", field, "1-128 of letters, digits, '.', '_', ':', '/', '#', '-'")
    })
}

/// An RFC 3339 instant.
pub fn instant(text: &str, field: &str) -> Result<DateTime<Utc>, BadInput> {
    crate::clock::parse_instant(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| BadInput::new("invalid_time", field, "an RFC 3339 instant, e.g. 2026-03-02T10:15:00-05:00"))
}

/// A `YYYY-MM-DD` date.
pub fn date(text: &str, field: &str) -> Result<NaiveDate, BadInput> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
        .ok_or_else(|| BadInput::new("invalid_date", field, "a date as YYYY-MM-DD"))
}

/// A lowercase hex SHA-256.
pub fn hash(text: &str, field: &str) -> Result<Hash, BadInput> {
    parse_hex_hash(text).ok_or_else(|| BadInput::new("invalid_hash", field, "a SHA-256 as 64 lowercase hex digits"))
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_identifiers_keep_free_text_out() {
        assert!(actor_id("agent-17@callcenter", "x").is_ok());
        assert!(actor_id("Ana María", "x").is_err());
        assert!(reference("CALL/2026/000123#part-2", "x").is_ok());
        assert!(reference("la señora dijo que", "x").is_err());
        assert!(reference(&"a".repeat(129), "x").is_err());
        assert!(date("2026-1-10", "x").is_err());
    }
}
