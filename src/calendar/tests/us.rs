//! US legal public holidays (5 U.S.C. 6103) with weekend observances, against
//! hand-worked lists.

use super::{assert_listing, d};
use crate::calendar::{holidays, is_business_day, Jurisdiction};

#[test]
fn us_2020_before_juneteenth() {
    // 4 Jul 2020 was a Saturday: observed Friday 3 Jul.
    assert_listing(
        Jurisdiction::US,
        2020,
        "2020-01-01\tNew Year's Day
         2020-01-20\tBirthday of Martin Luther King, Jr.
         2020-02-17\tWashington's Birthday
         2020-05-25\tMemorial Day
         2020-07-03\tIndependence Day (observed)
         2020-07-04\tIndependence Day
         2020-09-07\tLabor Day
         2020-10-12\tColumbus Day
         2020-11-11\tVeterans Day
         2020-11-26\tThanksgiving Day
         2020-12-25\tChristmas Day",
    );
}

#[test]
fn us_2021_first_juneteenth_and_new_year_2022_observed_on_31_december() {
    assert_listing(
        Jurisdiction::US,
        2021,
        "2021-01-01\tNew Year's Day
         2021-01-18\tBirthday of Martin Luther King, Jr.
         2021-02-15\tWashington's Birthday
         2021-05-31\tMemorial Day
         2021-06-18\tJuneteenth National Independence Day (observed)
         2021-06-19\tJuneteenth National Independence Day
         2021-07-04\tIndependence Day
         2021-07-05\tIndependence Day (observed)
         2021-09-06\tLabor Day
         2021-10-11\tColumbus Day
         2021-11-11\tVeterans Day
         2021-11-25\tThanksgiving Day
         2021-12-24\tChristmas Day (observed)
         2021-12-25\tChristmas Day
         2021-12-31\tNew Year's Day (observed)",
    );
}

#[test]
fn us_2022_sunday_holidays_observed_on_monday() {
    assert_listing(
        Jurisdiction::US,
        2022,
        "2022-01-01\tNew Year's Day
         2022-01-17\tBirthday of Martin Luther King, Jr.
         2022-02-21\tWashington's Birthday
         2022-05-30\tMemorial Day
         2022-06-19\tJuneteenth National Independence Day
         2022-06-20\tJuneteenth National Independence Day (observed)
         2022-07-04\tIndependence Day
         2022-09-05\tLabor Day
         2022-10-10\tColumbus Day
         2022-11-11\tVeterans Day
         2022-11-24\tThanksgiving Day
         2022-12-25\tChristmas Day
         2022-12-26\tChristmas Day (observed)",
    );
}

#[test]
fn observed_days_are_not_business_days() {
    assert!(!is_business_day(Jurisdiction::US, d(2021, 12, 31)).unwrap());
    assert!(!is_business_day(Jurisdiction::US, d(2021, 6, 18)).unwrap());
    assert!(!is_business_day(Jurisdiction::US, d(2023, 1, 2)).unwrap()); // 1 Jan 2023 Sunday
    assert!(!is_business_day(Jurisdiction::US, d(2023, 11, 10)).unwrap()); // 11 Nov 2023 Saturday
    assert!(is_business_day(Jurisdiction::US, d(2020, 6, 19)).unwrap()); // before Juneteenth
    assert!(is_business_day(Jurisdiction::US, d(2021, 1, 20)).unwrap()); // Inauguration Day not listed
}

#[test]
fn eleven_legal_holidays_a_year_from_2021() {
    for year in 2021..=2100 {
        let legal = holidays(Jurisdiction::US, year).unwrap().into_iter().filter(|h| !h.name.ends_with("(observed)"));
        assert_eq!(legal.count(), 11, "{year}");
    }
}
