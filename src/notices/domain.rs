//! Privacy notices and "notice served" events: wire shapes, validation, and the
//! canonical encodings their hashes cover. Pure; no SQL, no HTTP.
//!
//! Content hash of a notice version (v1, primitives of [`crate::consent::encoding`]):
//! ```text
//! u8 1, str "custodia.privacy_notice", str tenant, str name, u64 version,
//! str language, str title, str text,
//! list<str> purposes, list<str> channels   (each sorted by wire name, no repeats)
//! ```
//! Notice served event (v1):
//! ```text
//! u8 1, str "custodia.notice_served", str tenant, str party_id, str event_id, u64 seq,
//! hash notice_hash, opt<str> channel, str method, str served_at, str served_by,
//! str source_reference, str recorded_at, opt<str> recorded_by
//! ```

use crate::audit::merkle::Hash;
use crate::consent::domain::{BadInput, Channel, ConsentPurpose, Method};
use crate::consent::encoding::{sha256, Encoder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const NOTICE_TAG: &str = "custodia.privacy_notice";
pub const SERVED_TAG: &str = "custodia.notice_served";
/// Largest notice text, in bytes.
pub const MAX_TEXT_BYTES: usize = 65_536;

/// Body of `POST /v1/notices`: a new draft version of the notice called `name`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeInput {
    /// Which notice this is a version of: 1-64 of `[a-z0-9-]`, e.g. `autorizacion-cobranza`.
    pub name: String,
    /// BCP 47 language tag: `es`, `es-CO`, `en`.
    pub language: String,
    pub title: String,
    /// The exact text shown to the titular.
    pub text: String,
    /// The consent purposes this text asks authorization for.
    pub purposes: Vec<ConsentPurpose>,
    /// The channels it names (for the contact purposes collection and marketing).
    #[serde(default)]
    pub channels: Vec<Channel>,
}

/// Body of `PATCH /v1/notices/{id}`: only a draft changes; each given field replaces.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticePatch {
    pub language: Option<String>,
    pub title: Option<String>,
    pub text: Option<String>,
    pub purposes: Option<Vec<ConsentPurpose>>,
    pub channels: Option<Vec<Channel>>,
}

/// The hashed content of one notice version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeContent {
    pub tenant: String,
    pub name: String,
    pub version: u64,
    pub language: String,
    pub title: String,
    pub text: String,
    /// Sorted by wire name, no repeats.
    pub purposes: Vec<ConsentPurpose>,
    /// Sorted by wire name, no repeats.
    pub channels: Vec<Channel>,
}

impl NoticeContent {
    pub fn encode(&self) -> Vec<u8> {
        Encoder::new(1, NOTICE_TAG)
            .str(&self.tenant)
            .str(&self.name)
            .u64(self.version)
            .str(&self.language)
            .str(&self.title)
            .str(&self.text)
            .list_str(self.purposes.iter().map(|p| p.as_str()))
            .list_str(self.channels.iter().map(|c| c.as_str()))
            .finish()
    }

    pub fn content_hash(&self) -> Hash {
        sha256(&self.encode())
    }

    /// True when a consent for `purpose` (and `channel`, if any) may cite this notice.
    pub fn covers(&self, purpose: ConsentPurpose, channel: Option<Channel>) -> bool {
        self.purposes.contains(&purpose) && channel.is_none_or(|c| self.channels.contains(&c))
    }
}

/// The text fields of a notice, validated (shared by create and patch).
pub struct NoticeText {
    pub language: String,
    pub title: String,
    pub text: String,
    pub purposes: Vec<ConsentPurpose>,
    pub channels: Vec<Channel>,
}

impl NoticeText {
    pub fn validate(self) -> Result<Self, BadInput> {
        let language = language(&self.language)?;
        let title_ok = (1..=200).contains(&self.title.chars().count()) && !self.title.chars().any(char::is_control);
        if !title_ok {
            return Err(BadInput::new("invalid_title", "title", "1-200 characters, no control characters"));
        }
        let text_ok = !self.text.trim().is_empty()
            && self.text.len() <= MAX_TEXT_BYTES
            && !self.text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
        if !text_ok {
            return Err(BadInput::new(
                "invalid_notice_text",
                "text",
                format!("1-{MAX_TEXT_BYTES} bytes of text; no control characters but newlines and tabs"),
            ));
        }
        let purposes = sorted(self.purposes, |p| p.as_str());
        let channels = sorted(self.channels, |c| c.as_str());
        if purposes.is_empty() {
            return Err(BadInput::new("purposes_required", "purposes", "a notice asks for at least one purpose"));
        }
        if !channels.is_empty() && !purposes.iter().any(|p| p.is_contact()) {
            return Err(BadInput::new(
                "channel_not_applicable",
                "channels",
                "channels apply only to the contact purposes collection and marketing",
            ));
        }
        Ok(Self { language, title: self.title, text: self.text, purposes, channels })
    }
}

