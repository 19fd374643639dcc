//! The OpenAPI description.
//!
//! Routes are registered together with their `#[utoipa::path]` documentation (via
//! `utoipa_axum::routes!`), so the document is generated from the handlers themselves and
//! cannot describe a route that does not exist. A snapshot test makes every change to it
//! visible in review.

use boxoffice_platform::http::{ErrorBody, ErrorItem};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/docs/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "BoxOffice API",
        description = "A ticket marketplace. Every error is `{\"errors\":[{\"message\",\"field\"?}]}`; \
            sessions travel in the `session` cookie (HttpOnly, SameSite=Lax) or as \
            `Authorization: Bearer <token>`. State-changing requests that carry the cookie \
            and an `Origin` of another site are refused with 401. Bodies are limited to 64 KiB \
            (413) and must be JSON (415). Unknown routes and malformed ids answer 404.",
        license(name = "MIT")
    ),
    tags(
        (name = "users", description = "Accounts and sessions"),
        (name = "tickets", description = "Tickets for sale"),
        (name = "events", description = "The events catalogue: what tickets are for, with what is on sale"),
        (name = "orders", description = "Holding and buying tickets"),
        (name = "payments", description = "Paying for orders"),
        (name = "queue", description = "A fair line for a held ticket: exclusive turns, live updates")
    ),
    components(schemas(ErrorBody, ErrorItem)),
    modifiers(&SessionSchemes)
)]
struct ApiDoc;

/// Documents both ways of presenting a session.
struct SessionSchemes;

impl Modify for SessionSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("session"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document's fixed parts; routes are merged in by the application.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

mod constraints;
mod links;

/// The document as served: the generated description, the server's input rules
/// ([`constraints`]), the links between operations ([`links`]) and the answers every
/// operation with a body can give before its handler runs. `max_tickets` is
/// `MAX_TICKETS_PER_ORDER`.
pub fn document(spec: &utoipa::openapi::OpenApi, max_tickets: usize) -> serde_json::Value {
    let mut doc = serde_json::to_value(spec).expect("the OpenAPI document serializes");
    constraints::apply(&mut doc, max_tickets);
    links::apply(&mut doc);
    body_refusals(&mut doc);
    doc
}

/// 413 and 415 come from the middleware and the JSON extractor, so no handler documents
/// them: add them to every operation that takes a JSON body.
fn body_refusals(doc: &mut serde_json::Value) {
    let error = serde_json::json!({
        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
    });
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for operation in paths.values_mut().filter_map(|item| item.as_object_mut()) {
        for operation in operation.values_mut() {
            if operation.get("requestBody").is_none() {
                continue;
            }
            let responses = &mut operation["responses"];
            for (status, description) in [
                ("413", "Body over 64 KiB"),
                ("415", "Body that is not `application/json`"),
            ] {
                if responses.get(status).is_none() {
                    responses[status] =
                        serde_json::json!({"description": description, "content": error.clone()});
                }
            }
        }
    }
}
