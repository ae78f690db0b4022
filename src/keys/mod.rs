//! The key hierarchy of DESIGN.md "Keys": master keyring → per-tenant keys → per-party
//! data keys, plus per-tenant blind-index keys.
//!
//! Owns: creating tenant keys, wrapping and unwrapping them, creating and opening party
//! data keys, blind-index digests, and a cache of unwrapped tenant keys. Every wrap is
//! bound by associated data to where it belongs (tenant, purpose, version; for party
//! keys tenant, party and tenant-key version), so a wrapped key copied elsewhere fails
//! to open. Tenant data keys and blind-index keys are separate secrets: rotating one
//! never forces recomputing the other. Rotation lives in [`rotation`]; rotations that run
//! in the background (the one every erasure schedules) are queued in [`jobs`].

mod blind_index;
pub mod crypto;
pub mod jobs;
pub mod keyring;
pub mod rotation;
pub mod worker;

use crate::db::{Backend, Conn};
use crate::ids::{PartyId, TenantId};
pub use blind_index::BlindIndexer;
use crypto::{associated_data, CryptoError, Key256};
use keyring::{Keyring, KeyringError};
use sqlx::Row;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// What a tenant key is for. One purpose per key (domain separation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TenantKeyPurpose {
    /// Wraps party data keys.
    Data,
    /// Root of the per-field blind-index subkeys.
    Index,
}

