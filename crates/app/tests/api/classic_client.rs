//! The classic design's Next.js client, replayed request by request (CONTRACT.md §1, §6).
//!
//! That client is a server-rendered React app, and BoxOffice must accept it unchanged:
//!
//! * every page first asks `GET /api/users/currentuser`, then fetches its own data; on a
//!   full page load the client's Node server makes those calls with the browser's request
//!   headers forwarded (`Host`, `Cookie`, `Accept: text/html…`), on a navigation inside the
//!   app the browser makes them with axios;
//! * forms and buttons post JSON with axios — the sell form sends `price` as the text of its
//!   input, `"20.00"` once the field lost focus — and the browser adds `Origin`;
//! * one variant pays with axios (`{orderId, token}`), the other with `fetch`
//!   (`{token, orderId}`), both with a `tok_…` the browser got from Stripe;
//! * it reads a handful of fields, and never retries: one failed call is an error page.
//!
//! [`journey`] sends exactly those requests, in that order, once each — no
//! `send_until_known`, no `eventually` — and asserts exactly what the client reads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::header::{HOST, SET_COOKIE};
use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::{Reply, TestApp, spawn_app, unique_email};

const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                          Chrome/126.0.0.0 Safari/537.36";
/// What a person types in the sign-up form (the classic design allowed 4–20 characters).
const PASSWORD: &str = "correct horse";

/// Where the browser's requests go: the site's host name and, per `/api/<area>` prefix,
/// the servers behind it — an ingress that keeps `Host` (as nginx does) and takes the
/// replicas in turn.
pub struct Site {
    host: String,
    routes: Vec<(&'static str, Vec<String>)>,
    turn: AtomicUsize,
    client: reqwest::Client,
}

impl Site {
    /// One BoxOffice serving every route (the embedded mode), reached at its own address.
    pub fn single(app: &TestApp) -> Self {
        let host = app.address.trim_start_matches("http://").to_owned();
        Self::ingress(&host, vec![("/api/", vec![app])])
    }

    /// An ingress for `host` in front of the services: `routes` maps path prefixes to
    /// replicas.
    pub fn ingress(host: &str, routes: Vec<(&'static str, Vec<&TestApp>)>) -> Self {
        Self {
            host: host.to_owned(),
            routes: routes
                .into_iter()
                .map(|(prefix, apps)| (prefix, apps.iter().map(|a| a.address.clone()).collect()))
                .collect(),
            turn: AtomicUsize::new(0),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }

    fn url(&self, path: &str) -> String {
        let (_, servers) = self
            .routes
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix))
            .unwrap_or_else(|| panic!("no route for {path}"));
        let server = &servers[self.turn.fetch_add(1, Ordering::Relaxed) % servers.len()];
        format!("{server}{path}")
    }
}

/// How a page's data is fetched.
#[derive(Clone, Copy)]
enum Load {
    /// Typed in the address bar or reloaded: the Node server calls the API, forwarding the
    /// browser's navigation headers.
    Full,
    /// A link or `Router.push` inside the app: the browser calls the API with axios.
    InApp,
}

/// How the client's order page sends the card token.
#[derive(Clone, Copy, Debug)]
pub enum Checkout {
    /// `react-stripe-checkout`, then axios posts `{orderId, token}`; any 2xx goes on.
    Axios,
    /// Stripe Elements, then `fetch` posts `{token, orderId}`; `ok` goes on, otherwise the
    /// page shows `errors[0].message`.
    Fetch,
}

/// One person's browser: its session cookie and the page it shows (for `Referer`).
struct Browser<'s> {
    site: &'s Site,
    cookie: Option<String>,
    page: String,
}