fn sorted<T: Copy>(mut items: Vec<T>, key: impl Fn(&T) -> &'static str) -> Vec<T> {
    items.sort_by_key(|i| key(i));
    items.dedup_by_key(|i| key(i));
    items
}

/// A notice name: 1-64 of `[a-z0-9-]`, not starting with `-`.
pub fn notice_name(text: &str) -> Result<String, BadInput> {
    let ok = (1..=64).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-');
    ok.then(|| text.to_string()).ok_or_else(|| BadInput::new("invalid_notice_name", "name", "1-64 of a-z, 0-9, '-'"))
}

/// `ll`, `lll`, or either with `-RR` (region in capitals).
fn language(text: &str) -> Result<String, BadInput> {
    let (lang, region) = match text.split_once('-') {
        Some((l, r)) => (l, Some(r)),
        None => (text, None),
    };
    let ok = (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()));
    ok.then(|| text.to_string())
        .ok_or_else(|| BadInput::new("invalid_language", "language", "a language tag such as es, es-CO or en"))
}

/// Body of `POST /v1/parties/{id}/served-notices`: a notice was shown to the party.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServedInput {
    /// Content hash (hex) of the published notice shown.
    pub notice_hash: String,
    /// The channel it was shown on, if a contact channel (read in a call: `voice_call`).
    pub channel: Option<Channel>,
    pub method: Method,
    /// RFC 3339; not in the future.
    pub served_at: String,
    /// Opaque id of who or what showed it.
    pub served_by: String,
    /// Opaque reference in the serving system.
    pub source_reference: String,
}

/// One "notice served" event as stored. Never updated, never deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeServed {
    pub id: String,
    pub tenant: String,
    pub party: String,
    pub seq: u64,
    pub notice_hash: Hash,
    pub channel: Option<Channel>,
    pub method: Method,
    pub served_at: String,
    pub served_by: String,
    pub source_reference: String,
    pub recorded_at: String,
    pub recorded_by: Option<String>,
}

impl NoticeServed {
    pub fn encode(&self) -> Vec<u8> {
        Encoder::new(1, SERVED_TAG)
            .str(&self.tenant)
            .str(&self.party)
            .str(&self.id)
            .u64(self.seq)
            .hash(&self.notice_hash)
            .opt_str(self.channel.map(Channel::as_str))
            .str(self.method.as_str())
            .str(&self.served_at)
            .str(&self.served_by)
            .str(&self.source_reference)
            .str(&self.recorded_at)
            .opt_str(self.recorded_by.as_deref())
            .finish()
    }

    pub fn sha256(&self) -> Hash {
        sha256(&self.encode())
    }

    pub fn to_json(&self) -> NoticeServedJson {
        NoticeServedJson {
            id: self.id.clone(),
            tenant: self.tenant.clone(),
            party_id: self.party.clone(),
            seq: self.seq,
            notice_hash: hex::encode(self.notice_hash),
            channel: self.channel,
            method: self.method,
            served_at: self.served_at.clone(),
            served_by: self.served_by.clone(),
            source_reference: self.source_reference.clone(),
            recorded_at: self.recorded_at.clone(),
            recorded_by: self.recorded_by.clone(),
            sha256: hex::encode(self.sha256()),
        }
    }
}

/// A served event as JSON; `sha256` is the hex SHA-256 of its canonical encoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeServedJson {
    pub id: String,
    pub tenant: String,
    pub party_id: String,
    pub seq: u64,
    pub notice_hash: String,
    pub channel: Option<Channel>,
    pub method: Method,
    pub served_at: String,
    pub served_by: String,
    pub source_reference: String,
    pub recorded_at: String,
    pub recorded_by: Option<String>,
    pub sha256: String,
}

