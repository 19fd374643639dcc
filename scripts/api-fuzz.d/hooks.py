"""Schemathesis hooks for scripts/api-fuzz.

* The fuzzer is an API client that authenticates with a bearer token. requests' cookie
  jar would otherwise keep the `session` cookie of whichever random account a generated
  sign-up created and send it with every later request, so "no credentials" probes
  would not be anonymous. The jar is switched off; cookie sessions and their CSRF rule
  are covered by the Rust API tests.
* `documented_business_refusal`: positive_data_acceptance lets a 400 through (see
  schemathesis.toml); this check takes its place for 400s. A schema-valid request may
  only be refused with one of the business-rule messages the contract documents for
  that operation (a ticket already reserved, your own ticket, an event that has already
  started, …), never with a validation error: that would mean the document and the
  server disagree on what a valid request is.
"""

import requests.sessions

import schemathesis

requests.sessions.extract_cookies_to_jar = lambda *args, **kwargs: None

BUSINESS = {
    "POST /api/users/signup": {"Email in use"},
    "POST /api/users/signin": {"Invalid credentials"},
    "POST /api/events": {"StartsAt must be a future date"},
    "PUT /api/events/{id}": {"StartsAt must be a future date", "Event already exists"},
    "POST /api/tickets": {
        "Event not found",
        "Event has already started",
        "Ticket already exists",
        "SerialNumber is only allowed with an eventId",
    },
    "PUT /api/tickets/{id}": {
        "Cannot edit a reserved ticket",
        "Event not found",
        "Event has already started",
        "Ticket already exists",
        "SerialNumber is only allowed with an eventId",
    },
    "DELETE /api/tickets/{id}": {"Cannot delete a reserved ticket"},
    "POST /api/orders": {
        "Ticket is already reserved",
        "Cannot buy your own ticket",
        "Ticket is reserved for the next buyer in line",
        # Ids compare case-insensitively; JSON Schema's uniqueItems compares text.
        "TicketIds must not repeat a ticket",
        # The tickets' event has an open waiting room (CONTRACT §12).
        "Waiting room admission required",
        "Ticket limit for this event reached",
    },
    "PUT /api/events/{id}/room": {
        "OpensAt must be in the future",
        "OpensAt must be before the event starts",
        "The room is open; its opening cannot move",
        "The sale of this room is over",
    },
    "DELETE /api/orders/{id}": {"Cannot cancel a completed order", "Order is already cancelled"},
    "POST /api/payments": {
        "Cannot pay for a cancelled order",
        "Order has already been paid for",
        "A payment for this order is already in progress",
        # The payment provider's answers: a declined card, a token it does not know.
        "Your card was declined.",
        "Your card number is incorrect.",
    },
    "POST /api/payments/{id}/authenticate": {
        "Client secret does not match",
        "This payment does not need authentication",
        "Cannot pay for a cancelled order",
        "Order has already been paid for",
    },
    # Nothing but the provider can sign a webhook, so a generated one is always refused.
    "POST /api/payments/webhook": {"Invalid Stripe-Signature: *", "Invalid webhook body"},
    "POST /api/queue/{ticketId}": {
        "Ticket is available; order it directly",
        "Ticket is already sold",
        "Cannot queue for your own ticket",
        "You already hold this ticket",
    },
}


def _documented(message, allowed):
    return any(
        message.startswith(rule[:-1]) if rule.endswith("*") else message == rule
        for rule in allowed
    )


@schemathesis.check
def documented_business_refusal(ctx, response, case):
    meta = case.meta
    if response.status_code != 400 or meta is None or not meta.generation.mode.is_positive:
        return None
    # Stateful steps fill bodies from earlier answers; only generated cases are judged.
    label = f"{case.method.upper()} {case.path}"
    allowed = BUSINESS.get(label, set())
    try:
        messages = [item["message"] for item in response.json()["errors"]]
    except (ValueError, KeyError, TypeError):
        raise AssertionError(f"400 without the contract's error body: {response.text[:200]}")
    unexpected = [message for message in messages if not _documented(message, allowed)]
    if unexpected:
        raise AssertionError(
            f"Schema-valid request refused with a validation error, not a documented "
            f"business rule: {unexpected}"
        )
    return None
