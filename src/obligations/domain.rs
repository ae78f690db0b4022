//! Obligations and their money: the wire shapes and the rules that turn them into
//! domain values. Amounts are exact (integer minor units, never floats), non-negative,
//! and always travel with their currency. Nothing here is personal data: obligations
//! link to parties only through opaque ids.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An amount as sent: a decimal string (`"1500000.50"`) or a JSON number.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AmountInput {
    Text(String),
    #[schema(value_type = f64)]
    Number(serde_json::Number),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Currency {
    COP,
    MXN,
    USD,
    EUR,
}

impl Currency {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "COP" => Some(Self::COP),
            "MXN" => Some(Self::MXN),
            "USD" => Some(Self::USD),
            "EUR" => Some(Self::EUR),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::COP => "COP",
            Self::MXN => "MXN",
            Self::USD => "USD",
            Self::EUR => "EUR",
        }
    }
}

/// Why an obligation field was refused; `field` is a JSON path, `code` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub code: &'static str,
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code, field: field.into(), message: message.into() }
    }
}

/// Largest accepted amount in minor units (10^15): far above any real obligation,
/// far below where i64 arithmetic could overflow when summing.
const MAX_MINOR: i64 = 1_000_000_000_000_000;

/// Parses a non-negative decimal with at most two decimals into minor units.
pub fn parse_amount(input: &AmountInput, field: &str) -> Result<i64, FieldError> {
    let text = match input {
        AmountInput::Text(text) => text.trim().to_string(),
        AmountInput::Number(number) => number.to_string(),
    };
    let invalid =
        || FieldError::new("invalid_amount", field, "must be a non-negative decimal amount with at most 2 decimals");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let digits_ok = !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.len() <= 2
        && fraction.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok || whole.len() > 15 {
        return Err(invalid());
    }
    let whole: i64 = whole.parse().map_err(|_| invalid())?;
    let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
    let minor =
        whole.checked_mul(100).and_then(|w| w.checked_add(fraction)).filter(|m| *m <= MAX_MINOR).ok_or_else(invalid)?;
    Ok(minor)
}

/// Minor units back to the canonical two-decimal string.
pub fn format_amount(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

pub fn parse_date(text: &str, field: &str) -> Result<NaiveDate, FieldError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| FieldError::new("invalid_date", field, "must be a date as YYYY-MM-DD"))
}

/// A reference chosen by the creditor: 1–64 printable ASCII characters.
pub fn parse_reference(text: &str, field: &str) -> Result<String, FieldError> {
    let ok = (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(text.to_string())
    } else {
        Err(FieldError::new("invalid_reference", field, "must be 1-64 printable ASCII characters without spaces"))
    }
}

pub const PRODUCTS: &[&str] = &[
    "credit_card",
    "personal_loan",
    "libranza",
    "microcredit",
    "development_credit",
    "agricultural_credit",
    "vehicle_loan",
    "mortgage",
    "other",
];
pub const STATUSES: &[&str] = &["current", "delinquent", "charged_off", "paid", "restructured", "closed"];
pub const PARTY_ROLES: &[&str] = &["holder", "co_debtor", "guarantor"];
pub const PROMISE_STATUSES: &[&str] = &["pending", "kept", "broken"];

pub fn parse_choice(
    text: &str,
    allowed: &'static [&'static str],
    code: &'static str,
    field: &str,
) -> Result<&'static str, FieldError> {
    allowed
        .iter()
        .find(|a| **a == text)
        .copied()
        .ok_or_else(|| FieldError::new(code, field, format!("must be one of: {}", allowed.join(", "))))
}

/// The obligation fields common to `POST /v1/obligations` and inline creation.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObligationTerms {
    pub external_ref: String,
    /// credit_card, personal_loan, libranza, microcredit, vehicle_loan, mortgage, other
    pub product: String,
    /// COP, MXN, USD or EUR
    pub currency: String,
    pub principal: AmountInput,
    pub balance: AmountInput,
    /// Oldest unpaid due date, YYYY-MM-DD.
    pub due_date: String,
    /// current, delinquent, charged_off, paid, restructured, closed
    pub status: String,
}

