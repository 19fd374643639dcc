//! The command line. Every setting is a flag and an environment variable (12-factor);
//! the names are the ones CONTRACT.md §10 promises operators.

use std::path::PathBuf;
use std::time::Duration;

use boxoffice_platform::Secret;
use boxoffice_platform::http::security::TrustedProxies;
use boxoffice_platform::telemetry::LogFormat;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "boxoffice",
    version,
    about = "BoxOffice: a ticket marketplace.",
    long_about = "BoxOffice: a ticket marketplace.\n\n\
        With no command it runs every service in one process on SQLite files under \
        DATA_DIR (the embedded mode). `serve <service>` runs one service on PostgreSQL \
        (Redis for the queue) and NATS JetStream (the distributed mode)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Every service in one process, on SQLite, with one HTTP listener (the default).
    All,
    /// One service alone, on PostgreSQL (DATABASE_URL) and, for the event-driven ones,
    /// NATS JetStream (NATS_URL); JWT_KEY is required.
    Serve {
        #[arg(value_enum)]
        service: Service,
    },
    /// Bring a service's PostgreSQL schema up to date, then exit.
    Migrate {
        #[arg(value_enum)]
        service: Service,
    },
    /// Publish again every event a service's outbox sent since a moment (RFC 3339), after
    /// the NATS server lost acknowledged writes. Consumers ignore what they already had.
    Republish {
        #[arg(value_enum)]
        service: Service,
        /// e.g. 2026-11-22T10:00:00Z
        #[arg(long)]
        since: String,
    },
    /// Copy every embedded store (the SQLite files in DATA_DIR) and the generated key
    /// files into a new directory, while the server runs. Restore: stop the server, put
    /// the files in an empty DATA_DIR, start. (PostgreSQL: pg_dump each database.)
    Backup {
        /// Where the copies go; created if missing, must not hold copies already.
        dir: PathBuf,
    },
    /// Check a waiting room's exported fairness log (one JSON entry per line): the hash
    /// chain, the revealed seed against its commitment, the prequeue's shuffle, and that
    /// nobody live was passed over. Prints the findings; fails when one does not hold.
    VerifyRoom {
        /// The log file.
        log: PathBuf,
    },
}

/// The services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Service {
    /// Accounts and sessions: /api/users.
    Auth,
    /// Listings and their reservation state: /api/tickets.
    Tickets,
    /// Who holds which ticket: /api/orders.
    Orders,
    /// Ends unpaid holds when they run out (no routes).
    Expiration,
    /// Charges, webhooks and refunds: /api/payments.
    Payments,
    /// Fair lines for held tickets: /api/queue (state in Redis, REDIS_URL).
    Queue,
    /// The web UI: pages at /, calling the API at API_URL (the ingress). No store.
    Web,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Tickets => "tickets",
            Self::Orders => "orders",
            Self::Expiration => "expiration",
            Self::Payments => "payments",
            Self::Queue => "queue",
            Self::Web => "web",
        }
    }
}

