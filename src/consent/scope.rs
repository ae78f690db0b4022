//! The scope model: what one consent event is about, and the rules a scope must follow.
//!
//! - `authorization`: a purpose alone (purpose level), or a purpose and a channel
//!   (channel level), optionally bound to one destination — a phone element id for
//!   `sms`/`whatsapp`/`voice_call`, an e-mail element id for `email`. Channels only
//!   exist for the contact purposes `collection` and `marketing`. A `visit` channel
//!   authorization may only be revoked (a general "no visits"); granting visits takes
//!   the `visit` artefact.
//! - `special_hours` (Ley 2300 art. 3 parágrafo): purpose `collection` or `marketing`,
//!   no channel; its grant states the contract date and the requested hours.
//! - `visit` (Ley 2300 art. 6 par. 1): purpose `collection`, channel `visit`, one
//!   obligation; its grant states the contract date.

use super::domain::{BadInput, Channel, ConsentAction, ConsentKind, ConsentPurpose};
use super::parse::element_id;
use crate::ids::ObligationId;
use serde::Serialize;
use utoipa::ToSchema;

/// What one consent event is about. Two events are about the same thing exactly when
/// their scopes are equal; the latest event of a scope is its current state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
pub struct ConsentScope {
    pub kind: ConsentKind,
    pub purpose: ConsentPurpose,
    pub channel: Option<Channel>,
    /// Element id of the party's phone or e-mail this authorization is bound to.
    pub destination: Option<String>,
    /// The obligation a visit artefact is about.
    pub obligation_id: Option<String>,
}

impl ConsentScope {
    /// A checked scope (module docs for the rules).
    pub fn new(
        kind: ConsentKind,
        purpose: ConsentPurpose,
        channel: Option<Channel>,
        destination: Option<&str>,
        obligation: Option<&str>,
        action: ConsentAction,
    ) -> Result<Self, BadInput> {
        let destination = destination.map(|d| element_id(d, "destination")).transpose()?;
        let obligation_id = obligation
            .map(|o| {
                ObligationId::parse(o).map(|o| o.to_string()).map_err(|_| {
                    BadInput::new("unknown_obligation", "obligation_id", "no such obligation of this party")
                })
            })
            .transpose()?;
        let scope = Self { kind, purpose, channel, destination, obligation_id };
        match kind {
            ConsentKind::Authorization => scope.authorization_rules(action)?,
            ConsentKind::SpecialHours => scope.special_hours_rules()?,
            ConsentKind::Visit => scope.visit_rules()?,
        }
        let channel = if kind == ConsentKind::Visit { Some(Channel::Visit) } else { scope.channel };
        Ok(Self { channel, ..scope })
    }

    /// `authorization` of a purpose alone.
    pub fn purpose_level(purpose: ConsentPurpose) -> Self {
        Self { kind: ConsentKind::Authorization, purpose, channel: None, destination: None, obligation_id: None }
    }

    fn not_allowed(&self, field: &str) -> BadInput {
        BadInput::new("field_not_allowed", field, format!("not allowed for a `{}`", self.kind))
    }

    fn authorization_rules(&self, action: ConsentAction) -> Result<(), BadInput> {
        if self.obligation_id.is_some() {
            return Err(self.not_allowed("obligation_id"));
        }
        if self.channel.is_some() && !self.purpose.is_contact() {
            return Err(BadInput::new(
                "channel_not_applicable",
                "channel",
                "channels apply only to the contact purposes collection and marketing",
            ));
        }
        if self.destination.is_some() {
            let Some(channel) = self.channel else {
                return Err(BadInput::new("destination_needs_channel", "destination", "give the channel too"));
            };
            if channel.destination_field().is_none() {
                return Err(BadInput::new(
                    "destination_not_applicable",
                    "destination",
                    format!("channel `{channel}` has no destination element to bind"),
                ));
            }
        }
        if self.channel == Some(Channel::Visit) && action == ConsentAction::Grant {
            return Err(BadInput::new(
                "visit_needs_artefact",
                "channel",
                "visits are authorized with a `visit` artefact per obligation (Ley 2300 de 2023 art. 6)",
            ));
        }
        Ok(())
    }

    fn special_hours_rules(&self) -> Result<(), BadInput> {
        if !self.purpose.is_contact() {
            return Err(BadInput::new(
                "purpose_not_applicable",
                "purpose",
                "a special-hours request is for collection or marketing contacts",
            ));
        }
        let present = [
            (self.channel.is_some(), "channel"),
            (self.destination.is_some(), "destination"),
            (self.obligation_id.is_some(), "obligation_id"),
        ];
        match present.iter().find(|(present, _)| *present) {
            Some((_, field)) => Err(self.not_allowed(field)),
            None => Ok(()),
        }
    }

