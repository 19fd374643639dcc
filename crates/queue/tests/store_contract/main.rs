//! Every `QueueStore` behaviour the service relies on, through the service, its event
//! consumer and its turn timer — on SQLite and on a real Redis (a fresh key prefix per
//! test). One test binary, one module per behaviour.

mod baskets;
mod common;
mod fresh;
mod lines;
mod plumbing;
mod turns;
