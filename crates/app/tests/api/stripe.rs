//! The Stripe gateway against localstripe, a stateful fake of the Stripe API (PyPI),
//! started here on 127.0.0.1 by `scripts/serve_localstripe.py`: PaymentIntents with
//! `capture_method=manual`, captured or cancelled (voided) once the order decided.
//! localstripe sends no webhook when 3-D Secure lets an authorization through (Stripe
//! sends `payment_intent.amount_capturable_updated`) and none when an intent is cancelled,
//! so the tests deliver Stripe's authorization webhook themselves
//! ([`stripe_says_authorized`]); the capture or cancel that follows is localstripe's.
//!
//! What localstripe lacks — `Idempotency-Key`, legacy `tok_…` tokens wrapped in
//! `payment_method_data` — is covered against a recording stand-in in the payments crate
//! (`tests/stripe_requests.rs`).

use std::process::{Child, Command, Stdio};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, User, WEBHOOK_SECRET, eventually, spawn_app_with};
use crate::payments::{sign, webhook};

/// Delivers the signed webhook Stripe sends when 3-D Secure let an authorization through
/// (localstripe does not send it).
async fn stripe_says_authorized(app: &TestApp, intent: &str) {
    let body = json!({
        "id": format!("evt_{}", uuid::Uuid::now_v7().simple()),
        "type": "payment_intent.amount_capturable_updated",
        "data": {"object": {"id": intent, "status": "requires_capture"}},
    })
    .to_string();
    let reply = webhook(
        app,
        &body,
        Some(sign(&body, time::OffsetDateTime::now_utc())),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

const STRIPE_KEY: &str = "sk_test_boxoffice";

/// A localstripe process; killed when dropped.
struct LocalStripe {
    base: String,
    child: Child,
    client: reqwest::Client,
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LocalStripe {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/serve_localstripe.py"
        );
        let child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs (localstripe is installed by .ci/run)");
        let stand_in = Self {
            base: format!("http://127.0.0.1:{port}"),
            child,
            client: reqwest::Client::new(),
        };
        eventually("localstripe answers", || async {
            stand_in
                .client
                .get(format!("{}/v1/balance", stand_in.base))
                .bearer_auth(STRIPE_KEY)
                .send()
                .await
                .is_ok()
        })
        .await;
        stand_in
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(STRIPE_KEY)
            .form(form)
            .send()
            .await
            .expect("localstripe request");
        assert!(
            response.status().is_success(),
            "localstripe {path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }
}

async fn app_on(
    stripe: &LocalStripe,
    adjust: impl FnOnce(&mut boxoffice_app::cli::Settings),
) -> TestApp {
    let base = stripe.base.clone();
    let app = spawn_app_with(move |settings| {
        settings.stripe_key = Some(boxoffice_platform::Secret::new(STRIPE_KEY));
        settings.stripe_api_base = Some(base);
        adjust(settings);
    })
    .await;
    let webhook_url = app.url("/api/payments/webhook");
    stripe
        .post(
            "/_config/webhooks/boxoffice",
            &[("url", &webhook_url), ("secret", WEBHOOK_SECRET)],
        )
        .await;
    app
}

async fn ordered(app: &TestApp) -> (User, String, String) {
    let seller = app.user().await;
    let buyer = app.user().await;
    let ticket = app.listed_ticket(&seller, "Concert", 20.5).await;
    let ticket_id = ticket["id"].as_str().expect("id").to_owned();
    let order = app.order(&buyer, &ticket_id).await;
    assert_eq!(order.status, 201);
    (
        buyer,
        order.body["id"].as_str().expect("id").to_owned(),
        ticket_id,
    )
}

async fn status_of(app: &TestApp, buyer: &User, order_id: &str) -> String {
    app.order_of(buyer, order_id).await["status"]
        .as_str()
        .expect("status")
        .to_owned()
}

#[tokio::test]
async fn the_buyer_journey_works_against_localstripe() {
    let stripe = LocalStripe::start().await;
    let app = app_on(&stripe, |_| {}).await;

    // Paid at once.
    let (buyer, order_id, ticket_id) = ordered(&app).await;
    let paid = app.pay(&buyer, &order_id, "pm_card_visa").await;
    assert_eq!(paid.status, 201, "{}", paid.body);
    assert_eq!(
        paid.body["status"], "succeeded",
        "authorized, then captured"
    );
    assert_eq!(paid.body["clientSecret"], Value::Null);
    eventually("the order completes", || async {
        status_of(&app, &buyer, &order_id).await == "complete"
    })
    .await;
    eventually("the ticket is sold", || async {
        app.ticket(&ticket_id).await["status"] == "sold"
    })
    .await;

    // Declined, with Stripe's message.
    let (buyer, order_id, _) = ordered(&app).await;
    let declined = app
        .pay(&buyer, &order_id, "pm_card_chargeCustomerFail")
        .await;
    assert_eq!(
        (declined.status, declined.body),
        (
            400,
            json!({"errors": [{"message": "Your card was declined."}]})
        )
    );
    eventually("the order is payable again", || async {
        status_of(&app, &buyer, &order_id).await == "created"
    })
    .await;

    // 3-D Secure, finished in "the browser" and settled by Stripe's signed webhook.
    let card = stripe
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4000000000003220"),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2030"),
                ("card[cvc]", "123"),
            ],
        )
        .await;
    let method = card["id"].as_str().expect("payment method id");
    let action = app.pay(&buyer, &order_id, method).await;
    assert_eq!(action.status, 201, "{}", action.body);
    assert_eq!(action.body["status"], "requires_action");
    let secret = action.body["clientSecret"]
        .as_str()
        .expect("client secret")
        .to_owned();
    let intent = secret
        .split("_secret_")
        .next()
        .expect("intent id")
        .to_owned();
    let payment_id = action.body["id"].as_str().expect("id").to_owned();
    let test_processor_route = app
        .send(
            app.as_user(
                &buyer,
                Method::POST,
                &format!("/api/payments/{payment_id}/authenticate"),
            )
            .json(&json!({"clientSecret": secret, "success": true})),
        )
        .await;
    assert_eq!(
        test_processor_route.status, 404,
        "with Stripe, the browser authenticates"
    );
    stripe
        .post(
            &format!("/v1/payment_intents/{intent}/_authenticate"),
            &[("client_secret", &secret), ("success", "true")],
        )
        .await;
    stripe_says_authorized(&app, &intent).await;
    eventually("the webhook completes the order", || async {
        status_of(&app, &buyer, &order_id).await == "complete"
    })
    .await;
    eventually("the authorization is captured at Stripe", || async {
        let intent = stripe
            .client
            .get(format!("{}/v1/payment_intents/{intent}", stripe.base))
            .bearer_auth(STRIPE_KEY)
            .send()
            .await
            .expect("localstripe")
            .json::<Value>()
            .await
            .expect("json");
        intent["status"] == "succeeded"
    })
    .await;
    // The capture is recorded once Stripe answered it.
    eventually("the payment reads succeeded", || async {
        let path = format!("/api/payments/{payment_id}");
        app.send(app.as_user(&buyer, Method::GET, &path)).await.body["status"] == "succeeded"
    })
    .await;
}

