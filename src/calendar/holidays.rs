//! A jurisdiction's holiday list for a year, from its rules and overrides.
//!
//! Listing convention: one entry per holiday, in date order; two holidays on one date
//! (Colombia's Sagrado Corazón and San Pedro y San Pablo on 30 Jun 2025) are two entries
//! with the same date, in the order the data file lists the rules. A US holiday falling on
//! a weekend appears on its legal date and again, named "… (observed)", on the weekday it
//! is observed; each entry goes in the list of the year its date falls in.
//! The built-in calendars are the files under `policies/calendars/`, compiled in and
//! validated once on first use.

use super::rules::{self, CalendarData, Occurrence, OverrideAction, Rule};
use super::{check_year, CalendarError, Jurisdiction};
use chrono::{Datelike, NaiveDate};
use std::collections::BTreeSet;
use std::sync::OnceLock;

const CO_TEXT: &str = include_str!("../../policies/calendars/co.toml");
const MX_TEXT: &str = include_str!("../../policies/calendars/mx.toml");
const US_TEXT: &str = include_str!("../../policies/calendars/us.toml");

/// One public holiday on one date.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name: String,
    /// The legal citation of the rule or override that made it.
    pub source: String,
}

/// A validated holiday calendar for one jurisdiction.
#[derive(Clone, Debug)]
pub struct Calendar {
    data: CalendarData,
}

impl Calendar {
    /// Parses and validates calendar text (the `policies/calendars/*.toml` format); `file`
    /// names it in errors. Every `remove` override must match a holiday a rule produces.
    pub fn parse(file: &str, text: &str) -> Result<Self, CalendarError> {
        let calendar = Self { data: rules::parse(file, text)? };
        calendar.check_overrides().map_err(|message| CalendarError::Data { file: file.to_string(), message })?;
        Ok(calendar)
    }

    /// The calendar compiled into the binary for `jurisdiction`.
    pub fn builtin(jurisdiction: Jurisdiction) -> Result<&'static Calendar, CalendarError> {
        static BUILTIN: OnceLock<Result<Vec<Calendar>, CalendarError>> = OnceLock::new();
        let all = BUILTIN.get_or_init(load_builtin).as_ref().map_err(Clone::clone)?;
        all.iter().find(|c| c.jurisdiction() == jurisdiction).ok_or_else(|| CalendarError::Data {
            file: "policies/calendars (built in)".to_string(),
            message: format!("no calendar for {jurisdiction}"),
        })
    }

    pub fn jurisdiction(&self) -> Jurisdiction {
        self.data.jurisdiction
    }

    /// The holidays dated in `year` (1990–2100), in date order.
    pub fn holidays(&self, year: i32) -> Result<Vec<Holiday>, CalendarError> {
        check_year(year)?;
        Ok(self.holidays_unchecked(year))
    }

    /// The distinct holiday dates of `year` (1990–2100), for business-day arithmetic.
    pub(crate) fn holiday_dates(&self, year: i32) -> Result<BTreeSet<NaiveDate>, CalendarError> {
        Ok(self.holidays(year)?.into_iter().map(|h| h.date).collect())
    }

    fn holidays_unchecked(&self, year: i32) -> Vec<Holiday> {
        let mut list = self.rule_holidays(year);
        for o in self.data.overrides.iter().filter(|o| o.date.year() == year) {
            match o.action {
                OverrideAction::Remove => list.retain(|h| !(h.date == o.date && h.name == o.name)),
                OverrideAction::Add => {
                    list.push(Holiday { date: o.date, name: o.name.clone(), source: o.source.clone() })
                }
            }
        }
        // Stable: same-date holidays keep the data file's order.
        list.sort_by_key(|h| h.date);
        list
    }

    /// What the rules alone give for dates in `year`. Rules are evaluated for the years
    /// around it too, because an observance can cross New Year (1 Jan on a Saturday).
    fn rule_holidays(&self, year: i32) -> Vec<Holiday> {
        let mut list = Vec::new();
        for rule in &self.data.rules {
            for anchor_year in [year - 1, year, year + 1] {
                let dated_here = rule.occurrences(anchor_year).into_iter().filter(|o| o.date.year() == year);
                list.extend(dated_here.map(|o| holiday_of(rule, o)));
            }
        }
        list.sort_by_key(|h| h.date);
        list
    }

    fn check_overrides(&self) -> Result<(), String> {
        for o in &self.data.overrides {
            let produced = self.rule_holidays(o.date.year());
            let exists = produced.iter().any(|h| h.date == o.date && h.name == o.name);
            match o.action {
                OverrideAction::Remove if !exists => {
                    return Err(format!("override removes `{}` on {}, but no rule gives it then", o.name, o.date));
                }
                OverrideAction::Add if exists => {
                    return Err(format!("override adds `{}` on {}, but a rule already gives it", o.name, o.date));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn holiday_of(rule: &Rule, occurrence: Occurrence) -> Holiday {
    let name = if occurrence.observed { format!("{} (observed)", rule.name) } else { rule.name.clone() };
    Holiday { date: occurrence.date, name, source: rule.source.clone() }
}

fn load_builtin() -> Result<Vec<Calendar>, CalendarError> {
    let files = [
        (Jurisdiction::CO, "policies/calendars/co.toml (built in)", CO_TEXT),
        (Jurisdiction::MX, "policies/calendars/mx.toml (built in)", MX_TEXT),
        (Jurisdiction::US, "policies/calendars/us.toml (built in)", US_TEXT),
    ];
    files
        .into_iter()
        .map(|(expected, file, text)| {
            let calendar = Calendar::parse(file, text)?;
            if calendar.jurisdiction() != expected {
                return Err(CalendarError::Data {
                    file: file.to_string(),
                    message: format!("declares jurisdiction {}, expected {expected}", calendar.jurisdiction()),
                });
            }
            Ok(calendar)
        })
        .collect()
}
