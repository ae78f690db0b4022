//! The consent vocabulary (purposes, channels, methods, kinds, weekdays), the evidence,
//! and the pure rules that turn a request into a [`NewConsent`]. No SQL, no HTTP. The
//! scope model is in [`super::scope`], parsing of outside values in [`super::parse`].

pub use super::parse::{actor_id, date, element_id, hash, instant, reference};
pub use super::scope::ConsentScope;
use crate::audit::merkle::Hash;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

super::wire_enum!(
    /// A finalidad a titular authorizes (shared with the DSR and policy parts).
    ConsentPurpose { DataProcessing = "data_processing", Collection = "collection", CreditReporting = "credit_reporting", Marketing = "marketing", Profiling = "profiling" }
);

super::wire_enum!(
    /// A contact channel.
    Channel { Sms = "sms", Email = "email", Whatsapp = "whatsapp", VoiceCall = "voice_call", Letter = "letter", AppPush = "app_push", Visit = "visit" }
);

super::wire_enum!(
    /// How the evidence was captured (Decreto 1377 art. 7: by means that allow later consultation).
    Method { Written = "written", WebForm = "web_form", RecordedCall = "recorded_call", App = "app" }
);

super::wire_enum!(
    /// Grant or revoke.
    ConsentAction { Grant = "grant", Revoke = "revoke" }
);

super::wire_enum!(
    /// An ordinary authorization, or one of the two Ley 2300 artefacts.
    ConsentKind { Authorization = "authorization", SpecialHours = "special_hours", Visit = "visit" }
);

super::wire_enum!(
    /// A day of the week (special-hours requests).
    Weekday { Mon = "mon", Tue = "tue", Wed = "wed", Thu = "thu", Fri = "fri", Sat = "sat", Sun = "sun" }
);

impl ConsentPurpose {
    /// Purposes whose authorization stands for contacting the titular, so channels apply.
    pub fn is_contact(self) -> bool {
        matches!(self, Self::Collection | Self::Marketing)
    }
}

impl Channel {
    /// The vault field whose element ids a destination bound to this channel names.
    pub fn destination_field(self) -> Option<&'static str> {
        use crate::vault::domain::stored;
        match self {
            Self::Sms | Self::Whatsapp | Self::VoiceCall => Some(stored::PHONE),
            Self::Email => Some(stored::EMAIL),
            Self::Letter | Self::AppPush | Self::Visit => None,
        }
    }
}

impl ConsentAction {
    /// The audit action of an event.
    pub fn audit_action(self) -> &'static str {
        match self {
            Self::Grant => "consent.grant",
            Self::Revoke => "consent.revoke",
        }
    }
}

/// A refused input: stable code, the JSON path, and a message without the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct BadInput {
    pub code: &'static str,
    pub field: String,
    pub message: String,
}

impl BadInput {
    pub fn new(code: &'static str, field: &str, message: impl Into<String>) -> Self {
        Self { code, field: field.to_string(), message: message.into() }
    }
}
/// Hours a titular asked to be contacted at (Ley 2300 art. 3 parágrafo).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    /// Days the window applies to, in week order, no repeats.
    pub days: Vec<Weekday>,
    /// `HH:MM`, local time of the party.
    pub from: String,
    /// `HH:MM`, after `from`.
    pub to: String,
}

impl Hours {
    pub fn validate(mut self) -> Result<Self, BadInput> {
        let bad = || BadInput::new("invalid_hours", "hours", "days: 1-7 distinct days; from < to, both HH:MM");
        let time = |t: &str| NaiveTime::parse_from_str(t, "%H:%M").ok().filter(|_| t.len() == 5);
        let (Some(from), Some(to)) = (time(&self.from), time(&self.to)) else { return Err(bad()) };
        let mut days = self.days.clone();
        days.sort();
        days.dedup();
        if from >= to || days.is_empty() || days.len() != self.days.len() {
            return Err(bad());
        }
        self.days = days;
        Ok(self)
    }

