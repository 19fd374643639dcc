//! Browser-facing headers, forwarded headers, sign-in timing and secrets kept out of logs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, User, spawn_app, spawn_app_with, unique_email};

fn header<'a>(reply: &'a crate::helpers::Reply, name: &str) -> Option<&'a str> {
    reply.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn every_response_carries_the_browser_security_headers() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/")).send().await.expect("page");
    let page_type = page.headers()["content-type"]
        .to_str()
        .expect("text")
        .to_owned();
    assert_eq!(page_type, "text/html; charset=utf-8");
    for response in [
        app.get("/api/tickets").await,
        app.get("/api/unknown").await,
        app.get("/healthz").await,
        app.post_json("/api/users/signin", &json!({})).await,
    ] {
        let content_type = header(&response, "content-type").unwrap_or_default();
        assert_eq!(content_type, "application/json; charset=utf-8");
        assert_eq!(header(&response, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(&response, "x-frame-options"), Some("DENY"));
        let csp = header(&response, "content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains("default-src 'self'"), "{csp}");
    }
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    let metrics_type = metrics.headers()["content-type"].to_str().expect("text");
    assert!(metrics_type.ends_with("charset=utf-8"), "{metrics_type}");
    app.assert_settled().await;
}

#[tokio::test]
async fn hsts_is_sent_only_when_a_trusted_proxy_says_https() {
    let https = |app: &TestApp| {
        app.client
            .get(app.url("/api/tickets"))
            .header("x-forwarded-proto", "https")
    };
    let untrusted = spawn_app().await;
    let reply = untrusted.send(https(&untrusted)).await;
    assert_eq!(
        header(&reply, "strict-transport-security"),
        None,
        "anyone can write X-Forwarded-Proto"
    );

    let behind_proxy = spawn_app_with(|settings| {
        settings.trusted_proxies = "127.0.0.1/32, ::1".parse().expect("networks");
    })
    .await;
    let reply = behind_proxy.send(https(&behind_proxy)).await;
    assert_eq!(
        header(&reply, "strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
    let plain = behind_proxy.get("/api/tickets").await;
    assert_eq!(header(&plain, "strict-transport-security"), None);
    untrusted.assert_settled().await;
    behind_proxy.assert_settled().await;
}

/// The content security policy allows no inline script: the templates must have none.
#[test]
fn the_templates_have_no_inline_script() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/templates");
    let mut files = vec![dir];
    let mut checked = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("templates") {
                files.push(entry.expect("entry").path());
            }
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("template");
        checked += 1;
        let lower = text.to_lowercase();
        for (at, _) in lower.match_indices("<script") {
            let tag = &lower[at..lower[at..].find('>').map_or(lower.len(), |end| at + end)];
            assert!(tag.contains(" src="), "{}: inline <script>", path.display());
        }
        assert!(!lower.contains("javascript:"), "{}", path.display());
        let handler = regex_free_event_handler(&lower);
        assert!(handler.is_none(), "{}: {handler:?}", path.display());
    }
    assert!(checked > 10, "the templates were found");
}

/// An `on…=` attribute (inline event handler), if the text has one.
fn regex_free_event_handler(text: &str) -> Option<String> {
    text.match_indices(" on").find_map(|(at, _)| {
        let name: String = text[at + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        let after = text[at + 1 + name.len()..].trim_start();
        (name.len() > 2 && after.starts_with('=')).then_some(name)
    })
}

#[tokio::test]
async fn an_unknown_email_takes_as_long_to_refuse_as_a_wrong_password() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_eq!(app.sign_up(&email, "correct horse").await.status, 201);
    let timed = |email: String| {
        let app = &app;
        async move {
            let mut fastest = Duration::MAX;
            for _ in 0..3 {
                let started = Instant::now();
                let reply = app.sign_in(&email, "wrong horse").await;
                assert_eq!(reply.status, 400);
                fastest = fastest.min(started.elapsed());
            }
            fastest
        }
    };
    let wrong_password = timed(email).await;
    let unknown_email = timed(unique_email()).await;
    // Both verify one Argon2id hash; without the decoy the unknown email would answer in
    // a fraction of the time.
    let ratio = unknown_email.as_secs_f64() / wrong_password.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "unknown email {unknown_email:?} vs wrong password {wrong_password:?}"
    );
    app.assert_settled().await;
}

