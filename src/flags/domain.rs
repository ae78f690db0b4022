//! Party flags: kinds, reasons, the checked change, the stored event, its canonical
//! encoding, and the current state derived from the events. Pure.
//!
//! Why a flag was set is a reason *code* plus an optional opaque reference (a claim or
//! case number in another system), never free text: free text about a person is personal
//! data, and flags are read by the policy engine at every contact decision. Whoever needs
//! the story keeps it in the referenced system.
//!
//! Encoding v1 (primitives of [`crate::consent::encoding`]):
//! ```text
//! u8 1, str "custodia.flag_event", str tenant, str party_id, str event_id, u64 seq,
//! str action, str flag, str reason, opt<str> reference,
//! opt<str> admitted_on, opt<str> creditor_notified_on   (YYYY-MM-DD, insolvency only),
//! str recorded_at, opt<str> recorded_by (API client id), opt<str> on_behalf_of
//! ```

use crate::audit::merkle::Hash;
use crate::consent::domain::{date, reference, BadInput};
use crate::consent::encoding::{sha256, Encoder};
use crate::consent::wire_enum;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

pub const FLAG_EVENT_TAG: &str = "custodia.flag_event";

wire_enum!(
    /// A fact about a party that contact decisions must respect.
    FlagKind { ReclamoEnTramite = "reclamo_en_tramite", InformacionEnDiscusionJudicial = "informacion_en_discusion_judicial", VictimaFalsedadPersonal = "victima_falsedad_personal", Insolvency = "insolvency", Deceased = "deceased", DoNotContact = "do_not_contact", AttorneyRepresented = "attorney_represented" }
);

wire_enum!(
    /// Set or clear.
    FlagAction { Set = "set", Clear = "clear" }
);

wire_enum!(
    /// Why a flag was set or cleared.
    FlagReason { TitularRequest = "titular_request", ClaimReceived = "claim_received", ClaimDecided = "claim_decided", ClaimWithdrawn = "claim_withdrawn", LawsuitNotified = "lawsuit_notified", LawsuitEnded = "lawsuit_ended", IdentityTheftReported = "identity_theft_reported", IdentityTheftResolved = "identity_theft_resolved", InsolvencyAdmitted = "insolvency_admitted", InsolvencyUpdated = "insolvency_updated", InsolvencyEnded = "insolvency_ended", DeathReported = "death_reported", AttorneyNotice = "attorney_notice", AttorneyWithdrawn = "attorney_withdrawn", CourtOrder = "court_order", DataSubjectRequest = "data_subject_request", EnteredInError = "entered_in_error", Other = "other" }
);

impl FlagAction {
    pub fn audit_action(self) -> &'static str {
        match self {
            Self::Set => "flag.set",
            Self::Clear => "flag.clear",
        }
    }
}

/// An admitted insolvency proceeding (CGP art. 545): when it was admitted and when the
/// creditor was notified (from then on collection must stop).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Insolvency {
    /// YYYY-MM-DD.
    pub admitted_on: String,
    /// YYYY-MM-DD, on or after `admitted_on`; absent until the creditor is notified.
    pub creditor_notified_on: Option<String>,
}

/// One checked change to a party's flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlagChange {
    pub action: FlagAction,
    pub flag: FlagKind,
    pub reason: FlagReason,
    pub reference: Option<String>,
    pub insolvency: Option<Insolvency>,
}

impl FlagChange {
    /// Checks a change; `today` is the gateway's date (no date may be later).
    pub fn new(
        action: FlagAction,
        flag: FlagKind,
        reason: FlagReason,
        reference_text: Option<&str>,
        insolvency: Option<Insolvency>,
        today: NaiveDate,
    ) -> Result<Self, BadInput> {
        let reference = reference_text.map(|r| reference(r, "reference")).transpose()?;
        let wants_details = flag == FlagKind::Insolvency && action == FlagAction::Set;
        let insolvency = match (insolvency, wants_details) {
            (Some(details), true) => Some(check_insolvency(details, today)?),
            (None, true) => {
                return Err(BadInput::new("field_required", "insolvency", "setting insolvency states its dates"))
            }
            (Some(_), false) => {
                return Err(BadInput::new("field_not_allowed", "insolvency", "only setting the insolvency flag"))
            }
            (None, false) => None,
        };
        Ok(Self { action, flag, reason, reference, insolvency })
    }
}