#[tokio::test]
async fn an_authorization_after_expiry_is_voided_at_stripe_never_captured() {
    let stripe = LocalStripe::start().await;
    let app = app_on(&stripe, |settings| {
        settings.expiration_window_seconds = 1;
        settings.payment_hold_ceiling_seconds = 1;
    })
    .await;
    let (buyer, order_id, _) = ordered(&app).await;
    let card = stripe
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4000000000003220"),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2030"),
                ("card[cvc]", "123"),
            ],
        )
        .await;
    let action = app
        .pay(&buyer, &order_id, card["id"].as_str().expect("id"))
        .await;
    assert_eq!(action.body["status"], "requires_action", "{}", action.body);
    let secret = action.body["clientSecret"]
        .as_str()
        .expect("client secret")
        .to_owned();
    let intent = secret
        .split("_secret_")
        .next()
        .expect("intent id")
        .to_owned();
    eventually("the order expires", || async {
        status_of(&app, &buyer, &order_id).await == "cancelled"
    })
    .await;

    stripe
        .post(
            &format!("/v1/payment_intents/{intent}/_authenticate"),
            &[("client_secret", &secret), ("success", "true")],
        )
        .await;
    stripe_says_authorized(&app, &intent).await;
    eventually("Stripe shows the authorization cancelled", || async {
        let intent = stripe
            .client
            .get(format!("{}/v1/payment_intents/{intent}", stripe.base))
            .bearer_auth(STRIPE_KEY)
            .send()
            .await
            .expect("localstripe")
            .json::<Value>()
            .await
            .expect("json");
        intent["status"] == "canceled"
    })
    .await;
    let intent = stripe
        .client
        .get(format!("{}/v1/payment_intents/{intent}", stripe.base))
        .bearer_auth(STRIPE_KEY)
        .send()
        .await
        .expect("localstripe")
        .json::<Value>()
        .await
        .expect("json");
    let charge = &intent["charges"]["data"][0];
    assert_eq!(
        (
            charge["captured"].clone(),
            charge["amount_refunded"].clone()
        ),
        (json!(false), json!(0)),
        "nothing taken, nothing refunded: {intent}"
    );
    assert_eq!(status_of(&app, &buyer, &order_id).await, "cancelled");
}
