//! The shape of the Stripe gateway's requests, recorded by a stand-in server: what
//! localstripe does not check (it ignores `Idempotency-Key` and knows no `tok_…` tokens),
//! and the capture and void of an authorization, each keyed by payment and step.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use boxoffice_common::{Money, new_id};
use boxoffice_payments::gateway::stripe::StripeGateway;
use boxoffice_payments::gateway::{ChargeOutcome, ChargeRequest, PaymentGateway};
use boxoffice_platform::Secret;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
struct Recorded {
    path: String,
    headers: HeaderMap,
    form: Vec<(String, String)>,
}

type Log = Arc<Mutex<Vec<Recorded>>>;

async fn record(
    State((log, path, answer)): State<(Log, &'static str, Value)>,
    headers: HeaderMap,
    body: String,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
    log.lock().expect("lock").push(Recorded {
        path: path.to_owned(),
        headers,
        form,
    });
    let status = if answer.get("error").is_some() {
        402
    } else {
        200
    };
    (
        axum::http::StatusCode::from_u16(status).expect("status"),
        axum::Json(answer),
    )
}

async fn stand_in(intent: Value) -> (String, Log) {
    let log: Log = Arc::default();
    let app = Router::new()
        .route(
            "/v1/payment_intents",
            post(record).with_state((Arc::clone(&log), "/v1/payment_intents", intent)),
        )
        // Capturing answers as Stripe does for an intent captured before (a retry whose
        // first answer was lost); cancelling succeeds.
        .route(
            "/v1/payment_intents/{id}/capture",
            post(record).with_state((
                Arc::clone(&log),
                "capture",
                json!({"error": {"message": "This PaymentIntent could not be captured because it has a status of succeeded.",
                    "code": "payment_intent_unexpected_state",
                    "payment_intent": {"id": "pi_777", "status": "succeeded"}}}),
            )),
        )
        .route(
            "/v1/payment_intents/{id}/cancel",
            post(record).with_state((
                Arc::clone(&log),
                "cancel",
                json!({"id": "pi_777", "status": "canceled"}),
            )),
        )
        .route(
            "/v1/refunds",
            post(record).with_state((
                Arc::clone(&log),
                "/v1/refunds",
                json!({"id": "re_1", "status": "succeeded"}),
            )),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, log)
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn an_authorization_is_a_form_encoded_idempotent_manual_capture_intent_in_minor_units() {
    let (base, log) = stand_in(json!({"id": "pi_123", "status": "requires_capture"})).await;
    let gateway = StripeGateway::new(Secret::new("sk_test_shape"), Some(base)).expect("gateway");
    let (payment_id, order_id, user_id) = (new_id(), new_id(), new_id());
    let request = ChargeRequest {
        payment_id,
        order_id,
        user_id,
        amount: Money::from_major(10.1).expect("money"),
        currency: "usd",
        token: "tok_visa",
    };
    let outcome = gateway.authorize(&request).await.expect("authorize");
    assert_eq!(
        outcome,
        ChargeOutcome::Authorized {
            provider_id: "pi_123".into()
        }
    );
    // A retry of the same payment sends the same key, so Stripe holds the amount once.
    gateway.authorize(&request).await.expect("retry");

    let calls = log.lock().expect("lock").clone();
    assert_eq!(calls.len(), 2);
    let call = &calls[0];
    assert_eq!(call.path, "/v1/payment_intents");
    assert_eq!(call.headers["authorization"], "Bearer sk_test_shape");
    assert_eq!(
        call.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let key = call.headers["idempotency-key"].to_str().expect("ascii");
    assert!(key.contains(&payment_id.to_string()), "{key}");
    assert_eq!(
        calls[1].headers["idempotency-key"], key,
        "the same key on retry"
    );
    let form = &call.form;
    assert_eq!(field(form, "amount"), Some("1010"), "10.1 is 1010 cents");
    assert_eq!(field(form, "currency"), Some("usd"));
    assert_eq!(field(form, "confirm"), Some("true"));
    assert_eq!(field(form, "capture_method"), Some("manual"));
    assert_eq!(field(form, "payment_method_data[type]"), Some("card"));
    assert_eq!(
        field(form, "payment_method_data[card][token]"),
        Some("tok_visa")
    );
    assert_eq!(
        field(form, "metadata[order_id]"),
        Some(order_id.to_string().as_str())
    );
    assert_eq!(
        field(form, "metadata[user_id]"),
        Some(user_id.to_string().as_str())
    );
    assert_eq!(
        field(form, "metadata[payment_id]"),
        Some(payment_id.to_string().as_str())
    );
    assert_eq!(field(form, "payment_method"), None);
}

#[tokio::test]
async fn payment_methods_are_passed_as_they_are_and_declines_keep_stripes_message() {
    let (base, log) = stand_in(
        json!({"error": {"message": "Your card has insufficient funds.", "type": "card_error"}}),
    )
    .await;
    let gateway = StripeGateway::new(Secret::new("sk_test_shape"), Some(base)).expect("gateway");
    let request = ChargeRequest {
        payment_id: new_id(),
        order_id: new_id(),
        user_id: new_id(),
        amount: Money::from_minor(500),
        currency: "eur",
        token: "pm_card_visa",
    };
    let outcome = gateway.authorize(&request).await.expect("authorize");
    assert_eq!(
        outcome,
        ChargeOutcome::Declined {
            provider_id: None,
            message: "Your card has insufficient funds.".into()
        }
    );
    let calls = log.lock().expect("lock").clone();
    assert_eq!(
        field(&calls[0].form, "payment_method"),
        Some("pm_card_visa")
    );
    assert_eq!(field(&calls[0].form, "payment_method_data[type]"), None);
}

#[tokio::test]
async fn refunds_name_the_payment_intent_idempotently() {
    let (base, log) = stand_in(json!({})).await;
    let gateway = StripeGateway::new(Secret::new("sk_test_shape"), Some(base)).expect("gateway");
    let payment_id = new_id();
    gateway.refund("pi_777", payment_id).await.expect("refund");
    let calls = log.lock().expect("lock").clone();
    assert_eq!(calls[0].path, "/v1/refunds");
    assert_eq!(field(&calls[0].form, "payment_intent"), Some("pi_777"));
    let key = calls[0].headers["idempotency-key"].to_str().expect("ascii");
    assert!(
        key.starts_with("refund-") && key.contains(&payment_id.to_string()),
        "{key}"
    );
}

#[tokio::test]
async fn capture_and_void_name_the_intent_and_are_keyed_by_payment_and_step() {
    let (base, log) = stand_in(json!({})).await;
    let gateway = StripeGateway::new(Secret::new("sk_test_shape"), Some(base)).expect("gateway");
    let payment_id = new_id();
    gateway
        .capture("pi_777", payment_id)
        .await
        .expect("an intent captured before counts as captured");
    gateway.void("pi_777", payment_id).await.expect("void");
    let calls = log.lock().expect("lock").clone();
    let keys: Vec<_> = calls
        .iter()
        .map(|c| {
            (
                c.path.clone(),
                c.headers["idempotency-key"]
                    .to_str()
                    .expect("ascii")
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("capture".to_owned(), format!("capture-{payment_id}")),
            ("cancel".to_owned(), format!("void-{payment_id}")),
        ]
    );
}
