//! Price → cents: any text or number is cents or a refusal, never a panic; what is taken
//! is 1 cent ..= 1 000 000.00 and reads back as the same decimal.
#![no_main]

use boxoffice_common::Money;
use boxoffice_common::money::MAX_MAJOR_UNITS;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, f64)| {
    let (text, number) = input;
    for taken in [Money::from_decimal(text), Money::from_major(number)]
        .into_iter()
        .flatten()
    {
        assert!((1..=MAX_MAJOR_UNITS * 100).contains(&taken.minor()));
    }
    if let Ok(money) = Money::from_decimal(text) {
        let again = format!("{}.{:02}", money.minor() / 100, money.minor() % 100);
        assert_eq!(Money::from_decimal(&again), Ok(money));
    }
});
