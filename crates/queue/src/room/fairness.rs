//! The cryptographic promises of a room (CONTRACT §12): a secret shuffle seed committed to
//! before anyone joins, pseudonyms that let each buyer find only their own place, and the
//! prequeue's order, which anyone can recompute once the seed is revealed.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The secret a room's prequeue is shuffled with. Published only after the sale; its
/// [commitment](Seed::commitment) is published before the first join.
#[derive(Clone, PartialEq, Eq)]
pub struct Seed([u8; 32]);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The seed is a secret until it is revealed: keep it out of logs.
        f.write_str("Seed(…)")
    }
}

impl Seed {
    /// A fresh seed from the operating system's generator.
    pub fn generate() -> anyhow::Result<Self> {
        let mut bytes = [0_u8; 32];
        getrandom::fill(&mut bytes).map_err(|err| anyhow::anyhow!("no randomness: {err}"))?;
        Ok(Self(bytes))
    }

    /// The seed of its revealed hex form.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The hex form published when the seed is revealed.
    pub fn reveal(&self) -> String {
        hex::encode(self.0)
    }

    /// SHA-256 of the seed, in hex: published before anyone joins, so the seed cannot be
    /// chosen afterwards to favour anyone.
    pub fn commitment(&self) -> String {
        hex::encode(Sha256::digest(self.0))
    }

    /// Where a prequeue place with pseudonym `pid` falls in the shuffle:
    /// SHA-256(seed ‖ pid). Places are ranked by this key, smallest first.
    pub fn rank_key(&self, pid: &str) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(self.0);
        hash.update(pid.as_bytes());
        hash.finalize().into()
    }

    /// The prequeue's `pids` in the order the seed ranks them.
    pub fn shuffle<'a>(&self, pids: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        let mut keyed: Vec<([u8; 32], &str)> = pids
            .into_iter()
            .map(|pid| (self.rank_key(pid), pid))
            .collect();
        keyed.sort_unstable();
        keyed.into_iter().map(|(_, pid)| pid).collect()
    }
}

/// A buyer's pseudonym in one room: HMAC-SHA-256(room salt, user id), in hex. The log shows
/// only pseudonyms; each buyer is told their own and cannot work out anyone else's.
pub fn pid(salt: &[u8], user: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(salt).expect("HMAC takes a key of any length");
    mac.update(user.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revealed_seed_matches_its_commitment_and_ranks_the_same() {
        let seed = Seed::generate().expect("seed");
        let revealed = Seed::from_hex(&seed.reveal()).expect("hex");
        assert_eq!(revealed.commitment(), seed.commitment());
        let pids = ["a", "b", "c", "d", "e"];
        assert_eq!(revealed.shuffle(pids), seed.shuffle(pids));
        assert_ne!(
            seed.commitment(),
            seed.reveal(),
            "the commitment hides the seed"
        );
        assert_eq!(format!("{seed:?}"), "Seed(…)");
    }

    #[test]
    fn another_seed_gives_another_order() {
        let pids: Vec<String> = (0..50).map(|i| format!("pid-{i}")).collect();
        let one = Seed::generate().expect("seed");
        let other = Seed::generate().expect("seed");
        assert_ne!(
            one.shuffle(pids.iter().map(String::as_str)),
            other.shuffle(pids.iter().map(String::as_str))
        );
    }

    #[test]
    fn pseudonyms_are_stable_per_room_and_differ_between_rooms() {
        assert_eq!(pid(b"room-1", "user"), pid(b"room-1", "user"));
        assert_ne!(pid(b"room-1", "user"), pid(b"room-2", "user"));
        assert_ne!(pid(b"room-1", "user"), pid(b"room-1", "other"));
        assert_eq!(pid(b"room-1", "user").len(), 64);
    }

    #[test]
    fn malformed_seeds_are_refused() {
        assert!(Seed::from_hex("zz").is_none());
        assert!(Seed::from_hex("abcd").is_none(), "too short");
    }
}
