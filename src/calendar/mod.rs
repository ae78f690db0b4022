//! Legal calendars and the deadlines that count on them.
//!
//! Owns: the public holidays of Colombia (festivos, Ley 51 de 1983 and Ley 2578 de 2026),
//! Mexico (días de descanso obligatorio, LFT art. 74) and the United States (legal public
//! holidays, 5 U.S.C. 6103) for 1990–2100; business-day (día hábil) arithmetic on them;
//! and the response deadlines of data-subject requests (Ley 1581, Ley 1266, LFPDPPP ARCO,
//! GDPR) as pure functions. It does not store requests, read a clock or know tenants: the
//! caller passes the receipt instant and the tenant's time zone.
//!
//! Invariants:
//! - Holiday rules are data (`policies/calendars/*.toml`, compiled in), each with the year it
//!   starts and optionally ends, plus dated overrides; a change of law is a data change.
//! - A business day is Monday–Friday and not a listed holiday of the jurisdiction.
//! - Nothing is computed outside 1990–2100: such a date is an error, never a guess.
//! - A deadline's day is decided in the tenant's time zone, and it ends at the end of that
//!   local day.

mod business_days;
mod deadlines;
mod dsr;
mod easter;
mod holidays;
mod local_time;
mod report;
mod rules;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

pub use business_days::BusinessDays;
pub use deadlines::{arco_execution_deadline, incomplete_claim_withdrawal, response_deadline};
pub use dsr::{DayCount, Deadline, DeadlineError, Lapse, Regime, RequestKind};
pub use easter::easter_sunday;
pub use holidays::{Calendar, Holiday};
pub use report::{add_business_days_report, holidays_report};

use chrono::{Datelike, NaiveDate};
use std::fmt;
use std::str::FromStr;

/// First year the calendars answer for.
pub const FIRST_YEAR: i32 = 1990;
/// Last year the calendars answer for.
pub const LAST_YEAR: i32 = 2100;

/// A country whose legal calendar decides which days are business days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Jurisdiction {
    /// Colombia: festivos of Ley 51 de 1983 and Ley 2578 de 2026.
    CO,
    /// Mexico: days of mandatory rest of the Ley Federal del Trabajo, art. 74.
    MX,
    /// United States: legal public holidays of 5 U.S.C. 6103.
    US,
}

impl Jurisdiction {
    /// Every jurisdiction with a calendar.
    pub const ALL: [Jurisdiction; 3] = [Jurisdiction::CO, Jurisdiction::MX, Jurisdiction::US];

    /// The wire code, identical to the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CO => "CO",
            Self::MX => "MX",
            Self::US => "US",
        }
    }
}

impl FromStr for Jurisdiction {
    type Err = CalendarError;

    /// Parses the code, ignoring case and surrounding whitespace; anything else is refused,
    /// because the jurisdiction selects the law.
    fn from_str(text: &str) -> Result<Self, CalendarError> {
        Self::ALL
            .into_iter()
            .find(|j| j.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| CalendarError::UnknownJurisdiction(text.to_string()))
    }
}

impl fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What can go wrong when asking a calendar.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The date or a date the computation reaches is outside 1990–2100.
    #[error("year {year} is outside the supported calendar range {FIRST_YEAR}-{LAST_YEAR}")]
    OutsideRange { year: i32 },
    /// The jurisdiction code is not one with a calendar.
    #[error("unknown jurisdiction `{0}`: must be one of CO, MX, US")]
    UnknownJurisdiction(String),
    /// A calendar data file is malformed or contradicts itself.
    #[error("{file}: {message}")]
    Data { file: String, message: String },
    /// A report could not be serialized.
    #[error("cannot render the report: {0}")]
    Render(String),
}

impl CalendarError {
    /// Stable machine code for API clients and the CLI, which must not parse the message.
    pub fn code(&self) -> &'static str {
        match self {
            Self::OutsideRange { .. } => "outside_calendar_range",
            Self::UnknownJurisdiction(_) => "unknown_jurisdiction",
            Self::Data { .. } => "calendar_data",
            Self::Render(_) => "render",
        }
    }
}

/// Refuses a date outside 1990–2100.
pub(crate) fn check_in_range(date: NaiveDate) -> Result<(), CalendarError> {
    check_year(date.year())
}

/// Refuses a year outside 1990–2100.
pub(crate) fn check_year(year: i32) -> Result<(), CalendarError> {
    if (FIRST_YEAR..=LAST_YEAR).contains(&year) {
        Ok(())
    } else {
        Err(CalendarError::OutsideRange { year })
    }
}

/// The holidays of `jurisdiction` dated in `year`, in date order, one entry per holiday
/// (two holidays on one date are two entries).
pub fn holidays(jurisdiction: Jurisdiction, year: i32) -> Result<Vec<Holiday>, CalendarError> {
    Calendar::builtin(jurisdiction)?.holidays(year)
}

/// Whether `date` is a business day (día hábil): Monday–Friday and not a holiday. This is
/// the day unit of the Ley 1581/1266 and ARCO timers.
pub fn is_business_day(jurisdiction: Jurisdiction, date: NaiveDate) -> Result<bool, CalendarError> {
    check_in_range(date)?;
    BusinessDays::new(Calendar::builtin(jurisdiction)?).is_business_day(date)
}

/// The `n`-th business day after `date` (`date` itself when `n` is 0). `date` need not be a
/// business day: a term "of n business days from d" ends on `add_business_days(d, n)`.
pub fn add_business_days(jurisdiction: Jurisdiction, date: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
    check_in_range(date)?;
    BusinessDays::new(Calendar::builtin(jurisdiction)?).add(date, n)
}

/// Business days in `(from, to]`; negative when `to` is before `from`. It inverts
/// [`add_business_days`]: `business_days_between(d, add_business_days(d, n)) == n`.
pub fn business_days_between(jurisdiction: Jurisdiction, from: NaiveDate, to: NaiveDate) -> Result<i64, CalendarError> {
    check_in_range(from)?;
    check_in_range(to)?;
    BusinessDays::new(Calendar::builtin(jurisdiction)?).between(from, to)
}
