//! Between domain values and stored bytes: encrypting a new party's fields under its own
//! data key, computing its blind indexes, and decrypting a stored party for one caller.
//!
//! Only fields the caller may see are decrypted at all. A ciphertext that fails its
//! integrity check (tampered, or copied from another party, field or element) is an
//! error logged with the party id and field name only — never a wrong value.

use super::domain::{external_ref_canonical, stored, Address, DecryptedParty, NewParty, PartyValues};
use super::pii::{ElementId, Email, NationalId, PhoneE164};
use super::store::{PartyRows, StoredParty};
use crate::access::{PartyField, Visibility};
use crate::db::Conn;
use crate::ids::{PartyId, TenantId};
use crate::keys::{BlindIndexer, KeyError, KeyService, PartyKey, PartyKeyFactory};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("stored data of party {party} failed its integrity check (field {field})")]
    Integrity { party: String, field: String },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The blind-index digests that make a party unique in its tenant, under every live
/// index-key version (the active one first). Uniqueness holds across versions because a
/// party counts as taken when *any* of its digests is found.
pub struct IdentityDigests {
    pub national_id: Vec<Vec<u8>>,
    pub external_ref: Vec<Vec<u8>>,
}

impl IdentityDigests {
    /// The national id digest under the active version (the key for in-batch bookkeeping).
    pub fn national_id_active(&self) -> Vec<u8> {
        self.national_id.first().cloned().unwrap_or_default()
    }

    pub fn external_ref_active(&self) -> Vec<u8> {
        self.external_ref.first().cloned().unwrap_or_default()
    }
}

/// Computes the identity digests of a party without writing anything.
pub fn identity_digests(indexer: &BlindIndexer, values: &PartyValues) -> IdentityDigests {
    let all = |field: &str, canonical: &str| indexer.digests(field, canonical).into_iter().map(|(_, d)| d).collect();
    IdentityDigests {
        national_id: all(stored::NATIONAL_ID, &values.national_id.canonical()),
        external_ref: all(stored::EXTERNAL_REF, &external_ref_canonical(&values.external_ref)),
    }
}

/// Encrypts a new party into `rows` (party, wrapped key, fields, blind indexes).
pub fn seal_new_party(
    factory: &PartyKeyFactory,
    indexer: &BlindIndexer,
    tenant: &TenantId,
    id: &PartyId,
    party: &NewParty,
    now: &str,
    rows: &mut PartyRows,
) -> Result<(), KeyError> {
    let (key, wrapped) = factory.create(id)?;
    rows.party(id.as_str(), tenant.as_str(), party.jurisdiction.as_str(), party.timezone.name(), now);
    rows.key(id.as_str(), tenant.as_str(), wrapped);
    let sealer = FieldSealer { key: &key, tenant, party: id };
    let values = &party.values;
    sealer.put_external_ref(rows, indexer, &values.external_ref)?;
    sealer.put(rows, stored::FULL_NAME, "", values.full_name.as_str().as_bytes())?;
    sealer.put_national_id(rows, indexer, &values.national_id)?;
    sealer.put_phones(rows, indexer, &values.phones)?;
    sealer.put_emails(rows, indexer, &values.emails)?;
    if let Some(address) = &values.address {
        sealer.put_address(rows, address)?;
    }
    if let Some(date) = values.date_of_birth {
        sealer.put(rows, stored::DATE_OF_BIRTH, "", date.to_string().as_bytes())?;
    }
    Ok(())
}

/// Seals fields of one party under its data key.
pub struct FieldSealer<'a> {
    pub key: &'a PartyKey,
    pub tenant: &'a TenantId,
    pub party: &'a PartyId,
}

