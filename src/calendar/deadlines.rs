//! Data-subject request deadlines as pure functions of the receipt instant, the tenant's
//! time zone and, when the controller extended the term, the instant it notified that.
//!
//! How each term counts (regulations.md §1.3, §2.2–2.3, §3.2, §5):
//! - Colombia, consulta (L.1581 art. 14, L.1266 art. 16-I): 10 business days "from
//!   receipt": the local receipt day is day 1 when it is a business day. Extension: 5
//!   business days after the first term.
//! - Colombia, reclamo (L.1581 art. 15, L.1266 art. 16-II): 15 business days "from the day
//!   after receipt". Extension: 8 business days after the first term. Supresión and
//!   revocación go through a reclamo (D.1377 art. 9).
//! - Mexico, ARCO (LFPDPPP 2010 art. 32): 20 days to answer counted from receipt (receipt
//!   day is day 1), then 15 days from the day after the answer to carry it out; each may be
//!   extended once by an equal period. Business days (MX calendar) or calendar days.
//! - EU, GDPR art. 12(3): one month from receipt: the same date next month, or that month's
//!   last day when it has no such date. Extension: two further months from the first term.
//!   No move off weekends: the EU has no calendar here, and the earlier day is the safe one.
//!
//! Where the text allows two readings, the one that never makes the controller late (or
//! close a claim early) is taken. An extension counts only if notified no later than the
//! last second of the first term.

use super::dsr::{DayCount, Deadline, DeadlineError, Lapse, Regime, RequestKind};
use super::local_time::{end_of_day, local_date};
use super::{BusinessDays, Calendar, Jurisdiction};
use chrono::{DateTime, Duration, Months, NaiveDate, Utc};
use chrono_tz::Tz;

/// The unit and length of a term.
#[derive(Clone, Copy, Debug)]
enum Length {
    BusinessDays(Jurisdiction, u32),
    CalendarDays(u32),
    Months(u32),
}

/// Whether the day of the triggering event is the term's first day.
#[derive(Clone, Copy, Debug)]
enum Start {
    EventDay,
    DayAfter,
}

/// A first term, its one extension, and their citations.
#[derive(Clone, Copy, Debug)]
struct Term {
    length: Length,
    start: Start,
    extension: Length,
    basis: &'static str,
    extended_basis: &'static str,
    on_lapse: Lapse,
}

/// The deadline to answer a request received at `received_at` (tenant zone `tz`). With
/// `extension_notified_at`, the extended deadline, refused with
/// [`DeadlineError::ExtensionTooLate`] when notified after the first term ended.
pub fn response_deadline(
    regime: Regime,
    kind: RequestKind,
    received_at: DateTime<Utc>,
    tz: Tz,
    extension_notified_at: Option<DateTime<Utc>>,
) -> Result<Deadline, DeadlineError> {
    run_term(response_term(regime, kind), received_at, tz, extension_notified_at)
}

/// Mexico: the deadline to carry out an ARCO answer communicated at `answered_at`: 15 days
/// following the answer, extendable once by 15 (LFPDPPP 2010 art. 32).
pub fn arco_execution_deadline(
    days: DayCount,
    answered_at: DateTime<Utc>,
    tz: Tz,
    extension_notified_at: Option<DateTime<Utc>>,
) -> Result<Deadline, DeadlineError> {
    let term = Term {
        length: days_of(days, 15),
        start: Start::DayAfter,
        extension: days_of(days, 15),
        basis: "LFPDPPP 2010, art. 32 (plazo para hacer efectiva la respuesta)",
        extended_basis: "LFPDPPP 2010, art. 32 (plazo para hacer efectiva la respuesta, ampliado una vez)",
        on_lapse: Lapse::Overdue,
    };
    run_term(term, answered_at, tz, extension_notified_at)
}

/// Colombia: the last day an incomplete reclamo can be completed after the controller asked
/// for the missing information at `requested_at`. Past it the reclamo is treated as
/// withdrawn: 2 months under L.1581 art. 15, 1 month under L.1266 art. 16-II. A month runs
/// to the same date (or the month's last day), and a term ending on a non-business day
/// runs to the next business day (Ley 4 de 1913, art. 62), so the claim is never closed early.
pub fn incomplete_claim_withdrawal(
    regime: Regime,
    requested_at: DateTime<Utc>,
    tz: Tz,
) -> Result<Deadline, DeadlineError> {
    let (months, basis) = match regime {
        Regime::Co1581 => (2, "Ley 1581 de 2012, art. 15 (desistimiento a los 2 meses); Ley 4 de 1913, art. 62"),
        Regime::Co1266 => (1, "Ley 1266 de 2008, art. 16-II (desistimiento al mes); Ley 4 de 1913, art. 62"),
        _ => return Err(DeadlineError::NotApplicable { regime, what: "claim withdrawal term" }),
    };
    let end = add_months(local_date(requested_at, tz), months)?;
    let calendar = Calendar::builtin(Jurisdiction::CO)?;
    let due_date = BusinessDays::new(calendar).on_or_after(end)?;
    deadline(due_date, tz, basis, Lapse::DeemedWithdrawn)
}

