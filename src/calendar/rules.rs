//! Holiday rules as data: the file format of `policies/calendars/*.toml`, its validation,
//! and what one rule yields in one year.
//!
//! A rule is a legal holiday as a law states it: an anchor (a fixed date, the n-th weekday
//! of a month, or an offset from Easter), an optional shift (Ley Emiliani's move to Monday,
//! the US weekend observance), the first and optionally last year it applies, optionally a
//! period in years (Mexico's transfer of executive power), and its legal source. Overrides
//! add or remove one dated holiday on top of the rules. Validation refuses anything
//! ambiguous, naming the file and the rule, so a bad data change never loads.

use super::{easter::easter_sunday, CalendarError, Jurisdiction};
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::Deserialize;

/// Where a rule puts the holiday before any shift.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// The same month and day every year.
    Fixed { month: u32, day: u32 },
    /// The `nth` `weekday` of `month`; `nth == -1` is the last one.
    NthWeekday { month: u32, weekday: Weekday, nth: i8 },
    /// Days from Easter Sunday.
    Easter { offset: i64 },
}

/// How the holiday moves from its anchor date.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Shift {
    /// Kept on its date.
    #[default]
    None,
    /// Moved to the following Monday unless it is a Monday (Ley 51 de 1983 art. 1).
    NextMonday,
    /// Kept on its date and, when that is a Saturday, also observed on the Friday before;
    /// when a Sunday, on the Monday after (5 U.S.C. 6103(b), Executive Order 11582).
    WeekendObserved,
}

/// One holiday rule, validated.
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    pub name: String,
    pub anchor: Anchor,
    pub shift: Shift,
    pub since: i32,
    pub until: Option<i32>,
    /// Period in years counted from `since` (1 = every year).
    pub every: i32,
    pub source: String,
}

/// A rule's result in one year: the holiday's date and whether it is an observance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Occurrence {
    pub date: NaiveDate,
    pub observed: bool,
}

impl Rule {
    /// Whether the rule is law in `year`.
    fn applies_in(&self, year: i32) -> bool {
        let started = year >= self.since;
        let not_ended = self.until.is_none_or(|until| year <= until);
        let on_period = (year - self.since).rem_euclid(self.every) == 0;
        started && not_ended && on_period
    }

    /// The dates the rule gives in `year` (the anchor's year; a shift may leave it).
    pub fn occurrences(&self, year: i32) -> Vec<Occurrence> {
        if !self.applies_in(year) {
            return Vec::new();
        }
        let Some(date) = self.anchor.date_in(year) else { return Vec::new() };
        match self.shift {
            Shift::None => vec![Occurrence { date, observed: false }],
            Shift::NextMonday => vec![Occurrence { date: next_monday(date), observed: false }],
            Shift::WeekendObserved => {
                let legal = Occurrence { date, observed: false };
                match weekend_observance(date) {
                    Some(observed) => vec![legal, Occurrence { date: observed, observed: true }],
                    None => vec![legal],
                }
            }
        }
    }
}

impl Anchor {
    fn date_in(&self, year: i32) -> Option<NaiveDate> {
        match *self {
            Anchor::Fixed { month, day } => NaiveDate::from_ymd_opt(year, month, day),
            Anchor::NthWeekday { month, weekday, nth } => nth_weekday(year, month, weekday, nth),
            Anchor::Easter { offset } => easter_sunday(year)?.checked_add_signed(Duration::days(offset)),
        }
    }
}

/// The `nth` `weekday` of the month, or the last one when `nth == -1`.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, nth: i8) -> Option<NaiveDate> {
    if nth == -1 {
        let next_month_first = match month {
            12 => NaiveDate::from_ymd_opt(year + 1, 1, 1)?,
            _ => NaiveDate::from_ymd_opt(year, month + 1, 1)?,
        };
        let last = next_month_first.pred_opt()?;
        let back = (7 + last.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
        return last.checked_sub_signed(Duration::days(i64::from(back)));
    }
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, u8::try_from(nth).ok()?)
}

/// The date itself when a Monday, else the following Monday (a Sunday moves one day).
fn next_monday(date: NaiveDate) -> NaiveDate {
    let ahead = (7 - date.weekday().num_days_from_monday()) % 7;
    date + Duration::days(i64::from(ahead))
}

/// Friday before a Saturday, Monday after a Sunday, nothing on a weekday.
fn weekend_observance(date: NaiveDate) -> Option<NaiveDate> {
    match date.weekday() {
        Weekday::Sat => date.pred_opt(),
        Weekday::Sun => date.succ_opt(),
        _ => None,
    }
}

/// Whether an override adds a holiday or removes one a rule produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OverrideAction {
    Add,
    Remove,
}

/// A dated exception on top of the rules (a decree, a one-off law, an election day).
#[derive(Clone, Debug)]
pub(crate) struct Override {
    pub date: NaiveDate,
    pub action: OverrideAction,
    pub name: String,
    pub source: String,
}