impl<'s> Browser<'s> {
    fn new(site: &'s Site) -> Self {
        Self {
            site,
            cookie: None,
            page: "/".to_owned(),
        }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.site.host)
    }

    /// A request to the site with what every browser request carries.
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self
            .site
            .client
            .request(method, self.site.url(path))
            .header(HOST, &self.site.host)
            .header("user-agent", USER_AGENT)
            .header("accept-language", "en-US,en;q=0.9");
        match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }

    /// What axios in the browser sends (a same-origin XHR; `Origin` on writes only).
    fn axios(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self
            .request(method.clone(), path)
            .header("accept", "application/json, text/plain, */*")
            .header("referer", format!("{}{}", self.origin(), self.page))
            .header("sec-fetch-site", "same-origin")
            .header("sec-fetch-mode", "cors")
            .header("sec-fetch-dest", "empty");
        if method == Method::GET {
            request
        } else {
            request.header("origin", self.origin())
        }
    }

    /// Sends once and keeps the session cookie as a browser would: a `Secure` cookie is
    /// dropped on plain HTTP, `Max-Age=0` deletes it.
    async fn send(&mut self, request: RequestBuilder) -> Reply {
        let response = request.send().await.expect("request sent");
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
        for set in headers.get_all(SET_COOKIE).iter() {
            let set = set.to_str().expect("ascii cookie");
            let Some(pair) = set.split(';').next().filter(|p| p.starts_with("session=")) else {
                continue;
            };
            let attributes = set.to_ascii_lowercase();
            if attributes.contains("; secure") {
                continue;
            }
            let cleared = attributes.contains("max-age=0") || pair == "session=";
            self.cookie = (!cleared).then(|| pair.to_owned());
        }
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Shows `page`: `currentUser` from `_app`, then the page's own data from `data`, if
    /// any (`null` otherwise).
    async fn visit(&mut self, load: Load, page: &str, data: Option<&str>) -> (Value, Value) {
        self.page = page.to_owned();
        let me = self.load(load, "/api/users/currentuser").await;
        let data = match data {
            Some(path) => self.load(load, path).await,
            None => Value::Null,
        };
        (me["currentUser"].clone(), data)
    }

    /// One of a page's calls. The client cannot render it failing: it must be 200.
    async fn load(&mut self, load: Load, path: &str) -> Value {
        let request = match load {
            Load::InApp => self.axios(Method::GET, path),
            // Chrome's navigation headers, forwarded as they arrived (no Origin; no
            // Accept-Encoding: BoxOffice compresses nothing and reqwest here decodes nothing).
            Load::Full => self
                .request(Method::GET, path)
                .header(
                    "accept",
                    "text/html,application/xhtml+xml,application/xml;q=0.9,\
                     image/avif,image/webp,*/*;q=0.8",
                )
                .header("upgrade-insecure-requests", "1")
                .header("sec-fetch-site", "none")
                .header("sec-fetch-mode", "navigate")
                .header("sec-fetch-user", "?1")
                .header("sec-fetch-dest", "document"),
        };
        let reply = self.send(request).await;
        assert_eq!(
            reply.status, 200,
            "GET {path} on {}: {}",
            self.page, reply.body
        );
        reply.body
    }

    /// A form or button: axios posts the body as `JSON.stringify` wrote it.
    async fn post(&mut self, path: &str, body: String) -> Reply {
        let request = self
            .axios(Method::POST, path)
            .header("content-type", "application/json")
            .body(body);
        self.send(request).await
    }

    /// The sign-up form, then `Router.push("/")`; returns the landing page's tickets.
    async fn sign_up(&mut self, email: &str) -> Value {
        let signed_up = self
            .post(
                "/api/users/signup",
                format!(r#"{{"email":"{email}","password":"{PASSWORD}"}}"#),
            )
            .await;
        assert_eq!(signed_up.status, 201, "{}", signed_up.body);
        let (me, tickets) = self.visit(Load::InApp, "/", Some("/api/tickets")).await;
        assert_eq!(me["email"], email, "the header shows the signed-in links");
        tickets
    }
}

/// The row of the landing page's table for `id`, if listed.
fn row<'v>(tickets: &'v Value, id: &str) -> Option<&'v Value> {
    let tickets = tickets.as_array().expect("the landing page maps an array");
    tickets.iter().find(|t| t["id"] == id)
}