    fn visit_rules(&self) -> Result<(), BadInput> {
        if self.purpose != ConsentPurpose::Collection {
            return Err(BadInput::new("purpose_not_applicable", "purpose", "a visit artefact is for collection"));
        }
        if self.channel.is_some_and(|c| c != Channel::Visit) {
            return Err(self.not_allowed("channel"));
        }
        if self.destination.is_some() {
            return Err(self.not_allowed("destination"));
        }
        if self.obligation_id.is_none() {
            return Err(BadInput::new(
                "obligation_required",
                "obligation_id",
                "a visit artefact names the obligation it authorizes visits for",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ConsentAction::{Grant, Revoke};
    use ConsentKind::{Authorization, SpecialHours, Visit};
    use ConsentPurpose::{Collection, CreditReporting, DataProcessing, Marketing};

    const OBL: &str = "0190f0e4-6b7a-7c3d-8e9f-0a1b2c3d4e5f";

    fn code(result: Result<ConsentScope, BadInput>) -> &'static str {
        result.unwrap_err().code
    }

    #[test]
    fn channels_exist_only_for_contact_purposes_and_destinations_only_with_a_channel() {
        assert!(ConsentScope::new(Authorization, Collection, Some(Channel::Sms), Some("mobile"), None, Grant).is_ok());
        assert!(ConsentScope::new(Authorization, Marketing, Some(Channel::Email), Some("work"), None, Grant).is_ok());
        assert!(ConsentScope::new(Authorization, DataProcessing, None, None, None, Grant).is_ok());
        let channel = Some(Channel::Sms);
        assert_eq!(
            code(ConsentScope::new(Authorization, DataProcessing, channel, None, None, Grant)),
            "channel_not_applicable"
        );
        assert_eq!(
            code(ConsentScope::new(Authorization, CreditReporting, channel, None, None, Grant)),
            "channel_not_applicable"
        );
        assert_eq!(
            code(ConsentScope::new(Authorization, Collection, None, Some("mobile"), None, Grant)),
            "destination_needs_channel"
        );
        let letter = Some(Channel::Letter);
        let refused = ConsentScope::new(Authorization, Collection, letter, Some("home"), None, Grant).unwrap_err();
        assert_eq!(refused.code, "destination_not_applicable");
        assert!(!refused.message.contains("home"), "{}", refused.message);
        assert_eq!(
            code(ConsentScope::new(Authorization, Collection, channel, Some("Mobile!"), None, Grant)),
            "invalid_destination"
        );
        assert_eq!(
            code(ConsentScope::new(Authorization, Collection, None, None, Some(OBL), Grant)),
            "field_not_allowed"
        );
    }

    #[test]
    fn visits_are_granted_only_through_the_artefact_but_may_always_be_revoked() {
        let visit = Some(Channel::Visit);
        assert_eq!(
            code(ConsentScope::new(Authorization, Collection, visit, None, None, Grant)),
            "visit_needs_artefact"
        );
        assert!(ConsentScope::new(Authorization, Collection, visit, None, None, Revoke).is_ok());
        let scope = ConsentScope::new(Visit, Collection, None, None, Some(OBL), Grant).unwrap();
        assert_eq!(scope.channel, Some(Channel::Visit), "a visit artefact's channel is visit");
        assert_eq!(code(ConsentScope::new(Visit, Collection, None, None, None, Grant)), "obligation_required");
        assert_eq!(code(ConsentScope::new(Visit, Marketing, None, None, Some(OBL), Grant)), "purpose_not_applicable");
        assert_eq!(
            code(ConsentScope::new(Visit, Collection, Some(Channel::Sms), None, Some(OBL), Grant)),
            "field_not_allowed"
        );
        assert_eq!(code(ConsentScope::new(Visit, Collection, None, None, Some("OBL-77"), Grant)), "unknown_obligation");
    }

    #[test]
    fn special_hours_are_for_contact_purposes_without_channel() {
        assert!(ConsentScope::new(SpecialHours, Collection, None, None, None, Grant).is_ok());
        assert!(ConsentScope::new(SpecialHours, Marketing, None, None, None, Grant).is_ok());
        assert_eq!(
            code(ConsentScope::new(SpecialHours, Collection, Some(Channel::Sms), None, None, Grant)),
            "field_not_allowed"
        );
        assert_eq!(
            code(ConsentScope::new(SpecialHours, DataProcessing, None, None, None, Grant)),
            "purpose_not_applicable"
        );
    }
}
