//! Blind-index key rotation (`custodia keys rotate --tenant T --index`), online.
//!
//! 1. [`crate::keys::rotation::start_index_rotation`] makes a new index-key version active
//!    beside the old one. From then on every write stores digests under both versions and
//!    every lookup asks for both, so searches find every party and uniqueness holds
//!    whichever version a party's digests are under yet.
//! 2. [`reindex_batch`] recomputes, a few parties per transaction under each party's lock,
//!    the digests under the new version from the party's decrypted fields (external ref,
//!    national id, phones, e-mails): the values are decrypted for this only and never leave
//!    the process.
//! 3. [`crate::keys::rotation::retire_index_versions`] then deletes the old version's
//!    digests and key material, under the tenant-key lock, once every party that holds
//!    data has digests under the new version.
//!
//! Idempotency fingerprints made under the old version stop verifying at step 3 (see
//! `crate::idempotency`). Erased parties have no fields and are skipped.

use super::domain::{external_ref_canonical, stored};
use super::pii::{email_canonical, phone_canonical};
use super::service::{open_party, VaultError};
use super::store::{self, PartyRows};
use crate::access::{PartyField, Visibility};
use crate::db::Db;
use crate::ids::TenantId;
use crate::keys::rotation::{self, RotationError};
use crate::keys::{BlindIndexer, KeyError, KeyService, TenantKeyPurpose};
use std::collections::BTreeMap;

/// Parties per recompute transaction by default.
pub const DEFAULT_BATCH: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum ReindexError {
    #[error(transparent)]
    Rotation(#[from] RotationError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("parties kept appearing without digests under index version {0}; run the rotation again")]
    Unfinished(u32),
}

/// The fields whose digests are recomputed: exactly the searchable ones.
fn indexed_fields() -> BTreeMap<PartyField, Visibility> {
    [PartyField::ExternalRef, PartyField::NationalId, PartyField::Phones, PartyField::Emails]
        .into_iter()
        .map(|field| (field, Visibility::Clear))
        .collect()
}

/// The last party id of the tenant when a rotation starts: parties created after it were
/// written with digests under every live version already, so a pass stops there (and
/// ends even while creations go on). Ids are UUIDv7, ordered by creation time.
pub async fn last_party_id(db: &Db, tenant: &TenantId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT MAX(id) FROM parties WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .fetch_one(db.reader())
        .await
}

/// Recomputes, under index version `target`, the digests of up to `batch` parties of the
/// tenant whose id sorts after `after` and not after `until`; returns the last id handled
/// (the next cursor) and how many parties were handled. `(None, 0)` when there are no more.
pub async fn reindex_batch(
    db: &Db,
    keys: &KeyService,
    tenant: &TenantId,
    target: u32,
    (after, until): (Option<&str>, &str),
    batch: usize,
) -> Result<(Option<String>, usize), ReindexError> {
    let mut tx = db.begin_write().await?;
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM parties WHERE tenant_id = $1 AND erased_at IS NULL AND id > $2 AND id <= $3 ORDER BY id LIMIT $4",
    )
    .bind(tenant.as_str())
    .bind(after.unwrap_or(""))
    .bind(until)
    .bind(batch.max(1) as i64)
    .fetch_all(&mut *tx)
    .await?;
    let root = keys.tenant_key(&mut tx, tenant, TenantKeyPurpose::Index, target).await?;
    let indexer = BlindIndexer::single(target, root);
    let visibility = indexed_fields();
    let mut rows = PartyRows::default();
    for id in &ids {
        db.lock_party(&mut tx, id).await?;
        // Erased (or rectified) since the id was read: the locked read is what counts.
        let Some(party) = store::load_party(&mut tx, tenant.as_str(), id).await? else { continue };
        let party = open_party(keys, &mut tx, tenant, &party, &visibility).await?;
        let mut put = |kind: &str, element: &str, canonical: String| {
            rows.index(tenant.as_str(), kind, indexer.digest(kind, &canonical), id, element, target);
        };
        if let Some(reference) = &party.external_ref {
            put(stored::EXTERNAL_REF, "", external_ref_canonical(reference));
        }
        if let Some((kind, number)) = &party.national_id {
            put(stored::NATIONAL_ID, "", format!("{kind}:{number}"));
        }
        for (element, number) in &party.phones {
            put(stored::PHONE, element, phone_canonical(number));
        }
        for (element, address) in &party.emails {
            put(stored::EMAIL, element, email_canonical(address));
        }
        sqlx::query("DELETE FROM blind_indexes WHERE party_id = $1 AND key_version = $2")
            .bind(id)
            .bind(i64::from(target))
            .execute(&mut *tx)
            .await?;
    }
    rows.insert(&mut tx).await?;
    tx.commit().await?;
    Ok((ids.last().cloned(), ids.len()))
}

/// Parties of the tenant that still hold data (the size of a full pass).
pub async fn parties_to_index(db: &Db, tenant: &TenantId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM parties WHERE tenant_id = $1 AND erased_at IS NULL")
        .bind(tenant.as_str())
        .fetch_one(db.reader())
        .await
}

/// The whole rotation: start (or resume) a new index version, recompute every party's
/// digests under it in batches, retire the old version. Returns the new version.
/// `progress` is called with (done, total) after each batch.
pub async fn rotate_index(
    db: &Db,
    keys: &KeyService,
    tenant: &TenantId,
    now: &str,
    batch: usize,
    mut progress: impl FnMut(u64, u64),
) -> Result<u32, ReindexError> {
    let target = rotation::start_index_rotation(db, keys, tenant, now).await?;
    for _pass in 0..3 {
        let Some(until) = last_party_id(db, tenant).await? else {
            rotation::retire_index_versions(db, keys, tenant, target).await?;
            return Ok(target);
        };
        let total = parties_to_index(db, tenant).await?.max(0) as u64;
        let (mut cursor, mut done) = (None, 0u64);
        loop {
            let range = (cursor.as_deref(), until.as_str());
            let (next, handled) = reindex_batch(db, keys, tenant, target, range, batch).await?;
            done += handled as u64;
            progress(done, total.max(done));
            if handled == 0 {
                break;
            }
            cursor = next;
        }
        match rotation::retire_index_versions(db, keys, tenant, target).await {
            Ok(_) => return Ok(target),
            // A party written by a gateway that had not seen the new version yet: go again.
            Err(RotationError::IndexIncomplete { .. }) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(ReindexError::Unfinished(target))
}
