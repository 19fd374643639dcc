//! The benchmark report: JSON for machines, Markdown for people.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::invariants::Verdict;
use crate::recorder::{EndpointSummary, TimelinePoint};
use crate::scenario::{browse, ceiling, flash_sale, line_rush};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: String,
    pub machine: String,
    pub command: String,
    pub ceiling: ceiling::Outcome,
    pub flash_sale: FlashSaleSection,
    pub browse: Vec<BrowseSection>,
    pub line_rush: LineRushSection,
    pub server: ServerStats,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineRushSection {
    pub tickets: usize,
    pub buyers: usize,
    pub concurrency: usize,
    pub outcome: line_rush::RushOutcome,
    pub endpoints: Vec<EndpointSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlashSaleSection {
    pub sellers: usize,
    pub tickets: usize,
    pub buyers: usize,
    pub concurrency: usize,
    pub hot: Option<usize>,
    pub outcome: flash_sale::Outcome,
    pub endpoints: Vec<EndpointSummary>,
    pub statuses: BTreeMap<String, u64>,
    pub invariants: Verdict,
    pub timeline: Vec<TimelinePoint>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BrowseSection {
    pub name: String,
    pub outcome: browse::Outcome,
    pub endpoints: Vec<EndpointSummary>,
    /// `GET /api/tickets/:id` per second ÷ the hello-world ceiling.
    pub ceiling_ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerStats {
    pub idle_rss_mb: f64,
    pub peak_rss_mb: f64,
    pub cpu_seconds: f64,
}

fn endpoint_table(out: &mut String, endpoints: &[EndpointSummary]) {
    let _ = writeln!(
        out,
        "| endpoint | requests | p50 ms | p90 ms | p99 ms | max ms |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for e in endpoints {
        let _ = writeln!(
            out,
            "| `{}` | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
            e.endpoint, e.requests, e.p50_ms, e.p90_ms, e.p99_ms, e.max_ms
        );
    }
}

impl Report {
    pub fn markdown(&self, chart_file: &str) -> String {
        let mut out = String::new();
        let fs = &self.flash_sale;
        let o = &fs.outcome;
        let _ = writeln!(out, "# BoxOffice benchmarks\n");
        let _ = writeln!(
            out,
            "Latest run: {} on {}.\n",
            self.generated_at, self.machine
        );
        let _ = writeln!(out, "Reproduce with:\n\n```sh\n{}\n```\n", self.command);
        let _ = writeln!(
            out,
            "Everything below comes from that one run: the load generator, the hello-world ceiling and the embedded `boxoffice` (release build, SQLite, in-process bus, test payment processor) share the same 2 cores. Buyer sessions are minted with the server's key rather than signed up (Argon2id would take minutes and measure nothing about selling). What was changed for speed, what it gained and what holds BoxOffice back now: [performance.md](performance.md).\n"
        );
        let _ = writeln!(out, "## Flash sale\n");
        let _ = writeln!(
            out,
            "{} sellers, {} tickets, {} buyers released at once, {} concurrent, buyers pick {}.\n",
            fs.sellers,
            fs.tickets,
            fs.buyers,
            fs.concurrency,
            fs.hot
                .map_or("any ticket at random".to_owned(), |h| format!(
                    "among the {h} hottest tickets"
                ))
        );
        let _ = writeln!(out, "| measure | value |\n|---|---:|");
        let _ = writeln!(
            out,
            "| order attempts/s | **{:.0}** |",
            o.attempts_per_second
        );
        let _ = writeln!(out, "| successful orders/s | {:.0} |", o.orders_per_second);
        let _ = writeln!(out, "| order attempts | {} |", o.order_attempts);
        let _ = writeln!(
            out,
            "| orders placed / paid | {} / {} |",
            o.orders_placed, o.payments_succeeded
        );
        let _ = writeln!(
            out,
            "| timed part | {:.2} s ({}) |",
            o.elapsed_seconds, o.stopped_because
        );
        let _ = writeln!(out, "| buyers released | {} |", o.buyers_released);
        let _ = writeln!(
            out,
            "| server RSS idle / peak | {:.1} MB / {:.1} MB |",
            self.server.idle_rss_mb, self.server.peak_rss_mb
        );
        let _ = writeln!(
            out,
            "| server CPU time | {:.1} s |",
            self.server.cpu_seconds
        );
        let verdict = &fs.invariants;
        let _ = writeln!(
            out,
            "| invariants | {} ({} sold, {} completed, {} charged, {} refunded, {} events unsent) |\n",
            if verdict.holds() {
                "**all hold**".to_owned()
            } else {
                format!("**{} VIOLATED**", verdict.violations.len())
            },
            verdict.sold_tickets,
            verdict.completed_orders,
            verdict.succeeded_payments,
            verdict.refunded_payments,
            verdict.unsent_events
        );
        endpoint_table(&mut out, &fs.endpoints);
        let _ = writeln!(
            out,
            "\nStatus counts: {}\n",
            fs.statuses
                .iter()
                .map(|(k, v)| format!("`{k}` {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            out,
            "![throughput and p99 latency over the flash sale]({chart_file})\n"
        );
        let _ = writeln!(out, "## Reading and the machine's ceiling\n");
        let _ = writeln!(
            out,
            "The same HTTP client against a hello-world server (`boxoffice-loadgen hello`): **{:.0} requests/s**.\n",
            self.ceiling.requests_per_second
        );
        for b in &self.browse {
            let _ = writeln!(
                out,
                "### {}\n\n{:.0} requests/s ({:.0} ticket pages/s, {:.0} listings/s); ticket pages at **{:.0} %** of the ceiling.\n",
                b.name,
                b.outcome.requests_per_second,
                b.outcome.show_per_second,
                b.outcome.list_per_second,
                b.ceiling_ratio * 100.0
            );
            endpoint_table(&mut out, &b.endpoints);
            out.push('\n');
        }
        let rush = &self.line_rush;
        let _ = writeln!(
            out,
            "## Waiting in line

{} buyers released at once, {} concurrent, join the lines of {} held tickets (buyer i joins ticket i mod {}).
",
            rush.buyers, rush.concurrency, rush.tickets, rush.tickets
        );
        let _ = writeln!(
            out,
            "| measure | value |\n|---|---:|\n| joins/s | **{:.0}** |\n| joins | {} |\n| refused | {} |\n| longest line | {} |\n| places missing or given twice | **{}** |\n",
            rush.outcome.joins_per_second,
            rush.outcome.joins,
            rush.outcome.refused,
            rush.outcome.longest_line,
            rush.outcome.place_errors
        );
        endpoint_table(&mut out, &rush.endpoints);
        out.push('\n');
        out
    }
}
