//! Every metric BoxOffice exports, declared once: its name, its type, its help text and,
//! for histograms, its buckets. Code records through these constants; the dashboard
//! (`deploy/grafana/`), the alert rules (`deploy/prometheus/`) and their checks use the
//! same names.
//!
//! Conventions (Prometheus): the `boxoffice_` prefix, base units (seconds), counters
//! end in `_total`, every histogram has explicit buckets, and no label carries an id —
//! only small, fixed sets of values (a service, a route template, a reason).

/// How a metric is exported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Counter,
    Gauge,
    /// A histogram with these bucket upper bounds (seconds).
    Histogram(&'static [f64]),
}

/// One exported metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

/// Request latencies: half a millisecond to five seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Delays of the event pipeline: ten milliseconds to ten minutes.
const LAG_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0, 300.0, 600.0,
];

// HTTP (every service, per route template).
pub const HTTP_REQUESTS_TOTAL: &str = "boxoffice_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "boxoffice_http_request_duration_seconds";
pub const REQUESTS_SHED: &str = "boxoffice_http_requests_shed_total";

// Orders.
pub const ORDERS_PLACED: &str = "boxoffice_orders_placed_total";
pub const ORDERS_REFUSED: &str = "boxoffice_orders_refused_total";
pub const ORDERS_COMPLETED: &str = "boxoffice_orders_completed_total";
pub const ORDERS_CANCELLED: &str = "boxoffice_orders_cancelled_total";
pub const CLAIM_CONFLICTS: &str = "boxoffice_ticket_claim_conflicts_total";

// Payments.
pub const PAYMENTS: &str = "boxoffice_payments_total";
pub const WEBHOOKS: &str = "boxoffice_payment_webhooks_total";
pub const WEBHOOK_LAG: &str = "boxoffice_payment_webhook_lag_seconds";

// Tickets.
pub const TICKETS: &str = "boxoffice_tickets";
pub const OVERSOLD: &str = "boxoffice_oversold_tickets_total";

// Queue.
pub const QUEUE_PLACES: &str = "boxoffice_queue_places_total";
pub const QUEUE_TURNS: &str = "boxoffice_queue_turns_total";
pub const SSE_CONNECTIONS: &str = "boxoffice_sse_connections";

// Waiting rooms.
pub const ROOM_PLACES: &str = "boxoffice_room_places";
pub const ROOM_ADMISSIONS: &str = "boxoffice_room_admissions_total";
pub const ROOM_INVERSIONS: &str = "boxoffice_room_inversions";
pub const ROOM_LOG_FAULTS: &str = "boxoffice_room_log_faults_total";

// Event pipeline.
pub const OUTBOX_PENDING: &str = "boxoffice_outbox_pending";
pub const OUTBOX_OLDEST_AGE: &str = "boxoffice_outbox_oldest_age_seconds";
pub const CONSUMER_EVENTS: &str = "boxoffice_consumer_events_total";
pub const CONSUMER_LAG: &str = "boxoffice_consumer_lag_seconds";
pub const DEAD_LETTERS: &str = "boxoffice_dead_letters_total";
pub const EXPIRATION_LAG: &str = "boxoffice_expiration_lag_seconds";
pub const EXPIRATION_FIRED: &str = "boxoffice_expiration_jobs_fired_total";
pub const FRESH_ID_WAITS: &str = "boxoffice_fresh_id_waits_total";
pub const FRESH_ID_WAIT: &str = "boxoffice_fresh_id_wait_seconds";
pub const FRESH_ID_NOT_FRESH: &str = "boxoffice_fresh_id_not_fresh_total";

// The process.
pub const BUILD_INFO: &str = "boxoffice_build_info";
pub const READY: &str = "boxoffice_ready";
pub const TASK_DEATHS: &str = "boxoffice_background_task_deaths_total";
pub const TASK_RESTARTS: &str = "boxoffice_background_task_restarts_total";

