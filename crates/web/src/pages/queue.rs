//! (to be written)

use axum::Router;

use crate::Web;

pub fn routes() -> Router<Web> {
    Router::new()
}
