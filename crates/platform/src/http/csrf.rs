//! Cross-site request forgery defence, in depth beside `SameSite=Lax`.
//!
//! A browser attaches the session cookie to any request to our host, including a form
//! another site submits. Browsers also send `Origin` on such cross-site POSTs, so a
//! state-changing request that rides on the cookie and names a different origin is
//! refused. Requests authenticated by a bearer header carry no ambient credential and are
//! not affected; neither are requests without `Origin` (same-origin navigation, curl).

use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::session::session_cookie_value;

/// Middleware: answers 401 to cross-site state changes that carry the session cookie.
pub async fn reject_cross_site(request: Request, next: Next) -> Response {
    if is_state_changing(request.method())
        && session_cookie_value(request.headers()).is_some()
        && is_cross_site(request.headers())
    {
        tracing::warn!("refused a cross-site request carrying the session cookie");
        return ApiError::Unauthorized.into_response();
    }
    next.run(request).await
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// True when `Origin` is present and does not name the host the request was sent to.
///
/// Behind an ingress the original host arrives as `X-Forwarded-Host`; nginx's default
/// `proxy_set_header Host $host` keeps `Host` itself intact, so either may be the truth.
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Some(origin_authority) = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, authority)| authority.trim_end_matches('/'))
    else {
        // `Origin: null` (sandboxed frames, some redirects) or garbage: not our site.
        return true;
    };
    let hosts = [headers.get("x-forwarded-host"), headers.get(header::HOST)];
    !hosts
        .into_iter()
        .flatten()
        .filter_map(|h| h.to_str().ok())
        .any(|host| host.eq_ignore_ascii_case(origin_authority))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().expect("host"));
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, origin.parse().expect("origin"));
        }
        headers
    }

    #[test]
    fn same_origin_and_missing_origin_pass() {
        assert!(!is_cross_site(&headers(
            Some("http://localhost:3000"),
            "localhost:3000"
        )));
        assert!(!is_cross_site(&headers(None, "localhost:3000")));
    }

    #[test]
    fn other_sites_and_null_origins_are_cross_site() {
        assert!(is_cross_site(&headers(
            Some("https://evil.example"),
            "localhost:3000"
        )));
        assert!(is_cross_site(&headers(
            Some("http://localhost:3001"),
            "localhost:3000"
        )));
        assert!(is_cross_site(&headers(Some("null"), "localhost:3000")));
    }
}
