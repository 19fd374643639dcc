//! `boxoffice-loadgen`: workloads, invariant checks and the benchmark report.
//!
//! `bench` is the one command behind the reports in `docs/bench/` ([`bench`]): it starts the
//! hello-world server and the release `boxoffice` itself, runs the ceiling, the flash sale,
//! the browse mix, the line rush and the basket rush, checks the invariants, and writes the
//! report and chart. `flash-sale` and `basket` run one scenario against a BoxOffice that is
//! already running.

use std::path::PathBuf;
use std::time::Duration;

use boxoffice_loadgen::client::{Client, Minter};
use boxoffice_loadgen::scenario::basket::{self, BasketRush};
use boxoffice_loadgen::scenario::{Limits, ceiling, flash_sale, room};
use boxoffice_loadgen::server::Spawned;
use boxoffice_loadgen::{hello, invariants};
use clap::{Args, Parser, Subcommand};

mod bench;
mod propagation;

#[derive(Debug, Parser)]
#[command(
    name = "boxoffice-loadgen",
    about = "Load generator, invariant checker and benchmark report for BoxOffice"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args, Clone)]
struct SaleArgs {
    /// Sellers listing the tickets.
    #[arg(long, default_value_t = 20)]
    sellers: usize,
    /// Tickets on sale.
    #[arg(long, default_value_t = 2000)]
    tickets: usize,
    /// Buyers released at once.
    #[arg(long, default_value_t = 20_000)]
    buyers: usize,
    /// Buyers choose among the first N tickets only (a hot subset); default: any ticket.
    #[arg(long)]
    hot: Option<usize>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Longest the timed part may run, in seconds.
    #[arg(long, default_value_t = 120)]
    duration_secs: u64,
    /// Most requests the timed part may send.
    #[arg(long, default_value_t = 2_000_000)]
    max_requests: u64,
}

impl SaleArgs {
    fn config(&self) -> flash_sale::FlashSale {
        flash_sale::FlashSale {
            sellers: self.sellers,
            tickets: self.tickets,
            buyers: self.buyers,
            hot: self.hot,
            limits: Limits {
                concurrency: self.concurrency,
                duration: Duration::from_secs(self.duration_secs),
                max_requests: self.max_requests,
            },
        }
    }
}

#[derive(Debug, Args, Clone)]
struct BasketArgs {
    /// Events on sale (one seller each).
    #[arg(long, default_value_t = 20)]
    events: usize,
    /// Seats over all events.
    #[arg(long, default_value_t = 2000)]
    tickets: usize,
    /// Buyers released at once.
    #[arg(long, default_value_t = 20_000)]
    buyers: usize,
    /// Share of winners who pay at once.
    #[arg(long, default_value_t = basket::PAY_SHARE)]
    pay_share: f64,
    /// Share of winners who cancel at once (the rest keep the hold).
    #[arg(long, default_value_t = basket::CANCEL_SHARE)]
    cancel_share: f64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Longest the timed part may run, in seconds.
    #[arg(long, default_value_t = 120)]
    duration_secs: u64,
    /// Most requests the timed part may send.
    #[arg(long, default_value_t = 2_000_000)]
    max_requests: u64,
}

impl BasketArgs {
    fn config(&self) -> BasketRush {
        BasketRush {
            events: self.events,
            tickets: self.tickets,
            buyers: self.buyers,
            pay_share: self.pay_share,
            cancel_share: self.cancel_share,
            limits: Limits {
                concurrency: self.concurrency,
                duration: Duration::from_secs(self.duration_secs),
                max_requests: self.max_requests,
            },
        }
    }
}

/// Where a running BoxOffice is, for the one-scenario commands.
#[derive(Debug, Args, Clone)]
struct Target {
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// The server's JWT_KEY (embedded mode: the content of DATA_DIR/jwt.key).
    #[arg(long, env = "JWT_KEY", hide_env_values = true)]
    jwt_key: String,
    #[command(flatten)]
    stores: StoreArgs,
}

/// Where the stores to check are: an embedded `DATA_DIR` or the distributed databases.
#[derive(Debug, Args, Clone)]
struct StoreArgs {
    /// The server's DATA_DIR, for the invariant checks.
    #[arg(long, conflicts_with = "postgres")]
    data_dir: Option<PathBuf>,
    /// The PostgreSQL server of a distributed deployment, for the invariant checks on its
    /// databases (`{db_prefix}_orders`, …), e.g. postgres://postgres@127.0.0.1:5432.
    #[arg(long)]
    postgres: Option<String>,
    /// The distributed databases' prefix (`scripts/distributed`'s DB_PREFIX).
    #[arg(long, default_value = "boxoffice")]
    db_prefix: String,
    /// The distributed queue's Redis, whose events (under `{db_prefix}:queue`) are checked
    /// with the databases', e.g. redis://127.0.0.1:6379.
    #[arg(long, requires = "postgres")]
    redis: Option<String>,
}

