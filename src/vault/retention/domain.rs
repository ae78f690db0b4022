//! Retention holds as values: what a hold is, how a stored retention period is validated
//! and when it applies, the refusal text, and the canonical encoding of hold events.
//!
//! Canonical encoding of a hold event (its SHA-256 is the audit record's `evidence`): the
//! parts below, each as a 4-byte big-endian length followed by its UTF-8 bytes (the
//! encoding of `crate::keys::crypto::associated_data`), in this order:
//! `"custodia/retention-hold/v1"`, action (`retention.hold` | `retention.release`), tenant,
//! party id, hold id, basis, starts_on (`YYYY-MM-DD`), ends_on (`YYYY-MM-DD` or empty),
//! erase_at_end (`1` | `0`), the event's time (database text form), the acting client id.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Obligation states that no longer hold a party's data: anything else is still owed.
pub const SETTLED_STATUSES: &[&str] = &["paid", "closed"];

/// One reason a party's data must be kept *now* (why an erasure or a revocation of the
/// authorization to process data is refused).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hold {
    /// The party is holder, co-debtor or guarantor of an obligation that is not paid or
    /// closed: a contractual duty to remain in the database.
    OpenObligation {
        obligation_id: String,
        /// holder, co_debtor or guarantor
        role: String,
        status: String,
        basis: String,
    },
    /// A legal retention period stored for the party.
    RetentionPeriod {
        hold_id: String,
        basis: String,
        starts_on: NaiveDate,
        /// Last day of the period; absent: until released.
        ends_on: Option<NaiveDate>,
        erase_at_end: bool,
    },
}

impl Hold {
    pub fn basis(&self) -> &str {
        match self {
            Self::OpenObligation { basis, .. } | Self::RetentionPeriod { basis, .. } => basis,
        }
    }

    pub fn ends_on(&self) -> Option<NaiveDate> {
        match self {
            Self::OpenObligation { .. } => None,
            Self::RetentionPeriod { ends_on, .. } => *ends_on,
        }
    }

    /// One line naming the hold, its basis and its end; opaque ids only, never a value.
    pub fn reason(&self) -> String {
        match self {
            Self::OpenObligation { obligation_id, status, basis, .. } => {
                format!("obligation {obligation_id} is {status} ({basis})")
            }
            Self::RetentionPeriod { basis, ends_on: Some(end), .. } => format!("{basis}: retention until {end}"),
            Self::RetentionPeriod { basis, ends_on: None, .. } => format!("{basis}: retention until released"),
        }
    }
}

/// The message of a refusal because of `holds`.
pub fn refusal_message(holds: &[Hold]) -> String {
    let reasons: Vec<String> = holds.iter().map(Hold::reason).collect();
    format!("the data must be kept while retention holds apply: {}", reasons.join("; "))
}

/// The legal basis an open obligation holds data under, by the party's jurisdiction.
pub fn open_obligation_basis(jurisdiction: &str) -> &'static str {
    match jurisdiction {
        "CO" => "Decreto 1377 de 2013 art. 9 (DUR 2.2.2.25.2.6): duty to remain in the database",
        "EU" => "GDPR art. 17(3)(e): establishment, exercise or defence of legal claims",
        "MX" => "LFPDPPP: cancellation is blocked while the obligation is outstanding",
        _ => "contractual obligation outstanding",
    }
}

/// Why a new retention period was refused (code and message; never the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct HoldInvalid {
    pub code: &'static str,
    pub field: &'static str,
    pub message: &'static str,
}

/// Body of `POST /v1/parties/{id}/retention-holds`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldInput {
    /// The law that requires keeping the data, e.g. "Ley 1266 de 2008 art. 13". Names a
    /// law, never the person: no run of more than 4 digits, no '@'.
    pub basis: String,
    /// First day of the period, YYYY-MM-DD.
    pub starts_on: String,
    /// Last day of the period, YYYY-MM-DD; absent or null: until released.
    #[serde(default)]
    pub ends_on: Option<String>,
    /// Erase the party once the period ends and nothing else holds (MX cancellation:
    /// blocked first, deleted at the end of the retention period). Needs `ends_on`.
    #[serde(default)]
    pub erase_at_end: bool,
}

/// A validated retention period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPeriod {
    pub basis: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub erase_at_end: bool,
}

const BASIS_PUNCTUATION: &str = " .,;:()/-§º°ª'&";

