//! Personal identifiers as they cross the API edge: this module owns parsing raw strings
//! into validated newtypes (jurisdiction, timezone, national id, phone, e-mail, name,
//! element id, date of birth) and the error type that explains a refusal. Invariants: a
//! value of any type here has passed its parser, because fields are private and the only
//! constructors are the parsers; values are normalized, so one person always yields one
//! `canonical()` string for the blind index; and neither `Debug` nor any `PiiError` ever
//! contains the input, because the input is PII and both end up in logs and responses.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;

/// Why an input was refused. Each variant names the field (a JSON path such as
/// `phones[0].number`) and a fixed rule text, never the value, so errors can be logged and
/// returned to clients as they are.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PiiError {
    /// The phone number is not valid E.164 or does not fit its country's numbering plan.
    #[error("{field}: invalid phone number: {rule}")]
    InvalidPhone { field: String, rule: &'static str },
    /// The e-mail address is malformed.
    #[error("{field}: invalid e-mail address: {rule}")]
    InvalidEmail { field: String, rule: &'static str },
    /// The id number breaks the format or check digit of its id type.
    #[error("{field}: invalid national id: {rule}")]
    InvalidNationalId { field: String, rule: &'static str },
    /// The id type does not exist in the jurisdiction.
    #[error("{field}: unknown id type: {rule}")]
    UnknownIdType { field: String, rule: &'static str },
    /// The jurisdiction code is not one Custodia serves.
    #[error("{field}: unknown jurisdiction: {rule}")]
    UnknownJurisdiction { field: String, rule: &'static str },
    /// The timezone is not an IANA name or not a zone of the jurisdiction.
    #[error("{field}: invalid timezone: {rule}")]
    InvalidTimezone { field: String, rule: &'static str },
    /// The jurisdiction spans several zones, so the zone must be given, never guessed.
    #[error("{field}: timezone required: {rule}")]
    TimezoneRequired { field: String, rule: &'static str },
    /// The date is malformed or out of range.
    #[error("{field}: invalid date: {rule}")]
    InvalidDate { field: String, rule: &'static str },
    /// The person's name is empty, too long or has characters names do not have.
    #[error("{field}: invalid name: {rule}")]
    InvalidName { field: String, rule: &'static str },
    /// The list element id cannot be used in ciphertext associated data.
    #[error("{field}: invalid element id: {rule}")]
    InvalidElementId { field: String, rule: &'static str },
    /// The postal address is malformed; kept here so every PII field shares one error type.
    #[error("{field}: invalid address: {rule}")]
    InvalidAddress { field: String, rule: &'static str },
}

impl PiiError {
    /// Stable machine code for API clients, which must not parse the message.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidPhone { .. } => "invalid_phone",
            Self::InvalidEmail { .. } => "invalid_email",
            Self::InvalidNationalId { .. } => "invalid_national_id",
            Self::UnknownIdType { .. } => "unknown_id_type",
            Self::UnknownJurisdiction { .. } => "unknown_jurisdiction",
            Self::InvalidTimezone { .. } => "invalid_timezone",
            Self::TimezoneRequired { .. } => "timezone_required",
            Self::InvalidDate { .. } => "invalid_date",
            Self::InvalidName { .. } => "invalid_name",
            Self::InvalidElementId { .. } => "invalid_element_id",
            Self::InvalidAddress { .. } => "invalid_address",
        }
    }

    /// The JSON path of the refused field, so clients can point at it.
    pub fn field(&self) -> &str {
        match self {
            Self::InvalidPhone { field, .. }
            | Self::InvalidEmail { field, .. }
            | Self::InvalidNationalId { field, .. }
            | Self::UnknownIdType { field, .. }
            | Self::UnknownJurisdiction { field, .. }
            | Self::InvalidTimezone { field, .. }
            | Self::TimezoneRequired { field, .. }
            | Self::InvalidDate { field, .. }
            | Self::InvalidName { field, .. }
            | Self::InvalidElementId { field, .. }
            | Self::InvalidAddress { field, .. } => field,
        }
    }
}

/// The legal regime a debtor falls under; it decides which ids, phones and zones are valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Jurisdiction {
    /// Colombia.
    CO,
    /// Mexico.
    MX,
    /// United States.
    US,
    /// European Union.
    EU,
}

impl Jurisdiction {
    /// Parses the wire code, ignoring case and surrounding whitespace. Anything else is
    /// refused, never defaulted, because the jurisdiction selects the applicable law.
    pub fn parse(s: &str) -> Result<Self, PiiError> {
        [Self::CO, Self::MX, Self::US, Self::EU]
            .into_iter()
            .find(|j| j.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| PiiError::UnknownJurisdiction {
                field: "jurisdiction".into(),
                rule: "must be one of CO, MX, US, EU",
            })
    }

    /// The wire code, identical to the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CO => "CO",
            Self::MX => "MX",
            Self::US => "US",
            Self::EU => "EU",
        }
    }
}

#[rustfmt::skip]
const MX_ZONES: &[&str] = &[
    "America/Mexico_City", "America/Cancun", "America/Merida", "America/Monterrey",
    "America/Matamoros", "America/Chihuahua", "America/Ciudad_Juarez", "America/Ojinaga",
    "America/Mazatlan", "America/Bahia_Banderas", "America/Hermosillo", "America/Tijuana",
];
#[rustfmt::skip]
const US_ZONES: &[&str] = &[
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "America/Adak", "Pacific/Honolulu",
    "America/Detroit", "America/Boise", "America/Menominee", "America/Juneau", "America/Sitka",
    "America/Metlakatla", "America/Nome", "America/Yakutat", "America/Puerto_Rico",
    "America/St_Thomas", "Pacific/Guam", "Pacific/Saipan", "Pacific/Pago_Pago",
];
const US_ZONE_PREFIXES: &[&str] = &["America/Indiana/", "America/Kentucky/", "America/North_Dakota/"];
const EU_ATLANTIC_ZONES: &[&str] = &["Atlantic/Canary", "Atlantic/Madeira", "Atlantic/Azores"];

/// The debtor's IANA zone, which contact-hour rules are evaluated in. Only zones of the
/// jurisdiction are accepted, so a typo cannot move calling hours to another country.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Timezone(Tz);

impl Timezone {
    /// CO has a single zone and defaults to it; MX, US and EU span several zones, so an
    /// absent (or blank) zone is `timezone_required` rather than a guess.
    pub fn for_jurisdiction(j: Jurisdiction, tz: Option<&str>) -> Result<Self, PiiError> {
        let invalid = |rule| PiiError::InvalidTimezone { field: "timezone".into(), rule };
        match tz.map(str::trim).filter(|s| !s.is_empty()) {
            None if j == Jurisdiction::CO => Ok(Self(Tz::America__Bogota)),
            None => {
                Err(PiiError::TimezoneRequired { field: "timezone".into(), rule: "MX, US and EU span several zones" })
            }
            Some(name) => {
                let tz: Tz = name.parse().map_err(|_| invalid("not an IANA zone name"))?;
                if zone_in(j, tz.name()) {
                    Ok(Self(tz))
                } else {
                    Err(invalid("not a zone of the jurisdiction"))
                }
            }
        }
    }

    /// The zone for date arithmetic.
    pub fn tz(&self) -> Tz {
        self.0
    }

    /// The IANA name, for storage.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

fn zone_in(j: Jurisdiction, name: &str) -> bool {
    match j {
        Jurisdiction::CO => name == "America/Bogota",
        Jurisdiction::MX => MX_ZONES.contains(&name),
        Jurisdiction::US => US_ZONES.contains(&name) || US_ZONE_PREFIXES.iter().any(|p| name.starts_with(p)),
        Jurisdiction::EU => name.starts_with("Europe/") || EU_ATLANTIC_ZONES.contains(&name),
    }
}

/// Every id type Custodia accepts; which jurisdictions allow it is `valid_in`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IdKind {
    Cc,
    Ce,
    Ti,
    Nit,
    Pa,
    Ppt,
    Curp,
    Rfc,
    Ssn,
    Itin,
    Passport,
    NationalId,
    TaxId,
}

impl IdKind {
    #[rustfmt::skip]
    const ALL: [Self; 13] = [
        Self::Cc, Self::Ce, Self::Ti, Self::Nit, Self::Pa, Self::Ppt, Self::Curp,
        Self::Rfc, Self::Ssn, Self::Itin, Self::Passport, Self::NationalId, Self::TaxId,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Cc => "CC",
            Self::Ce => "CE",
            Self::Ti => "TI",
            Self::Nit => "NIT",
            Self::Pa => "PA",
            Self::Ppt => "PPT",
            Self::Curp => "CURP",
            Self::Rfc => "RFC",
            Self::Ssn => "SSN",
            Self::Itin => "ITIN",
            Self::Passport => "PASSPORT",
            Self::NationalId => "NATIONAL_ID",
            Self::TaxId => "TAX_ID",
        }
    }

    fn valid_in(self, j: Jurisdiction) -> bool {
        match self {
            Self::Cc | Self::Ce | Self::Ti | Self::Nit | Self::Pa | Self::Ppt => j == Jurisdiction::CO,
            Self::Curp | Self::Rfc => j == Jurisdiction::MX,
            Self::Ssn | Self::Itin => j == Jurisdiction::US,
            Self::NationalId | Self::TaxId => j == Jurisdiction::EU,
            Self::Passport => j != Jurisdiction::CO,
        }
    }

    fn check(self, n: &str) -> Result<(), &'static str> {
        let (format_ok, rule) = match self {
            Self::Cc => (digits(n, 5, 10) && !n.starts_with('0'), "CC: 5-10 digits, no leading 0"),
            Self::Ce => (digits(n, 6, 10), "CE: 6-10 digits"),
            Self::Ti => (digits(n, 10, 11), "TI: 10-11 digits"),
            Self::Nit => (digits(n, 10, 10), "NIT: 9 digits plus check digit"),
            Self::Pa | Self::Passport => (alnum(n, 5, 20), "passport: 5-20 letters or digits"),
            Self::Ppt => (digits(n, 6, 10), "PPT: 6-10 digits"),
            Self::Curp => (shape(n, "AAAA999999SAAAAAX9"), "CURP: 18-character RENAPO format"),
            Self::Rfc => (
                shape(n, "RRRR999999XXX") || shape(n, "RRR999999XXX"),
                "RFC: 13 characters (persona física) or 12 (moral)",
            ),
            Self::Ssn => (ssn_ok(n), "SSN: 9 digits, assigned area, group and serial"),
            Self::Itin => (itin_ok(n), "ITIN: 9 digits, 9XX area, group 50-65/70-88/90-92/94-99"),
            Self::NationalId | Self::TaxId => (alnum(n, 4, 20), "4-20 letters or digits"),
        };
        let check_ok = match self {
            Self::Nit => nit_check_ok(n),
            Self::Curp => curp_check_ok(n),
            _ => true,
        };
        match (format_ok, check_ok) {
            (false, _) => Err(rule),
            (true, false) => Err("check digit does not match"),
            (true, true) => Ok(()),
        }
    }
}

fn digits(n: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit())
}

fn alnum(n: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Matches `s` against a pattern: `A` letter, `9` digit, `X` letter or digit, `S` CURP sex
/// (H/M/X), `R` RFC letter (A-Z, Ñ, &); any other pattern character matches itself.
fn shape(s: &str, pattern: &str) -> bool {
    s.chars().count() == pattern.len()
        && s.chars().zip(pattern.chars()).all(|(c, p)| match p {
            'A' => c.is_ascii_uppercase(),
            '9' => c.is_ascii_digit(),
            'X' => c.is_ascii_uppercase() || c.is_ascii_digit(),
            'S' => matches!(c, 'H' | 'M' | 'X'),
            'R' => c.is_ascii_uppercase() || c == 'Ñ' || c == '&',
            _ => c == p,
        })
}

const NIT_WEIGHTS: [u32; 15] = [3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71];

/// DIAN rule: weights from the rightmost base digit, remainder mod 11, then 0 and 1 stay
/// and any other remainder r becomes 11 - r.
fn nit_check_ok(n: &str) -> bool {
    let values: Vec<u32> = n.chars().filter_map(|c| c.to_digit(10)).collect();
    let Some((&check, base)) = values.split_last() else {
        return false;
    };
    let r = base.iter().rev().zip(NIT_WEIGHTS).map(|(d, w)| d * w).sum::<u32>() % 11;
    check == if r < 2 { r } else { 11 - r }
}

const CURP_ALPHABET: &str = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ";

/// RENAPO rule: the first 17 values weighted 18 down to 2, check = (10 - sum % 10) % 10.
fn curp_check_ok(n: &str) -> bool {
    let value = |c| CURP_ALPHABET.chars().position(|a| a == c).map(|p| p as u32);
    let Some(values) = n.chars().map(value).collect::<Option<Vec<u32>>>() else {
        return false;
    };
    let Some((&check, body)) = values.split_last() else {
        return false;
    };
    let sum: u32 = body.iter().zip((2..=18).rev()).map(|(v, w)| v * w).sum();
    check == (10 - sum % 10) % 10
}

/// Splits a 9-digit number into (area, group, serial).
fn ssn_parts(n: &str) -> Option<(u32, u32, u32)> {
    let v: u32 = n.parse().ok().filter(|_| digits(n, 9, 9))?;
    Some((v / 1_000_000, v / 10_000 % 100, v % 10_000))
}

fn ssn_ok(n: &str) -> bool {
    matches!(ssn_parts(n), Some((a, g, s)) if a != 0 && a != 666 && a < 900 && g != 0 && s != 0)
}

fn itin_ok(n: &str) -> bool {
    let group_ok = |g| matches!(g, 50..=65 | 70..=88 | 90..=92 | 94..=99);
    matches!(ssn_parts(n), Some((a, g, _)) if a >= 900 && group_ok(g))
}

/// A national id with its kind, so "CC 123" and "NIT 123" are different people.
#[derive(Clone, PartialEq, Eq)]
pub struct NationalId {
    kind: IdKind,
    number: String,
}

impl NationalId {
    /// Resolves `id_type` (case-insensitive) among the kinds of `j`, normalizes the number
    /// (drops whitespace, dots and dashes; upper-cases) and checks format and check digit,
    /// so the vault never stores an id that could not have been issued.
    pub fn parse(j: Jurisdiction, id_type: &str, number: &str, field: &str) -> Result<Self, PiiError> {
        let kind = IdKind::ALL
            .into_iter()
            .find(|k| k.valid_in(j) && k.as_str().eq_ignore_ascii_case(id_type.trim()))
            .ok_or_else(|| PiiError::UnknownIdType {
            field: field.into(),
            rule: "not an id type of the jurisdiction",
        })?;
        let number: String = number
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-'))
            .map(|c| if c == 'ñ' { 'Ñ' } else { c.to_ascii_uppercase() })
            .collect();
        kind.check(&number).map_err(|rule| PiiError::InvalidNationalId { field: field.into(), rule })?;
        Ok(Self { kind, number })
    }

    /// The id type code ("CC", "NIT", "CURP", ...) as clients send it.
    pub fn id_type(&self) -> &'static str {
        self.kind.as_str()
    }

    /// The normalized number, for encryption.
    pub fn number(&self) -> &str {
        &self.number
    }

    /// Blind-index input carrying the kind, so a CC and a NIT with equal digits never collide.
    pub fn canonical(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.number)
    }
}

/// A phone number in E.164 form, the only form the dialer and the blind index accept.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneE164(String);

impl PhoneE164 {
    /// Strips spaces, dashes, dots and parentheses; a number without '+' is read as a
    /// national number of `j` (never for EU, whose countries differ). Numbers of +57, +52 and
    /// +1 must also fit their national plan, so misdialed debt calls are caught at the edge.
    pub fn parse(j: Jurisdiction, input: &str, field: &str) -> Result<Self, PiiError> {
        e164_digits(j, input)
            .map(|d| Self(format!("+{d}")))
            .map_err(|rule| PiiError::InvalidPhone { field: field.into(), rule })
    }

    /// The E.164 string, e.g. "+573001234567".
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Blind-index input, prefixed so it cannot collide with another kind of value.
    pub fn canonical(&self) -> String {
        phone_canonical(&self.0)
    }
}

/// The blind-index input of a stored E.164 number (what [`PhoneE164::canonical`] gives;
/// index rotation recomputes digests from decrypted values through this).
pub fn phone_canonical(e164: &str) -> String {
    format!("phone:{e164}")
}

/// The blind-index input of a stored (already normalised) e-mail address.
pub fn email_canonical(address: &str) -> String {
    format!("email:{address}")
}

fn e164_digits(j: Jurisdiction, input: &str) -> Result<String, &'static str> {
    let trimmed = input.trim();
    let (international, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let d: String = rest.chars().filter(|c| !c.is_whitespace() && !"-().".contains(*c)).collect();
    if !d.bytes().all(|b| b.is_ascii_digit()) {
        return Err("only digits, '+', spaces, dashes, dots and parentheses are allowed");
    }
    let d = if international { d } else { with_country_code(j, &d)? };
    if !(8..=15).contains(&d.len()) || d.starts_with('0') {
        return Err("E.164 needs 8-15 digits, the first not 0");
    }
    if let Some(n) = d.strip_prefix("57") {
        if n.len() != 10 || !(n.starts_with('3') || n.starts_with("60")) {
            return Err("+57 needs 10 digits starting with 3 (mobile) or 60 (landline)");
        }
    } else if let Some(n) = d.strip_prefix("52") {
        if n.len() != 10 {
            return Err("+52 needs 10 national digits");
        }
    } else if let Some(n) = d.strip_prefix('1') {
        if n.len() != 10 || n.starts_with(['0', '1']) {
            return Err("+1 needs 10 digits with an area code not starting with 0 or 1");
        }
    }
    Ok(d)
}

fn with_country_code(j: Jurisdiction, national: &str) -> Result<String, &'static str> {
    match j {
        Jurisdiction::CO => Ok(format!("57{national}")),
        Jurisdiction::MX => Ok(format!("52{national}")),
        Jurisdiction::US if national.len() == 11 && national.starts_with('1') => Ok(national.to_owned()),
        Jurisdiction::US => Ok(format!("1{national}")),
        Jurisdiction::EU => Err("EU numbers need the international form with '+'"),
    }
}

