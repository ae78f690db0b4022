//! Display masks for roles that may only see masked personal data. This module owns the
//! masking rules; its invariants: every mask is deterministic (the same value always shows
//! the same mask, so agents can tell entries apart), total (any string, even one that never
//! passed `super::pii`, is masked without panicking), and reveals at most the last four
//! characters of a phone or id, the first letter of an e-mail's local part, and initials.

/// Masks an E.164 number as '+' and one '*' per digit but the last four, e.g.
/// "+573001234567" -> "+********4567": agents confirm a number with the debtor by its end.
pub fn mask_phone(e164: &str) -> String {
    match e164.strip_prefix('+') {
        Some(digits) => format!("+{}", keep_last_four(digits)),
        None => keep_last_four(e164),
    }
}

/// Masks an id number all but its last four characters, e.g. "******4050"; an id of four
/// characters or fewer is all '*', since its last four would be the whole id.
pub fn mask_national_id(number: &str) -> String {
    keep_last_four(number)
}

/// Keeps the first character of the local part and the domain, e.g. "m***@example.com":
/// the domain stays so agents can tell addresses apart without seeing the mailbox.
pub fn mask_email(addr: &str) -> String {
    match addr.rsplit_once('@') {
        Some((local, domain)) => {
            format!("{}***@{domain}", local.chars().take(1).collect::<String>())
        }
        None => "***".to_owned(),
    }
}

/// Reduces a name to upper-case initials, e.g. "María Fernanda Gómez" -> "M. F. G.".
pub fn mask_name(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|word| word.chars().next())
        .map(|c| format!("{}.", c.to_uppercase()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn keep_last_four(s: &str) -> String {
    let len = s.chars().count();
    s.chars().enumerate().map(|(i, c)| if len > 4 && i + 4 >= len { c } else { '*' }).collect()
}

#[cfg(test)]
mod tests {
    use super::super::pii::{Jurisdiction, PhoneE164, PiiError};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_phone_mask_keeps_only_the_plus_and_the_last_four_digits() -> Result<(), PiiError> {
        let phone = PhoneE164::parse(Jurisdiction::CO, "300 123 4567", "phone")?;
        assert_eq!(mask_phone(phone.as_str()), "+********4567");
        Ok(())
    }

    #[test]
    fn an_id_mask_keeps_the_last_four_and_hides_short_ids_entirely() {
        assert_eq!(mask_national_id("1020304050"), "******4050");
        assert_eq!(mask_national_id("4050"), "****");
        assert_eq!(mask_national_id("ÑAND850101AB1"), "*********1AB1");
    }

    #[test]
    fn an_email_mask_keeps_the_first_letter_and_the_domain() {
        assert_eq!(mask_email("maria@example.com"), "m***@example.com");
        assert_eq!(mask_email("no-at-sign"), "***");
    }

    #[test]
    fn a_name_mask_is_the_initials_with_dots() {
        assert_eq!(mask_name("María Fernanda Gómez"), "M. F. G.");
        assert_eq!(mask_name("  élodie   o'neil "), "É. O.");
    }

    /// True when `masked` shows nothing of `input` but '*', a leading '+' and the last four.
    fn reveals_at_most_the_last_four(input: &str, masked: &str) -> bool {
        let (input, masked): (Vec<char>, Vec<char>) = (input.chars().collect(), masked.chars().collect());
        let shown_ok = |pos: usize, m: char, c: char| m == c && (pos + 4 >= input.len() || (pos == 0 && c == '+'));
        input.len() == masked.len()
            && masked.iter().zip(&input).enumerate().all(|(pos, (&m, &c))| m == '*' || shown_ok(pos, m, c))
    }

    proptest! {
        #[test]
        fn phone_and_id_masks_never_reveal_more_than_the_last_four_characters(s in ".*") {
            prop_assert!(reveals_at_most_the_last_four(&s, &mask_national_id(&s)));
            prop_assert!(reveals_at_most_the_last_four(&s, &mask_phone(&s)));
        }

        #[test]
        fn an_email_mask_shows_one_letter_of_the_local_part(
            local in "[a-z0-9._]{2,20}", domain in "[a-z]{2,10}\\.co",
        ) {
            let masked = mask_email(&format!("{local}@{domain}"));
            let expected = format!("{}***", local.chars().take(1).collect::<String>());
            prop_assert_eq!(masked.split_once('@'), Some((expected.as_str(), domain.as_str())));
        }

        #[test]
        fn email_and_name_masks_never_panic_on_arbitrary_strings(s in ".*") {
            let _ = (mask_email(&s), mask_name(&s));
        }
    }
}
