//! Money as integer minor units.
//!
//! The API speaks in major units (`12.5` dollars) because that is what people type, but
//! everything behind the handler works in cents so that `10.1 * 100` never becomes
//! `1009.9999999999999`. Conversion happens exactly once, at the edge: a JSON number in
//! [`Money::from_major`], the same amount written as a decimal string (`"20.00"`, what
//! form-based clients send) in [`Money::from_decimal`]. Both apply the same rules in the
//! same order, so a client gets the same error whichever way it wrote the amount.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest price the contract accepts, in major units.
pub const MAX_MAJOR_UNITS: i64 = 1_000_000;

/// An amount in minor units (cents). Always positive when built from user input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

/// An amount in major units as a client sent it: a JSON number (`12.5`), or the same
/// amount as a decimal string (`"12.50"`) — what form-based clients send, the text of
/// their input. Both obey the same rules and get the same errors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MajorUnits<'a> {
    Number(f64),
    Decimal(&'a str),
}

impl From<f64> for MajorUnits<'_> {
    fn from(number: f64) -> Self {
        Self::Number(number)
    }
}

impl<'a> From<&'a str> for MajorUnits<'a> {
    fn from(text: &'a str) -> Self {
        Self::Decimal(text)
    }
}

impl MajorUnits<'_> {
    /// The amount in minor units: [`Money::from_major`] or [`Money::from_decimal`].
    pub fn to_money(self) -> Result<Money, MoneyError> {
        match self {
            Self::Number(number) => Money::from_major(number),
            Self::Decimal(text) => Money::from_decimal(text),
        }
    }
}

/// Why a price was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("price must be greater than 0")]
    NotPositive,
    #[error("price must be at most {MAX_MAJOR_UNITS}")]
    TooLarge,
    #[error("price may have at most 2 decimals")]
    TooPrecise,
    #[error("price must be a finite number")]
    NotFinite,
    /// Text that is not a plain decimal (`"abc"`, `"1e3"`, `" 5"`, `"+5"`, `""`).
    #[error("price must be a decimal number such as 12.50")]
    NotADecimal,
}

impl Money {
    /// Wraps an amount already in minor units (from a store or an event).
    pub const fn from_minor(cents: i64) -> Self {
        Self(cents)
    }

    /// The amount in minor units.
    pub const fn minor(self) -> i64 {
        self.0
    }

    /// Converts a decimal number as received in JSON into minor units.
    ///
    /// A JSON number arrives as the nearest `f64`, so `12.34` is really
    /// `12.339999…`. The shortest decimal that reads back as the same `f64` (what `{}`
    /// prints: `12.34`) is what the client wrote, or a number no client could tell from
    /// it; more than two decimals there is refused — `1.000000001` too, which a
    /// tolerance on the scaled value let through. Then scaling by 100 and rounding gives
    /// the cents exactly: below the 1 000 000 ceiling an `f64` holds cents with room to
    /// spare.
    pub fn from_major(value: f64) -> Result<Self, MoneyError> {
        if !value.is_finite() {
            return Err(MoneyError::NotFinite);
        }
        if value <= 0.0 {
            return Err(MoneyError::NotPositive);
        }
        if value > MAX_MAJOR_UNITS as f64 {
            return Err(MoneyError::TooLarge);
        }
        let shortest = value.to_string();
        if shortest
            .split_once('.')
            .is_some_and(|(_, decimals)| decimals.len() > 2)
        {
            return Err(MoneyError::TooPrecise);
        }
        let cents = (value * 100.0).round();
        if cents < 1.0 {
            return Err(MoneyError::NotPositive);
        }
        // In range by the checks above: 1 ..= 100_000_000.
        Ok(Self(cents as i64))
    }