fn check_insolvency(details: Insolvency, today: NaiveDate) -> Result<Insolvency, BadInput> {
    let admitted = date(&details.admitted_on, "insolvency.admitted_on")?;
    if admitted > today {
        return Err(BadInput::new("date_in_future", "insolvency.admitted_on", "is later than today"));
    }
    if let Some(notified) = &details.creditor_notified_on {
        let notified = date(notified, "insolvency.creditor_notified_on")?;
        if notified > today || notified < admitted {
            return Err(BadInput::new(
                "invalid_date",
                "insolvency.creditor_notified_on",
                "must be on or after admitted_on and not later than today",
            ));
        }
    }
    Ok(details)
}

/// One flag event as stored. Never updated, never deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlagEvent {
    pub id: String,
    pub tenant: String,
    pub party: String,
    pub seq: u64,
    pub change: FlagChange,
    pub recorded_at: String,
    pub recorded_by: Option<String>,
    pub on_behalf_of: Option<String>,
}

impl FlagEvent {
    pub fn encode(&self) -> Vec<u8> {
        let c = &self.change;
        let insolvency = c.insolvency.as_ref();
        Encoder::new(1, FLAG_EVENT_TAG)
            .str(&self.tenant)
            .str(&self.party)
            .str(&self.id)
            .u64(self.seq)
            .str(c.action.as_str())
            .str(c.flag.as_str())
            .str(c.reason.as_str())
            .opt_str(c.reference.as_deref())
            .opt_str(insolvency.map(|i| i.admitted_on.as_str()))
            .opt_str(insolvency.and_then(|i| i.creditor_notified_on.as_deref()))
            .str(&self.recorded_at)
            .opt_str(self.recorded_by.as_deref())
            .opt_str(self.on_behalf_of.as_deref())
            .finish()
    }

    pub fn sha256(&self) -> Hash {
        sha256(&self.encode())
    }

    pub fn to_json(&self) -> FlagEventJson {
        let c = &self.change;
        FlagEventJson {
            id: self.id.clone(),
            seq: self.seq,
            action: c.action,
            flag: c.flag,
            reason: c.reason,
            reference: c.reference.clone(),
            insolvency: c.insolvency.clone(),
            recorded_at: self.recorded_at.clone(),
            recorded_by: self.recorded_by.clone(),
            on_behalf_of: self.on_behalf_of.clone(),
            sha256: hex::encode(self.sha256()),
        }
    }
}

/// A flag event as JSON; `sha256` is the hex SHA-256 of its canonical encoding.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FlagEventJson {
    pub id: String,
    pub seq: u64,
    pub action: FlagAction,
    pub flag: FlagKind,
    pub reason: FlagReason,
    pub reference: Option<String>,
    pub insolvency: Option<Insolvency>,
    pub recorded_at: String,
    pub recorded_by: Option<String>,
    pub on_behalf_of: Option<String>,
    pub sha256: String,
}

/// A flag that is set now, with the event that set it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FlagState {
    pub flag: FlagKind,
    pub since: String,
    pub event_id: String,
    pub seq: u64,
    pub reason: FlagReason,
    pub reference: Option<String>,
    pub insolvency: Option<Insolvency>,
}

