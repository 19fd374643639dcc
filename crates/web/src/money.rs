//! Amounts as people read them. The API speaks major units as JSON numbers; a page turns
//! them into integer cents once, here, and formats from cents — no float arithmetic is
//! ever shown.

/// Integer cents of an API amount (`20.5` → 2050); `None` for anything that is not one.
pub fn cents(amount: &serde_json::Value) -> Option<i64> {
    let major = amount.as_f64()?;
    let cents = (major * 100.0).round();
    (cents.is_finite() && cents.abs() < 1e15).then_some(cents as i64)
}

/// `2050` in `usd` → `$20.50`; other currencies as `20.50 EUR`.
pub fn format(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let (major, minor) = (cents.abs() / 100, cents.abs() % 100);
    let grouped = group_thousands(major);
    match currency.to_ascii_lowercase().as_str() {
        "usd" => format!("{sign}${grouped}.{minor:02}"),
        "eur" => format!("{sign}€{grouped}.{minor:02}"),
        "gbp" => format!("{sign}£{grouped}.{minor:02}"),
        other => format!("{sign}{grouped}.{minor:02} {}", other.to_ascii_uppercase()),
    }
}

/// An API amount formatted, or an empty string when there is none.
pub fn show(amount: &serde_json::Value, currency: &str) -> String {
    cents(amount).map_or_else(String::new, |cents| format(cents, currency))
}

fn group_thousands(value: i64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn amounts_are_shown_from_cents() {
        assert_eq!(cents(&json!(20.5)), Some(2050));
        assert_eq!(cents(&json!(0.1)), Some(10));
        assert_eq!(cents(&json!("x")), None);
        assert_eq!(format(2050, "usd"), "$20.50");
        assert_eq!(format(123_456_789, "usd"), "$1,234,567.89");
        assert_eq!(format(5, "chf"), "0.05 CHF");
        assert_eq!(show(&json!(1000000), "eur"), "€1,000,000.00");
    }
}
