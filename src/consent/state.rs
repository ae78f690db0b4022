//! Current consent state, derived from the events and nothing else: for each scope, the
//! event with the highest `seq` decides (granted or revoked). Nothing is cached; every
//! read and every decision derives it again from the committed events.
//!
//! How scopes combine for a contact ([`permits`], the rule the policy engine applies):
//! 1. the purpose-level `authorization` of the purpose must be granted;
//! 2. of the channel-level scopes that apply — `(purpose, channel)` without destination,
//!    `(purpose, channel, destination)` when the contact goes to a given element, and for
//!    visits the `visit` artefact of the obligation — the one whose latest event is the
//!    most recent (highest `seq`) decides; with none of them recorded, no.
//!
//! So revoking a channel revokes every destination of it, and a later grant bound to one
//! destination re-opens only that destination.

use super::domain::{ArtefactTerms, Channel, ConsentAction, ConsentKind, ConsentPurpose, ConsentScope};
use super::event::ConsentEvent;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The state of one scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeState {
    pub scope: ConsentScope,
    pub granted: bool,
    /// The deciding event.
    pub event_id: String,
    pub seq: u64,
    pub captured_at: String,
    pub terms: ArtefactTerms,
}

/// Current state of every scope that has an event, in scope order.
pub fn current(events: &[ConsentEvent]) -> Vec<ScopeState> {
    let mut latest: BTreeMap<&ConsentScope, &ConsentEvent> = BTreeMap::new();
    for event in events {
        let entry = latest.entry(&event.scope).or_insert(event);
        if event.seq >= entry.seq {
            *entry = event;
        }
    }
    latest
        .into_values()
        .map(|e| ScopeState {
            scope: e.scope.clone(),
            granted: e.action == ConsentAction::Grant,
            event_id: e.id.clone(),
            seq: e.seq,
            captured_at: e.captured_at.clone(),
            terms: e.terms.clone(),
        })
        .collect()
}

/// A contact the policy engine asks about.
#[derive(Clone, Copy, Debug)]
pub struct ContactQuery<'a> {
    pub purpose: ConsentPurpose,
    pub channel: Channel,
    /// Element id of the destination, when the contact goes to one.
    pub destination: Option<&'a str>,
    /// The obligation a visit is about.
    pub obligation: Option<&'a str>,
}

/// Whether the recorded consents allow `query` (module docs).
pub fn permits(states: &[ScopeState], query: &ContactQuery<'_>) -> bool {
    let find = |scope: &ConsentScope| states.iter().find(|s| &s.scope == scope);
    let purpose_granted = find(&ConsentScope::purpose_level(query.purpose)).is_some_and(|s| s.granted);
    if !purpose_granted {
        return false;
    }
    let channel = |destination: Option<&str>| ConsentScope {
        kind: ConsentKind::Authorization,
        purpose: query.purpose,
        channel: Some(query.channel),
        destination: destination.map(str::to_string),
        obligation_id: None,
    };
    let mut applicable = vec![channel(None)];
    if let Some(d) = query.destination {
        applicable.push(channel(Some(d)));
    }
    if query.channel == Channel::Visit {
        applicable.push(ConsentScope {
            kind: ConsentKind::Visit,
            purpose: query.purpose,
            channel: Some(Channel::Visit),
            destination: None,
            obligation_id: query.obligation.map(str::to_string),
        });
    }
    applicable.iter().filter_map(find).max_by_key(|s| s.seq).is_some_and(|s| s.granted)
}

/// The state of one scope as JSON.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ScopeStateJson {
    pub scope: ConsentScope,
    /// `granted` or `revoked`.
    pub status: &'static str,
    pub event_id: String,
    pub seq: u64,
    pub captured_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours: Option<super::domain::Hours>,
}

