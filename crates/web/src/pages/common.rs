//! What the page modules share, so each rule lives in one place: rendering a template,
//! the extractors that turn a bad request into a page in the layout (never axum's plain
//! text), the signed-in check, the fixed sentences of `?done=` codes, and the API's
//! refusal messages that the buying pages recognise.

use askama::Template;
use axum::extract::{Form, FromRef, FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::Web;
use crate::api::Reply;
use crate::chrome::Chrome;
use crate::failure::Failure;
use crate::visitor::{User, Visitor, current_user, session_cookie};

/// The page `page` as an HTML response with `status`.
pub fn html(status: StatusCode, page: &impl Template) -> Result<Response, Failure> {
    let body = page
        .render()
        .map_err(|err| Failure::Internal(err.to_string()))?;
    Ok((status, Html(body)).into_response())
}

#[derive(Template)]
#[template(path = "bad_request.html")]
struct BadRequestPage {
    chrome: Chrome,
}

/// The 400 page for a query string or form body that could not be read (a repeated
/// field, a wrong content type, a value of the wrong kind), inside the layout.
async fn bad_request(web: &Web, session: Option<String>, cause: &str) -> Response {
    tracing::debug!(%cause, "unreadable request");
    let user = match &session {
        Some(session) => current_user(web, session).await.ok().flatten(),
        None => None,
    };
    let visitor = Visitor { session, user };
    let page = BadRequestPage {
        chrome: Chrome::new("Request not understood", &visitor).with_error(true),
    };
    html(StatusCode::BAD_REQUEST, &page).unwrap_or_else(IntoResponse::into_response)
}

/// `Query<T>` whose rejection is the 400 page in the layout.
#[derive(Debug, Clone)]
pub struct PageQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for PageQuery<T>
where
    T: DeserializeOwned,
    Web: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let cause = match Query::<T>::try_from_uri(&parts.uri) {
            Ok(Query(value)) => return Ok(Self(value)),
            Err(rejection) => rejection.body_text(),
        };
        let session = session_cookie(&parts.headers);
        let web = Web::from_ref(state);
        Err(bad_request(&web, session, &cause).await)
    }
}

/// `Form<T>` whose rejection is the 400 page in the layout.
#[derive(Debug, Clone)]
pub struct PageForm<T>(pub T);

impl<T, S> FromRequest<S> for PageForm<T>
where
    T: DeserializeOwned,
    Web: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let session = session_cookie(request.headers());
        let cause = match Form::<T>::from_request(request, state).await {
            Ok(Form(value)) => return Ok(Self(value)),
            Err(rejection) => rejection.body_text(),
        };
        let web = Web::from_ref(state);
        Err(bad_request(&web, session, &cause).await)
    }
}

/// A visitor who is signed in. Anyone else is sent to sign in and back to the page they
/// asked for (its path and query). Pages whose "back" is another address (a form's
/// POST) use [`require_user`] instead.
#[derive(Debug, Clone)]
pub struct SignedIn(pub Visitor);

impl SignedIn {
    pub fn user(&self) -> &User {
        self.0.user.as_ref().expect("a SignedIn visitor has a user")
    }

    pub fn session(&self) -> Option<&str> {
        self.0.session()
    }
}

impl<S> FromRequestParts<S> for SignedIn
where
    Web: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Failure> {
        let visitor = Visitor::from_request_parts(parts, state).await?;
        if visitor.signed_in() {
            return Ok(Self(visitor));
        }
        let next = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
        Err(Failure::SignIn { next })
    }
}

/// The visitor's user, or sign in and come back to `next`.
pub fn require_user<'a>(visitor: &'a Visitor, next: &str) -> Result<&'a User, Failure> {
    visitor.user.as_ref().ok_or_else(|| Failure::SignIn {
        next: next.to_owned(),
    })
}

/// The sentence a `?done=` code of a seller's redirect stands for (never the query's
/// own text).
pub fn done_notice(code: Option<&str>) -> Option<String> {
    let sentence = match code? {
        "listed" => "Ticket listed",
        "deleted" => "Listing deleted",
        "saved" => "Changes saved",
        _ => return None,
    };
    Some(sentence.to_owned())
}

// The API's refusal messages of `POST /api/orders` (CONTRACT §5) that the ticket and
// event pages answer with a page of their own. They are matched here and nowhere else: the
// API has no machine-readable code for them, so if its wording changes, this is the one
// place to follow it (any other refusal still shows the API's words on an error page).
const RESERVED: &str = "Ticket is already reserved";
const NEXT_IN_LINE: &str = "Ticket is reserved for the next buyer in line";
const OWN: &str = "Cannot buy your own ticket";

/// A purchase refusal the pages know, as a fixed code for a `?error=` query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Reserved,
    NextInLine,
    Own,
}

impl Refusal {
    const ALL: [Self; 3] = [Self::Reserved, Self::NextInLine, Self::Own];

    /// The refusal an API answer stands for, if it is one the pages know.
    pub fn of(reply: &Reply) -> Option<Self> {
        if reply.status != StatusCode::BAD_REQUEST {
            return None;
        }
        let message = reply.problems().into_iter().next()?.message;
        Self::ALL
            .into_iter()
            .find(|refusal| refusal.message() == message)
    }

    /// The `?error=` code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::NextInLine => "next_in_line",
            Self::Own => "own",
        }
    }

    /// The code of a `?error=` query, if it is one.
    pub fn parse(code: Option<&str>) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|refusal| Some(refusal.code()) == code)
    }

    /// The words shown for it: the API's own.
    pub fn message(self) -> &'static str {
        match self {
            Self::Reserved => RESERVED,
            Self::NextInLine => NEXT_IN_LINE,
            Self::Own => OWN,
        }
    }
}

// The API's refusals of `DELETE /api/orders/{id}` (CONTRACT §5), matched only here for
// the same reason as above: the order's page then says why it was not cancelled.
const CANNOT_CANCEL_COMPLETED: &str = "Cannot cancel a completed order";
const ALREADY_CANCELLED: &str = "Order is already cancelled";

/// The `?error=` code of a refused cancel: `completed`, `cancelled`, or `refused` for a
/// refusal the pages do not know.
pub fn cancel_refusal_code(reply: &Reply) -> &'static str {
    let message = reply
        .problems()
        .into_iter()
        .next()
        .map(|problem| problem.message);
    match message.as_deref() {
        Some(CANNOT_CANCEL_COMPLETED) => "completed",
        Some(ALREADY_CANCELLED) => "cancelled",
        _ => "refused",
    }
}

/// The words a refused cancel's `?error=` code stands for: the API's reason.
pub fn cancel_refusal(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "completed" => Some(CANNOT_CANCEL_COMPLETED),
        "cancelled" => Some(ALREADY_CANCELLED),
        "refused" => Some("The order could not be cancelled"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_codes_round_trip() {
        for refusal in Refusal::ALL {
            assert_eq!(Refusal::parse(Some(refusal.code())), Some(refusal));
        }
        assert_eq!(Refusal::parse(Some("anything")), None);
        assert_eq!(done_notice(Some("saved")).as_deref(), Some("Changes saved"));
        assert_eq!(done_notice(Some("<b>")), None);
    }
}
