//! Session tokens and the embedded mode's generated key.

use boxoffice_app::application::Application;
use boxoffice_app::cli::{Service, Settings};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::{TEST_KEY, TestApp, spawn_app, start, unique_email};

const PASSWORD: &str = "correct horse";

fn forge(claims: &serde_json::Value, key: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .expect("sign")
}

/// A user id tokens are forged for; sessions carry ids, which are UUIDs.
const USER_ID: &str = "019ae5a0-7c3e-7d2a-9b41-3f5c2e8d1a6b";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A session's claims as the auth service signs them.
fn session_claims() -> serde_json::Value {
    json!({
        "id": USER_ID, "email": "a@b.co", "iat": now(), "exp": now() + 60,
        "sid": uuid::Uuid::now_v7().to_string(), "aud": "boxoffice", "typ": "session",
    })
}

#[tokio::test]
async fn tokens_signed_with_the_key_are_accepted() {
    let app = spawn_app().await;
    let token = forge(&session_claims(), TEST_KEY);
    assert_eq!(app.current_user_with_bearer(&token).await["id"], USER_ID);
    app.assert_settled().await;
}

/// What a protected route answers to a bearer token: 200 or 401.
async fn orders_status(app: &TestApp, token: &str) -> u16 {
    app.send(app.client.get(app.url("/api/orders")).bearer_auth(token))
        .await
        .status
}

#[tokio::test]
async fn only_hs256_session_tokens_for_boxoffice_are_accepted() {
    let app = spawn_app().await;
    use base64::Engine;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let good = forge(&session_claims(), TEST_KEY);
    assert_eq!(orders_status(&app, &good).await, 200);

    let with = |field: &str, value: serde_json::Value| {
        let mut claims = session_claims();
        claims[field] = value;
        forge(&claims, TEST_KEY)
    };
    let without = |field: &str| {
        let mut claims = session_claims();
        claims.as_object_mut().expect("object").remove(field);
        forge(&claims, TEST_KEY)
    };
    let alg_none = format!(
        "{}.{}.",
        encode(br#"{"alg":"none","typ":"JWT"}"#),
        encode(session_claims().to_string().as_bytes())
    );
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &session_claims(),
        &EncodingKey::from_secret(TEST_KEY.as_bytes()),
    )
    .expect("sign");
    let tampered = {
        // Another user's id in the payload, the signature of the original.
        let mut claims = session_claims();
        claims["id"] = json!("019ae5a0-7c3e-7d2a-9b41-000000000000");
        let parts: Vec<&str> = good.split('.').collect();
        format!(
            "{}.{}.{}",
            parts[0],
            encode(claims.to_string().as_bytes()),
            parts[2]
        )
    };
    for (name, token) in [
        ("alg none", alg_none),
        ("HS512", hs512),
        ("tampered payload", tampered),
        ("another audience", with("aud", json!("orders"))),
        ("another type", with("typ", json!("admission"))),
        ("no audience", without("aud")),
        ("no type", without("typ")),
        ("no session id", without("sid")),
    ] {
        assert_eq!(orders_status(&app, &token).await, 401, "{name}");
        assert_eq!(
            app.current_user_with_bearer(&token).await,
            json!(null),
            "{name}"
        );
    }
    app.assert_settled().await;
}

/// The status of a request to every service's protected route, as `token`'s bearer.
async fn every_service_status(app: &TestApp, token: &str, cookie: &str) -> Vec<(String, u16)> {
    let mut statuses = Vec::new();
    for (name, path) in [
        ("orders", "/api/orders"),
        ("tickets", "/api/tickets"),
        ("payments", "/api/payments"),
    ] {
        let bearer = app
            .send(
                app.client
                    .post(app.url(path))
                    .bearer_auth(token)
                    .json(&json!({})),
            )
            .await;
        let by_cookie = app
            .send(
                app.client
                    .post(app.url(path))
                    .header("cookie", cookie)
                    .json(&json!({})),
            )
            .await;
        statuses.push((format!("{name} bearer"), bearer.status));
        statuses.push((format!("{name} cookie"), by_cookie.status));
    }
    statuses
}