impl ScopeState {
    pub fn to_json(&self) -> ScopeStateJson {
        ScopeStateJson {
            scope: self.scope.clone(),
            status: if self.granted { "granted" } else { "revoked" },
            event_id: self.event_id.clone(),
            seq: self.seq,
            captured_at: self.captured_at.clone(),
            contract_date: self.terms.contract_date.map(|d| d.to_string()),
            hours: self.terms.hours.clone(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::consent::event::tests::vector;
    use proptest::prelude::*;

    fn event(seq: u64, action: ConsentAction, scope: ConsentScope) -> ConsentEvent {
        ConsentEvent { seq, id: format!("e{seq}"), action, scope, terms: ArtefactTerms::default(), ..vector() }
    }

    fn channel(purpose: ConsentPurpose, channel: Channel, destination: Option<&str>) -> ConsentScope {
        ConsentScope {
            kind: ConsentKind::Authorization,
            purpose,
            channel: Some(channel),
            destination: destination.map(str::to_string),
            obligation_id: None,
        }
    }

    use ConsentAction::{Grant, Revoke};
    use ConsentPurpose::{Collection, Marketing};

    #[test]
    fn the_latest_event_of_each_scope_decides_and_scopes_stay_apart() {
        let sms = channel(Collection, Channel::Sms, None);
        let events = vec![
            event(1, Grant, ConsentScope::purpose_level(Collection)),
            event(2, Grant, sms.clone()),
            event(3, Revoke, sms.clone()),
            event(4, Grant, channel(Marketing, Channel::Sms, None)),
        ];
        let states = current(&events);
        assert_eq!(states.len(), 3);
        let sms_state = states.iter().find(|s| s.scope == sms).unwrap();
        assert!(!sms_state.granted);
        assert_eq!(sms_state.seq, 3);
        assert!(states.iter().find(|s| s.scope == ConsentScope::purpose_level(Collection)).unwrap().granted);
    }

    fn query(channel: Channel, destination: Option<&str>) -> ContactQuery<'_> {
        ContactQuery { purpose: Collection, channel, destination, obligation: None }
    }

    #[test]
    fn a_contact_needs_the_purpose_and_the_most_recent_applicable_channel_scope() {
        let purpose = event(1, Grant, ConsentScope::purpose_level(Collection));
        let sms = event(2, Grant, channel(Collection, Channel::Sms, None));
        assert!(!permits(&current(std::slice::from_ref(&sms)), &query(Channel::Sms, None)), "no purpose-level grant");
        assert!(!permits(&current(std::slice::from_ref(&purpose)), &query(Channel::Sms, None)), "no channel grant");
        let both = current(&[purpose.clone(), sms.clone()]);
        assert!(permits(&both, &query(Channel::Sms, Some("mobile"))));
        assert!(!permits(&both, &query(Channel::Email, None)));
        // Revoking the channel closes every destination; a later destination grant re-opens one.
        let revoked = event(3, Revoke, channel(Collection, Channel::Sms, None));
        let only_mobile = event(4, Grant, channel(Collection, Channel::Sms, Some("mobile")));
        let states = current(&[purpose.clone(), sms.clone(), revoked.clone()]);
        assert!(!permits(&states, &query(Channel::Sms, Some("mobile"))));
        let states = current(&[purpose.clone(), sms, revoked, only_mobile]);
        assert!(permits(&states, &query(Channel::Sms, Some("mobile"))));
        assert!(!permits(&states, &query(Channel::Sms, Some("home"))));
        assert!(!permits(&states, &query(Channel::Sms, None)));
        let purpose_revoked = event(5, Revoke, ConsentScope::purpose_level(Collection));
        let states = current(&[purpose, purpose_revoked]);
        assert!(!permits(&states, &query(Channel::Sms, Some("mobile"))));
    }

    #[test]
    fn visits_need_the_obligations_artefact_and_a_general_no_visits_wins_when_later() {
        let obligation = "0190f0e4-6b7a-7c3d-8e9f-0a1b2c3d4e5f";
        let artefact = ConsentScope {
            kind: ConsentKind::Visit,
            purpose: Collection,
            channel: Some(Channel::Visit),
            destination: None,
            obligation_id: Some(obligation.into()),
        };
        let visit = ContactQuery {
            purpose: Collection,
            channel: Channel::Visit,
            destination: None,
            obligation: Some(obligation),
        };
        let purpose = event(1, Grant, ConsentScope::purpose_level(Collection));
        let granted = event(2, Grant, artefact);
        assert!(permits(&current(&[purpose.clone(), granted.clone()]), &visit));
        let other = ContactQuery { obligation: Some("0190f0e4-6b7a-7c3d-8e9f-0a1b2c3d4e60"), ..visit };
        assert!(!permits(&current(&[purpose.clone(), granted.clone()]), &other));
        let no_visits = event(3, Revoke, channel(Collection, Channel::Visit, None));
        assert!(!permits(&current(&[purpose, granted, no_visits]), &visit));
    }

    fn scope_strategy() -> impl Strategy<Value = ConsentScope> {
        let purposes = prop::sample::select(vec![Collection, Marketing, ConsentPurpose::DataProcessing]);
        let channels = prop::option::of(prop::sample::select(vec![Channel::Sms, Channel::Email, Channel::Visit]));
        let destinations = prop::option::of(prop::sample::select(vec!["mobile", "home"]));
        let kinds = prop::sample::select(vec![ConsentKind::Authorization, ConsentKind::SpecialHours]);
        (kinds, purposes, channels, destinations).prop_map(|(kind, purpose, channel, destination)| ConsentScope {
            kind,
            purpose,
            channel,
            destination: destination.map(str::to_string),
            obligation_id: None,
        })
    }

    proptest! {
        #[test]
        fn current_state_is_the_last_event_of_each_scope(
            steps in prop::collection::vec((scope_strategy(), any::<bool>()), 0..60)
        ) {
            let events: Vec<ConsentEvent> = steps
                .iter()
                .enumerate()
                .map(|(i, (scope, grant))| event(i as u64 + 1, if *grant { Grant } else { Revoke }, scope.clone()))
                .collect();
            let states = current(&events);
            let mut scopes: Vec<&ConsentScope> = events.iter().map(|e| &e.scope).collect();
            scopes.sort();
            scopes.dedup();
            prop_assert_eq!(states.len(), scopes.len());
            for state in &states {
                // The oracle: scan backwards for the last event of this scope.
                let last = events.iter().rev().find(|e| e.scope == state.scope).unwrap();
                prop_assert_eq!(state.seq, last.seq);
                prop_assert_eq!(state.granted, last.action == Grant);
                prop_assert_eq!(&state.event_id, &last.id);
            }
        }

        #[test]
        fn after_a_channel_revocation_no_destination_of_it_is_permitted(
            steps in prop::collection::vec((scope_strategy(), any::<bool>()), 0..40),
            destination in prop::option::of(prop::sample::select(vec!["mobile", "home"])),
        ) {
            let mut events: Vec<ConsentEvent> = steps
                .iter()
                .enumerate()
                .map(|(i, (scope, grant))| event(i as u64 + 1, if *grant { Grant } else { Revoke }, scope.clone()))
                .collect();
            let next = events.len() as u64 + 1;
            events.push(event(next, Revoke, channel(Collection, Channel::Sms, None)));
            let states = current(&events);
            prop_assert!(!permits(&states, &query(Channel::Sms, destination)));
        }
    }
}