/// Why an order was refused (`reason` of [`ORDERS_REFUSED`]).
pub const REFUSAL_REASONS: &[&str] = &[
    "own_ticket",
    "reserved",
    "next_in_line",
    "not_found",
    "no_admission",
    "account_limit",
];
/// Why an order was cancelled (`reason` of [`ORDERS_CANCELLED`]).
pub const CANCEL_REASONS: &[&str] = &["user", "expired", "payment_failed"];
/// Where a payment ended up (`outcome` of [`PAYMENTS`]).
pub const PAYMENT_OUTCOMES: &[&str] = &["started", "succeeded", "failed", "voided", "refunded"];
/// What a consumer did with a delivery (`result` of [`CONSUMER_EVENTS`]).
pub const CONSUMER_RESULTS: &[&str] = &["applied", "ignored", "deferred", "failed", "parked"];
/// Ticket states (`state` of [`TICKETS`]).
pub const TICKET_STATES: &[&str] = &["available", "reserved", "sold"];

/// States of waiting-room places (`state` of [`ROOM_PLACES`]).
pub const ROOM_PLACE_STATES: &[&str] = &["waiting", "parked", "admitted"];

/// The catalogue: what `/metrics` may show, with its type and help text.
pub const CATALOG: &[Metric] = &[
    Metric {
        name: HTTP_REQUESTS_TOTAL,
        kind: Kind::Counter,
        help: "HTTP requests answered, by service, method, route template and status.",
    },
    Metric {
        name: REQUESTS_SHED,
        kind: Kind::Counter,
        help: "HTTP requests refused with 503 because too many were in flight.",
    },
    Metric {
        name: HTTP_REQUEST_DURATION,
        kind: Kind::Histogram(LATENCY_BUCKETS),
        help: "Time to answer an HTTP request, by service, method and route template.",
    },
    Metric {
        name: ORDERS_PLACED,
        kind: Kind::Counter,
        help: "Orders placed (each holds its tickets until paid, cancelled or expired).",
    },
    Metric {
        name: ORDERS_REFUSED,
        kind: Kind::Counter,
        help: "Orders refused when placed, by reason (own_ticket, reserved — lost races included —, next_in_line, not_found).",
    },
    Metric {
        name: ORDERS_COMPLETED,
        kind: Kind::Counter,
        help: "Orders completed (paid).",
    },
    Metric {
        name: ORDERS_CANCELLED,
        kind: Kind::Counter,
        help: "Orders cancelled, by reason (user, expired, payment_failed).",
    },
    Metric {
        name: CLAIM_CONFLICTS,
        kind: Kind::Counter,
        help: "Orders that lost a race for a ticket on the unique hold index.",
    },
    Metric {
        name: PAYMENTS,
        kind: Kind::Counter,
        help: "Payments started and payments that reached a final state, by outcome.",
    },
    Metric {
        name: WEBHOOKS,
        kind: Kind::Counter,
        help: "Payment provider webhooks received, by event type and result.",
    },
    Metric {
        name: WEBHOOK_LAG,
        kind: Kind::Histogram(LAG_BUCKETS),
        help: "Time from the provider creating a webhook event to BoxOffice receiving it.",
    },
    Metric {
        name: TICKETS,
        kind: Kind::Gauge,
        help: "Listed tickets by state (available, reserved, sold), counted in the tickets store.",
    },
    Metric {
        name: OVERSOLD,
        kind: Kind::Counter,
        help: "Tickets a second order was completed for: an oversell. Must stay 0.",
    },
    Metric {
        name: QUEUE_PLACES,
        kind: Kind::Counter,
        help: "Places in ticket lines taken (joined) and given up (left, served, lapsed or closed).",
    },
    Metric {
        name: QUEUE_TURNS,
        kind: Kind::Counter,
        help: "Turns in ticket lines, by outcome (started, lapsed).",
    },
    Metric {
        name: ROOM_PLACES,
        kind: Kind::Gauge,
        help: "Places in the waiting rooms, by state (waiting — prequeue included —, parked, admitted), as of the last tick.",
    },
    Metric {
        name: ROOM_ADMISSIONS,
        kind: Kind::Counter,
        help: "Waiting-room admissions granted.",
    },
    Metric {
        name: ROOM_INVERSIONS,
        kind: Kind::Gauge,
        help: "Places admitted while a live place ranked ahead still waited, over the rooms whose sale ended since the start (a fair room has 0).",
    },
    Metric {
        name: ROOM_LOG_FAULTS,
        kind: Kind::Counter,
        help: "Ended rooms whose fairness log did not verify (broken chain, seed or shuffle); should stay 0.",
    },
    Metric {
        name: SSE_CONNECTIONS,
        kind: Kind::Gauge,
        help: "Open live-update streams (Server-Sent Events) of places in lines.",
    },
    Metric {
        name: OUTBOX_PENDING,
        kind: Kind::Gauge,
        help: "Outbox rows not yet published, per service.",
    },
    Metric {
        name: OUTBOX_OLDEST_AGE,
        kind: Kind::Gauge,
        help: "Age of the oldest outbox row not yet published, per service (0 when none).",
    },
    Metric {
        name: CONSUMER_EVENTS,
        kind: Kind::Counter,
        help: "Event deliveries handled, by consumer and result (applied, ignored as duplicate or stale, deferred, failed, parked).",
    },
    Metric {
        name: CONSUMER_LAG,
        kind: Kind::Histogram(LAG_BUCKETS),
        help: "Time from an event occurring to a consumer having applied it (committed), by consumer.",
    },
    Metric {
        name: DEAD_LETTERS,
        kind: Kind::Counter,
        help: "Events parked as dead letters after their last delivery, by consumer.",
    },
    Metric {
        name: EXPIRATION_LAG,
        kind: Kind::Histogram(LAG_BUCKETS),
        help: "How late an order's hold was ended, after its expiry time.",
    },
    Metric {
        name: EXPIRATION_FIRED,
        kind: Kind::Counter,
        help: "Expiration jobs fired.",
    },
    Metric {
        name: FRESH_ID_WAITS,
        kind: Kind::Counter,
        help: "Requests that waited for a fresh id to reach a replica, by service and outcome.",
    },
    Metric {
        name: FRESH_ID_WAIT,
        kind: Kind::Histogram(LATENCY_BUCKETS),
        help: "Time requests waited for a fresh id to reach a replica, by service.",
    },
    Metric {
        name: FRESH_ID_NOT_FRESH,
        kind: Kind::Counter,
        help: "Unknown ids too old (or not time-based) to wait for, by service.",
    },
    Metric {
        name: BUILD_INFO,
        kind: Kind::Gauge,
        help: "Always 1; the version label says which build runs.",
    },
    Metric {
        name: READY,
        kind: Kind::Gauge,
        help: "1 when every readiness check passed at the last /readyz or scrape, else 0.",
    },
    Metric {
        name: TASK_DEATHS,
        kind: Kind::Counter,
        help: "Background tasks that died before shutdown, by task.",
    },
    Metric {
        name: TASK_RESTARTS,
        kind: Kind::Counter,
        help: "Background tasks started again after they died, by task.",
    },
];

