//! Properties of business-day arithmetic over the whole supported range.

use super::d;
use crate::calendar::{add_business_days, business_days_between, is_business_day, Jurisdiction};
use chrono::{Duration, NaiveDate};
use proptest::prelude::*;

fn jurisdiction() -> impl Strategy<Value = Jurisdiction> {
    prop_oneof![Just(Jurisdiction::CO), Just(Jurisdiction::MX), Just(Jurisdiction::US)]
}

/// Any date from 1 Jan 1990 to early 2098, so that 400 business days (about 600
/// calendar days with weekends and holidays) stay inside 2100.
fn date() -> impl Strategy<Value = NaiveDate> {
    (0i64..39_500).prop_map(|offset| d(1990, 1, 1) + Duration::days(offset))
}

proptest! {
    #[test]
    fn adding_business_days_lands_on_a_business_day(j in jurisdiction(), start in date(), n in 1u32..400) {
        let end = add_business_days(j, start, n).unwrap();
        prop_assert!(end > start);
        prop_assert!(is_business_day(j, end).unwrap());
    }

    #[test]
    fn adding_more_business_days_goes_strictly_later(j in jurisdiction(), start in date(), n in 0u32..400) {
        let here = add_business_days(j, start, n).unwrap();
        let next = add_business_days(j, start, n + 1).unwrap();
        prop_assert!(here < next);
        prop_assert_eq!(business_days_between(j, here, next).unwrap(), 1);
    }

    #[test]
    fn business_days_between_inverts_adding(j in jurisdiction(), start in date(), n in 0u32..400) {
        let end = add_business_days(j, start, n).unwrap();
        prop_assert_eq!(business_days_between(j, start, end).unwrap(), i64::from(n));
        prop_assert_eq!(business_days_between(j, end, start).unwrap(), -i64::from(n));
    }

    #[test]
    fn between_is_additive(j in jurisdiction(), a in date(), b in date(), c in date()) {
        let ab = business_days_between(j, a, b).unwrap();
        let bc = business_days_between(j, b, c).unwrap();
        prop_assert_eq!(ab + bc, business_days_between(j, a, c).unwrap());
    }
}
