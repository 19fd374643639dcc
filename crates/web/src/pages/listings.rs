//! The seller's pages (UI.md §1 pages 3–5): sell a ticket, edit one, and my listings.
//!
//! Sell and edit are one form. The API validates; a refusal re-shows the form with what
//! was typed, the error summary and each message beside its field (status 400). A ticket
//! someone holds or bought cannot be edited, so its form is shown disabled with the
//! contract's reason. Success is a redirect with a `?done=` code that My listings (or the
//! ticket page) turns into a fixed sentence.

use askama::Template;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Web;
use crate::api::Call;
use crate::chrome::Chrome;
use crate::failure::{Failure, encode};
use crate::forms::FormErrors;
use crate::visitor::Visitor;

use super::browse::{Pager, page_number, total_count};
use super::common::{PageQuery, SignedIn, done_notice, html, require_user};
use super::events::{EventSummary, fetch_event, upcoming_events};
use super::tickets::{PageId, TicketView, own_ticket, shown_on_form, unreadable};

/// Listings per page of My listings.
const PAGE_SIZE: u64 = 50;

/// The contract's reason a held or sold ticket cannot be edited.
const CANNOT_EDIT: &str = "Cannot edit a reserved ticket";

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/sell", get(sell_page).post(sell))
        .route("/tickets/{id}/edit", get(edit_page).post(edit))
        .route("/my/listings", get(my_listings))
}

/// The sell / edit form's fields, as typed. Field names are the API's, so its `field`
/// of each error names the input it belongs to.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct TicketForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    description: String,
    #[serde(default, rename = "eventId")]
    event_id: String,
    #[serde(default, rename = "serialNumber")]
    serial_number: String,
}

impl TicketForm {
    fn of(ticket: &TicketView) -> Self {
        Self {
            title: ticket.title.clone(),
            price: ticket.price_input.clone(),
            description: ticket.description.clone(),
            event_id: ticket.event_id.clone().unwrap_or_default(),
            serial_number: ticket.serial_number.clone().unwrap_or_default(),
        }
    }

    /// The API body: an empty event or serial number means "none" (`null`).
    fn body(&self) -> Value {
        let optional = |text: &str| {
            let text = text.trim();
            if text.is_empty() {
                Value::Null
            } else {
                json!(text)
            }
        };
        json!({
            "title": self.title,
            "price": self.price.trim(),
            "description": self.description,
            "eventId": optional(&self.event_id),
            "serialNumber": optional(&self.serial_number),
        })
    }
}

#[derive(Template)]
#[template(path = "sell.html")]
struct SellPage {
    chrome: Chrome,
    heading: &'static str,
    /// Where the form posts: `/sell` or `/tickets/{id}/edit`.
    action: String,
    form: TicketForm,
    events: Vec<EventSummary>,
    errors: FormErrors,
    /// Why the form cannot be sent (a held or sold ticket), shown above it disabled.
    locked: Option<&'static str>,
    currency: String,
    /// Where "Cancel" goes.
    back: String,
}

impl SellPage {
    async fn new(web: &Web, visitor: &Visitor, editing: Option<&TicketView>) -> Self {
        let mut events = upcoming_events(web).await;
        // A ticket's own event stays choosable even if it is not among the upcoming ones.
        if let Some(event_id) = editing.and_then(|ticket| ticket.event_id.as_deref())
            && !events.iter().any(|event| event.id == event_id)
            && let Ok(event) = fetch_event(web, event_id).await
        {
            events.insert(0, event);
        }
        let (heading, action, form, back) = match editing {
            Some(ticket) => (
                "Edit listing",
                format!("/tickets/{}/edit", ticket.id),
                TicketForm::of(ticket),
                format!("/tickets/{}", ticket.id),
            ),
            None => (
                "Sell a ticket",
                "/sell".to_owned(),
                TicketForm::default(),
                "/my/listings".to_owned(),
            ),
        };
        Self {
            chrome: Chrome::new(heading, visitor),
            heading,
            action,
            form,
            events,
            errors: FormErrors::default(),
            locked: editing
                .filter(|ticket| !ticket.is_available())
                .map(|_| CANNOT_EDIT),
            currency: web.config.currency.to_ascii_uppercase(),
            back,
        }
    }

    fn event_selected(&self, id: &str) -> bool {
        self.form.event_id.trim() == id
    }