/// A seller signs up and sells a ticket from the form; a buyer signs up, finds it, orders
/// it, pays at once with `tok_visa`, sees the order complete and signs out.
pub async fn journey(site: &Site, checkout: Checkout) {
    let mut seller = Browser::new(site);
    let (me, _) = seller.visit(Load::Full, "/auth/signup", None).await;
    assert_eq!(me, Value::Null);
    let seller_email = unique_email();
    seller.sign_up(&seller_email).await;
    seller.visit(Load::InApp, "/tickets/new", None).await;
    // Typed "20", then the field lost focus: `parseFloat("20").toFixed(2)`.
    let title = format!(
        "Classic night {checkout:?} {}",
        uuid::Uuid::new_v4().simple()
    );
    let sold = seller
        .post(
            "/api/tickets",
            format!(r#"{{"title":"{title}","price":"20.00"}}"#),
        )
        .await;
    assert_eq!(sold.status, 201, "{}", sold.body);
    let (_, tickets) = seller.visit(Load::InApp, "/", Some("/api/tickets")).await;
    let ticket_id = sold.body["id"].as_str().expect("id").to_owned();
    let listed = row(&tickets, &ticket_id).expect("the new ticket is listed");
    assert_eq!(
        (&listed["title"], &listed["price"]),
        (&title.as_str().into(), &20.0.into())
    );
    assert_eq!(listed["orderId"], Value::Null, "shown as available");

    let mut buyer = Browser::new(site);
    let (me, tickets) = buyer.visit(Load::Full, "/", Some("/api/tickets")).await;
    assert_eq!(me, Value::Null);
    assert!(row(&tickets, &ticket_id).is_some(), "listed for visitors");
    buyer.visit(Load::InApp, "/auth/signup", None).await;
    let email = unique_email();
    buyer.sign_up(&email).await;

    let page = format!("/tickets/{ticket_id}");
    let (_, ticket) = buyer
        .visit(
            Load::InApp,
            &page,
            Some(&format!("/api/tickets/{ticket_id}")),
        )
        .await;
    assert_eq!(
        (&ticket["id"], &ticket["title"], &ticket["price"]),
        (
            &ticket_id.as_str().into(),
            &title.as_str().into(),
            &20.0.into()
        )
    );
    let ordered = buyer
        .post("/api/orders", format!(r#"{{"ticketId":"{ticket_id}"}}"#))
        .await;
    assert_eq!(ordered.status, 201, "{}", ordered.body);
    let order_id = ordered.body["id"].as_str().expect("id").to_owned();

    let page = format!("/orders/{order_id}");
    let (me, order) = buyer
        .visit(Load::InApp, &page, Some(&format!("/api/orders/{order_id}")))
        .await;
    assert_eq!(me["email"], email.as_str(), "Stripe Checkout's email");
    assert_eq!(order["id"], order_id.as_str());
    let expires = order["expiresAt"].as_str().expect("expiresAt");
    let expires = OffsetDateTime::parse(expires, &Rfc3339).expect("RFC 3339");
    assert!(expires > OffsetDateTime::now_utc(), "time left to pay");
    assert_eq!(
        order["ticket"]["price"].as_f64().map(|p| p * 100.0),
        Some(2000.0)
    );

    let paid = match checkout {
        Checkout::Axios => {
            let body = format!(r#"{{"orderId":"{order_id}","token":"tok_visa"}}"#);
            buyer.post("/api/payments", body).await
        }
        Checkout::Fetch => {
            let request = buyer
                .request(Method::POST, "/api/payments")
                .header("accept", "*/*")
                .header("content-type", "application/json")
                .header("origin", buyer.origin())
                .header("referer", format!("{}{page}", buyer.origin()))
                .body(format!(r#"{{"token":"tok_visa","orderId":"{order_id}"}}"#));
            buyer.send(request).await
        }
    };
    assert_eq!(
        (paid.status, &paid.body["status"]),
        (201, &"succeeded".into()),
        "{}",
        paid.body
    );

    let (_, orders) = buyer
        .visit(Load::InApp, "/orders", Some("/api/orders"))
        .await;
    let orders = orders.as_array().expect("the orders page maps an array");
    let mine = orders.iter().find(|o| o["id"] == order_id.as_str());
    let mine = mine.expect("the order is listed");
    assert_eq!(
        (&mine["ticket"]["title"], &mine["status"]),
        (&title.as_str().into(), &"complete".into())
    );

    buyer.visit(Load::InApp, "/auth/signout", None).await;
    let out = buyer.post("/api/users/signout", "{}".to_owned()).await;
    assert_eq!((out.status, &out.body), (200, &serde_json::json!({})));
    assert_eq!(buyer.cookie, None, "the session cookie is gone");
    let (me, _) = buyer.visit(Load::InApp, "/", Some("/api/tickets")).await;
    assert_eq!(me, Value::Null);

    // The seller comes back later: a full load, the session cookie forwarded by the server.
    let (me, _) = seller.visit(Load::Full, "/", Some("/api/tickets")).await;
    assert_eq!(me["email"], seller_email.as_str(), "still signed in");
}

#[tokio::test]
async fn the_classic_clients_journey_works_unchanged_in_the_embedded_mode() {
    let app = spawn_app().await;
    let site = Site::single(&app);
    journey(&site, Checkout::Axios).await;
    journey(&site, Checkout::Fetch).await;
    app.assert_settled().await;
}
