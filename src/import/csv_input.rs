//! CSV input for `custodia import`: one party per row with at most one phone, one
//! e-mail and one obligation (richer records use NDJSON). Columns, by header name:
//! `external_ref, jurisdiction, timezone, full_name, national_id_type,
//! national_id_number, phone, email, address_line1, address_city, address_region,
//! address_postal_code, address_country, date_of_birth, obligation_ref, product,
//! currency, principal, balance, due_date, status`. Empty cells are absent values.

use crate::obligations::domain::AmountInput;
use crate::vault::domain::{
    Address, EmailInput, InlineObligationInput, Invalid, NationalIdInput, PartyInput, PhoneInput,
};
use std::collections::HashMap;

/// Streams CSV rows as party inputs, numbered by file line (the header is line 1).
pub fn csv_lines<R: std::io::Read>(
    reader: R,
) -> Result<impl Iterator<Item = (u64, Result<PartyInput, Invalid>)>, csv::Error> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(reader);
    let headers: HashMap<String, usize> =
        reader.headers()?.iter().enumerate().map(|(i, h)| (h.trim().to_string(), i)).collect();
    Ok(reader.into_records().enumerate().map(move |(index, row)| {
        let line = index as u64 + 2;
        let parsed = match row {
            Ok(row) => to_input(&Row { headers: &headers, row: &row }),
            Err(_) => Err(Invalid::new(
                "malformed_csv",
                "",
                "the row does not have the header's number of columns or is not valid CSV",
            )),
        };
        (line, parsed)
    }))
}

struct Row<'a> {
    headers: &'a HashMap<String, usize>,
    row: &'a csv::StringRecord,
}

impl Row<'_> {
    fn get(&self, name: &str) -> Option<String> {
        let value = self.row.get(*self.headers.get(name)?)?.trim();
        (!value.is_empty()).then(|| value.to_string())
    }

    fn required(&self, name: &'static str) -> Result<String, Invalid> {
        self.get(name).ok_or_else(|| Invalid::new("missing_field", name, "this column is required"))
    }
}

fn to_input(row: &Row<'_>) -> Result<PartyInput, Invalid> {
    Ok(PartyInput {
        external_ref: row.required("external_ref")?,
        jurisdiction: row.required("jurisdiction")?,
        timezone: row.get("timezone"),
        full_name: row.required("full_name")?,
        national_id: NationalIdInput {
            id_type: row.required("national_id_type")?,
            number: row.required("national_id_number")?,
        },
        phones: row.get("phone").map(|number| PhoneInput { id: "primary".into(), number }).into_iter().collect(),
        emails: row.get("email").map(|address| EmailInput { id: "primary".into(), address }).into_iter().collect(),
        address: address(row)?,
        date_of_birth: row.get("date_of_birth"),
        obligations: obligation(row)?.into_iter().collect(),
    })
}

fn address(row: &Row<'_>) -> Result<Option<Address>, Invalid> {
    let Some(line1) = row.get("address_line1") else { return Ok(None) };
    Ok(Some(Address {
        line1,
        line2: None,
        city: row.required("address_city")?,
        region: row.get("address_region"),
        postal_code: row.get("address_postal_code"),
        country: row.required("address_country")?,
    }))
}

fn obligation(row: &Row<'_>) -> Result<Option<InlineObligationInput>, Invalid> {
    let Some(external_ref) = row.get("obligation_ref") else { return Ok(None) };
    Ok(Some(InlineObligationInput {
        external_ref,
        product: row.required("product")?,
        currency: row.required("currency")?,
        principal: AmountInput::Text(row.required("principal")?),
        balance: AmountInput::Text(row.required("balance")?),
        due_date: row.required("due_date")?,
        status: row.required("status")?,
        payments: Vec::new(),
        promises: Vec::new(),
        co_parties: Vec::new(),
    }))
}
