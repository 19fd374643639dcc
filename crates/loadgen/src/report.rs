//! The benchmark report: JSON for machines, Markdown for people.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::invariants::Verdict;
use crate::recorder::{EndpointSummary, TimelinePoint};
use crate::scenario::{basket, browse, ceiling, flash_sale, line_rush};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: String,
    pub machine: String,
    pub command: String,
    pub ceiling: ceiling::Outcome,
    pub flash_sale: FlashSaleSection,
    pub browse: Vec<BrowseSection>,
    pub line_rush: LineRushSection,
    pub basket: BasketSection,
    pub server: ServerStats,
}

#[derive(Debug, Clone, Serialize)]
pub struct BasketSection {
    pub events: usize,
    pub tickets: usize,
    pub buyers: usize,
    pub concurrency: usize,
    pub pay_share: f64,
    pub cancel_share: f64,
    pub outcome: basket::BasketOutcome,
    pub endpoints: Vec<EndpointSummary>,
    pub statuses: BTreeMap<String, u64>,
    /// The checks after the basket rush (they cover every order of the whole run).
    pub invariants: Verdict,
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
    /// Order placed → the payments service's replica has it, from the server's histogram.
    pub payments_lag: crate::lag::Lag,
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

fn invariants_cell(verdict: &Verdict) -> String {
    format!(
        "{} ({} sold, {} completed, {} charged, {} refunded, {} events unsent)",
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
    )
}

fn endpoint_table(out: &mut String, endpoints: &[EndpointSummary]) {
    let _ = writeln!(
        out,
        "| endpoint | requests | shed (503) | p50 ms | p90 ms | p99 ms | max ms |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    for e in endpoints {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
            e.endpoint, e.requests, e.shed, e.p50_ms, e.p90_ms, e.p99_ms, e.max_ms
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
            "Everything below comes from that one run: the load generator, the hello-world ceiling and the embedded `boxoffice` (release build, SQLite, in-process bus, test payment processor) share the same 2 cores. Buyer sessions are minted with the server's key rather than signed up (Argon2id would take minutes and measure nothing about selling). What was changed for speed, what it gained and what holds BoxOffice back now: `docs/performance.md` in the repository.\n"
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
        let _ = writeln!(
            out,
            "| order placed → payments' replica has it (event lag), p50 / p99 | {} |",
            lag_cell(&fs.payments_lag)
        );
        let _ = writeln!(
            out,
            "| invariants | {} |\n",
            invariants_cell(&fs.invariants)
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
        self.basket.markdown(&mut out);
        out
    }
}

impl BasketSection {
    fn markdown(&self, out: &mut String) {
        let o = &self.outcome;
        let _ = writeln!(out, "## Baskets (multi-ticket orders)\n");
        let _ = writeln!(
            out,
            "{} events with {} seats in all; {} buyers released at once, {} concurrent, each asks for 2–{} adjacent seats of one event near the front (`POST /api/orders {{\"ticketIds\": [..]}}`), choosing from a seat map that learns of a basket only when its `201` is back, so baskets in flight overlap. Of the winners, {:.0} % pay (`tok_visa`), {:.0} % cancel, the rest keep the hold; a refused buyer looks again (up to {} baskets).\n",
            self.events,
            self.tickets,
            self.buyers,
            self.concurrency,
            basket::MAX_BASKET,
            self.pay_share * 100.0,
            self.cancel_share * 100.0,
            basket::ATTEMPTS_PER_BUYER
        );
        let _ = writeln!(out, "| measure | value |\n|---|---:|");
        let _ = writeln!(
            out,
            "| basket attempts/s | **{:.0}** |",
            o.attempts_per_second
        );
        let _ = writeln!(
            out,
            "| basket attempts: 201 / 400 / other | {} / {} / {} |",
            o.won, o.refused, o.other
        );
        let _ = writeln!(
            out,
            "| basket latency p50 / p99 | {:.2} ms / **{:.2} ms** |",
            o.p50_ms, o.p99_ms
        );
        let _ = writeln!(
            out,
            "| seats won / paid for | {} / {} |",
            o.tickets_won, o.tickets_paid
        );
        let _ = writeln!(
            out,
            "| winners who paid / cancelled / kept the hold | {} / {} / {} |",
            o.paid, o.cancelled, o.left_held
        );
        let _ = writeln!(
            out,
            "| payments or cancellations that failed | {} |",
            o.failed_follow_ups
        );
        let _ = writeln!(
            out,
            "| timed part | {:.2} s ({}) |",
            o.elapsed_seconds, o.stopped_because
        );
        let _ = writeln!(out, "| buyers released | {} |", o.buyers_released);
        let _ = writeln!(
            out,
            "| invariants after the whole run | {} |\n",
            invariants_cell(&self.invariants)
        );
        let _ = writeln!(
            out,
            "The invariants cover every order of the run — {} of them baskets — ticket by ticket: no ticket in two live or completed orders, each live or completed order holding all its tickets and a cancelled one none, the tickets service agreeing on every ticket, and each payment charging its order's total.\n",
            self.invariants.basket_orders
        );
        endpoint_table(out, &self.endpoints);
        let _ = writeln!(
            out,
            "\nStatus counts: {}\n",
            self.statuses
                .iter()
                .map(|(k, v)| format!("`{k}` {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// "≤ 1 ms / ≤ 5 ms (2000 events)": quantiles known up to the histogram's buckets.
fn lag_cell(lag: &crate::lag::Lag) -> String {
    let bound = |ms: Option<f64>| match ms {
        Some(ms) if ms.is_finite() => format!("≤ {ms} ms"),
        Some(_) => "over the last bucket".to_owned(),
        None => "not measured".to_owned(),
    };
    format!(
        "{} / {} ({} events)",
        bound(lag.p50_ms_at_most),
        bound(lag.p99_ms_at_most),
        lag.events
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::basket::BasketOutcome;

    fn section(violations: Vec<String>) -> BasketSection {
        BasketSection {
            events: 20,
            tickets: 2000,
            buyers: 20_000,
            concurrency: 256,
            pay_share: 0.6,
            cancel_share: 0.2,
            outcome: BasketOutcome {
                elapsed_seconds: 4.8,
                attempts: 1695,
                attempts_per_second: 353.1,
                won: 799,
                refused: 896,
                other: 0,
                tickets_won: 2275,
                paid: 483,
                tickets_paid: 1389,
                cancelled: 159,
                left_held: 157,
                failed_follow_ups: 0,
                p50_ms: 118.05,
                p99_ms: 259.94,
                buyers_released: 866,
                stopped_because: "no two adjacent seats were left".to_owned(),
            },
            endpoints: vec![],
            statuses: BTreeMap::from([("POST /api/orders (basket) 201".to_owned(), 799)]),
            invariants: Verdict {
                basket_orders: 799,
                violations,
                ..Verdict::default()
            },
        }
    }

    #[test]
    fn the_basket_section_shows_rate_latency_counts_and_invariants() {
        let mut out = String::new();
        section(vec![]).markdown(&mut out);
        for expected in [
            "## Baskets (multi-ticket orders)",
            "| basket attempts/s | **353** |",
            "| basket attempts: 201 / 400 / other | 799 / 896 / 0 |",
            "| basket latency p50 / p99 | 118.05 ms / **259.94 ms** |",
            "| invariants after the whole run | **all hold**",
            "799 of them baskets",
            "`POST /api/orders (basket) 201` 799",
        ] {
            assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
        }
        let mut broken = String::new();
        section(vec!["order x holds 1 of its 2 tickets".to_owned()]).markdown(&mut broken);
        assert!(broken.contains("**1 VIOLATED**"), "{broken}");
    }
}
