//! Colombian festivos against the official lists (Ley 51 de 1983; Ley 2578 de 2026),
//! worked out by hand: Easter from the published tables, weekdays from a printed calendar.

use super::{assert_listing, d};
use crate::calendar::{easter_sunday, holidays, is_business_day, Jurisdiction, FIRST_YEAR, LAST_YEAR};
use chrono::Datelike;
use std::collections::BTreeSet;

#[test]
fn festivos_2019_two_on_monday_1_july() {
    // Easter 21 Apr. 29 Jun is a Saturday and Sagrado Corazón (Easter + 71) is Mon 1 Jul.
    assert_listing(
        Jurisdiction::CO,
        2019,
        "2019-01-01\tAño Nuevo
         2019-01-07\tDía de los Reyes Magos
         2019-03-25\tDía de San José
         2019-04-18\tJueves Santo
         2019-04-19\tViernes Santo
         2019-05-01\tDía del Trabajo
         2019-06-03\tAscensión del Señor
         2019-06-24\tCorpus Christi
         2019-07-01\tSagrado Corazón de Jesús
         2019-07-01\tSan Pedro y San Pablo
         2019-07-20\tDía de la Independencia
         2019-08-07\tBatalla de Boyacá
         2019-08-19\tLa Asunción de la Virgen
         2019-10-14\tDía de la Raza
         2019-11-04\tDía de Todos los Santos
         2019-11-11\tIndependencia de Cartagena
         2019-12-08\tInmaculada Concepción
         2019-12-25\tNavidad",
    );
}

#[test]
fn festivos_2024() {
    // Easter 31 Mar: Jueves/Viernes Santo 28–29 Mar, Ascensión 13 May, Corpus 3 Jun,
    // Sagrado Corazón 10 Jun. 6 Jan, 29 Jun and 12 Oct are Saturdays; 11 Nov a Monday.
    assert_listing(
        Jurisdiction::CO,
        2024,
        "2024-01-01\tAño Nuevo
         2024-01-08\tDía de los Reyes Magos
         2024-03-25\tDía de San José
         2024-03-28\tJueves Santo
         2024-03-29\tViernes Santo
         2024-05-01\tDía del Trabajo
         2024-05-13\tAscensión del Señor
         2024-06-03\tCorpus Christi
         2024-06-10\tSagrado Corazón de Jesús
         2024-07-01\tSan Pedro y San Pablo
         2024-07-20\tDía de la Independencia
         2024-08-07\tBatalla de Boyacá
         2024-08-19\tLa Asunción de la Virgen
         2024-10-14\tDía de la Raza
         2024-11-04\tDía de Todos los Santos
         2024-11-11\tIndependencia de Cartagena
         2024-12-08\tInmaculada Concepción
         2024-12-25\tNavidad",
    );
}

#[test]
fn festivos_2025_two_on_monday_30_june() {
    // regulations.md §2.4: Easter 20 Apr gives 2 Jun, 23 Jun and 30 Jun; 29 Jun is a Sunday.
    assert_listing(
        Jurisdiction::CO,
        2025,
        "2025-01-01\tAño Nuevo
         2025-01-06\tDía de los Reyes Magos
         2025-03-24\tDía de San José
         2025-04-17\tJueves Santo
         2025-04-18\tViernes Santo
         2025-05-01\tDía del Trabajo
         2025-06-02\tAscensión del Señor
         2025-06-23\tCorpus Christi
         2025-06-30\tSagrado Corazón de Jesús
         2025-06-30\tSan Pedro y San Pablo
         2025-07-20\tDía de la Independencia
         2025-08-07\tBatalla de Boyacá
         2025-08-18\tLa Asunción de la Virgen
         2025-10-13\tDía de la Raza
         2025-11-03\tDía de Todos los Santos
         2025-11-17\tIndependencia de Cartagena
         2025-12-08\tInmaculada Concepción
         2025-12-25\tNavidad",
    );
}

#[test]
fn festivos_2026_first_year_of_ley_2578() {
    // Easter 5 Apr gives 18 May, 8 Jun and 15 Jun (regulations.md §2.4). 9 Jul is a
    // Thursday, so the new festivo is Mon 13 Jul.
    assert_listing(
        Jurisdiction::CO,
        2026,
        "2026-01-01\tAño Nuevo
         2026-01-12\tDía de los Reyes Magos
         2026-03-23\tDía de San José
         2026-04-02\tJueves Santo
         2026-04-03\tViernes Santo
         2026-05-01\tDía del Trabajo
         2026-05-18\tAscensión del Señor
         2026-06-08\tCorpus Christi
         2026-06-15\tSagrado Corazón de Jesús
         2026-06-29\tSan Pedro y San Pablo
         2026-07-13\tNuestra Señora del Rosario de Chiquinquirá
         2026-07-20\tDía de la Independencia
         2026-08-07\tBatalla de Boyacá
         2026-08-17\tLa Asunción de la Virgen
         2026-10-12\tDía de la Raza
         2026-11-02\tDía de Todos los Santos
         2026-11-16\tIndependencia de Cartagena
         2026-12-08\tInmaculada Concepción
         2026-12-25\tNavidad",
    );
}

