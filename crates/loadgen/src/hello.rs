//! A minimal HTTP server: the machine's ceiling for this client, measured in the same run.

use axum::Router;
use axum::routing::get;

/// Serves `GET /` → `Hello, world!` and `GET /healthz` until killed.
pub async fn serve(port: u16) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/", get(|| async { "Hello, world!" }))
        .route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
