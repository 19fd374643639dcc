//! The one client every page uses to reach the services: their public JSON API, nothing
//! else. The web crate holds no SQL and no business rule; what the API answers is what
//! the page shows.
//!
//! Embedded, the API is a router in the same process and a call is a tower `oneshot` on
//! it — no socket, no serialisation beyond the JSON the API speaks anyway. Distributed,
//! the same calls go over HTTP to the ingress. Either way the browser's session cookie is
//! forwarded, so the API decides who the caller is.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

/// Longest body read back from the API; its own limit is 64 KiB per request, and lists
/// are paged, so a page's worth is far below this.
const MAX_REPLY_BYTES: usize = 4 * 1024 * 1024;

/// Where the API is.
#[derive(Debug, Clone)]
enum Transport {
    /// The application's own API router, called in process.
    InProcess(Router),
    /// The API behind an ingress, e.g. `http://ingress` (no trailing slash).
    Http {
        base: String,
        client: reqwest::Client,
    },
}

/// Cheap to clone; shared by every request.
#[derive(Debug, Clone)]
pub struct Api {
    transport: Transport,
}

/// One API answer: its status, headers and JSON body (`Value::Null` when it had none).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// One problem the API reported: `{message, field?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub field: Option<String>,
}

impl Problem {
    /// The id of the element the error summary links to: the field's, or the form's.
    pub fn anchor(&self) -> &str {
        self.field.as_deref().unwrap_or("form")
    }
}

impl Reply {
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The contract's `{errors:[{message, field?}]}`, or one generic problem.
    pub fn problems(&self) -> Vec<Problem> {
        let items = self.body["errors"].as_array().cloned().unwrap_or_default();
        let problems: Vec<Problem> = items
            .iter()
            .filter_map(|item| {
                Some(Problem {
                    message: item["message"].as_str()?.to_owned(),
                    field: item["field"].as_str().map(str::to_owned),
                })
            })
            .collect();
        if problems.is_empty() {
            vec![Problem {
                message: "Something went wrong".to_owned(),
                field: None,
            }]
        } else {
            problems
        }
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every `Set-Cookie` the API sent, to hand on to the browser.
    pub fn set_cookies(&self) -> Vec<HeaderValue> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .cloned()
            .collect()
    }
}

/// Why a call got no answer at all (the API is down or unreachable).
#[derive(Debug, thiserror::Error)]
#[error("the API did not answer: {0}")]
pub struct Unreachable(String);

/// What one call sends besides its method and path.
#[derive(Debug, Default, Clone)]
pub struct Call<'a> {
    /// The browser's session token, forwarded as the `session` cookie.
    pub session: Option<&'a str>,
    /// The browser's waiting-room admission cookies (`admission-{eventId}=…; …`),
    /// forwarded beside the session to an order (see `crate::visitor::admission_cookies`).
    pub admissions: Option<&'a str>,
    pub body: Option<Value>,
    pub idempotency_key: Option<&'a str>,
}

impl Api {
    /// Calls `router` — the application's API with its middleware — in process.
    pub fn in_process(router: Router) -> Self {
        Self {
            transport: Transport::InProcess(router),
        }
    }

    /// Calls the API at `base` (e.g. the ingress, `http://127.0.0.1:8080`) over HTTP.
    pub fn over_http(base: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            transport: Transport::Http {
                base: base.trim_end_matches('/').to_owned(),
                client,
            },
        })
    }

    pub async fn get(&self, path: &str, session: Option<&str>) -> Result<Reply, Unreachable> {
        let call = Call {
            session,
            ..Call::default()
        };
        self.call(Method::GET, path, call).await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        call: Call<'_>,
    ) -> Result<Reply, Unreachable> {
        self.call(method, path, call).await
    }

    async fn call(&self, method: Method, path: &str, call: Call<'_>) -> Result<Reply, Unreachable> {
        match &self.transport {
            Transport::InProcess(router) => in_process(router, method, path, call).await,
            Transport::Http { base, client } => over_http(client, base, method, path, call).await,
        }
    }
}

/// The `Cookie` header a call forwards: the session, then any admissions.
fn forwarded_cookies(call: &Call<'_>) -> Option<String> {
    let session = call.session.map(|token| format!("session={token}"));
    match (session, call.admissions.filter(|a| !a.is_empty())) {
        (Some(session), Some(admissions)) => Some(format!("{session}; {admissions}")),
        (Some(session), None) => Some(session),
        (None, Some(admissions)) => Some(admissions.to_owned()),
        (None, None) => None,
    }
}

async fn in_process(
    router: &Router,
    method: Method,
    path: &str,
    call: Call<'_>,
) -> Result<Reply, Unreachable> {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(cookies) = forwarded_cookies(&call) {
        request = request.header(header::COOKIE, cookies);
    }
    if let Some(key) = call.idempotency_key {
        request = request.header("idempotency-key", key);
    }
    let body = match call.body {
        Some(json) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let request = request
        .body(body)
        .map_err(|err| Unreachable(err.to_string()))?;
    let response = router
        .clone()
        .oneshot(request)
        .await
        .map_err(|err| Unreachable(err.to_string()))?;
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_REPLY_BYTES)
        .await
        .map_err(|err| Unreachable(err.to_string()))?;
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    })
}

async fn over_http(
    client: &reqwest::Client,
    base: &str,
    method: Method,
    path: &str,
    call: Call<'_>,
) -> Result<Reply, Unreachable> {
    let method = reqwest::Method::from_bytes(method.as_str().as_bytes())
        .map_err(|err| Unreachable(err.to_string()))?;
    let mut request = client.request(method, format!("{base}{path}"));
    if let Some(cookies) = forwarded_cookies(&call) {
        request = request.header("cookie", cookies);
    }
    if let Some(key) = call.idempotency_key {
        request = request.header("idempotency-key", key);
    }
    if let Some(json) = call.body {
        request = request.json(&json);
    }
    let response = request
        .send()
        .await
        .map_err(|err| Unreachable(err.to_string()))?;
    let status = StatusCode::from_u16(response.status().as_u16())
        .map_err(|err| Unreachable(err.to_string()))?;
    let mut headers = HeaderMap::new();
    for (name, value) in response.headers() {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|err| Unreachable(err.to_string()))?;
    Ok(Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    })
}
