//! `boxoffice-loadgen`: measurements against a running BoxOffice.
//!
//! * `propagation` — how long after `POST /api/tickets` answers 201 a ticket can be
//!   ordered, i.e. the outbox → bus → orders replica path, one ticket at a time.

mod propagation;
mod stats;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "boxoffice-loadgen",
    about = "Measurements against a running BoxOffice"
)]
struct Cli {
    /// Base URL of the BoxOffice under test.
    #[arg(
        long,
        env = "BOXOFFICE_URL",
        default_value = "http://127.0.0.1:3000",
        global = true
    )]
    url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Time from a ticket's 201 until an order for it succeeds.
    Propagation {
        /// Tickets to measure, one after another.
        #[arg(long, default_value_t = 1000)]
        tickets: u32,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Propagation { tickets } => propagation::run(&cli.url, tickets).await,
    }
}
