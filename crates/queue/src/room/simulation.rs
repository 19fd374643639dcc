//! The simulation harness: a room on a deterministic clock with scripted buyers who join
//! before and after the opening, keep their place alive, go idle for good or for a while,
//! leave, and order with a probability once admitted. Each sale checks the room's promises
//! as it goes; [`spearman`] measures the prequeue's shuffle over many sales.

use std::collections::HashMap;

use super::engine::{PlaceState, Room, RoomConfig, RoomState, Stock};
use super::fairness::{Seed, pid};
use super::log::What;
use super::service::{RoomSettings, Snapshot, estimate};
use super::verify::verify;

/// One tick of the room's scheduler, in milliseconds.
pub const TICK: i64 = 1_000;
const OPENS_AT: i64 = 60_000;
const HEARTBEAT: i64 = 10_000;
/// Held tickets are paid this long after the order.
const PAY_AFTER: i64 = 8_000;

/// How a scripted buyer behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    /// Keeps the place alive until admitted.
    Loyal,
    /// Goes silent for good at `at`.
    Abandons { at: i64 },
    /// Goes silent at `at` and comes back `for_ms` later.
    Idles { at: i64, for_ms: i64 },
    /// Leaves the room at `at`.
    Leaves { at: i64 },
}

#[derive(Debug, Clone)]
struct Buyer {
    pid: String,
    arrives: i64,
    script: Script,
    /// Orders this long after admission, or never.
    orders_after: Option<i64>,
    last_beat: i64,
    joined: bool,
    admitted_at: Option<i64>,
    ordered: bool,
    /// Left the room: acts no more.
    gone: bool,
    last_position: Option<u64>,
    /// The wait shown to the buyer at its first look once the room was open:
    /// (when, low, high) in milliseconds.
    shown_wait: Option<(i64, i64, Option<i64>)>,
}

/// What a sale did, for the properties over many sales.
#[derive(Debug, Default)]
pub struct SaleReport {
    pub sold: u32,
    pub stock: u32,
    /// Arrival index and rank of each place that was in the prequeue when the room opened.
    pub prequeue_ranks: Vec<(usize, usize)>,
    /// For each buyer admitted after being shown a wait: (low, high, actual), in
    /// milliseconds; `high` is `None` when the room expected the tickets to run out first.
    pub waits: Vec<(i64, Option<i64>, i64)>,
}

