//! Checking a room's exported log, as anyone can (`boxoffice verify-room`): the chain is
//! unbroken, the revealed seed is the one committed to, the prequeue was served in the
//! order the seed ranks it, and nobody live was passed over.
//!
//! An **inversion** is a pair of places where one was admitted while the other, ahead of
//! it in the room's order, was waiting and live (not parked, not admitted, not gone).

use std::collections::HashMap;

use serde::Serialize;

use super::fairness::Seed;
use super::log::{Entry, GENESIS, What};

/// What the check found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub entries: u64,
    /// The first entry that does not belong where it is, and why; `None`: the chain holds.
    pub broken_at: Option<(u64, String)>,
    /// Whether the revealed seed matches the commitment; `None`: not revealed yet.
    pub seed_matches_commitment: Option<bool>,
    /// Whether the prequeue's ranking is the seed's; `None`: not revealed or not opened.
    pub shuffle_matches: Option<bool>,
    pub inversions: u64,
}

impl Verification {
    /// Every check passed (a log not yet revealed passes what it can show).
    pub fn holds(&self) -> bool {
        self.broken_at.is_none()
            && self.seed_matches_commitment != Some(false)
            && self.shuffle_matches != Some(false)
            && self.inversions == 0
    }
}

/// Reads a log exported one JSON entry per line and checks it.
pub fn verify_lines(text: &str) -> Verification {
    let mut entries = Vec::new();
    for (line_no, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str::<Entry>(line) {
            Ok(entry) => entries.push(entry),
            Err(err) => {
                return Verification {
                    entries: entries.len() as u64,
                    broken_at: Some((line_no as u64 + 1, format!("unreadable entry: {err}"))),
                    ..Verification::default()
                };
            }
        }
    }
    verify(&entries)
}

/// Checks `entries`, oldest first.
pub fn verify(entries: &[Entry]) -> Verification {
    let mut verification = Verification {
        entries: entries.len() as u64,
        broken_at: broken_link(entries),
        ..Verification::default()
    };
    if verification.broken_at.is_some() {
        return verification;
    }
    let commitment = entries.iter().find_map(|e| match &e.what {
        What::Commit { commitment } => Some(commitment.as_str()),
        _ => None,
    });
    let seed = entries.iter().find_map(|e| match &e.what {
        What::Reveal { seed } => Some(Seed::from_hex(seed)),
        _ => None,
    });
    if let Some(seed) = &seed {
        verification.seed_matches_commitment = Some(
            seed.as_ref()
                .is_some_and(|seed| Some(seed.commitment().as_str()) == commitment),
        );
    }
    let (prequeue, ranked) = prequeue_and_ranking(entries);
    if let (Some(Some(seed)), Some(ranked)) = (&seed, &ranked) {
        let shuffled = seed.shuffle(prequeue.iter().map(String::as_str));
        verification.shuffle_matches = Some(
            shuffled.len() == ranked.len() && shuffled.iter().zip(ranked).all(|(a, b)| *a == b),
        );
    }
    verification.inversions = inversions(entries);
    verification
}

fn broken_link(entries: &[Entry]) -> Option<(u64, String)> {
    let mut prev = GENESIS.to_owned();
    for (i, entry) in entries.iter().enumerate() {
        let seq = i as u64 + 1;
        if entry.seq != seq {
            return Some((
                entry.seq,
                format!("numbered {} where {seq} belongs", entry.seq),
            ));
        }
        if entry.prev != prev {
            return Some((seq, "does not follow the entry before it".to_owned()));
        }
        if entry.hash != entry.expected_hash() {
            return Some((seq, "its hash does not match its content".to_owned()));
        }
        prev.clone_from(&entry.hash);
    }
    None
}

/// The pseudonyms in the prequeue when the room opened (joined and not released), and
/// the ranking the room published then.
fn prequeue_and_ranking(entries: &[Entry]) -> (Vec<String>, Option<Vec<String>>) {
    let mut prequeue = std::collections::BTreeSet::new();
    for entry in entries {
        match &entry.what {
            What::Join { pid } => {
                prequeue.insert(pid.clone());
            }
            What::Release { pid } => {
                prequeue.remove(pid);
            }
            What::Ranked { pids } => return (prequeue.into_iter().collect(), Some(pids.clone())),
            _ => {}
        }
    }
    (prequeue.into_iter().collect(), None)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Waiting,
    Parked,
    Admitted,
    Gone,
}

/// Replays the log and counts, at each admission, the live waiting places ahead.
fn inversions(entries: &[Entry]) -> u64 {
    // Each place's position in the room's order: the ranking, then arrival after opening.
    let mut order: HashMap<&str, usize> = HashMap::new();
    let mut standing: HashMap<&str, Standing> = HashMap::new();
    let mut opened = false;
    let mut next_position = 0;
    let mut count = 0;
    for entry in entries {
        match &entry.what {
            What::Join { pid } => {
                standing.insert(pid, Standing::Waiting);
                if opened {
                    order.insert(pid, next_position);
                    next_position += 1;
                }
            }
            What::Ranked { pids } => {
                opened = true;
                for (i, pid) in pids.iter().enumerate() {
                    order.insert(pid, i);
                }
                next_position = pids.len();
            }
            What::Admit { pid } => {
                let Some(&mine) = order.get(pid.as_str()) else {
                    continue;
                };
                count += standing
                    .iter()
                    .filter(|(other, s)| {
                        **s == Standing::Waiting
                            && order.get(*other).is_some_and(|&theirs| theirs < mine)
                    })
                    .count() as u64;
                standing.insert(pid, Standing::Admitted);
            }
            What::Lapse { pid } => {
                standing.insert(pid, Standing::Parked);
            }
            What::Return { pid } => {
                standing.insert(pid, Standing::Waiting);
            }
            What::Release { pid } | What::Order { pid } => {
                standing.insert(pid, Standing::Gone);
            }
            What::Commit { .. } | What::Reveal { .. } | What::SoldOut => {}
        }
    }
    count
}

#[cfg(test)]
mod tests;
