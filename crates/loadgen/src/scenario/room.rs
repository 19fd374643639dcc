//! The on-sale room: thousands of buyers join an event's waiting room before it opens,
//! wait, are admitted as stock allows, buy with their admission and pay; the rest are
//! told the sale is over. What it measures is what the room promises (CONTRACT §12).
//!
//! Untimed set-up: a creator lists `tickets` seats for a new event and puts a room in
//! front of them opening `opens_in` later; `buyers` sessions are minted. Then every buyer
//! joins at once (the prequeue). The first `watchers` buyers follow the room's live feed
//! and act on `room-admitted` / `room-sold-out`; the others look at their place every
//! `poll` (which also keeps it alive) and notice when they are admitted. An admitted
//! buyer orders one free seat with the admission and pays. A sample of waiting buyers
//! also tries to order without an admission, which must be refused.
//!
//! Afterwards the room's fairness log is fetched and verified (chain, revealed seed,
//! shuffle, inversions), and the log's joins and orders are compared with what the
//! buyers saw: one place per buyer, no more orders than seats.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::Limits;
use super::steps::{ORDER, join_all, pay, until_orders_know};
use crate::client::{Client, Minter};

pub const JOIN: &str = "POST /api/events/:id/room/join";
pub const LOOK: &str = "GET /api/events/:id/room/me";
pub const LIST: &str = "POST /api/tickets (room seat)";
/// From the last payment of the sale to a watcher's `room-sold-out`.
pub const SOLD_OUT_NOTICE: &str = "last payment → room-sold-out";
/// A place admitted → its order placed.
pub const ADMITTED_TO_ORDER: &str = "admitted → order placed";
/// The room computed a `room-state` → a watcher read it.
pub const UPDATE_LAG: &str = "room-state computed → read by a watcher";
/// Live feeds a load-generator connection carries over HTTP/2 (the server takes 200
/// streams per connection).
const FEEDS_PER_CONNECTION: usize = 150;

pub const SHOW_ORDER: &str = "GET /api/orders/:id";
/// How long a buyer whose payment is still processing waits for its order to complete.
const SETTLE_PATIENCE: Duration = Duration::from_secs(120);
/// One in this many polling buyers tries to order without an admission once.
const PROBE_EVERY: usize = 50;
/// Seats an admitted buyer tries before giving up (others admitted with it took them).
const SEAT_TRIES: usize = 20;

#[derive(Debug, Clone)]
pub struct RoomSale {
    pub tickets: usize,
    pub buyers: usize,
    /// Buyers that follow the live feed instead of polling.
    pub watchers: usize,
    /// How long after set-up the room opens.
    pub opens_in: Duration,
    /// How often a polling buyer looks at its place.
    pub poll: Duration,
    /// Carry the live feeds over HTTP/2 (prior knowledge), many per connection, instead of
    /// one connection each: past the open-files limit of one process.
    pub http2: bool,
    pub limits: Limits,
}

/// What set-up made.
#[derive(Debug, Clone)]
pub struct RoomStock {
    pub event_id: String,
    pub creator: String,
    pub tickets: Vec<String>,
    pub buyers: Vec<String>,
}

/// What the run showed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoomOutcome {
    pub elapsed_seconds: f64,
    pub joins: u64,
    pub joins_per_second: f64,
    /// Distinct pseudonyms answered to the joins, and joins in the room's log.
    pub distinct_places: u64,
    pub logged_joins: u64,
    pub admitted: u64,
    pub orders_placed: u64,
    pub paid: u64,
    /// Orders tried without an admission, and those that went through (must be 0).
    pub unadmitted_attempts: u64,
    pub unadmitted_orders: u64,
    /// A waiting buyer's position grew between two looks (must be 0).
    pub positions_increased: u64,
    /// Buyers told the sale is over (feed or look).
    pub told_sold_out: u64,
    pub sold_out_notice_p50_ms: f64,
    pub sold_out_notice_p99_ms: f64,
    pub sold_out_notice_max_ms: f64,
    /// From the fairness log, as `boxoffice verify-room` reads it.
    pub log_entries: u64,
    pub log_intact: bool,
    pub seed_matches_commitment: Option<bool>,
    pub shuffle_matches: Option<bool>,
    pub inversions: u64,
    pub logged_orders: u64,
    pub seats: u64,
    pub stopped_because: String,
}

