"""The subscription tables and the notification outbox behave the same on both engines."""

from __future__ import annotations

from madina.store.base import Store
from madina.store.subscriptions import NewDelivery, Outcome

T0 = "2026-11-21T08:00:00.000000Z"
T1 = "2026-11-21T08:00:01.000000Z"


def doc(n: int) -> dict:
    return {"id": f"urn:ngsi-ld:Subscription:{n}", "type": "Subscription"}


def delivery(n: int, tenant: str = "") -> NewDelivery:
    return NewDelivery(tenant, f"urn:ngsi-ld:Subscription:{n}", "http://127.0.0.1:9",
                       {"uri": "http://127.0.0.1:9/notify", "body": {"n": n}})


def test_documents_per_tenant_and_the_revision(store: Store) -> None:
    subs = store.subscriptions
    start = subs.revision()
    assert subs.add("", doc(1), T0)
    assert not subs.add("", doc(1), T1)  # same tenant and id: nothing written
    assert subs.add("city", doc(1), T1)
    assert store.tenant_exists("city")  # a subscription creates its tenant, as an entity does
    assert subs.revision() == start + 2
    assert subs.get("", doc(1)["id"]).doc == doc(1)
    assert subs.get("other", doc(1)["id"]) is None
    for n in (2, 3):
        subs.add("", doc(n), T1)
    page, total = subs.page("", limit=2, offset=1)
    assert total == 3
    assert [s.id for s in page] == [doc(2)["id"], doc(3)["id"]]
    assert subs.replace("", {**doc(2), "q": "a>1"}, T1)
    assert not subs.replace("", doc(9), T1)
    assert subs.get("", doc(2)["id"]).doc["q"] == "a>1"
    assert subs.delete("", doc(3)["id"])
    assert not subs.delete("", doc(3)["id"])
    assert [(s.tenant, s.id) for s in subs.every()] == [
        ("", doc(1)["id"]), ("", doc(2)["id"]), ("city", doc(1)["id"])]
    assert subs.revision() == start + 6


def test_enqueue_moves_the_cursor_with_the_rows(store: Store) -> None:
    subs = store.subscriptions
    assert subs.cursor("notifier") is None
    queued = subs.enqueue("notifier", "42", [delivery(1), delivery(2)], "me", 160.0, 100.0)
    assert [d.request["body"] for d in queued] == [{"n": 1}, {"n": 2}]
    assert queued[0].seq < queued[1].seq
    assert subs.cursor("notifier") == "42"
    subs.enqueue("notifier", "43", [], "me", 160.0, 100.0)
    assert subs.cursor("notifier") == "43"
    subs.init_cursor("notifier", "7")  # a starting process never moves a cursor back
    assert subs.cursor("notifier") == "43"
    subs.init_cursor("other", "7")
    assert subs.cursor("other") == "7"
    assert subs.pending() == 2
    # Claimed by "me" until 160: nobody else gets them before the lease runs out.
    assert subs.claim("other", 150.0, 60.0, 10) == []
    taken = subs.claim("other", 161.0, 60.0, 10)
    assert [d.seq for d in taken] == [d.seq for d in queued]


def test_retry_release_and_delivered(store: Store) -> None:
    subs = store.subscriptions
    first, second = subs.enqueue("notifier", None, [delivery(1), delivery(2)], "me", 160.0, 100.0)
    # Failed once: "me" retries it at 130, and holds it until 190 in case that fails too.
    subs.retry("me", [(first.seq, 1, 130.0, 190.0)])
    assert subs.claim("other", 150.0, 60.0, 10) == []
    subs.release("me")  # a clean shutdown gives its claims back at once
    assert [d.seq for d in subs.claim("other", 120.0, 60.0, 10)] == [second.seq]
    again = subs.claim("third", 130.0, 60.0, 10)
    assert [(d.seq, d.attempts) for d in again] == [(first.seq, 1)]
    subs.delivered([first.seq, second.seq])
    assert subs.pending() == 0


def test_deleting_a_subscription_drops_its_notifications(store: Store) -> None:
    subs = store.subscriptions
    subs.add("", doc(1), T0)
    subs.enqueue("notifier", None, [delivery(1), delivery(2)], "me", 160.0, 100.0)
    subs.delete("", doc(1)["id"])
    assert [d.subscription_id for d in subs.claim("x", 200.0, 60.0, 10)] == [doc(2)["id"]]


def test_outcomes_add_up_and_keep_the_latest_times(store: Store) -> None:
    subs = store.subscriptions
    subs.add("", doc(1), T0)
    sid = doc(1)["id"]
    subs.record([Outcome("", sid, sent=3, failed=1, last_notification=T1, last_success=T1,
                         last_failure=T0, status="ok")])
    subs.record([Outcome("", sid, sent=1, last_notification=T0, last_success=T0, status=None)])
    got = subs.get("", sid)
    assert (got.times_sent, got.times_failed) == (4, 1)
    assert (got.last_notification, got.last_success, got.last_failure) == (T1, T1, T0)
    assert got.delivery_status == "ok"
