//! The one source of time for the whole gateway.
//!
//! Every decision that depends on "now" (contact windows, deadlines, audit time) asks a
//! [`Clock`], never the system directly, so that demos and tests can run at any instant
//! (a Sunday, a festivo) while time still advances in real time. A simulated clock is a
//! fixed offset from the system clock; whether it is allowed is decided at start-up.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use std::sync::Arc;

/// Shared handle to the gateway's clock.
#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<ClockKind>,
}

#[derive(Debug)]
enum ClockKind {
    System,
    /// Starts at a chosen instant and advances with the system clock.
    Simulated {
        offset: Duration,
    },
}

impl Clock {
    pub fn system() -> Self {
        Self { inner: Arc::new(ClockKind::System) }
    }

    /// A clock that reads `start` now and then advances in real time.
    pub fn simulated_from(start: DateTime<FixedOffset>) -> Self {
        let offset = start.with_timezone(&Utc) - Utc::now();
        Self { inner: Arc::new(ClockKind::Simulated { offset }) }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match *self.inner {
            ClockKind::System => Utc::now(),
            ClockKind::Simulated { offset } => Utc::now() + offset,
        }
    }

    /// True when responses must warn that time is simulated.
    pub fn is_simulated(&self) -> bool {
        matches!(*self.inner, ClockKind::Simulated { .. })
    }
}

/// Parses an RFC 3339 instant with its offset, e.g. `2027-03-23T10:00:00-05:00`.
pub fn parse_instant(text: &str) -> Result<DateTime<FixedOffset>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text)
}

/// Fixed-width UTC text (microseconds, `Z`), sortable as a string in both databases.
pub fn to_db_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// An RFC 3339 instant as the database's time text (for comparing with stored times).
pub fn db_time_of(text: &str) -> Result<String, chrono::ParseError> {
    parse_instant(text).map(|t| to_db_time(t.with_timezone(&Utc)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_simulated_clock_starts_at_the_given_instant_and_advances() {
        let start = parse_instant("2027-03-21T10:00:00-05:00").unwrap();
        let clock = Clock::simulated_from(start);
        let first = clock.now();
        assert!((first - start.with_timezone(&Utc)).num_seconds().abs() < 2);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(clock.now() > first);
        assert!(clock.is_simulated());
        assert!(!Clock::system().is_simulated());
    }

    #[test]
    fn database_time_sorts_as_text() {
        let a = parse_instant("2027-01-02T03:04:05Z").unwrap().with_timezone(&Utc);
        let b = a + Duration::microseconds(1);
        assert!(to_db_time(a) < to_db_time(b));
        assert_eq!(to_db_time(a), "2027-01-02T03:04:05.000000Z");
    }
}