    /// `mon,tue 19:00-21:00`: the stored and encoded form.
    pub fn to_text(&self) -> String {
        let days: Vec<&str> = self.days.iter().map(|d| d.as_str()).collect();
        format!("{} {}-{}", days.join(","), self.from, self.to)
    }

    pub fn from_text(text: &str) -> Option<Self> {
        let (days, window) = text.split_once(' ')?;
        let (from, to) = window.split_once('-')?;
        let days = days.split(',').map(|d| d.parse::<Weekday>().ok()).collect::<Option<Vec<_>>>()?;
        Some(Self { days, from: from.to_string(), to: to.to_string() })
    }
}

/// What an artefact states besides its scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArtefactTerms {
    pub contract_date: Option<NaiveDate>,
    pub hours: Option<Hours>,
}

/// How and by whom the titular's will was captured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub method: Method,
    /// Content hash of the published notice shown (required for grants).
    pub notice_hash: Option<Hash>,
    pub captured_at: DateTime<Utc>,
    /// Opaque id of who captured it (an agent id, a system name).
    pub captured_by: String,
    /// Opaque reference in the capturing system (recording id, form submission id).
    pub source_reference: String,
    /// SHA-256 of the signed document or recording, if there is one.
    pub document_sha256: Option<Hash>,
}

/// One grant or revocation, checked and ready to be recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewConsent {
    pub action: ConsentAction,
    pub scope: ConsentScope,
    pub terms: ArtefactTerms,
    pub evidence: Evidence,
}

impl NewConsent {
    /// Checks the terms and evidence an action on a scope requires (scope rules are
    /// checked by [`ConsentScope::new`]). `now` is the gateway clock.
    pub fn new(
        action: ConsentAction,
        scope: ConsentScope,
        terms: ArtefactTerms,
        evidence: Evidence,
        now: DateTime<Utc>,
    ) -> Result<Self, BadInput> {
        if evidence.captured_at > now {
            return Err(BadInput::new(
                "captured_in_future",
                "evidence.captured_at",
                "is later than the gateway's clock",
            ));
        }
        let artefact = scope.kind != ConsentKind::Authorization;
        let grant = action == ConsentAction::Grant;
        if grant && evidence.notice_hash.is_none() {
            return Err(BadInput::new("notice_required", "evidence.notice_hash", "a grant names the notice shown"));
        }
        if grant && artefact && evidence.document_sha256.is_none() {
            return Err(BadInput::new(
                "document_required",
                "evidence.document_sha256",
                "an artefact is a separate signed instrument; give its SHA-256",
            ));
        }
        let wants_contract = grant && artefact;
        let wants_hours = grant && scope.kind == ConsentKind::SpecialHours;
        check_term(terms.contract_date.is_some(), wants_contract, "contract_date")?;
        check_term(terms.hours.is_some(), wants_hours, "hours")?;
        Ok(Self { action, scope, terms, evidence })
    }
}

fn check_term(present: bool, wanted: bool, field: &str) -> Result<(), BadInput> {
    match (present, wanted) {
        (false, true) => Err(BadInput::new("field_required", field, "required for this artefact grant")),
        (true, false) => Err(BadInput::new("field_not_allowed", field, "only an artefact grant states it")),
        _ => Ok(()),
    }
}

