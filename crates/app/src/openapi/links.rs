//! OpenAPI links: which value of one answer feeds which request next. Clients can follow
//! them (create a ticket, then read, edit or withdraw it; place an order, then read,
//! cancel or pay for it; pay, then read the payment), and the schema-driven fuzz run's
//! stateful phase walks them to test sequences of calls, not just single calls.

use serde_json::{Value, json};

/// Adds `links` to the success answer `status` of `operation_id`.
fn link(doc: &mut Value, operation_id: &str, status: &str, links: Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for operation in item.values_mut() {
            if operation["operationId"] == operation_id
                && let Some(response) = operation["responses"].get_mut(status)
            {
                response["links"] = links.clone();
            }
        }
    }
}

fn by_id(operation_id: &str, parameter: &str, expression: &str) -> Value {
    json!({"operationId": operation_id, "parameters": {parameter: expression}})
}

pub fn apply(doc: &mut Value) {
    let id = "$response.body#/id";
    link(
        doc,
        "create_ticket",
        "201",
        json!({
            "ShowTicket": by_id("show_ticket", "id", id),
            "UpdateTicket": by_id("update_ticket", "id", id),
            "DeleteTicket": by_id("delete_ticket", "id", id),
        }),
    );
    // The oldest ticket for sale, ordered: the way a buyer gets from the listing to an order.
    link(
        doc,
        "list_tickets",
        "200",
        json!({
            "OrderFirstTicket": {
                "operationId": "place_order",
                "requestBody": {"ticketId": "$response.body#/0/id"},
            },
            "ShowFirstTicket": by_id("show_ticket", "id", "$response.body#/0/id"),
            "JoinLineForFirstTicket": by_id("join_line", "ticketId", "$response.body#/0/id"),
        }),
    );
    link(
        doc,
        "place_order",
        "201",
        json!({
            "ShowOrder": by_id("show_order", "id", id),
            "CancelOrder": by_id("cancel_order", "id", id),
            "PayForOrder": {
                "operationId": "create_payment",
                "requestBody": {"orderId": id, "token": "tok_visa"},
            },
        }),
    );
    link(
        doc,
        "create_payment",
        "201",
        json!({
            "ShowPayment": by_id("show_payment", "id", id),
            "AuthenticatePayment": {
                "operationId": "authenticate_payment",
                "parameters": {"id": id},
                "requestBody": {"clientSecret": "$response.body#/clientSecret", "success": true},
            },
        }),
    );
    for status in ["200", "201"] {
        link(
            doc,
            "create_event",
            status,
            json!({
                "ShowEvent": by_id("show_event", "id", id),
                "UpdateEvent": by_id("update_event", "id", id),
            }),
        );
    }
    link(
        doc,
        "join_line",
        "202",
        json!({
            "ShowPlace": by_id("show_place", "ticketId", "$request.path.ticketId"),
            "LeaveLine": by_id("leave_line", "ticketId", "$request.path.ticketId"),
        }),
    );
}
