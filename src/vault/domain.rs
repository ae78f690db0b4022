//! Parties as the API receives and returns them, and the rules between the two.
//!
//! Owns the wire shapes (`PartyInput`, `PartyPatch`, `PartyView`), validation into the
//! domain type [`NewParty`] (every personal value parsed into a `pii` newtype), the list
//! of encrypted fields with their blind-index kinds, and how a decrypted party is shown
//! to a caller given the access policy (clear, masked, or left out). Nothing here
//! touches storage or keys.

use super::mask;
use super::pii::{self, ElementId, Email, FullName, Jurisdiction, NationalId, PhoneE164, PiiError, Timezone};
use crate::access::{AccessPolicy, PartyField, Purpose, Role, Visibility};
use crate::obligations::domain::{AmountInput, FieldError, ObligationTerms, PaymentInput, PromiseInput};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use utoipa::ToSchema;

/// A national identity document: type (per jurisdiction) and number.
#[derive(Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NationalIdInput {
    /// CO: CC, CE, TI, NIT, PA, PPT · MX: CURP, RFC, PASSPORT · US: SSN, ITIN, PASSPORT · EU: NATIONAL_ID, PASSPORT, TAX_ID
    #[serde(rename = "type")]
    pub id_type: String,
    pub number: String,
}

#[derive(Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneInput {
    /// Element id, 1–32 of [a-z0-9_-], e.g. "mobile"; unique within the party.
    pub id: String,
    /// E.164 (`+573001234567`) or a national number of the party's jurisdiction.
    pub number: String,
}

#[derive(Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailInput {
    pub id: String,
    pub address: String,
}

#[derive(Clone, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// Another person on an obligation (co-debtor or guarantor), created or matched by national id.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoPartyInput {
    /// co_debtor or guarantor
    pub role: String,
    /// A party of the same shape; its own `obligations` must be empty.
    #[schema(no_recursion)]
    pub party: Box<PartyInput>,
}

/// An obligation created together with its holder.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InlineObligationInput {
    pub external_ref: String,
    pub product: String,
    pub currency: String,
    pub principal: AmountInput,
    pub balance: AmountInput,
    pub due_date: String,
    pub status: String,
    #[serde(default)]
    pub payments: Vec<PaymentInput>,
    #[serde(default)]
    pub promises: Vec<PromiseInput>,
    #[serde(default)]
    pub co_parties: Vec<CoPartyInput>,
}

impl InlineObligationInput {
    pub fn terms(&self) -> ObligationTerms {
        ObligationTerms {
            external_ref: self.external_ref.clone(),
            product: self.product.clone(),
            currency: self.currency.clone(),
            principal: self.principal.clone(),
            balance: self.balance.clone(),
            due_date: self.due_date.clone(),
            status: self.status.clone(),
        }
    }
}

/// Body of `POST /v1/parties` and one line of `POST /v1/parties:batch` / `custodia import`.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyInput {
    /// The creditor's reference for this person, unique per tenant.
    pub external_ref: String,
    /// CO, MX, US or EU
    pub jurisdiction: String,
    /// IANA zone. Defaults to America/Bogota for CO; required for MX, US and EU.
    #[serde(default)]
    pub timezone: Option<String>,
    pub full_name: String,
    pub national_id: NationalIdInput,
    #[serde(default)]
    pub phones: Vec<PhoneInput>,
    #[serde(default)]
    pub emails: Vec<EmailInput>,
    #[serde(default)]
    pub address: Option<Address>,
    /// YYYY-MM-DD
    #[serde(default)]
    pub date_of_birth: Option<String>,
    /// Obligations on which this party is the holder.
    #[serde(default)]
    pub obligations: Vec<InlineObligationInput>,
}

/// A validation failure: stable code, JSON path, explanation (never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub field: String,
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl From<PiiError> for Invalid {
    fn from(err: PiiError) -> Self {
        Self { code: err.code(), field: err.field().to_string(), message: err.to_string() }
    }
}

impl From<FieldError> for Invalid {
    fn from(err: FieldError) -> Self {
        Self { code: err.code, field: err.field.clone(), message: err.message }
    }
}

impl Invalid {
    pub fn new(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code, field: field.into(), message: message.into() }
    }
}

/// A party's personal values, validated. `Debug` shows none of them.
#[derive(Clone)]
pub struct PartyValues {
    pub external_ref: String,
    pub full_name: FullName,
    pub national_id: NationalId,
    pub phones: Vec<(ElementId, PhoneE164)>,
    pub emails: Vec<(ElementId, Email)>,
    pub address: Option<Address>,
    pub date_of_birth: Option<NaiveDate>,
}

