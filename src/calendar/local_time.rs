//! Instants and local days in a tenant's time zone.
//!
//! The legal day of an event is the local date where the tenant operates (a request at
//! 23:00 on a Friday in Bogotá is a Friday request, though it is Saturday in UTC), and a
//! term ends at the end of its last local day. Time-zone gaps and overlaps are resolved to
//! the earliest real instant, so no local day is ever skipped.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The tenant-local calendar date of `at`.
pub(crate) fn local_date(at: DateTime<Utc>, tz: Tz) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// The earliest instant at or after local `date` `time` (a gap moves it forward).
pub(crate) fn local_instant(date: NaiveDate, time: NaiveTime, tz: Tz) -> Option<DateTime<Utc>> {
    // A gap is at most a few hours; stepping 15 minutes for a day covers every zone.
    (0..=96).find_map(|step| {
        let local = date.and_time(time).checked_add_signed(Duration::minutes(15 * step))?;
        tz.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc))
    })
}

/// The last second of local `date`: one second before the next local day starts.
pub(crate) fn end_of_day(date: NaiveDate, tz: Tz) -> Option<DateTime<Utc>> {
    let next_start = local_instant(date.succ_opt()?, NaiveTime::MIN, tz)?;
    next_start.checked_sub_signed(Duration::seconds(1))
}
