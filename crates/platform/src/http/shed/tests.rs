use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::routing::get;
use tokio::sync::{Notify, mpsc};
use tower::ServiceExt;

use super::*;

const WITHIN: Duration = Duration::from_secs(5);

/// `/slow` says it has entered, then waits for `gate`; `/stream` answers at once with a
/// body that never ends; `/fast` and `/healthz` answer at once.
fn app(limit: usize, entered: mpsc::UnboundedSender<()>, gate: Arc<Notify>) -> Router {
    let slow = get(move || {
        let (entered, gate) = (entered.clone(), Arc::clone(&gate));
        async move {
            let opened = gate.notified();
            let _ = entered.send(());
            opened.await;
            "slow"
        }
    });
    let stream = get(|| async {
        Body::from_stream(futures::stream::pending::<Result<Bytes, Infallible>>())
    });
    let router = Router::new()
        .route("/slow", slow)
        .route("/stream", stream)
        .route("/fast", get(|| async { "fast" }))
        .route("/healthz", get(|| async { "ok" }));
    apply(router, limit)
}

async fn call(app: &Router, path: &str) -> Response {
    tokio::time::timeout(
        WITHIN,
        app.clone()
            .oneshot(Request::get(path).body(Body::empty()).expect("request")),
    )
    .await
    .expect("answered at once")
    .expect("infallible")
}

#[tokio::test]
async fn beyond_the_limit_requests_are_refused_at_once_with_retry_after() {
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let gate = Arc::new(Notify::new());
    let app = app(2, entered_tx, Arc::clone(&gate));

    let busy: Vec<_> = (0..2)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                let response = app
                    .oneshot(Request::get("/slow").body(Body::empty()).expect("request"))
                    .await
                    .expect("infallible");
                response.status()
            })
        })
        .collect();
    for _ in 0..2 {
        tokio::time::timeout(WITHIN, entered.recv())
            .await
            .expect("both slow requests are in their handler");
    }

    let refused = call(&app, "/fast").await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
    let body = axum::body::to_bytes(refused.into_body(), 4096)
        .await
        .expect("body");
    let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(body["errors"][0]["message"], BUSY);
    assert_eq!(
        call(&app, "/healthz").await.status(),
        StatusCode::OK,
        "health is never shed"
    );

    gate.notify_waiters();
    for answer in busy {
        assert_eq!(answer.await.expect("slow request"), StatusCode::OK);
    }
    assert_eq!(
        call(&app, "/fast").await.status(),
        StatusCode::OK,
        "the places are free again"
    );
}

#[tokio::test]
async fn a_streamed_body_gives_its_place_back_once_the_head_is_sent() {
    let (entered, _) = mpsc::unbounded_channel();
    let app = app(1, entered, Arc::new(Notify::new()));
    let open_stream = call(&app, "/stream").await;
    assert_eq!(open_stream.status(), StatusCode::OK);
    assert_eq!(
        call(&app, "/fast").await.status(),
        StatusCode::OK,
        "the stream, still open, holds no place"
    );
    drop(open_stream);
}

#[tokio::test]
async fn a_limit_of_zero_sheds_nothing() {
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let gate = Arc::new(Notify::new());
    let app = app(0, entered_tx, Arc::clone(&gate));
    let waiting: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { call(&app, "/slow").await.status() })
        })
        .collect();
    for _ in 0..8 {
        tokio::time::timeout(WITHIN, entered.recv())
            .await
            .expect("every request is let in");
    }
    assert_eq!(call(&app, "/fast").await.status(), StatusCode::OK);
    gate.notify_waiters();
    for answer in waiting {
        assert_eq!(answer.await.expect("slow request"), StatusCode::OK);
    }
}
