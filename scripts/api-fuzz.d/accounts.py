"""Accounts and data for scripts/api-fuzz, and the check that one user can never read or
change another's orders, payments or listings.

    python3 accounts.py seed  URL STATE   # two users and some listings; tokens in STATE
    python3 accounts.py check URL STATE   # object-level authorization, user B against A

`seed` signs up user A (the fuzzer's identity) and user B, and lists tickets of B's for
sale, so that the fuzzer, as A, has tickets it may order (its own it may not).

`check` walks both users through the flows and asserts that B gets the contract's answer
for someone else's objects — 401 `Not authorized` — for A's orders, payments and
listings, and never sees them in its own lists; and the same the other way round for B's
listings.
"""

import json
import sys

import requests

PASSWORD = "fuzz-password-1"
TIMEOUT = 30


class User:
    def __init__(self, base, email):
        self.base = base
        self.email = email
        reply = requests.post(
            f"{base}/api/users/signup",
            json={"email": email, "password": PASSWORD},
            timeout=TIMEOUT,
        )
        if reply.status_code == 400:  # a rerun against the same data
            reply = requests.post(
                f"{base}/api/users/signin",
                json={"email": email, "password": PASSWORD},
                timeout=TIMEOUT,
            )
        reply.raise_for_status()
        self.id = reply.json()["id"]
        self.token = reply.cookies["session"]

    def call(self, method, path, body=None):
        return requests.request(
            method,
            f"{self.base}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=TIMEOUT,
        )

    def ok(self, method, path, body=None, status=200):
        reply = self.call(method, path, body)
        assert reply.status_code == status, (
            f"{self.email}: {method} {path} answered {reply.status_code}, not {status}: {reply.text}"
        )
        return reply.json() if reply.content else None

    def list_ticket(self, title, price):
        return self.ok("POST", "/api/tickets", {"title": title, "price": price}, 201)


def seed(base, state):
    a = User(base, "fuzz-a@example.com")
    b = User(base, "fuzz-b@example.com")
    for n in range(20):
        b.list_ticket(f"Seat {n + 1} of B", 10 + n)
    with open(state, "w") as out:
        json.dump({"a": a.token, "b": b.token}, out)


FAILURES = []


def expect_refused(user, method, path, body=None, what=""):
    reply = user.call(method, path, body)
    if reply.status_code != 401 or reply.json() != {"errors": [{"message": "Not authorized"}]}:
        FAILURES.append(
            f"{user.email}: {method} {path} ({what}) answered {reply.status_code}: {reply.text[:200]}"
        )
    else:
        print(f"  ok  {method} {path} as {user.email}: 401 ({what})")


def check(base):
    a = User(base, "owner-a@example.com")
    b = User(base, "other-b@example.com")

    # A's objects: a listing, an order of B's ticket, a payment for it, and a second order
    # A still holds (created, not paid).
    mine = a.list_ticket("A's listing", 42)
    paid_ticket = b.list_ticket("B's listing, bought by A", 30)
    held_ticket = b.list_ticket("B's listing, held by A", 31)
    order = a.ok("POST", "/api/orders", {"ticketId": paid_ticket["id"]}, 201)
    payment = a.ok("POST", "/api/payments", {"orderId": order["id"], "token": "tok_visa"}, 201)
    held = a.ok("POST", "/api/orders", {"ticketId": held_ticket["id"]}, 201)
    secure_ticket = b.list_ticket("B's listing, 3-D Secure", 32)
    secure_order = a.ok("POST", "/api/orders", {"ticketId": secure_ticket["id"]}, 201)
    secure = a.ok(
        "POST",
        "/api/payments",
        {"orderId": secure_order["id"], "token": "tok_threeDSecure2Required"},
        201,
    )

    print("api-fuzz: user B against user A's objects")
    for o in (order, held):
        expect_refused(b, "GET", f"/api/orders/{o['id']}", what="read A's order")
        expect_refused(b, "DELETE", f"/api/orders/{o['id']}", what="cancel A's order")
    expect_refused(b, "POST", "/api/payments", {"orderId": held["id"], "token": "tok_visa"},
                   what="pay for A's order")
    for p in (payment, secure):
        expect_refused(b, "GET", f"/api/payments/{p['id']}", what="read A's payment")
    expect_refused(
        b, "POST", f"/api/payments/{secure['id']}/authenticate",
        {"clientSecret": secure.get("clientSecret") or "x", "success": True},
        what="finish A's 3-D Secure",
    )
    expect_refused(b, "PUT", f"/api/tickets/{mine['id']}", {"title": "Mine now", "price": 1},
                   what="edit A's listing")
    expect_refused(b, "DELETE", f"/api/tickets/{mine['id']}", what="withdraw A's listing")

    print("api-fuzz: user A against user B's listings")
    expect_refused(a, "PUT", f"/api/tickets/{held_ticket['id']}", {"title": "x", "price": 1},
                   what="edit B's listing")
    expect_refused(a, "DELETE", f"/api/tickets/{paid_ticket['id']}", what="withdraw B's listing")

    # B's own lists never show A's orders.
    listed = {o["id"] for o in b.ok("GET", "/api/orders")}
    leaked = listed & {order["id"], held["id"], secure_order["id"]}
    if leaked:
        FAILURES.append(f"GET /api/orders as B lists A's orders {sorted(leaked)}")

    # And nothing changed: A's objects are as A left them.
    assert a.ok("GET", f"/api/orders/{held['id']}")["status"] == "created"
    assert a.ok("GET", f"/api/tickets/{mine['id']}")["title"] == "A's listing"
    assert a.ok("GET", f"/api/payments/{payment['id']}")["orderId"] == order["id"]

    if FAILURES:
        print("api-fuzz: object-level authorization FAILED:", file=sys.stderr)
        for failure in FAILURES:
            print(f"  {failure}", file=sys.stderr)
        sys.exit(1)
    print("api-fuzz: object-level authorization: every cross-user request refused")


if __name__ == "__main__":
    command, base, state = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3]
    if command == "seed":
        seed(base, state)
    elif command == "check":
        check(base)
    else:
        sys.exit(f"unknown command {command}")
