//! Account rules, free of I/O.

use boxoffice_common::Id;
use time::OffsetDateTime;

/// Longest address accepted, in characters as typed (after trimming): RFC 5321's path
/// limit. Characters, like every other length rule of the API, so that the documented
/// limit (`maxLength`-style, in code points) and the server's agree for any script.
const MAX_EMAIL_CHARS: usize = 254;
const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_CHARS: usize = 128;

pub const EMAIL_INVALID: &str = "Email must be valid";
pub const PASSWORD_INVALID: &str = "Password must be between 8 and 128 characters";

/// A syntactically plausible email address, trimmed and lower-cased.
///
/// Lower-casing here gives case-insensitive uniqueness and look-ups; the stores back
/// it with a unique index on `lower(email)` so the rule holds even against other writers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Accepts `local@domain.tld` without spaces or control characters. Deliverability is
    /// not checked — only that the text can be an address.
    pub fn parse(input: &str) -> Option<Self> {
        let trimmed = input.trim();
        let email = trimmed.to_lowercase();
        if trimmed.chars().count() > MAX_EMAIL_CHARS
            || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return None;
        }
        let (local, domain) = email.rsplit_once('@')?;
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && domain.split('.').all(|label| !label.is_empty());
        (!local.is_empty() && !local.contains('@') && domain_ok).then_some(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password within the length rule. Never trimmed: spaces are part of a password.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Password {
    /// Length is counted in characters, so a passphrase in any script gets the same room.
    pub fn parse(input: String) -> Option<Self> {
        let chars = input.chars().count();
        (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS)
            .contains(&chars)
            .then_some(Self(input))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Id,
    pub email: Email,
    /// The Argon2id PHC string (algorithm, parameters, salt and hash).
    pub password_hash: String,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        let email = Email::parse("  Ann@Example.COM ").expect("valid");
        assert_eq!(email.as_str(), "ann@example.com");
    }

    #[test]
    fn implausible_emails_are_refused() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@@example.com",
            "ann@example..com",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad:?} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(10_000));
        assert!(Email::parse(&long).is_none());
    }

    #[test]
    fn email_length_is_counted_in_characters_after_trimming() {
        // 254 characters of which many take two or three bytes: within the limit.
        let local = "é".repeat(240);
        let at_limit = format!("{local}@ex.ample.c"); // 240 + 11 = 251
        let at_limit = format!("{at_limit}ööö");
        assert_eq!(at_limit.chars().count(), 254);
        assert!(Email::parse(&format!("  {at_limit}\u{3000}")).is_some());
        assert!(Email::parse(&format!("{at_limit}ö")).is_none());
    }

    #[test]
    fn passwords_are_counted_in_characters() {
        assert!(Password::parse("1234567".into()).is_none());
        assert!(Password::parse("12345678".into()).is_some());
        assert!(Password::parse("é".repeat(128)).is_some());
        assert!(Password::parse("é".repeat(129)).is_none());
    }

    #[test]
    fn passwords_do_not_show_in_debug_output() {
        let password = Password::parse("correct horse".into()).expect("valid");
        assert!(!format!("{password:?}").contains("horse"));
    }
}