impl HoldInput {
    pub fn validate(&self) -> Result<NewPeriod, HoldInvalid> {
        let basis = parse_basis(&self.basis)?;
        let starts_on = parse_day(&self.starts_on, "starts_on")?;
        let ends_on = self.ends_on.as_deref().map(|d| parse_day(d, "ends_on")).transpose()?;
        if ends_on.is_some_and(|end| end < starts_on) {
            return Err(HoldInvalid {
                code: "invalid_period",
                field: "ends_on",
                message: "the period cannot end before it starts",
            });
        }
        if self.erase_at_end && ends_on.is_none() {
            return Err(HoldInvalid {
                code: "end_date_required",
                field: "ends_on",
                message: "erase_at_end needs the date the period ends",
            });
        }
        Ok(NewPeriod { basis, starts_on, ends_on, erase_at_end: self.erase_at_end })
    }
}

/// A basis names a law: 3–160 letters, digits, spaces and common punctuation, with no run
/// of more than 4 digits (years and article numbers fit; document numbers and phones do
/// not) and no '@', so that a person's data cannot be typed into it by mistake.
pub fn parse_basis(text: &str) -> Result<String, HoldInvalid> {
    let invalid = |message| HoldInvalid { code: "invalid_basis", field: "basis", message };
    let basis = text.trim();
    let length = basis.chars().count();
    if !(3..=160).contains(&length) {
        return Err(invalid("the basis must be 3-160 characters naming the law, e.g. \"Ley 1266 de 2008 art. 13\""));
    }
    if !basis.chars().all(|c| c.is_alphanumeric() || BASIS_PUNCTUATION.contains(c)) {
        return Err(invalid("the basis may hold letters, digits, spaces and . , ; : ( ) / - § º ' & only"));
    }
    let mut run = 0;
    for c in basis.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run > 4 {
            return Err(invalid(
                "the basis names a law; a run of more than 4 digits (a document number, a phone) is refused",
            ));
        }
    }
    if !basis.chars().any(char::is_alphabetic) {
        return Err(invalid("the basis must name the law, e.g. \"Ley 1266 de 2008 art. 13\""));
    }
    Ok(basis.to_string())
}

fn parse_day(text: &str, field: &'static str) -> Result<NaiveDate, HoldInvalid> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| (1900..=2200).contains(&chrono::Datelike::year(d)))
        .ok_or(HoldInvalid { code: "invalid_date", field, message: "expected a date YYYY-MM-DD" })
}

/// A stored retention period with who made and released it (opaque client ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPeriod {
    pub id: String,
    pub party_id: String,
    pub period: NewPeriod,
    pub created_at: String,
    pub created_by: String,
    pub released_at: Option<String>,
    pub released_by: Option<String>,
}

impl StoredPeriod {
    /// Applies on `today` (the party's local date): not released, started, not ended.
    pub fn applies_on(&self, today: NaiveDate) -> bool {
        self.released_at.is_none()
            && self.period.starts_on <= today
            && self.period.ends_on.is_none_or(|end| today <= end)
    }

