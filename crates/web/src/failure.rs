//! Pages for what went wrong, inside the normal layout and with the right status: 404 for
//! an unknown page or id, 429 with the wait the API asked for, 503 when the API cannot be
//! reached, 500 for anything else (no detail), and a redirect to sign-in for pages that
//! need a user.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::Web;
use crate::visitor::{current_user, session_cookie};

use crate::api::{Reply, Unreachable};
use crate::chrome::Chrome;

/// Why a page could not be shown.
#[derive(Debug)]
pub enum Failure {
    NotFound,
    /// Too many attempts; try again in this many seconds.
    TooMany {
        retry_after: u64,
    },
    /// The API did not answer.
    ApiDown,
    /// A form came from another site and was not applied.
    CrossSite,
    /// The page needs a signed-in user; come back to `next` after signing in.
    SignIn {
        next: String,
    },
    /// A page asked for with a method it does not take (a GET of a form's address).
    WrongMethod,
    /// Anything else; the cause is logged, never shown.
    Internal(String),
}

impl From<Unreachable> for Failure {
    fn from(err: Unreachable) -> Self {
        tracing::warn!(error = %err, "API unreachable");
        Self::ApiDown
    }
}

impl Failure {
    /// The failure an unexpected API answer stands for: its 401, 404, 429, or else a 500.
    pub fn from_reply(reply: &Reply, next: &str) -> Self {
        match reply.status {
            StatusCode::UNAUTHORIZED => Self::SignIn {
                next: next.to_owned(),
            },
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::TOO_MANY_REQUESTS => Self::TooMany {
                retry_after: reply
                    .header("retry-after")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(60),
            },
            status => Self::Internal(format!("unexpected API answer {status}")),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    heading: &'static str,
    message: String,
    retry: bool,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, heading, message, retry) = match self {
            Self::SignIn { next } => {
                return Redirect::to(&format!("/signin?next={}", encode(&next))).into_response();
            }
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no page here. The ticket or order may have been removed, or the \
                 address mistyped."
                    .to_owned(),
                false,
            ),
            Self::TooMany { retry_after } => {
                let minutes = retry_after.div_ceil(60).max(1);
                let unit = if minutes == 1 { "minute" } else { "minutes" };
                let mut response = render(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts",
                    format!("Too many attempts, try again in {minutes} {unit}."),
                    false,
                );
                if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                return response;
            }
            Self::ApiDown => (
                StatusCode::SERVICE_UNAVAILABLE,
                "BoxOffice is unavailable",
                "We could not reach our services just now. Your tickets and orders are safe; \
                 please try again in a moment."
                    .to_owned(),
                true,
            ),
            Self::CrossSite => (
                StatusCode::FORBIDDEN,
                "Form not accepted",
                "This form was sent from another site, so nothing was changed. If you meant to \
                 do this, go back to BoxOffice and try again there."
                    .to_owned(),
                false,
            ),
            Self::WrongMethod => (
                StatusCode::METHOD_NOT_ALLOWED,
                "Page not available",
                "This address only accepts a form sent from its page. Go back to the page \
                 and use its button."
                    .to_owned(),
                false,
            ),
            Self::Internal(cause) => {
                tracing::error!(%cause, "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Something went wrong on our side. Please try again.".to_owned(),
                    true,
                )
            }
        };
        render(status, heading, message, retry)
    }
}

/// An error page as rendered, kept on the response so that [`with_visitor`] can render it
/// again for the signed-in user.
#[derive(Debug, Clone)]
struct Rendered {
    heading: &'static str,
    message: String,
    retry: bool,
}

fn render(status: StatusCode, heading: &'static str, message: String, retry: bool) -> Response {
    let rendered = Rendered {
        heading,
        message,
        retry,
    };
    let mut response = page(status, &rendered, Chrome::anonymous(heading));
    response.extensions_mut().insert(rendered);
    response
}

fn page(status: StatusCode, rendered: &Rendered, chrome: Chrome) -> Response {
    let page = ErrorPage {
        chrome,
        heading: rendered.heading,
        message: rendered.message.clone(),
        retry: rendered.retry,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, rendered.heading).into_response(),
    }
}

/// Middleware: an error page shown to a signed-in visitor gets the signed-in layout
/// (their "Sign out" included), like every other page. Error pages are built without
/// knowing the visitor — a failure may come before anyone asked — so the question is
/// asked here, only for them.
pub async fn with_visitor(State(web): State<Web>, request: Request, next: Next) -> Response {
    let session = session_cookie(request.headers());
    let response = next.run(request).await;
    let (Some(rendered), Some(session)) = (response.extensions().get::<Rendered>(), session) else {
        return response;
    };
    let Ok(Some(user)) = current_user(&web, &session).await else {
        return response;
    };
    let mut chrome = Chrome::anonymous(rendered.heading);
    chrome.user_email = Some(user.email);
    let mut again = page(response.status(), rendered, chrome);
    for (name, value) in response.headers() {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            again.headers_mut().insert(name, value.clone());
        }
    }
    again
}

/// The fallback: any path no page answers.
pub async fn not_found_page() -> Failure {
    Failure::NotFound
}

/// The fallback for a known path asked with another method.
pub async fn wrong_method_page() -> Failure {
    Failure::WrongMethod
}

/// Percent-encodes a path for a query parameter (`next=`).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}
