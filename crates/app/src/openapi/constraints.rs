//! The server's real input rules, stated in the document so that a client (or a
//! schema-driven fuzzer) can tell a well-formed request from a malformed one without
//! asking: required fields, trimmed lengths, id formats, ranges, enumerations.
//!
//! The rules live with the handlers and domain types; this module only describes them,
//! and the schema-driven fuzz run (`scripts/api-fuzz`) checks both ways that the server
//! accepts what is described as valid and refuses the rest.
//!
//! Text limits are counted in characters *after trimming* Unicode whitespace (Rust's
//! `str::trim`), so they are written as patterns over that exact set of characters rather
//! than `minLength`/`maxLength`, which would count the surrounding spaces too.

use serde_json::{Value, json};

/// Unicode `White_Space`, what `str::trim` strips, as a character class body.
const SPACE: &str = r"\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

fn space() -> String {
    format!("[{SPACE}]")
}

fn not_space() -> String {
    format!("[^{SPACE}]")
}

/// A string of 1 to `max` characters once trimmed.
pub fn trimmed(max: usize, description: &str) -> Value {
    let (w, n) = (space(), not_space());
    json!({
        "type": "string",
        "description": description,
        "pattern": format!("^{w}*{n}[\\s\\S]{{0,{}}}{w}*$", max - 1),
    })
}

/// Optional text of at most `max` characters once trimmed; `null` is none.
pub fn optional_text(max: usize, description: &str) -> Value {
    let w = space();
    json!({
        "type": ["string", "null"],
        "description": description,
        "pattern": format!("^{w}*[\\s\\S]{{0,{max}}}{w}*$"),
    })
}

/// An id: the text form of a UUID.
pub fn id(description: &str) -> Value {
    json!({"type": "string", "format": "uuid", "description": description})
}

/// `price`: a number or the same amount as a decimal string; `> 0`, `<= 1000000`, at
/// most 2 decimals (trailing zeros do not count), leading zeros allowed.
pub fn price(description: &str) -> Value {
    json!({
        "description": description,
        "oneOf": [
            {"type": "number", "exclusiveMinimum": 0, "maximum": 1_000_000, "multipleOf": 0.01},
            {
                "type": "string",
                "pattern": r"^(0*[1-9][0-9]{0,5}(\.[0-9]{1,2}0*)?|0+\.(0[1-9]|[1-9][0-9]?)0*|0*1000000(\.0+)?)$",
            },
        ],
        "examples": [20.5, "20.50"],
    })
}

/// An email address as sign-up accepts it: once trimmed, at most 254 characters,
/// `local@domain.tld` with one `@`, non-empty dot-separated domain labels, and no
/// whitespace or control characters.
pub fn email() -> Value {
    let w = space();
    let plain = format!(r"[^@.{SPACE}\x00-\x1f\x7f-\x9f]");
    let local = format!(r"[^@{SPACE}\x00-\x1f\x7f-\x9f]");
    json!({
        "type": "string",
        "description": "Compared case-insensitively; stored lower-cased. Surrounding spaces are trimmed.",
        "pattern": format!(r"^{w}*(?=[\s\S]{{1,254}}{w}*$){local}+@{plain}+(\.{plain}+)+{w}*$"),
    })
}

/// Sets `schema` as the property `name` of the component `component`.
pub fn set_property(doc: &mut Value, component: &str, name: &str, schema: Value) {
    doc["components"]["schemas"][component]["properties"][name] = schema;
}

/// Sets the schema of query parameter `name` of `method path`.
pub fn set_query(doc: &mut Value, path: &str, method: &str, name: &str, schema: Value) {
    let Some(parameters) = doc["paths"][path][method]["parameters"].as_array_mut() else {
        return;
    };
    for parameter in parameters {
        if parameter["name"] == name {
            let description = parameter["schema"]["description"].clone();
            parameter["schema"] = schema.clone();
            if !description.is_null() {
                parameter["schema"]["description"] = description;
            }
        }
    }
}