impl fmt::Debug for PartyValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PartyValues(<redacted>)")
    }
}

/// A validated new party with where it lives (jurisdiction and zone are not personal).
#[derive(Clone, Debug)]
pub struct NewParty {
    pub jurisdiction: Jurisdiction,
    pub timezone: Timezone,
    pub values: PartyValues,
}

const MAX_LIST: usize = 10;

impl PartyInput {
    /// Validates the party itself (not its obligations); `at` prefixes field paths.
    pub fn validate(&self, today: NaiveDate, at: &str) -> Result<NewParty, Invalid> {
        let jurisdiction = Jurisdiction::parse(&self.jurisdiction).map_err(|_| {
            Invalid::new("unknown_jurisdiction", format!("{at}jurisdiction"), "must be one of CO, MX, US, EU")
        })?;
        let timezone =
            Timezone::for_jurisdiction(jurisdiction, self.timezone.as_deref()).map_err(|e| relocate(e, at))?;
        let values = PartyValues {
            external_ref: crate::obligations::domain::parse_reference(
                &self.external_ref,
                &format!("{at}external_ref"),
            )?,
            full_name: FullName::parse(&self.full_name, &format!("{at}full_name"))?,
            national_id: NationalId::parse(
                jurisdiction,
                &self.national_id.id_type,
                &self.national_id.number,
                &format!("{at}national_id"),
            )?,
            phones: parse_phones(jurisdiction, &self.phones, at)?,
            emails: parse_emails(&self.emails, at)?,
            address: self.address.as_ref().map(|a| validate_address(a, &format!("{at}address"))).transpose()?,
            date_of_birth: self
                .date_of_birth
                .as_deref()
                .map(|d| pii::parse_date_of_birth(d, today, &format!("{at}date_of_birth")))
                .transpose()?,
        };
        Ok(NewParty { jurisdiction, timezone, values })
    }
}

fn relocate(err: PiiError, at: &str) -> Invalid {
    let mut invalid = Invalid::from(err);
    if !invalid.field.starts_with(at) {
        invalid.field = format!("{at}{}", invalid.field);
    }
    invalid
}

pub fn parse_phones(j: Jurisdiction, phones: &[PhoneInput], at: &str) -> Result<Vec<(ElementId, PhoneE164)>, Invalid> {
    check_list_len(phones.len(), &format!("{at}phones"))?;
    let parsed = phones
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Ok((
                ElementId::parse(&p.id, &format!("{at}phones[{i}].id"))?,
                PhoneE164::parse(j, &p.number, &format!("{at}phones[{i}].number"))?,
            ))
        })
        .collect::<Result<Vec<_>, PiiError>>()?;
    check_unique_ids(parsed.iter().map(|(id, _)| id), &format!("{at}phones"))?;
    Ok(parsed)
}

pub fn parse_emails(emails: &[EmailInput], at: &str) -> Result<Vec<(ElementId, Email)>, Invalid> {
    check_list_len(emails.len(), &format!("{at}emails"))?;
    let parsed = emails
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Ok((
                ElementId::parse(&e.id, &format!("{at}emails[{i}].id"))?,
                Email::parse(&e.address, &format!("{at}emails[{i}].address"))?,
            ))
        })
        .collect::<Result<Vec<_>, PiiError>>()?;
    check_unique_ids(parsed.iter().map(|(id, _)| id), &format!("{at}emails"))?;
    Ok(parsed)
}

fn check_list_len(len: usize, field: &str) -> Result<(), Invalid> {
    if len > MAX_LIST {
        return Err(Invalid::new("too_many_elements", field, format!("at most {MAX_LIST} elements")));
    }
    Ok(())
}

fn check_unique_ids<'a>(ids: impl Iterator<Item = &'a ElementId>, field: &str) -> Result<(), Invalid> {
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        if !seen.insert(id.as_str()) {
            return Err(Invalid::new("duplicate_element_id", field, "element ids must be unique within the list"));
        }
    }
    Ok(())
}