impl NoticeServedJson {
    pub fn to_event(&self) -> Result<NoticeServed, String> {
        Ok(NoticeServed {
            id: self.id.clone(),
            tenant: self.tenant.clone(),
            party: self.party_id.clone(),
            seq: self.seq,
            notice_hash: crate::consent::domain::hash(&self.notice_hash, "notice_hash").map_err(|e| e.to_string())?,
            channel: self.channel,
            method: self.method,
            served_at: self.served_at.clone(),
            served_by: self.served_by.clone(),
            source_reference: self.source_reference.clone(),
            recorded_at: self.recorded_at.clone(),
            recorded_by: self.recorded_by.clone(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    pub(crate) fn vector() -> NoticeContent {
        NoticeContent {
            tenant: "acme".into(),
            name: "autorizacion-cobranza".into(),
            version: 2,
            language: "es-CO".into(),
            title: "Autorización de tratamiento".into(),
            text: "Autorizo a ACME S.A.S. a tratar mis datos\npara la gestión de cobranza.".into(),
            purposes: vec![ConsentPurpose::Collection, ConsentPurpose::DataProcessing],
            channels: vec![Channel::Email, Channel::Sms],
        }
    }

    #[test]
    fn the_notice_hash_matches_its_fixed_test_vector() {
        assert_eq!(hex::encode(vector().content_hash()), NOTICE_VECTOR_SHA256);
    }

    const NOTICE_VECTOR_SHA256: &str = "1e2b3bc3ae114fc1824129e3884c9ccc91aeb7900341b43789a160972aa4a5f4";

    #[test]
    fn purposes_and_channels_are_sorted_by_wire_name_and_deduplicated() {
        let text = NoticeText {
            language: "es-CO".into(),
            title: "t".into(),
            text: "x".into(),
            purposes: vec![ConsentPurpose::Marketing, ConsentPurpose::Collection, ConsentPurpose::Marketing],
            channels: vec![Channel::VoiceCall, Channel::AppPush, Channel::Email],
        }
        .validate()
        .unwrap();
        assert_eq!(text.purposes, vec![ConsentPurpose::Collection, ConsentPurpose::Marketing]);
        assert_eq!(text.channels, vec![Channel::AppPush, Channel::Email, Channel::VoiceCall]);
    }

    #[test]
    fn bad_notice_text_is_refused_with_a_stable_code() {
        let base = || NoticeText {
            language: "es".into(),
            title: "t".into(),
            text: "x".into(),
            purposes: vec![ConsentPurpose::Collection],
            channels: vec![],
        };
        type Edit = Box<dyn Fn(&mut NoticeText)>;
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|t| t.language = "spanish".into()), "invalid_language"),
            (Box::new(|t| t.language = "es-co".into()), "invalid_language"),
            (Box::new(|t| t.title = String::new()), "invalid_title"),
            (Box::new(|t| t.text = "  \n".into()), "invalid_notice_text"),
            (Box::new(|t| t.text = "a\u{0}b".into()), "invalid_notice_text"),
            (Box::new(|t| t.text = "a".repeat(MAX_TEXT_BYTES + 1)), "invalid_notice_text"),
            (Box::new(|t| t.purposes.clear()), "purposes_required"),
            (
                Box::new(|t| {
                    t.purposes = vec![ConsentPurpose::DataProcessing];
                    t.channels = vec![Channel::Sms];
                }),
                "channel_not_applicable",
            ),
        ];
        for (i, (edit, code)) in cases.iter().enumerate() {
            let mut text = base();
            edit(&mut text);
            assert_eq!(text.validate().err().map(|e| e.code), Some(*code), "case {i}");
        }
        assert!(notice_name("autorizacion-2026").is_ok());
        assert!(notice_name("-x").is_err() && notice_name("Aviso").is_err());
    }

    #[test]
    fn coverage_needs_the_purpose_and_the_channel_when_there_is_one() {
        let notice = vector();
        assert!(notice.covers(ConsentPurpose::Collection, Some(Channel::Sms)));
        assert!(notice.covers(ConsentPurpose::DataProcessing, None));
        assert!(!notice.covers(ConsentPurpose::Collection, Some(Channel::Whatsapp)));
        assert!(!notice.covers(ConsentPurpose::Marketing, None));
    }

    #[test]
    fn the_served_event_hash_covers_every_field() {
        let served = NoticeServed {
            id: "e1".into(),
            tenant: "acme".into(),
            party: "p".into(),
            seq: 1,
            notice_hash: vector().content_hash(),
            channel: Some(Channel::VoiceCall),
            method: Method::RecordedCall,
            served_at: "2026-02-01T15:00:00.000000Z".into(),
            served_by: "agent-17".into(),
            source_reference: "CALL-1".into(),
            recorded_at: "2026-02-01T15:00:01.000000Z".into(),
            recorded_by: None,
        };
        let base = served.sha256();
        let mut other = served.clone();
        other.channel = None;
        assert_ne!(other.sha256(), base);
        let json = served.to_json();
        assert_eq!(json.to_event().unwrap(), served);
    }
}
