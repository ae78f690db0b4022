//! Online key rotation and retirement.
//!
//! Master rotation adds a keyring version (written to the key file first, so running
//! gateways can reload it) and rewraps every tenant key under it. Tenant rotation adds a
//! new tenant data-key version, rewraps party keys in small batches (each its own short
//! transaction, so reads and writes go on), and retires the old version once no party
//! key uses it: its wrapped material is deleted, and anything still wrapped under it is
//! refused from then on. Blind-index versions are started and retired here too; the
//! digests themselves are recomputed from decrypted fields by `crate::vault::reindex`.

use super::{crypto::Key256, rewrap_party_key, KeyError, KeyService, TenantKeyPurpose, WrappedPartyKey};
use crate::db::{Backend, Db};
use crate::ids::{PartyId, TenantId};
use sqlx::Row;

/// How many party keys one rewrap transaction handles.
pub const DEFAULT_BATCH: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(
        "master key rotation needs a key file (keys from the environment or a passphrase are rotated by the operator)"
    )]
    NoKeyFile,
    #[error("master key version {version} still wraps {count} tenant key(s); rotate first")]
    MasterInUse { version: u32, count: i64 },
    #[error("version {0} is the active one and cannot be retired")]
    ActiveVersion(u32),
    #[error("{parties} party(ies) have no blind indexes under index version {version} yet")]
    IndexIncomplete { version: u32, parties: i64 },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<super::keyring::KeyringError> for RotationError {
    fn from(err: super::keyring::KeyringError) -> Self {
        Self::Key(err.into())
    }
}

/// One line of `keys status`.
#[derive(Debug, serde::Serialize)]
pub struct VersionUse {
    pub scope: String,
    pub version: u32,
    pub state: String,
    pub keys_using_it: i64,
}

