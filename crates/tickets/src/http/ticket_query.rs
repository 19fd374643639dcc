//! The query string of `GET /api/tickets`, checked field by field: every bad filter is
//! reported with its name, and nothing a client typed reaches SQL unbound.

use boxoffice_common::Money;
use boxoffice_common::id::parse_id;
use boxoffice_platform::http::{ApiError, ErrorItem};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::TicketStatus;
use crate::store::{ListQuery, Sort, StatusFilter};

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

/// Listing filters. All optional.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Title contains this text (case-insensitive).
    q: Option<String>,
    /// Lowest price, major units.
    min_price: Option<String>,
    /// Highest price, major units.
    max_price: Option<String>,
    /// One seller's tickets.
    user_id: Option<String>,
    /// One catalogue event's tickets.
    event_id: Option<String>,
    /// `available`, `reserved`, `sold` or `all`; default: not sold.
    status: Option<String>,
    /// `price`, `-price` or `newest`; default: oldest first.
    sort: Option<String>,
    /// Page size, 1–200, default 50.
    limit: Option<String>,
    /// 1-based page number.
    page: Option<String>,
}

impl ListParams {
    /// The listing's query as the store takes it, or every problem with the parameters
    /// (a 400 naming each field). Public for the fuzz target that feeds it arbitrary text.
    pub fn parse(&self) -> Result<ListQuery, ApiError> {
        let mut problems = Vec::new();
        let mut bad = |field: &str, message: &str| problems.push(ErrorItem::field(field, message));
        let price = |text: &Option<String>, field: &str, bad: &mut dyn FnMut(&str, &str)| {
            let text = text.as_deref()?;
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => {
                    Some(Money::from_minor((v * 100.0).round() as i64))
                }
                _ => {
                    bad(field, &format!("{field} must be a number of at least 0"));
                    None
                }
            }
        };
        let min_price = price(&self.min_price, "minPrice", &mut bad);
        let max_price = price(&self.max_price, "maxPrice", &mut bad);
        let seller = match self.user_id.as_deref().map(parse_id) {
            Some(None) => {
                bad("userId", "userId must be a user id");
                None
            }
            Some(id) => id,
            None => None,
        };
        let event = match self.event_id.as_deref().map(parse_id) {
            Some(None) => {
                bad("eventId", "eventId must be an event id");
                None
            }
            Some(id) => id,
            None => None,
        };
        let status = match self.status.as_deref() {
            None => StatusFilter::NotSold,
            Some("all") => StatusFilter::All,
            Some(text) => match TicketStatus::parse(text) {
                Some(status) => StatusFilter::Only(status),
                None => {
                    bad("status", "status must be available, reserved, sold or all");
                    StatusFilter::NotSold
                }
            },
        };
        let sort = match self.sort.as_deref() {
            None => Sort::Oldest,
            Some("price") => Sort::PriceAscending,
            Some("-price") => Sort::PriceDescending,
            Some("newest") => Sort::Newest,
            Some(_) => {
                bad("sort", "sort must be price, -price or newest");
                Sort::Oldest
            }
        };
        let limit = match self.limit.as_deref().map(str::parse::<u32>) {
            None => DEFAULT_LIMIT,
            Some(Ok(limit)) if (1..=MAX_LIMIT).contains(&limit) => limit,
            Some(_) => {
                bad("limit", "limit must be between 1 and 200");
                DEFAULT_LIMIT
            }
        };
        let page = match self.page.as_deref().map(str::parse::<u64>) {
            None => 1,
            Some(Ok(page)) if page >= 1 => page,
            Some(_) => {
                bad("page", "page must be 1 or more");
                1
            }
        };
        if !problems.is_empty() {
            return Err(ApiError::Validation(problems));
        }
        Ok(ListQuery {
            text: self
                .q
                .as_deref()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(str::to_owned),
            min_price,
            max_price,
            seller,
            event,
            status,
            sort,
            limit,
            offset: (page - 1).saturating_mul(u64::from(limit)),
        })
    }
}
