//! The checkout with Stripe: Stripe.js's card field instead of the test cards, no card
//! number ever posted to BoxOffice, and a clear word when the site lacks its publishable
//! key. (Paying through Stripe.js in a real browser is a browser check: ui-tests.)

use boxoffice_platform::Secret;

use crate::site::{order_id, site_with};

const WEBHOOK_SECRET: &str = "whsec_a-test-secret";

/// The checkout of a fresh order on a site in Stripe mode, `publishable` its key.
async fn stripe_checkout(publishable: Option<&str>) -> String {
    let site = site_with(|settings| {
        settings.stripe_key = Some(Secret::new("sk_test_boxoffice"));
        settings.stripe_webhook_secret = Some(Secret::new(WEBHOOK_SECRET));
        // Never called: nothing here pays.
        settings.stripe_api_base = Some("http://127.0.0.1:9".to_owned());
        settings.stripe_publishable_key = publishable.map(str::to_owned);
        settings.stripe_js_url = "https://js.example.test/v3/".to_owned();
    })
    .await;
    let seller = site.user("seller@example.com").await;
    let buyer = site.user("buyer@example.com").await;
    let ticket = site.ticket(&seller, "Jazz night", 20.5, None).await;
    let checkout = site
        .post_to(&format!("/tickets/{ticket}/buy"), &[], &buyer)
        .await;
    let order = order_id(&checkout);
    site.ok_page(&format!("/orders/{order}"), &buyer).await
}

#[tokio::test]
async fn with_stripe_the_checkout_collects_the_card_with_stripe_js() {
    let page = stripe_checkout(Some("pk_test_boxoffice")).await;
    assert!(
        page.contains(r#"data-stripe-key="pk_test_boxoffice""#),
        "{page}"
    );
    assert!(page.contains(r#"data-stripe-js="https://js.example.test/v3/""#));
    assert!(page.contains(r#"<script src="/static/stripe-pay.js" defer></script>"#));
    assert!(
        !page.contains("tok_visa") && !page.contains("Test card"),
        "no test cards with Stripe"
    );
    assert!(
        page.contains(r#"name="token" value="" data-stripe-token"#),
        "the PaymentMethod id is filled in by Stripe.js"
    );
    assert!(
        page.contains("Paying by card needs JavaScript turned on"),
        "without JavaScript the page says why Pay is off"
    );
    assert!(page.contains("data-stripe-submit disabled>Pay $20.50</button>"));
}

#[tokio::test]
async fn with_stripe_but_no_publishable_key_the_checkout_says_so() {
    let page = stripe_checkout(None).await;
    assert!(
        page.contains("Card payments are not set up on this site yet"),
        "{page}"
    );
    assert!(!page.contains("data-stripe-pay"));
}
