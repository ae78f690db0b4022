//! Whether a legal or contractual duty keeps the titular in the database, which makes the
//! `data_processing` and `collection` authorizations irrevocable for now (Decreto 1377 de
//! 2013 art. 9, DUR 1074 de 2015 art. 2.2.2.25.2.6).
//!
//! One function, [`duties_to_remain`], answers it; every revocation path (the API, the
//! data-subject requests) asks it. The duties are the party's retention holds
//! (`crate::vault::retention::holds`): open obligations and legal retention periods still
//! running, the same holds that keep its data from being erased.

use super::domain::{ConsentAction, ConsentKind, ConsentPurpose, ConsentScope};
use crate::db::Conn;
use crate::ids::{PartyId, TenantId};

/// The legal reference quoted when a revocation is refused.
pub const LEGAL_BASIS: &str = "Decreto 1377 de 2013 art. 9 (DUR 1074 de 2015 art. 2.2.2.25.2.6)";

/// Purposes whose purpose-level authorization cannot be revoked while a duty holds.
pub const RETAINED_PURPOSES: &[ConsentPurpose] = &[ConsentPurpose::DataProcessing, ConsentPurpose::Collection];

/// One reason the titular must stay in the database.
pub type Duty = crate::vault::retention::Hold;

/// True when `action` on `scope` is a revocation that a duty to remain can block.
pub fn blocked_by_duties(action: ConsentAction, scope: &ConsentScope) -> bool {
    action == ConsentAction::Revoke
        && scope.kind == ConsentKind::Authorization
        && scope.channel.is_none()
        && RETAINED_PURPOSES.contains(&scope.purpose)
}

/// Every duty that keeps `party` in the database at `now` (database time text).
pub async fn duties_to_remain(
    conn: &mut Conn,
    tenant: &TenantId,
    party: &PartyId,
    now: &str,
) -> Result<Vec<Duty>, sqlx::Error> {
    crate::vault::retention::holds(conn, tenant, party, now).await
}

/// The reasons of `duties`, for a refusal's message (no personal value).
pub fn reasons(duties: &[Duty]) -> String {
    duties.iter().map(Duty::reason).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::domain::Channel;

    #[test]
    fn only_revoking_a_retained_purpose_itself_can_be_blocked() {
        let revoke = ConsentAction::Revoke;
        assert!(blocked_by_duties(revoke, &ConsentScope::purpose_level(ConsentPurpose::Collection)));
        assert!(blocked_by_duties(revoke, &ConsentScope::purpose_level(ConsentPurpose::DataProcessing)));
        assert!(!blocked_by_duties(revoke, &ConsentScope::purpose_level(ConsentPurpose::Marketing)));
        assert!(!blocked_by_duties(ConsentAction::Grant, &ConsentScope::purpose_level(ConsentPurpose::Collection)));
        let channel =
            ConsentScope { channel: Some(Channel::Sms), ..ConsentScope::purpose_level(ConsentPurpose::Collection) };
        assert!(!blocked_by_duties(revoke, &channel), "revoking a channel is always possible");
    }
}