/// Runs one sale of `stock` tickets to `buyers` scripted buyers, checking every promise of
/// the room as it goes (a broken promise panics with what broke).
pub fn run_sale(seed: u64, buyers: usize, stock: u32, convert: f64) -> SaleReport {
    let mut rng = fastrand::Rng::with_seed(seed);
    let config = RoomConfig {
        lease_ms: 15_000,
        grace_ms: 30_000,
        admission_ms: 20_000,
        admit_per_minute: 120,
    };
    let room_seed = Seed::from_hex(&format!("{:016x}", rng.u64(..)).repeat(4)).expect("hex");
    let mut room = Room::new(room_seed, OPENS_AT, config, 0);
    let salt = rng.u64(..).to_le_bytes();
    let mut people: Vec<Buyer> = (0..buyers)
        .map(|i| {
            let arrives = rng.i64(0..OPENS_AT * 2);
            let script = match rng.u8(..10) {
                0 => Script::Abandons {
                    at: arrives + rng.i64(0..90_000),
                },
                1 => Script::Idles {
                    at: arrives + rng.i64(0..60_000),
                    for_ms: rng.i64(5_000..60_000),
                },
                2 => Script::Leaves {
                    at: arrives + rng.i64(0..120_000),
                },
                _ => Script::Loyal,
            };
            Buyer {
                pid: pid(&salt, &format!("user-{i}")),
                arrives,
                script,
                orders_after: (rng.f64() < convert).then(|| rng.i64(1_000..15_000)),
                last_beat: arrives,
                joined: false,
                admitted_at: None,
                ordered: false,
                gone: false,
                last_position: None,
                shown_wait: None,
            }
        })
        .collect();
    people.sort_by_key(|b| b.arrives);
    let index_of: HashMap<String, usize> = people
        .iter()
        .enumerate()
        .map(|(i, b)| (b.pid.clone(), i))
        .collect();

    let (mut sold, mut holds): (u32, Vec<i64>) = (0, Vec::new());
    let mut silent_since: HashMap<String, i64> = HashMap::new();
    let mut now = 0;
    while now < 30 * 60_000 && !matches!(room.state(), RoomState::SoldOut) {
        // Buyers act.
        for buyer in &mut people {
            if now < buyer.arrives || buyer.ordered || buyer.gone {
                continue;
            }
            let silent = match buyer.script {
                Script::Abandons { at } => now >= at,
                Script::Idles { at, for_ms } => now >= at && now < at + for_ms,
                Script::Leaves { at } => {
                    if now >= at && buyer.joined && buyer.admitted_at.is_none() {
                        room.leave(&buyer.pid, now);
                        buyer.gone = true;
                    }
                    now >= at
                }
                Script::Loyal => false,
            };
            if silent {
                silent_since
                    .entry(buyer.pid.clone())
                    .or_insert(buyer.last_beat);
                continue;
            }
            silent_since.remove(&buyer.pid);
            if !buyer.joined {
                room.join(&buyer.pid, now);
                buyer.joined = true;
                buyer.last_beat = now;
            } else if now - buyer.last_beat >= HEARTBEAT {
                room.touch(&buyer.pid, now);
                buyer.last_beat = now;
            }
            if let (Some(admitted), Some(after)) = (buyer.admitted_at, buyer.orders_after)
                && now >= admitted + after
                && room.view(&buyer.pid).state == PlaceState::Admitted
            {
                let free = stock - sold - holds.len() as u32;
                if free > 0 {
                    room.ordered(&buyer.pid, now);
                    holds.push(now + PAY_AFTER);
                    buyer.ordered = true;
                }
            }
        }
        // Held tickets are paid.
        let paid = holds.iter().filter(|&&at| at <= now).count() as u32;
        holds.retain(|&at| at > now);
        sold += paid;
        let stock_now = Stock {
            sold,
            free: stock - sold - holds.len() as u32,
            held: holds.len() as u32,
        };
        let outstanding_before = admitted_now(&room);
        let admitted = room.tick(now, stock_now);
        for pid in &admitted {
            let buyer = &mut people[index_of[pid]];
            buyer.admitted_at = Some(now);
        }
        show_waits(&room, &mut people, now, stock_now, config);
        check_tick(
            &room,
            &mut people,
            now,
            stock_now,
            outstanding_before,
            &admitted,
            config,
        );
        now += TICK;
    }
    assert!(sold <= stock, "sold {sold} of {stock}");
    check_log(&mut room, &people, &silent_since, config, now);
    let waits = people
        .iter()
        .filter_map(|b| {
            let (shown, low, high) = b.shown_wait?;
            Some((low, high, b.admitted_at? - shown))
        })
        .collect();
    SaleReport {
        sold,
        stock,
        prequeue_ranks: prequeue_ranks(&room, &index_of),
        waits,
    }
}

/// What each live waiting buyer is told of its wait at its first look after the opening,
/// recorded once per buyer, with the estimate the service gives.
fn show_waits(room: &Room, people: &mut [Buyer], now: i64, stock: Stock, config: RoomConfig) {
    if room.state() == RoomState::Prequeue {
        return;
    }
    let snapshot = Snapshot {
        state: room.state(),
        views: HashMap::new(),
        admissions: HashMap::new(),
        head: room.log().head(),
        stock,
        at: now,
        projection: std::sync::Arc::new(room.projection(now, stock)),
        conversion: room.conversion(),
        waiting: 0,
        opens_in: 0,
    };
    let settings = RoomSettings {
        config,
        ..RoomSettings::default()
    };
    let views = room.views();
    for buyer in people.iter_mut().filter(|b| b.shown_wait.is_none()) {
        let Some(view) = views.get(buyer.pid.as_str()) else {
            continue;
        };
        if view.state != PlaceState::Waiting {
            continue;
        }
        let shown = estimate(view, &snapshot, &settings);
        let millis = |s: u64| s as i64 * 1_000;
        if let Some(low) = shown.low_seconds {
            buyer.shown_wait = Some((now, millis(low), shown.high_seconds.map(millis)));
        }
    }
}

