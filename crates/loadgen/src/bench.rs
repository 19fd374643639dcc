//! `bench`: every scenario side by side on one release `boxoffice`, and the report.
//!
//! The ceiling runs against the hello-world server first; then one embedded `boxoffice`
//! serves the flash sale, the browse mixes, the line rush and the basket rush in turn, with
//! the invariants checked after the flash sale and again after the baskets (that second
//! check covers every order of the run). It writes benchmarks.md, benchmarks.json and the
//! flash-sale chart into `--out`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use boxoffice_loadgen::chart;
use boxoffice_loadgen::client::{Client, Minter};
use boxoffice_loadgen::invariants::{self, Verdict};
use boxoffice_loadgen::lag;
use boxoffice_loadgen::report::{
    BasketSection, BrowseSection, FlashSaleSection, LineRushSection, Report, ServerStats,
};
use boxoffice_loadgen::scenario::basket::{self, BasketRush};
use boxoffice_loadgen::scenario::line_rush::{self, LineRush};
use boxoffice_loadgen::scenario::{Limits, browse, ceiling, flash_sale};
use boxoffice_loadgen::server::{PeakRss, Spawned, cpu_seconds, rss_bytes, sibling_binary};

use crate::SaleArgs;

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// Held tickets whose lines the line rush fills (20 000 buyers: 2 000 per line).
const LINE_RUSH_TICKETS: usize = 10;

pub async fn run(sale: SaleArgs, read_secs: u64, out: PathBuf) -> anyhow::Result<()> {
    let read_limits = Limits {
        concurrency: sale.concurrency.min(64),
        duration: Duration::from_secs(read_secs),
        max_requests: u64::MAX,
    };

    eprintln!("ceiling: hello-world server, {read_secs} s");
    let hello = Spawned::hello().await?;
    let ceiling_client = Client::new(&hello.base, read_limits.concurrency)?;
    let ceiling = ceiling::run(&ceiling_client, read_limits).await?;
    drop(hello);

    let binary = sibling_binary("boxoffice")?;
    let server = Spawned::boxoffice(&binary).await?;
    let pid = server.pid();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = rss_bytes(pid).unwrap_or_default();
    let cpu_before = cpu_seconds(pid).unwrap_or_default();
    let peak = PeakRss::watch(pid);

    eprintln!(
        "flash sale: {} tickets, {} buyers, {} concurrent",
        sale.tickets, sale.buyers, sale.concurrency
    );
    let config = sale.config();
    let setup_client = Client::new(&server.base, sale.concurrency)?;
    let (tickets, buyers) =
        flash_sale::set_up(&setup_client, &Minter::new(&server.jwt_key), &config).await?;
    let sale_client = Client::new(&server.base, sale.concurrency)?;
    let lag_before = lag::buckets(&lag::scrape(&server.base).await, lag::PAYMENTS_CONSUMER);
    let outcome = flash_sale::run(&sale_client, tickets.clone(), buyers, &config).await?;
    let lag_after = lag::buckets(&lag::scrape(&server.base).await, lag::PAYMENTS_CONSUMER);
    let payments_lag = lag::between(lag::PAYMENTS_CONSUMER, &lag_before, &lag_after);
    let data_dir = server
        .data_dir
        .as_ref()
        .map(|d| d.path().to_owned())
        .unwrap_or_default();
    let verdict = invariants::check_converged(&data_dir, Duration::from_secs(60)).await?;
    eprintln!(
        "flash sale: {:.0} attempts/s; invariants {}",
        outcome.attempts_per_second,
        if verdict.holds() { "hold" } else { "VIOLATED" }
    );

    let ids = Arc::new(tickets);
    let mut browse_sections = Vec::new();
    for (name, list_share) in [
        ("Ticket pages (`GET /api/tickets/:id`)", 0.0),
        (
            "Browse mix (80 % ticket pages, 20 % filtered listings)",
            0.2,
        ),
    ] {
        eprintln!("browse: {name}, {read_secs} s");
        let client = Client::new(&server.base, read_limits.concurrency)?;
        let outcome = browse::run(&client, Arc::clone(&ids), list_share, read_limits).await?;
        browse_sections.push(BrowseSection {
            name: name.to_owned(),
            ceiling_ratio: outcome.show_per_second / ceiling.requests_per_second.max(f64::EPSILON),
            endpoints: client.recorder.endpoints(),
            outcome,
        });
    }
    let rush_config = LineRush {
        tickets: LINE_RUSH_TICKETS,
        buyers: sale.buyers,
        limits: sale.config().limits,
    };
    eprintln!(
        "line rush: {} buyers into the lines of {} held tickets",
        rush_config.buyers, rush_config.tickets
    );
    let rush_setup = Client::new(&server.base, sale.concurrency)?;
    let (held, joiners) =
        line_rush::set_up(&rush_setup, &Minter::new(&server.jwt_key), &rush_config).await?;
    let rush_client = Client::new(&server.base, sale.concurrency)?;
    let rush = line_rush::run(&rush_client, held, joiners, &rush_config).await?;
    eprintln!(
        "line rush: {:.0} joins/s; {} places missing or given twice",
        rush.joins_per_second, rush.place_errors
    );
    let line_rush = LineRushSection {
        tickets: rush_config.tickets,
        buyers: rush_config.buyers,
        concurrency: sale.concurrency,
        outcome: rush,
        endpoints: rush_client.recorder.endpoints(),
    };
    let basket = baskets(&server, &sale, &data_dir).await?;
    let server_stats = ServerStats {
        idle_rss_mb: megabytes(idle_rss),
        peak_rss_mb: megabytes(peak.peak()),
        cpu_seconds: cpu_seconds(pid).unwrap_or_default() - cpu_before,
    };

    let command = format!(
        "cargo build --release && $CARGO_TARGET_DIR/release/boxoffice-loadgen bench --tickets {} --buyers {} --concurrency {} --sellers {}{} --read-secs {read_secs} --out {}",
        sale.tickets,
        sale.buyers,
        sale.concurrency,
        sale.sellers,
        sale.hot.map(|h| format!(" --hot {h}")).unwrap_or_default(),
        out.display()
    );
    let report = Report {
        generated_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        machine: machine(),
        command: command.replace("$CARGO_TARGET_DIR", "target"),
        ceiling,
        flash_sale: FlashSaleSection {
            sellers: sale.sellers,
            tickets: sale.tickets,
            buyers: sale.buyers,
            concurrency: sale.concurrency,
            hot: sale.hot,
            outcome,
            endpoints: sale_client.recorder.endpoints(),
            statuses: sale_client.recorder.statuses(),
            invariants: verdict.clone(),
            timeline: sale_client.recorder.timeline(),
            payments_lag,
        },
        browse: browse_sections,
        line_rush,
        basket,
        server: server_stats,
    };
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("benchmarks.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    chart::draw(
        &out.join("flash-sale.png"),
        "Flash sale",
        &report.flash_sale.timeline,
    )?;
    std::fs::write(out.join("benchmarks.md"), report.markdown("flash-sale.png"))?;
    println!("{}", report.markdown("flash-sale.png"));
    anyhow::ensure!(
        report.line_rush.outcome.place_errors == 0,
        "LINE ORDER VIOLATED: {} places missing or given twice",
        report.line_rush.outcome.place_errors
    );
    for verdict in [&verdict, &report.basket.invariants] {
        anyhow::ensure!(
            verdict.holds(),
            "INVARIANTS VIOLATED: {:#?}",
            verdict.violations
        );
    }
    Ok(())
}

