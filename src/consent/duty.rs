//! Whether a legal or contractual duty keeps the titular in the database, which makes the
//! `data_processing` and `collection` authorizations irrevocable for now (Decreto 1377 de
//! 2013 art. 9, DUR 1074 de 2015 art. 2.2.2.25.2.6).
//!
//! One function, [`duties_to_remain`], answers it; every revocation path (the API, the
//! data-subject requests) asks it. Today the only duty is an open obligation (status not
//! `paid` or `closed`); stored legal retention periods (part B's `retention::holds`) are
//! meant to be added here as more [`Duty`] variants.

use super::domain::{ConsentAction, ConsentKind, ConsentPurpose, ConsentScope};
use crate::db::Conn;

/// The legal reference quoted when a revocation is refused.
pub const LEGAL_BASIS: &str = "Decreto 1377 de 2013 art. 9 (DUR 1074 de 2015 art. 2.2.2.25.2.6)";

/// Purposes whose purpose-level authorization cannot be revoked while a duty holds.
pub const RETAINED_PURPOSES: &[ConsentPurpose] = &[ConsentPurpose::DataProcessing, ConsentPurpose::Collection];

/// One reason the titular must stay in the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Duty {
    /// An obligation of the party is still open (contractual duty).
    OpenObligation { obligation_id: String },
}

/// True when `action` on `scope` is a revocation that a duty to remain can block.
pub fn blocked_by_duties(action: ConsentAction, scope: &ConsentScope) -> bool {
    action == ConsentAction::Revoke
        && scope.kind == ConsentKind::Authorization
        && scope.channel.is_none()
        && RETAINED_PURPOSES.contains(&scope.purpose)
}

/// Every duty that keeps `party` in the database now.
pub async fn duties_to_remain(conn: &mut Conn, tenant: &str, party: &str) -> Result<Vec<Duty>, sqlx::Error> {
    let open: Vec<String> = sqlx::query_scalar(
        "SELECT o.id FROM obligations o JOIN obligation_parties op ON op.obligation_id = o.id \
         WHERE op.party_id = $1 AND o.tenant_id = $2 AND o.status NOT IN ('paid', 'closed') ORDER BY o.id",
    )
    .bind(party)
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    Ok(open.into_iter().map(|obligation_id| Duty::OpenObligation { obligation_id }).collect())
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
