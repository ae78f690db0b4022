//! Data-subject request vocabulary: which law governs a request (regime), what the titular
//! asks for (kind), and the deadline the law sets (regulations.md §1.3).

use super::{CalendarError, Jurisdiction};
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use std::fmt;
use std::str::FromStr;

/// The law whose terms a data-subject request runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Regime {
    /// Colombia, general personal data: Ley 1581 de 2012, arts. 14–15.
    #[serde(rename = "co_1581")]
    Co1581,
    /// Colombia, financial/credit data (Habeas Data financiero): Ley 1266 de 2008, art. 16.
    #[serde(rename = "co_1266")]
    Co1266,
    /// Mexico, ARCO rights (LFPDPPP 2010 art. 32), counted in business days: the reading
    /// most privacy notices use ("días hábiles"; regulations.md §3.2 calls it unsettled).
    #[serde(rename = "mx_arco")]
    MxArco,
    /// Mexico, ARCO rights counted in calendar days, for tenants whose notice says so.
    #[serde(rename = "mx_arco_calendar_days")]
    MxArcoCalendarDays,
    /// European Union: GDPR art. 12(3)–(4), in months.
    #[serde(rename = "eu_gdpr")]
    EuGdpr,
}

impl Regime {
    pub const ALL: [Regime; 5] =
        [Regime::Co1581, Regime::Co1266, Regime::MxArco, Regime::MxArcoCalendarDays, Regime::EuGdpr];

    /// The Mexican ARCO regime with the tenant's choice of day count.
    pub fn mx_arco(days: DayCount) -> Self {
        match days {
            DayCount::Business => Regime::MxArco,
            DayCount::Calendar => Regime::MxArcoCalendarDays,
        }
    }

    /// The wire code, identical to the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            Regime::Co1581 => "co_1581",
            Regime::Co1266 => "co_1266",
            Regime::MxArco => "mx_arco",
            Regime::MxArcoCalendarDays => "mx_arco_calendar_days",
            Regime::EuGdpr => "eu_gdpr",
        }
    }

    /// The calendar whose business days the regime counts, if it counts business days.
    pub fn calendar(self) -> Option<Jurisdiction> {
        match self {
            Regime::Co1581 | Regime::Co1266 => Some(Jurisdiction::CO),
            Regime::MxArco => Some(Jurisdiction::MX),
            Regime::MxArcoCalendarDays | Regime::EuGdpr => None,
        }
    }
}

impl FromStr for Regime {
    type Err = DeadlineError;

    fn from_str(text: &str) -> Result<Self, DeadlineError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == text.trim())
            .ok_or_else(|| DeadlineError::UnknownCode { what: "regime", code: text.to_string() })
    }
}

impl fmt::Display for Regime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a Mexican ARCO term counts days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayCount {
    Business,
    Calendar,
}

/// What the titular asks for, in the glossary's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// Access request (consulta): L.1581 art. 14, L.1266 art. 16-I.
    Consulta,
    /// Claim to rectify, update or delete, or complaint about a breach of duties
    /// (reclamo): L.1581 art. 15, L.1266 art. 16-II.
    Reclamo,
    /// Erasure (supresión); in Colombia it goes through a reclamo (D.1377 art. 9).
    Supresion,
    /// Revocation of consent (revocación); in Colombia it goes through a reclamo
    /// (D.1377 art. 9).
    Revocacion,
    /// Request for proof of consent (prueba de la autorización, L.1581 art. 8(b)); answered
    /// as information about the titular's data, i.e. on consulta terms.
    PruebaAutorizacion,
}

impl RequestKind {
    pub const ALL: [RequestKind; 5] = [
        RequestKind::Consulta,
        RequestKind::Reclamo,
        RequestKind::Supresion,
        RequestKind::Revocacion,
        RequestKind::PruebaAutorizacion,
    ];

    /// The wire code, identical to the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Consulta => "consulta",
            RequestKind::Reclamo => "reclamo",
            RequestKind::Supresion => "supresion",
            RequestKind::Revocacion => "revocacion",
            RequestKind::PruebaAutorizacion => "prueba_autorizacion",
        }
    }

    /// Whether Colombian law runs this request on reclamo terms (15 + 8 business days from
    /// the day after receipt) rather than consulta terms.
    pub fn is_claim(self) -> bool {
        matches!(self, RequestKind::Reclamo | RequestKind::Supresion | RequestKind::Revocacion)
    }
}

impl FromStr for RequestKind {
    type Err = DeadlineError;

    fn from_str(text: &str) -> Result<Self, DeadlineError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == text.trim())
            .ok_or_else(|| DeadlineError::UnknownCode { what: "request kind", code: text.to_string() })
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the law says happens when a deadline passes without an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lapse {
    /// The controller is late; the titular may complain to the authority.
    Overdue,
    /// The request is treated as resolved in the titular's favour (L.1266 art. 16-II
    /// num. 8, as amended by Ley 2573 de 2026).
    DeemedGranted,
    /// The titular did not complete the claim in time: it is treated as withdrawn.
    DeemedWithdrawn,
}

/// A legal deadline: the last local day, the last second of it in UTC, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Deadline {
    /// The last day of the term, in the tenant's time zone.
    pub due_date: NaiveDate,
    /// 23:59:59 of `due_date` in the tenant's time zone: the last on-time second.
    pub due_at: DateTime<Utc>,
    /// The legal citation of the term.
    pub basis: &'static str,
    /// What happens if the term passes unanswered.
    pub on_lapse: Lapse,
}

impl Deadline {
    /// Whether something done at `at` meets the deadline (to the second).
    pub fn is_met_by(&self, at: DateTime<Utc>) -> bool {
        at.trunc_subsecs(0) <= self.due_at
    }
}

/// Why a deadline cannot be given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineError {
    /// The extension (prórroga / ampliación) was notified after the first term ended; the
    /// law allows it only with notice before that (L.1581 arts. 14–15, GDPR art. 12(3)).
    #[error("the extension was notified on {notified_on}, after the first term ended on {first_due}")]
    ExtensionTooLate { first_due: NaiveDate, notified_on: NaiveDate },
    /// The extension notice is dated before the request was received.
    #[error("the extension notice is dated before the request was received")]
    ExtensionBeforeReceipt,
    /// The regime has no such term (e.g. claim withdrawal outside Colombia).
    #[error("{regime} has no {what}")]
    NotApplicable { regime: Regime, what: &'static str },
    /// A regime or request kind code that does not exist.
    #[error("unknown {what} `{code}`")]
    UnknownCode { what: &'static str, code: String },
    /// The local end of the due day cannot be expressed (a time-zone gap spanning a day).
    #[error("the end of {date} cannot be expressed in the tenant's time zone")]
    UnrepresentableTime { date: NaiveDate },
    /// The count reached a date outside the calendars.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

impl DeadlineError {
    /// Stable machine code for API clients and the CLI, which must not parse the message.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ExtensionTooLate { .. } => "extension_too_late",
            Self::ExtensionBeforeReceipt => "extension_before_receipt",
            Self::NotApplicable { .. } => "not_applicable",
            Self::UnknownCode { .. } => "unknown_code",
            Self::UnrepresentableTime { .. } => "unrepresentable_time",
            Self::Calendar(e) => e.code(),
        }
    }
}