fn all(statuses: &[(String, u16)], status: u16) -> bool {
    statuses.iter().all(|(_, s)| *s == status)
}

#[tokio::test]
async fn signing_out_ends_the_session_on_every_service_and_only_that_one() {
    let app = spawn_app().await;
    let email = unique_email();
    let first = app.sign_up(&email, PASSWORD).await;
    let second = app.sign_in(&email, PASSWORD).await;
    let (token, cookie) = (first.token(), first.cookie());
    // Authenticated, then refused for the empty body: 400, not 401.
    let before = every_service_status(&app, &token, &cookie).await;
    assert!(all(&before, 400), "{before:?}");

    let signed_out = app
        .send(
            app.client
                .post(app.url("/api/users/signout"))
                .header("cookie", &cookie),
        )
        .await;
    assert_eq!(signed_out.status, 200);
    assert!(
        signed_out
            .session_set_cookie()
            .is_some_and(|c| c.contains("Max-Age=0")),
        "the cookie is cleared"
    );

    let after = every_service_status(&app, &token, &cookie).await;
    assert!(all(&after, 401), "{after:?}");
    assert_eq!(app.current_user_with_bearer(&token).await, json!(null));
    assert_eq!(
        app.current_user_with_bearer(&second.token()).await["email"],
        email,
        "the user's other session goes on"
    );
    // Signing out again with the ended session, or with none, is harmless.
    let again = app
        .send(
            app.client
                .post(app.url("/api/users/signout"))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(again.status, 200);
    app.assert_settled().await;
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_earlier_session_of_the_user() {
    let app = spawn_app().await;
    let email = unique_email();
    let phone = app.sign_up(&email, PASSWORD).await;
    let laptop = app.sign_in(&email, PASSWORD).await;
    let someone_else = app.sign_up(&unique_email(), PASSWORD).await;

    let reply = app
        .send(
            app.client
                .post(app.url("/api/users/signout?everywhere=true"))
                .bearer_auth(laptop.token()),
        )
        .await;
    assert_eq!(reply.status, 200);
    for (name, session) in [("phone", &phone), ("laptop", &laptop)] {
        let statuses = every_service_status(&app, &session.token(), &session.cookie()).await;
        assert!(all(&statuses, 401), "{name}: {statuses:?}");
    }
    let others = every_service_status(&app, &someone_else.token(), &someone_else.cookie()).await;
    assert!(
        all(&others, 400),
        "other users are not affected: {others:?}"
    );

    let later = app.sign_in(&email, PASSWORD).await;
    assert_eq!(later.status, 200);
    assert_eq!(
        app.current_user_with_bearer(&later.token()).await["email"],
        email,
        "a sign-in after signing out everywhere starts a valid session"
    );
    let bad = app
        .send(
            app.client
                .post(app.url("/api/users/signout?everywhere=perhaps"))
                .bearer_auth(later.token()),
        )
        .await;
    assert_eq!(bad.status, 400);
    app.assert_settled().await;
}

#[tokio::test]
async fn ended_sessions_stay_ended_after_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings::for_data_dir(dir.path());
    let first = start(
        Application::embedded(&settings).await.expect("start"),
        None,
        None,
    );
    let email = unique_email();
    let signed_out = first.sign_up(&email, PASSWORD).await;
    let everywhere = first.sign_up(&unique_email(), PASSWORD).await;
    let kept = first.sign_in(&email, PASSWORD).await;
    for (path, session) in [
        ("/api/users/signout", &signed_out),
        ("/api/users/signout?everywhere=true", &everywhere),
    ] {
        let reply = first
            .send(
                first
                    .client
                    .post(first.url(path))
                    .bearer_auth(session.token()),
            )
            .await;
        assert_eq!(reply.status, 200);
    }
    first.assert_settled().await;
    first.stop().await;

    let second = start(
        Application::embedded(&settings).await.expect("restart"),
        None,
        None,
    );
    for (name, session) in [("signed out", &signed_out), ("everywhere", &everywhere)] {
        let statuses = every_service_status(&second, &session.token(), &session.cookie()).await;
        assert!(all(&statuses, 401), "{name}: {statuses:?}");
    }
    assert_eq!(
        second.current_user_with_bearer(&kept.token()).await["email"],
        email
    );
    second.assert_settled().await;
}

#[tokio::test]
async fn expired_tampered_foreign_and_unsigned_tokens_are_anonymous() {
    let app = spawn_app().await;
    let signed_up = app.sign_up(&unique_email(), PASSWORD).await;
    let good = signed_up.token();

    let expired = forge(
        &json!({"id": USER_ID, "email": "a@b.co", "iat": now() - 7200, "exp": now() - 3600}),
        TEST_KEY,
    );
    let foreign = forge(
        &json!({"id": USER_ID, "email": "a@b.co", "iat": now(), "exp": now() + 60}),
        "some-other-key-0123456789abcdef-xyz",
    );
    let without_exp = forge(
        &json!({"id": USER_ID, "email": "a@b.co", "iat": now()}),
        TEST_KEY,
    );
    let tampered = {
        // Swap the payload for one claiming another user, keeping the signature.
        let parts: Vec<&str> = good.split('.').collect();
        let other = forge(
            &json!({"id": "admin", "email": "admin@b.co", "iat": now(), "exp": now() + 60}),
            "x-key-0123456789abcdef0123456789",
        );
        let other_payload = other.split('.').nth(1).expect("payload");
        format!("{}.{}.{}", parts[0], other_payload, parts[2])
    };
    let alg_none = {
        use base64::Engine;
        let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let header = encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = encode(
            format!(
                r#"{{"id":"{USER_ID}","email":"a@b.co","iat":{},"exp":{}}}"#,
                now(),
                now() + 60
            )
            .as_bytes(),
        );
        format!("{header}.{payload}.")
    };

    for (name, token) in [
        ("expired", expired),
        ("foreign", foreign),
        ("without exp", without_exp),
        ("tampered", tampered),
        ("alg none", alg_none),
        ("garbage", "not.a.jwt".to_owned()),
    ] {
        assert_eq!(
            app.current_user_with_bearer(&token).await,
            json!(null),
            "{name} via bearer"
        );
        assert_eq!(
            app.current_user_with_cookie(&format!("session={token}"))
                .await,
            json!(null),
            "{name} via cookie"
        );
    }
    app.assert_settled().await;
}

#[tokio::test]
async fn embedded_sessions_survive_a_restart_with_the_generated_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings::for_data_dir(dir.path());
    assert!(
        settings.jwt_key.is_none(),
        "the key is generated, not configured"
    );

    let first = start(
        Application::embedded(&settings).await.expect("start"),
        None,
        None,
    );
    let email = unique_email();
    let cookie = first.sign_up(&email, PASSWORD).await.cookie();
    drop(first);

    let second = start(
        Application::embedded(&settings).await.expect("restart"),
        None,
        None,
    );
    assert_eq!(
        second.current_user_with_cookie(&cookie).await["email"],
        email
    );
    assert_eq!(
        second.sign_in(&email, PASSWORD).await.status,
        200,
        "the account was kept"
    );
}

#[tokio::test]
async fn serve_mode_refuses_to_start_without_a_key() {
    let mut settings = Settings::for_data_dir("unused");
    settings.database_url = Some(boxoffice_platform::Secret::new(
        "postgres://127.0.0.1/unused",
    ));
    let err = Application::service(Service::Auth, &settings)
        .await
        .expect_err("no key");
    assert!(format!("{err:#}").contains("JWT_KEY"), "{err:#}");

    settings.jwt_key = Some(boxoffice_platform::Secret::new("too-short"));
    let err = Application::service(Service::Auth, &settings)
        .await
        .expect_err("short key");
    assert!(format!("{err:#}").contains("at least 32"), "{err:#}");
}
