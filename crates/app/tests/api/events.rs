//! CONTRACT.md §11, the events catalogue and tickets for events, route by route and
//! message by message, in both modes.
//!
//! The helpers' `on_both_backends!` runs only the auth service on PostgreSQL, so these
//! tests bring their own pair of [`Site`]s: the embedded mode (SQLite) and the
//! distributed mode (`distributed::cluster`: a process and PostgreSQL database per
//! service, NATS between them), requests going to the service that owns the route.

use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::distributed::Cluster;
use crate::helpers::{Reply, TestApp, User, eventually};
use crate::orders::UNKNOWN_ID;

/// The services under test, in one mode or the other.
enum Site {
    Embedded(TestApp),
    Distributed(Box<Cluster>),
}

impl Site {
    /// The services serving `/api/users`, `/api/tickets` and `/api/events`, `/api/orders`.
    fn apps(&self) -> [&TestApp; 3] {
        match self {
            Self::Embedded(app) => [app; 3],
            Self::Distributed(c) => [&c.auth, &c.tickets, &c.orders[0]],
        }
    }

    /// A fresh signed-up user.
    async fn user(&self) -> User {
        self.apps()[0].user().await
    }

    /// Every outbox drained, nothing dead-lettered, in every service that took part
    /// (replicas share their service's database).
    async fn assert_settled(&self) {
        for app in self.apps() {
            app.assert_settled().await;
        }
    }
}

/// Runs each named `async fn(Site)` in the embedded mode (`sqlite`) and in the
/// distributed mode (`postgres`).
macro_rules! on_both_sites {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let app = crate::helpers::spawn_app_on(crate::helpers::Backend::Sqlite).await;
                super::$name(super::Site::Embedded(app)).await;
            }

            #[tokio::test]
            async fn postgres() {
                let cluster = Box::new(crate::distributed::cluster(|_| {}).await);
                super::$name(super::Site::Distributed(cluster)).await;
            }
        }
    )*};
}

on_both_sites!(
    an_event_is_created_once_and_found_again_whatever_the_spelling,
    every_bad_field_of_an_event_is_named,
    the_catalogue_lists_events_to_come_filtered_and_paged,
    only_the_creator_edits_an_event_signed_in_and_never_onto_another,
    tickets_are_listed_for_events_with_serials_unique_per_event,
    editing_a_ticket_keeps_its_event_unless_told_otherwise,
    a_started_event_takes_no_more_tickets_and_leaves_the_catalogue,
);

const NAME: &str = "Name is required";
const VENUE: &str = "Venue is required";
const FUTURE: &str = "StartsAt must be a future date";
const LONG: &str = "Description must be at most 5000 characters";
const TAKEN: &str = "Ticket already exists";
const NO_EVENT: &str = "Event not found";
const SERIAL_ALONE: &str = "SerialNumber is only allowed with an eventId";

async fn send(app: &TestApp, user: &User, method: Method, path: &str, body: Value) -> Reply {
    app.send(app.as_user(user, method, path).json(&body)).await
}

/// `base` with the fields of `extra` added or replaced.
fn with(mut base: Value, extra: Value) -> Value {
    let extra = extra.as_object().expect("object").clone();
    base.as_object_mut().expect("object").extend(extra);
    base
}

/// Creates an event as `user`; the reply.
async fn create(app: &TestApp, user: &User, name: &str, venue: &str, starts_at: &str) -> Reply {
    let body = json!({"name": name, "venue": venue, "startsAt": starts_at});
    send(app, user, Method::POST, "/api/events", body).await
}

/// Creates a new event at the Arena as `user`; its id.
async fn event(app: &TestApp, user: &User, name: &str, starts_at: &str) -> String {
    let reply = create(app, user, name, "Arena", starts_at).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["id"].as_str().expect("id").to_owned()
}

