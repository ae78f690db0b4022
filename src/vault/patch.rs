//! `PATCH /v1/parties/{id}`: rectification of a party's personal fields. A present
//! field replaces the stored one (lists are replaced whole); `null` removes an optional
//! field. The jurisdiction is fixed at creation. Runs under the per-party lock and
//! rewrites ciphertexts and blind indexes of only the fields it changes.

use super::domain::{self, external_ref_canonical, stored, Address, EmailInput, Invalid, NationalIdInput, PhoneInput};
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
        let (t, p) = (tenant.as_str(), party.as_str());
        let mut rows = PartyRows::default();
        if let Some(reference) = &self.external_ref {
            rows.field(p, stored::EXTERNAL_REF, "", sealer.seal(stored::EXTERNAL_REF, "", reference.as_bytes())?);
            rows.index(
                t,
                stored::EXTERNAL_REF,
                indexer.digest(stored::EXTERNAL_REF, &external_ref_canonical(reference)),
                p,
                "",
            );
        }
        if let Some(name) = &self.full_name {
            rows.field(p, stored::FULL_NAME, "", sealer.seal(stored::FULL_NAME, "", name.as_str().as_bytes())?);
        }
        if let Some(id) = &self.national_id {
            rows.field(p, stored::NATIONAL_ID, "", sealer.seal(stored::NATIONAL_ID, "", id.canonical().as_bytes())?);
            rows.index(t, stored::NATIONAL_ID, indexer.digest(stored::NATIONAL_ID, &id.canonical()), p, "");
        }
        for (element, phone) in self.phones.iter().flatten() {
            rows.field(
                p,
                stored::PHONE,
                element.as_str(),
                sealer.seal(stored::PHONE, element.as_str(), phone.as_str().as_bytes())?,
            );
            rows.index(t, stored::PHONE, indexer.digest(stored::PHONE, &phone.canonical()), p, element.as_str());
        }
        for (element, email) in self.emails.iter().flatten() {
            rows.field(
                p,
                stored::EMAIL,
                element.as_str(),
                sealer.seal(stored::EMAIL, element.as_str(), email.as_str().as_bytes())?,
            );
            rows.index(t, stored::EMAIL, indexer.digest(stored::EMAIL, &email.canonical()), p, element.as_str());
        }
        if let Some(Some(address)) = &self.address {
            let json = serde_json::to_vec(address).map_err(|_| KeyError::Integrity)?;
            rows.field(p, stored::ADDRESS, "", sealer.seal(stored::ADDRESS, "", &json)?);
        }
        if let Some(Some(date)) = &self.date_of_birth {
            rows.field(
                p,
                stored::DATE_OF_BIRTH,
                "",
                sealer.seal(stored::DATE_OF_BIRTH, "", date.to_string().as_bytes())?,
            );
        }
        Ok(rows)
    }
}