/// Settings shared by every command.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1", global = true)]
    pub host: String,

    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 3000, global = true)]
    pub port: u16,

    /// Where the embedded mode keeps its SQLite files and its generated session key.
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// Session signing key (at least 32 characters). The embedded mode generates one
    /// into DATA_DIR when unset; `serve` refuses to start without it.
    #[arg(long, env = "JWT_KEY", hide_env_values = true, global = true)]
    pub jwt_key: Option<Secret>,

    /// The key waiting-room admissions are signed with (at least 32 characters; never the
    /// session key). The embedded mode generates one into DATA_DIR when unset; the queue
    /// and orders services of the distributed mode must share it.
    #[arg(
        long,
        env = "ROOM_ADMISSION_KEY",
        hide_env_values = true,
        global = true
    )]
    pub room_admission_key: Option<Secret>,

    /// How long a waiting-room place may show no sign of life before it is parked, in
    /// seconds.
    #[arg(
        long,
        env = "ROOM_LEASE_SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    pub room_lease_seconds: u64,

    /// How long a parked waiting-room place keeps its rank before it is released, in
    /// seconds.
    #[arg(
        long,
        env = "ROOM_GRACE_SECONDS",
        default_value_t = 120,
        value_parser = clap::value_parser!(u64).range(0..=86_400),
        global = true
    )]
    pub room_grace_seconds: u64,

    /// How long a waiting-room admission may go unused, in seconds.
    #[arg(
        long,
        env = "ROOM_ADMISSION_SECONDS",
        default_value_t = 120,
        value_parser = clap::value_parser!(u64).range(10..=3600),
        global = true
    )]
    pub room_admission_seconds: u64,

    /// The most admissions a waiting room grants per minute.
    #[arg(
        long,
        env = "ROOM_ADMIT_PER_MINUTE",
        default_value_t = 600,
        value_parser = clap::value_parser!(u32).range(1..=1_000_000),
        global = true
    )]
    pub room_admit_per_minute: u32,

    /// Where the other queue replicas reach this one to pass on requests for the waiting
    /// rooms it runs (distributed mode), e.g. `http://10.0.3.7:4000`. Default: this
    /// process's port on 127.0.0.1 (replicas on one machine).
    #[arg(long, env = "ROOM_ADVERTISE_URL", global = true)]
    pub room_advertise_url: Option<String>,

    /// How long a queue replica's hold on a waiting room lasts unrenewed, in seconds: how
    /// long a room waits for a new runner after its runner died (distributed mode).
    #[arg(
        long,
        env = "ROOM_RUNNER_LEASE_SECONDS",
        default_value_t = 6,
        value_parser = clap::value_parser!(u64).range(2..=300),
        global = true
    )]
    pub room_runner_lease_seconds: u64,

    /// How long a session lasts, in seconds (default: 7 days).
    #[arg(
        long,
        env = "SESSION_TTL_SECONDS",
        default_value_t = 604_800,
        global = true
    )]
    pub session_ttl_seconds: u64,

    /// Mark the session cookie `Secure` on every response, not only on requests that
    /// arrived over HTTPS (`X-Forwarded-Proto: https`).
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false, global = true)]
    pub cookie_secure: bool,

    /// Proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed: a comma-
    /// separated list of networks (`10.0.0.0/8`, `127.0.0.1`). Empty (the default): nobody,
    /// so a client cannot pretend to be another address or to have used HTTPS.
    #[arg(
        long,
        env = "TRUSTED_PROXIES",
        default_value = "",
        value_parser = parse_trusted_proxies,
        global = true
    )]
    pub trusted_proxies: TrustedProxies,

    /// How long an order holds its ticket, in seconds.
    #[arg(
        long,
        env = "EXPIRATION_WINDOW_SECONDS",
        default_value_t = 900,
        global = true
    )]
    pub expiration_window_seconds: u64,

    /// How far a payment in flight may extend an order's hold, in seconds.
    #[arg(
        long,
        env = "PAYMENT_HOLD_CEILING_SECONDS",
        default_value_t = 600,
        global = true
    )]
    pub payment_hold_ceiling_seconds: u64,

    /// How many tickets one order may hold (`ticketIds`), 1–100.
    #[arg(
        long,
        env = "MAX_TICKETS_PER_ORDER",
        default_value_t = 10,
        value_parser = clap::value_parser!(u16).range(1..=100),
        global = true
    )]
    pub max_tickets_per_order: u16,

    /// How long the head of a ticket's line has to order it, in seconds.
    #[arg(
        long,
        env = "QUEUE_TURN_SECONDS",
        default_value_t = 120,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub queue_turn_seconds: u64,

    /// How long after its creation an id is waited for by a service that has not heard of
    /// it yet (read your own writes), in seconds; 0 answers 404 at once.
    #[arg(
        long,
        env = "FRESH_ID_WAIT_SECONDS",
        default_value_t = 5,
        global = true
    )]
    pub fresh_id_wait_seconds: u64,

    /// How long `POST /api/payments` waits, after the card is authorized, for the orders
    /// service to accept the payment before answering `processing`, in seconds.
    #[arg(
        long,
        env = "PAYMENT_DECISION_WAIT_SECONDS",
        default_value_t = 5,
        global = true
    )]
    pub payment_decision_wait_seconds: u64,

    /// Most requests in the handlers at once; beyond it a request is answered 503 with
    /// `Retry-After` at once instead of waiting (0: no limit). Health, readiness and
    /// metrics are never refused; a streamed body (the queue's live feed) holds no place.
    #[arg(
        long,
        env = "MAX_IN_FLIGHT_REQUESTS",
        default_value_t = 256,
        global = true
    )]
    pub max_in_flight_requests: usize,

    /// Currency of every charge (ISO code, lower case).
    #[arg(long, env = "CURRENCY", default_value = "usd", global = true)]
    pub currency: String,

    /// Stripe secret key. When set, payments go to Stripe instead of the built-in test
    /// processor.
    #[arg(long, env = "STRIPE_KEY", hide_env_values = true, global = true)]
    pub stripe_key: Option<Secret>,

    /// Secret that signs payment webhooks (Stripe's `whsec_…`). Required with STRIPE_KEY;
    /// the embedded test processor generates one into DATA_DIR when unset.
    #[arg(
        long,
        env = "STRIPE_WEBHOOK_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub stripe_webhook_secret: Option<Secret>,

    /// Stripe publishable key (`pk_…`) for the checkout's card field (Stripe.js). Public by
    /// design; needed by the web UI when STRIPE_KEY is set.
    #[arg(long, env = "STRIPE_PUBLISHABLE_KEY", global = true)]
    pub stripe_publishable_key: Option<String>,

    /// Where the checkout loads Stripe.js from.
    #[arg(
        long,
        env = "STRIPE_JS_URL",
        default_value = "https://js.stripe.com/v3/",
        global = true
    )]
    pub stripe_js_url: String,

    /// Where `serve web` finds the API: the ingress's base URL, e.g. http://ingress.
    #[arg(long, env = "API_URL", global = true)]
    pub api_url: Option<String>,

    /// Stripe API base URL, e.g. a local stand-in.
    #[arg(long, env = "STRIPE_API_BASE", global = true)]
    pub stripe_api_base: Option<String>,

    /// NATS server (JetStream enabled, version 2.10 or later) for `serve` of the
    /// event-driven services.
    #[arg(long, env = "NATS_URL", global = true)]
    pub nats_url: Option<String>,

    /// Redis server keeping the queue's lines, for `serve queue`.
    #[arg(long, env = "REDIS_URL", hide_env_values = true, global = true)]
    pub redis_url: Option<Secret>,

    /// Prefix of every Redis key the queue writes (several deployments can share a server).
    #[arg(
        long,
        env = "REDIS_PREFIX",
        default_value = "boxoffice:queue",
        global = true
    )]
    pub redis_prefix: String,

    /// PostgreSQL URL of the service's own database, for `serve` and `migrate` (the
    /// queue's keeps its waiting rooms; without it `serve queue` runs no rooms).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<Secret>,

    /// Log line format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

