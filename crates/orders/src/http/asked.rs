//! What a buyer asked `POST /api/orders` for: one ticket (`ticketId`, the classic
//! request) or a basket (`ticketIds`). The two differ only at the edge — how the body is
//! read, how a retry is recognised, and whether a refusal names the field — so the
//! service sees a list of tickets either way.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use boxoffice_common::id::parse_id;
use boxoffice_common::{Id, TicketId};
use boxoffice_platform::http::error::{NOT_FOUND, error_response};
use boxoffice_platform::http::{ApiError, ErrorItem};
use boxoffice_platform::idempotency::request_hash;

use super::PlaceOrderRequest;
use crate::domain::{OrderError, TICKET_ID_REQUIRED};
use crate::service::OrdersError;

pub const BOTH_GIVEN: &str = "Send either ticketId or ticketIds, not both";
pub const REPEATED: &str = "TicketIds must not repeat a ticket";
const FIELD: &str = "ticketIds";

/// A validated order request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    One(TicketId),
    Basket(Vec<TicketId>),
}

impl Asked {
    /// Reads the body. `ticketIds` must be an array of 1 to `max` distinct strings; an
    /// item that is not a ticket id stays in its place as an id no ticket has, so that the
    /// basket's answer is still that of its first unobtainable ticket (a 404 here).
    pub fn parse(body: &PlaceOrderRequest, max: usize) -> Result<Self, ApiError> {
        let one = body
            .ticket_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty());
        let many = body.ticket_ids.as_ref().filter(|ids| !ids.is_null());
        match (one, many) {
            (Some(_), Some(_)) => Err(ApiError::invalid(FIELD, BOTH_GIVEN)),
            (None, None) => Err(ApiError::invalid("ticketId", TICKET_ID_REQUIRED)),
            (Some(id), None) => Ok(Self::One(TicketId(parse_id(id).ok_or(ApiError::NotFound)?))),
            (None, Some(ids)) => Self::basket(ids, max),
        }
    }

    fn basket(ids: &serde_json::Value, max: usize) -> Result<Self, ApiError> {
        let shape = || {
            ApiError::invalid(
                FIELD,
                format!("TicketIds must be a list of 1 to {max} ticket ids"),
            )
        };
        let items = ids.as_array().ok_or_else(shape)?;
        if items.is_empty() || items.len() > max {
            return Err(shape());
        }
        let mut texts = Vec::with_capacity(items.len());
        for item in items {
            texts.push(item.as_str().map(str::trim).ok_or_else(shape)?);
        }
        let mut seen = std::collections::HashSet::with_capacity(texts.len());
        if !texts
            .iter()
            .all(|text| seen.insert(text.to_ascii_lowercase()))
        {
            return Err(ApiError::invalid(FIELD, REPEATED));
        }
        let tickets = texts
            .into_iter()
            .map(|text| TicketId(parse_id(text).unwrap_or(Id::nil())))
            .collect();
        Ok(Self::Basket(tickets))
    }

    pub fn tickets(&self) -> &[TicketId] {
        match self {
            Self::One(ticket) => std::slice::from_ref(ticket),
            Self::Basket(tickets) => tickets,
        }
    }

    /// What a retry with the same `Idempotency-Key` must repeat. A one-ticket request
    /// hashes as it always has, so keys stored before baskets existed still match.
    pub fn request_hash(&self) -> String {
        match self {
            Self::One(ticket) => request_hash(&[&ticket.to_string()]),
            Self::Basket(tickets) => {
                let ids: Vec<String> = tickets.iter().map(ToString::to_string).collect();
                let mut parts: Vec<&str> = vec!["basket"];
                parts.extend(ids.iter().map(String::as_str));
                request_hash(&parts)
            }
        }
    }

    /// The answer to a refused order: as always for one ticket; for a basket, the first
    /// unobtainable ticket's error naming the `ticketIds` field, a 404 included.
    pub fn refusal(&self, err: OrdersError) -> Response {
        match (self, err) {
            (Self::Basket(_), OrdersError::NotFound) => error_response(
                StatusCode::NOT_FOUND,
                vec![ErrorItem::field(FIELD, NOT_FOUND)],
            ),
            (Self::Basket(_), OrdersError::Rule(OrderError::Refused(message))) => {
                ApiError::invalid(FIELD, message).into_response()
            }
            (_, err) => ApiError::from(err).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use boxoffice_common::new_id;
    use serde_json::json;

    use super::*;

    fn parse(body: serde_json::Value) -> Result<Asked, String> {
        let body: PlaceOrderRequest = serde_json::from_value(body).expect("body");
        Asked::parse(&body, 3).map_err(|err| match err {
            ApiError::Validation(items) => items[0].message.clone(),
            other => other.to_string(),
        })
    }

    #[test]
    fn a_basket_is_a_list_of_distinct_ids_within_the_limit() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(
            parse(json!({"ticketIds": [a, b]})),
            Ok(Asked::Basket(vec![TicketId(a), TicketId(b)]))
        );
        let shape = "TicketIds must be a list of 1 to 3 ticket ids";
        for bad in [
            json!([]),
            json!([a, b, new_id(), new_id()]),
            json!("x"),
            json!([a, 5]),
            json!({"id": a}),
        ] {
            assert_eq!(
                parse(json!({ "ticketIds": bad })),
                Err(shape.into()),
                "{bad}"
            );
        }
        assert_eq!(parse(json!({"ticketIds": [a, a]})), Err(REPEATED.into()));
        assert_eq!(
            parse(json!({"ticketIds": [a], "ticketId": b})),
            Err(BOTH_GIVEN.into())
        );
        assert_eq!(parse(json!({})), Err(TICKET_ID_REQUIRED.into()));
    }

    #[test]
    fn a_malformed_id_keeps_its_place_as_an_unknown_ticket() {
        let a = new_id();
        assert_eq!(
            parse(json!({"ticketIds": [a, "not-an-id"]})),
            Ok(Asked::Basket(vec![TicketId(a), TicketId(Id::nil())]))
        );
    }

    #[test]
    fn one_ticket_and_a_basket_of_it_are_different_requests() {
        let a = TicketId(new_id());
        assert_ne!(
            Asked::One(a).request_hash(),
            Asked::Basket(vec![a]).request_hash()
        );
        assert_eq!(
            Asked::One(a).request_hash(),
            request_hash(&[&a.to_string()])
        );
    }
}
