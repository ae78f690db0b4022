//! Tests of the calendar module. The expected holiday lists and deadlines are computed by
//! hand from the laws and a printed calendar, never from this code; the deadline table is
//! shared with the API tests through `tests/data/dsr_deadlines.csv`.

mod business_days;
mod colombia;
mod data_format;
mod deadlines;
mod dsr_table;
mod easter;
mod mexico;
mod properties;
mod reports;
mod us;

use super::{holidays_report, Jurisdiction};
use chrono::NaiveDate;

/// A date literal for tests.
fn d(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

/// Compares the text listing of a year with the hand-written one (tab-separated lines;
/// leading whitespace of each expected line is ignored).
fn assert_listing(jurisdiction: Jurisdiction, year: i32, expected: &str) {
    let expected: String =
        expected.lines().map(str::trim_start).filter(|l| !l.is_empty()).map(|l| format!("{l}\n")).collect();
    let actual = holidays_report(jurisdiction, year, false).unwrap();
    assert_eq!(actual, expected, "{jurisdiction} {year}:\n--- actual\n{actual}--- expected\n{expected}");
}