    /// The form again after it was refused: what was typed, why, and the refusal's status
    /// (400 for a validation failure).
    fn refused(
        mut self,
        status: StatusCode,
        form: TicketForm,
        errors: FormErrors,
    ) -> Result<Response, Failure> {
        self.form = form;
        self.errors = errors;
        self.chrome = self.chrome.with_error(true);
        html(status, &self)
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SellQuery {
    #[serde(default, rename = "eventId")]
    event_id: String,
}

async fn sell_page(
    State(web): State<Web>,
    PageQuery(query): PageQuery<SellQuery>,
    SignedIn(visitor): SignedIn,
) -> Result<Response, Failure> {
    let mut page = SellPage::new(&web, &visitor, None).await;
    // Coming from an event's page: that event chosen (only if it is one of the choices).
    if page.events.iter().any(|event| event.id == query.event_id) {
        page.form.event_id = query.event_id;
    }
    html(StatusCode::OK, &page)
}

async fn sell(
    State(web): State<Web>,
    visitor: Visitor,
    form: Result<Form<TicketForm>, FormRejection>,
) -> Result<Response, Failure> {
    require_user(&visitor, "/sell")?;
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => {
            let (status, errors) = unreadable(&rejection);
            let page = SellPage::new(&web, &visitor, None).await;
            return page.refused(status, TicketForm::default(), errors);
        }
    };
    let call = Call {
        session: visitor.session(),
        body: Some(form.body()),
        ..Call::default()
    };
    let reply = web.api.send(Method::POST, "/api/tickets", call).await?;
    if reply.is_success() {
        return Ok(Redirect::to("/my/listings?done=listed").into_response());
    }
    if !shown_on_form(reply.status) {
        return Err(Failure::from_reply(&reply, "/sell"));
    }
    let errors = FormErrors::new(reply.problems());
    SellPage::new(&web, &visitor, None)
        .await
        .refused(reply.status, form, errors)
}

async fn edit_page(
    State(web): State<Web>,
    visitor: Visitor,
    PageId(id): PageId,
) -> Result<Response, Failure> {
    let ticket = own_ticket(&web, &visitor, &id, &format!("/tickets/{id}/edit")).await?;
    html(
        StatusCode::OK,
        &SellPage::new(&web, &visitor, Some(&ticket)).await,
    )
}

async fn edit(
    State(web): State<Web>,
    visitor: Visitor,
    PageId(id): PageId,
    form: Result<Form<TicketForm>, FormRejection>,
) -> Result<Response, Failure> {
    let next = format!("/tickets/{id}/edit");
    let ticket = own_ticket(&web, &visitor, &id, &next).await?;
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => {
            let (status, errors) = unreadable(&rejection);
            let page = SellPage::new(&web, &visitor, Some(&ticket)).await;
            let form = page.form.clone();
            return page.refused(status, form, errors);
        }
    };
    let call = Call {
        session: visitor.session(),
        body: Some(form.body()),
        ..Call::default()
    };
    let reply = web
        .api
        .send(Method::PUT, &format!("/api/tickets/{}", ticket.id), call)
        .await?;
    if reply.is_success() {
        return Ok(Redirect::to(&format!("/tickets/{}?done=saved", ticket.id)).into_response());
    }
    match reply.status {
        status if shown_on_form(status) => {}
        // Signed in but not (or no longer) the seller: nothing to show them.
        StatusCode::UNAUTHORIZED if visitor.signed_in() => return Err(Failure::NotFound),
        _ => return Err(Failure::from_reply(&reply, &next)),
    }
    // The ticket as it is now: if a buyer took it meanwhile, the form is locked.
    let current = own_ticket(&web, &visitor, &id, &next).await?;
    let errors = FormErrors::new(reply.problems());
    SellPage::new(&web, &visitor, Some(&current))
        .await
        .refused(reply.status, form, errors)
}

#[derive(Debug, Default, Deserialize)]
pub struct ListingsQuery {
    done: Option<String>,
    #[serde(default)]
    page: String,
}

#[derive(Template)]
#[template(path = "listing_mine.html")]
struct MyListingsPage {
    chrome: Chrome,
    tickets: Vec<TicketView>,
    pager: Pager,
}

async fn my_listings(
    State(web): State<Web>,
    signed_in: SignedIn,
    PageQuery(query): PageQuery<ListingsQuery>,
) -> Result<Response, Failure> {
    let (visitor, user) = (&signed_in.0, signed_in.user());
    let page = page_number(&query.page);
    let path = format!(
        "/api/tickets?userId={}&status=all&sort=newest&limit={PAGE_SIZE}&page={page}",
        encode(&user.id)
    );
    let reply = web.api.get(&path, visitor.session()).await?;
    if !reply.is_success() {
        return Err(Failure::from_reply(&reply, "/my/listings"));
    }
    let total = total_count(&reply);
    let view = MyListingsPage {
        chrome: Chrome::new("My listings", visitor).with_notice(done_notice(query.done.as_deref())),
        tickets: TicketView::list(&reply.body, &web.config.currency),
        pager: Pager::new("/my/listings", &[], page, total, PAGE_SIZE),
    };
    html(StatusCode::OK, &view)
}