/// The service an API route belongs to, for the `service` label of the HTTP metrics.
pub fn service_of_route(route: &str) -> &'static str {
    let mut segments = route.trim_start_matches('/').split('/');
    match (segments.next(), segments.next()) {
        (Some("api"), Some("users")) => "auth",
        (Some("api"), Some("tickets" | "events")) => "tickets",
        (Some("api"), Some("orders")) => "orders",
        (Some("api"), Some("payments")) => "payments",
        (Some("api"), Some("queue")) => "queue",
        _ => "platform",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_conventions_and_histograms_have_buckets() {
        let mut seen = std::collections::HashSet::new();
        for metric in CATALOG {
            assert!(seen.insert(metric.name), "{} twice", metric.name);
            assert!(metric.name.starts_with("boxoffice_"), "{}", metric.name);
            assert!(!metric.help.is_empty());
            match metric.kind {
                Kind::Counter => assert!(metric.name.ends_with("_total"), "{}", metric.name),
                Kind::Gauge => assert!(!metric.name.ends_with("_total"), "{}", metric.name),
                Kind::Histogram(buckets) => {
                    assert!(metric.name.ends_with("_seconds"), "{}", metric.name);
                    assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{}", metric.name);
                }
            }
        }
    }

    #[test]
    fn routes_belong_to_their_service() {
        assert_eq!(service_of_route("/api/users/signup"), "auth");
        assert_eq!(service_of_route("/api/events/{id}"), "tickets");
        assert_eq!(service_of_route("/api/orders"), "orders");
        assert_eq!(service_of_route("/api/queue/{ticketId}/events"), "queue");
        assert_eq!(service_of_route("/metrics"), "platform");
        assert_eq!(service_of_route("unmatched"), "platform");
    }
}
