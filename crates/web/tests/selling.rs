//! The seller's and browser's pages — sell, my listings, browse, a ticket's page, edit,
//! delete, events — driven over HTTP against the embedded application as a browser
//! would: forms posted with the site's own `Origin`, the session cookie kept, redirects
//! not followed so each one can be checked.

#[path = "selling/site.rs"]
mod site;

use reqwest::StatusCode;
use serde_json::{Value, json};

use site::site;

fn ticket_form<'a>(title: &'a str, price: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("title", title), ("price", price), ("description", "")]
}

#[tokio::test]
async fn selling_shows_every_problem_then_lists_the_ticket() {
    let site = site().await;
    let (status, _) = site.page("/sell", "").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "sign in first");
    let anonymous = site.client.get(format!("{}/sell", site.base)).send().await;
    assert_eq!(
        anonymous.expect("get").headers()["location"],
        "/signin?next=/sell"
    );

    let ann = site.sign_up("ann@example.com").await;
    let (status, page) = site.page("/sell", &ann).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<title>Sell a ticket – BoxOffice</title>"));
    assert!(page.contains(r#"<label for="title">"#) && page.contains(r#"inputmode="decimal""#));
    assert_eq!(page.matches("<h1").count(), 1);

    let bad = [
        ("title", " "),
        ("price", "0"),
        ("description", "Row 5, seat 12"),
    ];
    let response = site.post("/sell", &bad, &ann).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.expect("body");
    assert!(page.contains("<title>Error: Sell a ticket – BoxOffice</title>"));
    assert!(
        page.contains(r##"<a href="#title">Title is required</a>"##),
        "{page}"
    );
    assert!(page.contains(r##"<a href="#price">Price must be greater than 0</a>"##));
    assert!(page.contains(r#"aria-describedby="price-hint price-error""#));
    assert!(page.contains(r#"value="0""#) && page.contains(">Row 5, seat 12</textarea>"));

    let id = site
        .sell(
            &ann,
            &[
                ("title", "Front row <Gala>"),
                ("price", "25.5"),
                ("description", ""),
            ],
        )
        .await;
    let (status, page) = site.page("/my/listings?done=listed", &ann).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"<p class="notice" role="status">Ticket listed</p>"#));
    assert!(page.contains("Front row &#60;Gala&#62;"), "escaped: {page}");
    assert!(page.contains("$25.50") && page.contains(&format!("/tickets/{id}/edit")));

    let not_a_form = site
        .client
        .post(format!("{}/sell", site.base))
        .header("origin", &site.base)
        .header("cookie", &ann)
        .header("content-type", "text/plain")
        .body("title=x")
        .send()
        .await
        .expect("post");
    assert_eq!(not_a_form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let page = not_a_form.text().await.expect("body");
    assert!(page.contains("The form could not be read") && page.contains("<h1>Sell a ticket</h1>"));

    let bob = site.sign_up("bob@example.com").await;
    let (_, page) = site.page("/my/listings", &bob).await;
    assert!(page.contains("You have no listings yet.") && page.contains(r#"href="/sell""#));
}

#[tokio::test]
async fn browsing_searches_sorts_and_pages() {
    let site = site().await;
    let ann = site.sign_up("ann@example.com").await;
    for n in 1..=23 {
        let body = json!({ "title": format!("Gig {n:02}"), "price": n });
        site.api(reqwest::Method::POST, "/api/tickets", body, &ann)
            .await;
    }
    let opera = json!({ "title": "Opera", "price": 99 });
    site.api(reqwest::Method::POST, "/api/tickets", opera, &ann)
        .await;

    let (status, page) = site.page("/", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<strong>24 tickets</strong>") && page.contains("Page 1 of 2"));
    assert!(page.contains(r#"<a href="/?page=2" rel="next">"#), "{page}");

    let (status, page) = site.page("/?q=gig&sort=-price&page=2", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<strong>23 tickets</strong>") && page.contains("Page 2 of 2"));
    assert!(
        page.contains(r#"<a href="/?q=gig&#38;sort=-price" rel="prev">"#),
        "{page}"
    );
    assert!(!page.contains(r#"rel="next""#));
    assert!(page.contains("Gig 01") && page.contains("$3.00") && !page.contains("Gig 23"));
    assert!(page.contains(r#"<option value="-price" selected>"#));
    assert!(
        page.contains(r#"value="gig""#),
        "the query is kept in the form"
    );

    let (status, page) = site.page("/?q=nothing", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No tickets match — <a href=\"/\">clear filters</a>"));

    let (status, page) = site.page("/?minPrice=abc&maxPrice=10", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("minPrice must be a number of at least 0"),
        "{page}"
    );
    assert!(page.contains(r#"aria-invalid="true" aria-describedby="minPrice-error""#));
    assert!(page.contains("<title>Error: Browse tickets – BoxOffice</title>"));

    let bob = site.sign_up("bob@example.com").await;
    let held = site
        .api(
            reqwest::Method::GET,
            "/api/tickets?q=opera",
            Value::Null,
            "",
        )
        .await;
    let held = held[0]["id"].as_str().expect("id").to_owned();
    site.reserve(&held, &bob).await;
    let (_, page) = site.page("/?q=opera", "").await;
    assert!(page.contains(r#"<span class="badge reserved">Reserved</span>"#));
    assert!(page.contains("In someone's basket · <a href=\"/tickets/"));
}

#[tokio::test]
async fn a_ticket_page_offers_what_its_state_and_viewer_allow() {
    let site = site().await;
    let ann = site.sign_up("ann@example.com").await;
    let bob = site.sign_up("bob@example.com").await;
    let id = site.sell(&ann, &ticket_form("Final", "40")).await;
    let path = format!("/tickets/{id}");

    let (status, page) = site.page(&path, &ann).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!(r#"href="/tickets/{id}/edit">Edit"#)));
    assert!(page.contains(&format!(r#"href="/tickets/{id}/delete">Delete"#)));
    assert!(!page.contains("/buy"), "no Buy on one's own ticket");

    let (_, page) = site.page(&path, &bob).await;
    assert!(
        page.contains(&format!(r#"action="/tickets/{id}/buy""#)) && page.contains(">Buy</button>")
    );
    assert!(!page.contains("/edit"));
    let (_, page) = site.page(&format!("{path}?error=next_in_line"), &bob).await;
    assert!(page.contains("Ticket is reserved for the next buyer in line"));

    for missing in [
        "/tickets/not-an-id",
        "/tickets/..%2Fusers",
        "/tickets/%FF",
        "/tickets/0190a000-0000-7000-8000-000000000000",
    ] {
        let (status, page) = site.page(missing, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
        assert!(page.contains("<h1>Not found</h1>"));
    }

    site.reserve(&id, &bob).await;
    let (_, page) = site.page(&path, &bob).await;
    assert!(page.contains("In your basket") && page.contains("Go to checkout"));
    let (_, page) = site.page(&path, "").await;
    assert!(page.contains("Held by another buyer"));
    assert!(page.contains(&format!(r#"href="/tickets/{id}/queue">Join the line</a>"#)));
    let (_, page) = site.page(&format!("{path}/edit"), &ann).await;
    assert!(page.contains("Cannot edit a reserved ticket") && page.contains(" disabled>"));
    let response = site.post(&format!("{path}/delete"), &[], &ann).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.expect("body");
    assert!(page.contains("Cannot delete a reserved ticket"), "{page}");
}

#[tokio::test]
async fn editing_and_deleting_a_listing() {
    let site = site().await;
    let ann = site.sign_up("ann@example.com").await;
    let bob = site.sign_up("bob@example.com").await;
    let id = site.sell(&ann, &ticket_form("Semi final", "12.5")).await;
    let edit = format!("/tickets/{id}/edit");

    let (status, page) = site.page(&edit, &ann).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"value="Semi final""#) && page.contains(r#"value="12.50""#));
    assert_eq!(
        site.page(&edit, &bob).await.0,
        StatusCode::NOT_FOUND,
        "not the seller"
    );
    assert_eq!(
        site.post(&edit, &ticket_form("Mine now", "1"), &bob)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    let response = site.post(&edit, &ticket_form("", "12.50"), &ann).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.expect("body");
    assert!(
        page.contains("<title>Error: Edit listing – BoxOffice</title>")
            && page.contains("Title is required")
    );

    let response = site
        .post(&edit, &ticket_form("Semi final, row 2", "14"), &ann)
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let saved = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert_eq!(saved, format!("/tickets/{id}?done=saved"));
    let (_, page) = site.page(&saved, &ann).await;
    assert!(
        page.contains("Changes saved")
            && page.contains("Semi final, row 2")
            && page.contains("$14.00")
    );

    let (status, page) = site.page(&format!("/tickets/{id}/delete"), &ann).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"method="post""#) && page.contains(">Delete</button>"));
    assert_eq!(
        site.page(&format!("/tickets/{id}/delete"), &bob).await.0,
        StatusCode::NOT_FOUND
    );
    let response = site.post(&format!("/tickets/{id}/delete"), &[], &ann).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/my/listings?done=deleted");
    let (_, page) = site.page("/my/listings?done=deleted", &ann).await;
    assert!(page.contains("Listing deleted") && !page.contains("Semi final"));
    assert_eq!(
        site.page(&format!("/tickets/{id}"), &ann).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn events_are_created_listed_and_sold_for() {
    let site = site().await;
    let (status, _) = site.page("/events/new", "").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "sign in first");
    let ann = site.sign_up("ann@example.com").await;
    let bob = site.sign_up("bob@example.com").await;

    let bad = [
        ("name", ""),
        ("venue", "Arena"),
        ("startsAt", "2001-01-01T10:00"),
    ];
    let response = site.post("/events/new", &bad, &ann).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.expect("body");
    assert!(
        page.contains(r##"<a href="#name">Name is required</a>"##),
        "{page}"
    );
    assert!(page.contains(r##"<a href="#startsAt">StartsAt must be a future date</a>"##));
    assert!(page.contains(r#"value="Arena""#));

    let good = [
        ("name", "Cup final"),
        ("venue", "Arena"),
        ("startsAt", "2040-06-01T19:30"),
    ];
    let response = site.post("/events/new", &good, &ann).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let created = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        created.starts_with("/events/") && created.ends_with("?done=created"),
        "{created}"
    );
    let event = created
        .trim_start_matches("/events/")
        .trim_end_matches("?done=created")
        .to_owned();
    let (_, page) = site.page(&created, &ann).await;
    assert!(page.contains("<h1>Cup final</h1>") && page.contains("Event created"));
    assert!(
        page.contains("Fri 1 Jun 2040, 19:30 UTC")
            && page.contains("No tickets for this event yet.")
    );
    let again = site.post("/events/new", &good, &ann).await;
    assert_eq!(
        again.headers()["location"].to_str().expect("location"),
        format!("/events/{event}?done=exists")
    );

    let (_, page) = site.page(&format!("/sell?eventId={event}"), &ann).await;
    assert!(
        page.contains(&format!(
            r#"<option value="{event}" selected>Cup final — Arena"#
        )),
        "{page}"
    );
    let serial = [
        ("title", "Block A"),
        ("price", "40"),
        ("eventId", event.as_str()),
        ("serialNumber", "A-1"),
    ];
    let id = site.sell(&ann, &serial).await;
    let response = site.post("/sell", &serial, &ann).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains(r##"<a href="#serialNumber">Ticket already exists</a>"##)
    );

    let (_, page) = site.page(&format!("/tickets/{id}"), &bob).await;
    assert!(
        page.contains(&format!(r#"<a href="/events/{event}">Cup final</a>"#))
            && page.contains("A-1")
    );
    let (_, page) = site.page(&format!("/events/{event}"), &bob).await;
    assert!(page.contains(r#"action="/basket""#));
    assert!(
        page.contains(&format!(r#"name="ticketIds" value="{id}""#))
            && page.contains("Buy selected tickets")
    );
    let (_, page) = site.page(&format!("/events/{event}"), &ann).await;
    assert!(page.contains("Your ticket") && !page.contains(r#"name="ticketIds""#));

    let (status, page) = site.page("/events?q=arena", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<strong>1 event</strong>") && page.contains("1 ticket available, from"));
    assert!(page.contains("$40.00"));
    assert_eq!(site.page("/events/nope", "").await.0, StatusCode::NOT_FOUND);
}

/// Browse and events keep their search form and show an error panel with a retry link
/// when the API does not answer (the pages served alone, pointed at a closed port).
#[tokio::test]
async fn an_api_that_does_not_answer_leaves_a_usable_page() {
    let api = boxoffice_web::Api::over_http("http://127.0.0.1:9").expect("client");
    let config = boxoffice_web::WebConfig {
        currency: "usd".to_owned(),
        test_payments: true,
        stripe: None,
    };
    let pages = boxoffice_web::router(api, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, pages).await });
    for path in ["/?q=gig", "/events"] {
        let response = reqwest::get(format!("{base}{path}")).await.expect("get");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        let page = response.text().await.expect("body");
        assert!(page.contains(r#"<div class="alert" role="alert" id="api-down">"#));
        assert!(page.contains(r#"<a href="">Try again</a>"#) && page.contains("Apply</button>"));
    }
}
