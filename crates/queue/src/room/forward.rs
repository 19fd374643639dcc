//! Requests for a room another replica runs are passed on to it (the distributed mode):
//! whichever queue replica the ingress picks, the one running the room decides, and its
//! answer — a live feed included — streams back through this one. A room nobody runs is
//! taken by the replica the request reached. A request passed on once is never passed on
//! again: a runner that just lost the room answers 503 with `Retry-After`, like any
//! replica while a room changes hands.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use boxoffice_common::Id;
use boxoffice_platform::http::ApiError;

use super::http::MOVED;
use super::service::Rooms;
use super::tenancy::Runner;

/// Marks a request one replica passed on to another.
pub const FORWARDED: HeaderName = HeaderName::from_static("x-boxoffice-room-forwarded");

/// The largest request body passed on (room requests are small JSON documents).
const MAX_BODY: usize = 64 * 1024;

/// Headers that belong to one connection, never passed on.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// The client a replica passes requests on with: no overall timeout, since a live feed
/// lasts as long as its buyer watches.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .pool_idle_timeout(Duration::from_secs(30))
        .build()?)
}

/// Middleware on the room routes: serve here, pass on, or take the room.
pub async fn to_runner(State(rooms): State<Rooms>, request: Request, next: Next) -> Response {
    let (Some(tenancy), Some(event)) = (rooms.tenancy(), event_of(request.uri().path())) else {
        return next.run(request).await;
    };
    if rooms.runs(event) {
        return with_retry_after(next.run(request).await);
    }
    let runner = match tenancy.leases.runner(event).await {
        Ok(runner) => runner,
        Err(err) => {
            tracing::warn!(error = format!("{err:#}"), "finding a room's runner");
            return moved();
        }
    };
    match runner {
        // A new room, or none: the handler creates it or answers 404.
        Runner::NoRoom => with_retry_after(next.run(request).await),
        Runner::At(address) if address != tenancy.address => {
            if request.headers().contains_key(&FORWARDED) {
                return moved();
            }
            forward(&tenancy.client, &address, request).await
        }
        Runner::At(_) | Runner::Nobody => match rooms.take(event).await {
            Ok(true) => with_retry_after(next.run(request).await),
            Ok(false) => moved(),
            Err(err) => {
                tracing::warn!(error = format!("{err:#}"), "taking a room nobody runs");
                moved()
            }
        },
    }
}

/// The event of a `/api/events/{id}/room…` path.
fn event_of(path: &str) -> Option<Id> {
    let rest = path.strip_prefix("/api/events/")?;
    let (id, room) = rest.split_once('/')?;
    room.starts_with("room").then_some(())?;
    id.parse().ok()
}

/// 503 with `Retry-After`: the room is changing hands.
fn moved() -> Response {
    with_retry_after(
        ApiError::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: MOVED.to_owned(),
        }
        .into_response(),
    )
}

fn with_retry_after(mut response: Response) -> Response {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .entry(header::RETRY_AFTER)
            .or_insert(HeaderValue::from_static("1"));
    }
    response
}

fn strip(headers: &mut HeaderMap) {
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::CONTENT_LENGTH);
}

/// Passes `request` on to the replica at `address` and streams its answer back.
async fn forward(client: &reqwest::Client, address: &str, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return ApiError::Status {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: "The request body is too large".to_owned(),
        }
        .into_response();
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |p| p.as_str());
    let mut headers = parts.headers;
    strip(&mut headers);
    headers.remove(header::HOST);
    headers.insert(FORWARDED, HeaderValue::from_static("1"));
    let sent = client
        .request(parts.method, format!("{address}{path}"))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(err) => {
            // The runner died: its lease lapses and another replica takes the room.
            tracing::warn!(error = format!("{err:#}"), "passing a room request on");
            return moved();
        }
    };
    let status = answer.status();
    let mut headers = answer.headers().clone();
    strip(&mut headers);
    let mut response = Response::new(Body::from_stream(answer.bytes_stream()));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    with_retry_after(response)
}

#[cfg(test)]
mod tests {
    use super::event_of;

    #[test]
    fn only_room_paths_name_their_event() {
        let id = boxoffice_common::new_id();
        assert_eq!(event_of(&format!("/api/events/{id}/room")), Some(id));
        assert_eq!(event_of(&format!("/api/events/{id}/room/me")), Some(id));
        assert_eq!(event_of(&format!("/api/events/{id}")), None);
        assert_eq!(event_of(&format!("/api/events/{id}/tickets")), None);
        assert_eq!(event_of("/api/events/not-an-id/room"), None);
    }
}
