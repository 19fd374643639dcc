//! Adding an event (CONTRACT §11): the form, and `POST /api/events`. The API answers an
//! event that is already listed (same name, venue and start) with that event, so the
//! page then says so and shows it instead of a duplicate.

use askama::Template;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;

use crate::Web;
use crate::api::Call;
use crate::chrome::Chrome;
use crate::failure::Failure;
use crate::forms::FormErrors;
use crate::visitor::Visitor;

use super::common::{SignedIn, html, require_user};
use super::tickets::{plausible_id, shown_on_form, unreadable};

pub fn routes() -> Router<Web> {
    Router::new().route("/events/new", get(new_page).post(create))
}

/// The new-event form's fields, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct EventForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    venue: String,
    #[serde(default, rename = "startsAt")]
    starts_at: String,
    #[serde(default)]
    description: String,
}

impl EventForm {
    /// The start as RFC 3339: a `datetime-local` value (`2027-03-01T19:30`) is taken as
    /// UTC, as the form says; anything else is sent as typed for the API to judge.
    fn starts_at_utc(&self) -> String {
        let text = self.starts_at.trim();
        let local = |len: usize| text.len() == len && text.as_bytes().get(10) == Some(&b'T');
        if local(16) {
            format!("{text}:00Z")
        } else if local(19) {
            format!("{text}Z")
        } else {
            text.to_owned()
        }
    }
}

#[derive(Template)]
#[template(path = "event_new.html")]
struct NewEventPage {
    chrome: Chrome,
    form: EventForm,
    errors: FormErrors,
}

async fn new_page(SignedIn(visitor): SignedIn) -> Result<Response, Failure> {
    let page = NewEventPage {
        chrome: Chrome::new("Add an event", &visitor),
        form: EventForm::default(),
        errors: FormErrors::default(),
    };
    html(StatusCode::OK, &page)
}

async fn create(
    State(web): State<Web>,
    visitor: Visitor,
    form: Result<Form<EventForm>, FormRejection>,
) -> Result<Response, Failure> {
    let next = "/events/new";
    require_user(&visitor, next)?;
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => {
            let (status, errors) = unreadable(&rejection);
            return refused(&visitor, status, EventForm::default(), errors);
        }
    };
    let body = json!({
        "name": form.name,
        "venue": form.venue,
        "startsAt": form.starts_at_utc(),
        "description": form.description,
    });
    let call = Call {
        session: visitor.session(),
        body: Some(body),
        ..Call::default()
    };
    let reply = web.api.send(Method::POST, "/api/events", call).await?;
    if reply.is_success() {
        let id = reply.body["id"].as_str().unwrap_or_default();
        if !plausible_id(id) {
            return Err(Failure::Internal("event without an id".to_owned()));
        }
        let done = if reply.status == StatusCode::CREATED {
            "created"
        } else {
            "exists"
        };
        return Ok(Redirect::to(&format!("/events/{id}?done={done}")).into_response());
    }
    if !shown_on_form(reply.status) {
        return Err(Failure::from_reply(&reply, next));
    }
    refused(
        &visitor,
        reply.status,
        form,
        FormErrors::new(reply.problems()),
    )
}

/// The form again after it was refused: what was typed, why, and the refusal's status.
fn refused(
    visitor: &Visitor,
    status: StatusCode,
    form: EventForm,
    errors: FormErrors,
) -> Result<Response, Failure> {
    let page = NewEventPage {
        chrome: Chrome::new("Add an event", visitor).with_error(true),
        errors,
        form,
    };
    html(status, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_date_time_is_taken_as_utc() {
        let form = |text: &str| EventForm {
            starts_at: text.to_owned(),
            ..EventForm::default()
        };
        assert_eq!(
            form("2027-03-01T19:30").starts_at_utc(),
            "2027-03-01T19:30:00Z"
        );
        assert_eq!(
            form("2027-03-01T19:30:05").starts_at_utc(),
            "2027-03-01T19:30:05Z"
        );
        assert_eq!(form("tomorrow").starts_at_utc(), "tomorrow");
    }
}
