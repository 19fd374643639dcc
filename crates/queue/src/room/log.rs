//! The fairness log: every decision of a room, append-only and hash-chained, so that a
//! published head pins everything before it (CONTRACT §12). Buyers appear only by their
//! pseudonym (`pid`).
//!
//! Entry `n` carries `hash = SHA-256(prev ‖ "\n" ‖ body)`, where `prev` is entry `n − 1`'s
//! hash (64 zeros for the first) and `body` the entry's JSON without its two hashes. One
//! entry per line is the exported form that `boxoffice verify-room` reads.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    /// The room was set up; `commitment` is SHA-256 of the secret shuffle seed.
    Commit { commitment: String },
    /// A place was taken (before the opening: in the prequeue; after: at the end).
    Join { pid: String },
    /// The room opened: the prequeue in the order the seed ranks it.
    Ranked { pids: Vec<String> },
    /// A place was let through to buy.
    Admit { pid: String },
    /// A place showed no sign of life for a lease: parked, keeping its rank for a grace.
    Lapse { pid: String },
    /// A parked place came back within its grace.
    Return { pid: String },
    /// A place left the room: it left, its grace ran out, or its admission went unused.
    Release { pid: String },
    /// An admitted place ordered.
    Order { pid: String },
    /// The sale is over: the seed, so that anyone can recompute the shuffle.
    Reveal { seed: String },
    /// Nothing is left to sell; everyone waiting was told.
    SoldOut,
}

/// The part of an entry its hash covers.
#[derive(Debug, Clone, Serialize)]
struct Body<'a> {
    seq: u64,
    at: i64,
    #[serde(flatten)]
    what: &'a What,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// 1, 2, 3, … with no gap.
    pub seq: u64,
    /// When, in Unix milliseconds.
    pub at: i64,
    #[serde(flatten)]
    pub what: What,
    pub prev: String,
    pub hash: String,
}

impl Entry {
    /// The hash this entry must carry after `prev`.
    pub fn expected_hash(&self) -> String {
        chain(&self.prev, self.seq, self.at, &self.what)
    }
}

fn chain(prev: &str, seq: u64, at: i64, what: &What) -> String {
    let body = serde_json::to_string(&Body { seq, at, what }).expect("entries serialize");
    let mut hash = Sha256::new();
    hash.update(prev.as_bytes());
    hash.update(b"\n");
    hash.update(body.as_bytes());
    hex::encode(hash.finalize())
}

/// The newest entry's number and hash: what a `room-state` publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

/// A room's log, in memory.
#[derive(Debug, Clone, Default)]
pub struct FairnessLog {
    entries: Vec<Entry>,
}

impl FairnessLog {
    /// A log read back from storage, refused unless every entry chains onto the one
    /// before with no gap: a damaged log must not be served or appended to.
    pub fn from_entries(entries: Vec<Entry>) -> anyhow::Result<Self> {
        let mut prev = GENESIS.to_owned();
        for (index, entry) in entries.iter().enumerate() {
            anyhow::ensure!(
                entry.seq == index as u64 + 1 && entry.prev == prev,
                "the fairness log breaks at entry {}",
                index + 1
            );
            anyhow::ensure!(
                entry.hash == entry.expected_hash(),
                "entry {} of the fairness log does not match its hash",
                entry.seq
            );
            prev.clone_from(&entry.hash);
        }
        Ok(Self { entries })
    }

    /// Appends `what` at `at` (Unix milliseconds) and returns the new entry.
    pub fn append(&mut self, at: i64, what: What) -> &Entry {
        let seq = self.entries.len() as u64 + 1;
        let prev = self
            .entries
            .last()
            .map_or_else(|| GENESIS.to_owned(), |last| last.hash.clone());
        let hash = chain(&prev, seq, at, &what);
        self.entries.push(Entry {
            seq,
            at,
            what,
            prev,
            hash,
        });
        self.entries.last().expect("just pushed")
    }

    pub fn head(&self) -> Head {
        self.entries.last().map_or_else(
            || Head {
                seq: 0,
                hash: GENESIS.to_owned(),
            },
            |last| Head {
                seq: last.seq,
                hash: last.hash.clone(),
            },
        )
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The exported form: one JSON entry per line.
    pub fn to_lines(&self) -> String {
        let mut out = String::new();
        for entry in &self.entries {
            out.push_str(&serde_json::to_string(entry).expect("entries serialize"));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_entry_chains_onto_the_one_before() {
        let mut log = FairnessLog::default();
        log.append(
            1,
            What::Commit {
                commitment: "c".into(),
            },
        );
        log.append(2, What::Join { pid: "p".into() });
        let entries = log.entries();
        assert_eq!(entries[0].prev, GENESIS);
        assert_eq!(entries[1].prev, entries[0].hash);
        assert!(entries.iter().all(|e| e.hash == e.expected_hash()));
        assert_eq!(log.head().seq, 2);
        assert_eq!(log.head().hash, entries[1].hash);
    }

    #[test]
    fn the_exported_lines_read_back_as_the_same_entries() {
        let mut log = FairnessLog::default();
        log.append(5, What::SoldOut);
        log.append(
            6,
            What::Ranked {
                pids: vec!["a".into(), "b".into()],
            },
        );
        let read: Vec<Entry> = log
            .to_lines()
            .lines()
            .map(|line| serde_json::from_str(line).expect("an entry"))
            .collect();
        assert_eq!(read, log.entries());
        assert!(log.to_lines().contains(r#""kind":"sold_out""#));
    }
}
