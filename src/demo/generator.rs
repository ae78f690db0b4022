//! Deterministic demo portfolio of Colombian debtors.
//!
//! `custodia demo` and the import benchmark need data that looks like a real
//! collections book (Colombian names, cédulas, phones, addresses, and
//! obligations spread over every delinquency stage) yet is the same on every
//! run, so demos are reproducible and benchmarks comparable. Each person comes
//! from its own ChaCha stream keyed by the seed and a "slot" number, so the
//! portfolio is produced lazily, an earlier debtor can be regenerated exactly
//! when it reappears as a guarantor, and cédulas come from a keyed permutation
//! of the slot, which makes them unique by construction rather than by luck.

use super::words::{self, City};
use chrono::{Datelike, Months, NaiveDate, TimeDelta};
use rand::{seq::SliceRandom, Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// Person slots reserved per debtor: the debtor, then two co-parties on each of three obligations.
const SLOTS_PER_DEBTOR: u64 = 8;
/// Size of the legacy 6–8 digit cédula range, the smaller of the two ranges.
const LEGACY_CEDULAS: u64 = 99_900_000;
/// People born from this year on hold the 10-digit cédulas issued since the 2000s.
const FIRST_MODERN_BIRTH_YEAR: i32 = 1985;
/// Stream purposes, so a person's identity never shares random numbers with obligations.
const PERSON_STREAM: u64 = 0;
const OBLIGATION_STREAM: u64 = 1;

/// Largest portfolio whose cédulas are still guaranteed unique; larger specs are truncated.
pub const MAX_DEBTORS: usize = (LEGACY_CEDULAS / SLOTS_PER_DEBTOR) as usize;

/// What to generate: the same spec always yields byte-identical JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortfolioSpec {
    /// How many debtors (top-level parties) to yield, at most [`MAX_DEBTORS`].
    pub debtors: usize,
    /// Seed for every random choice, so demos and benchmarks are reproducible.
    pub seed: u64,
    /// Reference date for ages, due dates, payments and promises.
    pub today: NaiveDate,
}

/// Yields one JSON object per debtor, lazily (an iterator, so 1M debtors never sit in memory).
///
/// Each object is the API's party-creation body, obligations included.
pub fn portfolio(spec: &PortfolioSpec) -> impl Iterator<Item = Value> {
    let spec = *spec;
    (0..spec.debtors.min(MAX_DEBTORS) as u64).map(move |index| debtor(&spec, index))
}

