//! The exact output of the `custodia calendar` subcommands, so the CLI only parses
//! arguments and prints: `holidays JUR YEAR` and `add-business-days JUR DATE N`, each as
//! text or (`--json`) one JSON object. Every text line ends with a newline.

use super::{add_business_days, holidays, CalendarError, Holiday, Jurisdiction};
use chrono::NaiveDate;
use serde::Serialize;

#[derive(Serialize)]
struct HolidaysJson<'a> {
    jurisdiction: Jurisdiction,
    year: i32,
    holidays: &'a [Holiday],
}

#[derive(Serialize)]
struct AddBusinessDaysJson {
    jurisdiction: Jurisdiction,
    start: NaiveDate,
    business_days: u32,
    date: NaiveDate,
}

/// `custodia calendar holidays JUR YEAR`: one `YYYY-MM-DD<TAB>name` line per holiday in
/// date order, or `{"jurisdiction","year","holidays":[{"date","name","source"}]}`.
pub fn holidays_report(jurisdiction: Jurisdiction, year: i32, json: bool) -> Result<String, CalendarError> {
    let list = holidays(jurisdiction, year)?;
    if json {
        return to_json_line(&HolidaysJson { jurisdiction, year, holidays: &list });
    }
    Ok(list.iter().map(|h| format!("{}\t{}\n", h.date.format("%Y-%m-%d"), h.name)).collect())
}

/// `custodia calendar add-business-days JUR DATE N`: the resulting `YYYY-MM-DD` line, or
/// `{"jurisdiction","start","business_days","date"}`.
pub fn add_business_days_report(
    jurisdiction: Jurisdiction,
    start: NaiveDate,
    n: u32,
    json: bool,
) -> Result<String, CalendarError> {
    let date = add_business_days(jurisdiction, start, n)?;
    if json {
        return to_json_line(&AddBusinessDaysJson { jurisdiction, start, business_days: n, date });
    }
    Ok(format!("{}\n", date.format("%Y-%m-%d")))
}

fn to_json_line<T: Serialize>(value: &T) -> Result<String, CalendarError> {
    let text = serde_json::to_string(value).map_err(|e| CalendarError::Render(e.to_string()))?;
    Ok(format!("{text}\n"))
}
