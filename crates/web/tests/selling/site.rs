//! The site under test: the embedded application on a temporary data directory, and a
//! client that behaves like a browser without JavaScript — forms posted with the site's
//! own `Origin`, the session cookie sent back, redirects not followed.

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

pub async fn site() -> Site {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::for_data_dir(dir.path());
    settings.jwt_key = Some(Secret::new("a-test-key-that-is-at-least-32-characters"));
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

impl Site {
    /// A form post from this site's own pages.
    pub async fn post(&self, path: &str, form: &[(&str, &str)], cookie: &str) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .header("cookie", cookie)
            .form(form)
            .send()
            .await
            .expect("post")
    }

    pub async fn page(&self, path: &str, cookie: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .send()
            .await
            .expect("get");
        (response.status(), response.text().await.expect("body"))
    }

    /// A JSON call to the API itself, for what the pages under test do not do.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
        cookie: &str,
    ) -> Value {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("cookie", cookie);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.expect("api");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Signs up through the page; the session cookie (`session=…`).
    pub async fn sign_up(&self, email: &str) -> String {
        let form = [("email", email), ("password", "correct horse")];
        let response = self.post("/signup", &form, "").await;
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

    /// Lists a ticket through the sell form; its id, read back from the API.
    pub async fn sell(&self, cookie: &str, form: &[(&str, &str)]) -> String {
        let response = self.post("/sell", form, cookie).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{form:?}");
        assert_eq!(response.headers()["location"], "/my/listings?done=listed");
        let me = self.api(
            reqwest::Method::GET,
            "/api/users/currentuser",
            Value::Null,
            cookie,
        );
        let id = me.await["currentUser"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let mine = format!("/api/tickets?userId={id}&status=all&sort=newest&limit=1");
        let tickets = self
            .api(reqwest::Method::GET, &mine, Value::Null, cookie)
            .await;
        tickets[0]["id"].as_str().expect("ticket id").to_owned()
    }

    /// Puts a ticket in `cookie`'s basket, and waits until the ticket says so.
    pub async fn reserve(&self, ticket: &str, cookie: &str) {
        let body = json!({ "ticketId": ticket });
        self.api(reqwest::Method::POST, "/api/orders", body, cookie)
            .await;
        // Watched through the ticket's page, as the seller would see it.
        for _ in 0..100 {
            let (_, page) = self.page(&format!("/tickets/{ticket}"), cookie).await;
            if page.contains(r#"<span class="badge reserved">"#) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the ticket was never reserved");
    }
}