/// Adds a master key version and rewraps all tenant keys under it. Returns the version.
pub async fn rotate_master(db: &Db, keys: &KeyService) -> Result<u32, RotationError> {
    let path = keys.keyring_path().ok_or(RotationError::NoKeyFile)?.to_path_buf();
    let mut ring = keys.keyring_snapshot();
    let new_version = ring.add_version()?;
    ring.save_file(&path)?;
    keys.set_keyring(ring);
    let mut tx = db.begin_write().await?;
    if db.backend() == Backend::Postgres {
        // As in the tenant rotations: writers share-lock the key rows they use, one
        // statement per purpose, so updating every row in scan order met a writer holding
        // one of them and waiting for another: a deadlock (seen under live reads). The
        // table lock lets writers in flight finish and holds new ones until the commit.
        sqlx::query("LOCK TABLE tenant_keys IN EXCLUSIVE MODE").execute(&mut *tx).await?;
    }
    let rows = sqlx::query("SELECT tenant_id, purpose, version, master_version, wrapped FROM tenant_keys WHERE wrapped IS NOT NULL AND master_version <> $1")
        .bind(i64::from(new_version))
        .fetch_all(&mut *tx)
        .await?;
    for row in rows {
        let tenant = TenantId::from_db(row.try_get("tenant_id")?);
        let purpose = parse_purpose(&row.try_get::<String, _>("purpose")?)?;
        let version = to_u32(row.try_get("version")?)?;
        let wrapped: Vec<u8> = row.try_get("wrapped")?;
        let key =
            keys.unwrap_tenant_key(&tenant, purpose, version, to_u32(row.try_get("master_version")?)?, &wrapped)?;
        let (master_version, rewrapped) = keys.wrap_tenant_key(&tenant, purpose, version, &key)?;
        sqlx::query("UPDATE tenant_keys SET wrapped = $1, master_version = $2 WHERE tenant_id = $3 AND purpose = $4 AND version = $5")
            .bind(rewrapped)
            .bind(i64::from(master_version))
            .bind(tenant.as_str())
            .bind(purpose.as_str())
            .bind(i64::from(version))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(new_version)
}

/// Removes a master version from the key file once no tenant key is wrapped under it.
pub async fn retire_master(db: &Db, keys: &KeyService, version: u32) -> Result<(), RotationError> {
    let path = keys.keyring_path().ok_or(RotationError::NoKeyFile)?.to_path_buf();
    let mut ring = keys.keyring_snapshot();
    if ring.active_version() == version {
        return Err(RotationError::ActiveVersion(version));
    }
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM tenant_keys WHERE wrapped IS NOT NULL AND master_version = $1")
            .bind(i64::from(version))
            .fetch_one(db.reader())
            .await?;
    if count > 0 {
        return Err(RotationError::MasterInUse { version, count });
    }
    ring.remove_version(version);
    ring.save_file(&path)?;
    keys.set_keyring(ring);
    Ok(())
}

/// Starts a new tenant data-key version and makes it the one new parties use.
pub async fn start_tenant_rotation(
    db: &Db,
    keys: &KeyService,
    tenant: &TenantId,
    now: &str,
) -> Result<u32, RotationError> {
    let mut tx = db.begin_write().await?;
    db.advisory_lock(&mut tx, "tenant-key", tenant.as_str()).await?;
    if db.backend() == Backend::Postgres {
        // (Also what `lock_tenant_keys` does for index rotations.) Writers share-lock the active row (`KeyService::active_version`). Without this,
        // (a) under steady writes those share locks overlap and the UPDATE below starves,
        // and (b) a writer whose `FOR SHARE` waited on that UPDATE re-checks the row, finds
        // it no longer active, and sees no active version at all (its snapshot predates
        // the new one): a 500. A table lock queues fairly: writers in flight finish, new
        // ones wait before taking their snapshot (plain reads go on), then see the new version.
        sqlx::query("LOCK TABLE tenant_keys IN EXCLUSIVE MODE").execute(&mut *tx).await?;
    }
    let current: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'data'")
            .bind(tenant.as_str())
            .fetch_one(&mut *tx)
            .await?;
    let current = current.ok_or_else(|| KeyError::MissingTenantKey(tenant.clone(), "data"))?;
    sqlx::query(
        "UPDATE tenant_keys SET state = 'previous' WHERE tenant_id = $1 AND purpose = 'data' AND state = 'active'",
    )
    .bind(tenant.as_str())
    .execute(&mut *tx)
    .await?;
    let next = to_u32(current + 1)?;
    keys.insert_tenant_key(&mut tx, tenant, TenantKeyPurpose::Data, next, now).await?;
    tx.commit().await?;
    Ok(next)
}

/// Rewraps up to `batch` party keys not under the tenant's *active* data-key version to
/// it; returns (the active version, how many keys moved). Reading the target in the batch's
/// own transaction (share-locked on PostgreSQL, like every writer) makes concurrent
/// rotations converge instead of fighting: were two running (a CLI run and a scheduled
/// job, or a job taken over from a worker that was presumed dead), both move keys to the
/// newest version, never back to an older one.
pub async fn rewrap_batch(
    db: &Db,
    keys: &KeyService,
    tenant: &TenantId,
    batch: usize,
) -> Result<(u32, usize), RotationError> {
    let mut tx = db.begin_write().await?;
    let target = keys.active_version(&mut tx, tenant, TenantKeyPurpose::Data).await?;
    let rows = sqlx::query("SELECT party_id, key_id, tenant_key_version, wrapped FROM party_keys WHERE tenant_id = $1 AND tenant_key_version <> $2 LIMIT $3")
        .bind(tenant.as_str())
        .bind(i64::from(target))
        .bind(batch.max(1) as i64)
        .fetch_all(&mut *tx)
        .await?;
    let new_key = keys.tenant_key(&mut tx, tenant, TenantKeyPurpose::Data, target).await?;
    for row in &rows {
        let party = PartyId::from_db(row.try_get("party_id")?);
        let stored = WrappedPartyKey {
            key_id: row.try_get("key_id")?,
            tenant_key_version: to_u32(row.try_get("tenant_key_version")?)?,
            wrapped: row.try_get("wrapped")?,
        };
        let old_key: std::sync::Arc<Key256> =
            keys.tenant_key(&mut tx, tenant, TenantKeyPurpose::Data, stored.tenant_key_version).await?;
        let rewrapped =
            rewrap_party_key(&old_key, &new_key, target, tenant, &party, &stored).map_err(KeyError::from)?;
        sqlx::query("UPDATE party_keys SET wrapped = $1, tenant_key_version = $2 WHERE party_id = $3")
            .bind(rewrapped)
            .bind(i64::from(target))
            .bind(party.as_str())
            .execute(&mut *tx)
            .await?;
    }
    let parties: Vec<String> = rows.iter().map(|r| r.try_get("party_id")).collect::<Result<_, _>>()?;
    crate::vault::store::bump_versions(&mut tx, &parties.iter().map(String::as_str).collect::<Vec<_>>()).await?;
    tx.commit().await?;
    Ok((target, rows.len()))
}

/// The tenant's active data-key version (a plain read).
pub async fn active_data_version(db: &Db, tenant: &TenantId) -> Result<u32, RotationError> {
    let version: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'data' AND state = 'active'",
    )
    .bind(tenant.as_str())
    .fetch_optional(db.reader())
    .await?;
    Ok(to_u32(version.ok_or_else(|| KeyError::MissingTenantKey(tenant.clone(), "data"))?)?)
}

