//! The basket rush: many buyers ask for 2–4 seats together of the same event at once.
//!
//! Untimed set-up: each of `events` sellers creates an event (`POST /api/events`, starting
//! in a month) and lists its share of `tickets` seats for it (`eventId` and a serial number
//! each); `buyers` buyer sessions are prepared. Then every buyer is released: each looks
//! at the [`SeatMap`], picks 2–4 adjacent seats near the front of an event and orders them
//! as one basket (`ticketIds`). Buyers in flight at once pick overlapping baskets, so the
//! all-or-nothing rule of multi-ticket orders is exercised on every race. A winner pays
//! (`tok_visa`), cancels, or lets the hold be, in the configured shares; a refused buyer
//! looks again, a few times. The rush ends when no two adjacent seats are left.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use super::seat_map::SeatMap;
use super::steps::{join_all, pay, until_orders_know};
use super::{Limits, run_workers};
use crate::client::{Client, Minter};
use crate::recorder::EndpointSummary;

pub const CREATE_EVENT: &str = "POST /api/events";
pub const LIST: &str = "POST /api/tickets (event seat)";
/// A basket order: `POST /api/orders {"ticketIds": [..]}`.
pub const BASKET: &str = "POST /api/orders (basket)";
pub const CANCEL: &str = "DELETE /api/orders/:id";
/// The winner's wait from the basket's `201` to the payment's `201 succeeded`.
pub const BASKET_TO_PAID: &str = "basket placed → payment succeeded";

/// Shares of winners who pay and who cancel, unless told otherwise.
pub const PAY_SHARE: f64 = 0.6;
pub const CANCEL_SHARE: f64 = 0.2;
/// Largest basket a buyer asks for.
pub const MAX_BASKET: usize = 4;
/// Baskets one buyer tries before giving up.
pub const ATTEMPTS_PER_BUYER: u32 = 5;
/// How far ahead the rush's events start.
const STARTS_IN: time::Duration = time::Duration::days(30);

#[derive(Debug, Clone)]
pub struct BasketRush {
    /// Events on sale, one per seller.
    pub events: usize,
    /// Seats over all events.
    pub tickets: usize,
    pub buyers: usize,
    /// Share of winners who pay at once.
    pub pay_share: f64,
    /// Share of winners who cancel at once (the rest let the hold be).
    pub cancel_share: f64,
    pub limits: Limits,
}

/// The events on sale: `seats[e]` are event `e`'s ticket ids, front row first.
#[derive(Debug, Clone)]
pub struct Stock {
    pub event_ids: Vec<String>,
    pub seats: Vec<Vec<String>>,
}

/// What the timed part achieved.
#[derive(Debug, Clone, Serialize)]
pub struct BasketOutcome {
    pub elapsed_seconds: f64,
    /// Basket orders sent, and per second.
    pub attempts: u64,
    pub attempts_per_second: f64,
    /// Baskets answered 201 (held whole) and 400 (refused whole).
    pub won: u64,
    pub refused: u64,
    /// Baskets answered with anything else (none, when all is well).
    pub other: u64,
    pub tickets_won: u64,
    pub paid: u64,
    pub tickets_paid: u64,
    pub cancelled: u64,
    /// Winners who let the hold be.
    pub left_held: u64,
    /// Payments or cancellations that did not go through.
    pub failed_follow_ups: u64,
    /// Basket order latency.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub buyers_released: u64,
    pub stopped_because: String,
}

