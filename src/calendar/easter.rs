//! Easter Sunday by the Gregorian computus.
//!
//! Five Colombian festivos hang on Easter (Jueves and Viernes Santo, Ascensión, Corpus
//! Christi, Sagrado Corazón; Ley 51 de 1983 art. 1), so a wrong Easter moves a business-day
//! deadline. This is the "anonymous Gregorian algorithm" (Meeus/Jones/Butcher), exact for
//! every Gregorian year.

use chrono::NaiveDate;

/// Easter Sunday of `year` in the Gregorian calendar; `None` before the Gregorian reform
/// (1583) or past what a date can hold.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    if year < 1583 {
        return None;
    }
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}