/// Data-key versions below `below` that are not retired yet (still have material).
pub async fn unretired_below(db: &Db, tenant: &TenantId, below: u32) -> Result<Vec<u32>, RotationError> {
    let versions: Vec<i64> = sqlx::query_scalar(
        "SELECT version FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'data' AND version < $2 AND (state <> 'retired' OR wrapped IS NOT NULL) ORDER BY version",
    )
    .bind(tenant.as_str())
    .bind(i64::from(below))
    .fetch_all(db.reader())
    .await?;
    versions.into_iter().map(|v| Ok(to_u32(v)?)).collect()
}

/// Party keys not under the active version.
async fn keys_left(db: &Db, tenant: &TenantId, active: u32) -> Result<i64, RotationError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM party_keys WHERE tenant_id = $1 AND tenant_key_version <> $2")
        .bind(tenant.as_str())
        .bind(i64::from(active))
        .fetch_one(db.reader())
        .await?)
}

/// Retires every older data-key version that no party key uses any more. Returns the
/// versions retired; a version still in use (a write raced the rewrap) is left for the
/// next pass.
pub async fn retire_unused_tenant_versions(
    db: &Db,
    keys: &KeyService,
    tenant: &TenantId,
) -> Result<Vec<u32>, RotationError> {
    let mut tx = db.begin_write().await?;
    let lock = if db.backend() == Backend::Postgres { " FOR UPDATE" } else { "" };
    let sql = format!(
        "SELECT version FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'data' AND state = 'previous'{lock}"
    );
    let versions: Vec<i64> = sqlx::query_scalar(&sql).bind(tenant.as_str()).fetch_all(&mut *tx).await?;
    let mut retired = Vec::new();
    for version in versions {
        let in_use: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM party_keys WHERE tenant_id = $1 AND tenant_key_version = $2")
                .bind(tenant.as_str())
                .bind(version)
                .fetch_one(&mut *tx)
                .await?;
        if in_use == 0 {
            sqlx::query("UPDATE tenant_keys SET state = 'retired', wrapped = NULL WHERE tenant_id = $1 AND purpose = 'data' AND version = $2")
                .bind(tenant.as_str())
                .bind(version)
                .execute(&mut *tx)
                .await?;
            retired.push(to_u32(version)?);
        }
    }
    tx.commit().await?;
    for version in &retired {
        keys.forget(tenant, TenantKeyPurpose::Data, *version);
    }
    Ok(retired)
}

/// Full tenant rotation: new version, rewrap everything, retire what is unused. Returns
/// the version everything ends up under. `progress` is called with (done, total) after
/// each batch.
pub async fn rotate_tenant(
    db: &Db,
    keys: &KeyService,
    tenant: &TenantId,
    now: &str,
    batch: usize,
    mut progress: impl FnMut(u64, u64),
) -> Result<u32, RotationError> {
    let target = start_tenant_rotation(db, keys, tenant, now).await?;
    let total = keys_left(db, tenant, target).await?;
    let mut done = 0u64;
    loop {
        let (active, moved) = rewrap_batch(db, keys, tenant, batch).await?;
        done += moved as u64;
        progress(done, (total.max(0) as u64).max(done));
        if moved == 0 {
            retire_unused_tenant_versions(db, keys, tenant).await?;
            if keys_left(db, tenant, active).await? == 0 {
                return Ok(active);
            }
        }
    }
}

/// Locks tenant keys against new share-locks for this transaction (PostgreSQL): see
/// [`start_tenant_rotation`] for why a table lock and not a row lock.
async fn lock_tenant_keys(
    db: &Db,
    tx: &mut crate::db::Conn,
    tenant: &TenantId,
    scope: &str,
) -> Result<(), RotationError> {
    db.advisory_lock(tx, scope, tenant.as_str()).await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("LOCK TABLE tenant_keys IN EXCLUSIVE MODE").execute(&mut *tx).await?;
    }
    Ok(())
}

/// Starts a new blind-index key version, active beside the old one (both stay live until
/// [`retire_index_versions`]); returns the new version. When an earlier index rotation was
/// interrupted (an older version is still live), it continues that one instead.
pub async fn start_index_rotation(
    db: &Db,
    keys: &KeyService,
    tenant: &TenantId,
    now: &str,
) -> Result<u32, RotationError> {
    let mut tx = db.begin_write().await?;
    lock_tenant_keys(db, &mut tx, tenant, "tenant-index-key").await?;
    let live = keys.live_versions(&mut tx, tenant, TenantKeyPurpose::Index, false).await?;
    let active = *live.first().ok_or_else(|| KeyError::MissingTenantKey(tenant.clone(), "index"))?;
    if live.len() > 1 {
        tx.commit().await?;
        return Ok(active);
    }
    let current: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'index'")
            .bind(tenant.as_str())
            .fetch_one(&mut *tx)
            .await?;
    let next = to_u32(current.unwrap_or(0) + 1)?;
    sqlx::query(
        "UPDATE tenant_keys SET state = 'previous' WHERE tenant_id = $1 AND purpose = 'index' AND state = 'active'",
    )
    .bind(tenant.as_str())
    .execute(&mut *tx)
    .await?;
    keys.insert_tenant_key(&mut tx, tenant, TenantKeyPurpose::Index, next, now).await?;
    tx.commit().await?;
    Ok(next)
}