/// A lower-cased e-mail address; lower-casing makes the blind index case-insensitive.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Accepts the common RFC 5322 dot-atom subset: quoted local parts, IP literals and
    /// non-ASCII addresses are refused, because contact channels cannot deliver to them.
    pub fn parse(input: &str, field: &str) -> Result<Self, PiiError> {
        email(input).map(Self).map_err(|rule| PiiError::InvalidEmail { field: field.into(), rule })
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Blind-index input, prefixed so it cannot collide with another kind of value.
    pub fn canonical(&self) -> String {
        email_canonical(&self.0)
    }
}

fn email(input: &str) -> Result<String, &'static str> {
    let addr = input.trim().to_ascii_lowercase();
    if addr.len() > 254 {
        return Err("at most 254 characters");
    }
    let (local, domain) = addr.split_once('@').ok_or("must contain '@'")?;
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    if domain.contains('@') {
        Err("must contain exactly one '@'")
    } else if local.is_empty() || local.len() > 64 || !local.chars().all(atext) {
        Err("local part: 1-64 letters, digits or !#$%&'*+-/=?^_`{|}~.")
    } else if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        Err("local part: no leading, trailing or double dot")
    } else if domain.split('.').count() < 2 || !domain.split('.').all(label_ok) {
        Err("domain: two or more labels of 1-63 a-z, 0-9, '-' not at either end")
    } else if !domain.rsplit('.').next().is_some_and(|t| t.len() >= 2 && t.bytes().all(|b| b.is_ascii_alphabetic())) {
        Err("top-level domain: two or more letters")
    } else {
        Ok(addr)
    }
}

