//! Argon2id password hashing.
//!
//! Hashing costs tens of milliseconds of CPU by design, so it runs on the blocking pool:
//! on the async workers it would stall every other request on the same thread.

use std::sync::LazyLock;

use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::domain::Password;

/// Argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// A hash of a password nobody knows. Sign-in verifies against it when the email is
/// unknown, so a wrong email takes as long as a wrong password and timing does not reveal
/// which accounts exist.
static DECOY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("decoy password that never matches").unwrap_or_default());

/// Computes the decoy hash now, off the async runtime, so that the first sign-in for an
/// unknown email does not take longer than later ones.
pub async fn warm_up() -> anyhow::Result<()> {
    tokio::task::spawn_blocking(|| {
        LazyLock::force(&DECOY_HASH);
    })
    .await
    .context("password hashing task")
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

/// Hashes a new password into a PHC string with a fresh random salt.
pub async fn hash(password: Password) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(password.expose()))
        .await
        .context("password hashing task")?
}

/// Checks a password against a stored PHC string (or the decoy when `stored` is `None`).
/// The comparison inside `argon2` is constant-time.
pub async fn verify(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let is_real = stored.is_some();
        let phc = stored.unwrap_or_else(|| DECOY_HASH.clone());
        let parsed =
            PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
        let matches = hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(is_real && matches)
    })
    .await
    .context("password verification task")?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let password = Password::parse("correct horse battery".into()).expect("valid");
        let phc = hash(password).await.expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(
            verify("correct horse battery".into(), Some(phc.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !verify("wrong horse battery".into(), Some(phc))
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn the_decoy_never_matches() {
        assert!(
            !verify("decoy password that never matches".into(), None)
                .await
                .expect("verify")
        );
    }
}
