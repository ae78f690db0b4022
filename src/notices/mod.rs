//! Privacy notices (avisos de privacidad, textos de autorización), versioned per tenant,
//! and the "notice served" events that record when a notice was shown to a party.
//!
//! A notice version is a draft until published; once published it never changes (a
//! change is a new version of the same `name`), enforced by conditional updates and by
//! database triggers. Each version has a content hash (SHA-256 of the encoding in
//! [`domain`]); consents and served events cite a notice by that hash. Notices are the
//! tenant's own text, not personal data, so they are stored in clear.

pub mod domain;
pub mod http;
pub mod store;

use crate::audit::merkle::Hash;
use crate::consent::domain::{BadInput, Channel, ConsentPurpose};
use crate::db::Conn;
use store::Notice;

/// Why a notice operation or citation was refused.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error(transparent)]
    Invalid(#[from] BadInput),
    #[error("notice_hash: no notice of this tenant has this content hash")]
    Unknown,
    #[error("notice_hash: the notice is a draft; only a published notice can be cited")]
    NotPublished,
    #[error("notice_hash: the notice does not cover this purpose and channel")]
    NotCovered,
    #[error("notice_hash: the notice was published after the evidence was captured, so it cannot have been shown")]
    PublishedAfter,
    #[error("the notice is published and can no longer change; create a new version instead")]
    Immutable,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The published notice with `hash` that a consent for `purpose` (and `channel`) captured
/// at `captured_at` (database time text) may cite, or why not. `purpose` None checks only
/// that the notice is published (a served event).
pub async fn citable(
    conn: &mut Conn,
    tenant: &str,
    hash: &Hash,
    purpose: Option<(ConsentPurpose, Option<Channel>)>,
    captured_at: &str,
) -> Result<Notice, NoticeError> {
    let notice = store::by_hash(conn, tenant, hash).await?.ok_or(NoticeError::Unknown)?;
    let Some(published_at) = notice.published_at.as_deref().filter(|_| notice.published) else {
        return Err(NoticeError::NotPublished);
    };
    if let Some((purpose, channel)) = purpose {
        if !notice.content.covers(purpose, channel) {
            return Err(NoticeError::NotCovered);
        }
    }
    if published_at > captured_at {
        return Err(NoticeError::PublishedAfter);
    }
    Ok(notice)
}