fn admitted_now(room: &Room) -> usize {
    room.views()
        .values()
        .filter(|view| view.state == PlaceState::Admitted)
        .count()
}

/// The promises that can be checked at every tick.
fn check_tick(
    room: &Room,
    people: &mut [Buyer],
    now: i64,
    stock: Stock,
    outstanding_before: usize,
    admitted: &[String],
    config: RoomConfig,
) {
    // A live place's position never goes up.
    let views = room.views();
    for buyer in people.iter_mut() {
        let Some(view) = views.get(buyer.pid.as_str()) else {
            continue;
        };
        match (view.state, view.position, buyer.last_position) {
            (PlaceState::Waiting, Some(now_at), Some(before)) => {
                assert!(
                    now_at <= before,
                    "a live place went from {before} to {now_at} at {now}"
                );
                buyer.last_position = Some(now_at);
            }
            (PlaceState::Waiting, position, _) => buyer.last_position = position,
            _ => buyer.last_position = None,
        }
    }
    // No stall: free stock, someone live waiting and room under both limits → an admission.
    if room.state() == RoomState::Open && stock.free > 0 && admitted.is_empty() {
        let someone_waits = views.values().any(|view| view.state == PlaceState::Waiting);
        let limited = outstanding_before >= stock.free as usize
            || recent_admissions(room, now) >= config.admit_per_minute as usize;
        assert!(
            !someone_waits || limited,
            "stalled at {now}: {} free, {outstanding_before} admitted and unused",
            stock.free
        );
    }
}

fn recent_admissions(room: &Room, now: i64) -> usize {
    room.log()
        .entries()
        .iter()
        .filter(|e| matches!(e.what, What::Admit { .. }) && now - e.at < 60_000)
        .count()
}

/// The promises read off the whole log at the end of a sale.
fn check_log(
    room: &mut Room,
    people: &[Buyer],
    silent_since: &HashMap<String, i64>,
    config: RoomConfig,
    now: i64,
) {
    room.close(now);
    let verification = verify(room.log().entries());
    assert!(verification.holds(), "{verification:?}");
    assert_eq!(verification.shuffle_matches, Some(true));
    let entries = room.log().entries();
    let when = |pid: &str, kind: fn(&What) -> Option<&str>| -> Vec<i64> {
        entries
            .iter()
            .filter(|e| kind(&e.what) == Some(pid))
            .map(|e| e.at)
            .collect()
    };
    fn released(w: &What) -> Option<&str> {
        match w {
            What::Release { pid } => Some(pid.as_str()),
            _ => None,
        }
    }
    fn admitted(w: &What) -> Option<&str> {
        match w {
            What::Admit { pid } => Some(pid.as_str()),
            _ => None,
        }
    }
    let sold_out_at = entries
        .iter()
        .find_map(|e| (e.what == What::SoldOut).then_some(e.at));
    for buyer in people.iter().filter(|b| b.joined) {
        // An abandoned place is released within lease + grace + 1 tick of its last sign
        // of life (or the sale ended first).
        if let (Script::Abandons { .. }, Some(&last)) = (buyer.script, silent_since.get(&buyer.pid))
        {
            let deadline = last.max(OPENS_AT) + config.lease_ms + config.grace_ms + TICK;
            let ended_before = sold_out_at.is_some_and(|at| at <= deadline) || now <= deadline;
            let released_at = when(&buyer.pid, released)
                .into_iter()
                .find(|&at| at >= last);
            let admitted_at = when(&buyer.pid, admitted)
                .into_iter()
                .find(|&at| at >= last);
            // A place admitted or released before its buyer fell silent was no longer
            // waiting to be abandoned.
            let settled_before = when(&buyer.pid, admitted)
                .into_iter()
                .chain(when(&buyer.pid, released))
                .any(|at| at <= last);
            assert!(
                ended_before
                    || settled_before
                    || admitted_at.is_some()
                    || released_at.is_some_and(|at| at <= deadline),
                "abandoned at {last}, released at {released_at:?}"
            );
        }
        // An unused admission is returned within its window + 1 tick.
        if let Some(at) = buyer.admitted_at
            && !buyer.ordered
        {
            let deadline = at + config.admission_ms + TICK;
            let returned = when(&buyer.pid, released)
                .into_iter()
                .any(|r| r >= at && r <= deadline);
            assert!(
                returned || now <= deadline || sold_out_at.is_some_and(|s| s <= deadline),
                "admission at {at} unused and not returned by {deadline}"
            );
        }
    }
}