/// The `boxoffice` binary in the embedded mode, its log lines (debug level) collected.
struct LoggingServer {
    child: Child,
    logs: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl LoggingServer {
    fn start() -> (Self, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_boxoffice"))
            .env("DATA_DIR", dir.path())
            .env("PORT", "0")
            .env("RUST_LOG", "debug")
            .env("LOG_FORMAT", "text")
            .env("NO_COLOR", "1")
            .env_remove("JWT_KEY")
            .env_remove("STRIPE_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("boxoffice starts");
        let logs = Arc::new(Mutex::new(String::new()));
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        let stdout = child.stdout.take().expect("stdout");
        let sink = Arc::clone(&logs);
        let reader = std::thread::spawn(move || {
            let mut address_tx = Some(address_tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("listening on http://") {
                    let address = line[at + "listening on ".len()..]
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    if let Some(tx) = address_tx.take() {
                        let _ = tx.send(address);
                    }
                }
                let mut logs = sink.lock().expect("logs");
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        let out_sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut logs = out_sink.lock().expect("logs");
                logs.push_str(&line);
                logs.push('\n');
            }
        });
        let address = address_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server says where it listens");
        let address = strip_ansi(&address);
        (
            Self {
                child,
                logs,
                reader: Some(reader),
                _dir: dir,
            },
            address,
        )
    }

    /// Stops the server and returns everything it logged.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.logs.lock().expect("logs").clone()
    }
}

impl Drop for LoggingServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test]
async fn no_password_token_or_card_token_reaches_a_log_line() {
    let (server, address) = LoggingServer::start();
    let app = TestApp::at(&address);
    const PASSWORD: &str = "Sw0rdfish-in-the-logs?";
    let seller_email = unique_email();
    let seller_reply = app.sign_up(&seller_email, PASSWORD).await;
    assert_eq!(seller_reply.status, 201, "{}", seller_reply.body);
    let buyer_email = unique_email();
    let buyer_reply = app.sign_up(&buyer_email, PASSWORD).await;
    let signed_in = app.sign_in(&buyer_email, PASSWORD).await;
    assert_eq!(signed_in.status, 200);
    assert_eq!(
        app.sign_in(&buyer_email, "not the password").await.status,
        400
    );
    assert_eq!(app.sign_in(&unique_email(), PASSWORD).await.status, 400);
    let seller = User {
        id: seller_reply.body["id"].as_str().expect("id").to_owned(),
        cookie: seller_reply.cookie(),
    };
    let buyer = User {
        id: buyer_reply.body["id"].as_str().expect("id").to_owned(),
        cookie: signed_in.cookie(),
    };
    let mut secrets = vec![
        PASSWORD.to_owned(),
        seller_reply.token(),
        buyer_reply.token(),
        signed_in.token(),
        "tok_".to_owned(),
    ];

    let mut client_secrets = Vec::new();
    for (title, card) in [
        ("Paid", "tok_visa"),
        ("Challenged", "tok_threeDSecure2Required"),
    ] {
        let ticket = app.listed_ticket(&seller, title, 12.5).await;
        let order = app.order(&buyer, ticket["id"].as_str().expect("id")).await;
        assert_eq!(order.status, 201, "{}", order.body);
        let paid = app
            .pay(&buyer, order.body["id"].as_str().expect("id"), card)
            .await;
        assert_eq!(paid.status, 201, "{}", paid.body);
        let body = paid.body.as_object().expect("object");
        assert!(
            body.contains_key("clientSecret"),
            "always the key: {}",
            paid.body
        );
        if let Some(secret) = paid.body["clientSecret"].as_str() {
            client_secrets.push(secret.to_owned());
        } else {
            assert_eq!(card, "tok_visa", "{}", paid.body);
        }
    }
    assert_eq!(
        client_secrets.len(),
        1,
        "the 3-D Secure payment needs the browser"
    );
    secrets.extend(client_secrets);
    let signed_out = app
        .send(app.as_user(&buyer, Method::POST, "/api/users/signout"))
        .await;
    assert_eq!(signed_out.status, 200);
    // Authorised and refused requests alike, with the token in both places.
    let _ = app
        .send(
            app.client
                .get(app.url("/api/orders"))
                .bearer_auth(buyer_reply.token())
                .header("cookie", format!("session={}", signed_in.token())),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let logs = server.stop();
    assert!(
        logs.contains("user signed up") && logs.contains("request"),
        "the logs were captured at debug level:\n{logs}"
    );
    for secret in &secrets {
        let leaks: Vec<&str> = logs
            .lines()
            .filter(|line| line.contains(secret.as_str()))
            .collect();
        assert!(
            leaks.is_empty(),
            "{secret:?} appears in the logs: {leaks:#?}"
        );
    }
    // Half a token (its signature) is still a secret.
    for token in [buyer_reply.token(), signed_in.token()] {
        let signature = token.rsplit('.').next().expect("signature");
        assert!(
            !logs.contains(signature),
            "a token's signature appears in the logs"
        );
    }
}
