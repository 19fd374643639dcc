//! The load generator's HTTP client: minted sessions and timed requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

use crate::recorder::Recorder;

/// A client for one BoxOffice, recording every request it makes.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    pub base: String,
    pub recorder: Arc<Recorder>,
}

/// An answer: status and JSON body (`Null` when there was none).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Client {
    pub fn new(base: &str, connections: usize) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            recorder: Arc::new(Recorder::new()),
        })
    }

    /// Sends a request; `endpoint` names it in the report (`"POST /api/orders"`).
    pub async fn send(
        &self,
        endpoint: &'static str,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<Answer> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let started = Instant::now();
        let response = request
            .send()
            .await
            .with_context(|| format!("{endpoint} {path}"))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        self.recorder.record(endpoint, status, started.elapsed());
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }
}

/// Mints session tokens the way the auth service does, for users that exist only as ids.
///
/// Signing up twenty thousand buyers costs twenty thousand Argon2id hashes — minutes of CPU
/// that say nothing about selling tickets — so the flash sale mints its buyers' sessions
/// with the server's key instead. Every service verifies the token alone, exactly as it
/// would a signed-in user's.
#[derive(Clone)]
pub struct Minter {
    key: EncodingKey,
}

impl std::fmt::Debug for Minter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Minter")
    }
}

impl Minter {
    pub fn new(jwt_key: &str) -> Self {
        Self {
            key: EncodingKey::from_secret(jwt_key.as_bytes()),
        }
    }

    /// A one-hour session for a new user id; returns (id, token).
    pub fn session(&self) -> anyhow::Result<(String, String)> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = serde_json::json!({
            "id": id,
            "email": format!("{id}@loadgen.invalid"),
            "iat": now,
            "exp": now + 3600,
        });
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)?;
        Ok((id, token))
    }
}
