//! Pure building blocks shared by every BoxOffice service. Nothing here does I/O.
//!
//! * [`id`] — opaque UUIDv7 identifiers and their parsing rules.
//! * [`money`] — prices as integer minor units, parsed from the API's decimal numbers.
//! * [`events`] — the event type names and payloads services exchange (CONTRACT.md §7),
//!   and [`events::Event`], the one enum consumers match on.
//! * [`order`] — an order's status and cancel reason, as events and APIs spell them.
//! * [`clock`] — the source of "now", injectable so that time-driven rules are testable.

pub mod clock;
pub mod events;
pub mod id;
pub mod money;
pub mod order;

pub use clock::{Clock, SystemClock};
pub use id::{Id, OrderId, PaymentId, TicketId, UserId, new_id};
pub use money::Money;
