//! What every response tells the browser about how to treat it, and who the client is when
//! a proxy stands in front.
//!
//! * Headers on every response: `Content-Security-Policy` (the process's policy, which
//!   also forbids framing: `frame-ancestors 'none'`), `X-Frame-Options: DENY` for older
//!   browsers, `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`, and
//!   `Strict-Transport-Security` when the request came over HTTPS. A textual
//!   `Content-Type` (JSON, HTML, CSS, JavaScript, plain text) always names its charset
//!   (server-sent events are UTF-8 by definition and keep their bare type).
//! * Forwarded headers (`X-Forwarded-For`, `X-Forwarded-Proto`) are believed only when the
//!   connection comes from a configured proxy ([`TrustedProxies`], `TRUSTED_PROXIES`);
//!   anyone else could write them, so by default nobody is trusted and the client is the
//!   peer of the TCP connection. The result is put in the request as [`ClientIp`], for
//!   logs and for anything keyed by address.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;

/// `Strict-Transport-Security` for responses to HTTPS requests: one year, subdomains too.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The client's address: the TCP peer, or — when the peer is a trusted proxy — the
/// nearest address in `X-Forwarded-For` that is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// One network in CIDR notation (`10.0.0.0/8`, `fd00::/8`) or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(net), IpAddr::V4(addr)) => prefix_eq(
                u128::from(u32::from(net)) << 96,
                u128::from(u32::from(addr)) << 96,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(addr)) => {
                prefix_eq(u128::from(net), u128::from(addr), self.prefix)
            }
            _ => false,
        }
    }
}

/// An IPv4 address that arrived mapped into IPv6 (`::ffff:a.b.c.d`) is that IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(a: u128, b: u128, prefix: u8) -> bool {
    match prefix {
        0 => true,
        p if p >= 128 => a == b,
        p => (a ^ b) >> (128 - u32::from(p)) == 0,
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{text:?} is not an IP address or CIDR network");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network = canonical(address.parse::<IpAddr>().map_err(|_| bad())?);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(bad)?,
            None => max,
        };
        Ok(Self { network, prefix })
    }
}

/// The proxies whose forwarded headers are believed (`TRUSTED_PROXIES`): a comma- or
/// space-separated list of networks. Empty — nobody — by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.iter().any(|cidr| cidr.contains(address))
    }

    /// The client of a request that arrived from `peer`: see [`ClientIp`]. Walks
    /// `X-Forwarded-For` from the right (the entry the nearest proxy wrote), skipping
    /// trusted proxies; an unreadable entry stops the walk at the last address known good.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.contains(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.into_iter().rev() {
            let Ok(address) = hop.parse::<IpAddr>() else {
                break;
            };
            client = canonical(address);
            if !self.contains(client) {
                break;
            }
        }
        client
    }

    /// Whether a request from `peer` came over HTTPS: only a trusted proxy's
    /// `X-Forwarded-Proto` can say so (this server itself speaks plain HTTP).
    pub fn forwarded_https(&self, peer: IpAddr, headers: &HeaderMap) -> bool {
        self.contains(peer)
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.split([',', ' '])
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(Cidr::from_str)
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// The headers a process puts on its responses.
#[derive(Debug, Clone)]
pub struct SecurityPolicy {
    inner: Arc<PolicyInner>,
}

#[derive(Debug)]
struct PolicyInner {
    content_security_policy: HeaderValue,
    trusted_proxies: TrustedProxies,
}

impl SecurityPolicy {
    /// `content_security_policy` is the `Content-Security-Policy` of every response.
    pub fn new(
        content_security_policy: &str,
        trusted_proxies: TrustedProxies,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::new(PolicyInner {
                content_security_policy: HeaderValue::from_str(content_security_policy)?,
                trusted_proxies,
            }),
        })
    }
}

/// Wraps `router` (everything the process serves) in the headers of `policy`.
pub fn apply(router: Router, policy: SecurityPolicy) -> Router {
    router.layer(middleware::from_fn_with_state(policy, secure))
}