/// Every rule, applied to the generated document. `max_tickets` is
/// `MAX_TICKETS_PER_ORDER`.
pub fn apply(doc: &mut Value, max_tickets: usize) {
    // Accounts.
    set_property(doc, "Credentials", "email", email());
    set_property(
        doc,
        "Credentials",
        "password",
        json!({"type": "string", "minLength": 8, "maxLength": 128,
               "description": "8 to 128 characters, spaces included (never trimmed)."}),
    );
    doc["components"]["schemas"]["Credentials"]["required"] = json!(["email", "password"]);

    // Tickets.
    let ticket = "TicketRequest";
    set_property(
        doc,
        ticket,
        "title",
        trimmed(200, "1–200 characters after trimming."),
    );
    set_property(
        doc,
        ticket,
        "price",
        price(
            "Major units, `> 0`, `<= 1000000`, at most 2 decimals: a number (`20.5`) or the \
             same as a decimal string (`\"20.50\"`), with the same rules and messages.",
        ),
    );
    set_property(
        doc,
        ticket,
        "description",
        optional_text(5000, "Up to 5000 characters after trimming."),
    );
    let event_id =
        doc["components"]["schemas"][ticket]["properties"]["eventId"]["description"].clone();
    set_property(
        doc,
        ticket,
        "eventId",
        json!({"type": ["string", "null"], "format": "uuid", "description": event_id}),
    );
    let serial =
        doc["components"]["schemas"][ticket]["properties"]["serialNumber"]["description"].clone();
    let mut serial_schema = trimmed(64, "");
    serial_schema["type"] = json!(["string", "null"]);
    serial_schema["description"] = serial;
    set_property(doc, ticket, "serialNumber", serial_schema);
    doc["components"]["schemas"][ticket]["required"] = json!(["title", "price"]);
    // `"eventId": null` says "no event", where a serial number cannot be.
    doc["components"]["schemas"][ticket]["not"] = json!({
        "required": ["eventId", "serialNumber"],
        "properties": {"eventId": {"type": "null"}, "serialNumber": {"type": "string"}},
    });

    let list = ("/api/tickets", "get");
    set_query(
        doc,
        list.0,
        list.1,
        "minPrice",
        json!({"type": "number", "minimum": 0}),
    );
    set_query(
        doc,
        list.0,
        list.1,
        "maxPrice",
        json!({"type": "number", "minimum": 0}),
    );
    set_query(
        doc,
        list.0,
        list.1,
        "userId",
        json!({"type": "string", "format": "uuid"}),
    );
    set_query(
        doc,
        list.0,
        list.1,
        "eventId",
        json!({"type": "string", "format": "uuid"}),
    );
    set_query(
        doc,
        list.0,
        list.1,
        "status",
        json!({"type": "string", "enum": ["available", "reserved", "sold", "all"]}),
    );
    set_query(
        doc,
        list.0,
        list.1,
        "sort",
        json!({"type": "string", "enum": ["price", "-price", "newest"]}),
    );
    set_query(
        doc,
        list.0,
        list.1,
        "limit",
        json!({"type": "integer", "minimum": 1, "maximum": 200}),
    );
    set_query(doc, list.0, list.1, "page", page());

    // Events.
    let event = "EventRequest";
    set_property(
        doc,
        event,
        "name",
        trimmed(200, "1–200 characters after trimming."),
    );
    set_property(
        doc,
        event,
        "venue",
        trimmed(200, "1–200 characters after trimming."),
    );
    set_property(
        doc,
        event,
        "description",
        optional_text(5000, "Up to 5000 characters after trimming."),
    );
    let events = ("/api/events", "get");
    set_query(
        doc,
        events.0,
        events.1,
        "from",
        json!({"type": "string", "format": "date-time"}),
    );
    set_query(
        doc,
        events.0,
        events.1,
        "to",
        json!({"type": "string", "format": "date-time"}),
    );
    set_query(
        doc,
        events.0,
        events.1,
        "limit",
        json!({"type": "integer", "minimum": 1, "maximum": 100}),
    );
    set_query(doc, events.0, events.1, "page", page());

    // Orders: one ticket or a basket, not both.
    let order = "PlaceOrderRequest";
    set_property(doc, order, "ticketId", id("The ticket to order."));
    let basket =
        doc["components"]["schemas"][order]["properties"]["ticketIds"]["description"].clone();
    set_property(
        doc,
        order,
        "ticketIds",
        json!({
            "type": "array",
            "items": {"type": "string", "format": "uuid"},
            "minItems": 1,
            "maxItems": max_tickets,
            "uniqueItems": true,
            "description": basket,
        }),
    );
    doc["components"]["schemas"][order]["oneOf"] =
        json!([{"required": ["ticketId"]}, {"required": ["ticketIds"]}]);

    // Payments.
    set_property(doc, "PayRequest", "orderId", id("The order to pay for."));
    let token =
        doc["components"]["schemas"]["PayRequest"]["properties"]["token"]["description"].clone();
    // Not empty once trimmed: some character that is not whitespace.
    set_property(
        doc,
        "PayRequest",
        "token",
        json!({"type": "string", "pattern": not_space(), "description": token}),
    );
    doc["components"]["schemas"]["PayRequest"]["required"] = json!(["orderId", "token"]);
    idempotency_key(doc);
}

/// `Idempotency-Key`: 1 to 255 visible ASCII characters (spaces and tabs inside), as
/// HTTP carries a header value with its surrounding whitespace removed.
fn idempotency_key(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for operation in item.values_mut() {
            let Some(parameters) = operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for parameter in parameters {
                if parameter["name"] == "Idempotency-Key" {
                    parameter["schema"] = json!({
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 255,
                        "pattern": r"^[\t\x20-\x7e]*[\x21-\x7e][\t\x20-\x7e]*$",
                    });
                }
            }
        }
    }
}

/// A 1-based page number: any that fits in 64 bits.
fn page() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": u64::MAX})
}
