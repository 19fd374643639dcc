//! The embedded application under test, and a browser-like client for it: forms posted
//! as `application/x-www-form-urlencoded` with this site's `Origin`, redirects not
//! followed (so each one is asserted), the session cookie passed by hand. Shared by the
//! test binaries of the pages (`buying`, `auth_pages`); each uses part of it.

#![allow(dead_code)]

use std::time::Duration;

use boxoffice_app::application::Application;
use boxoffice_app::cli::Settings;
use boxoffice_platform::Secret;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};

pub struct Site {
    pub base: String,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// The application with its default settings changed by `tune`.
pub async fn site_with(tune: impl FnOnce(&mut Settings)) -> Site {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::for_data_dir(dir.path());
    settings.jwt_key = Some(Secret::new("a-test-key-that-is-at-least-32-characters"));
    tune(&mut settings);
    let app = Application::embedded(&settings).await.expect("starts");
    let base = format!("http://{}", app.address());
    tokio::spawn(app.run_until(std::future::pending()));
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    Site {
        base,
        client,
        _dir: dir,
    }
}

pub async fn site() -> Site {
    site_with(|_| {}).await
}

impl Site {
    /// A form post from this site's own pages.
    pub async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        cookie: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .form(form);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.expect("post")
    }

    /// A form post that must answer with a redirect; where it goes.
    pub async fn post_to(&self, path: &str, form: &[(&str, &str)], cookie: &str) -> String {
        let response = self.post(path, form, Some(cookie)).await;
        let status = response.status();
        let location = location(&response);
        assert_eq!(
            status,
            StatusCode::SEE_OTHER,
            "POST {path}: {}",
            response.text().await.unwrap_or_default()
        );
        location
    }

    pub async fn page(&self, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.expect("get");
        (response.status(), response.text().await.expect("body"))
    }

    /// A page that must answer 200.
    pub async fn ok_page(&self, path: &str, cookie: &str) -> String {
        let (status, page) = self.page(path, Some(cookie)).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {page}");
        assert_eq!(page.matches("<h1").count(), 1, "one h1 on {path}");
        page
    }

    /// Reloads a page (up to 10 s) until it shows `text`, as a buyer pressing "Check my
    /// position" would; the last page.
    pub async fn page_showing(&self, path: &str, cookie: &str, text: &str) -> String {
        let mut page = String::new();
        for _ in 0..100 {
            page = self.ok_page(path, cookie).await;
            if page.contains(text) {
                return page;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{path} never showed {text:?}: {page}");
    }

    /// A JSON call to the API, as a script would make it.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        cookie: &str,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("cookie", cookie);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("api call");
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// A new user, signed up through the page; their `session=…` cookie.
    pub async fn user(&self, email: &str) -> String {
        let response = self
            .post(
                "/signup",
                &[("email", email), ("password", "correct horse")],
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("session="))
            .and_then(|v| v.split(';').next())
            .expect("session cookie")
            .to_owned()
    }

    /// A ticket listed by `seller` through the API; its id.
    pub async fn ticket(
        &self,
        seller: &str,
        title: &str,
        price: f64,
        event: Option<&str>,
    ) -> String {
        let body = json!({ "title": title, "price": price, "eventId": event });
        let (status, ticket) = self
            .api(reqwest::Method::POST, "/api/tickets", Some(body), seller)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{ticket}");
        ticket["id"].as_str().expect("id").to_owned()
    }

    /// The order as the API tells its buyer (read from the list, `GET /api/orders`).
    pub async fn order(&self, id: &str, buyer: &str) -> Value {
        let (status, orders) = self
            .api(reqwest::Method::GET, "/api/orders", None, buyer)
            .await;
        assert_eq!(status, StatusCode::OK, "{orders}");
        orders
            .as_array()
            .and_then(|orders| orders.iter().find(|order| order["id"] == id))
            .unwrap_or_else(|| panic!("no order {id} in {orders}"))
            .clone()
    }

    /// Waits (up to 20 s) until the buyer's order `id` has `status`.
    pub async fn order_becomes(&self, id: &str, buyer: &str, status: &str) -> Value {
        for _ in 0..200 {
            let order = self.order(id, buyer).await;
            if order["status"] == status {
                return order;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("order {id} never became {status}");
    }
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The order id of a redirect to its checkout, `/orders/{id}`.
pub fn order_id(location: &str) -> String {
    let id = location
        .strip_prefix("/orders/")
        .unwrap_or_else(|| panic!("not a checkout: {location}"));
    id.split(['?', '/']).next().expect("id").to_owned()
}

/// The value of the hidden `idempotency_key` field of a checkout page.
pub fn idempotency_key(page: &str) -> String {
    hidden(page, "idempotency_key")
}

/// The value of the (first) field `name` of a page's form.
pub fn hidden(page: &str, name: &str) -> String {
    let after = page
        .split(&format!(r#"name="{name}" value=""#))
        .nth(1)
        .unwrap_or_else(|| panic!("no field {name}"));
    after.split('"').next().expect("value").to_owned()
}
