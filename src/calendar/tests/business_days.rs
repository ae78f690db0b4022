//! Business-day arithmetic on hand-counted examples and at the edges of the range.

use super::d;
use crate::calendar::{add_business_days, business_days_between, is_business_day, CalendarError, Jurisdiction};

#[test]
fn ten_business_days_after_friday_19_march_2027_in_colombia() {
    // Skips Mon 22 (San José), Thu 25 and Fri 26 (Semana Santa): 23 24 29 30 31 1 2 5 6 7.
    assert_eq!(add_business_days(Jurisdiction::CO, d(2027, 3, 19), 10).unwrap(), d(2027, 4, 7));
    // Mexico only skips the weekend: 22 23 24 25 26 29 30 31 1 2.
    assert_eq!(add_business_days(Jurisdiction::MX, d(2027, 3, 19), 10).unwrap(), d(2027, 4, 2));
}

#[test]
fn counting_across_new_year() {
    // CO: 31 Dec 2026 Thu; 1 Jan holiday; 11 Jan Reyes: 4 5 6 7 8 12.
    assert_eq!(add_business_days(Jurisdiction::CO, d(2026, 12, 31), 6).unwrap(), d(2027, 1, 12));
    // US: 31 Dec 2021 is New Year's Day 2022 observed; 3 Jan 2022 is the next business day.
    assert_eq!(add_business_days(Jurisdiction::US, d(2021, 12, 30), 1).unwrap(), d(2022, 1, 3));
}

#[test]
fn zero_days_is_the_date_itself_even_on_a_holiday() {
    assert_eq!(add_business_days(Jurisdiction::CO, d(2027, 3, 22), 0).unwrap(), d(2027, 3, 22));
}

#[test]
fn weekends_and_holidays_are_not_business_days() {
    assert!(!is_business_day(Jurisdiction::CO, d(2027, 3, 20)).unwrap()); // Saturday
    assert!(!is_business_day(Jurisdiction::CO, d(2027, 3, 21)).unwrap()); // Sunday
    assert!(!is_business_day(Jurisdiction::CO, d(2027, 3, 22)).unwrap()); // San José
    assert!(is_business_day(Jurisdiction::CO, d(2027, 3, 23)).unwrap());
    assert!(is_business_day(Jurisdiction::CO, d(2026, 12, 24)).unwrap()); // 24 Dec is not a festivo
}

#[test]
fn business_days_between_counts_the_half_open_interval() {
    assert_eq!(business_days_between(Jurisdiction::CO, d(2027, 3, 19), d(2027, 4, 7)).unwrap(), 10);
    assert_eq!(business_days_between(Jurisdiction::CO, d(2027, 4, 7), d(2027, 3, 19)).unwrap(), -10);
    assert_eq!(business_days_between(Jurisdiction::CO, d(2027, 3, 19), d(2027, 3, 19)).unwrap(), 0);
    // (Fri 19, Mon 22]: Saturday, Sunday and San José.
    assert_eq!(business_days_between(Jurisdiction::CO, d(2027, 3, 19), d(2027, 3, 22)).unwrap(), 0);
}

#[test]
fn nothing_is_computed_outside_1990_to_2100() {
    let outside = |year| CalendarError::OutsideRange { year };
    assert_eq!(add_business_days(Jurisdiction::CO, d(2100, 12, 20), 15), Err(outside(2101)));
    assert_eq!(add_business_days(Jurisdiction::CO, d(1989, 12, 29), 1), Err(outside(1989)));
    assert_eq!(is_business_day(Jurisdiction::MX, d(2101, 1, 3)), Err(outside(2101)));
    assert_eq!(business_days_between(Jurisdiction::US, d(1989, 1, 3), d(1990, 1, 3)), Err(outside(1989)));
    assert_eq!(crate::calendar::holidays(Jurisdiction::CO, 2101), Err(outside(2101)));
    assert_eq!(add_business_days(Jurisdiction::CO, d(2100, 12, 30), 1).unwrap(), d(2100, 12, 31));
}
