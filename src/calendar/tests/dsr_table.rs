//! The hand-computed deadline table `tests/data/dsr_deadlines.csv`, shared with the API
//! tests. Conventions of the table:
//! - tenant zone per regime: co_* America/Bogota, mx_* America/Mexico_City, eu_gdpr
//!   Europe/Madrid;
//! - extension `on-time`: notified at 12:00 local on the last day of the first term;
//!   `late`: notified at 08:00 local the calendar day after it;
//! - exactly one of expected_due_date / expected_error is filled; errors are
//!   `DeadlineError::code()` values.

use crate::calendar::local_time::local_instant;
use crate::calendar::{response_deadline, Deadline, DeadlineError, Regime, RequestKind};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

const TABLE: &str = include_str!("../../../tests/data/dsr_deadlines.csv");
const HEADER: &str = "regime,kind,received_at,extension,expected_due_date,expected_error,note";

struct Row<'a> {
    line: usize,
    regime: Regime,
    kind: RequestKind,
    received_at: DateTime<Utc>,
    extension: &'a str,
    expected_due_date: &'a str,
    expected_error: &'a str,
}

fn rows() -> Vec<Row<'static>> {
    let mut lines = TABLE.lines().enumerate();
    assert_eq!(lines.next().map(|(_, l)| l), Some(HEADER));
    lines
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let fields: Vec<&str> = l.split(',').collect();
            assert_eq!(fields.len(), 7, "line {}: 7 fields, no commas in notes: {l}", i + 1);
            Row {
                line: i + 1,
                regime: fields[0].parse().unwrap(),
                kind: fields[1].parse().unwrap(),
                received_at: DateTime::parse_from_rfc3339(fields[2]).unwrap().with_timezone(&Utc),
                extension: fields[3],
                expected_due_date: fields[4],
                expected_error: fields[5],
            }
        })
        .collect()
}

fn tenant_zone(regime: Regime) -> Tz {
    match regime {
        Regime::Co1581 | Regime::Co1266 => chrono_tz::America::Bogota,
        Regime::MxArco | Regime::MxArcoCalendarDays => chrono_tz::America::Mexico_City,
        Regime::EuGdpr => chrono_tz::Europe::Madrid,
    }
}

fn notice_at(date: NaiveDate, hour: u32, tz: Tz) -> DateTime<Utc> {
    local_instant(date, NaiveTime::from_hms_opt(hour, 0, 0).unwrap(), tz).unwrap()
}

fn run(row: &Row) -> Result<Deadline, DeadlineError> {
    let tz = tenant_zone(row.regime);
    let first = || response_deadline(row.regime, row.kind, row.received_at, tz, None);
    let notice = match row.extension {
        "none" => None,
        "on-time" => Some(notice_at(first()?.due_date, 12, tz)),
        "late" => Some(notice_at(first()?.due_date + Duration::days(1), 8, tz)),
        other => panic!("line {}: extension `{other}`", row.line),
    };
    response_deadline(row.regime, row.kind, row.received_at, tz, notice)
}

#[test]
fn the_shared_deadline_table_holds() {
    let rows = rows();
    assert!(rows.len() >= 50, "the table has {} rows", rows.len());
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            let outcome = run(row);
            let actual = match &outcome {
                Ok(deadline) => (deadline.due_date.format("%Y-%m-%d").to_string(), String::new()),
                Err(e) => (String::new(), e.code().to_string()),
            };
            let expected = (row.expected_due_date.to_string(), row.expected_error.to_string());
            (actual != expected).then(|| format!("line {}: expected {expected:?}, got {outcome:?}", row.line))
        })
        .collect();
    assert!(failures.is_empty(), "{} rows differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_table_covers_every_regime_kind_and_extension_case() {
    let rows = rows();
    for regime in Regime::ALL {
        assert!(rows.iter().any(|r| r.regime == regime), "{regime}");
    }
    for kind in RequestKind::ALL {
        assert!(rows.iter().any(|r| r.kind == kind), "{kind}");
    }
    for extension in ["none", "on-time", "late"] {
        assert!(rows.iter().any(|r| r.extension == extension), "{extension}");
    }
}