pub fn validate_address(address: &Address, at: &str) -> Result<Address, Invalid> {
    let text = |value: &str, name: &str, max: usize, required: bool| -> Result<(), Invalid> {
        let len = value.trim().chars().count();
        if (required && len == 0) || len > max || value.chars().any(char::is_control) {
            return Err(Invalid::new(
                "invalid_address",
                format!("{at}.{name}"),
                format!(
                    "must be {}up to {max} characters without control characters",
                    if required { "1 and " } else { "" }
                ),
            ));
        }
        Ok(())
    };
    text(&address.line1, "line1", 200, true)?;
    text(address.line2.as_deref().unwrap_or(""), "line2", 200, false)?;
    text(&address.city, "city", 100, true)?;
    text(address.region.as_deref().unwrap_or(""), "region", 100, false)?;
    text(address.postal_code.as_deref().unwrap_or(""), "postal_code", 20, false)?;
    if address.country.len() != 2 || !address.country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Invalid::new(
            "invalid_address",
            format!("{at}.country"),
            "must be an ISO 3166-1 alpha-2 code such as CO",
        ));
    }
    Ok(address.clone())
}

/// How a party's personal fields are stored: the encrypted field name, and the blind
/// index kind when the value is searchable.
pub mod stored {
    pub const EXTERNAL_REF: &str = "external_ref";
    pub const FULL_NAME: &str = "full_name";
    pub const NATIONAL_ID: &str = "national_id";
    pub const PHONE: &str = "phone";
    pub const EMAIL: &str = "email";
    pub const ADDRESS: &str = "address";
    pub const DATE_OF_BIRTH: &str = "date_of_birth";
}

/// A stored field's name as the API, the access policy and audit records name it (lists
/// are plural: `phones`, `emails`).
pub fn api_field_name(stored_name: &str) -> &str {
    match stored_name {
        stored::PHONE => "phones",
        stored::EMAIL => "emails",
        other => other,
    }
}

/// The blind-index input for an external reference (its kind is part of the value).
pub fn external_ref_canonical(reference: &str) -> String {
    format!("ref:{reference}")
}

/// A decrypted party, as read from the vault. `Debug` shows no values.
#[derive(Clone)]
pub struct DecryptedParty {
    pub id: String,
    pub jurisdiction: String,
    pub timezone: String,
    pub created_at: String,
    pub updated_at: String,
    pub external_ref: Option<String>,
    pub full_name: Option<String>,
    /// (type, number)
    pub national_id: Option<(String, String)>,
    pub phones: Vec<(String, String)>,
    pub emails: Vec<(String, String)>,
    pub address: Option<Address>,
    pub date_of_birth: Option<String>,
}

impl fmt::Debug for DecryptedParty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptedParty").field("id", &self.id).finish_non_exhaustive()
    }
}

#[derive(Serialize, ToSchema)]
pub struct PhoneView {
    pub id: String,
    pub number: String,
}

#[derive(Serialize, ToSchema)]
pub struct EmailView {
    pub id: String,
    pub address: String,
}

/// A party as one caller may see it: fields the policy hides are absent, masked ones
/// are partial, and `visibility` says which is which.
#[derive(Serialize, ToSchema)]
pub struct PartyView {
    pub id: String,
    pub jurisdiction: String,
    pub timezone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub national_id: Option<NationalIdInput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phones: Option<Vec<PhoneView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emails: Option<Vec<EmailView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    pub visibility: BTreeMap<PartyField, Visibility>,
    pub created_at: String,
    pub updated_at: String,
}

/// What each field's visibility is for this caller.
pub fn visibilities(policy: &AccessPolicy, role: Role, purpose: Purpose) -> BTreeMap<PartyField, Visibility> {
    PartyField::ALL.iter().map(|f| (*f, policy.visibility(role, purpose, *f))).collect()
}

/// Field names with their visibility, for the audit record (`phones:masked`).
pub fn released_fields(visibility: &BTreeMap<PartyField, Visibility>) -> Vec<String> {
    visibility.iter().filter(|(_, v)| **v != Visibility::None).map(|(f, v)| format!("{f}:{v}")).collect()
}