impl StoreArgs {
    fn stores(&self) -> Option<invariants::Stores> {
        match (&self.data_dir, &self.postgres) {
            (Some(dir), _) => Some(invariants::Stores::Sqlite(dir.clone())),
            (None, Some(server)) => Some(invariants::Stores::Postgres(invariants::Databases {
                server: server.clone(),
                prefix: self.db_prefix.clone(),
                redis: self.redis.clone(),
            })),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The full benchmark: ceiling, flash sale, browse, line rush, baskets; writes the
    /// report and chart.
    Bench {
        #[command(flatten)]
        sale: SaleArgs,
        /// Seconds each browse run and the ceiling run last.
        #[arg(long, default_value_t = 10)]
        read_secs: u64,
        /// Where to write benchmarks.md, benchmarks.json and flash-sale.png.
        #[arg(long, default_value = "docs/bench/1x")]
        out: PathBuf,
    },
    /// A flash sale against a running BoxOffice (embedded, or the distributed topology's
    /// ingress); checks the invariants on its stores when `--data-dir` is given.
    FlashSale {
        #[command(flatten)]
        sale: SaleArgs,
        #[command(flatten)]
        target: Target,
        /// First measure the hello-world ceiling for this many seconds, and report the
        /// sale's order attempts/s as a share of it.
        #[arg(long)]
        ceiling_secs: Option<u64>,
        /// Send a request again for up to this many seconds while the server cannot be
        /// reached or answers 502/503/504 (a run in which services are killed).
        #[arg(long)]
        ride_out_secs: Option<u64>,
        /// How long the invariant checks wait for the services to converge, in seconds.
        #[arg(long, default_value_t = 30)]
        patience_secs: u64,
    },
    /// Checks the invariants on the stores of a deployment (waiting for the services to
    /// converge); prints the verdict and fails when a rule is broken.
    Check {
        #[command(flatten)]
        stores: StoreArgs,
        /// How long to wait for the services to converge, in seconds.
        #[arg(long, default_value_t = 30)]
        patience_secs: u64,
    },
    /// A basket rush (2–4 adjacent seats per order) against a running embedded BoxOffice;
    /// checks the invariants on its stores when `--data-dir` is given.
    Basket {
        #[command(flatten)]
        rush: BasketArgs,
        #[command(flatten)]
        target: Target,
    },
    /// An on-sale waiting room against a running embedded BoxOffice: buyers join before
    /// it opens, are admitted as stock allows, buy and pay; checks the room's promises
    /// (and the stores' invariants with `--data-dir`). Run the server with a high
    /// `ROOM_ADMIT_PER_MINUTE` to measure the room rather than its pace limit.
    Room {
        #[command(flatten)]
        target: Target,
        /// Seats on sale.
        #[arg(long, default_value_t = 500)]
        tickets: usize,
        /// Buyers who join.
        #[arg(long, default_value_t = 5000)]
        buyers: usize,
        /// Buyers who follow the live feed instead of polling.
        #[arg(long, default_value_t = 500)]
        watchers: usize,
        /// Seconds from set-up to the opening (the joins happen in between).
        #[arg(long, default_value_t = 10)]
        opens_in_secs: u64,
        /// How often a polling buyer looks at its place, in milliseconds.
        #[arg(long, default_value_t = 5000)]
        poll_ms: u64,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Longest the timed part may run, in seconds.
        #[arg(long, default_value_t = 300)]
        duration_secs: u64,
        /// Where to save the room's fairness log (for `boxoffice verify-room`).
        #[arg(long)]
        log_out: Option<PathBuf>,
        /// Carry the live feeds over HTTP/2, 150 to a connection (past one process's
        /// open-files limit).
        #[arg(long)]
        http2: bool,
    },
    /// Time from a ticket's 201 until an order for it succeeds.
    Propagation {
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        #[arg(long, default_value_t = 1000)]
        tickets: u32,
    },
    /// Serve the hello-world ceiling server.
    Hello {
        #[arg(long)]
        port: u16,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Hello { port } => hello::serve(port).await,
        Command::Propagation { url, tickets } => propagation::run(&url, tickets).await,
        Command::FlashSale {
            sale,
            target,
            ceiling_secs,
            ride_out_secs,
            patience_secs,
        } => {
            // The machine's ceiling first, measured by the same client in this run, so the
            // sale can be read as a share of it (e.g. against the distributed topology).
            let ceiling = match ceiling_secs {
                Some(secs) => Some(ceiling_now(sale.concurrency, secs).await?),
                None => None,
            };
            let config = sale.config();
            let client = || -> anyhow::Result<Client> {
                let client = Client::new(&target.url, sale.concurrency)?;
                Ok(match ride_out_secs {
                    Some(secs) => client.riding_out_failures(Duration::from_secs(secs)),
                    None => client,
                })
            };
            let setup = client()?;
            let minter = Minter::new(&target.jwt_key);
            let (tickets, buyers) = flash_sale::set_up(&setup, &minter, &config).await?;
            let timed = client()?;
            let outcome = flash_sale::run(&timed, tickets, buyers, &config).await?;
            println!("{}", serde_json::to_string_pretty(&outcome)?);
            println!(
                "{}",
                serde_json::to_string_pretty(&timed.recorder.endpoints())?
            );
            if let Some(ceiling) = ceiling {
                println!(
                    "{}",
                    serde_json::json!({
                        "ceiling_requests_per_second": ceiling,
                        "attempts_ceiling_ratio": outcome.attempts_per_second / ceiling,
                    })
                );
            }
            check_stores(target.stores.stores(), patience_secs).await
        }
        Command::Check {
            stores,
            patience_secs,
        } => {
            let stores = stores
                .stores()
                .ok_or_else(|| anyhow::anyhow!("give --data-dir or --postgres"))?;
            check_stores(Some(stores), patience_secs).await
        }
        Command::Basket { rush, target } => {
            let config = rush.config();
            let setup = Client::new(&target.url, rush.concurrency)?;
            let minter = Minter::new(&target.jwt_key);
            let (stock, buyers) = basket::set_up(&setup, &minter, &config).await?;
            let timed = Client::new(&target.url, rush.concurrency)?;
            let outcome = basket::run(&timed, stock, buyers, &config).await?;
            println!("{}", serde_json::to_string_pretty(&outcome)?);
            println!(
                "{}",
                serde_json::to_string_pretty(&timed.recorder.endpoints())?
            );
            check_stores(target.stores.stores(), 30).await
        }
        Command::Bench {
            sale,
            read_secs,
            out,
        } => bench::run(sale, read_secs, out).await,
        Command::Room {
            target,
            tickets,
            buyers,
            watchers,
            opens_in_secs,
            poll_ms,
            concurrency,
            duration_secs,
            log_out,
            http2,
        } => {
            let config = room::RoomSale {
                tickets,
                buyers,
                watchers,
                opens_in: Duration::from_secs(opens_in_secs),
                poll: Duration::from_millis(poll_ms),
                http2,
                limits: Limits {
                    concurrency,
                    duration: Duration::from_secs(duration_secs),
                    max_requests: u64::MAX,
                },
            };
            let setup = Client::new(&target.url, concurrency)?;
            let stock = room::set_up(&setup, &Minter::new(&target.jwt_key), &config).await?;
            let event_id = stock.event_id.clone();
            let timed = Client::new(&target.url, concurrency)?;
            let outcome = room::run(&timed, stock, &config).await?;
            println!("{}", serde_json::to_string_pretty(&outcome)?);
            println!(
                "{}",
                serde_json::to_string_pretty(&timed.recorder.endpoints())?
            );
            if let Some(path) = log_out {
                let log = timed
                    .get_raw(&format!("/api/events/{event_id}/room/log"), None)
                    .send()
                    .await?
                    .text()
                    .await?;
                std::fs::write(&path, log)?;
                println!("fairness log saved to {}", path.display());
            }
            let broken = outcome.broken_promises();
            anyhow::ensure!(broken.is_empty(), "ROOM PROMISES BROKEN: {broken:?}");
            check_stores(target.stores.stores(), 30).await
        }
    }
}

/// Requests per second the same client gets from a hello-world server, over `secs`.
async fn ceiling_now(concurrency: usize, secs: u64) -> anyhow::Result<f64> {
    let hello = Spawned::hello().await?;
    let client = Client::new(&hello.base, concurrency.min(64))?;
    let limits = Limits {
        concurrency: concurrency.min(64),
        duration: Duration::from_secs(secs),
        max_requests: u64::MAX,
    };
    Ok(ceiling::run(&client, limits).await?.requests_per_second)
}

/// Checks the invariants on `stores`, if given, waiting up to `patience_secs` for the
/// services to converge; fails when they break.
async fn check_stores(
    stores: Option<invariants::Stores>,
    patience_secs: u64,
) -> anyhow::Result<()> {
    let Some(stores) = stores else {
        return Ok(());
    };
    let verdict = invariants::check_converged(stores, Duration::from_secs(patience_secs)).await?;
    println!("{}", serde_json::to_string_pretty(&verdict)?);
    anyhow::ensure!(
        verdict.holds(),
        "INVARIANTS VIOLATED: {:#?}",
        verdict.violations
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
