//! CONTRACT.md §4, row by row, in the embedded mode.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, User, spawn_app};

async fn put(app: &TestApp, user: &User, id: &str, body: Value) -> crate::helpers::Reply {
    app.send(
        app.as_user(user, Method::PUT, &format!("/api/tickets/{id}"))
            .json(&body),
    )
    .await
}

async fn delete(app: &TestApp, user: &User, id: &str) -> crate::helpers::Reply {
    app.send(app.as_user(user, Method::DELETE, &format!("/api/tickets/{id}")))
        .await
}

fn titles(body: &Value) -> Vec<&str> {
    body.as_array()
        .expect("array")
        .iter()
        .map(|t| t["title"].as_str().expect("title"))
        .collect()
}

#[tokio::test]
async fn creating_a_ticket_returns_it_at_version_0() {
    let app = spawn_app().await;
    let seller = app.user().await;
    let reply = app
        .send(
            app.as_user(&seller, Method::POST, "/api/tickets")
                .json(&json!({"title": "  Concert  ", "price": 12.5, "description": "Front row"})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let ticket = &reply.body;
    assert_eq!(ticket["title"], "Concert");
    assert_eq!(ticket["price"], 12.5);
    assert_eq!(ticket["description"], "Front row");
    assert_eq!(ticket["userId"], seller.id.as_str());
    assert_eq!(ticket["orderId"], Value::Null);
    assert_eq!(ticket["status"], "available");
    assert_eq!(ticket["version"], 0);
    assert!(
        ticket["createdAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(
        app.ticket(ticket["id"].as_str().expect("id")).await,
        *ticket
    );
    app.assert_settled().await;
}

#[tokio::test]
async fn creating_needs_a_session_before_anything_else() {
    let app = spawn_app().await;
    let reply = app.post_json("/api/tickets", &json!({"title": ""})).await;
    assert_eq!(
        (reply.status, reply.body),
        (401, json!({"errors": [{"message": "Not authorized"}]}))
    );
    app.assert_settled().await;
}

#[tokio::test]
async fn creating_validates_title_and_price() {
    let app = spawn_app().await;
    let seller = app.user().await;
    let cases = [
        (
            json!({"title": "", "price": 10}),
            vec![("title", "Title is required")],
        ),
        (
            json!({"title": "x".repeat(201), "price": 10}),
            vec![("title", "Title is required")],
        ),
        (json!({"price": 10}), vec![("title", "Title is required")]),
        (
            json!({"title": "ok"}),
            vec![("price", "Price must be greater than 0")],
        ),
        (
            json!({}),
            vec![
                ("title", "Title is required"),
                ("price", "Price must be greater than 0"),
            ],
        ),
    ];
    for (body, expected) in cases {
        let reply = app
            .send(
                app.as_user(&seller, Method::POST, "/api/tickets")
                    .json(&body),
            )
            .await;
        assert_eq!(reply.status, 400, "{body}");
        let expected: Vec<Value> = expected
            .into_iter()
            .map(|(field, message)| json!({"field": field, "message": message}))
            .collect();
        assert_eq!(reply.body, json!({ "errors": expected }), "{body}");
    }
    // Float money is exact: 10.1 is 1010 cents, shown back as 10.1.
    let ticket = app.listed_ticket(&seller, "Exact", 10.1).await;
    assert_eq!(ticket["price"], 10.1);
    app.assert_settled().await;
}

/// A price is a number or the same amount as a decimal string (CONTRACT.md §1), on create and
/// edit alike, with the number's message for each problem; other text is refused as `true` is.
#[tokio::test]
async fn prices_as_numbers_or_decimal_strings_obey_the_same_rules() {
    let app = spawn_app().await;
    let seller = app.user().await;
    let ticket = app.listed_ticket(&seller, "Concert", 20.0).await;
    let edit = format!("/api/tickets/{}", ticket["id"].as_str().expect("id"));
    let positive = Err("Price must be greater than 0");
    let precise = Err("Price must have at most 2 decimals");
    let large = Err("Price must be at most 1000000");
    for (price, outcome) in [
        (json!(0), positive),
        (json!("0.00"), positive),
        (json!(-5), positive),
        (json!("-5"), positive),
        (json!(true), positive),
        (json!("abc"), positive),
        (json!("1e3"), positive),
        (json!(" 5"), positive),
        (json!("+5"), positive),
        (json!(""), positive),
        (json!(1.234), precise),
        (json!("5.001"), precise),
        (json!(1_000_001), large),
        (json!("1000000.01"), large),
        (json!(20), Ok(20.0)),
        (json!("20.00"), Ok(20.0)),
        (json!("49"), Ok(49.0)),
        (json!("10.10"), Ok(10.1)),
    ] {
        let body = json!({"title": "Concert", "price": price});
        for (method, path, ok) in [
            (Method::POST, "/api/tickets", 201),
            (Method::PUT, &edit, 200),
        ] {
            let reply = app
                .send(app.as_user(&seller, method.clone(), path).json(&body))
                .await;
            let expected = match outcome {
                Ok(shown) => (ok, json!(shown)),
                Err(message) => (400, json!([{"field": "price", "message": message}])),
            };
            let shown = reply.body.get("errors").unwrap_or(&reply.body["price"]);
            assert_eq!((reply.status, shown.clone()), expected, "{method} {body}");
        }
    }
    app.assert_settled().await;
}

#[tokio::test]
async fn listing_filters_sorts_pages_and_counts() {
    let app = spawn_app().await;
    let ann = app.user().await;
    let bob = app.user().await;
    for (seller, title, price) in [
        (&ann, "Opera night", 50.0),
        (&ann, "Jazz club", 20.0),
        (&bob, "Opera matinee", 35.0),
        (&bob, "Rock 100% live_", 80.0),
    ] {
        app.listed_ticket(seller, title, price).await;
    }

    let all = app.get("/api/tickets").await;
    assert_eq!(all.status, 200);
    assert_eq!(
        titles(&all.body),
        [
            "Opera night",
            "Jazz club",
            "Opera matinee",
            "Rock 100% live_"
        ]
    );
    assert_eq!(all.headers["x-total-count"], "4");

    let opera = app.get("/api/tickets?q=OPERA").await;
    assert_eq!(titles(&opera.body), ["Opera night", "Opera matinee"]);
    assert_eq!(opera.headers["x-total-count"], "2");
    let literal = app.get("/api/tickets?q=100%25%20live_").await;
    assert_eq!(
        titles(&literal.body),
        ["Rock 100% live_"],
        "% and _ match literally"
    );

    let mid = app.get("/api/tickets?minPrice=20&maxPrice=50").await;
    assert_eq!(
        titles(&mid.body),
        ["Opera night", "Jazz club", "Opera matinee"]
    );
    let bobs = app.get(&format!("/api/tickets?userId={}", bob.id)).await;
    assert_eq!(titles(&bobs.body), ["Opera matinee", "Rock 100% live_"]);

    let cheap_first = app.get("/api/tickets?sort=price").await;
    assert_eq!(
        titles(&cheap_first.body),
        [
            "Jazz club",
            "Opera matinee",
            "Opera night",
            "Rock 100% live_"
        ]
    );
    let dear_first = app.get("/api/tickets?sort=-price").await;
    assert_eq!(titles(&dear_first.body)[0], "Rock 100% live_");
    let newest = app.get("/api/tickets?sort=newest").await;
    assert_eq!(titles(&newest.body)[0], "Rock 100% live_");

    let page2 = app.get("/api/tickets?limit=3&page=2").await;
    assert_eq!(titles(&page2.body), ["Rock 100% live_"]);
    assert_eq!(page2.headers["x-total-count"], "4");
    let beyond = app.get("/api/tickets?limit=3&page=9").await;
    assert_eq!(titles(&beyond.body), Vec::<&str>::new());

    for status in ["available", "all"] {
        let reply = app.get(&format!("/api/tickets?status={status}")).await;
        assert_eq!(reply.headers["x-total-count"], "4", "{status}");
    }
    for status in ["reserved", "sold"] {
        let reply = app.get(&format!("/api/tickets?status={status}")).await;
        assert_eq!(reply.headers["x-total-count"], "0", "{status}");
    }
    app.assert_settled().await;
}

#[tokio::test]
async fn listing_refuses_bad_queries() {
    let app = spawn_app().await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("page=0", "page"),
        ("minPrice=cheap", "minPrice"),
        ("maxPrice=-1", "maxPrice"),
        ("status=lost", "status"),
        ("sort=title", "sort"),
        ("userId=nobody", "userId"),
    ] {
        let reply = app.get(&format!("/api/tickets?{query}")).await;
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.body["errors"][0]["field"], field, "{query}");
    }
    app.assert_settled().await;
}

#[tokio::test]
async fn showing_an_unknown_or_malformed_id_is_404() {
    let app = spawn_app().await;
    for id in ["01a200aa-1a4b-7137-8f08-2f256ac1c1b4", "not-an-id"] {
        let reply = app.get(&format!("/api/tickets/{id}")).await;
        assert_eq!(
            (reply.status, reply.body),
            (404, json!({"errors": [{"message": "Not found"}]}))
        );
    }
    app.assert_settled().await;
}

#[tokio::test]
async fn the_seller_edits_an_available_ticket() {
    let app = spawn_app().await;
    let seller = app.user().await;
    let ticket = app.listed_ticket(&seller, "Concert", 20.0).await;
    let id = ticket["id"].as_str().expect("id");

    let reply = put(
        &app,
        &seller,
        id,
        json!({"title": "Concert (moved)", "price": 25}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["title"], "Concert (moved)");
    assert_eq!(reply.body["price"], 25.0);
    assert_eq!(reply.body["version"], 1);
    assert_eq!(app.ticket(id).await["version"], 1);

    let invalid = put(&app, &seller, id, json!({"title": "", "price": 25})).await;
    assert_eq!(invalid.status, 400);
    assert_eq!(invalid.body["errors"][0]["field"], "title");
    app.assert_settled().await;
}

#[tokio::test]
async fn editing_and_deleting_check_session_existence_and_owner() {
    let app = spawn_app().await;
    let seller = app.user().await;
    let stranger = app.user().await;
    let ticket = app.listed_ticket(&seller, "Concert", 20.0).await;
    let id = ticket["id"].as_str().expect("id");
    let body = json!({"title": "Mine now", "price": 1});

    let anonymous = app
        .send(
            app.client
                .put(app.url(&format!("/api/tickets/{id}")))
                .json(&body),
        )
        .await;
    assert_eq!(anonymous.status, 401);
    let anonymous = app
        .send(app.client.delete(app.url(&format!("/api/tickets/{id}"))))
        .await;
    assert_eq!(anonymous.status, 401);

    assert_eq!(put(&app, &stranger, id, body.clone()).await.status, 401);
    assert_eq!(delete(&app, &stranger, id).await.status, 401);
    assert_eq!(app.ticket(id).await["title"], "Concert");

    let unknown = "01a200aa-1a4b-7137-8f08-2f256ac1c1b4";
    assert_eq!(put(&app, &seller, unknown, body.clone()).await.status, 404);
    assert_eq!(delete(&app, &seller, unknown).await.status, 404);
    assert_eq!(put(&app, &seller, "garbage", body).await.status, 404);
    app.assert_settled().await;
}

#[tokio::test]
async fn the_seller_deletes_an_available_ticket() {
    let app = spawn_app().await;
    let seller = app.user().await;
    let ticket = app.listed_ticket(&seller, "Concert", 20.0).await;
    let id = ticket["id"].as_str().expect("id");

    let reply = delete(&app, &seller, id).await;
    assert_eq!((reply.status, reply.body), (204, Value::Null));
    assert_eq!(app.get(&format!("/api/tickets/{id}")).await.status, 404);
    assert_eq!(
        app.get("/api/tickets?status=all").await.headers["x-total-count"],
        "0"
    );
    assert_eq!(delete(&app, &seller, id).await.status, 404);
    app.assert_settled().await;
}

#[tokio::test]
async fn a_reserved_ticket_cannot_be_edited_or_deleted_but_ownership_is_checked_first() {
    let app = spawn_app().await;
    let seller = app.user().await;
    let buyer = app.user().await;
    let ticket = app.listed_ticket(&seller, "Concert", 20.0).await;
    let id = ticket["id"].as_str().expect("id");
    assert_eq!(app.order(&buyer, id).await.status, 201);
    crate::helpers::eventually("the ticket is reserved", || async {
        app.ticket(id).await["status"] == "reserved"
    })
    .await;

    let edit = put(&app, &seller, id, json!({"title": "New", "price": 1})).await;
    assert_eq!(
        (edit.status, edit.body),
        (
            400,
            json!({"errors": [{"message": "Cannot edit a reserved ticket"}]})
        )
    );
    let remove = delete(&app, &seller, id).await;
    assert_eq!(
        (remove.status, remove.body),
        (
            400,
            json!({"errors": [{"message": "Cannot delete a reserved ticket"}]})
        )
    );
    // Not the owner: 401 even though the ticket is reserved.
    assert_eq!(
        put(&app, &buyer, id, json!({"title": "New", "price": 1}))
            .await
            .status,
        401
    );
    assert_eq!(delete(&app, &buyer, id).await.status, 401);

    let listed = app.get("/api/tickets").await;
    assert_eq!(
        listed.body[0]["status"], "reserved",
        "reserved tickets stay listed"
    );
    app.assert_settled().await;
}
