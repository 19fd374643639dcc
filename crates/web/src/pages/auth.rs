//! Sign up, sign in, sign out (UI.md §1 page 12). The API sets and clears the `session`
//! cookie; these pages hand its `Set-Cookie` on to the browser with the redirect.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;

use crate::Web;
use crate::api::{Call, Reply};
use crate::chrome::Chrome;
use crate::failure::Failure;
use crate::forms::{FormErrors, local_path};
use crate::visitor::Visitor;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/signin", get(sign_in_page).post(sign_in))
        .route("/signup", get(sign_up_page).post(sign_up))
        .route("/signout", post(sign_out))
}

#[derive(Debug, Default, Deserialize)]
pub struct Next {
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Credentials {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "auth.html")]
struct AuthPage {
    chrome: Chrome,
    /// `signin` or `signup`.
    action: &'static str,
    heading: &'static str,
    button: &'static str,
    password_autocomplete: &'static str,
    email: String,
    next: String,
    errors: FormErrors,
}

impl AuthPage {
    fn new(action: &'static str, visitor: &Visitor, email: String, next: String) -> Self {
        let (heading, button, password_autocomplete) = match action {
            "signup" => ("Sign up", "Sign up", "new-password"),
            _ => ("Sign in", "Sign in", "current-password"),
        };
        Self {
            chrome: Chrome::new(heading, visitor),
            action,
            heading,
            button,
            password_autocomplete,
            email,
            next,
            errors: FormErrors::default(),
        }
    }
}

fn html(status: StatusCode, page: &impl Template) -> Result<Response, Failure> {
    let body = page
        .render()
        .map_err(|err| Failure::Internal(err.to_string()))?;
    Ok((status, Html(body)).into_response())
}

async fn sign_in_page(visitor: Visitor, Query(query): Query<Next>) -> Result<Response, Failure> {
    let next = local_path(query.next.as_deref());
    html(
        StatusCode::OK,
        &AuthPage::new("signin", &visitor, String::new(), next),
    )
}

async fn sign_up_page(visitor: Visitor, Query(query): Query<Next>) -> Result<Response, Failure> {
    let next = local_path(query.next.as_deref());
    html(
        StatusCode::OK,
        &AuthPage::new("signup", &visitor, String::new(), next),
    )
}

async fn sign_in(
    State(web): State<Web>,
    visitor: Visitor,
    Form(form): Form<Credentials>,
) -> Result<Response, Failure> {
    submit(web, visitor, form, "signin").await
}

async fn sign_up(
    State(web): State<Web>,
    visitor: Visitor,
    Form(form): Form<Credentials>,
) -> Result<Response, Failure> {
    submit(web, visitor, form, "signup").await
}

/// Sends the credentials to the API; on success hands its cookie on and goes to `next`,
/// otherwise shows the form again with the API's messages (the email kept, never the
/// password) and status 400, or the 429 page.
async fn submit(
    web: Web,
    visitor: Visitor,
    form: Credentials,
    action: &'static str,
) -> Result<Response, Failure> {
    let next = local_path(form.next.as_deref());
    let call = Call {
        body: Some(json!({ "email": form.email.trim(), "password": form.password })),
        ..Call::default()
    };
    let reply = web
        .api
        .send(Method::POST, &format!("/api/users/{action}"), call)
        .await?;
    if reply.is_success() {
        return Ok(with_cookies(&reply, Redirect::to(&next).into_response()));
    }
    if reply.status == StatusCode::TOO_MANY_REQUESTS {
        return Err(Failure::from_reply(&reply, &next));
    }
    if reply.status != StatusCode::BAD_REQUEST {
        return Err(Failure::from_reply(&reply, &next));
    }
    let mut page = AuthPage::new(action, &visitor, form.email.trim().to_owned(), next);
    page.errors = FormErrors::new(reply.problems());
    page.chrome = page.chrome.with_error(true);
    html(StatusCode::BAD_REQUEST, &page)
}

async fn sign_out(State(web): State<Web>, visitor: Visitor) -> Result<Response, Failure> {
    let call = Call {
        session: visitor.session(),
        body: Some(json!({})),
        ..Call::default()
    };
    let reply = web
        .api
        .send(Method::POST, "/api/users/signout", call)
        .await?;
    Ok(with_cookies(&reply, Redirect::to("/").into_response()))
}

/// `response` carrying every cookie the API set or cleared.
fn with_cookies(reply: &Reply, mut response: Response) -> Response {
    for cookie in reply.set_cookies() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}
