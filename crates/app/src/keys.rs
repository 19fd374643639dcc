//! The embedded mode's generated secrets: the session key and the test processor's
//! webhook secret.
//!
//! A fresh install should just work, and sessions should survive a restart, so when
//! `JWT_KEY` is not given the embedded mode generates a random key once and keeps it in
//! `DATA_DIR/jwt.key`, readable only by its owner.

use std::path::Path;

use anyhow::Context;
use boxoffice_platform::Secret;

/// Shortest signing key accepted: HS256 keys below 256 bits are guessable offline.
pub const MIN_KEY_LEN: usize = 32;

/// Where the generated session key is kept in `DATA_DIR`.
pub const SESSION_KEY_FILE: &str = "jwt.key";
/// Where the generated webhook secret of the test processor is kept in `DATA_DIR`.
pub const WEBHOOK_KEY_FILE: &str = "webhook.key";
/// Where the generated waiting-room admission key is kept in `DATA_DIR`.
pub const ADMISSION_KEY_FILE: &str = "admission.key";

/// Refuses keys too short to be safe.
pub fn check_key(key: &Secret) -> anyhow::Result<()> {
    anyhow::ensure!(
        key.expose().len() >= MIN_KEY_LEN,
        "JWT_KEY must be at least {MIN_KEY_LEN} characters long"
    );
    Ok(())
}

/// Reads the key kept in `data_dir/file`, creating it on first use.
pub fn load_or_create(data_dir: &Path, file: &str) -> anyhow::Result<Secret> {
    let path = data_dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = Secret::new(text.trim());
            check_key(&key).with_context(|| format!("{} is damaged", path.display()))?;
            Ok(key)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0_u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            let key = hex::encode(bytes);
            write_private(&path, &key)?;
            tracing::info!(path = %path.display(), "generated a new secret key");
            Ok(Secret::new(key))
        }
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create(dir.path(), SESSION_KEY_FILE).expect("create");
        let second = load_or_create(dir.path(), SESSION_KEY_FILE).expect("load");
        let other = load_or_create(dir.path(), WEBHOOK_KEY_FILE).expect("create");
        assert_ne!(first, other, "each file holds its own key");
        assert_eq!(first, second);
        assert!(first.expose().len() >= MIN_KEY_LEN);
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(check_key(&Secret::new("short")).is_err());
        assert!(check_key(&Secret::new("x".repeat(MIN_KEY_LEN))).is_ok());
    }
}