impl PartyView {
    pub fn build(party: DecryptedParty, visibility: BTreeMap<PartyField, Visibility>) -> Self {
        let vis = |f: PartyField| visibility.get(&f).copied().unwrap_or(Visibility::None);
        let show = |f: PartyField, value: Option<String>, mask: fn(&str) -> String| match vis(f) {
            Visibility::Clear => value,
            Visibility::Masked => value.map(|v| mask(&v)),
            Visibility::None => None,
        };
        Self {
            external_ref: show(PartyField::ExternalRef, party.external_ref, mask_reference),
            full_name: show(PartyField::FullName, party.full_name, mask::mask_name),
            national_id: match vis(PartyField::NationalId) {
                Visibility::None => None,
                v => party.national_id.map(|(id_type, number)| NationalIdInput {
                    id_type,
                    number: if v == Visibility::Clear { number } else { mask::mask_national_id(&number) },
                }),
            },
            phones: list_view(vis(PartyField::Phones), party.phones, mask::mask_phone)
                .map(|l| l.into_iter().map(|(id, number)| PhoneView { id, number }).collect()),
            emails: list_view(vis(PartyField::Emails), party.emails, mask::mask_email)
                .map(|l| l.into_iter().map(|(id, address)| EmailView { id, address }).collect()),
            address: match vis(PartyField::Address) {
                Visibility::Clear => party.address,
                Visibility::Masked => party.address.map(mask_address),
                Visibility::None => None,
            },
            date_of_birth: show(PartyField::DateOfBirth, party.date_of_birth, mask_date_of_birth),
            id: party.id,
            jurisdiction: party.jurisdiction,
            timezone: party.timezone,
            created_at: party.created_at,
            updated_at: party.updated_at,
            visibility,
        }
    }
}

fn list_view(
    visibility: Visibility,
    items: Vec<(String, String)>,
    mask: fn(&str) -> String,
) -> Option<Vec<(String, String)>> {
    match visibility {
        Visibility::Clear => Some(items),
        Visibility::Masked => Some(items.into_iter().map(|(id, v)| (id, mask(&v))).collect()),
        Visibility::None => None,
    }
}

fn mask_reference(reference: &str) -> String {
    mask::mask_national_id(reference)
}

/// A masked address keeps only where, coarsely: city, region and country.
fn mask_address(address: Address) -> Address {
    Address {
        line1: "***".into(),
        line2: None,
        city: address.city,
        region: address.region,
        postal_code: None,
        country: address.country,
    }
}

/// A masked date of birth keeps only the year.
fn mask_date_of_birth(date: &str) -> String {
    format!("{}-**-**", date.get(..4).unwrap_or("****"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn input() -> PartyInput {
        serde_json::from_value(serde_json::json!({
            "external_ref": "CRM-1", "jurisdiction": "CO", "full_name": "Ana María Pérez Gómez",
            "national_id": {"type": "CC", "number": "1020304050"},
            "phones": [{"id": "mobile", "number": "+573001234567"}],
            "emails": [{"id": "personal", "address": "Ana@Example.com"}],
            "date_of_birth": "1985-04-12"
        }))
        .unwrap()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn a_colombian_party_defaults_to_bogota_time() {
        let party = input().validate(today(), "").unwrap();
        assert_eq!(party.timezone.name(), "America/Bogota");
        assert_eq!(party.values.emails[0].1.as_str(), "ana@example.com");
    }

    #[test]
    fn a_mexican_party_without_timezone_is_refused() {
        let mut p = input();
        p.jurisdiction = "MX".into();
        p.national_id = NationalIdInput { id_type: "RFC".into(), number: "GOMA850412AB1".into() };
        let err = p.validate(today(), "").unwrap_err();
        assert_eq!(err.code, "timezone_required");
    }

    #[test]
    fn duplicate_phone_ids_are_refused() {
        let mut p = input();
        p.phones.push(p.phones[0].clone());
        assert_eq!(p.validate(today(), "").unwrap_err().code, "duplicate_element_id");
    }

    #[test]
    fn debug_of_party_values_shows_nothing_personal() {
        let party = input().validate(today(), "").unwrap();
        let shown = format!("{party:?}");
        assert!(!shown.contains("1020304050") && !shown.contains("Ana"), "{shown}");
    }

    #[test]
    fn masked_view_keeps_only_partial_values() {
        let decrypted = DecryptedParty {
            id: "p".into(),
            jurisdiction: "CO".into(),
            timezone: "America/Bogota".into(),
            created_at: "t".into(),
            updated_at: "t".into(),
            external_ref: Some("CRM-1".into()),
            full_name: Some("Ana María Pérez".into()),
            national_id: Some(("CC".into(), "1020304050".into())),
            phones: vec![("mobile".into(), "+573001234567".into())],
            emails: vec![("personal".into(), "ana@example.com".into())],
            address: None,
            date_of_birth: Some("1985-04-12".into()),
        };
        let policy = AccessPolicy::default_policy().unwrap();
        let view = PartyView::build(decrypted, visibilities(&policy, Role::Agent, Purpose::Collection));
        let json = serde_json::to_string(&view).unwrap();
        assert!(!json.contains("1020304050") && !json.contains("3001234567") && !json.contains("ana@"), "{json}");
        assert!(json.contains("4050") && json.contains("4567"));
        assert!(view.date_of_birth.is_none());
    }
}