/// The flags set now: for each kind, its latest event (by `seq`) decides.
pub fn current(events: &[FlagEvent]) -> Vec<FlagState> {
    let mut latest: BTreeMap<FlagKind, &FlagEvent> = BTreeMap::new();
    for event in events {
        let entry = latest.entry(event.change.flag).or_insert(event);
        if event.seq >= entry.seq {
            *entry = event;
        }
    }
    latest
        .into_values()
        .filter(|e| e.change.action == FlagAction::Set)
        .map(|e| FlagState {
            flag: e.change.flag,
            since: e.recorded_at.clone(),
            event_id: e.id.clone(),
            seq: e.seq,
            reason: e.change.reason,
            reference: e.change.reference.clone(),
            insolvency: e.change.insolvency.clone(),
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        date("2026-03-02", "x").unwrap()
    }

    fn insolvency(admitted: &str, notified: Option<&str>) -> Option<Insolvency> {
        Some(Insolvency { admitted_on: admitted.into(), creditor_notified_on: notified.map(str::to_string) })
    }

    #[test]
    fn insolvency_needs_its_dates_in_order_and_no_other_flag_takes_them() {
        use FlagAction::{Clear, Set};
        use FlagKind::{Deceased, Insolvency as I};
        let ok = FlagChange::new(
            Set,
            I,
            FlagReason::InsolvencyAdmitted,
            Some("RAD-1"),
            insolvency("2026-02-01", Some("2026-02-03")),
            today(),
        );
        assert!(ok.is_ok());
        let code = |r: Result<FlagChange, BadInput>| r.unwrap_err().code;
        assert_eq!(code(FlagChange::new(Set, I, FlagReason::Other, None, None, today())), "field_required");
        assert_eq!(
            code(FlagChange::new(Set, I, FlagReason::Other, None, insolvency("2026-03-03", None), today())),
            "date_in_future"
        );
        assert_eq!(
            code(FlagChange::new(
                Set,
                I,
                FlagReason::Other,
                None,
                insolvency("2026-02-01", Some("2026-01-31")),
                today()
            )),
            "invalid_date"
        );
        assert_eq!(
            code(FlagChange::new(
                Set,
                Deceased,
                FlagReason::DeathReported,
                None,
                insolvency("2026-02-01", None),
                today()
            )),
            "field_not_allowed"
        );
        assert_eq!(
            code(FlagChange::new(Clear, I, FlagReason::InsolvencyEnded, None, insolvency("2026-02-01", None), today())),
            "field_not_allowed"
        );
        assert_eq!(
            code(FlagChange::new(Set, Deceased, FlagReason::DeathReported, Some("acta de defunción"), None, today())),
            "invalid_reference"
        );
    }

    fn event(seq: u64, action: FlagAction, flag: FlagKind) -> FlagEvent {
        FlagEvent {
            id: format!("f{seq}"),
            tenant: "acme".into(),
            party: "0190f0e4-0000-7000-8000-0000000000aa".into(),
            seq,
            change: FlagChange { action, flag, reason: FlagReason::Other, reference: None, insolvency: None },
            recorded_at: "2026-02-01T15:00:00.000000Z".into(),
            recorded_by: Some("0190f0e4-0000-7000-8000-0000000000cc".into()),
            on_behalf_of: Some("agent-17".into()),
        }
    }

    #[test]
    fn the_flag_encoding_matches_its_fixed_test_vector() {
        let mut vector = event(2, FlagAction::Set, FlagKind::Insolvency);
        vector.change.reason = FlagReason::InsolvencyAdmitted;
        vector.change.reference = Some("RAD-2026-0001".into());
        vector.change.insolvency = insolvency("2026-01-20", Some("2026-01-22"));
        assert_eq!(hex::encode(vector.sha256()), FLAG_VECTOR_SHA256);
        let mut other = vector.clone();
        other.on_behalf_of = None;
        assert_ne!(other.sha256(), vector.sha256());
    }

    const FLAG_VECTOR_SHA256: &str = "efee24e6167ec1517cb42d298d3c1067da700b845d4b099928e6937a30df5849";

    proptest! {
        #[test]
        fn the_flags_set_are_those_whose_last_event_sets_them(
            steps in prop::collection::vec((prop::sample::select(FlagKind::ALL.to_vec()), any::<bool>()), 0..50)
        ) {
            let events: Vec<FlagEvent> = steps
                .iter()
                .enumerate()
                .map(|(i, (flag, set))| event(i as u64 + 1, if *set { FlagAction::Set } else { FlagAction::Clear }, *flag))
                .collect();
            let states = current(&events);
            for flag in FlagKind::ALL {
                let last = events.iter().rev().find(|e| e.change.flag == *flag);
                let expected = last.filter(|e| e.change.action == FlagAction::Set).map(|e| e.seq);
                prop_assert_eq!(states.iter().find(|s| s.flag == *flag).map(|s| s.seq), expected);
            }
        }
    }
}
