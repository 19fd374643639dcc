//! Cancelling, the order history in words, an expired hold, and the basket.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::site::{idempotency_key, location, order_id, site, site_with};

#[tokio::test]
async fn cancelling_an_order_and_the_history_in_words() {
    let site = site().await;
    let seller = site.user("seller@example.com").await;
    let buyer = site.user("buyer@example.com").await;
    let first = site.ticket(&seller, "First gig", 10.0, None).await;
    let second = site.ticket(&seller, "Second gig", 11.0, None).await;
    let cancelled = order_id(
        &site
            .post_to(&format!("/tickets/{first}/buy"), &[], &buyer)
            .await,
    );
    let open = order_id(
        &site
            .post_to(&format!("/tickets/{second}/buy"), &[], &buyer)
            .await,
    );

    let confirm = site
        .ok_page(&format!("/orders/{cancelled}/cancel"), &buyer)
        .await;
    assert!(confirm.contains("<h1>Cancel this order?</h1>"));
    assert!(confirm.contains(r#"method="post""#) && confirm.contains(">Cancel order</button>"));
    let done = site
        .post_to(&format!("/orders/{cancelled}/cancel"), &[], &buyer)
        .await;
    assert_eq!(done, format!("/orders/{cancelled}?done=cancelled"));
    let page = site.ok_page(&done, &buyer).await;
    assert!(page.contains("<h1>Order cancelled</h1>") && page.contains("You cancelled"));
    assert!(page.contains(&format!(
        r#"href="/tickets/{first}">Check if it's still available"#
    )));
    let twice = site
        .post_to(&format!("/orders/{cancelled}/cancel"), &[], &buyer)
        .await;
    assert_eq!(
        twice,
        format!("/orders/{cancelled}?error=cancelled"),
        "already cancelled: its page, with the reason"
    );
    let page = site.ok_page(&twice, &buyer).await;
    assert!(
        page.contains(r#"id="cancel-refused""#) && page.contains("Order is already cancelled"),
        "{page}"
    );

    let history = site.ok_page("/orders", &buyer).await;
    let newer = history.find("Second gig").expect("open order listed");
    let older = history.find("First gig").expect("cancelled order listed");
    assert!(newer < older, "newest first");
    assert!(history.contains(r#"<span class="badge awaiting">Awaiting payment</span>"#));
    assert!(history.contains(r#"<span class="badge cancelled">Cancelled</span> You cancelled"#));
    assert!(history.contains(&format!(r#"href="/orders/{open}""#)));
}

#[tokio::test]
async fn an_expired_hold_says_so_and_payment_is_refused_without_a_charge() {
    let site = site_with(|settings| settings.expiration_window_seconds = 2).await;
    let seller = site.user("seller@example.com").await;
    let buyer = site.user("buyer@example.com").await;
    let ticket = site.ticket(&seller, "Late show", 9.0, None).await;
    let checkout = site
        .post_to(&format!("/tickets/{ticket}/buy"), &[], &buyer)
        .await;
    let order = order_id(&checkout);
    let page = site.ok_page(&checkout, &buyer).await;
    let key = idempotency_key(&page);
    site.order_becomes(&order, &buyer, "cancelled").await;

    let page = site.ok_page(&checkout, &buyer).await;
    assert!(page.contains("Hold ended before payment"), "{page}");
    let refused = site
        .post_to(
            &format!("/orders/{order}/pay"),
            &[("token", "tok_visa"), ("idempotency_key", &key)],
            &buyer,
        )
        .await;
    let page = site.ok_page(&refused, &buyer).await;
    assert!(
        page.contains("Your hold ended before payment; you were not charged."),
        "{page}"
    );
    let history = site.ok_page("/orders", &buyer).await;
    assert!(history.contains("Cancelled</span> Hold ended before payment"));
}

#[tokio::test]
async fn a_basket_from_an_event_page() {
    let site = site().await;
    let seller = site.user("seller@example.com").await;
    let buyer = site.user("buyer@example.com").await;
    let (status, event) = site
        .api(
            Method::POST,
            "/api/events",
            Some(
                json!({ "name": "Festival", "venue": "Park", "startsAt": "2099-06-01T18:00:00Z" }),
            ),
            &seller,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{event}");
    let event = event["id"].as_str().expect("event id").to_owned();
    let a = site.ticket(&seller, "Seat A1", 40.0, Some(&event)).await;
    let b = site.ticket(&seller, "Seat A2", 45.5, Some(&event)).await;

    let form = [
        ("eventId", event.as_str()),
        ("ticketIds", &a),
        ("ticketIds", &b),
    ];
    let anonymous = site.post("/basket", &form, None).await;
    assert_eq!(
        location(&anonymous),
        format!("/signin?next=/events/{event}")
    );
    let event_page = site.ok_page(&format!("/events/{event}"), &buyer).await;
    let key = idempotency_key(&event_page);
    let form = [
        ("eventId", event.as_str()),
        ("idempotency_key", key.as_str()),
        ("ticketIds", &a),
        ("ticketIds", &b),
    ];
    let checkout = site.post_to("/basket", &form, &buyer).await;
    let again = site.post_to("/basket", &form, &buyer).await;
    assert_eq!(
        again, checkout,
        "a second press of the basket: the same order"
    );
    let page = site.ok_page(&checkout, &buyer).await;
    assert!(page.contains("Seat A1") && page.contains("Seat A2"));
    assert!(page.contains("We hold these tickets for you until"));
    assert!(
        page.contains("Total: <span class=\"price\">$85.50</span>"),
        "{page}"
    );
    assert!(page.contains("Pay $85.50"));

    let other = site.user("other@example.com").await;
    let refused = site
        .post_to("/basket", &[("ticketIds", &b), ("ticketIds", &a)], &other)
        .await;
    assert_eq!(
        refused,
        format!("/events/{event}?error=reserved"),
        "event found from the ticket"
    );
    let empty = site
        .post("/basket", &[("eventId", event.as_str())], Some(&other))
        .await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let page = empty.text().await.expect("body");
    assert!(page.contains("Choose at least one ticket.") && page.contains("Back to the event"));
}