/// The basket rush on the running server: one event per seller, the flash sale's seat
/// count and buyers; then the invariants over every order of the run.
async fn baskets(
    server: &Spawned,
    sale: &SaleArgs,
    data_dir: &std::path::Path,
) -> anyhow::Result<BasketSection> {
    let config = BasketRush {
        events: sale.sellers,
        tickets: sale.tickets,
        buyers: sale.buyers,
        pay_share: basket::PAY_SHARE,
        cancel_share: basket::CANCEL_SHARE,
        limits: sale.config().limits,
    };
    eprintln!(
        "baskets: {} buyers, 2–{} adjacent seats each, {} events of {} seats in all",
        config.buyers,
        basket::MAX_BASKET,
        config.events,
        config.tickets
    );
    let setup = Client::new(&server.base, sale.concurrency)?;
    let (stock, buyers) = basket::set_up(&setup, &Minter::new(&server.jwt_key), &config).await?;
    let events = stock.event_ids.len();
    let client = Client::new(&server.base, sale.concurrency)?;
    let outcome = basket::run(&client, stock, buyers, &config).await?;
    let verdict: Verdict = invariants::check_converged(data_dir, Duration::from_secs(60)).await?;
    eprintln!(
        "baskets: {:.0} attempts/s ({} won, {} refused, {} other), p99 {:.1} ms; invariants {}",
        outcome.attempts_per_second,
        outcome.won,
        outcome.refused,
        outcome.other,
        outcome.p99_ms,
        if verdict.holds() { "hold" } else { "VIOLATED" }
    );
    Ok(BasketSection {
        events,
        tickets: config.tickets,
        buyers: config.buyers,
        concurrency: sale.concurrency,
        pay_share: config.pay_share,
        cancel_share: config.cancel_share,
        outcome,
        endpoints: client.recorder.endpoints(),
        statuses: client.recorder.statuses(),
        invariants: verdict,
    })
}

/// "2 cores, <model>" from /proc/cpuinfo.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{cores} cores, {model}")
}
