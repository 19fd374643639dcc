//! The OpenAPI document is generated from the handlers and snapshot-tested, so any change
//! to the public API shows up in review.

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_openapi_document_matches_its_snapshot() {
    let app = spawn_app().await;
    let reply = app.get("/api/docs/openapi.json").await;
    assert_eq!(reply.status, 200);

    let paths: Vec<&str> = reply.body["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    for route in [
        "/api/users/signup",
        "/api/users/signin",
        "/api/users/signout",
        "/api/users/currentuser",
        "/api/tickets",
        "/api/tickets/{id}",
        "/api/orders",
        "/api/orders/{id}",
        "/api/payments",
        "/api/payments/webhook",
        "/api/payments/{id}/authenticate",
    ] {
        assert!(paths.contains(&route), "{route} is documented");
    }

    let mut document = reply.body.clone();
    // The version follows the crate; the snapshot should not churn on every release.
    document["info"]["version"] = "<version>".into();
    insta::assert_json_snapshot!("openapi", document);
    app.assert_settled().await;
}
