//! The exact CLI output of `custodia calendar holidays` and `add-business-days`.

use super::d;
use crate::calendar::{add_business_days_report, holidays_report, Jurisdiction};

#[test]
fn holidays_text_is_one_tab_separated_line_per_holiday() {
    let text = holidays_report(Jurisdiction::CO, 2027, false).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 19);
    assert_eq!(lines[0], "2027-01-01\tAño Nuevo");
    assert_eq!(lines[18], "2027-12-25\tNavidad");
    assert!(text.ends_with('\n'));
}

#[test]
fn holidays_json_carries_date_name_and_source() {
    let text = holidays_report(Jurisdiction::CO, 2025, true).unwrap();
    assert_eq!(text.lines().count(), 1);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["jurisdiction"], "CO");
    assert_eq!(json["year"], 2025);
    let list = json["holidays"].as_array().unwrap();
    assert_eq!(list.len(), 18);
    assert_eq!(list[8]["date"], "2025-06-30");
    assert_eq!(list[8]["name"], "Sagrado Corazón de Jesús");
    assert_eq!(list[9]["date"], "2025-06-30");
    assert_eq!(list[9]["source"], "Ley 51 de 1983, art. 1");
}

#[test]
fn add_business_days_text_and_json() {
    assert_eq!(add_business_days_report(Jurisdiction::CO, d(2027, 3, 19), 10, false).unwrap(), "2027-04-07\n");
    let json = add_business_days_report(Jurisdiction::CO, d(2027, 3, 19), 10, true).unwrap();
    assert_eq!(
        json,
        "{\"jurisdiction\":\"CO\",\"start\":\"2027-03-19\",\"business_days\":10,\"date\":\"2027-04-07\"}\n"
    );
}

#[test]
fn out_of_range_reports_fail_with_a_code() {
    assert_eq!(holidays_report(Jurisdiction::US, 1989, false).unwrap_err().code(), "outside_calendar_range");
    let err = add_business_days_report(Jurisdiction::MX, d(2100, 12, 1), 40, true).unwrap_err();
    assert_eq!(err.code(), "outside_calendar_range");
}
