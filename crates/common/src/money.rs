//! Money as integer minor units.
//!
//! The API speaks in major units (`12.5` dollars) because that is what people type, but
//! everything behind the handler works in cents so that `10.1 * 100` never becomes
//! `1009.9999999999999`. Conversion happens exactly once, in [`Money::from_major`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// The largest price the contract accepts, in major units.
pub const MAX_MAJOR_UNITS: i64 = 1_000_000;

/// An amount in minor units (cents). Always positive when built from user input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

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
    /// `12.339999…`. Scaling by 100 and rounding recovers the intended cents; the
    /// tolerance check then rejects inputs that truly had a third decimal. Below the
    /// 1 000 000 ceiling an `f64` holds cents with room to spare, so this is exact.
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
        let scaled = value * 100.0;
        let cents = scaled.round();
        if (scaled - cents).abs() > 1e-6 {
            return Err(MoneyError::TooPrecise);
        }
        if cents < 1.0 {
            return Err(MoneyError::NotPositive);
        }
        // In range by the checks above: 1 ..= 100_000_000.
        Ok(Self(cents as i64))
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
        assert_eq!(Money::from_major(1_000_000.01), Err(MoneyError::TooLarge));
        assert_eq!(Money::from_major(f64::NAN), Err(MoneyError::NotFinite));
    }

    #[test]
    fn cents_render_back_as_major_units() {
        assert_eq!(Money::from_minor(1250).to_major(), 12.5);
        assert_eq!(Money::from_minor(1205).to_string(), "12.05");
    }
}