/// Each `put*` seals one field into `rows` (with its blind index when searchable); one
/// place for creation and rectification to write fields the same way.
impl FieldSealer<'_> {
    pub fn seal(&self, field: &str, element: &str, value: &[u8]) -> Result<Vec<u8>, KeyError> {
        Ok(self.key.seal_field(self.tenant, self.party, field, element, value)?)
    }

    pub fn put(&self, rows: &mut PartyRows, field: &str, element: &str, value: &[u8]) -> Result<(), KeyError> {
        rows.field(self.party.as_str(), field, element, self.seal(field, element, value)?);
        Ok(())
    }

    fn put_indexed(
        &self,
        rows: &mut PartyRows,
        indexer: &BlindIndexer,
        field: &str,
        element: &str,
        value: &str,
        canonical: &str,
    ) -> Result<(), KeyError> {
        self.put(rows, field, element, value.as_bytes())?;
        for (version, digest) in indexer.digests(field, canonical) {
            rows.index(self.tenant.as_str(), field, digest, self.party.as_str(), element, version);
        }
        Ok(())
    }

    pub fn put_external_ref(
        &self,
        rows: &mut PartyRows,
        indexer: &BlindIndexer,
        reference: &str,
    ) -> Result<(), KeyError> {
        self.put_indexed(rows, indexer, stored::EXTERNAL_REF, "", reference, &external_ref_canonical(reference))
    }

    pub fn put_national_id(
        &self,
        rows: &mut PartyRows,
        indexer: &BlindIndexer,
        id: &NationalId,
    ) -> Result<(), KeyError> {
        let canonical = id.canonical();
        self.put_indexed(rows, indexer, stored::NATIONAL_ID, "", &canonical, &canonical)
    }

    pub fn put_phones(
        &self,
        rows: &mut PartyRows,
        indexer: &BlindIndexer,
        phones: &[(ElementId, PhoneE164)],
    ) -> Result<(), KeyError> {
        for (element, phone) in phones {
            self.put_indexed(rows, indexer, stored::PHONE, element.as_str(), phone.as_str(), &phone.canonical())?;
        }
        Ok(())
    }

    pub fn put_emails(
        &self,
        rows: &mut PartyRows,
        indexer: &BlindIndexer,
        emails: &[(ElementId, Email)],
    ) -> Result<(), KeyError> {
        for (element, email) in emails {
            self.put_indexed(rows, indexer, stored::EMAIL, element.as_str(), email.as_str(), &email.canonical())?;
        }
        Ok(())
    }

    pub fn put_address(&self, rows: &mut PartyRows, address: &Address) -> Result<(), KeyError> {
        let json = serde_json::to_vec(address).map_err(|_| KeyError::Integrity)?;
        self.put(rows, stored::ADDRESS, "", &json)
    }
}

/// Which stored fields a caller's visibility requires decrypting.
fn needed(field: &str, visibility: &BTreeMap<PartyField, Visibility>) -> bool {
    let policy_field = match field {
        stored::EXTERNAL_REF => PartyField::ExternalRef,
        stored::FULL_NAME => PartyField::FullName,
        stored::NATIONAL_ID => PartyField::NationalId,
        stored::PHONE => PartyField::Phones,
        stored::EMAIL => PartyField::Emails,
        stored::ADDRESS => PartyField::Address,
        stored::DATE_OF_BIRTH => PartyField::DateOfBirth,
        _ => return false,
    };
    visibility.get(&policy_field).is_some_and(|v| *v != Visibility::None)
}

/// Unwraps the party's data key.
pub async fn open_key(
    keys: &KeyService,
    conn: &mut Conn,
    tenant: &TenantId,
    party: &StoredParty,
) -> Result<PartyKey, VaultError> {
    check_key_state(tenant, party)?;
    let id = PartyId::from_db(party.id.clone());
    keys.open_party_key(conn, tenant, &id, &party.key).await.map_err(|err| key_error(party, err))
}

