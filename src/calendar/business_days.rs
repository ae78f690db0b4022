//! Business-day (día hábil) arithmetic over one calendar.
//!
//! A business day is Monday to Friday and not a holiday of the calendar (regulations.md
//! §2.4: "Mon–Fri, excluding these holidays"; LFT art. 74 for Mexico; 5 U.S.C. 6103 for
//! the US). Each year's holidays are computed once per [`BusinessDays`] value, so a long
//! count stays cheap. Reaching a year outside 1990–2100 is an error, never a guess.

use super::{Calendar, CalendarError};
use chrono::{Datelike, NaiveDate, Weekday};
use std::collections::{BTreeMap, BTreeSet};

/// Business-day arithmetic on one calendar, caching each year's holidays.
#[derive(Debug)]
pub struct BusinessDays<'c> {
    calendar: &'c Calendar,
    years: BTreeMap<i32, BTreeSet<NaiveDate>>,
}

impl<'c> BusinessDays<'c> {
    pub fn new(calendar: &'c Calendar) -> Self {
        Self { calendar, years: BTreeMap::new() }
    }

    /// Monday–Friday and not a holiday.
    pub fn is_business_day(&mut self, date: NaiveDate) -> Result<bool, CalendarError> {
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            return Ok(false);
        }
        let year = date.year();
        if !self.years.contains_key(&year) {
            let dates = self.calendar.holiday_dates(year)?;
            self.years.insert(year, dates);
        }
        Ok(!self.years.get(&year).is_some_and(|dates| dates.contains(&date)))
    }

    /// The `n`-th business day strictly after `date`; `date` itself when `n` is 0.
    pub fn add(&mut self, date: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut current = date;
        let mut counted = 0;
        while counted < n {
            current = next_day(current)?;
            if self.is_business_day(current)? {
                counted += 1;
            }
        }
        Ok(current)
    }

    /// The first business day on or after `date`.
    pub fn on_or_after(&mut self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let mut current = date;
        while !self.is_business_day(current)? {
            current = next_day(current)?;
        }
        Ok(current)
    }

    /// Business days in `(from, to]`; negative when `to` is before `from`.
    pub fn between(&mut self, from: NaiveDate, to: NaiveDate) -> Result<i64, CalendarError> {
        if to < from {
            return Ok(-self.between(to, from)?);
        }
        let mut count = 0;
        let mut current = from;
        while current < to {
            current = next_day(current)?;
            if self.is_business_day(current)? {
                count += 1;
            }
        }
        Ok(count)
    }
}

fn next_day(date: NaiveDate) -> Result<NaiveDate, CalendarError> {
    date.succ_opt().ok_or(CalendarError::OutsideRange { year: date.year() })
}