impl TenantKeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::Index => "index",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("tenant {0} has no {1} key")]
    MissingTenantKey(TenantId, &'static str),
    #[error("key version {0} is retired and can no longer be used")]
    Retired(u32),
    #[error("party data key is missing")]
    MissingPartyKey,
    #[error("key material failed its integrity check")]
    Integrity,
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<CryptoError> for KeyError {
    fn from(err: CryptoError) -> Self {
        match err {
            CryptoError::Random => KeyError::Keyring(KeyringError::Random),
            CryptoError::Integrity | CryptoError::Malformed => KeyError::Integrity,
        }
    }
}

/// A party's unwrapped data key with its id (the id is part of every field's AAD).
pub struct PartyKey {
    key_id: String,
    key: Key256,
}

impl PartyKey {
    /// Encrypts one field value, bound to tenant, party, field, element and key id.
    pub fn seal_field(
        &self,
        tenant: &TenantId,
        party: &PartyId,
        field: &str,
        element: &str,
        value: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let aad = field_aad(tenant, party, field, element, &self.key_id);
        crypto::seal(&self.key, &self.key_id, &aad, value)
    }

    /// Decrypts a field; a ciphertext from any other place is an integrity error.
    pub fn open_field(
        &self,
        tenant: &TenantId,
        party: &PartyId,
        field: &str,
        element: &str,
        sealed: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
        let aad = field_aad(tenant, party, field, element, &self.key_id);
        crypto::open(&self.key, &aad, sealed)
    }
}

fn field_aad(tenant: &TenantId, party: &PartyId, field: &str, element: &str, key_id: &str) -> Vec<u8> {
    associated_data(&["custodia/field/v1", tenant.as_str(), party.as_str(), field, element, key_id])
}

fn tenant_key_aad(tenant: &TenantId, purpose: TenantKeyPurpose, version: u32) -> Vec<u8> {
    associated_data(&["custodia/tenant-key/v1", tenant.as_str(), purpose.as_str(), &version.to_string()])
}

fn party_key_aad(tenant: &TenantId, party: &PartyId, tenant_key_version: u32, key_id: &str) -> Vec<u8> {
    associated_data(&[
        "custodia/party-key/v1",
        tenant.as_str(),
        party.as_str(),
        &tenant_key_version.to_string(),
        key_id,
    ])
}

/// A party key as stored: wrapped under one tenant data-key version.
pub struct WrappedPartyKey {
    pub key_id: String,
    pub tenant_key_version: u32,
    pub wrapped: Vec<u8>,
}

type CacheKey = (TenantId, TenantKeyPurpose, u32);

/// Keys in use by this process. Cheap to clone.
#[derive(Clone)]
pub struct KeyService {
    inner: Arc<Inner>,
}

struct Inner {
    keyring: RwLock<Keyring>,
    keyring_path: Option<PathBuf>,
    tenant_keys: RwLock<HashMap<CacheKey, Arc<Key256>>>,
    backend: Backend,
}

impl KeyService {
    /// `keyring_path` lets a running gateway pick up versions added by `keys rotate --master`.
    pub fn new(keyring: Keyring, keyring_path: Option<PathBuf>, backend: Backend) -> Self {
        Self {
            inner: Arc::new(Inner {
                keyring: RwLock::new(keyring),
                keyring_path,
                tenant_keys: RwLock::new(HashMap::new()),
                backend,
            }),
        }
    }

    pub fn keyring_snapshot(&self) -> Keyring {
        match self.inner.keyring.read() {
            Ok(ring) => ring.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn keyring_path(&self) -> Option<&std::path::Path> {
        self.inner.keyring_path.as_deref()
    }

    /// Replaces the keyring (after `keys rotate --master` wrote a new version).
    pub fn set_keyring(&self, ring: Keyring) {
        if let Ok(mut guard) = self.inner.keyring.write() {
            *guard = ring;
        }
    }

    /// Creates version 1 of the tenant's data and index keys, wrapped by the active master key.
    pub async fn create_tenant_keys(&self, conn: &mut Conn, tenant: &TenantId, now: &str) -> Result<(), KeyError> {
        for purpose in [TenantKeyPurpose::Data, TenantKeyPurpose::Index] {
            self.insert_tenant_key(conn, tenant, purpose, 1, now).await?;
        }
        Ok(())
    }

    /// Generates and stores one new tenant key version as `active`.
    pub async fn insert_tenant_key(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        purpose: TenantKeyPurpose,
        version: u32,
        now: &str,
    ) -> Result<(), KeyError> {
        let key = Key256::generate()?;
        let (master_version, wrapped) = self.wrap_tenant_key(tenant, purpose, version, &key)?;
        sqlx::query(
            "INSERT INTO tenant_keys (tenant_id, purpose, version, master_version, wrapped, state, created_at) VALUES ($1, $2, $3, $4, $5, 'active', $6)",
        )
        .bind(tenant.as_str())
        .bind(purpose.as_str())
        .bind(i64::from(version))
        .bind(i64::from(master_version))
        .bind(wrapped)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        self.cache_put((tenant.clone(), purpose, version), Arc::new(key));
        Ok(())
    }

    /// Wraps a tenant key under the active master version.
    pub fn wrap_tenant_key(
        &self,
        tenant: &TenantId,
        purpose: TenantKeyPurpose,
        version: u32,
        key: &Key256,
    ) -> Result<(u32, Vec<u8>), KeyError> {
        let ring = self.keyring_snapshot();
        let (master_version, master) = ring.active_key();
        let sealed = crypto::seal(
            master,
            &format!("mk{master_version}"),
            &tenant_key_aad(tenant, purpose, version),
            key.expose(),
        )?;
        Ok((master_version, sealed))
    }

    /// Unwraps a stored tenant key, reloading the keyring file once if its master
    /// version is unknown (another process rotated the master key).
    pub fn unwrap_tenant_key(
        &self,
        tenant: &TenantId,
        purpose: TenantKeyPurpose,
        version: u32,
        master_version: u32,
        wrapped: &[u8],
    ) -> Result<Key256, KeyError> {
        let ring = self.keyring_with(master_version)?;
        let master = ring.key(master_version)?;
        let bytes = crypto::open(master, &tenant_key_aad(tenant, purpose, version), wrapped)?;
        Ok(Key256::from_slice(&bytes)?)
    }

    fn keyring_with(&self, master_version: u32) -> Result<Keyring, KeyError> {
        let ring = self.keyring_snapshot();
        if ring.key(master_version).is_ok() {
            return Ok(ring);
        }
        let path = self.inner.keyring_path.as_ref().ok_or(KeyringError::UnknownVersion(master_version))?;
        let reloaded = Keyring::load_file(path)?;
        self.set_keyring(reloaded.clone());
        Ok(reloaded)
    }

    /// The unwrapped tenant key of one version, from cache or the database.
    pub async fn tenant_key(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        purpose: TenantKeyPurpose,
        version: u32,
    ) -> Result<Arc<Key256>, KeyError> {
        let cache_key = (tenant.clone(), purpose, version);
        if let Some(key) = self.cache_get(&cache_key) {
            return Ok(key);
        }
        let row = sqlx::query("SELECT master_version, wrapped, state FROM tenant_keys WHERE tenant_id = $1 AND purpose = $2 AND version = $3")
            .bind(tenant.as_str())
            .bind(purpose.as_str())
            .bind(i64::from(version))
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| KeyError::MissingTenantKey(tenant.clone(), purpose.as_str()))?;
        let wrapped: Option<Vec<u8>> = row.try_get("wrapped")?;
        let wrapped = wrapped.ok_or(KeyError::Retired(version))?;
        let master_version =
            u32::try_from(row.try_get::<i64, _>("master_version")?).map_err(|_| KeyError::Integrity)?;
        let key = Arc::new(self.unwrap_tenant_key(tenant, purpose, version, master_version, &wrapped)?);
        self.cache_put(cache_key, key.clone());
        Ok(key)
    }

    /// The version new wraps must use. On PostgreSQL the row is share-locked so that a
    /// concurrent rotation cannot retire the version before this transaction commits.
    pub async fn active_version(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        purpose: TenantKeyPurpose,
    ) -> Result<u32, KeyError> {
        let lock = if self.inner.backend == Backend::Postgres { " FOR SHARE" } else { "" };
        let sql =
            format!("SELECT version FROM tenant_keys WHERE tenant_id = $1 AND purpose = $2 AND state = 'active'{lock}");
        let version: Option<i64> =
            sqlx::query_scalar(&sql).bind(tenant.as_str()).bind(purpose.as_str()).fetch_optional(&mut *conn).await?;
        let version = version.ok_or_else(|| KeyError::MissingTenantKey(tenant.clone(), purpose.as_str()))?;
        u32::try_from(version).map_err(|_| KeyError::Integrity)
    }

    /// Prepares to create party data keys under the tenant's active data-key version;
    /// one lookup serves a whole import batch.
    pub async fn party_key_factory(&self, conn: &mut Conn, tenant: &TenantId) -> Result<PartyKeyFactory, KeyError> {
        let version = self.active_version(conn, tenant, TenantKeyPurpose::Data).await?;
        let tenant_key = self.tenant_key(conn, tenant, TenantKeyPurpose::Data, version).await?;
        Ok(PartyKeyFactory { tenant: tenant.clone(), version, tenant_key })
    }

    /// Unwraps a stored party key. A wrapped key copied from another party fails here.
    pub async fn open_party_key(
        &self,
        conn: &mut Conn,
        tenant: &TenantId,
        party: &PartyId,
        stored: &WrappedPartyKey,
    ) -> Result<PartyKey, KeyError> {
        let tenant_key = self.tenant_key(conn, tenant, TenantKeyPurpose::Data, stored.tenant_key_version).await?;
        open_wrapped_party_key(&tenant_key, tenant, party, stored)
    }

    /// [`Self::open_party_key`] from memory alone: None when the tenant key version is not
    /// cached. Lets a read served from memory skip the connection pool, whose every
    /// checkout costs a round trip to the driver's thread when it is handed back.
    pub fn open_party_key_cached(
        &self,
        tenant: &TenantId,
        party: &PartyId,
        stored: &WrappedPartyKey,
    ) -> Option<Result<PartyKey, KeyError>> {
        let tenant_key = self.cache_get(&(tenant.clone(), TenantKeyPurpose::Data, stored.tenant_key_version))?;
        Some(open_wrapped_party_key(&tenant_key, tenant, party, stored))
    }

    /// Drops from the cache every tenant key version the database says is retired (another
    /// process may have retired it): a retired version must stop opening anything here
    /// too, not only after a restart.
    pub async fn forget_retired(&self, conn: &mut Conn) -> Result<usize, KeyError> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT tenant_id, purpose, version FROM tenant_keys WHERE state = 'retired'")
                .fetch_all(&mut *conn)
                .await?;
        let mut forgotten = 0;
        if let Ok(mut cache) = self.inner.tenant_keys.write() {
            for (tenant, purpose, version) in rows {
                let purpose = match purpose.as_str() {
                    "data" => TenantKeyPurpose::Data,
                    _ => TenantKeyPurpose::Index,
                };
                let version = u32::try_from(version).unwrap_or(u32::MAX);
                forgotten += usize::from(cache.remove(&(TenantId::from_db(tenant), purpose, version)).is_some());
            }
        }
        Ok(forgotten)
    }

    /// Drops cached tenant keys of one version (after it is retired).
    pub fn forget(&self, tenant: &TenantId, purpose: TenantKeyPurpose, version: u32) {
        if let Ok(mut cache) = self.inner.tenant_keys.write() {
            cache.remove(&(tenant.clone(), purpose, version));
        }
    }

    fn cache_get(&self, key: &CacheKey) -> Option<Arc<Key256>> {
        self.inner.tenant_keys.read().ok().and_then(|c| c.get(key).cloned())
    }

    fn cache_put(&self, key: CacheKey, value: Arc<Key256>) {
        if let Ok(mut cache) = self.inner.tenant_keys.write() {
            cache.insert(key, value);
        }
    }
}

/// Creates party data keys wrapped under one tenant data-key version.
pub struct PartyKeyFactory {
    tenant: TenantId,
    version: u32,
    tenant_key: Arc<Key256>,
}

impl PartyKeyFactory {
    /// A fresh data key for `party` and its wrapped form to store.
    pub fn create(&self, party: &PartyId) -> Result<(PartyKey, WrappedPartyKey), KeyError> {
        let key = Key256::generate()?;
        let key_id = format!("dk-{}", hex::encode(crypto::random_bytes::<6>()?));
        let wrapped = wrap_party_key(&self.tenant_key, &self.tenant, party, self.version, &key_id, &key)?;
        Ok((
            PartyKey { key_id: key_id.clone(), key },
            WrappedPartyKey { key_id, tenant_key_version: self.version, wrapped },
        ))
    }
}

/// Opens a stored (or remnant) wrapped party key under one given tenant data key, with the
/// associated data of the version the wrap names. Used to show that a remnant no longer
/// opens under any live version; everything else goes through [`KeyService::open_party_key`].
pub fn open_wrapped_party_key(
    tenant_key: &Key256,
    tenant: &TenantId,
    party: &PartyId,
    stored: &WrappedPartyKey,
) -> Result<PartyKey, KeyError> {
    let aad = party_key_aad(tenant, party, stored.tenant_key_version, &stored.key_id);
    let bytes = crypto::open(tenant_key, &aad, &stored.wrapped)?;
    Ok(PartyKey { key_id: stored.key_id.clone(), key: Key256::from_slice(&bytes)? })
}

/// Wraps a party data key under a tenant data key, bound to tenant, party and version.
pub fn wrap_party_key(
    tenant_key: &Key256,
    tenant: &TenantId,
    party: &PartyId,
    version: u32,
    key_id: &str,
    key: &Key256,
) -> Result<Vec<u8>, CryptoError> {
    let aad = party_key_aad(tenant, party, version, key_id);
    crypto::seal(tenant_key, &format!("tk{version}"), &aad, key.expose())
}

/// Re-wraps a stored party key under another tenant-key version (rotation).
pub fn rewrap_party_key(
    old: &Key256,
    new: &Key256,
    new_version: u32,
    tenant: &TenantId,
    party: &PartyId,
    stored: &WrappedPartyKey,
) -> Result<Vec<u8>, CryptoError> {
    let aad = party_key_aad(tenant, party, stored.tenant_key_version, &stored.key_id);
    let bytes = crypto::open(old, &aad, &stored.wrapped)?;
    let key = Key256::from_slice(&bytes)?;
    wrap_party_key(new, tenant, party, new_version, &stored.key_id, &key)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_party_key_only_opens_for_its_own_party() {
        let tenant_key = Key256::generate().unwrap();
        let tenant = TenantId::parse("t1").unwrap();
        let (a, b) = (PartyId::new(), PartyId::new());
        let key = Key256::generate().unwrap();
        let wrapped = wrap_party_key(&tenant_key, &tenant, &a, 1, "dk-1", &key).unwrap();
        let stored = WrappedPartyKey { key_id: "dk-1".into(), tenant_key_version: 1, wrapped };
        let moved = rewrap_party_key(&tenant_key, &tenant_key, 1, &tenant, &b, &stored);
        assert_eq!(moved.unwrap_err(), CryptoError::Integrity);
        assert!(rewrap_party_key(&tenant_key, &tenant_key, 2, &tenant, &a, &stored).is_ok());
    }

    #[test]
    fn a_party_key_opens_from_memory_only_while_its_tenant_key_is_cached() {
        let keys = KeyService::new(Keyring::generate(false).unwrap(), None, Backend::Sqlite);
        let tenant = TenantId::parse("t1").unwrap();
        let party = PartyId::new();
        let tenant_key = Arc::new(Key256::generate().unwrap());
        let factory = PartyKeyFactory { tenant: tenant.clone(), version: 3, tenant_key: tenant_key.clone() };
        let (key, stored) = factory.create(&party).unwrap();
        let sealed = key.seal_field(&tenant, &party, "phone", "mobile", b"+573001234567").unwrap();

        assert!(keys.open_party_key_cached(&tenant, &party, &stored).is_none(), "nothing cached yet");
        keys.cache_put((tenant.clone(), TenantKeyPurpose::Data, 3), tenant_key);
        let opened = keys.open_party_key_cached(&tenant, &party, &stored).unwrap().unwrap();
        assert_eq!(&opened.open_field(&tenant, &party, "phone", "mobile", &sealed).unwrap()[..], b"+573001234567");
        assert!(
            keys.open_party_key_cached(&tenant, &PartyId::new(), &stored).unwrap().is_err(),
            "another party's wrap"
        );
        keys.forget(&tenant, TenantKeyPurpose::Data, 3);
        assert!(
            keys.open_party_key_cached(&tenant, &party, &stored).is_none(),
            "a forgotten version needs the database"
        );
    }

    #[test]
    fn a_field_ciphertext_only_opens_in_its_own_place() {
        let tenant = TenantId::parse("t1").unwrap();
        let party = PartyId::new();
        let key = PartyKey { key_id: "dk-1".into(), key: Key256::generate().unwrap() };
        let sealed = key.seal_field(&tenant, &party, "phone", "mobile", b"+573001234567").unwrap();
        assert_eq!(&key.open_field(&tenant, &party, "phone", "mobile", &sealed).unwrap()[..], b"+573001234567");
        assert!(key.open_field(&tenant, &party, "phone", "home", &sealed).is_err());
        assert!(key.open_field(&tenant, &party, "email", "mobile", &sealed).is_err());
        assert!(key.open_field(&tenant, &PartyId::new(), "phone", "mobile", &sealed).is_err());
        assert!(key.open_field(&TenantId::parse("t2").unwrap(), &party, "phone", "mobile", &sealed).is_err());
    }
}