fn label_ok(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A person's full name with whitespace collapsed, so spacing never splits one person in two.
#[derive(Clone, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    /// Letters of any script, spaces, apostrophes (' and ’), hyphens and periods; at least
    /// one letter, 1-200 characters. Names must be NFC: combining marks are refused.
    pub fn parse(input: &str, field: &str) -> Result<Self, PiiError> {
        let name = input.split_whitespace().collect::<Vec<_>>().join(" ");
        let allowed = |c: char| c.is_alphabetic() || matches!(c, ' ' | '\'' | '’' | '-' | '.');
        let rule = if !(1..=200).contains(&name.chars().count()) {
            "1-200 characters"
        } else if !name.chars().all(allowed) {
            "only letters, spaces, apostrophes, hyphens and periods"
        } else if !name.chars().any(char::is_alphabetic) {
            "must contain a letter"
        } else {
            return Ok(Self(name));
        };
        Err(PiiError::InvalidName { field: field.into(), rule })
    }

    /// The normalized name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Id of a list element (`phones[].id`); restricted because it is bound into ciphertext
/// associated data, where any ambiguity would break decryption or allow element swaps.
#[derive(Clone, PartialEq, Eq)]
pub struct ElementId(String);

impl ElementId {
    /// 1-32 characters of a-z, 0-9, '_' and '-', taken as is (no trimming: it must match
    /// the associated data byte for byte).
    pub fn parse(input: &str, field: &str) -> Result<Self, PiiError> {
        let ok = (1..=32).contains(&input.len())
            && input.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(PiiError::InvalidElementId { field: field.into(), rule: "1-32 of a-z, 0-9, '_', '-'" })
        }
    }

    /// The id, for associated data and responses.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses a strict "YYYY-MM-DD" date of birth between 1900-01-01 and `today` inclusive;
/// `today` is passed in so the caller decides the zone and tests stay deterministic.
pub fn parse_date_of_birth(input: &str, today: NaiveDate, field: &str) -> Result<NaiveDate, PiiError> {
    let s = input.trim();
    let rule = match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        _ if !shape(s, "9999-99-99") => "must be YYYY-MM-DD",
        Err(_) => "must be a real calendar date",
        Ok(d) if d > today => "must not be in the future",
        Ok(d) if d.year() < 1900 => "must not be before 1900-01-01",
        Ok(d) => return Ok(d),
    };
    Err(PiiError::InvalidDate { field: field.into(), rule })
}