/// A calendar file, validated rule by rule (cross-checks of overrides against the rules
/// happen when the calendar is built).
#[derive(Clone, Debug)]
pub(crate) struct CalendarData {
    pub jurisdiction: Jurisdiction,
    pub rules: Vec<Rule>,
    pub overrides: Vec<Override>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    jurisdiction: Jurisdiction,
    rules: Vec<RuleFile>,
    #[serde(default)]
    overrides: Vec<OverrideFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    month: Option<u32>,
    day: Option<u32>,
    weekday: Option<WeekdayName>,
    nth: Option<i8>,
    easter_offset: Option<i64>,
    #[serde(default)]
    shift: Shift,
    every: Option<u32>,
    since: i32,
    until: Option<i32>,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideFile {
    date: String,
    action: OverrideAction,
    name: String,
    source: String,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WeekdayName {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl From<WeekdayName> for Weekday {
    fn from(name: WeekdayName) -> Self {
        match name {
            WeekdayName::Monday => Weekday::Mon,
            WeekdayName::Tuesday => Weekday::Tue,
            WeekdayName::Wednesday => Weekday::Wed,
            WeekdayName::Thursday => Weekday::Thu,
            WeekdayName::Friday => Weekday::Fri,
            WeekdayName::Saturday => Weekday::Sat,
            WeekdayName::Sunday => Weekday::Sun,
        }
    }
}

/// Parses and validates calendar text; `file` names it in errors.
pub(crate) fn parse(file: &str, text: &str) -> Result<CalendarData, CalendarError> {
    let data_error = |message: String| CalendarError::Data { file: file.to_string(), message };
    let parsed: CalendarFile = toml::from_str(text).map_err(|e| data_error(e.to_string()))?;
    let rules = parsed
        .rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| validate_rule(r).map_err(|m| format!("rule {}: {m}", i + 1)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(data_error)?;
    let overrides = parsed
        .overrides
        .into_iter()
        .enumerate()
        .map(|(i, o)| validate_override(o).map_err(|m| format!("override {}: {m}", i + 1)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(data_error)?;
    if rules.is_empty() {
        return Err(data_error("no rules: a calendar needs at least one holiday rule".to_string()));
    }
    Ok(CalendarData { jurisdiction: parsed.jurisdiction, rules, overrides })
}

fn validate_rule(r: RuleFile) -> Result<Rule, String> {
    let name = non_empty(&r.name, "name")?;
    let source = non_empty(&r.source, "source")?;
    let anchor = anchor_of(&r).map_err(|m| format!("`{name}`: {m}"))?;
    if let Some(until) = r.until.filter(|until| *until < r.since) {
        return Err(format!("`{name}`: until ({until}) is before since ({})", r.since));
    }
    let every = r.every.unwrap_or(1);
    let every = i32::try_from(every)
        .ok()
        .filter(|years| (1..=100).contains(years))
        .ok_or(format!("`{name}`: every must be 1..=100 years, got {every}"))?;
    Ok(Rule { name, anchor, shift: r.shift, since: r.since, until: r.until, every, source })
}

/// Exactly one of month+day, month+weekday+nth, or easter_offset.
fn anchor_of(r: &RuleFile) -> Result<Anchor, String> {
    match (r.month, r.day, r.weekday, r.nth, r.easter_offset) {
        (Some(month), Some(day), None, None, None) => {
            // A non-leap year, so that 29 February (which would vanish three years in four) is refused.
            NaiveDate::from_ymd_opt(2001, month, day).ok_or(format!("no date {month}-{day} in every year"))?;
            Ok(Anchor::Fixed { month, day })
        }
        (Some(month), None, Some(weekday), Some(nth), None) => {
            if !(1..=12).contains(&month) {
                return Err(format!("month must be 1..=12, got {month}"));
            }
            if !(nth == -1 || (1..=4).contains(&nth)) {
                return Err(format!("nth must be 1..=4 or -1 (last), got {nth}"));
            }
            Ok(Anchor::NthWeekday { month, weekday: weekday.into(), nth })
        }
        (None, None, None, None, Some(offset)) => {
            if !(-80..=200).contains(&offset) {
                return Err(format!("easter_offset must keep the holiday in Easter's year (-80..=200), got {offset}"));
            }
            Ok(Anchor::Easter { offset })
        }
        _ => Err("give exactly one of: month + day, month + weekday + nth, or easter_offset".to_string()),
    }
}

fn validate_override(o: OverrideFile) -> Result<Override, String> {
    let date = NaiveDate::parse_from_str(&o.date, "%Y-%m-%d")
        .map_err(|e| format!("date `{}` is not YYYY-MM-DD: {e}", o.date))?;
    let name = non_empty(&o.name, "name")?;
    let source = non_empty(&o.source, "source")?;
    Ok(Override { date, action: o.action, name, source })
}

fn non_empty(text: &str, field: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        Err(format!("{field} is empty"))
    } else {
        Ok(trimmed.to_string())
    }
}