async fn secure(
    State(policy): State<SecurityPolicy>,
    mut request: Request,
    next: Next,
) -> Response {
    let policy = &policy.inner;
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    let mut https = false;
    if let Some(peer) = peer {
        https = policy
            .trusted_proxies
            .forwarded_https(peer, request.headers());
        let client = policy.trusted_proxies.client_ip(peer, request.headers());
        request.extensions_mut().insert(ClientIp(client));
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        policy.content_security_policy.clone(),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    if let Some(with_charset) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(with_charset)
    {
        headers.insert(header::CONTENT_TYPE, with_charset);
    }
    response
}

/// A textual content type without a charset, with `charset=utf-8` added: everything this
/// server writes is UTF-8.
fn with_charset(content_type: &str) -> Option<HeaderValue> {
    let lower = content_type.to_ascii_lowercase();
    let essence = lower.split(';').next().unwrap_or_default().trim();
    // Server-sent events are UTF-8 by definition; their type takes no charset.
    let textual = (essence.starts_with("text/") && essence != "text/event-stream")
        || matches!(
            essence,
            "application/json" | "application/javascript" | "application/problem+json"
        );
    if !textual || lower.contains("charset=") {
        return None;
    }
    HeaderValue::from_str(&format!("{content_type}; charset=utf-8")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().expect("header"));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn networks_parse_and_match() {
        let proxies: TrustedProxies = "10.0.0.0/8, 192.168.1.7 fd00::/8".parse().expect("parse");
        assert!(proxies.contains(ip("10.1.2.3")));
        assert!(
            proxies.contains(ip("::ffff:10.1.2.3")),
            "IPv4 mapped into IPv6"
        );
        assert!(proxies.contains(ip("192.168.1.7")));
        assert!(!proxies.contains(ip("192.168.1.8")));
        assert!(proxies.contains(ip("fd12::1")));
        assert!(!proxies.contains(ip("fe80::1")));
        assert!("".parse::<TrustedProxies>().expect("empty").0.is_empty());
        for bad in ["10.0.0.0/33", "example.com", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<TrustedProxies>().is_err(), "{bad}");
        }
        let everyone: TrustedProxies = "0.0.0.0/0".parse().expect("parse");
        assert!(everyone.contains(ip("8.8.8.8")));
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let headers = forwarded(&["203.0.113.9"]);
        let nobody = TrustedProxies::default();
        assert_eq!(
            nobody.client_ip(ip("198.51.100.1"), &headers),
            ip("198.51.100.1")
        );

        let proxy: TrustedProxies = "10.0.0.0/8".parse().expect("parse");
        assert_eq!(
            proxy.client_ip(ip("198.51.100.1"), &headers),
            ip("198.51.100.1")
        );
        assert_eq!(proxy.client_ip(ip("10.0.0.2"), &headers), ip("203.0.113.9"));
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_hop() {
        let proxy: TrustedProxies = "10.0.0.0/8".parse().expect("parse");
        // The client wrote a fake first entry; our proxies appended the real ones.
        let headers = forwarded(&["1.2.3.4, 203.0.113.9", "10.0.0.5"]);
        assert_eq!(proxy.client_ip(ip("10.0.0.2"), &headers), ip("203.0.113.9"));
        // Garbage stops the walk at the last good address.
        let headers = forwarded(&["203.0.113.9, unknown, 10.0.0.5"]);
        assert_eq!(proxy.client_ip(ip("10.0.0.2"), &headers), ip("10.0.0.5"));
        // No header: the proxy itself.
        assert_eq!(
            proxy.client_ip(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn only_a_trusted_proxy_says_the_request_was_https() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-proto", "https".parse().expect("header"));
        let proxy: TrustedProxies = "127.0.0.1".parse().expect("parse");
        assert!(proxy.forwarded_https(ip("127.0.0.1"), &headers));
        assert!(!proxy.forwarded_https(ip("127.0.0.2"), &headers));
        assert!(!TrustedProxies::default().forwarded_https(ip("127.0.0.1"), &headers));
    }

    #[test]
    fn textual_content_types_get_a_charset() {
        let charset = |ct: &str| with_charset(ct).map(|v| v.to_str().expect("text").to_owned());
        assert_eq!(
            charset("application/json").as_deref(),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(
            charset("text/plain; version=0.0.4").as_deref(),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        assert_eq!(charset("text/html; charset=utf-8"), None);
        assert_eq!(charset("image/png"), None);
        assert_eq!(charset("text/event-stream"), None);
    }
}
