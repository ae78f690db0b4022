//! `PATCH /v1/parties/{id}`: rectification of a party's personal fields. A present
//! field replaces the stored one (lists are replaced whole); `null` removes an optional
//! field. The jurisdiction is fixed at creation. Runs under the per-party lock and
//! rewrites ciphertexts and blind indexes of only the fields it changes.

use super::domain::{self, stored, Address, EmailInput, Invalid, NationalIdInput, PhoneInput};
use super::pii::{self, FullName, Jurisdiction, NationalId, Timezone};
use super::service::FieldSealer;
use super::store::PartyRows;
use crate::ids::{PartyId, TenantId};
use crate::keys::{BlindIndexer, KeyError, PartyKey};
use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

/// Absent → `None`; `null` → `Some(None)`; a value → `Some(Some(v))`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PartyPatch {
    pub external_ref: Option<String>,
    pub timezone: Option<String>,
    pub full_name: Option<String>,
    pub national_id: Option<NationalIdInput>,
    pub phones: Option<Vec<PhoneInput>>,
    pub emails: Option<Vec<EmailInput>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Address>)]
    pub address: Option<Option<Address>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub date_of_birth: Option<Option<String>>,
}

/// A validated patch: each field is `None` when untouched.
pub struct ValidPatch {
    pub external_ref: Option<String>,
    pub timezone: Option<Timezone>,
    pub full_name: Option<FullName>,
    pub national_id: Option<NationalId>,
    pub phones: Option<Vec<(pii::ElementId, pii::PhoneE164)>>,
    pub emails: Option<Vec<(pii::ElementId, pii::Email)>>,
    pub address: Option<Option<Address>>,
    pub date_of_birth: Option<Option<NaiveDate>>,
}

impl PartyPatch {
    pub fn validate(&self, jurisdiction: Jurisdiction, today: NaiveDate) -> Result<ValidPatch, Invalid> {
        Ok(ValidPatch {
            external_ref: self
                .external_ref
                .as_deref()
                .map(|r| crate::obligations::domain::parse_reference(r, "external_ref"))
                .transpose()?,
            timezone: self
                .timezone
                .as_deref()
                .map(|tz| Timezone::for_jurisdiction(jurisdiction, Some(tz)))
                .transpose()?,
            full_name: self.full_name.as_deref().map(|n| FullName::parse(n, "full_name")).transpose()?,
            national_id: self
                .national_id
                .as_ref()
                .map(|n| NationalId::parse(jurisdiction, &n.id_type, &n.number, "national_id"))
                .transpose()?,
            phones: self.phones.as_deref().map(|p| domain::parse_phones(jurisdiction, p, "")).transpose()?,
            emails: self.emails.as_deref().map(|e| domain::parse_emails(e, "")).transpose()?,
            address: self
                .address
                .as_ref()
                .map(|a| a.as_ref().map(|a| domain::validate_address(a, "address")).transpose())
                .transpose()?,
            date_of_birth: self
                .date_of_birth
                .as_ref()
                .map(|d| d.as_deref().map(|d| pii::parse_date_of_birth(d, today, "date_of_birth")).transpose())
                .transpose()?,
        })
    }
}

impl ValidPatch {
    /// Names of the stored fields this patch replaces (each is cleared, then rewritten).
    pub fn touched(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let checks: [(bool, &'static str); 7] = [
            (self.external_ref.is_some(), stored::EXTERNAL_REF),
            (self.full_name.is_some(), stored::FULL_NAME),
            (self.national_id.is_some(), stored::NATIONAL_ID),
            (self.phones.is_some(), stored::PHONE),
            (self.emails.is_some(), stored::EMAIL),
            (self.address.is_some(), stored::ADDRESS),
            (self.date_of_birth.is_some(), stored::DATE_OF_BIRTH),
        ];
        out.extend(checks.iter().filter(|(on, _)| *on).map(|(_, name)| *name));
        out
    }

    /// New ciphertexts and blind indexes for the touched fields.
    pub fn seal(
        &self,
        key: &PartyKey,
        indexer: &BlindIndexer,
        tenant: &TenantId,
        party: &PartyId,
    ) -> Result<PartyRows, KeyError> {
        let sealer = FieldSealer { key, tenant, party };
        let mut rows = PartyRows::default();
        if let Some(reference) = &self.external_ref {
            sealer.put_external_ref(&mut rows, indexer, reference)?;
        }
        if let Some(name) = &self.full_name {
            sealer.put(&mut rows, stored::FULL_NAME, "", name.as_str().as_bytes())?;
        }
        if let Some(id) = &self.national_id {
            sealer.put_national_id(&mut rows, indexer, id)?;
        }
        sealer.put_phones(&mut rows, indexer, self.phones.as_deref().unwrap_or_default())?;
        sealer.put_emails(&mut rows, indexer, self.emails.as_deref().unwrap_or_default())?;
        if let Some(Some(address)) = &self.address {
            sealer.put_address(&mut rows, address)?;
        }
        if let Some(Some(date)) = &self.date_of_birth {
            sealer.put(&mut rows, stored::DATE_OF_BIRTH, "", date.to_string().as_bytes())?;
        }
        Ok(rows)
    }
}