    /// released, scheduled (starts later), in_force, or ended.
    pub fn state_on(&self, today: NaiveDate) -> &'static str {
        if self.released_at.is_some() {
            "released"
        } else if today < self.period.starts_on {
            "scheduled"
        } else if self.applies_on(today) {
            "in_force"
        } else {
            "ended"
        }
    }

    pub fn hold(&self) -> Hold {
        Hold::RetentionPeriod {
            hold_id: self.id.clone(),
            basis: self.period.basis.clone(),
            starts_on: self.period.starts_on,
            ends_on: self.period.ends_on,
            erase_at_end: self.period.erase_at_end,
        }
    }

    /// The canonical encoding of `action` on this hold at `at` by `by` (module docs).
    pub fn encode_event(&self, action: &str, tenant: &str, at: &str, by: &str) -> Vec<u8> {
        let starts = self.period.starts_on.to_string();
        let ends = self.period.ends_on.map(|d| d.to_string()).unwrap_or_default();
        crate::keys::crypto::associated_data(&[
            "custodia/retention-hold/v1",
            action,
            tenant,
            &self.party_id,
            &self.id,
            &self.period.basis,
            &starts,
            &ends,
            if self.period.erase_at_end { "1" } else { "0" },
            at,
            by,
        ])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn input(basis: &str, starts: &str, ends: Option<&str>, erase: bool) -> HoldInput {
        HoldInput {
            basis: basis.into(),
            starts_on: starts.into(),
            ends_on: ends.map(str::to_string),
            erase_at_end: erase,
        }
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_basis_names_a_law_and_never_holds_a_person_s_number() {
        for good in [
            "Ley 1266 de 2008 art. 13",
            "Decreto 1377 de 2013 art. 11 (DUR 2.2.2.25.2.8)",
            "GDPR art. 17(3)(b)",
            "LFPDPPP art. 3 fr. III; bloqueo",
            "Código de Comercio art. 60",
        ] {
            assert_eq!(parse_basis(good).unwrap(), good, "{good}");
        }
        for bad in ["CC 1020304050", "tel 3001234567", "maria@example.com", "ab", "2013", "x".repeat(161).as_str()] {
            let err = parse_basis(bad).unwrap_err();
            assert_eq!(err.code, "invalid_basis", "{bad}");
            assert!(!err.to_string().contains(bad), "the message never echoes the value");
        }
    }

    #[test]
    fn a_period_must_be_dated_and_ordered() {
        assert!(input("Ley 1266 art. 13", "2026-01-01", Some("2030-12-31"), true).validate().is_ok());
        assert!(input("Ley 1266 art. 13", "2026-01-01", None, false).validate().is_ok());
        let codes: Vec<&str> = [
            input("Ley 1266 art. 13", "2026-13-01", None, false),
            input("Ley 1266 art. 13", "2026-01-01", Some("2025-12-31"), false),
            input("Ley 1266 art. 13", "2026-01-01", None, true),
            input("Ley 1266 art. 13", "01/01/2026", None, false),
        ]
        .iter()
        .map(|i| i.validate().unwrap_err().code)
        .collect();
        assert_eq!(codes, vec!["invalid_date", "invalid_period", "end_date_required", "invalid_date"]);
    }

    #[test]
    fn a_period_applies_from_its_first_to_its_last_day_until_released() {
        let mut stored = StoredPeriod {
            id: "h1".into(),
            party_id: "p1".into(),
            period: input("Ley 1266 art. 13", "2026-03-01", Some("2026-03-31"), false).validate().unwrap(),
            created_at: "t".into(),
            created_by: "c".into(),
            released_at: None,
            released_by: None,
        };
        let states: Vec<&str> =
            ["2026-02-28", "2026-03-01", "2026-03-31", "2026-04-01"].iter().map(|d| stored.state_on(day(d))).collect();
        assert_eq!(states, vec!["scheduled", "in_force", "in_force", "ended"]);
        stored.released_at = Some("t2".into());
        assert!(!stored.applies_on(day("2026-03-15")));
        assert_eq!(stored.state_on(day("2026-03-15")), "released");
    }

    #[test]
    fn the_refusal_names_each_basis_and_end_date() {
        let holds = vec![
            Hold::OpenObligation {
                obligation_id: "o-1".into(),
                role: "holder".into(),
                status: "delinquent".into(),
                basis: open_obligation_basis("CO").into(),
            },
            Hold::RetentionPeriod {
                hold_id: "h-1".into(),
                basis: "Ley 1266 de 2008 art. 13".into(),
                starts_on: day("2026-01-01"),
                ends_on: Some(day("2030-12-31")),
                erase_at_end: false,
            },
        ];
        let message = refusal_message(&holds);
        assert!(message.contains("obligation o-1 is delinquent (Decreto 1377 de 2013 art. 9"), "{message}");
        assert!(message.contains("Ley 1266 de 2008 art. 13: retention until 2030-12-31"), "{message}");
    }

    #[test]
    fn the_event_encoding_is_unambiguous_and_covers_every_part() {
        let stored = StoredPeriod {
            id: "h1".into(),
            party_id: "p1".into(),
            period: input("Ley 1266 art. 13", "2026-03-01", None, false).validate().unwrap(),
            created_at: "t".into(),
            created_by: "c".into(),
            released_at: None,
            released_by: None,
        };
        let base = stored.encode_event("retention.hold", "acme", "t", "c");
        assert_ne!(base, stored.encode_event("retention.release", "acme", "t", "c"));
        assert_ne!(base, stored.encode_event("retention.hold", "acm", "et", "c"));
        let mut erase = stored.clone();
        erase.period.erase_at_end = true;
        assert_ne!(base, erase.encode_event("retention.hold", "acme", "t", "c"));
        assert_eq!(&base[..4], &26u32.to_be_bytes(), "length-prefixed parts");
    }
}