/// `Debug` prints the type name only: these values are PII and `Debug` output reaches logs.
macro_rules! redacted_debug {
    ($($t:ident),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($t), "(<redacted>)"))
            }
        }
    )*};
}
redacted_debug!(Timezone, NationalId, PhoneE164, Email, FullName, ElementId);

#[cfg(test)]
mod tests {
    use super::Jurisdiction::{CO, EU, MX, US};
    use super::*;
    use proptest::prelude::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;
    const ALL: [Jurisdiction; 4] = [CO, MX, US, EU];

    fn code<T>(r: Result<T, PiiError>) -> Option<&'static str> {
        r.err().map(|e| e.code())
    }

    fn id(j: Jurisdiction, id_type: &str, number: &str) -> Result<NationalId, PiiError> {
        NationalId::parse(j, id_type, number, "national_id.number")
    }

    /// Each case is (id type, input, normalized number if valid).
    fn assert_ids(j: Jurisdiction, cases: &[(&str, &str, Option<&str>)]) {
        for &(t, n, normalized) in cases {
            match normalized {
                Some(want) => {
                    assert_eq!(id(j, t, n).map(|i| i.number().to_owned()), Ok(want.into()))
                }
                None => assert_eq!(code(id(j, t, n)), Some("invalid_national_id"), "{t} {n}"),
            }
        }
    }

    #[test]
    fn jurisdictions_parse_from_their_codes_and_nothing_else() {
        assert_eq!(Jurisdiction::parse(" co "), Ok(CO));
        assert!(ALL.iter().all(|j| Jurisdiction::parse(j.as_str()) == Ok(*j)));
        let err = Jurisdiction::parse("BR").err();
        assert_eq!(err.as_ref().map(|e| (e.code(), e.field())), Some(("unknown_jurisdiction", "jurisdiction")));
    }

    #[test]
    fn colombian_ids_are_checked_per_kind() {
        #[rustfmt::skip]
        let cases = [
            ("CC", "1.020.304.050", Some("1020304050")), ("cc", "12345", Some("12345")),
            ("CC", "0123456", None), ("CC", "1234", None), ("CC", "12345678901", None),
            ("CE", "123456", Some("123456")), ("CE", "12345", None),
            ("TI", "10203040506", Some("10203040506")), ("TI", "123456789", None),
            ("NIT", "900.123.456-8", Some("9001234568")), ("NIT", "8001972684", Some("8001972684")),
            ("NIT", "890903938-8", Some("8909039388")),
            ("NIT", "900123456", None), ("NIT", "900A23456-8", None),
            ("PA", "ab 123456", Some("AB123456")), ("PA", "AB12", None), ("PA", "AB12*34", None),
            ("PPT", "1234567", Some("1234567")), ("PPT", "12345", None),
        ];
        assert_ids(CO, &cases);
    }

    #[test]
    fn a_nit_with_a_wrong_dian_check_digit_is_rejected() {
        for nit in ["900123456-7", "800197268-5", "890903938-0"] {
            let err = id(CO, "NIT", nit).err();
            assert_eq!(err.as_ref().map(PiiError::code), Some("invalid_national_id"));
            assert!(err.is_some_and(|e| e.to_string().contains("check digit")));
        }
    }

    #[test]
    fn mexican_ids_verify_the_curp_check_digit_and_the_rfc_shape() {
        #[rustfmt::skip]
        let cases = [
            ("CURP", "MAHJ280603MSPRRV09", Some("MAHJ280603MSPRRV09")),
            ("curp", "pegj900512hdfrrn06", Some("PEGJ900512HDFRRN06")),
            ("CURP", "MAHJ280603MSPRRV08", None), ("CURP", "PEGJ900512HDFRRN07", None),
            ("CURP", "MAHJ280603ZSPRRV07", None), ("CURP", "MAHJ280603MSPRRV9", None),
            ("RFC", "GOMA850101AB1", Some("GOMA850101AB1")),
            ("RFC", "ñand-850101-ab1", Some("ÑAND850101AB1")),
            ("RFC", "A&B850101XY9", Some("A&B850101XY9")),
            ("RFC", "GOM4850101AB1", None), ("RFC", "GOMA8501AB1", None),
            ("PASSPORT", "G12345678", Some("G12345678")), ("PASSPORT", "G1", None),
        ];
        assert_ids(MX, &cases);
    }

    #[test]
    fn us_ids_reject_forbidden_ssn_areas_groups_and_serials() {
        #[rustfmt::skip]
        let cases = [
            ("SSN", "123-45-6789", Some("123456789")),
            ("SSN", "000-12-3456", None), ("SSN", "666-12-3456", None),
            ("SSN", "900-12-3456", None), ("SSN", "999-12-3456", None),
            ("SSN", "123-00-4567", None), ("SSN", "123-45-0000", None), ("SSN", "12-345-678", None),
            ("ITIN", "912-70-1234", Some("912701234")), ("ITIN", "999-94-0000", Some("999940000")),
            ("ITIN", "812-70-1234", None), ("ITIN", "912-67-1234", None),
            ("ITIN", "912-93-1234", None), ("ITIN", "912-89-1234", None),
            ("PASSPORT", "A12345678", Some("A12345678")),
        ];
        assert_ids(US, &cases);
    }

    #[test]
    fn eu_ids_are_four_to_twenty_letters_or_digits() {
        #[rustfmt::skip]
        let cases = [
            ("NATIONAL_ID", "x1234567l", Some("X1234567L")),
            ("TAX_ID", "DE 123 456 789", Some("DE123456789")),
            ("PASSPORT", "C01X00T47", Some("C01X00T47")), ("NATIONAL_ID", "ABC", None),
            ("TAX_ID", "X1234_567", None), ("NATIONAL_ID", "A123456789B123456789C", None),
        ];
        assert_ids(EU, &cases);
    }

    #[test]
    fn an_id_type_of_another_jurisdiction_is_unknown() {
        for (j, t) in [(CO, "CURP"), (MX, "CC"), (US, "PA"), (CO, "PASSPORT"), (EU, "SSN"), (US, "XYZ")] {
            assert_eq!(code(id(j, t, "123456789")), Some("unknown_id_type"), "{t}");
        }
    }

    #[test]
    fn a_cc_and_a_nit_with_the_same_digits_have_different_canonical_strings() -> TestResult {
        let (cc, nit) = (id(CO, "CC", "9001234568")?, id(CO, "NIT", "900123456-8")?);
        assert_eq!((cc.id_type(), nit.id_type()), ("CC", "NIT"));
        assert_eq!(cc.number(), nit.number());
        assert_eq!((cc.canonical(), nit.canonical()), ("CC:9001234568".into(), "NIT:9001234568".into()));
        Ok(())
    }

    #[test]
    fn phones_with_and_without_plus_normalize_to_e164() -> TestResult {
        #[rustfmt::skip]
        let cases = [
            (CO, "300 123 4567", "+573001234567"), (CO, "+57 (300) 123-4567", "+573001234567"),
            (MX, "55.1234.5678", "+525512345678"), (US, "(415) 555-0100", "+14155550100"),
            (US, "1-415-555-0100", "+14155550100"), (EU, "+34 612 345 678", "+34612345678"),
            (CO, "+44 20 7946 0958", "+442079460958"),
        ];
        for (j, input, e164) in cases {
            assert_eq!(PhoneE164::parse(j, input, "phones[0].number")?.as_str(), e164);
        }
        assert_eq!(PhoneE164::parse(CO, "3001234567", "phone")?.canonical(), "phone:+573001234567");
        Ok(())
    }

    #[test]
    fn colombian_landlines_start_with_60_and_mobiles_with_3() {
        assert!(PhoneE164::parse(CO, "601 234 5678", "phone").is_ok());
        assert!(PhoneE164::parse(CO, "+57 604 444 1234", "phone").is_ok());
        for bad in ["+57 200 123 4567", "+57 612 345 6789", "+57 700 123 4567", "2345678", "+57 300 123 456"] {
            assert_eq!(code(PhoneE164::parse(CO, bad, "phone")), Some("invalid_phone"), "{bad}");
        }
    }

    #[test]
    fn malformed_phones_are_rejected() {
        #[rustfmt::skip]
        let cases = [
            (EU, "612345678"), (MX, "+52 1 55 1234 5678"), (US, "+1 015 555 0100"),
            (US, "115-555-0100"), (US, "5-415-555-0100"), (CO, "+0123456789"), (CO, "+4412345"),
            (CO, "+57 300 abc"), (CO, ""), (CO, "++573001234567"), (CO, "+1234567890123456"),
        ];
        for (j, bad) in cases {
            assert_eq!(code(PhoneE164::parse(j, bad, "phone")), Some("invalid_phone"), "{bad}");
        }
    }

    #[test]
    fn timezones_default_only_for_colombia_and_must_belong_to_the_jurisdiction() -> TestResult {
        assert_eq!(Timezone::for_jurisdiction(CO, None)?.name(), "America/Bogota");
        assert_eq!(Timezone::for_jurisdiction(CO, Some(" "))?.tz(), Tz::America__Bogota);
        for j in [MX, US, EU] {
            assert_eq!(code(Timezone::for_jurisdiction(j, None)), Some("timezone_required"));
        }
        #[rustfmt::skip]
        let invalid = [
            (CO, "America/Mexico_City"), (US, "America/Bogota"), (EU, "America/New_York"),
            (MX, "Mars/Olympus"), (CO, "america/bogota"), (EU, "Asia/Tokyo"), (EU, "Etc/UTC"),
        ];
        for (j, tz) in invalid {
            assert_eq!(code(Timezone::for_jurisdiction(j, Some(tz))), Some("invalid_timezone"), "{tz}");
        }
        #[rustfmt::skip]
        let valid = [
            (US, "America/Indiana/Knox"), (US, "America/Kentucky/Louisville"),
            (EU, "Europe/Madrid"), (EU, "Atlantic/Canary"),
        ];
        for (j, tz) in valid {
            assert_eq!(Timezone::for_jurisdiction(j, Some(tz))?.name(), tz);
        }
        Ok(())
    }

    #[test]
    fn every_listed_mexican_and_us_zone_is_a_real_iana_zone() -> TestResult {
        for (j, zones) in [(MX, MX_ZONES), (US, US_ZONES)] {
            for zone in zones {
                assert_eq!(Timezone::for_jurisdiction(j, Some(zone))?.name(), *zone);
            }
        }
        Ok(())
    }

    #[test]
    fn emails_are_lower_cased_and_validated() -> TestResult {
        let email = Email::parse("  Ana.Maria@Example.CO ", "emails[0].address")?;
        assert_eq!(email.as_str(), "ana.maria@example.co");
        assert_eq!(email.canonical(), "email:ana.maria@example.co");
        let longest_local = format!("{}@x.co", "a".repeat(64));
        for good in ["o'brien+debts@mail.example.com", "a@b.co", &longest_local] {
            assert!(Email::parse(good, "email").is_ok(), "{good}");
        }
        let too_long = [format!("{}@x.co", "a".repeat(65)), format!("a@{}co", "b.".repeat(126))];
        #[rustfmt::skip]
        let bad = [
            "", "ana", "ana@@x.co", "a@b@x.co", ".ana@x.co", "ana.@x.co", "an..a@x.co", "ana@x",
            "ana@x.c", "ana@x.c0", "ana@-x.co", "ana@x-.co", "ana@x..co", "ana maria@x.co",
            "añá@x.co", "ana@x_y.co",
        ];
        for input in bad.into_iter().chain(too_long.iter().map(String::as_str)) {
            assert_eq!(code(Email::parse(input, "email")), Some("invalid_email"), "{input}");
        }
        Ok(())
    }

    #[test]
    fn names_collapse_whitespace_and_allow_only_name_characters() -> TestResult {
        assert_eq!(FullName::parse("  María   Fernanda\tGómez ", "name")?.as_str(), "María Fernanda Gómez");
        for good in ["Seán O'Brien-Smith Jr.", "李小龍", "D’Angelo", &"a".repeat(200)] {
            assert!(FullName::parse(good, "name").is_ok(), "{good}");
        }
        for bad in ["", "   ", "Ana2", "Ana <b>", "-", &"a".repeat(201)] {
            assert_eq!(code(FullName::parse(bad, "name")), Some("invalid_name"), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn element_ids_are_short_lowercase_tokens() {
        for good in ["ph_1-a", "0", &"a".repeat(32)] {
            assert!(ElementId::parse(good, "phones[0].id").is_ok_and(|e| e.as_str() == good));
        }
        for bad in ["", "Ph1", "ph 1", " ph1", "ph.1", &"a".repeat(33)] {
            assert_eq!(code(ElementId::parse(bad, "phones[0].id")), Some("invalid_element_id"), "{bad}");
        }
    }

    #[test]
    fn dates_of_birth_must_be_real_past_dates_since_1900() -> TestResult {
        let today: NaiveDate = "2024-06-15".parse()?;
        assert_eq!(parse_date_of_birth(" 1990-02-28 ", today, "dob")?, "1990-02-28".parse::<NaiveDate>()?);
        assert!(parse_date_of_birth("1900-01-01", today, "dob").is_ok());
        assert!(parse_date_of_birth("2024-06-15", today, "dob").is_ok());
        #[rustfmt::skip]
        let bad = [
            "2024-06-16", "2999-01-01", "1899-12-31", "1990-02-30", "1990-2-3", "90-02-03",
            "1990/02/03", "+1990-02-03",
        ];
        for input in bad {
            assert_eq!(code(parse_date_of_birth(input, today, "dob")), Some("invalid_date"), "{input}");
        }
        Ok(())
    }

    #[test]
    fn debug_output_is_redacted_for_every_newtype() -> TestResult {
        let debugs = [
            ("PhoneE164", format!("{:?}", PhoneE164::parse(CO, "3001234567", "p")?)),
            ("NationalId", format!("{:?}", id(CO, "CC", "1020304050")?)),
            ("Email", format!("{:?}", Email::parse("ana5678@x.co", "e")?)),
            ("FullName", format!("{:?}", FullName::parse("Ana Gómez", "n")?)),
            ("ElementId", format!("{:?}", ElementId::parse("ph_5678", "i")?)),
            ("Timezone", format!("{:?}", Timezone::for_jurisdiction(CO, None)?)),
        ];
        for (name, debug) in debugs {
            assert_eq!(debug, format!("{name}(<redacted>)"));
        }
        Ok(())
    }

    #[test]
    fn errors_name_the_field_and_rule_but_never_the_input() -> TestResult {
        let today: NaiveDate = "2024-01-01".parse()?;
        let errors = [
            PhoneE164::parse(CO, "+57 200 987 6543", "phones[0].number").err(),
            id(CO, "NIT", "900.987.654-3").err(),
            id(US, "SSN", "666-98-7654").err(),
            id(CO, "CURP", "98765432").err(),
            Email::parse("x98765@@y.co", "emails[0].address").err(),
            FullName::parse("Ana 987654", "name").err(),
            ElementId::parse("ID-98765", "phones[0].id").err(),
            parse_date_of_birth("2098-07-06", today, "dob").err(),
        ];
        assert!(errors.iter().all(Option::is_some));
        for err in errors.into_iter().flatten() {
            let (display, debug) = (err.to_string(), format!("{err:?}"));
            assert!(display.starts_with(err.field()), "{display}");
            for text in [display, debug] {
                assert!(!["987", "876", "765", "654", "2098"].iter().any(|d| text.contains(d)), "{text}");
            }
        }
        Ok(())
    }

    fn jurisdiction() -> impl Strategy<Value = Jurisdiction> {
        prop::sample::select(ALL.to_vec())
    }

    fn messy() -> impl Strategy<Value = String> {
        prop_oneof![".*", "[0-9A-Za-zÑñ&@ .+()_-]{0,24}", "\\+?[0-9 ().-]{6,20}"]
    }

    proptest! {
        #[test]
        fn no_parser_panics_on_arbitrary_input(j in jurisdiction(), s in messy(), t in ".*") {
            let _ = (Jurisdiction::parse(&s), Timezone::for_jurisdiction(j, Some(&s)));
            let _ = id(j, &t, &s);
            for kind in IdKind::ALL {
                let _ = id(j, kind.as_str(), &s);
            }
            let _ = (PhoneE164::parse(j, &s, "p"), Email::parse(&s, "e"), FullName::parse(&s, "n"));
            let _ = (ElementId::parse(&s, "i"), parse_date_of_birth(&s, NaiveDate::MAX, "d"));
        }

        #[test]
        fn errors_never_contain_input_digits(j in jurisdiction(), s in "[0-9]{5,20}") {
            let errors = [
                id(j, "CC", &s).err(), id(j, "SSN", &s).err(), id(j, "CURP", &s).err(),
                PhoneE164::parse(j, &s, "p").err(), Email::parse(&s, "e").err(),
                FullName::parse(&s, "n").err(),
                parse_date_of_birth(&s, NaiveDate::MAX, "d").err(),
                Timezone::for_jurisdiction(j, Some(&s)).err(),
            ];
            for err in errors.into_iter().flatten() {
                let (display, debug) = (err.to_string(), format!("{:?}", err));
                prop_assert!(!display.contains(&s) && !debug.contains(&s));
            }
        }

        #[test]
        fn a_parsed_phone_reparses_to_itself(j in jurisdiction(), s in prop_oneof![
            messy(), "\\+57 ?3[0-9]{9}", "60[0-9]{8}", "\\(?[2-9][0-9]{2}\\)? ?[0-9]{3}-[0-9]{4}",
            "\\+[1-9][0-9]{7,14}"
        ]) {
            if let Ok(phone) = PhoneE164::parse(j, &s, "p") {
                for again in ALL {
                    prop_assert_eq!(&PhoneE164::parse(again, phone.as_str(), "p")?, &phone);
                }
            }
        }

        #[test]
        fn debug_of_every_newtype_never_contains_the_input(
            number in "3[0-9]{9}", cc in "[1-9][0-9]{4,9}",
            email in "[a-z]{1,10}@[a-z]{2,10}\\.com",
            name in "[A-Z][a-zé]{1,10} [A-Z][a-z]{1,10}",
            element in "[a-z]{0,9}[0-9_][a-z0-9_-]{0,20}",
            zone in prop::sample::select(MX_ZONES),
        ) {
            let debugs = [
                (format!("{:?}", PhoneE164::parse(CO, &number, "p")?), number),
                (format!("{:?}", id(CO, "CC", &cc)?), cc),
                (format!("{:?}", Email::parse(&email, "e")?), email),
                (format!("{:?}", FullName::parse(&name, "n")?), name),
                (format!("{:?}", ElementId::parse(&element, "i")?), element),
                (format!("{:?}", Timezone::for_jurisdiction(MX, Some(zone))?), zone.to_owned()),
            ];
            for (debug, input) in debugs {
                prop_assert!(debug.ends_with("(<redacted>)") && !debug.contains(&input));
            }
        }
    }
}