    /// Converts a decimal string in major units (`"20"`, `"12.50"`) into minor units,
    /// exactly: the digits are read as digits, never through a float.
    ///
    /// The text is a plain decimal: an optional `-`, digits, optionally a point and more
    /// digits (as a JSON number without an exponent, leading zeros allowed). `+`, spaces,
    /// exponents, `".5"` and `"5."` are not prices. A `-` is accepted only to refuse the amount as not
    /// positive, as the number `-5` is. Trailing zeros are not decimals (`"5.000"` is 5,
    /// as the number `5.000` is).
    pub fn from_decimal(text: &str) -> Result<Self, MoneyError> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !digits(fraction) {
            return Err(MoneyError::NotADecimal);
        }
        let whole = whole.trim_start_matches('0');
        let fraction = fraction.trim_end_matches('0');
        if negative || (whole.is_empty() && fraction.is_empty()) {
            return Err(MoneyError::NotPositive);
        }
        // Only ASCII digits remain, at most 7 of them where it is read: no overflow.
        let value = |digits: &str| digits.bytes().fold(0, |n, d| n * 10 + i64::from(d - b'0'));
        if whole.len() > 7 {
            return Err(MoneyError::TooLarge);
        }
        let units = value(whole);
        if units > MAX_MAJOR_UNITS || (units == MAX_MAJOR_UNITS && !fraction.is_empty()) {
            return Err(MoneyError::TooLarge);
        }
        if fraction.len() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        let cents = value(&format!("{fraction:0<2}"));
        Ok(Self(units * 100 + cents))
    }

    /// The amount as a JSON-friendly major-unit number (`1250` cents → `12.5`).
    pub fn to_major(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_prices_become_exact_cents() {
        assert_eq!(Money::from_major(10.1).map(Money::minor), Ok(1010));
        assert_eq!(Money::from_major(12.34).map(Money::minor), Ok(1234));
        assert_eq!(Money::from_major(20.0).map(Money::minor), Ok(2000));
        assert_eq!(Money::from_major(0.01).map(Money::minor), Ok(1));
        assert_eq!(
            Money::from_major(1_000_000.0).map(Money::minor),
            Ok(100_000_000)
        );
    }

    #[test]
    fn out_of_range_or_too_precise_prices_are_refused() {
        assert_eq!(Money::from_major(0.0), Err(MoneyError::NotPositive));
        assert_eq!(Money::from_major(-5.0), Err(MoneyError::NotPositive));
        assert_eq!(Money::from_major(0.001), Err(MoneyError::TooPrecise));
        assert_eq!(Money::from_major(1.234), Err(MoneyError::TooPrecise));
        assert_eq!(
            Money::from_major(1.000000001),
            Err(MoneyError::TooPrecise),
            "a ninth decimal is still a third one"
        );
        assert_eq!(Money::from_major(12.34), Ok(Money(1234)));
        assert_eq!(Money::from_major(0.1 + 0.2), Err(MoneyError::TooPrecise));
        assert_eq!(Money::from_major(999_999.99), Ok(Money(99_999_999)));
        assert_eq!(Money::from_major(1_000_000.01), Err(MoneyError::TooLarge));
        assert_eq!(Money::from_major(f64::NAN), Err(MoneyError::NotFinite));
    }

    #[test]
    fn decimal_strings_become_exact_cents() {
        for (text, cents) in [
            ("20", 2000),
            ("20.00", 2000),
            ("49", 4900),
            ("12.5", 1250),
            ("10.10", 1010),
            ("0.01", 1),
            ("007.50", 750),
            ("5.000", 500),
            ("1000000", 100_000_000),
            ("1000000.00", 100_000_000),
        ] {
            assert_eq!(
                Money::from_decimal(text).map(Money::minor),
                Ok(cents),
                "{text}"
            );
        }
    }

    #[test]
    fn decimal_strings_are_refused_for_the_reasons_numbers_are() {
        for (text, why) in [
            ("0", MoneyError::NotPositive),
            ("0.00", MoneyError::NotPositive),
            ("-1", MoneyError::NotPositive),
            ("-0", MoneyError::NotPositive),
            ("-1.234", MoneyError::NotPositive),
            ("5.001", MoneyError::TooPrecise),
            ("0.001", MoneyError::TooPrecise),
            ("1000000.01", MoneyError::TooLarge),
            ("1000000.001", MoneyError::TooLarge),
            ("99999999999999999999999", MoneyError::TooLarge),
        ] {
            assert_eq!(Money::from_decimal(text), Err(why), "{text}");
            // The same amount as a number gets the same answer.
            let number: f64 = text.parse().expect("a number");
            assert_eq!(Money::from_major(number), Err(why), "{text} as a number");
        }
        for text in [
            "", "abc", "1e3", " 5", "5 ", "+5", "-", ".5", "5.", "1.2.3", "1,50", "0x10", "NaN",
            "inf", "٣",
        ] {
            assert_eq!(
                Money::from_decimal(text),
                Err(MoneyError::NotADecimal),
                "{text:?}"
            );
        }
    }

    #[test]
    fn cents_render_back_as_major_units() {
        assert_eq!(Money::from_minor(1250).to_major(), 12.5);
        assert_eq!(Money::from_minor(1205).to_string(), "12.05");
    }
}
