//! The layout, sign-up / sign-in / sign-out pages, error pages and the CSRF defence of
//! forms, driven over HTTP against the embedded application as a browser would.

#[path = "common/site.rs"]
mod site;

use reqwest::StatusCode;
use site::site;

/// `session=…` from a response's `Set-Cookie`.
fn session_of(response: &reqwest::Response) -> String {
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("session="))
        .expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    cookie.split(';').next().expect("pair").to_owned()
}

#[tokio::test]
async fn signing_up_in_and_out_through_the_pages() {
    let site = site().await;
    let (status, page) = site.page("/signup", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<title>Sign up – BoxOffice</title>"),
        "{page}"
    );
    assert!(page.contains(r#"autocomplete="new-password""#));
    assert_eq!(page.matches("<h1").count(), 1);

    let form = [
        ("email", "ann@example.com"),
        ("password", "correct horse"),
        ("next", "/my/listings"),
    ];
    let signed_up = site.post("/signup", &form, None).await;
    assert_eq!(signed_up.status(), StatusCode::SEE_OTHER);
    assert_eq!(signed_up.headers()["location"], "/my/listings");
    let cookie = session_of(&signed_up);
    let (_, page) = site.page("/signin", Some(&cookie)).await;
    assert!(
        page.contains("Sign out"),
        "the header knows who is signed in"
    );

    let again = site.post("/signup", &form, None).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let page = again.text().await.expect("body");
    assert!(page.contains("Error: Sign up – BoxOffice"));
    assert!(
        page.contains(r##"<a href="#email">Email in use</a>"##),
        "{page}"
    );
    assert!(
        page.contains(r#"value="ann@example.com""#),
        "the email is kept"
    );

    let out = site.post("/signout", &[], Some(&cookie)).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let cleared = out
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with("session=") && v.contains("Max-Age=0"));
    assert!(cleared, "signing out clears the cookie");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_read_the_same() {
    let site = site().await;
    let form = [("email", "bo@example.com"), ("password", "correct horse")];
    site.post("/signup", &form, None).await;
    let wrong = site
        .post(
            "/signin",
            &[("email", "bo@example.com"), ("password", "wrong horse")],
            None,
        )
        .await;
    let unknown = site
        .post(
            "/signin",
            &[("email", "nobody@example.com"), ("password", "wrong horse")],
            None,
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let (wrong, unknown) = (
        wrong.text().await.expect("body"),
        unknown.text().await.expect("body"),
    );
    assert!(wrong.contains("Invalid credentials"));
    assert_eq!(
        wrong.replace("bo@example.com", "X"),
        unknown.replace("nobody@example.com", "X"),
        "nothing tells the two apart"
    );
    let signed_in = site.post("/signin", &form, None).await;
    assert_eq!(
        signed_in.headers()["location"],
        "/",
        "no next: back to browsing"
    );
}

#[tokio::test]
async fn cross_site_forms_are_refused_and_unknown_pages_are_404_pages() {
    let site = site().await;
    let forged = site
        .client
        .post(format!("{}/signup", site.base))
        .header("origin", "https://evil.example")
        .form(&[("email", "eve@example.com"), ("password", "correct horse")])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(
        forged
            .text()
            .await
            .expect("body")
            .contains("nothing was changed")
    );
    let fetch_site = site
        .client
        .post(format!("{}/signup", site.base))
        .header("sec-fetch-site", "cross-site")
        .form(&[("email", "eve@example.com"), ("password", "correct horse")])
        .send()
        .await
        .expect("post");
    assert_eq!(fetch_site.status(), StatusCode::FORBIDDEN);
    let (status, _) = site.page("/signin?next=//evil.example", None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, page) = site.page("/signin?next=//evil.example", None).await;
    assert!(
        page.contains(r#"name="next" value="/""#),
        "only local paths"
    );

    let (status, page) = site.page("/no/such/page", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("<h1>Not found</h1>") && page.contains("<main"));
    let (status, body) = site.page("/api/no/such/route", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body, r#"{"errors":[{"message":"Not found"}]}"#,
        "the API keeps JSON"
    );
    // The API's own routes, path parameters included, answer beside the pages.
    let user = site
        .client
        .post(format!("{}/api/users/signup", site.base))
        .json(&serde_json::json!({"email": "sam@example.com", "password": "correct horse"}))
        .send()
        .await
        .expect("sign up");
    let cookie = session_of(&user);
    let ticket: serde_json::Value = site
        .client
        .post(format!("{}/api/tickets", site.base))
        .header("cookie", &cookie)
        .json(&serde_json::json!({"title": "Concert", "price": 20}))
        .send()
        .await
        .expect("sell")
        .json()
        .await
        .expect("json");
    let id = ticket["id"].as_str().expect("id");
    let (status, body) = site.page(&format!("/api/tickets/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = site.page("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);

    let (status, css) = site.page("/static/site.css", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(css.contains(":focus-visible"));
}

#[tokio::test]
async fn error_pages_keep_the_signed_in_layout_and_wrong_methods_get_a_page() {
    let site = site().await;
    let form = [("email", "cy@example.com"), ("password", "correct horse")];
    let cookie = session_of(&site.post("/signup", &form, None).await);
    let (status, page) = site.page("/no/such/page", Some(&cookie)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("Sign out"), "signed in on an error page too");
    let (status, page) = site.page("/signout", Some(&cookie)).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(page.contains("<h1>Page not available</h1>"), "{page}");
    let tab = site
        .post(
            "/signin",
            &[("email", "x@example.com"), ("next", "/\t/evil.example")],
            None,
        )
        .await;
    assert_eq!(tab.status(), StatusCode::BAD_REQUEST);
    let signed_in = site
        .post(
            "/signin",
            &[
                ("email", "cy@example.com"),
                ("password", "correct horse"),
                ("next", "/\t/evil.example"),
            ],
            None,
        )
        .await;
    assert_eq!(signed_in.headers()["location"], "/", "never another site");
}
