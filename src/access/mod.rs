//! Access policy: which role may declare which purpose, and what it sees of each
//! personal field (clear, masked, or nothing), loaded from `policies/access.toml`.
//!
//! The policy is data, validated at load: unknown keys and impossible values are errors
//! naming the file, line and key, every role and field must be stated, and a policy that
//! would hand clear phones or e-mails to a contact-making role, or for a purpose other
//! than data-subject requests and compliance review, is refused (DESIGN invariant 4).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The access policy compiled into the binary, used when no policies directory is set.
pub const DEFAULT_ACCESS_POLICY: &str = include_str!("../../policies/access.toml");

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(text: &str) -> Result<Self, ()> {
                match text { $($text => Ok($name::$variant),)+ _ => Err(()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

string_enum!(
    /// What an API client is. A role is fixed when the client is created.
    Role { Admin = "admin", Compliance = "compliance", Agent = "agent", Dialer = "dialer", Analyst = "analyst", Ingest = "ingest", Regulator = "regulator" }
);

string_enum!(
    /// Why a request processes data (finalidad). Declared per request in `X-Purpose`.
    Purpose { Collection = "collection", Segmentation = "segmentation", ComplianceReview = "compliance_review", Dsr = "dsr", CreditReporting = "credit_reporting", Ingest = "ingest", Support = "support" }
);

string_enum!(
    /// A party's personal fields, as the access policy names them.
    PartyField { ExternalRef = "external_ref", FullName = "full_name", NationalId = "national_id", Phones = "phones", Emails = "emails", Address = "address", DateOfBirth = "date_of_birth" }
);

string_enum!(
    /// How much of a field a caller sees.
    Visibility { Clear = "clear", Masked = "masked", None = "none" }
);

impl Role {
    /// Roles that place contacts: they get clear destinations only with an allowed decision.
    pub fn makes_contacts(self) -> bool {
        matches!(self, Role::Agent | Role::Dialer)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccessPolicyError {
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    roles: BTreeMap<Role, RoleFile>,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
struct RoleFile {
    purposes: Vec<Purpose>,
    fields: BTreeMap<PartyField, Visibility>,
    #[serde(default)]
    purpose_fields: BTreeMap<Purpose, BTreeMap<PartyField, Visibility>>,
}

/// The loaded, validated access policy.
#[derive(Clone, Debug)]
pub struct AccessPolicy {
    roles: BTreeMap<Role, RoleFile>,
    hash: String,
}

impl AccessPolicy {
    /// Parses and validates policy text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, AccessPolicyError> {
        let parsed: PolicyFile = toml::from_str(text)
            .map_err(|e| AccessPolicyError::Parse { file: file.to_string(), message: e.to_string() })?;
        let policy = Self { roles: parsed.roles, hash: hex::encode(crate::keys::crypto::sha256(text.as_bytes())) };
        policy.validate().map_err(|message| AccessPolicyError::Invalid { file: file.to_string(), message })?;
        Ok(policy)
    }

    pub fn default_policy() -> Result<Self, AccessPolicyError> {
        Self::parse("policies/access.toml (built in)", DEFAULT_ACCESS_POLICY)
    }

    /// SHA-256 of the policy text, recorded so a decision names the version it used.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub fn may_declare(&self, role: Role, purpose: Purpose) -> bool {
        self.roles.get(&role).is_some_and(|r| r.purposes.contains(&purpose))
    }

    /// What `role` acting for `purpose` sees of `field`; nothing when unstated.
    pub fn visibility(&self, role: Role, purpose: Purpose, field: PartyField) -> Visibility {
        let Some(rules) = self.roles.get(&role) else { return Visibility::None };
        rules
            .purpose_fields
            .get(&purpose)
            .and_then(|overrides| overrides.get(&field))
            .or_else(|| rules.fields.get(&field))
            .copied()
            .unwrap_or(Visibility::None)
    }

    fn validate(&self) -> Result<(), String> {
        for role in Role::ALL {
            let rules =
                self.roles.get(role).ok_or_else(|| format!("role `{role}` is missing (every role must be stated)"))?;
            if let Some(field) = PartyField::ALL.iter().find(|f| !rules.fields.contains_key(f)) {
                return Err(format!("roles.{role}.fields: `{field}` is missing (every field must be stated)"));
            }
            for purpose in rules.purpose_fields.keys() {
                if !rules.purposes.contains(purpose) {
                    return Err(format!(
                        "roles.{role}.purpose_fields.{purpose}: the role may not declare this purpose"
                    ));
                }
            }
            for purpose in Purpose::ALL {
                self.check_destinations(*role, *purpose)?;
            }
        }
        Ok(())
    }

    fn check_destinations(&self, role: Role, purpose: Purpose) -> Result<(), String> {
        for field in [PartyField::Phones, PartyField::Emails] {
            if self.visibility(role, purpose, field) != Visibility::Clear {
                continue;
            }
            if role.makes_contacts() {
                return Err(format!("roles.{role}: `{field}` may not be clear for a contact-making role; clear destinations come only with an allowed contact decision"));
            }
            if !matches!(purpose, Purpose::Dsr | Purpose::ComplianceReview) {
                return Err(format!(
                    "roles.{role}: `{field}` may be clear only for purposes dsr and compliance_review, not `{purpose}`"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policy_loads() {
        let policy = AccessPolicy::default_policy().unwrap();
        assert!(policy.may_declare(Role::Agent, Purpose::Collection));
        assert!(!policy.may_declare(Role::Agent, Purpose::Dsr));
        assert_eq!(
            policy.visibility(Role::Compliance, Purpose::ComplianceReview, PartyField::Phones),
            Visibility::Clear
        );
        assert_eq!(policy.visibility(Role::Compliance, Purpose::Support, PartyField::Phones), Visibility::Masked);
    }

    #[test]
    fn contact_roles_never_see_clear_destinations_under_the_shipped_policy() {
        let policy = AccessPolicy::default_policy().unwrap();
        for role in [Role::Agent, Role::Dialer] {
            for purpose in Purpose::ALL {
                for field in [PartyField::Phones, PartyField::Emails] {
                    assert_ne!(policy.visibility(role, *purpose, field), Visibility::Clear);
                }
            }
        }
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let text = DEFAULT_ACCESS_POLICY.replace("[roles.dialer]\n", "[roles.dialer]\ncolour = \"red\"\n");
        let err = AccessPolicy::parse("access.toml", &text).unwrap_err().to_string();
        assert!(err.contains("access.toml") && err.contains("colour") && err.contains("line"), "{err}");
    }

    #[test]
    fn clear_phones_for_the_dialer_are_refused() {
        let text = DEFAULT_ACCESS_POLICY.replace(
            "national_id = \"none\", phones = \"masked\", emails = \"none\"",
            "national_id = \"none\", phones = \"clear\", emails = \"none\"",
        );
        let err = AccessPolicy::parse("access.toml", &text).unwrap_err().to_string();
        assert!(err.contains("roles.dialer") && err.contains("phones"), "{err}");
    }

    #[test]
    fn clear_emails_for_support_are_refused() {
        let text = DEFAULT_ACCESS_POLICY.replacen(
            "[roles.admin.purpose_fields.dsr]",
            "[roles.admin.purpose_fields.support]",
            1,
        );
        let err = AccessPolicy::parse("access.toml", &text).unwrap_err().to_string();
        assert!(err.contains("support"), "{err}");
    }

    #[test]
    fn a_missing_field_is_refused() {
        let text =
            DEFAULT_ACCESS_POLICY.replace(", date_of_birth = \"masked\" }\n\n[roles.ingest]", " }\n\n[roles.ingest]");
        let err = AccessPolicy::parse("access.toml", &text).unwrap_err().to_string();
        assert!(err.contains("date_of_birth"), "{err}");
    }
}
