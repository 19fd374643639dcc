//! `/help`: what BoxOffice does and how buying works, in a few plain sentences — the page
//! the footer links to from everywhere.

use askama::Template;
use axum::Router;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::Web;
use crate::chrome::Chrome;
use crate::failure::Failure;
use crate::visitor::Visitor;

pub fn routes() -> Router<Web> {
    Router::new().route("/help", get(help))
}

#[derive(Template)]
#[template(path = "help.html")]
struct HelpPage {
    chrome: Chrome,
}

async fn help(visitor: Visitor) -> Result<Response, Failure> {
    let page = HelpPage {
        chrome: Chrome::new("Help", &visitor),
    };
    let html = page
        .render()
        .map_err(|err| Failure::Internal(err.to_string()))?;
    Ok(Html(html).into_response())
}