/// Creates the events, lists their seats and waits until the orders service knows them.
pub async fn set_up(
    client: &Client,
    minter: &Minter,
    config: &BasketRush,
) -> anyhow::Result<(Stock, Vec<String>)> {
    let events = config.events.clamp(1, (config.tickets / 2).max(1));
    let sellers: Vec<String> = (0..events)
        .map(|_| minter.session().map(|(_, token)| token))
        .collect::<Result<_, _>>()?;
    let starts_at = (time::OffsetDateTime::now_utc() + STARTS_IN)
        .format(&time::format_description::well_known::Rfc3339)?;
    let run = uuid::Uuid::now_v7().simple().to_string();
    let mut event_ids = Vec::with_capacity(events);
    for (e, seller) in sellers.iter().enumerate() {
        let body = json!({
            "name": format!("Basket rush {run} #{e}"),
            "venue": "Loadgen Arena",
            "startsAt": starts_at,
        });
        let answer = client
            .send(
                CREATE_EVENT,
                Method::POST,
                "/api/events",
                Some(seller),
                Some(&body),
                None,
            )
            .await?;
        anyhow::ensure!(
            matches!(answer.status, 200 | 201),
            "creating an event answered {}: {}",
            answer.status,
            answer.body
        );
        event_ids.push(id_of(&answer.body)?);
    }

    let mut seats: Vec<Vec<String>> = vec![Vec::new(); events];
    let indices: Vec<usize> = (0..config.tickets).collect();
    for chunk in indices.chunks(64) {
        let listed = join_all(chunk.iter().map(|&i| {
            let (event, seat) = (i % events, i / events);
            let body = json!({
                "title": format!("Seat {}", seat + 1),
                "price": 20 + (seat % 4) * 10,
                "eventId": event_ids[event],
                "serialNumber": format!("SEAT-{:05}", seat + 1),
            });
            let (client, token) = (client.clone(), sellers[event].clone());
            async move {
                let path = "/api/tickets";
                let answer = client
                    .send(LIST, Method::POST, path, Some(&token), Some(&body), None)
                    .await?;
                anyhow::ensure!(
                    answer.status == 201 && answer.body["eventId"] == body["eventId"],
                    "listing a seat for event {} answered {}: {}",
                    body["eventId"],
                    answer.status,
                    answer.body
                );
                anyhow::Ok((event, id_of(&answer.body)?))
            }
        }))
        .await;
        for answer in listed {
            let (event, ticket) = answer?;
            seats[event].push(ticket);
        }
    }
    if let Some(last) = config.tickets.checked_sub(1) {
        let ticket = &seats[last % events][last / events];
        until_orders_know(client, &sellers[last % events], ticket).await?;
    }
    let buyers = (0..config.buyers)
        .map(|_| minter.session().map(|(_, token)| token))
        .collect::<Result<_, _>>()?;
    Ok((Stock { event_ids, seats }, buyers))
}

fn id_of(body: &Value) -> anyhow::Result<String> {
    body["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no id in {body}"))
}

struct Shared {
    client: Client,
    stock: Stock,
    map: SeatMap,
    buyers: Vec<String>,
    next_buyer: AtomicUsize,
    requests: AtomicU64,
    tickets_won: AtomicU64,
    paid: AtomicU64,
    tickets_paid: AtomicU64,
    cancelled: AtomicU64,
    left_held: AtomicU64,
    failed_follow_ups: AtomicU64,
    sold_out: AtomicBool,
    config: BasketRush,
    started: Instant,
}

impl Shared {
    fn should_stop(&self) -> bool {
        self.sold_out.load(Ordering::Relaxed)
            || self.started.elapsed() >= self.config.limits.duration
            || self.requests.load(Ordering::Relaxed) >= self.config.limits.max_requests
    }
}

/// Releases every buyer at once and returns what happened.
pub async fn run(
    client: &Client,
    stock: Stock,
    buyers: Vec<String>,
    config: &BasketRush,
) -> anyhow::Result<BasketOutcome> {
    let shared = Arc::new(Shared {
        client: client.clone(),
        map: SeatMap::new(stock.seats.iter().map(Vec::len)),
        stock,
        buyers,
        next_buyer: AtomicUsize::new(0),
        requests: AtomicU64::new(0),
        tickets_won: AtomicU64::new(0),
        paid: AtomicU64::new(0),
        tickets_paid: AtomicU64::new(0),
        cancelled: AtomicU64::new(0),
        left_held: AtomicU64::new(0),
        failed_follow_ups: AtomicU64::new(0),
        sold_out: AtomicBool::new(false),
        config: config.clone(),
        started: Instant::now(),
    });
    run_workers(config.limits.concurrency, &shared, worker).await?;
    Ok(outcome(&shared))
}