/// Retires every index version other than `keep` once each party that still holds data
/// has its digests under `keep`: deletes their digest rows and the versions' material. Runs
/// under the tenant-key table lock, so no writer is between reading the live versions and
/// committing digests under them. `Err(IndexIncomplete)` when some party still lacks
/// digests under `keep` (the caller recomputes and tries again).
pub async fn retire_index_versions(
    db: &Db,
    keys: &KeyService,
    tenant: &TenantId,
    keep: u32,
) -> Result<Vec<u32>, RotationError> {
    let mut tx = db.begin_write().await?;
    lock_tenant_keys(db, &mut tx, tenant, "tenant-index-key").await?;
    let missing: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM parties p WHERE p.tenant_id = $1 AND p.erased_at IS NULL \
         AND NOT EXISTS (SELECT 1 FROM blind_indexes b WHERE b.party_id = p.id AND b.key_version = $2)",
    )
    .bind(tenant.as_str())
    .bind(i64::from(keep))
    .fetch_one(&mut *tx)
    .await?;
    if missing > 0 {
        return Err(RotationError::IndexIncomplete { version: keep, parties: missing });
    }
    let old: Vec<i64> = sqlx::query_scalar(
        "SELECT version FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'index' AND state = 'previous' AND version <> $2",
    )
    .bind(tenant.as_str())
    .bind(i64::from(keep))
    .fetch_all(&mut *tx)
    .await?;
    for version in &old {
        sqlx::query("DELETE FROM blind_indexes WHERE tenant_id = $1 AND key_version = $2")
            .bind(tenant.as_str())
            .bind(version)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE tenant_keys SET state = 'retired', wrapped = NULL WHERE tenant_id = $1 AND purpose = 'index' AND version = $2")
            .bind(tenant.as_str())
            .bind(version)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let retired: Vec<u32> = old.into_iter().map(to_u32).collect::<Result<_, _>>()?;
    for version in &retired {
        keys.forget(tenant, TenantKeyPurpose::Index, *version);
    }
    Ok(retired)
}

/// What `keys status` prints: master versions and tenant key versions with their use.
pub async fn status(db: &Db, keys: &KeyService) -> Result<Vec<VersionUse>, RotationError> {
    let ring = keys.keyring_snapshot();
    let mut out = Vec::new();
    for version in ring.versions() {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM tenant_keys WHERE wrapped IS NOT NULL AND master_version = $1")
                .bind(i64::from(version))
                .fetch_one(db.reader())
                .await?;
        let state = if version == ring.active_version() { "active" } else { "previous" };
        out.push(VersionUse { scope: "master".into(), version, state: state.into(), keys_using_it: count });
    }
    let rows = sqlx::query(
        // Data versions: party keys wrapped under them. Index versions: parties with digests under them.
        "SELECT t.tenant_id, t.purpose, t.version, t.state, CASE WHEN t.purpose = 'data' \
         THEN (SELECT COUNT(*) FROM party_keys p WHERE p.tenant_id = t.tenant_id AND p.tenant_key_version = t.version) \
         ELSE (SELECT COUNT(DISTINCT b.party_id) FROM blind_indexes b WHERE b.tenant_id = t.tenant_id AND b.key_version = t.version) END AS used \
         FROM tenant_keys t ORDER BY t.tenant_id, t.purpose, t.version",
    )
    .fetch_all(db.reader())
    .await?;
    for row in rows {
        out.push(VersionUse {
            scope: format!(
                "tenant {} {}",
                row.try_get::<String, _>("tenant_id")?,
                row.try_get::<String, _>("purpose")?
            ),
            version: to_u32(row.try_get("version")?)?,
            state: row.try_get("state")?,
            keys_using_it: row.try_get("used")?,
        });
    }
    Ok(out)
}

fn parse_purpose(text: &str) -> Result<TenantKeyPurpose, KeyError> {
    match text {
        "data" => Ok(TenantKeyPurpose::Data),
        "index" => Ok(TenantKeyPurpose::Index),
        _ => Err(KeyError::Integrity),
    }
}

fn to_u32(value: i64) -> Result<u32, KeyError> {
    u32::try_from(value).map_err(|_| KeyError::Integrity)
}
