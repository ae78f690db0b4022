//! The computus against published Easter dates.

use super::d;
use crate::calendar::easter_sunday;

#[test]
fn easter_matches_published_dates() {
    let known = [
        d(1818, 3, 22), // earliest possible date
        d(1954, 4, 18),
        d(1990, 4, 15),
        d(1991, 3, 31),
        d(1992, 4, 19),
        d(1993, 4, 11),
        d(2000, 4, 23),
        d(2008, 3, 23),
        d(2011, 4, 24),
        d(2014, 4, 20),
        d(2016, 3, 27),
        d(2019, 4, 21),
        d(2024, 3, 31),
        d(2025, 4, 20),
        d(2026, 4, 5),
        d(2027, 3, 28),
        d(2028, 4, 16),
        d(2030, 4, 21),
        d(2038, 4, 25), // latest possible date
        d(2100, 3, 28),
        d(2285, 3, 22),
    ];
    for date in known {
        assert_eq!(easter_sunday(chrono::Datelike::year(&date)), Some(date), "Easter {date}");
    }
}

#[test]
fn easter_is_a_sunday_between_22_march_and_25_april() {
    use chrono::{Datelike, Weekday};
    for year in 1583..=4099 {
        let easter = easter_sunday(year).unwrap();
        assert_eq!(easter.weekday(), Weekday::Sun, "{easter}");
        assert!(d(year, 3, 22) <= easter && easter <= d(year, 4, 25), "{easter}");
    }
}

#[test]
fn no_easter_before_the_gregorian_reform() {
    assert_eq!(easter_sunday(1582), None);
}