/// Lists the seats, sets up the room and mints the buyers.
pub async fn set_up(
    client: &Client,
    minter: &Minter,
    config: &RoomSale,
) -> anyhow::Result<RoomStock> {
    let (_, creator) = minter.session()?;
    let starts_at = (time::OffsetDateTime::now_utc() + time::Duration::days(30))
        .format(&time::format_description::well_known::Rfc3339)?;
    let run = uuid::Uuid::now_v7().simple().to_string();
    let body = json!({"name": format!("Room sale {run}"), "venue": "Loadgen Arena", "startsAt": starts_at});
    let event = client
        .send(
            "POST /api/events",
            Method::POST,
            "/api/events",
            Some(&creator),
            Some(&body),
            None,
        )
        .await?;
    anyhow::ensure!(
        event.status == 201,
        "creating the event answered {}",
        event.status
    );
    let event_id = event.body["id"].as_str().unwrap_or_default().to_owned();
    let mut tickets = Vec::with_capacity(config.tickets);
    for chunk in (0..config.tickets).collect::<Vec<_>>().chunks(64) {
        let listed = join_all(chunk.iter().map(|&i| {
            let (client, creator) = (client.clone(), creator.clone());
            let body = json!({"title": format!("Room seat {i}"), "price": 40, "eventId": event_id});
            async move {
                client
                    .send(
                        LIST,
                        Method::POST,
                        "/api/tickets",
                        Some(&creator),
                        Some(&body),
                        None,
                    )
                    .await
            }
        }))
        .await;
        for answer in listed {
            let answer = answer?;
            anyhow::ensure!(answer.status == 201, "listing answered {}", answer.status);
            tickets.push(answer.body["id"].as_str().unwrap_or_default().to_owned());
        }
    }
    if let Some(last) = tickets.last() {
        until_orders_know(client, &creator, last).await?;
    }
    let opens_at = time::OffsetDateTime::now_utc() + config.opens_in;
    let body = json!({"opensAt": opens_at.format(&time::format_description::well_known::Rfc3339)?, "perAccountLimit": 1});
    let path = format!("/api/events/{event_id}/room");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let room = client
            .send(
                "PUT /api/events/:id/room",
                Method::PUT,
                &path,
                Some(&creator),
                Some(&body),
                None,
            )
            .await?;
        if room.status == 200 {
            break;
        }
        // 404 until the queue service has heard of the event.
        anyhow::ensure!(
            room.status == 404 && Instant::now() < deadline,
            "setting up the room answered {}: {}",
            room.status,
            room.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let buyers = (0..config.buyers)
        .map(|_| minter.session().map(|(_, token)| token))
        .collect::<Result<_, _>>()?;
    Ok(RoomStock {
        event_id,
        creator,
        tickets,
        buyers,
    })
}

/// The run's shared state.
struct Shared {
    client: Client,
    stock: RoomStock,
    config: RoomSale,
    permits: Semaphore,
    /// Seats not known to be taken.
    free: Mutex<Vec<String>>,
    pids: Mutex<HashSet<String>>,
    joins: AtomicU64,
    admitted: AtomicU64,
    placed: AtomicU64,
    paid: AtomicU64,
    unadmitted_attempts: AtomicU64,
    unadmitted_orders: AtomicU64,
    positions_increased: AtomicU64,
    told_sold_out: AtomicU64,
    requests: AtomicU64,
    /// When the last payment of the sale succeeded.
    last_paid: Mutex<Option<Instant>>,
    /// Watchers' `room-sold-out` arrivals.
    sold_out_seen: Mutex<Vec<Instant>>,
    started: Instant,
}

impl Shared {
    fn over(&self) -> bool {
        self.started.elapsed() >= self.config.limits.duration
            || self.requests.load(Ordering::Relaxed) >= self.config.limits.max_requests
    }

    async fn send(
        &self,
        endpoint: &'static str,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<crate::client::Answer> {
        let _permit = self.permits.acquire().await?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.client
            .send(endpoint, method, path, Some(token), body, None)
            .await
    }

    fn room_path(&self, tail: &str) -> String {
        format!("/api/events/{}/room{tail}", self.stock.event_id)
    }
}

pub async fn run(
    client: &Client,
    stock: RoomStock,
    config: &RoomSale,
) -> anyhow::Result<RoomOutcome> {
    let shared = Arc::new(Shared {
        client: client.clone(),
        free: Mutex::new(stock.tickets.clone()),
        stock,
        config: config.clone(),
        permits: Semaphore::new(config.limits.concurrency.max(1)),
        pids: Mutex::new(HashSet::new()),
        joins: AtomicU64::new(0),
        admitted: AtomicU64::new(0),
        placed: AtomicU64::new(0),
        paid: AtomicU64::new(0),
        unadmitted_attempts: AtomicU64::new(0),
        unadmitted_orders: AtomicU64::new(0),
        positions_increased: AtomicU64::new(0),
        told_sold_out: AtomicU64::new(0),
        requests: AtomicU64::new(0),
        last_paid: Mutex::new(None),
        sold_out_seen: Mutex::new(Vec::new()),
        started: Instant::now(),
    });

    // Everyone joins at once.
    let joined = join_all(shared.stock.buyers.clone().into_iter().map({
        let shared = Arc::clone(&shared);
        move |buyer| {
            let shared = Arc::clone(&shared);
            async move {
                let answer = shared
                    .send(JOIN, Method::POST, &shared.room_path("/join"), &buyer, None)
                    .await?;
                anyhow::ensure!(
                    answer.status == 202,
                    "joining answered {}: {}",
                    answer.status,
                    answer.body
                );
                shared.joins.fetch_add(1, Ordering::Relaxed);
                let pid = answer.body["pid"].as_str().unwrap_or_default().to_owned();
                shared
                    .pids
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(pid);
                Ok(())
            }
        }
    }))
    .await;
    for outcome in joined {
        outcome?;
    }
    let joined_in = shared.started.elapsed().as_secs_f64();

    let feed_clients = feed_clients(config)?;
    let buyers = shared.stock.buyers.clone();
    let tasks = buyers.into_iter().enumerate().map(|(i, buyer)| {
        let shared = Arc::clone(&shared);
        let feed_client = feed_clients[(i / FEEDS_PER_CONNECTION) % feed_clients.len()].clone();
        async move {
            if i < shared.config.watchers {
                watch(&shared, &feed_client, &buyer).await
            } else {
                poll(&shared, &buyer, i % PROBE_EVERY == 0).await
            }
        }
    });
    for outcome in join_all(tasks).await {
        outcome?;
    }
    outcome(&shared, joined_in).await
}

/// The clients the live feeds go over: one (a connection per feed) over HTTP/1.1; over
/// HTTP/2, one per [`FEEDS_PER_CONNECTION`] feeds, each its own connection.
fn feed_clients(config: &RoomSale) -> anyhow::Result<Vec<reqwest::Client>> {
    if !config.http2 {
        return Ok(vec![reqwest::Client::builder().build()?]);
    }
    (0..config.watchers.div_ceil(FEEDS_PER_CONNECTION).max(1))
        .map(|_| {
            reqwest::Client::builder()
                .http2_prior_knowledge()
                .build()
                .map_err(Into::into)
        })
        .collect()
}

/// A buyer that follows the live feed.
async fn watch(shared: &Shared, http: &reqwest::Client, buyer: &str) -> anyhow::Result<()> {
    let url = format!("{}{}", shared.client.base, shared.room_path("/events"));
    let mut response = http.get(url).bearer_auth(buyer).send().await?;
    anyhow::ensure!(
        response.status() == 200,
        "the live feed answered {}",
        response.status()
    );
    let mut buffer = String::new();
    while !shared.over() {
        let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk()).await;
        let Ok(chunk) = chunk else { continue };
        let Some(bytes) = chunk? else { return Ok(()) };
        buffer.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let name = block
                .lines()
                .find_map(|l| l.strip_prefix("event:"))
                .map(str::trim);
            let data: String = block
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .collect();
            match name {
                Some("room-state") => {
                    let data: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                    if let Some(at) = data["asOf"].as_str().and_then(|t| {
                        time::OffsetDateTime::parse(
                            t,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .ok()
                    }) {
                        let lag = time::OffsetDateTime::now_utc() - at;
                        shared.client.recorder.record_span(
                            UPDATE_LAG,
                            Duration::from_secs_f64(lag.as_seconds_f64().max(0.0)),
                        );
                    }
                }
                Some("room-admitted") => {
                    let data: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                    let token = data["admissionToken"].as_str().unwrap_or_default();
                    buy(shared, buyer, token).await?;
                    return Ok(());
                }
                Some("room-sold-out") => {
                    shared
                        .sold_out_seen
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(Instant::now());
                    shared.told_sold_out.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// A buyer that looks at its place every `poll`.
async fn poll(shared: &Shared, buyer: &str, probe: bool) -> anyhow::Result<()> {
    let mut last_position: Option<u64> = None;
    let mut probed = !probe;
    let path = shared.room_path("/me");
    while !shared.over() {
        let jitter = shared.config.poll.mul_f64(fastrand::f64());
        tokio::time::sleep(shared.config.poll / 2 + jitter).await;
        let place = shared.send(LOOK, Method::GET, &path, buyer, None).await?;
        match place.body["state"].as_str().unwrap_or_default() {
            "admitted" => {
                let token = place.body["admissionToken"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                return buy(shared, buyer, &token).await;
            }
            "sold_out" | "released" | "ordered" => {
                shared.told_sold_out.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            "waiting" | "parked" => {
                let position = place.body["position"].as_u64();
                if let (Some(before), Some(now)) = (last_position, position)
                    && now > before
                {
                    shared.positions_increased.fetch_add(1, Ordering::Relaxed);
                }
                last_position = position;
                if !probed {
                    probed = true;
                    unadmitted_order(shared, buyer).await?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A waiting buyer tries to order without an admission: it must be refused.
async fn unadmitted_order(shared: &Shared, buyer: &str) -> anyhow::Result<()> {
    let Some(seat) = shared
        .free
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .first()
        .cloned()
    else {
        return Ok(());
    };
    shared.unadmitted_attempts.fetch_add(1, Ordering::Relaxed);
    let answer = shared
        .send(
            ORDER,
            Method::POST,
            "/api/orders",
            buyer,
            Some(&json!({"ticketId": seat})),
        )
        .await?;
    if answer.status == 201 {
        shared.unadmitted_orders.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// An admitted buyer orders one free seat with its admission, and pays.
async fn buy(shared: &Shared, buyer: &str, admission: &str) -> anyhow::Result<()> {
    shared.admitted.fetch_add(1, Ordering::Relaxed);
    let admitted = Instant::now();
    for _ in 0..SEAT_TRIES {
        let seat = {
            let free = shared.free.lock().unwrap_or_else(|e| e.into_inner());
            if free.is_empty() {
                return Ok(());
            }
            free[fastrand::usize(..free.len())].clone()
        };
        let body = json!({"ticketId": seat, "admissionToken": admission});
        let answer = shared
            .send(ORDER, Method::POST, "/api/orders", buyer, Some(&body))
            .await?;
        shared
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|s| *s != seat);
        if answer.status != 201 {
            continue;
        }
        shared.placed.fetch_add(1, Ordering::Relaxed);
        shared
            .client
            .recorder
            .record_span(ADMITTED_TO_ORDER, admitted.elapsed());
        let order_id = answer.body["id"].as_str().unwrap_or_default().to_owned();
        let paid = pay(&shared.client, buyer, &order_id, &shared.requests).await?
            || completes(shared, buyer, &order_id).await?;
        if paid {
            shared.paid.fetch_add(1, Ordering::Relaxed);
            *shared.last_paid.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        }
        return Ok(());
    }
    Ok(())
}

/// Whether an order whose payment was still processing when answered completes: looks
/// at it every 100 ms for up to [`SETTLE_PATIENCE`].
async fn completes(shared: &Shared, buyer: &str, order_id: &str) -> anyhow::Result<bool> {
    let deadline = Instant::now() + SETTLE_PATIENCE;
    let path = format!("/api/orders/{order_id}");
    while Instant::now() < deadline {
        let order = shared
            .send(SHOW_ORDER, Method::GET, &path, buyer, None)
            .await?;
        match order.body["status"].as_str().unwrap_or_default() {
            "complete" => return Ok(true),
            "cancelled" => return Ok(false),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    Ok(false)
}

async fn outcome(shared: &Shared, joined_in: f64) -> anyhow::Result<RoomOutcome> {
    let elapsed = shared.started.elapsed().as_secs_f64();
    let last_paid = *shared.last_paid.lock().unwrap_or_else(|e| e.into_inner());
    let mut notices: Vec<f64> = shared
        .sold_out_seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(|seen| {
            last_paid.map(|paid| seen.saturating_duration_since(paid).as_secs_f64() * 1000.0)
        })
        .collect();
    notices.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        if notices.is_empty() {
            0.0
        } else {
            notices[((notices.len() - 1) as f64 * q).round() as usize]
        }
    };
    let log = shared
        .client
        .get_raw(&shared.room_path("/log"), None)
        .send()
        .await?
        .text()
        .await?;
    let verification = boxoffice_queue::room::verify_lines(&log);
    let joins = shared.joins.load(Ordering::Relaxed);
    let stopped_because = if shared.over() {
        "duration or request bound reached".to_owned()
    } else {
        "every buyer bought or was told the sale is over".to_owned()
    };
    Ok(RoomOutcome {
        elapsed_seconds: elapsed,
        joins,
        joins_per_second: joins as f64 / joined_in.max(f64::EPSILON),
        distinct_places: shared.pids.lock().unwrap_or_else(|e| e.into_inner()).len() as u64,
        logged_joins: log.matches(r#""kind":"join""#).count() as u64,
        admitted: shared.admitted.load(Ordering::Relaxed),
        orders_placed: shared.placed.load(Ordering::Relaxed),
        paid: shared.paid.load(Ordering::Relaxed),
        unadmitted_attempts: shared.unadmitted_attempts.load(Ordering::Relaxed),
        unadmitted_orders: shared.unadmitted_orders.load(Ordering::Relaxed),
        positions_increased: shared.positions_increased.load(Ordering::Relaxed),
        told_sold_out: shared.told_sold_out.load(Ordering::Relaxed),
        sold_out_notice_p50_ms: quantile(0.5),
        sold_out_notice_p99_ms: quantile(0.99),
        sold_out_notice_max_ms: quantile(1.0),
        log_entries: verification.entries,
        log_intact: verification.broken_at.is_none(),
        seed_matches_commitment: verification.seed_matches_commitment,
        shuffle_matches: verification.shuffle_matches,
        inversions: verification.inversions,
        logged_orders: log.matches(r#""kind":"order""#).count() as u64,
        seats: shared.stock.tickets.len() as u64,
        stopped_because,
    })
}

impl RoomOutcome {
    /// The room's promises that this run can check; the broken ones, in words.
    pub fn broken_promises(&self) -> Vec<String> {
        let mut broken = Vec::new();
        let mut check = |ok: bool, what: &str| {
            if !ok {
                broken.push(what.to_owned());
            }
        };
        check(self.distinct_places == self.joins, "a place per buyer");
        check(
            self.logged_joins == self.joins,
            "every join in the log, once",
        );
        check(self.unadmitted_orders == 0, "no order without an admission");
        check(
            self.positions_increased == 0,
            "a waiting place never moves back",
        );
        check(self.log_intact, "the log's hash chain holds");
        check(
            self.seed_matches_commitment != Some(false),
            "the revealed seed is the committed one",
        );
        check(
            self.shuffle_matches != Some(false),
            "the prequeue's order is the seed's",
        );
        check(self.inversions == 0, "nobody passed over");
        check(
            self.orders_placed <= self.seats,
            "no more orders than seats",
        );
        broken
    }
}