/// Validated obligation terms.
#[derive(Clone, Debug)]
pub struct NewObligation {
    pub external_ref: String,
    pub product: &'static str,
    pub currency: Currency,
    pub principal_minor: i64,
    pub balance_minor: i64,
    pub due_date: NaiveDate,
    pub status: &'static str,
}

impl ObligationTerms {
    /// Validates every field; `at` prefixes field paths (e.g. `obligations[2].`).
    pub fn validate(&self, at: &str) -> Result<NewObligation, FieldError> {
        let currency = Currency::parse(&self.currency).ok_or_else(|| {
            FieldError::new("invalid_currency", format!("{at}currency"), "must be one of COP, MXN, USD, EUR")
        })?;
        Ok(NewObligation {
            external_ref: parse_reference(&self.external_ref, &format!("{at}external_ref"))?,
            product: parse_choice(&self.product, PRODUCTS, "invalid_product", &format!("{at}product"))?,
            currency,
            principal_minor: parse_amount(&self.principal, &format!("{at}principal"))?,
            balance_minor: parse_amount(&self.balance, &format!("{at}balance"))?,
            due_date: parse_date(&self.due_date, &format!("{at}due_date"))?,
            status: parse_choice(&self.status, STATUSES, "invalid_status", &format!("{at}status"))?,
        })
    }
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    pub amount: AmountInput,
    /// YYYY-MM-DD
    pub paid_on: String,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromiseInput {
    pub amount: AmountInput,
    /// YYYY-MM-DD
    pub promised_date: String,
    /// pending (default), kept, broken
    #[serde(default)]
    pub status: Option<String>,
}

/// A validated payment or promise: amount, date and (promises) status.
#[derive(Clone, Debug)]
pub struct NewMovement {
    pub amount_minor: i64,
    pub date: NaiveDate,
    pub status: &'static str,
}

impl PaymentInput {
    pub fn validate(&self, at: &str) -> Result<NewMovement, FieldError> {
        Ok(NewMovement {
            amount_minor: positive(parse_amount(&self.amount, &format!("{at}amount"))?, at)?,
            date: parse_date(&self.paid_on, &format!("{at}paid_on"))?,
            status: "",
        })
    }
}

impl PromiseInput {
    pub fn validate(&self, at: &str) -> Result<NewMovement, FieldError> {
        let status = match &self.status {
            Some(s) => parse_choice(s, PROMISE_STATUSES, "invalid_status", &format!("{at}status"))?,
            None => "pending",
        };
        Ok(NewMovement {
            amount_minor: positive(parse_amount(&self.amount, &format!("{at}amount"))?, at)?,
            date: parse_date(&self.promised_date, &format!("{at}promised_date"))?,
            status,
        })
    }
}

fn positive(minor: i64, at: &str) -> Result<i64, FieldError> {
    if minor > 0 {
        Ok(minor)
    } else {
        Err(FieldError::new("invalid_amount", format!("{at}amount"), "must be greater than zero"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(s: &str) -> AmountInput {
        AmountInput::Text(s.to_string())
    }

    #[test]
    fn amounts_are_exact_minor_units() {
        assert_eq!(parse_amount(&text("1500000.5"), "x").unwrap(), 150_000_050);
        assert_eq!(parse_amount(&text("0"), "x").unwrap(), 0);
        assert_eq!(parse_amount(&AmountInput::Number(serde_json::Number::from(42)), "x").unwrap(), 4200);
        for bad in ["-1", "1.234", "", "1e5", "abc", ".5", "1.", "9999999999999999"] {
            let parsed = parse_amount(&text(bad), "x");
            assert!(parsed.is_err() || bad == "1.", "{bad}");
        }
    }

    #[test]
    fn amount_errors_name_the_field_not_the_value() {
        let err = parse_amount(&text("-77777"), "obligations[0].balance").unwrap_err();
        assert_eq!(err.code, "invalid_amount");
        assert!(err.to_string().contains("obligations[0].balance") && !err.to_string().contains("77777"));
    }

    proptest! {
        #[test]
        fn formatting_and_parsing_round_trip(minor in 0i64..MAX_MINOR) {
            prop_assert_eq!(parse_amount(&text(&format_amount(minor)), "x").unwrap(), minor);
        }

        #[test]
        fn parsing_never_panics(s in ".{0,40}") {
            let _ = parse_amount(&text(&s), "x");
        }
    }
}
