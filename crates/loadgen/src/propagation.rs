//! Ticket → orderable latency.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use boxoffice_loadgen::stats::percentile;

/// Gives up on one ticket after this long.
const PER_TICKET_LIMIT: Duration = Duration::from_secs(10);

struct Session {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Session {
    async fn sign_up(client: &reqwest::Client, base: &str) -> anyhow::Result<Self> {
        let email = format!("loadgen-{}@example.com", uuid::Uuid::now_v7().simple());
        let response = client
            .post(format!("{base}/api/users/signup"))
            .json(&json!({ "email": email, "password": "loadgen password" }))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().as_u16() == 201,
            "sign-up answered {}",
            response.status()
        );
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("session="))
            .and_then(|v| v.split(';').next())
            .context("no session cookie")?
            .to_owned();
        Ok(Self {
            client: client.clone(),
            base: base.to_owned(),
            token: cookie,
        })
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }
}

pub async fn run(base: &str, tickets: u32) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let seller = Session::sign_up(&client, base).await?;
    let buyer = Session::sign_up(&client, base).await?;
    let mut samples = Vec::with_capacity(tickets as usize);
    let mut attempts = 0_u64;
    for i in 0..tickets {
        let (status, ticket) = seller
            .post(
                "/api/tickets",
                &json!({ "title": format!("Propagation {i}"), "price": 10 }),
            )
            .await?;
        anyhow::ensure!(status == 201, "creating a ticket answered {status}");
        let listed_at = Instant::now();
        let id = ticket["id"].as_str().context("ticket id")?.to_owned();
        loop {
            attempts += 1;
            let (status, body) = buyer
                .post("/api/orders", &json!({ "ticketId": id }))
                .await?;
            match status {
                201 => break,
                404 if listed_at.elapsed() < PER_TICKET_LIMIT => tokio::task::yield_now().await,
                _ => anyhow::bail!("ordering answered {status}: {body}"),
            }
        }
        samples.push(listed_at.elapsed());
    }
    samples.sort();
    println!(
        "tickets={tickets} order_attempts={attempts} p50={:?} p99={:?} max={:?}",
        percentile(&samples, 50.0),
        percentile(&samples, 99.0),
        percentile(&samples, 100.0)
    );
    Ok(())
}
