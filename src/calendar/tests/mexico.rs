//! Mexican days of mandatory rest (LFT art. 74) against hand-worked lists: the fixed dates
//! before the 2006 reform, the Monday rules after it, the transfer of executive power
//! (1 Dec until 2018, 1 Oct from 2024) and federal election Sundays.

use super::{assert_listing, d};
use crate::calendar::{holidays, is_business_day, Jurisdiction};

#[test]
fn mexico_2000_fixed_dates_transfer_on_1_december_and_election() {
    assert_listing(
        Jurisdiction::MX,
        2000,
        "2000-01-01\tAño Nuevo
         2000-02-05\tDía de la Constitución
         2000-03-21\tNatalicio de Benito Juárez
         2000-05-01\tDía del Trabajo
         2000-07-02\tJornada electoral federal
         2000-09-16\tDía de la Independencia
         2000-11-20\tDía de la Revolución
         2000-12-01\tTransmisión del Poder Ejecutivo Federal
         2000-12-25\tNavidad",
    );
}

#[test]
fn mexico_2005_last_year_of_fixed_dates() {
    assert_listing(
        Jurisdiction::MX,
        2005,
        "2005-01-01\tAño Nuevo
         2005-02-05\tDía de la Constitución
         2005-03-21\tNatalicio de Benito Juárez
         2005-05-01\tDía del Trabajo
         2005-09-16\tDía de la Independencia
         2005-11-20\tDía de la Revolución
         2005-12-25\tNavidad",
    );
}

#[test]
fn mexico_2006_first_year_of_monday_rules() {
    // 1 Feb, 1 Mar and 1 Nov 2006 were Wednesdays.
    assert_listing(
        Jurisdiction::MX,
        2006,
        "2006-01-01\tAño Nuevo
         2006-02-06\tDía de la Constitución
         2006-03-20\tNatalicio de Benito Juárez
         2006-05-01\tDía del Trabajo
         2006-07-02\tJornada electoral federal
         2006-09-16\tDía de la Independencia
         2006-11-20\tDía de la Revolución
         2006-12-01\tTransmisión del Poder Ejecutivo Federal
         2006-12-25\tNavidad",
    );
}

#[test]
fn mexico_2018_last_transfer_on_1_december_and_july_election() {
    // The 2018 election was moved to the first Sunday of July (override), not 3 Jun.
    assert_listing(
        Jurisdiction::MX,
        2018,
        "2018-01-01\tAño Nuevo
         2018-02-05\tDía de la Constitución
         2018-03-19\tNatalicio de Benito Juárez
         2018-05-01\tDía del Trabajo
         2018-07-01\tJornada electoral federal
         2018-09-16\tDía de la Independencia
         2018-11-19\tDía de la Revolución
         2018-12-01\tTransmisión del Poder Ejecutivo Federal
         2018-12-25\tNavidad",
    );
}

#[test]
fn mexico_2024_first_transfer_on_1_october() {
    assert_listing(
        Jurisdiction::MX,
        2024,
        "2024-01-01\tAño Nuevo
         2024-02-05\tDía de la Constitución
         2024-03-18\tNatalicio de Benito Juárez
         2024-05-01\tDía del Trabajo
         2024-06-02\tJornada electoral federal
         2024-09-16\tDía de la Independencia
         2024-10-01\tTransmisión del Poder Ejecutivo Federal
         2024-11-18\tDía de la Revolución
         2024-12-25\tNavidad",
    );
}

#[test]
fn mexico_2026_and_2027() {
    assert_listing(
        Jurisdiction::MX,
        2026,
        "2026-01-01\tAño Nuevo
         2026-02-02\tDía de la Constitución
         2026-03-16\tNatalicio de Benito Juárez
         2026-05-01\tDía del Trabajo
         2026-09-16\tDía de la Independencia
         2026-11-16\tDía de la Revolución
         2026-12-25\tNavidad",
    );
    assert_listing(
        Jurisdiction::MX,
        2027,
        "2027-01-01\tAño Nuevo
         2027-02-01\tDía de la Constitución
         2027-03-15\tNatalicio de Benito Juárez
         2027-05-01\tDía del Trabajo
         2027-06-06\tJornada electoral federal
         2027-09-16\tDía de la Independencia
         2027-11-15\tDía de la Revolución
         2027-12-25\tNavidad",
    );
}

#[test]
fn transfer_of_power_only_every_six_years() {
    let transfer = |year| {
        holidays(Jurisdiction::MX, year)
            .unwrap()
            .into_iter()
            .filter(|h| h.name == "Transmisión del Poder Ejecutivo Federal")
            .map(|h| h.date)
            .collect::<Vec<_>>()
    };
    assert_eq!(transfer(1994), vec![d(1994, 12, 1)]);
    assert_eq!(transfer(2012), vec![d(2012, 12, 1)]);
    assert_eq!(transfer(2030), vec![d(2030, 10, 1)]);
    assert_eq!(transfer(2096), vec![d(2096, 10, 1)]);
    for year in [2019, 2020, 2021, 2022, 2023, 2025, 2029, 2031] {
        assert!(transfer(year).is_empty(), "{year}");
    }
}

#[test]
fn holy_week_is_not_an_lft_holiday() {
    // Jueves and Viernes Santo 2027 (25–26 Mar): business days in Mexico, not in Colombia.
    assert!(is_business_day(Jurisdiction::MX, d(2027, 3, 25)).unwrap());
    assert!(is_business_day(Jurisdiction::MX, d(2027, 3, 26)).unwrap());
    assert!(!is_business_day(Jurisdiction::CO, d(2027, 3, 25)).unwrap());
    assert!(!is_business_day(Jurisdiction::MX, d(2027, 3, 15)).unwrap());
}
