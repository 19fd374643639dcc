//! The id in a route's path, parsed at the edge.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use boxoffice_common::Id;
use boxoffice_common::id::parse_id;

use super::error::ApiError;

/// The single `{id}` of a route like `/api/orders/{id}`. Anything that is not an id is
/// answered 404 `"Not found"`, as the contract asks: a malformed id names nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathId(pub Id);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        parse_id(&text).map(Self).ok_or(ApiError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn status_of(uri: &str) -> StatusCode {
        let app = Router::new().route(
            "/things/{id}",
            get(|PathId(id): PathId| async move { id.to_string() }),
        );
        app.oneshot(Request::get(uri).body(Body::empty()).expect("request"))
            .await
            .expect("response")
            .status()
    }

    #[tokio::test]
    async fn ids_parse_and_anything_else_is_not_found() {
        let id = boxoffice_common::new_id();
        assert_eq!(status_of(&format!("/things/{id}")).await, StatusCode::OK);
        assert_eq!(status_of("/things/not-an-id").await, StatusCode::NOT_FOUND);
        assert_eq!(status_of("/things/123").await, StatusCode::NOT_FOUND);
    }
}