/// (arrival index, rank) of each place ranked at the opening.
fn prequeue_ranks(room: &Room, index_of: &HashMap<String, usize>) -> Vec<(usize, usize)> {
    let ranked = room.log().entries().iter().find_map(|e| match &e.what {
        What::Ranked { pids } => Some(pids.clone()),
        _ => None,
    });
    let ranked = ranked.unwrap_or_default();
    let mut arrival: Vec<(usize, usize)> = ranked
        .iter()
        .enumerate()
        .map(|(rank, pid)| (index_of[pid], rank))
        .collect();
    // Arrival indices among the ranked only.
    arrival.sort_unstable();
    arrival
        .iter()
        .enumerate()
        .map(|(arrived, &(_, rank))| (arrived, rank))
        .collect()
}

/// Spearman's rank correlation of pairs of ranks (no ties).
pub fn spearman(pairs: &[(usize, usize)]) -> f64 {
    let n = pairs.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let d2: f64 = pairs
        .iter()
        .map(|&(a, b)| (a as f64 - b as f64).powi(2))
        .sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

#[test]
fn two_hundred_sales_keep_every_promise_and_shuffle_without_bias() {
    let mut rhos = Vec::new();
    for sale in 0..200 {
        let report = run_sale(sale, 300, 80, 0.7);
        assert!(report.sold > 0, "sale {sale} sold nothing");
        assert!(
            report.prequeue_ranks.len() > 50,
            "sale {sale}: a prequeue of {}",
            report.prequeue_ranks.len()
        );
        rhos.push(spearman(&report.prequeue_ranks));
    }
    let mean = rhos.iter().sum::<f64>() / rhos.len() as f64;
    assert!(
        mean.abs() < 0.1,
        "arrival and rank correlate: mean ρ {mean}"
    );
}

/// CONTRACT §12's promise about waits: the range shown holds at least 70 % of the actual
/// waits, and its middle is off by less than a quarter in the median — over sales whose
/// buyers idle, leave and convert at random.
#[test]
fn the_waits_shown_are_honest_ranges() {
    let mut errors = Vec::new();
    let (mut inside, mut shown) = (0_usize, 0_usize);
    for sale in 0..60 {
        for (low, high, actual) in run_sale(1_000 + sale, 300, 80, 0.7).waits {
            let Some(high) = high else { continue };
            shown += 1;
            if (low..=high).contains(&actual) {
                inside += 1;
            }
            let middle = (low + high) as f64 / 2.0;
            errors.push((middle - actual as f64).abs() / (actual as f64).max(TICK as f64));
        }
    }
    assert!(shown > 1_000, "only {shown} waits were shown");
    errors.sort_by(f64::total_cmp);
    let median = errors[errors.len() / 2];
    let share = inside as f64 / shown as f64;
    assert!(median < 0.25, "median error {median:.3} over {shown} waits");
    assert!(
        share >= 0.70,
        "{share:.3} of {shown} waits inside the range shown"
    );
}

#[test]
fn a_sale_with_every_buyer_converting_sells_out() {
    let report = run_sale(7, 200, 50, 1.0);
    assert_eq!(report.sold, report.stock);
}

#[test]
fn spearman_sees_order_and_its_reverse() {
    let same: Vec<(usize, usize)> = (0..10).map(|i| (i, i)).collect();
    let reversed: Vec<(usize, usize)> = (0..10).map(|i| (i, 9 - i)).collect();
    assert!((spearman(&same) - 1.0).abs() < 1e-9);
    assert!((spearman(&reversed) + 1.0).abs() < 1e-9);
}