#[test]
fn festivos_2027() {
    // Easter 28 Mar: Jueves/Viernes Santo 25–26 Mar, Ascensión 10 May, Corpus 31 May,
    // Sagrado Corazón 7 Jun. 1 May, 7 Aug and 25 Dec are Saturdays and stay there.
    assert_listing(
        Jurisdiction::CO,
        2027,
        "2027-01-01\tAño Nuevo
         2027-01-11\tDía de los Reyes Magos
         2027-03-22\tDía de San José
         2027-03-25\tJueves Santo
         2027-03-26\tViernes Santo
         2027-05-01\tDía del Trabajo
         2027-05-10\tAscensión del Señor
         2027-05-31\tCorpus Christi
         2027-06-07\tSagrado Corazón de Jesús
         2027-07-05\tSan Pedro y San Pablo
         2027-07-12\tNuestra Señora del Rosario de Chiquinquirá
         2027-07-20\tDía de la Independencia
         2027-08-07\tBatalla de Boyacá
         2027-08-16\tLa Asunción de la Virgen
         2027-10-18\tDía de la Raza
         2027-11-01\tDía de Todos los Santos
         2027-11-15\tIndependencia de Cartagena
         2027-12-08\tInmaculada Concepción
         2027-12-25\tNavidad",
    );
}

#[test]
fn eighteen_festivos_until_2025_and_nineteen_from_2026() {
    for year in FIRST_YEAR..=LAST_YEAR {
        let expected = if year >= 2026 { 19 } else { 18 };
        assert_eq!(holidays(Jurisdiction::CO, year).unwrap().len(), expected, "{year}");
    }
}

#[test]
fn the_new_festivo_did_not_exist_in_2025() {
    // 9 Jul 2025 was a Wednesday: under the 2026 rule it would have moved to Mon 14 Jul.
    assert!(is_business_day(Jurisdiction::CO, d(2025, 7, 14)).unwrap());
    assert!(!is_business_day(Jurisdiction::CO, d(2026, 7, 13)).unwrap());
    assert!(!is_business_day(Jurisdiction::CO, d(2027, 7, 12)).unwrap());
}

#[test]
fn monday_holidays_fall_on_mondays_and_fixed_ones_on_their_date() {
    use chrono::Weekday;
    let fixed = ["Año Nuevo", "Día del Trabajo", "Día de la Independencia", "Batalla de Boyacá"];
    let fixed_more = ["Inmaculada Concepción", "Navidad", "Jueves Santo", "Viernes Santo"];
    for year in FIRST_YEAR..=LAST_YEAR {
        for h in holidays(Jurisdiction::CO, year).unwrap() {
            if !fixed.contains(&h.name.as_str()) && !fixed_more.contains(&h.name.as_str()) {
                assert_eq!(h.date.weekday(), Weekday::Mon, "{} {}", h.date, h.name);
            }
        }
    }
}

#[test]
fn two_festivos_share_a_monday_exactly_when_easter_falls_19_to_25_april() {
    // Sagrado Corazón (Easter + 71) and San Pedro (29 Jun moved) can only meet on the
    // Monday 29 Jun–5 Jul, i.e. when Easter is 19–25 Apr; no other pair can meet.
    for year in FIRST_YEAR..=LAST_YEAR {
        let list = holidays(Jurisdiction::CO, year).unwrap();
        let distinct: BTreeSet<_> = list.iter().map(|h| h.date).collect();
        let easter = easter_sunday(year).unwrap();
        let late_easter = d(year, 4, 19) <= easter;
        assert_eq!(distinct.len() + usize::from(late_easter), list.len(), "{year}");
    }
    for year in [2000, 2003, 2011, 2014, 2019, 2025, 2030, 2038] {
        let list = holidays(Jurisdiction::CO, year).unwrap();
        assert!(list.windows(2).any(|w| w[0].date == w[1].date), "{year}");
    }
}

#[test]
fn first_supported_year_1990() {
    // Easter 15 Apr 1990: Jueves Santo 12 Apr, Ascensión 28 May, Corpus 18 Jun, Sagrado
    // Corazón 25 Jun. 1 Jan 1990 was a Monday.
    assert_listing(
        Jurisdiction::CO,
        1990,
        "1990-01-01\tAño Nuevo
         1990-01-08\tDía de los Reyes Magos
         1990-03-19\tDía de San José
         1990-04-12\tJueves Santo
         1990-04-13\tViernes Santo
         1990-05-01\tDía del Trabajo
         1990-05-28\tAscensión del Señor
         1990-06-18\tCorpus Christi
         1990-06-25\tSagrado Corazón de Jesús
         1990-07-02\tSan Pedro y San Pablo
         1990-07-20\tDía de la Independencia
         1990-08-07\tBatalla de Boyacá
         1990-08-20\tLa Asunción de la Virgen
         1990-10-15\tDía de la Raza
         1990-11-05\tDía de Todos los Santos
         1990-11-12\tIndependencia de Cartagena
         1990-12-08\tInmaculada Concepción
         1990-12-25\tNavidad",
    );
}
