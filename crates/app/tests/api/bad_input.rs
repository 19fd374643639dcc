//! Bad input is a 4xx in the contract's format — never a 500.

use serde_json::json;

use crate::helpers::{TestApp, on_both_backends, unique_email};

on_both_backends!(
    malformed_json_is_a_400,
    a_body_that_is_not_json_is_a_415,
    a_one_mebibyte_body_is_a_413,
    a_ten_thousand_character_email_is_a_validation_error,
    fields_of_the_wrong_type_are_a_400,
);

async fn malformed_json_is_a_400(app: TestApp) {
    for body in ["{", "{\"email\": }", "{\"email\": \"a@b.co\"", "{} garbage"] {
        let reply = app
            .send(
                app.client
                    .post(app.url("/api/users/signup"))
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
        assert_eq!(reply.status, 400, "{body:?}");
        assert_eq!(
            reply.error_messages(),
            ["Malformed JSON in request body"],
            "{body:?}"
        );
    }
}

async fn a_body_that_is_not_json_is_a_415(app: TestApp) {
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = app
            .client
            .post(app.url("/api/users/signin"))
            .body("email=a@b.co&password=12345678");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let reply = app.send(request).await;
        assert_eq!(reply.status, 415, "{content_type:?}");
        assert_eq!(
            reply.error_messages(),
            ["Content-Type must be application/json"]
        );
    }
}

async fn a_one_mebibyte_body_is_a_413(app: TestApp) {
    let huge = json!({ "email": unique_email(), "password": "x".repeat(1024 * 1024) });
    for path in [
        "/api/users/signup",
        "/api/users/signin",
        "/api/users/signout",
    ] {
        let reply = app.post_json(path, &huge).await;
        assert_eq!(reply.status, 413, "{path}");
        assert_eq!(reply.error_messages().len(), 1);
    }
    // Just under the limit is read and judged on its content.
    let big = json!({ "email": unique_email(), "password": "x".repeat(60 * 1024) });
    let reply = app.post_json("/api/users/signup", &big).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errors"][0]["field"], "password");
}

async fn a_ten_thousand_character_email_is_a_validation_error(app: TestApp) {
    let email = format!("{}@example.com", "a".repeat(10_000));
    let reply = app.sign_up(&email, "correct horse").await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body,
        json!({"errors": [{"message": "Email must be valid", "field": "email"}]})
    );

    let reply = app.sign_in(&email, "correct horse").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.error_messages(), ["Invalid credentials"]);
}

async fn fields_of_the_wrong_type_are_a_400(app: TestApp) {
    for body in [
        json!({"email": 42, "password": "correct horse"}),
        json!({"email": "a@b.co", "password": ["correct horse"]}),
        json!("a string"),
    ] {
        let reply = app.post_json("/api/users/signup", &body).await;
        assert_eq!(reply.status, 400, "{body}");
        let message = &reply.error_messages()[0];
        assert!(message.starts_with("Invalid request body"), "{message}");
    }
    // Unknown fields are ignored; explicit nulls count as missing.
    let reply = app
        .post_json(
            "/api/users/signup",
            &json!({"email": unique_email(), "password": "correct horse", "admin": true}),
        )
        .await;
    assert_eq!(reply.status, 201);
    let reply = app
        .post_json(
            "/api/users/signup",
            &json!({"email": null, "password": null}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["errors"].as_array().map(Vec::len), Some(2));
}
