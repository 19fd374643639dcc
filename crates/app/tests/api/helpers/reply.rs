//! A response, read whole.

use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::Value;

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub(super) async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is not JSON: {text:?}"))
        };
        Self {
            status,
            headers,
            body,
        }
    }

    /// The `Set-Cookie` header for the session cookie.
    pub fn session_set_cookie(&self) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("session="))
            .map(str::to_owned)
    }

    /// `session=<token>`, ready to send back in a `Cookie` header.
    pub fn cookie(&self) -> String {
        let set_cookie = self.session_set_cookie().expect("a session cookie was set");
        set_cookie
            .split(';')
            .next()
            .expect("cookie pair")
            .to_owned()
    }

    /// The session token inside the cookie.
    pub fn token(&self) -> String {
        self.cookie().trim_start_matches("session=").to_owned()
    }

    /// The messages of a contract error body, asserting its shape on the way.
    pub fn error_messages(&self) -> Vec<String> {
        let errors = self.body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("not an error body: {}", self.body));
        errors
            .iter()
            .map(|e| {
                e["message"]
                    .as_str()
                    .expect("message is a string")
                    .to_owned()
            })
            .collect()
    }
}
