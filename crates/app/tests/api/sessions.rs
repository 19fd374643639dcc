//! Session tokens and the embedded mode's generated key.

use boxoffice_app::application::Application;
use boxoffice_app::cli::{Service, Settings};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::{TEST_KEY, spawn_app, start, unique_email};

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

#[tokio::test]
async fn tokens_signed_with_the_key_are_accepted() {
    let app = spawn_app().await;
    let token = forge(
        &json!({"id": USER_ID, "email": "a@b.co", "iat": now(), "exp": now() + 60}),
        TEST_KEY,
    );
    assert_eq!(app.current_user_with_bearer(&token).await["id"], USER_ID);
    app.assert_settled().await;
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