fn response_term(regime: Regime, kind: RequestKind) -> Term {
    match (regime, kind.is_claim()) {
        (Regime::Co1581, false) => co_consulta("Ley 1581 de 2012, art. 14", "Ley 1581 de 2012, art. 14 (prórroga)"),
        (Regime::Co1581, true) => {
            co_reclamo("Ley 1581 de 2012, art. 15", "Ley 1581 de 2012, art. 15 (prórroga)", Lapse::Overdue)
        }
        (Regime::Co1266, false) => co_consulta("Ley 1266 de 2008, art. 16-I", "Ley 1266 de 2008, art. 16-I (prórroga)"),
        (Regime::Co1266, true) => co_reclamo(
            "Ley 1266 de 2008, art. 16-II (num. 8 modificado por Ley 2573 de 2026)",
            "Ley 1266 de 2008, art. 16-II (prórroga; num. 8 modificado por Ley 2573 de 2026)",
            Lapse::DeemedGranted,
        ),
        (Regime::MxArco, _) => arco_answer(DayCount::Business),
        (Regime::MxArcoCalendarDays, _) => arco_answer(DayCount::Calendar),
        (Regime::EuGdpr, _) => Term {
            length: Length::Months(1),
            start: Start::EventDay,
            extension: Length::Months(2),
            basis: "GDPR art. 12(3)",
            extended_basis: "GDPR art. 12(3) (extended by two further months)",
            on_lapse: Lapse::Overdue,
        },
    }
}

fn co_consulta(basis: &'static str, extended_basis: &'static str) -> Term {
    Term {
        length: Length::BusinessDays(Jurisdiction::CO, 10),
        start: Start::EventDay,
        extension: Length::BusinessDays(Jurisdiction::CO, 5),
        basis,
        extended_basis,
        on_lapse: Lapse::Overdue,
    }
}

fn co_reclamo(basis: &'static str, extended_basis: &'static str, on_lapse: Lapse) -> Term {
    Term {
        length: Length::BusinessDays(Jurisdiction::CO, 15),
        start: Start::DayAfter,
        extension: Length::BusinessDays(Jurisdiction::CO, 8),
        basis,
        extended_basis,
        on_lapse,
    }
}

fn arco_answer(days: DayCount) -> Term {
    Term {
        length: days_of(days, 20),
        start: Start::EventDay,
        extension: days_of(days, 20),
        basis: "LFPDPPP 2010, art. 32 (plazo de respuesta ARCO)",
        extended_basis: "LFPDPPP 2010, art. 32 (plazo de respuesta ARCO, ampliado una vez)",
        on_lapse: Lapse::Overdue,
    }
}

fn days_of(days: DayCount, n: u32) -> Length {
    match days {
        DayCount::Business => Length::BusinessDays(Jurisdiction::MX, n),
        DayCount::Calendar => Length::CalendarDays(n),
    }
}

fn run_term(
    term: Term,
    event_at: DateTime<Utc>,
    tz: Tz,
    extension_notified_at: Option<DateTime<Utc>>,
) -> Result<Deadline, DeadlineError> {
    let first_due = first_term_end(term.length, term.start, local_date(event_at, tz))?;
    let first = deadline(first_due, tz, term.basis, term.on_lapse)?;
    let Some(notified_at) = extension_notified_at else { return Ok(first) };
    if notified_at < event_at {
        return Err(DeadlineError::ExtensionBeforeReceipt);
    }
    if !first.is_met_by(notified_at) {
        return Err(DeadlineError::ExtensionTooLate { first_due, notified_on: local_date(notified_at, tz) });
    }
    let extended_due = extend(term.extension, first_due)?;
    deadline(extended_due, tz, term.extended_basis, term.on_lapse)
}

/// The last day of a term whose triggering event happened on local day `event`.
fn first_term_end(length: Length, start: Start, event: NaiveDate) -> Result<NaiveDate, DeadlineError> {
    // Counting n days "from day s" ends on the n-th counted day after s - 1.
    let before_first = match start {
        Start::EventDay => event.pred_opt(),
        Start::DayAfter => Some(event),
    }
    .ok_or(DeadlineError::UnrepresentableTime { date: event })?;
    match length {
        Length::Months(n) => add_months(event, n),
        _ => extend(length, before_first),
    }
}

/// `length` counted after day `from` (which is not itself counted).
fn extend(length: Length, from: NaiveDate) -> Result<NaiveDate, DeadlineError> {
    match length {
        Length::BusinessDays(jurisdiction, n) => {
            let calendar = Calendar::builtin(jurisdiction)?;
            Ok(BusinessDays::new(calendar).add(from, n)?)
        }
        Length::CalendarDays(n) => from
            .checked_add_signed(Duration::days(i64::from(n)))
            .ok_or(DeadlineError::UnrepresentableTime { date: from }),
        Length::Months(n) => add_months(from, n),
    }
}

/// Same date `n` months later, or that month's last day when it has no such date.
fn add_months(date: NaiveDate, n: u32) -> Result<NaiveDate, DeadlineError> {
    date.checked_add_months(Months::new(n)).ok_or(DeadlineError::UnrepresentableTime { date })
}

fn deadline(due_date: NaiveDate, tz: Tz, basis: &'static str, on_lapse: Lapse) -> Result<Deadline, DeadlineError> {
    let due_at = end_of_day(due_date, tz).ok_or(DeadlineError::UnrepresentableTime { date: due_date })?;
    Ok(Deadline { due_date, due_at, basis, on_lapse })
}
