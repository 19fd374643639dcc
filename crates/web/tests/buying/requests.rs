//! Requests the pages cannot read: a malformed id in the path is the 404 page, and a
//! query string or form body that does not fit is the 400 page — both inside the layout,
//! never axum's plain text.

use reqwest::StatusCode;

use super::site::site;

#[tokio::test]
async fn malformed_ids_are_the_not_found_page() {
    let site = site().await;
    let buyer = site.user("buyer@example.com").await;
    for path in [
        "/orders/%FF",
        "/orders/%FF/cancel",
        "/orders/a..b",
        "/tickets/%FF",
        "/tickets/%FF/queue",
    ] {
        for cookie in [None, Some(buyer.as_str())] {
            let (status, page) = site.page(path, cookie).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {page}");
            assert!(page.contains("<h1>Not found</h1>"), "{path}: {page}");
            assert!(page.contains("</html>"), "in the layout: {page}");
        }
    }
    for path in [
        "/tickets/%FF/buy",
        "/tickets/%FF/queue",
        "/orders/%FF/pay",
        "/orders/%FF/cancel",
    ] {
        let response = site.post(path, &[], Some(&buyer)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "POST {path}");
        let page = response.text().await.expect("body");
        assert!(page.contains("<h1>Not found</h1>"), "POST {path}: {page}");
    }
}

#[tokio::test]
async fn unreadable_queries_and_forms_are_a_bad_request_page() {
    let site = site().await;
    let buyer = site.user("buyer@example.com").await;
    for path in [
        "/?q=a&q=b",
        "/events?page=1&page=2",
        "/tickets/x1?done=a&done=b",
    ] {
        let (status, page) = site.page(path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {page}");
        assert!(page.contains("<h1>Request not understood</h1>"), "{page}");
        assert!(page.contains("Error: Request not understood – BoxOffice"));
    }
    let (status, page) = site.page("/?q=a&q=b", Some(&buyer)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Sign out"), "the signed-in layout: {page}");

    // A form post with a body that is not a form.
    let response = site
        .client
        .post(format!("{}/basket", site.base))
        .header("origin", &site.base)
        .header("cookie", &buyer)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("type")
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.expect("body");
    assert!(page.contains("<h1>Request not understood</h1>"), "{page}");
}
