//! Deadline details the shared table does not cover: the due instant, the lapse effect,
//! extension timing to the second, claim withdrawal and the ARCO execution term.

use super::d;
use crate::calendar::local_time::{end_of_day, local_instant};
use crate::calendar::{
    arco_execution_deadline, incomplete_claim_withdrawal, response_deadline, DayCount, DeadlineError, Lapse, Regime,
    RequestKind,
};
use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;

const BOGOTA: Tz = chrono_tz::America::Bogota;
const CDMX: Tz = chrono_tz::America::Mexico_City;
const MADRID: Tz = chrono_tz::Europe::Madrid;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

#[test]
fn due_at_is_the_last_second_of_the_local_due_day() {
    let deadline =
        response_deadline(Regime::Co1581, RequestKind::Consulta, at("2027-03-19T23:00:00-05:00"), BOGOTA, None)
            .unwrap();
    assert_eq!(deadline.due_date, d(2027, 4, 6));
    assert_eq!(deadline.due_at, at("2027-04-07T04:59:59Z"));
    assert_eq!(deadline.basis, "Ley 1581 de 2012, art. 14");
    assert!(deadline.is_met_by(at("2027-04-06T23:59:59.900-05:00")));
    assert!(!deadline.is_met_by(at("2027-04-07T00:00:00-05:00")));
    // Madrid in summer is UTC+2.
    let gdpr = response_deadline(Regime::EuGdpr, RequestKind::Consulta, at("2027-03-15T10:00:00+01:00"), MADRID, None);
    assert_eq!(gdpr.unwrap().due_at, at("2027-04-15T21:59:59Z"));
}

#[test]
fn a_day_whose_midnight_does_not_exist_still_ends() {
    // Chile moved clocks from 00:00 to 01:00 on Sunday 8 Sep 2024.
    let santiago = chrono_tz::America::Santiago;
    assert_eq!(local_instant(d(2024, 9, 8), NaiveTime::MIN, santiago), Some(at("2024-09-08T04:00:00Z")));
    assert_eq!(end_of_day(d(2024, 9, 7), santiago), Some(at("2024-09-08T03:59:59Z")));
}

#[test]
fn an_unanswered_ley_1266_reclamo_is_deemed_granted() {
    let received = at("2027-03-19T23:00:00-05:00");
    let lapse = |regime, kind| response_deadline(regime, kind, received, BOGOTA, None).unwrap().on_lapse;
    assert_eq!(lapse(Regime::Co1266, RequestKind::Reclamo), Lapse::DeemedGranted);
    assert_eq!(lapse(Regime::Co1266, RequestKind::Supresion), Lapse::DeemedGranted);
    assert_eq!(lapse(Regime::Co1266, RequestKind::Consulta), Lapse::Overdue);
    assert_eq!(lapse(Regime::Co1581, RequestKind::Reclamo), Lapse::Overdue);
}

#[test]
fn an_extension_notified_in_the_last_second_counts_and_one_second_later_does_not() {
    // First term of a consulta received Fri 19 Mar 2027: Tue 6 Apr.
    let received = at("2027-03-19T23:00:00-05:00");
    let extend = |notice| response_deadline(Regime::Co1581, RequestKind::Consulta, received, BOGOTA, Some(at(notice)));
    let extended = extend("2027-04-06T23:59:59-05:00").unwrap();
    assert_eq!((extended.due_date, extended.basis), (d(2027, 4, 13), "Ley 1581 de 2012, art. 14 (prórroga)"));
    assert_eq!(
        extend("2027-04-07T00:00:00-05:00"),
        Err(DeadlineError::ExtensionTooLate { first_due: d(2027, 4, 6), notified_on: d(2027, 4, 7) })
    );
    assert_eq!(extend("2027-03-19T22:00:00-05:00"), Err(DeadlineError::ExtensionBeforeReceipt));
}

#[test]
fn an_incomplete_reclamo_is_withdrawn_after_two_months_or_one_under_ley_1266() {
    let withdrawal = |regime, requested| incomplete_claim_withdrawal(regime, at(requested), BOGOTA).unwrap();
    let w = withdrawal(Regime::Co1581, "2027-01-15T10:00:00-05:00");
    assert_eq!((w.due_date, w.on_lapse), (d(2027, 3, 15), Lapse::DeemedWithdrawn));
    // 31 Dec + 2 months has no 31 Feb: 28 Feb 2027, a Sunday, runs to Monday 1 Mar.
    assert_eq!(withdrawal(Regime::Co1581, "2026-12-31T10:00:00-05:00").due_date, d(2027, 3, 1));
    assert_eq!(withdrawal(Regime::Co1266, "2027-02-19T10:00:00-05:00").due_date, d(2027, 3, 19));
    // 22 Mar 2027 is San José: runs to Tuesday 23 Mar.
    assert_eq!(withdrawal(Regime::Co1266, "2027-02-22T10:00:00-05:00").due_date, d(2027, 3, 23));
    let gdpr = incomplete_claim_withdrawal(Regime::EuGdpr, at("2027-02-22T10:00:00+01:00"), MADRID);
    assert_eq!(gdpr.unwrap_err().code(), "not_applicable");
}

#[test]
fn an_arco_answer_is_carried_out_within_fifteen_days_after_it() {
    let answered = at("2027-04-15T10:00:00-06:00");
    let execution = |days, notice: Option<&str>| arco_execution_deadline(days, answered, CDMX, notice.map(at));
    // Business: 16 | 19–23 | 26–30 | 3 4 5 6 May.
    assert_eq!(execution(DayCount::Business, None).unwrap().due_date, d(2027, 5, 6));
    assert_eq!(execution(DayCount::Calendar, None).unwrap().due_date, d(2027, 4, 30));
    // Extended once by 15 more business days: 7 | 10–14 | 17–21 | 24 25 26 27 May.
    let extended = execution(DayCount::Business, Some("2027-05-06T12:00:00-06:00")).unwrap();
    assert_eq!(extended.due_date, d(2027, 5, 27));
    let late = execution(DayCount::Business, Some("2027-05-07T08:00:00-06:00"));
    assert_eq!(late.unwrap_err().code(), "extension_too_late");
}

#[test]
fn codes_round_trip() {
    for regime in Regime::ALL {
        assert_eq!(regime.as_str().parse::<Regime>().unwrap(), regime);
        assert_eq!(serde_json::to_string(&regime).unwrap(), format!("\"{regime}\""));
    }
    for kind in RequestKind::ALL {
        assert_eq!(kind.as_str().parse::<RequestKind>().unwrap(), kind);
        assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{kind}\""));
    }
    assert_eq!(Regime::mx_arco(DayCount::Calendar), Regime::MxArcoCalendarDays);
    assert_eq!("habeas".parse::<Regime>().unwrap_err().code(), "unknown_code");
}

#[test]
fn a_deadline_serializes_for_the_api() {
    let deadline =
        response_deadline(Regime::Co1266, RequestKind::Reclamo, at("2027-03-19T23:00:00-05:00"), BOGOTA, None).unwrap();
    let json: serde_json::Value = serde_json::to_value(&deadline).unwrap();
    assert_eq!(json["due_date"], "2027-04-14");
    assert_eq!(json["due_at"], "2027-04-15T04:59:59Z");
    assert_eq!(json["on_lapse"], "deemed_granted");
    assert!(json["basis"].as_str().unwrap().starts_with("Ley 1266 de 2008"));
}
