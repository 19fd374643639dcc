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
    /// How long a request is sent again while the server is unreachable or its gateway
    /// answers 502/503/504 (a service being restarted); `None`: never.
    ride_out: Option<Duration>,
}

/// The first pause before a request is sent again over a failure; it doubles up to
/// [`LONGEST_FAILURE_PAUSE`].
const FIRST_FAILURE_PAUSE: Duration = Duration::from_millis(50);
const LONGEST_FAILURE_PAUSE: Duration = Duration::from_secs(1);
/// How long a request shed for load (503 with `Retry-After`) is sent again at most; then
/// the 503 is the answer.
const SHED_PATIENCE: Duration = Duration::from_secs(60);

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
            ride_out: None,
        })
    }

    /// A client that sends a request again, pausing longer each time, for up to `patience`
    /// while the server cannot be reached or its gateway answers 502, 503 (without
    /// `Retry-After`) or 504: for runs in which services are killed and restarted. Each
    /// failed try is recorded (a transport failure as status 0). A `POST` sent without an
    /// idempotency key gets one, the same for every try, so a try whose answer was lost
    /// is not a second order or listing.
    pub fn riding_out_failures(mut self, patience: Duration) -> Self {
        self.ride_out = Some(patience);
        self
    }

    /// A plain `GET` of `path` as `token`, unrecorded: for a live feed read as it streams,
    /// or a text export.
    pub fn get_raw(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let request = self.http.get(format!("{}{path}", self.base));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
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
        let give_up = self.ride_out.map(|patience| Instant::now() + patience);
        let stop_waiting_out_shedding = Instant::now() + SHED_PATIENCE;
        let mut failure_pause = FIRST_FAILURE_PAUSE;
        let generated_key = (self.ride_out.is_some()
            && idempotency_key.is_none()
            && method == reqwest::Method::POST)
            .then(|| uuid::Uuid::now_v7().to_string());
        let idempotency_key = idempotency_key.or(generated_key.as_deref());
        loop {
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base));
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
            let sent = async {
                let response = request.send().await?;
                let status = response.status().as_u16();
                let shed_for = shed_for(&response);
                Ok::<_, reqwest::Error>((status, shed_for, response.bytes().await?))
            }
            .await;
            let riding_out = give_up.is_some_and(|at| Instant::now() < at);
            let (status, shed_for, bytes) = match sent {
                Ok(answer) => answer,
                Err(_) if riding_out => {
                    self.recorder.record(endpoint, 0, started.elapsed());
                    tokio::time::sleep(failure_pause).await;
                    failure_pause = (failure_pause * 2).min(LONGEST_FAILURE_PAUSE);
                    continue;
                }
                Err(err) => return Err(err).with_context(|| format!("{endpoint} {path}")),
            };
            self.recorder.record(endpoint, status, started.elapsed());
            // Shed for load: wait as long as the server asks, then send the request again,
            // as a polite client does.
            if let Some(pause) = shed_for
                && Instant::now() < stop_waiting_out_shedding
            {
                tokio::time::sleep(pause).await;
                continue;
            }
            if riding_out && matches!(status, 502..=504) {
                tokio::time::sleep(failure_pause).await;
                failure_pause = (failure_pause * 2).min(LONGEST_FAILURE_PAUSE);
                continue;
            }
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            return Ok(Answer { status, body });
        }
    }
}

/// How long a server that shed the request asks to wait (503 with `Retry-After` in
/// seconds), with up to half of it again at random so the refused do not come back
/// together; `None` for any other answer.
fn shed_for(response: &reqwest::Response) -> Option<Duration> {
    if response.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let seconds: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    let pause = Duration::from_secs(seconds);
    Some(pause + pause.mul_f64(fastrand::f64() / 2.0))
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
            // The claims a signed-in session carries: its own id (what sign-out
            // revokes), who it is for, and what kind of token it is.
            "sid": uuid::Uuid::now_v7().to_string(),
            "aud": "boxoffice",
            "typ": "session",
        });
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)?;
        Ok((id, token))
    }
}
