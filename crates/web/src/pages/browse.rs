//! Browse (UI.md §1 page 1): the tickets for sale, searched with a plain GET form so the
//! address carries the query (bookmarkable, back button works), and paged with links.
//!
//! The API checks the filters; a refused query comes back as the form with the API's
//! messages beside the fields (status 400), and an API that does not answer leaves the
//! form usable with an error panel and a retry link (status 503), not a blank page.
//! Also the paging links and query strings the other list pages share.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use crate::Web;
use crate::api::{Problem, Reply};
use crate::chrome::Chrome;
use crate::failure::{Failure, encode};
use crate::forms::FormErrors;
use crate::visitor::Visitor;

use super::common::{PageQuery, html};
use super::tickets::TicketView;

/// Tickets per page.
const PAGE_SIZE: u64 = 20;

/// The sort choices the API knows, as the `<select>` offers them; "" is its default.
pub const SORTS: [(&str, &str); 4] = [
    ("", "Oldest listing first"),
    ("newest", "Newest listing first"),
    ("price", "Price: low to high"),
    ("-price", "Price: high to low"),
];

pub fn routes() -> Router<Web> {
    Router::new().route("/", get(browse))
}

/// The search form's fields, as typed (kept when the API refuses them).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Search {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub min_price: String,
    #[serde(default)]
    pub max_price: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub page: String,
}

impl Search {
    fn filters(&self) -> Vec<(&'static str, String)> {
        vec![
            ("q", self.q.trim().to_owned()),
            ("minPrice", self.min_price.trim().to_owned()),
            ("maxPrice", self.max_price.trim().to_owned()),
            ("sort", self.sort.trim().to_owned()),
        ]
    }

    fn filtered(&self) -> bool {
        self.filters().iter().any(|(_, value)| !value.is_empty())
    }
}

/// `a=1&b=x%20y`, leaving out empty values.
pub fn query_string(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The page number asked for: 1 unless the text is a positive number.
pub fn page_number(text: &str) -> u64 {
    text.trim()
        .parse()
        .ok()
        .filter(|page| *page >= 1)
        .unwrap_or(1)
}

/// The `X-Total-Count` of a list answer, or the length of the list.
pub fn total_count(reply: &Reply) -> u64 {
    reply
        .header("x-total-count")
        .and_then(|total| total.parse().ok())
        .unwrap_or_else(|| reply.body.as_array().map_or(0, |items| items.len() as u64))
}

/// Links to the previous and next page of a list, keeping its filters.
#[derive(Debug, Clone, Default)]
pub struct Pager {
    pub page: u64,
    pub pages: u64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    pub fn new(path: &str, filters: &[(&str, String)], page: u64, total: u64, size: u64) -> Self {
        let pages = total.div_ceil(size).max(1);
        let link = |target: u64| {
            let mut pairs = filters.to_vec();
            if target > 1 {
                pairs.push(("page", target.to_string()));
            }
            let query = query_string(&pairs);
            if query.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{query}")
            }
        };
        Self {
            page,
            pages,
            prev: (page > 1).then(|| link((page - 1).min(pages))),
            next: (page < pages).then(|| link(page + 1)),
        }
    }

    pub fn shown(&self) -> bool {
        self.pages > 1 || self.page > 1
    }
}

/// "24 tickets", "1 ticket".
pub fn count(total: u64, one: &str, many: &str) -> String {
    format!("{total} {}", if total == 1 { one } else { many })
}

/// A refused query's problems, each on its field of the form (or on the form).
pub fn query_problems(reply: &Reply, fields: &[&str]) -> FormErrors {
    let problems = reply
        .problems()
        .into_iter()
        .map(|problem| Problem {
            field: problem
                .field
                .filter(|field| fields.contains(&field.as_str())),
            ..problem
        })
        .collect();
    FormErrors::new(problems)
}

#[derive(Template)]
#[template(path = "browse.html")]
struct BrowsePage {
    chrome: Chrome,
    search: Search,
    sorts: [(&'static str, &'static str); 4],
    tickets: Vec<TicketView>,
    count: String,
    pager: Pager,
    filtered: bool,
    errors: FormErrors,
    /// The API did not answer: show the error panel instead of results.
    down: bool,
}

impl BrowsePage {
    fn sort_selected(&self, value: &str) -> bool {
        self.search.sort.trim() == value
    }
}

async fn browse(
    State(web): State<Web>,
    visitor: Visitor,
    PageQuery(search): PageQuery<Search>,
) -> Result<Response, Failure> {
    let page = page_number(&search.page);
    let filters = search.filters();
    let mut pairs = filters.clone();
    pairs.push(("page", search.page.trim().to_owned()));
    pairs.push(("limit", PAGE_SIZE.to_string()));
    let mut view = BrowsePage {
        chrome: Chrome::new("Browse tickets", &visitor),
        filtered: search.filtered(),
        search,
        sorts: SORTS,
        tickets: Vec::new(),
        count: String::new(),
        pager: Pager::default(),
        errors: FormErrors::default(),
        down: false,
    };
    let reply = match web
        .api
        .get(
            &format!("/api/tickets?{}", query_string(&pairs)),
            visitor.session(),
        )
        .await
    {
        Ok(reply) => reply,
        Err(err) => {
            tracing::warn!(error = %err, "browse: API unreachable");
            view.down = true;
            return html(StatusCode::SERVICE_UNAVAILABLE, &view);
        }
    };
    match reply.status {
        status if status.is_success() => {
            let total = total_count(&reply);
            view.tickets = TicketView::list(&reply.body, &web.config.currency);
            view.count = count(total, "ticket", "tickets");
            view.pager = Pager::new("/", &filters, page, total, PAGE_SIZE);
            html(StatusCode::OK, &view)
        }
        StatusCode::BAD_REQUEST => {
            view.errors = query_problems(&reply, &["q", "minPrice", "maxPrice", "sort"]);
            view.chrome = view.chrome.with_error(true);
            html(StatusCode::BAD_REQUEST, &view)
        }
        StatusCode::TOO_MANY_REQUESTS => Err(Failure::from_reply(&reply, "/")),
        _ => {
            view.down = true;
            html(StatusCode::SERVICE_UNAVAILABLE, &view)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_link_with_their_filters() {
        let filters = vec![("q", "a b".to_owned()), ("sort", String::new())];
        let pager = Pager::new("/", &filters, 2, 95, 20);
        assert_eq!(pager.pages, 5);
        assert_eq!(pager.prev.as_deref(), Some("/?q=a%20b"));
        assert_eq!(pager.next.as_deref(), Some("/?q=a%20b&page=3"));
        let last = Pager::new("/", &[], 1, 0, 20);
        assert_eq!((last.pages, last.prev, last.next), (1, None, None));
        assert_eq!(page_number("x"), 1);
        assert_eq!(count(1, "ticket", "tickets"), "1 ticket");
    }
}
