//! The pages, one file per group (UI.md §1). Each file's `routes()` is merged here.
//!
//! * `auth` — sign up, sign in, sign out.
//! * `browse` — the ticket list with search, filters, sort and paging (`/`).
//! * `tickets` — a ticket's page with the action its state allows; sell, edit, delete.
//! * `listings` — my listings.
//! * `orders` — buy, checkout with the hold countdown, pay, test 3-D Secure,
//!   confirmation, order history.
//! * `queue` — the line for a held ticket, live over SSE.

mod auth;
mod browse;
mod listings;
mod orders;
mod queue;
mod tickets;

use axum::Router;

use crate::Web;

pub fn routes() -> Router<Web> {
    Router::new()
        .merge(auth::routes())
        .merge(browse::routes())
        .merge(tickets::routes())
        .merge(listings::routes())
        .merge(orders::routes())
        .merge(queue::routes())
}
