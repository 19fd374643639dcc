//! The line for a held ticket: join, leave, the turn, Buy now, and a sold ticket.

use reqwest::StatusCode;

use crate::site::{idempotency_key, order_id, site_with};

#[tokio::test]
async fn joining_the_line_waiting_for_a_turn_and_buying() {
    let site = site_with(|settings| {
        settings.expiration_window_seconds = 3;
        settings.queue_turn_seconds = 60;
    })
    .await;
    let seller = site.user("seller@example.com").await;
    let holder = site.user("holder@example.com").await;
    let waiter = site.user("waiter@example.com").await;
    let ticket = site.ticket(&seller, "Cup final", 99.0, None).await;
    let line = format!("/tickets/{ticket}/queue");
    let (status, _) = site.page(&line, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "sign in first");

    let page = site.ok_page(&line, &waiter).await;
    assert!(
        page.contains("No need to wait") && page.contains(">Buy</button>"),
        "free: buy it"
    );
    let held = order_id(
        &site
            .post_to(&format!("/tickets/{ticket}/buy"), &[], &holder)
            .await,
    );

    // The tickets service learns of the hold from the orders service's event.
    site.page_showing(&line, &waiter, ">Join the line</button>")
        .await;
    assert_eq!(site.post_to(&line, &[], &waiter).await, line);
    let page = site.ok_page(&line, &waiter).await;
    assert!(page.contains("You are #1 of 1"), "{page}");
    assert!(page.contains(">Check my position</a>") && page.contains(">Leave the line</button>"));
    let ticket_page = format!("/tickets/{ticket}");
    let ticket_view = site.ok_page(&ticket_page, &waiter).await;
    assert!(
        ticket_view.contains("Held by another buyer until about ") && ticket_view.contains(" UTC."),
        "{ticket_view}"
    );
    assert!(
        ticket_view.contains("You are #1 in line — see your place"),
        "{ticket_view}"
    );
    let ticket_view = site.ok_page(&ticket_page, "").await;
    assert!(
        ticket_view.contains(">Join the line</a> <span>(you'd be #2)</span>"),
        "{ticket_view}"
    );
    assert!(!page.contains("http-equiv"), "no meta refresh");
    assert!(page.contains("/static/queue.js"));
    assert_eq!(
        site.post_to(&line, &[], &waiter).await,
        line,
        "joining twice keeps the place"
    );

    let left = site.post_to(&format!("{line}/leave"), &[], &waiter).await;
    assert_eq!(left, format!("{line}?done=left"));
    let page = site.ok_page(&left, &waiter).await;
    assert!(page.contains("You left the line") && page.contains(">Join the line</button>"));
    site.post_to(&line, &[], &waiter).await;

    site.order_becomes(&held, &holder, "cancelled").await;
    let page = site.page_showing(&line, &waiter, ", until ").await;
    assert!(
        page.contains(">Buy now</button>") && page.contains(", until "),
        "{page}"
    );
    let refused = site
        .post_to(&format!("/tickets/{ticket}/buy"), &[], &holder)
        .await;
    assert_eq!(refused, format!("/tickets/{ticket}?error=next_in_line"));
    // The orders service learns of the turn from the queue's event; until then Buy now
    // comes back to the turn panel, to be pressed again.
    let mut bought = String::new();
    for _ in 0..100 {
        bought = site
            .post_to(&format!("/tickets/{ticket}/buy"), &[], &waiter)
            .await;
        if bought.starts_with("/orders/") {
            break;
        }
        assert_eq!(bought, format!("{line}?done=turn_starting"));
        let page = site.ok_page(&bought, &waiter).await;
        assert!(page.contains("Press Buy now again in a moment."));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let order = order_id(&bought);
    let key = idempotency_key(&site.ok_page(&bought, &waiter).await);
    let form = [("token", "tok_visa"), ("idempotency_key", key.as_str())];
    site.post_to(&format!("/orders/{order}/pay"), &form, &waiter)
        .await;
    site.order_becomes(&order, &waiter, "complete").await;

    let late = site.user("late@example.com").await;
    site.page_showing(&line, &late, "This ticket was sold")
        .await;
}