/// A delinquency stage: (status, fewest days past due, most days past due).
type Stage = (&'static str, i64, i64);

/// Stages weighted like a collections book; the first is "preventivo": not yet due.
const STAGES: [(Stage, u32); 9] = [
    (("current", -30, -1), 20),
    (("delinquent", 1, 15), 14),
    (("delinquent", 16, 30), 12),
    (("delinquent", 31, 60), 12),
    (("delinquent", 61, 90), 9),
    (("delinquent", 91, 180), 10),
    (("delinquent", 181, 1_080), 11),
    (("paid", 1, 365), 7),
    (("restructured", -30, 10), 5),
];

/// A credit product: (name, lowest and highest principal in pesos, term in months).
type Product = (&'static str, u64, u64, u64);

/// Products weighted by how often they reach collections.
const PRODUCTS: [(Product, u32); 6] = [
    (("credit_card", 500_000, 25_000_000, 24), 30),
    (("personal_loan", 1_000_000, 60_000_000, 36), 25),
    (("libranza", 2_000_000, 80_000_000, 72), 15),
    (("microcredit", 300_000, 15_000_000, 18), 15),
    (("vehicle_loan", 20_000_000, 150_000_000, 60), 10),
    (("mortgage", 60_000_000, 450_000_000, 180), 5),
];

fn debtor(spec: &PortfolioSpec, index: u64) -> Value {
    let slot = index * SLOTS_PER_DEBTOR;
    let mut party = person(spec, slot);
    let mut rng = stream(spec.seed, slot, OBLIGATION_STREAM);
    let count = weighted(&mut rng, &[(1, 60), (2, 30), (3, 10)]);
    let obligations: Value = (0..count).map(|number| obligation(spec, &mut rng, index, number)).collect();
    if let Some(fields) = party.as_object_mut() {
        fields.insert("obligations".into(), obligations);
    }
    party
}

/// A party without obligations; a pure function of the seed and slot, so it can be regenerated.
fn person(spec: &PortfolioSpec, slot: u64) -> Value {
    let mut rng = stream(spec.seed, slot, PERSON_STREAM);
    let names = pick(&mut rng, &[words::FEMALE_NAMES, words::MALE_NAMES]);
    let given = pick(&mut rng, names);
    let paternal = pick(&mut rng, words::SURNAMES);
    let maternal = pick(&mut rng, words::SURNAMES);
    let born = birth_date(&mut rng, spec.today);
    let city = weighted(&mut rng, &words::CITIES);
    let number = cedula(spec.seed, slot, born).to_string();
    let national_id = object([("type", "CC".into()), ("number", number.into())]);
    object([
        ("external_ref", party_ref(slot).into()),
        ("jurisdiction", "CO".into()),
        ("timezone", "America/Bogota".into()),
        ("full_name", format!("{given} {paternal} {maternal}").into()),
        ("national_id", national_id),
        ("phones", phones(&mut rng, city.area_code)),
        ("emails", emails(&mut rng, given, paternal, born)),
        ("address", address(&mut rng, &city)),
        ("date_of_birth", born.to_string().into()),
    ])
}

fn party_ref(slot: u64) -> String {
    let (debtor, seat) = (slot / SLOTS_PER_DEBTOR + 1, slot % SLOTS_PER_DEBTOR);
    if seat == 0 {
        format!("DEMO-{debtor:07}")
    } else {
        format!("DEMO-{debtor:07}-CP{seat}")
    }
}

/// Age 18–80 on `today`, peaking in the middle years.
fn birth_date(rng: &mut ChaCha8Rng, today: NaiveDate) -> NaiveDate {
    let youngest = today.checked_sub_months(Months::new(12 * 18)).unwrap_or(today);
    let oldest = today.checked_sub_months(Months::new(12 * 81)).and_then(|date| date.succ_opt()).unwrap_or(youngest);
    let span = youngest.signed_duration_since(oldest).num_days().max(0);
    let offset = (rng.gen_range(0..=span) + rng.gen_range(0..=span)) / 2;
    shift(youngest, -offset)
}

/// Legacy 6–8 digit numbers for older people, 10-digit ones from 1,000,000,000 for younger.
fn cedula(seed: u64, slot: u64, born: NaiveDate) -> u64 {
    if born.year() >= FIRST_MODERN_BIRTH_YEAR {
        1_000_000_000 + permute(slot, 200_000_000, mix(seed ^ 0x0A))
    } else {
        100_000 + permute(slot, LEGACY_CEDULAS, mix(seed ^ 0x0B))
    }
}

/// Keyed Feistel permutation of `0..count` with cycle walking: a bijection, so
/// distinct slots (all below `count` thanks to [`MAX_DEBTORS`]) never share a cédula.
fn permute(value: u64, count: u64, key: u64) -> u64 {
    let half = (u64::BITS - count.leading_zeros()).div_ceil(2);
    let mask = (1 << half) - 1;
    let mut x = value % count;
    loop {
        for round in 0..4 {
            let (left, right) = (x >> half, x & mask);
            x = (right << half) | (left ^ (mix(right ^ key.wrapping_add(round)) & mask));
        }
        if x < count {
            return x;
        }
    }
}

/// SplitMix64 finalizer: a cheap, well-spread hash for keys and Feistel rounds.
fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn phones(rng: &mut ChaCha8Rng, area: u8) -> Value {
    let mut phones = vec![contact("mobile", "number", mobile(rng))];
    if rng.gen_bool(0.3) {
        phones.push(contact("home", "number", landline(rng, area)));
    }
    if rng.gen_bool(0.1) {
        let number = if rng.gen_bool(0.5) { landline(rng, area) } else { mobile(rng) };
        phones.push(contact("work", "number", number));
    }
    Value::Array(phones)
}

fn mobile(rng: &mut ChaCha8Rng) -> String {
    let prefix = pick(rng, words::MOBILE_PREFIXES);
    format!("+57{prefix}{:07}", rng.gen_range(0..10_000_000))
}

fn landline(rng: &mut ChaCha8Rng, area: u8) -> String {
    format!("+5760{area}{}", rng.gen_range(2_000_000..9_000_000))
}

/// About 15% of people have no e-mail; local parts are ascii-folded from the name.
fn emails(rng: &mut ChaCha8Rng, given: &str, paternal: &str, born: NaiveDate) -> Value {
    if rng.gen_bool(0.15) {
        return Value::Array(Vec::new());
    }
    let first = ascii_fold(given.split_whitespace().next().unwrap_or(given));
    let last = ascii_fold(paternal);
    let local = match rng.gen_range(0..4) {
        0 => format!("{first}.{last}{}", rng.gen_range(1..10_000)),
        1 => format!("{}{last}{:02}", initials(given), born.year() % 100),
        2 => format!("{first}_{last}{}", rng.gen_range(10..1_000)),
        _ => format!("{first}{last}{}", born.year()),
    };
    let domain = weighted(rng, &words::PERSONAL_DOMAINS);
    let mut emails = vec![contact("personal", "address", format!("{local}@{domain}"))];
    if rng.gen_bool(0.15) {
        let domain = pick(rng, words::WORK_DOMAINS);
        let address = format!("{}{last}@{domain}", initials(given));
        emails.push(contact("work", "address", address));
    }
    Value::Array(emails)
}

fn initials(name: &str) -> String {
    name.split_whitespace().filter_map(|word| ascii_fold(word).chars().next()).collect()
}

/// Lower-cases and strips accents (á→a, ñ→n), dropping anything else non-alphanumeric.
fn ascii_fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            'á' => Some('a'),
            'é' => Some('e'),
            'í' => Some('i'),
            'ó' => Some('o'),
            'ú' | 'ü' => Some('u'),
            'ñ' => Some('n'),
            c if c.is_ascii_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// Colombian grid address, e.g. "Calle 45 # 12-34 Apto 502".
fn address(rng: &mut ChaCha8Rng, city: &City) -> Value {
    let via = weighted(rng, &words::VIAS);
    let line1 = format!(
        "{via} {}{} # {}{}-{:02}{}",
        rng.gen_range(1..=180),
        street_suffix(rng),
        rng.gen_range(1..=120),
        street_suffix(rng),
        rng.gen_range(1..=99),
        unit(rng),
    );
    let postal_code = city.postal_base + rng.gen_range(0..=city.postal_span);
    object([
        ("line1", line1.into()),
        ("city", city.name.into()),
        ("region", city.region.into()),
        ("postal_code", format!("{postal_code:06}").into()),
        ("country", "CO".into()),
    ])
}

fn street_suffix(rng: &mut ChaCha8Rng) -> &'static str {
    weighted(rng, &words::STREET_SUFFIXES)
}

fn unit(rng: &mut ChaCha8Rng) -> String {
    match rng.gen_range(0..100) {
        0..=39 => format!(" Apto {}{:02}", rng.gen_range(1..=25), rng.gen_range(1..=8)),
        40..=54 => format!(" Casa {}", rng.gen_range(1..=80)),
        _ => String::new(),
    }
}

fn obligation(spec: &PortfolioSpec, rng: &mut ChaCha8Rng, debtor: u64, number: u64) -> Value {
    let (product, low, high, months) = weighted(rng, &PRODUCTS);
    let principal = rng.gen_range(low / 10_000..=high / 10_000) * 10_000;
    let (stage, fewest, most) = weighted(rng, &STAGES);
    let days_past_due = rng.gen_range(fewest..=most);
    let status = charge_off(rng, stage, days_past_due);
    let balance = balance(rng, principal, status);
    let due = shift(spec.today, -days_past_due);
    let installment = (principal / months).min((principal - balance) / 4);
    let paid = payments(rng, due.min(spec.today), installment, status == "paid");
    let external_ref = format!("OBL-{:07}-{}", debtor + 1, number + 1);
    object([
        ("external_ref", external_ref.into()),
        ("product", product.into()),
        ("currency", "COP".into()),
        ("principal", money(principal)),
        ("balance", money(balance)),
        ("due_date", due.to_string().into()),
        ("status", status.into()),
        ("payments", paid),
        ("promises", promises(rng, spec.today, status, balance)),
        ("co_parties", co_parties(spec, rng, debtor, number)),
    ])
}

/// Some accounts past 180 days are written off, more often the older they are.
fn charge_off(rng: &mut ChaCha8Rng, status: &'static str, days_past_due: i64) -> &'static str {
    let odds = if days_past_due > 360 { 0.7 } else { 0.3 };
    if status == "delinquent" && days_past_due > 180 && rng.gen_bool(odds) {
        "charged_off"
    } else {
        status
    }
}

/// Outstanding pesos: zero once paid, never above the principal, mostly unpaid when written off.
fn balance(rng: &mut ChaCha8Rng, principal: u64, status: &str) -> u64 {
    let per_mille = match status {
        "paid" => return 0,
        "charged_off" => rng.gen_range(700..=1_000),
        _ => rng.gen_range(150..=1_000),
    };
    (principal * per_mille / 1_000).max(1)
}

/// Up to four monthly installments ending shortly before `until` (due date or
/// today), oldest first; `installment` is small enough that they never exceed what was repaid.
fn payments(rng: &mut ChaCha8Rng, until: NaiveDate, installment: u64, paid_off: bool) -> Value {
    let count = match (paid_off, installment) {
        (true, _) => rng.gen_range(1..=4),
        (false, 0..=9_999) => 0,
        (false, _) => rng.gen_range(0..=4),
    };
    let latest = shift(until, -rng.gen_range(1..=10));
    (0..count)
        .rev()
        .map(|months_back| {
            let amount = (installment * rng.gen_range(80..=100) / 100 / 100 * 100).max(1);
            let paid_on = shift(latest, -30 * months_back).to_string();
            object([("amount", money(amount)), ("paid_on", paid_on.into())])
        })
        .collect()
}

/// About a quarter of delinquent accounts carry a promise: pending ahead, kept or broken behind.
fn promises(rng: &mut ChaCha8Rng, today: NaiveDate, status: &str, balance: u64) -> Value {
    if status != "delinquent" || !rng.gen_bool(0.25) {
        return Value::Array(Vec::new());
    }
    let outcome = weighted(rng, &[("pending", 50), ("kept", 25), ("broken", 25)]);
    let days = match outcome {
        "pending" => rng.gen_range(1..=20),
        _ => -rng.gen_range(1..=45),
    };
    let amount = (balance * rng.gen_range(10..=40) / 100 / 1_000 * 1_000).max(1).min(balance);
    let promised_date = shift(today, days).to_string();
    Value::Array(vec![object([
        ("amount", money(amount)),
        ("promised_date", promised_date.into()),
        ("status", outcome.into()),
    ])])
}

/// About 20% of obligations have a co-debtor or guarantor (rarely both).
fn co_parties(spec: &PortfolioSpec, rng: &mut ChaCha8Rng, debtor: u64, obligation: u64) -> Value {
    if !rng.gen_bool(0.2) {
        return Value::Array(Vec::new());
    }
    let roles: &[&str] = match rng.gen_range(0..100) {
        0..=14 => &["co_debtor", "guarantor"],
        15..=59 => &["guarantor"],
        _ => &["co_debtor"],
    };
    let first_slot = debtor * SLOTS_PER_DEBTOR + 1 + 2 * obligation;
    (first_slot..)
        .zip(roles)
        .map(|(slot, &role)| {
            let party = person(spec, seat(rng, debtor, slot, role));
            object([("role", role.into()), ("party", party)])
        })
        .collect()
}

/// The co-party's slot: one guarantor in ten is an earlier debtor, regenerated
/// exactly, so the same person on two obligations is one party.
fn seat(rng: &mut ChaCha8Rng, debtor: u64, own_slot: u64, role: &str) -> u64 {
    if role == "guarantor" && debtor > 0 && rng.gen_bool(0.1) {
        rng.gen_range(0..debtor) * SLOTS_PER_DEBTOR
    } else {
        own_slot
    }
}

/// An independent, reproducible random stream per person slot and purpose.
fn stream(seed: u64, slot: u64, purpose: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream((slot << 1) | purpose);
    rng
}

/// Draws from a static weighted table; the default is unreachable for non-empty tables.
fn weighted<T: Copy + Default>(rng: &mut ChaCha8Rng, table: &[(T, u32)]) -> T {
    let total: u32 = table.iter().map(|&(_, weight)| weight).sum();
    let mut ticket = rng.gen_range(0..=total.saturating_sub(1));
    for &(item, weight) in table {
        if ticket < weight {
            return item;
        }
        ticket -= weight;
    }
    T::default()
}

fn pick<T: Copy + Default>(rng: &mut ChaCha8Rng, list: &[T]) -> T {
    list.choose(rng).copied().unwrap_or_default()
}

fn shift(date: NaiveDate, days: i64) -> NaiveDate {
    TimeDelta::try_days(days).and_then(|delta| date.checked_add_signed(delta)).unwrap_or(date)
}

fn money(pesos: u64) -> Value {
    format!("{pesos}.00").into()
}

/// Builds a JSON object directly; `json!` would serialize (deep-copy) every nested value.
fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    let mut map = serde_json::Map::new();
    for (key, value) in fields {
        map.insert(key.to_owned(), value);
    }
    Value::Object(map)
}

/// A phone or e-mail entry: its `id` plus the number or address under `field`.
fn contact(id: &str, field: &str, value: String) -> Value {
    object([("id", id.into()), (field, value.into())])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    const PARTY: &str = "external_ref jurisdiction timezone full_name national_id phones emails address date_of_birth";

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 10, 1).unwrap_or_default()
    }

    fn seeded(seed: u64, debtors: usize) -> impl Iterator<Item = Value> {
        portfolio(&PortfolioSpec { debtors, seed, today: today() })
    }

    fn debtors(count: usize) -> impl Iterator<Item = Value> {
        seeded(42, count)
    }

    /// The elements of the array `value[field]`, or none.
    fn each<'a>(value: &'a Value, field: &str) -> std::slice::Iter<'a, Value> {
        value[field].as_array().map(Vec::as_slice).unwrap_or_default().iter()
    }

    fn text<'a>(value: &'a Value, field: &str) -> &'a str {
        value[field].as_str().unwrap_or_default()
    }

    fn pesos(value: &Value, field: &str) -> u64 {
        let amount = text(value, field).strip_suffix(".00");
        amount.and_then(|pesos| pesos.parse().ok()).unwrap_or(u64::MAX)
    }

    fn date(value: &Value, field: &str) -> NaiveDate {
        text(value, field).parse().unwrap_or_default()
    }

    fn assert_keys(value: &Value, expected: &str) {
        let keys: BTreeSet<&str> = value.as_object().into_iter().flat_map(|m| m.keys()).map(String::as_str).collect();
        assert_eq!(keys, expected.split(' ').collect(), "{value}");
    }

    /// The debtor followed by every co-party on its obligations.
    fn people(debtor: &Value) -> Vec<&Value> {
        let co_parties = each(debtor, "obligations").flat_map(|o| each(o, "co_parties"));
        std::iter::once(debtor).chain(co_parties.map(|c| &c["party"])).collect()
    }

    fn obligations(count: usize) -> Vec<Value> {
        debtors(count).flat_map(|d| each(&d, "obligations").cloned().collect::<Vec<_>>()).collect()
    }

    /// A person as serialized JSON, without the obligations only a debtor carries.
    fn identity(person: &Value) -> String {
        let mut identity = person.clone();
        if let Some(fields) = identity.as_object_mut() {
            fields.remove("obligations");
        }
        identity.to_string()
    }

    /// The delinquency stage an obligation is in, or "inconsistent".
    fn stage(obligation: &Value) -> &str {
        let days_past_due = (today() - date(obligation, "due_date")).num_days();
        match (text(obligation, "status"), days_past_due) {
            ("current", ..=-1) => "preventivo",
            ("delinquent", 1..=15) => "1-15",
            ("delinquent", 16..=30) => "16-30",
            ("delinquent", 31..=60) => "31-60",
            ("delinquent", 61..=90) => "61-90",
            ("delinquent", 91..=180) => "91-180",
            ("delinquent", 181..) => "181+",
            ("charged_off", 181..) => "charged_off",
            (status @ ("paid" | "restructured"), _) => status,
            _ => "inconsistent",
        }
    }

    #[test]
    fn the_same_spec_yields_byte_identical_json() {
        let render = || debtors(500).map(|d| d.to_string()).collect::<Vec<_>>();
        assert_eq!(render(), render());
    }

    #[test]
    fn a_different_seed_yields_different_people() {
        let changed = debtors(50).zip(seeded(43, 50)).filter(|(a, b)| a["full_name"] != b["full_name"]).count();
        assert!(changed > 45, "only {changed} of 50 names changed");
    }

    #[test]
    fn external_refs_and_cedulas_are_unique_except_guarantors_who_are_earlier_debtors() {
        let (mut by_cedula, mut by_ref) = (HashMap::new(), HashMap::new());
        let (mut guarantors, mut reused) = (0, 0);
        for debtor in debtors(20_000) {
            for (seat, person) in people(&debtor).into_iter().enumerate() {
                let (cedula, key) = (&person["national_id"]["number"], text(person, "external_ref"));
                let identity = identity(person);
                let earlier = by_ref.insert(key.to_owned(), identity.clone());
                assert_eq!(earlier, by_cedula.insert(cedula.to_string(), identity.clone()));
                if let Some(earlier) = earlier {
                    assert!(seat > 0 && !key.contains("-CP"), "{key} is not an earlier debtor");
                    assert_eq!(earlier, identity);
                    reused += 1;
                }
            }
            let roles = each(&debtor, "obligations").flat_map(|o| each(o, "co_parties"));
            guarantors += roles.filter(|c| text(c, "role") == "guarantor").count();
        }
        assert_eq!(by_cedula.len(), by_ref.len());
        let share = reused as f64 / guarantors as f64;
        assert!((0.06..0.14).contains(&share), "{reused} of {guarantors} guarantors reused");
    }

    #[test]
    fn cedulas_have_six_to_ten_digits_and_no_leading_zero() {
        let mut lengths = BTreeSet::new();
        for debtor in debtors(2_000) {
            let number = text(&debtor["national_id"], "number");
            assert!(!number.starts_with('0') && number.bytes().all(|b| b.is_ascii_digit()), "{number}");
            lengths.insert(number.len());
        }
        assert_eq!(lengths, BTreeSet::from([6, 7, 8, 10]));
    }

    #[test]
    fn every_stage_of_delinquency_appears_in_a_thousand_debtors() {
        let stages: BTreeSet<String> = obligations(1_000).iter().map(|o| stage(o).to_owned()).collect();
        let expected = "preventivo 1-15 16-30 31-60 61-90 91-180 181+ charged_off paid restructured";
        assert_eq!(stages, expected.split(' ').map(str::to_owned).collect());
    }

    #[test]
    fn every_phone_is_a_colombian_mobile_or_landline() {
        for debtor in debtors(2_000) {
            for phone in people(&debtor).into_iter().flat_map(|p| each(p, "phones")) {
                let national = text(phone, "number").strip_prefix("+57").unwrap_or_default();
                let digits = national.len() == 10 && national.bytes().all(|b| b.is_ascii_digit());
                let operator = national.get(..3).and_then(|prefix| prefix.parse().ok());
                let mobile = operator.is_some_and(|prefix| words::MOBILE_PREFIXES.contains(&prefix));
                assert!(digits && (mobile || national.starts_with("60")), "{phone}");
                assert!(["mobile", "home", "work"].contains(&text(phone, "id")));
            }
        }
    }

    #[test]
    fn emails_are_lower_case_ascii_and_some_people_have_none() {
        let debtors: Vec<Value> = debtors(2_000).collect();
        for email in debtors.iter().flat_map(|d| each(d, "emails")) {
            let address = text(email, "address");
            assert!(address.is_ascii() && address == address.to_lowercase(), "{address}");
            assert_eq!(address.matches('@').count(), 1, "{address}");
            assert!(["personal", "work"].contains(&text(email, "id")));
        }
        let without = debtors.iter().filter(|d| each(d, "emails").len() == 0).count();
        assert!((200..400).contains(&without), "{without} of 2000 have no e-mail");
    }

    #[test]
    fn balance_is_positive_and_within_principal_unless_paid() {
        for obligation in obligations(5_000) {
            let (principal, balance) = (pesos(&obligation, "principal"), pesos(&obligation, "balance"));
            match text(&obligation, "status") {
                "paid" => assert_eq!(balance, 0),
                _ => assert!(0 < balance && balance <= principal, "{obligation}"),
            }
        }
    }

    #[test]
    fn payments_are_past_and_only_pending_promises_are_future() {
        for obligation in obligations(5_000) {
            assert!(each(&obligation, "payments").all(|p| date(p, "paid_on") < today()));
            for promise in each(&obligation, "promises") {
                let pending = text(promise, "status") == "pending";
                assert_eq!(pending, date(promise, "promised_date") > today(), "{promise}");
                assert!(pesos(promise, "amount") <= pesos(&obligation, "balance"));
            }
        }
    }

    #[test]
    fn everyone_is_between_eighteen_and_eighty() {
        for debtor in debtors(5_000) {
            let age = today().years_since(date(&debtor, "date_of_birth"));
            assert!(age.is_some_and(|age| (18..=80).contains(&age)), "{age:?}");
        }
    }

    #[test]
    fn a_debtor_object_has_exactly_the_documented_keys() {
        for debtor in debtors(1_000) {
            assert_keys(&debtor, &format!("{PARTY} obligations"));
            for (seat, person) in people(&debtor).into_iter().enumerate() {
                if seat > 0 {
                    assert_keys(person, PARTY);
                }
                assert_keys(&person["national_id"], "type number");
                assert_keys(&person["address"], "line1 city region postal_code country");
                each(person, "phones").for_each(|phone| assert_keys(phone, "id number"));
                each(person, "emails").for_each(|email| assert_keys(email, "id address"));
            }
            for o in each(&debtor, "obligations") {
                let fields =
                    "external_ref product currency principal balance due_date status payments promises co_parties";
                assert_keys(o, fields);
                each(o, "payments").for_each(|p| assert_keys(p, "amount paid_on"));
                each(o, "promises").for_each(|p| assert_keys(p, "amount promised_date status"));
                each(o, "co_parties").for_each(|c| assert_keys(c, "role party"));
            }
        }
    }

    #[test]
    fn a_hundred_thousand_debtors_generate_and_serialize() {
        let serialized = debtors(100_000).filter_map(|d| serde_json::to_string(&d).ok());
        assert_eq!(serialized.count(), 100_000);
    }
}
