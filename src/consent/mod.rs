//! The consent ledger: per party, append-only grant and revoke events with their evidence
//! (Ley 1581 / Decreto 1377 arts. 7–9, Ley 2300 arts. 2, 3 parágrafo and 6, GDPR art. 7),
//! the current state derived from them, and the signed proof package (prueba de la
//! autorización, Decreto 1377 art. 8).
//!
//! Scope model ([`scope::ConsentScope`]): an event is about a `kind` (`authorization`,
//! `special_hours`, `visit`), a purpose, optionally a channel, optionally one destination
//! (the party's phone or e-mail *element id*, never the value) and, for visits, one
//! obligation. A purpose-level authorization and each channel-level one are separate
//! scopes. The current state of a scope is its latest event ([`state::current`]); how
//! scopes combine for a contact is [`state::permits`].
//!
//! Rules every write follows ([`ledger::record_in`]): the caller holds the party lock;
//! a grant cites a published notice of the tenant covering its purpose and channel, and
//! captured no earlier than it was published; evidence is never from the future (gateway
//! clock) nor older than the scope's latest event; artefacts are dated after the contract;
//! revoking `data_processing` or `collection` is refused while [`duty::duties_to_remain`]
//! finds a duty; each event's SHA-256 ([`event`]) goes into its audit record.
//!
//! What part C (data-subject requests) calls: [`revoke_in`], [`state_and_history`],
//! [`proof::build`].

/// A wire enum: snake_case names shared by serde, the database and the encodings.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = ();
            fn from_str(text: &str) -> Result<Self, ()> {
                match text { $($text => Ok($name::$variant),)+ _ => Err(()) }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}
pub(crate) use wire_enum;

pub mod domain;
pub mod duty;
pub mod encoding;
pub mod event;
pub mod http;
pub mod ledger;
pub mod parse;
pub mod proof;
pub mod scope;
pub mod state;
pub mod store;
pub mod wire;

pub use domain::{Channel, ConsentAction, ConsentKind, ConsentPurpose, ConsentScope, Evidence, Method};
pub use event::ConsentEvent;
pub use ledger::{record_in, revoke_in, state_and_history, ConsentError, ConsentHistory};
pub use state::ScopeState;