/// True when the artefact was captured on a later day than the contract, in the party's
/// own time zone ("de fecha posterior": a later date, not merely a later hour).
pub fn dated_after_contract(captured_at: DateTime<Utc>, zone: chrono_tz::Tz, contract: NaiveDate) -> bool {
    captured_at.with_timezone(&zone).date_naive() > contract
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ConsentAction::{Grant, Revoke};
    use ConsentKind::SpecialHours;
    use ConsentPurpose::Collection;

    fn evidence(at: &str) -> Evidence {
        Evidence {
            method: Method::Written,
            notice_hash: Some([1; 32]),
            captured_at: instant(at, "x").unwrap(),
            captured_by: "agent-17".into(),
            source_reference: "DOC-1".into(),
            document_sha256: Some([2; 32]),
        }
    }

    #[test]
    fn grants_need_a_notice_artefacts_need_their_document_and_terms() {
        let now = instant("2026-03-02T10:00:00Z", "x").unwrap();
        let scope = ConsentScope::new(SpecialHours, Collection, None, None, None, Grant).unwrap();
        let hours = Hours { days: vec![Weekday::Mon], from: "19:00".into(), to: "21:00".into() };
        let terms = ArtefactTerms { contract_date: Some(date("2026-01-10", "x").unwrap()), hours: Some(hours) };
        assert!(NewConsent::new(Grant, scope.clone(), terms.clone(), evidence("2026-03-01T10:00:00Z"), now).is_ok());
        let mut no_notice = evidence("2026-03-01T10:00:00Z");
        no_notice.notice_hash = None;
        let refused = NewConsent::new(Grant, scope.clone(), terms.clone(), no_notice.clone(), now).unwrap_err();
        assert_eq!(refused.code, "notice_required");
        let revoke = NewConsent::new(Revoke, scope.clone(), ArtefactTerms::default(), no_notice, now);
        assert!(revoke.is_ok(), "a revocation needs no notice");
        let mut no_document = evidence("2026-03-01T10:00:00Z");
        no_document.document_sha256 = None;
        assert_eq!(
            NewConsent::new(Grant, scope.clone(), terms.clone(), no_document, now).unwrap_err().code,
            "document_required"
        );
        let no_terms =
            NewConsent::new(Grant, scope.clone(), ArtefactTerms::default(), evidence("2026-03-01T10:00:00Z"), now);
        assert_eq!(no_terms.unwrap_err().code, "field_required");
        let revoke_with_terms = NewConsent::new(Revoke, scope, terms, evidence("2026-03-01T10:00:00Z"), now);
        assert_eq!(revoke_with_terms.unwrap_err().code, "field_not_allowed");
    }

    #[test]
    fn evidence_from_the_future_is_refused() {
        let now = instant("2026-03-02T10:00:00Z", "x").unwrap();
        let scope = ConsentScope::purpose_level(Collection);
        let future =
            NewConsent::new(Grant, scope.clone(), ArtefactTerms::default(), evidence("2026-03-02T10:00:01Z"), now);
        assert_eq!(future.unwrap_err().code, "captured_in_future");
        assert!(NewConsent::new(Grant, scope, ArtefactTerms::default(), evidence("2026-03-02T10:00:00Z"), now).is_ok());
    }

    #[test]
    fn an_artefact_must_be_dated_a_later_day_than_the_contract_in_the_partys_zone() {
        let contract = date("2026-01-10", "x").unwrap();
        let bogota = chrono_tz::America::Bogota;
        // 2026-01-11T02:00Z is still 2026-01-10 in Bogotá (UTC-5): same day, refused.
        assert!(!dated_after_contract(instant("2026-01-11T02:00:00Z", "x").unwrap(), bogota, contract));
        assert!(!dated_after_contract(instant("2026-01-10T12:00:00-05:00", "x").unwrap(), bogota, contract));
        assert!(dated_after_contract(instant("2026-01-11T00:00:00-05:00", "x").unwrap(), bogota, contract));
    }

    #[test]
    fn hours_are_validated_and_round_trip_through_their_text_form() {
        let hours = Hours { days: vec![Weekday::Tue, Weekday::Mon], from: "19:00".into(), to: "21:30".into() };
        let hours = hours.validate().unwrap();
        assert_eq!(hours.to_text(), "mon,tue 19:00-21:30");
        assert_eq!(Hours::from_text(&hours.to_text()), Some(hours));
        for (days, from, to) in [
            (vec![Weekday::Mon], "21:00", "19:00"),
            (vec![], "19:00", "21:00"),
            (vec![Weekday::Mon, Weekday::Mon], "19:00", "21:00"),
            (vec![Weekday::Mon], "7:00", "21:00"),
            (vec![Weekday::Mon], "19:00", "24:00"),
        ] {
            let hours = Hours { days, from: from.into(), to: to.into() };
            assert_eq!(hours.validate().unwrap_err().code, "invalid_hours");
        }
    }
}
