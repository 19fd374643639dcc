//! Buying through the pages as a browser without JavaScript would: Buy → checkout with
//! the hold → pay (card, decline, 3-D Secure) → confirmation, and double submits (this
//! file); cancelling, the order history, an expired hold and the basket (`orders`); the
//! line for a held ticket (`queue`); the checkout with Stripe (`stripe`).

#[path = "buying/orders.rs"]
mod orders;
#[path = "buying/queue.rs"]
mod queue;
#[path = "buying/requests.rs"]
mod requests;
#[path = "common/site.rs"]
mod site;
#[path = "buying/stripe.rs"]
mod stripe;

use reqwest::{Method, StatusCode};
use serde_json::json;
use site::{hidden, idempotency_key, location, order_id, site};

#[tokio::test]
async fn buying_a_ticket_and_paying_by_card() {
    let site = site().await;
    let seller = site.user("seller@example.com").await;
    let buyer = site.user("buyer@example.com").await;
    let ticket = site.ticket(&seller, "Jazz night", 20.5, None).await;

    let anonymous = site
        .post(&format!("/tickets/{ticket}/buy"), &[], None)
        .await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&anonymous),
        format!("/signin?next=/tickets/{ticket}")
    );
    let own = site
        .post_to(&format!("/tickets/{ticket}/buy"), &[], &seller)
        .await;
    assert_eq!(own, format!("/tickets/{ticket}?error=own"));

    let ticket_page = site.ok_page(&format!("/tickets/{ticket}"), &buyer).await;
    let key = idempotency_key(&ticket_page);
    assert_ne!(
        key,
        idempotency_key(&site.ok_page(&format!("/tickets/{ticket}"), &buyer).await),
        "a new key per render"
    );
    let buy_form = [("idempotency_key", key.as_str())];
    let checkout = site
        .post_to(&format!("/tickets/{ticket}/buy"), &buy_form, &buyer)
        .await;
    let order = order_id(&checkout);
    let again = site
        .post_to(&format!("/tickets/{ticket}/buy"), &buy_form, &buyer)
        .await;
    assert_eq!(
        again, checkout,
        "a second press of the same form: the same order"
    );
    let other_form = site
        .post_to(&format!("/tickets/{ticket}/buy"), &[], &buyer)
        .await;
    assert_eq!(
        other_form,
        format!("/tickets/{ticket}?error=reserved"),
        "another form (no key) is refused: the buyer's own hold is reached from the page"
    );
    let other = site.user("other@example.com").await;
    let taken = site
        .post_to(&format!("/tickets/{ticket}/buy"), &[], &other)
        .await;
    assert_eq!(taken, format!("/tickets/{ticket}?error=reserved"));

    let page = site.ok_page(&checkout, &buyer).await;
    assert!(
        page.contains("<title>Checkout – BoxOffice</title>"),
        "{page}"
    );
    assert!(page.contains("Jazz night") && page.contains("$20.50"));
    assert!(
        page.contains("We hold this ticket for you until "),
        "{page}"
    );
    let expires = site.order(&order, &buyer).await["expiresAt"]
        .as_str()
        .expect("expiresAt")
        .to_owned();
    assert!(page.contains(&format!(r#"data-expires-at="{}"#, &expires[..19])));
    assert!(page.contains("data-now=") && page.contains(r#"role="timer""#));
    assert!(page.contains(r#"role="status""#));
    assert!(page.contains(r#"value="tok_visa" checked"#));
    assert!(page.contains("tok_chargeDeclined") && page.contains("tok_threeDSecure2Required"));
    assert!(page.contains(r#"data-pending="Processing payment…">Pay $20.50</button>"#));
    assert!(page.contains(&format!(r#"href="/orders/{order}/cancel">Cancel order"#)));
    let key = idempotency_key(&page);
    assert_ne!(
        key,
        idempotency_key(&site.ok_page(&checkout, &buyer).await),
        "per render"
    );

    let paid = site
        .post_to(
            &format!("/orders/{order}/pay"),
            &[("token", "tok_visa"), ("idempotency_key", &key)],
            &buyer,
        )
        .await;
    assert_eq!(paid, format!("/orders/{order}?done=paid"));
    let page = site.ok_page(&paid, &buyer).await;
    assert!(page.contains("<h1>You bought Jazz night</h1>"), "{page}");
    assert!(page.contains("Payment received"));
    assert!(page.contains("Price paid") && page.contains("$20.50"));
    assert!(page.contains(&order) && page.contains(" UTC</time>"));
    assert!(page.contains(r#"href="/orders""#));

    let history = site.ok_page("/orders", &buyer).await;
    assert!(
        history.contains(r#"<span class="badge complete">Complete</span>"#),
        "{history}"
    );
    let empty = site.ok_page("/orders", &other).await;
    assert!(empty.contains("You have no orders yet."));
    let (status, _) = site.page("/orders", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = site.page(&checkout, Some(&other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "someone else's order");
    let (status, _) = site.page("/orders/not-an-order", Some(&buyer)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_declined_card_shows_the_providers_message_and_keeps_the_hold() {
    let site = site().await;
    let seller = site.user("seller@example.com").await;
    let buyer = site.user("buyer@example.com").await;
    let ticket = site.ticket(&seller, "Opera", 50.0, None).await;
    let checkout = site
        .post_to(&format!("/tickets/{ticket}/buy"), &[], &buyer)
        .await;
    let order = order_id(&checkout);
    let before = site.order(&order, &buyer).await["expiresAt"]
        .as_str()
        .expect("expiresAt")
        .to_owned();
    let page = site.ok_page(&checkout, &buyer).await;

    let declined = site
        .post(
            &format!("/orders/{order}/pay"),
            &[
                ("token", "tok_chargeDeclined"),
                ("idempotency_key", &idempotency_key(&page)),
                ("hold_until", &hidden(&page, "hold_until")),
            ],
            Some(&buyer),
        )
        .await;
    assert_eq!(declined.status(), StatusCode::BAD_REQUEST);
    let page = declined.text().await.expect("body");
    assert!(
        page.contains("<title>Error: Checkout – BoxOffice</title>"),
        "{page}"
    );
    assert!(
        page.contains(r##"<a href="#card">Your card was declined.</a>"##),
        "{page}"
    );
    assert!(
        page.contains(r#"id="card-error""#) && page.contains(r#"aria-invalid="true""#),
        "{page}"
    );
    assert!(
        page.contains(r#"value="tok_chargeDeclined" checked"#),
        "the card is kept"
    );
    assert!(
        page.contains("We hold this ticket for you until"),
        "the hold still counts"
    );
    assert!(page.contains("Pay $50.00"), "the form is usable again");
    assert!(
        page.contains(&format!(r#"data-expires-at="{}"#, &before[..19])),
        "the page shows the hold as it was: {page}"
    );
    let after = site.order_becomes(&order, &buyer, "created").await;
    assert_eq!(
        after["expiresAt"],
        before.as_str(),
        "a failed action does not reset the hold"
    );
}

#[tokio::test]
async fn three_d_secure_can_fail_and_then_complete() {
    let site = site().await;
    let seller = site.user("seller@example.com").await;
    let buyer = site.user("buyer@example.com").await;
    let ticket = site.ticket(&seller, "Ballet", 30.0, None).await;
    let checkout = site
        .post_to(&format!("/tickets/{ticket}/buy"), &[], &buyer)
        .await;
    let order = order_id(&checkout);

    let pay_3ds = || async {
        let page = site.ok_page(&checkout, &buyer).await;
        let form = [
            ("token", "tok_threeDSecure2Required"),
            ("idempotency_key", &idempotency_key(&page)),
        ];
        site.post_to(&format!("/orders/{order}/pay"), &form, &buyer)
            .await
    };
    let challenge = pay_3ds().await;
    assert!(
        challenge.starts_with(&format!("/orders/{order}/authenticate?payment=")),
        "{challenge}"
    );
    assert!(
        !challenge.contains("secret"),
        "the client secret stays out of the URL: {challenge}"
    );
    site.order_becomes(&order, &buyer, "awaiting:payment").await;
    let page = site.ok_page(&checkout, &buyer).await;
    assert!(
        page.contains("Payment in progress — hold extended until "),
        "{page}"
    );
    assert!(!page.contains("Pay $30.00"), "no second payment meanwhile");
    let history = site.ok_page("/orders", &buyer).await;
    assert!(history.contains(r#"<span class="badge progress">Payment in progress</span>"#));
    let page = site.ok_page(&challenge, &buyer).await;
    assert!(page.contains("Complete authentication") && page.contains("Fail authentication"));
    assert!(page.contains("$30.00"));
    assert!(!page.contains("secret"), "nor is it in the page: {page}");
    let fields = |page: &str, success: &'static str| {
        vec![
            ("payment", hidden(page, "payment")),
            ("success", success.to_owned()),
        ]
    };
    let form = fields(&page, "false");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let failed = site
        .post_to(&format!("/orders/{order}/authenticate"), &form, &buyer)
        .await;
    assert_eq!(failed, format!("/orders/{order}?done=auth_failed"));
    site.order_becomes(&order, &buyer, "created").await;
    let page = site.ok_page(&failed, &buyer).await;
    assert!(
        page.contains("Authentication failed. You were not charged"),
        "{page}"
    );
    assert!(page.contains("We hold this ticket for you until"));

    let challenge = pay_3ds().await;
    let page = site.ok_page(&challenge, &buyer).await;
    let form = fields(&page, "true");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let done = site
        .post_to(&format!("/orders/{order}/authenticate"), &form, &buyer)
        .await;
    assert_eq!(done, format!("/orders/{order}?done=authenticated"));
    let page = site.ok_page(&done, &buyer).await;
    assert!(page.contains("Payment received") || page.contains("Payment in progress"));
    site.order_becomes(&order, &buyer, "complete").await;
    let page = site.ok_page(&done, &buyer).await;
    assert!(page.contains("<h1>You bought Ballet</h1>") && page.contains("Payment received"));
    let again = site
        .post_to(&format!("/orders/{order}/authenticate"), &form, &buyer)
        .await;
    assert_eq!(again, done, "a second press shows the paid order");
}

#[tokio::test]
async fn a_double_submit_with_one_key_pays_once() {
    let site = site().await;
    let seller = site.user("seller@example.com").await;
    let buyer = site.user("buyer@example.com").await;

    // Two presses of one 3-D Secure form: the same payment both times.
    let ticket = site.ticket(&seller, "Circus", 12.0, None).await;
    let checkout = site
        .post_to(&format!("/tickets/{ticket}/buy"), &[], &buyer)
        .await;
    let order = order_id(&checkout);
    let key = idempotency_key(&site.ok_page(&checkout, &buyer).await);
    let form = [
        ("token", "tok_threeDSecure2Required"),
        ("idempotency_key", key.as_str()),
    ];
    let first = site
        .post_to(&format!("/orders/{order}/pay"), &form, &buyer)
        .await;
    let second = site
        .post_to(&format!("/orders/{order}/pay"), &form, &buyer)
        .await;
    assert_eq!(first, second, "one payment, answered twice");

    // Two presses of one card form at once: paid once, the order complete.
    let ticket = site.ticket(&seller, "Theatre", 15.0, None).await;
    let checkout = site
        .post_to(&format!("/tickets/{ticket}/buy"), &[], &buyer)
        .await;
    let order = order_id(&checkout);
    let key = idempotency_key(&site.ok_page(&checkout, &buyer).await);
    let form = [("token", "tok_visa"), ("idempotency_key", key.as_str())];
    let path = format!("/orders/{order}/pay");
    let (a, b) = tokio::join!(
        site.post_to(&path, &form, &buyer),
        site.post_to(&path, &form, &buyer)
    );
    for answer in [&a, &b] {
        assert!(
            answer.ends_with("?done=paid") || answer.ends_with("?done=processing"),
            "{answer}"
        );
    }
    site.order_becomes(&order, &buyer, "complete").await;
    let (status, orders) = site.api(Method::GET, "/api/orders", None, &buyer).await;
    assert_eq!(status, StatusCode::OK);
    let complete = orders
        .as_array()
        .expect("orders")
        .iter()
        .filter(|o| o["status"] == "complete")
        .count();
    assert_eq!(complete, 1);
    let (status, body) = site
        .api(
            Method::POST,
            "/api/payments",
            Some(json!({ "orderId": order, "token": "tok_visa" })),
            &buyer,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["errors"][0]["message"],
        "Order has already been paid for"
    );
}
