//! The calendar data format: what loads, what is refused, and that overrides and new
//! rules change the result as a one-line data change.

use super::d;
use crate::calendar::{BusinessDays, Calendar, CalendarError, Jurisdiction};

const HEAD: &str = "jurisdiction = \"CO\"\n";

fn parse(body: &str) -> Result<Calendar, CalendarError> {
    Calendar::parse("test.toml", &format!("{HEAD}{body}"))
}

fn error_of(body: &str) -> String {
    let err = parse(body).unwrap_err();
    assert_eq!(err.code(), "calendar_data");
    err.to_string()
}

#[test]
fn the_built_in_calendars_load() {
    for jurisdiction in Jurisdiction::ALL {
        assert_eq!(Calendar::builtin(jurisdiction).unwrap().jurisdiction(), jurisdiction);
    }
}

#[test]
fn a_new_law_is_one_more_line() {
    let before = r#"rules = [
  { name = "A", month = 1, day = 1, since = 1984, source = "L1" },
]"#;
    let after = r#"rules = [
  { name = "A", month = 1, day = 1, since = 1984, source = "L1" },
  { name = "B", month = 7, day = 9, shift = "next_monday", since = 2026, source = "L2" },
]"#;
    let (before, after) = (parse(before).unwrap(), parse(after).unwrap());
    assert_eq!(before.holidays(2027).unwrap().len(), 1);
    let listed = after.holidays(2027).unwrap();
    assert_eq!((listed[1].date, listed[1].name.as_str(), listed[1].source.as_str()), (d(2027, 7, 12), "B", "L2"));
    assert_eq!(after.holidays(2025).unwrap().len(), 1, "the rule starts in 2026");
}

#[test]
fn until_and_every_limit_the_years() {
    let body =
        "rules = [{ name = \"T\", month = 12, day = 1, every = 6, since = 1994, until = 2018, source = \"S\" }]\n";
    let calendar = parse(body).unwrap();
    assert_eq!(calendar.holidays(2000).unwrap().len(), 1);
    assert_eq!(calendar.holidays(2001).unwrap().len(), 0);
    assert_eq!(calendar.holidays(2024).unwrap().len(), 0);
}

#[test]
fn overrides_add_and_remove_dated_holidays() {
    let body = r#"rules = [{ name = "A", month = 3, day = 2, since = 1990, source = "L" }]
overrides = [
  { date = "2027-03-02", action = "remove", name = "A", source = "Decreto 1" },
  { date = "2027-03-03", action = "add", name = "A (trasladado)", source = "Decreto 1" },
]"#;
    let calendar = parse(body).unwrap();
    let listed = calendar.holidays(2027).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].date, listed[0].source.as_str()), (d(2027, 3, 3), "Decreto 1"));
    assert_eq!(calendar.holidays(2028).unwrap()[0].date, d(2028, 3, 2));
    let mut days = BusinessDays::new(&calendar);
    assert!(days.is_business_day(d(2027, 3, 2)).unwrap());
    assert!(!days.is_business_day(d(2027, 3, 3)).unwrap());
}

#[test]
fn bad_data_is_refused_with_the_file_and_rule_named() {
    let one = |rule: &str| format!("rules = [{{ name = \"X\", {rule}, source = \"S\" }}]\n");
    let cases = [
        (one("month = 1, day = 1, since = 1990, colour = \"red\""), "colour"),
        (one("month = 1, day = 1, easter_offset = 3, since = 1990"), "exactly one"),
        (one("month = 2, day = 29, since = 1990"), "every year"),
        (one("month = 2, weekday = \"monday\", nth = 5, since = 1990"), "nth"),
        (one("month = 1, day = 1, since = 2000, until = 1999"), "before since"),
        (one("easter_offset = 400, since = 1990"), "easter_offset"),
        (one("month = 1, day = 1, since = 1990, every = 0"), "every"),
        (one("month = 1, day = 1, since = 1990, shift = \"nearest_monday\""), "nearest_monday"),
        ("rules = []\n".to_string(), "no rules"),
    ];
    for (body, needle) in cases {
        let message = error_of(&body);
        assert!(message.starts_with("test.toml") && message.contains(needle), "{needle}: {message}");
    }
}

#[test]
fn overrides_must_match_the_rules() {
    let rule = "rules = [{ name = \"A\", month = 3, day = 2, since = 1990, source = \"L\" }]\n";
    let remove_missing =
        format!("{rule}overrides = [{{ date = \"2027-03-04\", action = \"remove\", name = \"A\", source = \"D\" }}]\n");
    assert!(error_of(&remove_missing).contains("no rule gives it"));
    let add_duplicate =
        format!("{rule}overrides = [{{ date = \"2027-03-02\", action = \"add\", name = \"A\", source = \"D\" }}]\n");
    assert!(error_of(&add_duplicate).contains("already gives it"));
    let bad_date =
        format!("{rule}overrides = [{{ date = \"2027-02-30\", action = \"add\", name = \"B\", source = \"D\" }}]\n");
    assert!(error_of(&bad_date).contains("YYYY-MM-DD"));
}

#[test]
fn unknown_jurisdiction_is_refused() {
    let err = Calendar::parse("x.toml", "jurisdiction = \"EU\"\nrules = []\n").unwrap_err();
    assert!(err.to_string().contains("EU"), "{err}");
    assert_eq!("eu".parse::<Jurisdiction>().unwrap_err().code(), "unknown_jurisdiction");
    assert_eq!(" co ".parse::<Jurisdiction>().unwrap(), Jurisdiction::CO);
}
