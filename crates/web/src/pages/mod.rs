//! The pages, one file per group (UI.md §1). Each file's `routes()` is merged here.
//!
//! * `auth` — sign up, sign in, sign out.
//! * `help` — the help page the footer links to.
//! * `browse` — the ticket list with search, filters, sort and paging (`/`).
//! * `tickets` — a ticket's page with the action its state allows; delete a listing.
//! * `listings` — sell, edit, my listings.
//! * `events` — the events catalogue, an event's tickets (several bought at once);
//!   `event_new` — add an event.
//! * `orders` — order history, and the routes of the buying pages beside it: `buy`
//!   (Buy, Buy now, the basket), `checkout` (an order's page in every state: the hold
//!   countdown, confirmation, cancelling), `pay` (paying, test 3-D Secure), `order_view`
//!   (an order in the pages' words).
//! * `queue` — the line for a held ticket, live over SSE.
//! * `room` — an event's waiting room, live over SSE.
//! * `common` — what they share: rendering, extractors, `?done=` words, API refusals.

mod auth;
mod browse;
mod buy;
mod checkout;
mod common;
mod event_new;
mod events;
mod help;
mod listings;
mod order_view;
mod orders;
mod pay;
mod queue;
mod room;
mod tickets;

use axum::Router;

use crate::Web;

pub fn routes() -> Router<Web> {
    Router::new()
        .merge(auth::routes())
        .merge(help::routes())
        .merge(browse::routes())
        .merge(tickets::routes())
        .merge(listings::routes())
        .merge(events::routes())
        .merge(event_new::routes())
        .merge(orders::routes())
        .merge(queue::routes())
        .merge(room::routes())
}