/// Lists a "Seat" at `price` with `extra` fields (`eventId`, `serialNumber`); the reply.
async fn ticket(app: &TestApp, seller: &User, price: f64, extra: Value) -> Reply {
    let body = with(json!({"title": "Seat", "price": price}), extra);
    send(app, seller, Method::POST, "/api/tickets", body).await
}

/// The errors of a 400.
fn errors(reply: &Reply) -> Value {
    assert_eq!(reply.status, 400, "{}", reply.body);
    reply.body["errors"].clone()
}

/// One field error.
fn field(field: &str, message: &str) -> Value {
    json!([{"field": field, "message": message}])
}

/// The fields of `body` named in `keys` (space-separated), as an object.
fn pick(body: &Value, keys: &str) -> Value {
    keys.split(' ').map(|k| (k, body[k].clone())).collect()
}

/// `what` of every item of an array (a page, or `errors`).
fn each(items: &Value, what: &str) -> Vec<Value> {
    let items = items.as_array().expect("array");
    items.iter().map(|item| item[what].clone()).collect()
}

fn total(reply: &Reply) -> &str {
    reply.headers["x-total-count"].to_str().expect("header")
}

async fn an_event_is_created_once_and_found_again_whatever_the_spelling(site: Site) {
    let app = site.apps()[1];
    let (creator, other) = (site.user().await, site.user().await);
    let body = json!({"name": "  Rock Night ", "venue": "Arena",
                      "startsAt": "2099-06-01T22:00:00+02:00", "description": "Doors at 19"});
    let reply = send(app, &creator, Method::POST, "/api/events", body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let event = reply.body;
    let id = event["id"].as_str().expect("id");
    let keys = "name venue startsAt description userId version ticketsAvailable minPrice";
    let expected = json!({"name": "Rock Night", "venue": "Arena", "userId": creator.id,
        "startsAt": "2099-06-01T20:00:00Z", "description": "Doors at 19", "version": 0,
        "ticketsAvailable": 0, "minPrice": null});
    assert_eq!(pick(&event, keys), expected);
    let created = event["createdAt"].as_str().unwrap_or_default();
    assert!(created.ends_with('Z'), "{created}");
    let same = "2099-06-01T15:00:00-05:00";
    let again = create(app, &other, "ROCK NIGHT", " arena ", same).await;
    assert_eq!((again.status, &again.body), (200, &event), "the same event");
    let shown = app.get(&format!("/api/events/{id}")).await;
    assert_eq!((shown.status, &shown.body), (200, &event));
    let later = create(app, &other, "Rock Night", "Arena", "2099-06-01T20:00:01Z").await;
    assert_eq!(later.status, 201, "another start is another event");
    for unknown in [UNKNOWN_ID, "not-an-id"] {
        let reply = app.get(&format!("/api/events/{unknown}")).await;
        assert_eq!(reply.status, 404);
        assert_eq!(reply.error_messages(), ["Not found"]);
    }
    site.assert_settled().await;
}

async fn every_bad_field_of_an_event_is_named(site: Site) {
    let app = site.apps()[1];
    let creator = site.user().await;
    let valid = json!({"name": "N", "venue": "A", "startsAt": "2099-01-01T20:00:00Z"});
    let d = "d".repeat(5001);
    let cases = [
        (json!({"name": null}), "name", NAME),
        (json!({"name": " "}), "name", NAME),
        (json!({"name": "x".repeat(201)}), "name", NAME),
        (json!({"venue": 7}), "venue", VENUE),
        (json!({"venue": "v".repeat(201)}), "venue", VENUE),
        (json!({"startsAt": null}), "startsAt", FUTURE),
        (json!({"startsAt": "next friday"}), "startsAt", FUTURE),
        (json!({"startsAt": "2099-01-01 20:00"}), "startsAt", FUTURE),
        (json!({"startsAt": 4_102_444_800_i64}), "startsAt", FUTURE),
        (json!({"startsAt": "2001-01-01T00:00Z"}), "startsAt", FUTURE),
        (json!({"description": d}), "description", LONG),
    ];
    for (change, name, message) in cases {
        let body = with(valid.clone(), change.clone());
        let reply = send(app, &creator, Method::POST, "/api/events", body).await;
        assert_eq!(errors(&reply), field(name, message), "{change}");
    }
    let empty = send(app, &creator, Method::POST, "/api/events", json!({})).await;
    assert_eq!(
        each(&errors(&empty), "field"),
        ["name", "venue", "startsAt"]
    );
    assert_eq!(total(&app.get("/api/events").await), "0", "none created");
    site.assert_settled().await;
}

async fn the_catalogue_lists_events_to_come_filtered_and_paged(site: Site) {
    let app = site.apps()[1];
    let creator = site.user().await;
    for (name, venue, starts_at) in [
        ("Jazz Night", "Blue Room", "2099-03-01T20:00:00Z"),
        ("Opera", "Jazz Hall", "2099-02-01T20:00:00Z"),
        ("Rock 100%", "Arena", "2099-04-01T20:00:00Z"),
        ("Folk", "Barn", "2099-02-01T20:00:00+00:00"),
    ] {
        let reply = create(app, &creator, name, venue, starts_at).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let window = "?from=2099-02-01T21:00:00%2B01:00&to=2099-03-01T20:00:00Z";
    for (query, names, count) in [
        ("", vec!["Opera", "Folk", "Jazz Night", "Rock 100%"], "4"), // then by id
        ("?q=JAZZ", vec!["Opera", "Jazz Night"], "2"),               // name or venue
        ("?q=100%25", vec!["Rock 100%"], "1"),
        ("?q=_", vec![], "0"),                              // literally
        (window, vec!["Opera", "Folk", "Jazz Night"], "3"), // both ends
        ("?limit=3&page=2", vec!["Rock 100%"], "4"),
    ] {
        let reply = app.get(&format!("/api/events{query}")).await;
        assert_eq!(each(&reply.body, "name"), names, "{query}");
        assert_eq!(total(&reply), count, "{query}");
    }
    // Each bad filter is named: the field is the parameter.
    for query in "limit=0 limit=101 limit=many page=0 from=yesterday to=2099-13-01".split(' ') {
        let reply = app.get(&format!("/api/events?{query}")).await;
        let field = query.split('=').next().expect("name");
        assert_eq!(each(&errors(&reply), "field"), [field], "{query}");
    }
    site.assert_settled().await;
}

async fn only_the_creator_edits_an_event_signed_in_and_never_onto_another(site: Site) {
    let app = site.apps()[1];
    let (creator, stranger) = (site.user().await, site.user().await);
    event(app, &creator, "Opera", "2099-01-01T19:00:00Z").await;
    let id = event(app, &creator, "Ballet", "2099-01-02T19:00:00Z").await;
    let path = format!("/api/events/{id}");
    let edit = json!({"name": "Gala", "venue": "Hall", "startsAt": "2099-01-03T19:00:00Z",
                      "description": "Black tie"});
    let reply = send(app, &creator, Method::PUT, &path, edit.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let expected = json!({"name": "Gala", "version": 1, "description": "Black tie"});
    assert_eq!(pick(&reply.body, "name version description"), expected);
    assert_eq!(app.get(&path).await.body, reply.body);

    // Anonymous, then not the creator: 401, even for a body that would not validate.
    for request in [
        app.client.post(app.url("/api/events")),
        app.client.put(app.url(&path)),
    ] {
        let reply = app.send(request.json(&json!({"name": ""}))).await;
        assert_eq!(reply.error_messages(), ["Not authorized"]);
    }
    let stranger_edit = send(app, &stranger, Method::PUT, &path, json!({})).await;
    assert_eq!(stranger_edit.status, 401);
    let past = with(edit.clone(), json!({"startsAt": "2000-01-01T00:00:00Z"}));
    let invalid = send(app, &creator, Method::PUT, &path, past).await;
    assert_eq!(errors(&invalid), field("startsAt", FUTURE));
    let onto = json!({"name": "opera ", "venue": "ARENA", "startsAt": "2099-01-01T20:00:00+01:00"});
    let collision = send(app, &creator, Method::PUT, &path, onto).await;
    assert_eq!(errors(&collision), field("name", "Event already exists"));
    assert_eq!(app.get(&path).await.body["version"], 1, "nothing changed");
    for unknown in [UNKNOWN_ID, "garbage"] {
        let path = format!("/api/events/{unknown}");
        let reply = send(app, &creator, Method::PUT, &path, edit.clone()).await;
        assert_eq!(reply.status, 404);
        assert_eq!(reply.error_messages(), ["Not found"]);
    }
    site.assert_settled().await;
}

async fn tickets_are_listed_for_events_with_serials_unique_per_event(site: Site) {
    let app = site.apps()[1];
    let (creator, seller, buyer) = (site.user().await, site.user().await, site.user().await);
    let concert = event(app, &creator, "Concert", "2099-05-01T20:00:00Z").await;
    let other = event(app, &creator, "Other", "2099-05-02T20:00:00Z").await;
    let spaced = json!({"eventId": concert, "serialNumber": " A-1 "});
    let front = ticket(app, &seller, 80.0, spaced).await;
    assert_eq!(front.status, 201, "{}", front.body);
    let placed = json!({"eventId": concert, "serialNumber": "A-1"});
    assert_eq!(pick(&front.body, "eventId serialNumber"), placed);
    let back = ticket(app, &seller, 20.5, json!({"eventId": concert})).await;
    assert_eq!(back.status, 201, "{}", back.body);
    assert_eq!(back.body["serialNumber"], Value::Null);
    let plain = app.listed_ticket(&seller, "No event", 5.0).await;
    let nothing = json!({"eventId": null, "serialNumber": null});
    assert_eq!(pick(&plain, "eventId serialNumber"), nothing);
    let taken = ticket(app, &seller, 10.0, placed.clone()).await;
    assert_eq!(errors(&taken), field("serialNumber", TAKEN));
    let elsewhere = json!({"eventId": other, "serialNumber": "A-1"});
    let elsewhere = ticket(app, &seller, 10.0, elsewhere).await;
    assert_eq!(elsewhere.status, 201, "serials are per event");
    let long = "SerialNumber must be a string of 1 to 64 characters";
    let long_serial = json!({"eventId": concert, "serialNumber": "s".repeat(65)});
    for (extra, name, message) in [
        (json!({"eventId": UNKNOWN_ID}), "eventId", NO_EVENT),
        (json!({"eventId": "garbage"}), "eventId", NO_EVENT),
        (json!({"serialNumber": "A-9"}), "serialNumber", SERIAL_ALONE),
        (long_serial, "serialNumber", long),
    ] {
        let reply = ticket(app, &seller, 10.0, extra.clone()).await;
        assert_eq!(errors(&reply), field(name, message), "{extra}");
    }
    let listed = app.get(&format!("/api/tickets?eventId={concert}")).await;
    let ids = [front.body["id"].clone(), back.body["id"].clone()];
    assert_eq!(each(&listed.body, "id"), ids);
    assert_eq!(total(&listed), "2");
    let cheap = format!("/api/tickets?eventId={concert}&maxPrice=50");
    assert_eq!(total(&app.get(&cheap).await), "1", "filters combine");
    let bad = app.get("/api/tickets?eventId=garbage").await;
    assert_eq!(each(&errors(&bad), "field"), ["eventId"]);
    let shown = app.get(&format!("/api/events/{concert}")).await.body;
    let counts = json!({"ticketsAvailable": 2, "minPrice": 20.5});
    assert_eq!(pick(&shown, "ticketsAvailable minPrice"), counts);

    // Held tickets are not available, and still block their serial.
    let orders = site.apps()[2];
    for held in &ids {
        let reply = orders.order(&buyer, held.as_str().expect("id")).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    eventually("both tickets are held", || async {
        let shown = app.get(&format!("/api/events/{concert}")).await.body;
        shown["ticketsAvailable"] == 0 && shown["minPrice"].is_null()
    })
    .await;
    let again = ticket(app, &seller, 10.0, placed).await;
    assert_eq!(errors(&again), field("serialNumber", TAKEN));
    site.assert_settled().await;
}

async fn editing_a_ticket_keeps_its_event_unless_told_otherwise(site: Site) {
    let app = site.apps()[1];
    let (creator, seller) = (site.user().await, site.user().await);
    let concert = event(app, &creator, "Concert", "2099-05-01T20:00:00Z").await;
    let other = event(app, &creator, "Other", "2099-05-02T20:00:00Z").await;
    let placed = json!({"eventId": concert, "serialNumber": "B-7"});
    let listed = ticket(app, &seller, 10.0, placed.clone()).await;
    let path = format!("/api/tickets/{}", listed.body["id"].as_str().expect("id"));
    let edit = |extra: Value| {
        let body = with(json!({"title": "Seat", "price": 12}), extra);
        send(app, &seller, Method::PUT, &path, body)
    };
    let placement = |reply: Reply| {
        assert_eq!(reply.status, 200, "{}", reply.body);
        pick(&reply.body, "eventId serialNumber")
    };
    let (c, o, none) = (json!(concert), json!(other), Value::Null);
    let place = |event: &Value, serial: &Value| json!({"eventId": event, "serialNumber": serial});
    for (change, expected) in [
        (json!({}), placed.clone()),
        (json!({"serialNumber": "B-8"}), place(&c, &json!("B-8"))),
        (json!({"eventId": other}), place(&o, &none)),
        (placed.clone(), placed.clone()),
        (json!({"serialNumber": null}), place(&c, &none)),
        (json!({"eventId": null}), place(&none, &none)),
    ] {
        assert_eq!(placement(edit(change.clone()).await), expected, "{change}");
    }
    let orphan = edit(json!({"serialNumber": "B-9"})).await;
    assert_eq!(errors(&orphan), field("serialNumber", SERIAL_ALONE));
    let unknown = edit(json!({"eventId": UNKNOWN_ID})).await;
    assert_eq!(errors(&unknown), field("eventId", NO_EVENT));
    let kept = placement(edit(json!({"eventId": concert})).await);
    assert_eq!(kept, place(&c, &none));
    assert_eq!(app.get(&path).await.body["version"], 7, "seven edits saved");
    site.assert_settled().await;
}

async fn a_started_event_takes_no_more_tickets_and_leaves_the_catalogue(site: Site) {
    let app = site.apps()[1];
    let (creator, seller) = (site.user().await, site.user().await);
    let soon = OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let soon = soon.format(&Rfc3339).expect("time");
    let id = event(app, &creator, "Soon", &soon).await;
    let listed = ticket(app, &seller, 10.0, json!({"eventId": id})).await;
    assert_eq!(listed.status, 201, "{}", listed.body);
    eventually("the event has started", || async {
        total(&app.get("/api/events?q=soon").await) == "0"
    })
    .await;
    let started = field("eventId", "Event has already started");
    let relisted = ticket(app, &seller, 10.0, json!({"eventId": id})).await;
    assert_eq!(errors(&relisted), started);
    let path = format!("/api/tickets/{}", listed.body["id"].as_str().expect("id"));
    let edit = json!({"title": "Seat", "price": 12});
    let edited = send(app, &seller, Method::PUT, &path, edit).await;
    assert_eq!(errors(&edited), started, "the kept event has started too");
    let shown = app.get(&format!("/api/events/{id}")).await;
    assert_eq!(shown.status, 200, "still shown by id");
    assert_eq!(shown.body["name"], "Soon");
    site.assert_settled().await;
}
