//! Blind-index keys: the tenant's index-key versions as an indexer (per-field HMAC
//! subkeys), and the idempotency fingerprint key derived from the active version.
//!
//! Index keys rotate online (`custodia keys rotate --tenant T --index`, in
//! `crate::vault::reindex`): while a rotation runs two versions are live, writes store a
//! digest under each and lookups ask for each, so searches and uniqueness checks keep
//! working; once every party has digests under the new version the old one is retired.

use super::crypto::Key256;
use super::{KeyError, KeyService, TenantKeyPurpose};
use crate::db::{Backend, Conn};
use crate::ids::TenantId;
use std::sync::Arc;

impl KeyService {
    /// The tenant's blind indexer over every live index-key version, for lookups. During an
    /// index rotation two versions are live and a lookup asks for both digests.
    pub async fn blind_indexer(&self, conn: &mut Conn, tenant: &TenantId) -> Result<BlindIndexer, KeyError> {
        self.indexer(conn, tenant, false).await
    }

    /// [`KeyService::blind_indexer`] for a write transaction: on PostgreSQL the live version
    /// rows are share-locked until it commits, so an index rotation can neither start nor
    /// retire a version while this transaction writes digests under the versions it read
    /// (writes store a digest under *every* live version).
    pub async fn blind_indexer_for_write(&self, conn: &mut Conn, tenant: &TenantId) -> Result<BlindIndexer, KeyError> {
        self.indexer(conn, tenant, true).await
    }

    async fn indexer(&self, conn: &mut Conn, tenant: &TenantId, lock: bool) -> Result<BlindIndexer, KeyError> {
        let mut versions = Vec::new();
        for version in self.live_versions(conn, tenant, TenantKeyPurpose::Index, lock).await? {
            versions.push((version, self.tenant_key(conn, tenant, TenantKeyPurpose::Index, version).await?));
        }
        if versions.is_empty() {
            return Err(KeyError::MissingTenantKey(tenant.clone(), TenantKeyPurpose::Index.as_str()));
        }
        Ok(BlindIndexer { versions })
    }

    /// Versions of a tenant key that are not retired, the active one first. `lock`
    /// share-locks their rows on PostgreSQL (see [`KeyService::active_version`]).
    pub async fn live_versions(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        purpose: TenantKeyPurpose,
        lock: bool,
    ) -> Result<Vec<u32>, KeyError> {
        let lock = if lock && self.inner.backend == Backend::Postgres { " FOR SHARE" } else { "" };
        let sql = format!(
            "SELECT version FROM tenant_keys WHERE tenant_id = $1 AND purpose = $2 AND state IN ('active', 'previous') \
             ORDER BY CASE state WHEN 'active' THEN 0 ELSE 1 END, version DESC{lock}"
        );
        let versions: Vec<i64> =
            sqlx::query_scalar(&sql).bind(tenant.as_str()).bind(purpose.as_str()).fetch_all(&mut *conn).await?;
        versions.into_iter().map(|v| u32::try_from(v).map_err(|_| KeyError::Integrity)).collect()
    }

    /// The key for keyed fingerprints of request bodies (idempotency), so stored
    /// fingerprints cannot be brute-forced back to personal values: a subkey of the
    /// tenant's *active index-key version*, returned with that version (stored with the
    /// fingerprint). Fingerprints therefore age out with index rotation like blind indexes
    /// do (an erased person's request body cannot be tested against a stored fingerprint
    /// once the version is retired), and their own HKDF label keeps them apart from every
    /// blind-index subkey (domain separation).
    pub async fn fingerprint_key(&self, conn: &mut Conn, tenant: &TenantId) -> Result<(u32, Key256), KeyError> {
        let versions = self.live_versions(conn, tenant, TenantKeyPurpose::Index, true).await?;
        let version = *versions
            .first()
            .ok_or_else(|| KeyError::MissingTenantKey(tenant.clone(), TenantKeyPurpose::Index.as_str()))?;
        let root = self.tenant_key(conn, tenant, TenantKeyPurpose::Index, version).await?;
        Ok((version, fingerprint_subkey(&root)))
    }

    /// The fingerprint key of one index-key version, or None once that version is retired
    /// (a fingerprint made under it can no longer be checked).
    pub async fn fingerprint_key_of(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        version: u32,
    ) -> Result<Option<Key256>, KeyError> {
        match self.tenant_key(conn, tenant, TenantKeyPurpose::Index, version).await {
            Ok(root) => Ok(Some(fingerprint_subkey(&root))),
            Err(KeyError::Retired(_) | KeyError::MissingTenantKey(..)) => Ok(None),
            Err(other) => Err(other),
        }
    }
}

fn fingerprint_subkey(index_root: &Key256) -> Key256 {
    index_root.derive(&[b"custodia/request-fingerprint/v1"])
}

/// Computes blind indexes: HMAC-SHA256 of a canonical value (which names its kind)
/// under a per-field subkey of a tenant index-key version. Holds every live version, the
/// active one first: writes store a digest under each, lookups ask for each.
pub struct BlindIndexer {
    versions: Vec<(u32, Arc<Key256>)>,
}

impl BlindIndexer {
    /// An indexer over exactly one version (a rotation recomputing digests under it).
    pub fn single(version: u32, root: Arc<Key256>) -> Self {
        Self { versions: vec![(version, root)] }
    }

    /// The version new digests are computed under first.
    pub fn active_version(&self) -> u32 {
        self.versions.first().map(|(v, _)| *v).unwrap_or(0)
    }

    /// The digest under the active version.
    pub fn digest(&self, field: &str, canonical: &str) -> Vec<u8> {
        self.versions.first().map(|(_, root)| index_digest(root, field, canonical)).unwrap_or_default()
    }

    /// The digest under every live version, the active one first.
    pub fn digests(&self, field: &str, canonical: &str) -> Vec<(u32, Vec<u8>)> {
        self.versions.iter().map(|(v, root)| (*v, index_digest(root, field, canonical))).collect()
    }
}

fn index_digest(root: &Key256, field: &str, canonical: &str) -> Vec<u8> {
    let subkey = root.derive(&[b"custodia/blind-index/v1", field.as_bytes()]);
    subkey.hmac(canonical.as_bytes()).to_vec()
}