fn outcome(shared: &Shared) -> BasketOutcome {
    let elapsed = shared.started.elapsed().as_secs_f64();
    let recorder = &shared.client.recorder;
    let attempts = recorder.requests(BASKET);
    let (won, refused) = (recorder.count(BASKET, 201), recorder.count(BASKET, 400));
    let latency = recorder
        .endpoints()
        .into_iter()
        .find(|e| e.endpoint == BASKET);
    let stopped_because = if shared.sold_out.load(Ordering::Relaxed) {
        "no two adjacent seats were left"
    } else if elapsed >= shared.config.limits.duration.as_secs_f64() {
        "duration bound reached"
    } else if shared.requests.load(Ordering::Relaxed) >= shared.config.limits.max_requests {
        "request bound reached"
    } else {
        "every buyer had a turn"
    };
    BasketOutcome {
        elapsed_seconds: elapsed,
        attempts,
        attempts_per_second: attempts as f64 / elapsed.max(f64::EPSILON),
        won,
        refused,
        other: attempts - won - refused,
        tickets_won: shared.tickets_won.load(Ordering::Relaxed),
        paid: shared.paid.load(Ordering::Relaxed),
        tickets_paid: shared.tickets_paid.load(Ordering::Relaxed),
        cancelled: shared.cancelled.load(Ordering::Relaxed),
        left_held: shared.left_held.load(Ordering::Relaxed),
        failed_follow_ups: shared.failed_follow_ups.load(Ordering::Relaxed),
        p50_ms: latency.as_ref().map_or(0.0, |e: &EndpointSummary| e.p50_ms),
        p99_ms: latency.as_ref().map_or(0.0, |e| e.p99_ms),
        buyers_released: shared
            .next_buyer
            .load(Ordering::Relaxed)
            .min(shared.buyers.len()) as u64,
        stopped_because: stopped_because.to_owned(),
    }
}

async fn worker(shared: Arc<Shared>) -> anyhow::Result<()> {
    let mut rng = fastrand::Rng::new();
    while !shared.should_stop() {
        let index = shared.next_buyer.fetch_add(1, Ordering::Relaxed);
        let Some(buyer) = shared.buyers.get(index) else {
            return Ok(());
        };
        buy(&shared, buyer, &mut rng).await?;
    }
    Ok(())
}

/// One buyer: ask for seats together until a basket is held (then pay, cancel or wait)
/// or the attempts run out.
async fn buy(shared: &Shared, token: &str, rng: &mut fastrand::Rng) -> anyhow::Result<()> {
    for _ in 0..ATTEMPTS_PER_BUYER {
        if shared.should_stop() {
            return Ok(());
        }
        let wanted = rng.usize(super::seat_map::MIN_BASKET..=MAX_BASKET);
        let Some((event, seats)) = shared.map.choose_any(wanted, rng) else {
            shared.sold_out.store(true, Ordering::Relaxed);
            return Ok(());
        };
        let ids = &shared.stock.seats[event][seats.clone()];
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let answer = shared
            .client
            .send(
                BASKET,
                Method::POST,
                "/api/orders",
                Some(token),
                Some(&json!({ "ticketIds": ids })),
                None,
            )
            .await?;
        if answer.status == 201 {
            shared.map.take(event, seats.clone());
            shared
                .tickets_won
                .fetch_add(seats.len() as u64, Ordering::Relaxed);
            let order = id_of(&answer.body)?;
            return follow_up(shared, token, &order, event, seats, rng).await;
        }
    }
    Ok(())
}

/// What a winner does next: pay, cancel, or let the hold be.
async fn follow_up(
    shared: &Shared,
    token: &str,
    order: &str,
    event: usize,
    seats: Range<usize>,
    rng: &mut fastrand::Rng,
) -> anyhow::Result<()> {
    let roll = rng.f64();
    if roll < shared.config.pay_share {
        let placed = Instant::now();
        if pay(&shared.client, token, order, &shared.requests).await? {
            shared.paid.fetch_add(1, Ordering::Relaxed);
            shared
                .tickets_paid
                .fetch_add(seats.len() as u64, Ordering::Relaxed);
            let recorder = &shared.client.recorder;
            recorder.record_span(BASKET_TO_PAID, placed.elapsed());
        } else {
            shared.failed_follow_ups.fetch_add(1, Ordering::Relaxed);
        }
    } else if roll < shared.config.pay_share + shared.config.cancel_share {
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let path = format!("/api/orders/{order}");
        let answer = shared
            .client
            .send(CANCEL, Method::DELETE, &path, Some(token), None, None)
            .await?;
        if answer.status == 204 {
            shared.cancelled.fetch_add(1, Ordering::Relaxed);
            shared.map.release(event, seats);
        } else {
            shared.failed_follow_ups.fetch_add(1, Ordering::Relaxed);
        }
    } else {
        shared.left_held.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}