fn parse_trusted_proxies(text: &str) -> Result<TrustedProxies, String> {
    text.parse()
}

impl Settings {
    pub fn expiration_window(&self) -> Duration {
        Duration::from_secs(self.expiration_window_seconds)
    }

    pub fn payment_decision_wait(&self) -> Duration {
        Duration::from_secs(self.payment_decision_wait_seconds)
    }

    pub fn payment_hold_ceiling(&self) -> Duration {
        Duration::from_secs(self.payment_hold_ceiling_seconds)
    }

    pub fn queue_turn(&self) -> Duration {
        Duration::from_secs(self.queue_turn_seconds)
    }

    pub fn fresh_id_wait(&self) -> Duration {
        Duration::from_secs(self.fresh_id_wait_seconds)
    }

    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_seconds)
    }

    /// Settings for tests and embedding: defaults, a data directory and port 0.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let mut settings = Cli::parse_from(["boxoffice"]).settings;
        settings.data_dir = data_dir.into();
        settings.port = 0;
        settings
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_command_means_the_embedded_mode() {
        let cli = Cli::parse_from(["boxoffice"]);
        assert_eq!(cli.command, None);
        let cli = Cli::parse_from(["boxoffice", "serve", "auth", "--port", "4001"]);
        assert_eq!(
            cli.command,
            Some(Command::Serve {
                service: Service::Auth
            })
        );
        assert_eq!(cli.settings.port, 4001);
    }

    #[test]
    fn a_queue_turn_lasts_at_least_a_second() {
        assert!(Cli::try_parse_from(["boxoffice", "--queue-turn-seconds", "0"]).is_err());
        let cli = Cli::parse_from(["boxoffice", "--queue-turn-seconds", "30"]);
        assert_eq!(cli.settings.queue_turn(), Duration::from_secs(30));
    }

    #[test]
    fn fresh_ids_are_waited_for_five_seconds_unless_told_otherwise() {
        let cli = Cli::parse_from(["boxoffice"]);
        assert_eq!(cli.settings.fresh_id_wait(), Duration::from_secs(5));
        let cli = Cli::parse_from(["boxoffice", "--fresh-id-wait-seconds", "0"]);
        assert_eq!(cli.settings.fresh_id_wait(), Duration::ZERO);
    }

    #[test]
    fn nobody_is_a_trusted_proxy_unless_configured() {
        let cli = Cli::parse_from(["boxoffice"]);
        assert_eq!(cli.settings.trusted_proxies, TrustedProxies::default());
        let cli = Cli::parse_from(["boxoffice", "--trusted-proxies", "10.0.0.0/8,127.0.0.1"]);
        assert!(
            cli.settings
                .trusted_proxies
                .contains("10.2.3.4".parse().expect("ip"))
        );
        assert!(Cli::try_parse_from(["boxoffice", "--trusted-proxies", "10.0.0.0/99"]).is_err());
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let cli = Cli::parse_from([
            "boxoffice",
            "--jwt-key",
            "a-very-secret-signing-key-0123456789",
            "--database-url",
            "postgres://app:hunter2@db/auth",
        ]);
        let printed = format!("{cli:?}");
        assert!(!printed.contains("a-very-secret"), "{printed}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }
}