/// [`open_key`] from memory alone: None when the tenant key is not cached (the caller
/// then needs a connection).
pub fn open_key_cached(
    keys: &KeyService,
    tenant: &TenantId,
    party: &StoredParty,
) -> Result<Option<PartyKey>, VaultError> {
    check_key_state(tenant, party)?;
    let id = PartyId::from_db(party.id.clone());
    keys.open_party_key_cached(tenant, &id, &party.key).transpose().map_err(|err| key_error(party, err))
}

/// A retired version's material is deleted from the database, but a gateway that used it
/// before may still hold it in its key cache: refuse by the stored state, so a key still
/// wrapped under a retired version (e.g. restored from a backup) never opens.
fn check_key_state(tenant: &TenantId, party: &StoredParty) -> Result<(), VaultError> {
    match party.tenant_key_state.as_deref() {
        Some("active" | "previous") => Ok(()),
        Some(_) => {
            tracing::error!(party_id = %party.id, version = party.key.tenant_key_version, "party key is wrapped under a retired tenant key version");
            Err(VaultError::Key(KeyError::Retired(party.key.tenant_key_version)))
        }
        None => Err(VaultError::Key(KeyError::MissingTenantKey(tenant.clone(), "data"))),
    }
}

fn key_error(party: &StoredParty, err: KeyError) -> VaultError {
    match err {
        KeyError::Integrity => integrity(&party.id, "data_key"),
        other => VaultError::Key(other),
    }
}

/// Decrypts the fields `visibility` releases; the rest stay sealed.
pub async fn open_party(
    keys: &KeyService,
    conn: &mut Conn,
    tenant: &TenantId,
    party: &StoredParty,
    visibility: &BTreeMap<PartyField, Visibility>,
) -> Result<DecryptedParty, VaultError> {
    let key = open_key(keys, conn, tenant, party).await?;
    decrypt_party(&key, tenant, party, visibility)
}

/// Decrypts the fields `visibility` releases with the party's opened data key.
pub fn decrypt_party(
    key: &PartyKey,
    tenant: &TenantId,
    party: &StoredParty,
    visibility: &BTreeMap<PartyField, Visibility>,
) -> Result<DecryptedParty, VaultError> {
    let id = PartyId::from_db(party.id.clone());
    let mut out = DecryptedParty {
        id: party.id.clone(),
        jurisdiction: party.jurisdiction.clone(),
        timezone: party.timezone.clone(),
        created_at: party.created_at.clone(),
        updated_at: party.updated_at.clone(),
        external_ref: None,
        full_name: None,
        national_id: None,
        phones: Vec::new(),
        emails: Vec::new(),
        address: None,
        date_of_birth: None,
    };
    for (field, element, sealed) in &party.fields {
        if !needed(field, visibility) {
            continue;
        }
        let plain = key.open_field(tenant, &id, field, element, sealed).map_err(|_| integrity(&party.id, field))?;
        let text = String::from_utf8(plain.to_vec()).map_err(|_| integrity(&party.id, field))?;
        place(&mut out, field, element.clone(), text).map_err(|_| integrity(&party.id, field))?;
    }
    Ok(out)
}

fn place(out: &mut DecryptedParty, field: &str, element: String, text: String) -> Result<(), ()> {
    match field {
        stored::EXTERNAL_REF => out.external_ref = Some(text),
        stored::FULL_NAME => out.full_name = Some(text),
        stored::NATIONAL_ID => {
            let (kind, number) = text.split_once(':').ok_or(())?;
            out.national_id = Some((kind.to_string(), number.to_string()));
        }
        stored::PHONE => out.phones.push((element, text)),
        stored::EMAIL => out.emails.push((element, text)),
        stored::ADDRESS => out.address = Some(serde_json::from_str::<Address>(&text).map_err(|_| ())?),
        stored::DATE_OF_BIRTH => out.date_of_birth = Some(text),
        _ => {}
    }
    Ok(())
}

fn integrity(party: &str, field: &str) -> VaultError {
    tracing::error!(party_id = %party, field = %field, "ciphertext failed its integrity check");
    VaultError::Integrity { party: party.to_string(), field: field.to_string() }
}
