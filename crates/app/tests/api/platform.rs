//! The conventions every service shares: health, metrics, request ids, unknown routes,
//! the CSRF origin rule.

use serde_json::json;

use crate::helpers::{TestApp, on_both_backends, unique_email};

on_both_backends!(
    health_and_readiness_answer,
    metrics_count_requests_per_route,
    request_ids_are_assigned_and_kept,
    unknown_routes_and_methods_answer_in_the_contract_format,
    cross_site_state_changes_riding_on_the_cookie_are_refused,
);

async fn health_and_readiness_answer(app: TestApp) {
    let health = app.get("/healthz").await;
    assert_eq!((health.status, health.body), (200, json!({"status": "ok"})));

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["status"], "ready");
    let checks = ready.body["checks"].as_object().expect("checks");
    assert!(checks.contains_key("auth-db"), "{checks:?}");
    assert!(checks.values().all(|outcome| outcome == "ok"), "{checks:?}");
}

async fn metrics_count_requests_per_route(app: TestApp) {
    app.sign_up(&unique_email(), "correct horse").await;
    let text = app.metrics().await;
    let counter = text
        .lines()
        .find(|l| {
            l.starts_with("boxoffice_http_requests_total")
                && l.contains("service=\"auth\"")
                && l.contains("route=\"/api/users/signup\"")
                && l.contains("status=\"201\"")
        })
        .unwrap_or_else(|| panic!("no sign-up counter in:\n{text}"));
    let count: f64 = counter
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("a number");
    assert!(count >= 1.0);
    assert!(
        text.contains("boxoffice_http_request_duration_seconds_bucket"),
        "latency histogram present"
    );
}

async fn request_ids_are_assigned_and_kept(app: TestApp) {
    let reply = app.get("/healthz").await;
    let assigned = reply.headers["x-request-id"].to_str().expect("ascii");
    assert!(uuid::Uuid::parse_str(assigned).is_ok(), "{assigned}");

    let reply = app
        .send(
            app.client
                .get(app.url("/healthz"))
                .header("x-request-id", "trace-me-42"),
        )
        .await;
    assert_eq!(reply.headers["x-request-id"], "trace-me-42");
}

async fn unknown_routes_and_methods_answer_in_the_contract_format(app: TestApp) {
    let reply = app.get("/api/nothing/here").await;
    assert_eq!(
        (reply.status, reply.body),
        (404, json!({"errors": [{"message": "Not found"}]}))
    );

    let reply = app
        .send(app.client.delete(app.url("/api/users/signup")))
        .await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.error_messages(), ["Method not allowed"]);
}

async fn cross_site_state_changes_riding_on_the_cookie_are_refused(app: TestApp) {
    let signed_up = app.sign_up(&unique_email(), "correct horse").await;
    let cookie = signed_up.cookie();
    let sign_out = |origin: Option<&str>, with_cookie: bool| {
        let mut request = app.client.post(app.url("/api/users/signout"));
        if with_cookie {
            request = request.header("cookie", &cookie);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        app.send(request)
    };

    let refused = sign_out(Some("https://evil.example"), true).await;
    assert_eq!(
        (refused.status, refused.body),
        (401, json!({"errors": [{"message": "Not authorized"}]}))
    );
    assert_eq!(sign_out(Some("null"), true).await.status, 401);

    let own_origin = app.address.clone();
    assert_eq!(sign_out(Some(&own_origin), true).await.status, 200);
    assert_eq!(
        sign_out(None, true).await.status,
        200,
        "no Origin: not a browser form post"
    );
    assert_eq!(
        sign_out(Some("https://evil.example"), false).await.status,
        200,
        "no cookie, no ambient credential"
    );

    // Reading is never refused.
    let read = app
        .send(
            app.client
                .get(app.url("/api/users/currentuser"))
                .header("cookie", &cookie)
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(read.status, 200);
}

#[tokio::test]
async fn every_embedded_store_is_probed() {
    let app = crate::helpers::spawn_app().await;
    let ready = app.get("/readyz").await;
    let mut names: Vec<&String> = ready.body["checks"]
        .as_object()
        .expect("checks")
        .keys()
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "auth-db",
            "background-tasks",
            "expiration-db",
            "orders-db",
            "payments-db",
            "queue-store",
            "tickets-db"
        ]
    );
}

#[tokio::test]
async fn readiness_turns_off_when_a_background_task_dies() {
    let app = crate::helpers::spawn_app().await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.body["checks"]["background-tasks"], "ok");

    // A task of the process's own supervisor that gives up, as a relay whose store
    // vanished would: the instance must stop claiming to be ready.
    let supervisor = app.supervisor.as_ref().expect("a started app");
    supervisor.spawn("relay doomed", async {
        anyhow::bail!("the outbox is gone")
    });
    crate::helpers::eventually("/readyz reports the dead task", || async {
        app.get("/readyz").await.status == 503
    })
    .await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.body["status"], "unavailable");
    let report = ready.body["checks"]["background-tasks"]
        .as_str()
        .expect("a reason");
    assert!(
        report.contains("relay doomed failed: the outbox is gone"),
        "{report}"
    );
    assert_eq!(
        ready.body["checks"]["orders-db"], "ok",
        "the stores are fine"
    );
}
