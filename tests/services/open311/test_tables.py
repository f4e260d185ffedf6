"""The Open311 private tables on both engines: catalogue replaced whole, requests with their
reporter and history in one transaction, filters and paging, status changes and their undo."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from madina.config import Settings
from madina.store.open311 import (
    AppKey,
    CatalogueRecord,
    JurisdictionTaken,
    NewRequest,
    Reporter,
    RequestFilter,
    RequestRecord,
    ServiceArea,
    StatusChange,
)
from madina.store.open311_tables import Open311Tables

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}


@pytest.fixture
def tables(settings: Settings) -> Iterator[Open311Tables]:
    store = settings.store()
    store.open()
    try:
        yield store.open311
    finally:
        store.close()


def catalogue(jurisdiction_id: str = "city.example") -> CatalogueRecord:
    return CatalogueRecord(
        jurisdiction_id=jurisdiction_id, jurisdiction={"name": "City"},
        groups=(("streets", {"name": "Streets"}),),
        services=(("pothole", {"n": 1}), ("graffiti", {"n": 2})),
        departments=(("roads", {"name": "Roads"}),),
        areas=(ServiceArea("roads", "pothole", SQUARE, (0.0, 0.0, 1.0, 1.0)),),
        changed_at="2026-01-01T00:00:00.000000Z",
    )


def request(at: str, service: str = "pothole", status: str = "open") -> NewRequest:
    record = RequestRecord(
        tenant="", id="", token=f"token-{at}-{service}", service_code=service,
        service_name=service.title(), department="roads", agency_responsible="Roads",
        status=status, status_notes=None, description="a hole", lat=0.5, long=0.5,
        address=None, address_id=None, zipcode=None, media_url=None, attributes={"size": "s"},
        service_notice=None, requested_at=at, updated_at=at)
    return NewRequest(record, Reporter(email="ana@example.org", created_at=at),
                      StatusChange(at, status))


def test_the_catalogue_is_replaced_whole(tables: Open311Tables) -> None:
    tables.replace_catalogue("", catalogue())
    assert tables.catalogue("") == catalogue()
    assert tables.jurisdiction_tenant("city.example") == ""
    smaller = CatalogueRecord("city.example", {"name": "City"}, (), (("graffiti", {}),), (), (),
                              "2026-01-02T00:00:00.000000Z")
    tables.replace_catalogue("", smaller)
    assert tables.catalogue("") == smaller
    assert tables.service("", "pothole") is None
    assert tables.catalogue_changed_at("") == "2026-01-02T00:00:00.000000Z"
    assert tables.catalogue_changed_at("elsewhere") is None


def test_a_jurisdiction_belongs_to_one_tenant(tables: Open311Tables) -> None:
    tables.replace_catalogue("a", catalogue())
    with pytest.raises(JurisdictionTaken):
        tables.replace_catalogue("b", catalogue())
    assert tables.catalogue("b") == CatalogueRecord()
    assert tables.jurisdiction_tenant("city.example") == "a"


def test_a_request_is_stored_with_its_reporter_and_history(tables: Open311Tables) -> None:
    (stored,) = tables.add_requests([request("2026-01-01T10:00:00.000000Z")])
    assert stored.id.isdigit()
    assert tables.request("", stored.id) == stored
    assert tables.request("other", stored.id) is None
    assert tables.reporters("", stored.id)[0].email == "ana@example.org"
    (first,) = tables.history("", [stored.id])[stored.id]
    assert (first.at, first.state, first.note, first.id > 0) == (
        "2026-01-01T10:00:00.000000Z", "open", None, True)
    assert tables.request_id_of_token("", stored.token) == stored.id
    with tables._atomic() as run:
        tables.remove_request(run, "", stored.id)
    assert tables.request("", stored.id) is None
    assert tables.reporters("", stored.id) == []
    (again,) = tables.add_requests([request("2026-01-01T10:00:00.000000Z")])
    assert int(again.id) > int(stored.id), "a number is never given out twice"


def test_filters_paging_and_ids(tables: Open311Tables) -> None:
    ids = [r.id for r in tables.add_requests([
        request(f"2026-01-0{day}T00:00:00.000000Z", service, status)
        for day, service, status in ((1, "pothole", "open"), (2, "graffiti", "open"),
                                     (3, "pothole", "closed"), (4, "pothole", "open"))])]
    def found(**kw) -> list[str]:
        return [r.id for r in tables.requests("", RequestFilter(**kw))]
    assert found() == ids[::-1]
    assert found(service_codes=["pothole"]) == [ids[3], ids[2], ids[0]]
    assert found(statuses=["closed"]) == [ids[2]]
    assert found(start="2026-01-02T00:00:00.000000Z", end="2026-01-03T00:00:00.000000Z") == \
        [ids[2], ids[1]]
    assert found(limit=2, offset=1) == [ids[2], ids[1]]
    assert [r.id for r in tables.requests_by_id("", [ids[0], "x", "99999", ids[3]])] == \
        [ids[3], ids[0]]


def test_a_state_change_is_stored_with_its_history_or_not_at_all(
        tables: Open311Tables) -> None:
    (stored,) = tables.add_requests([request("2026-01-01T10:00:00.000000Z")])
    change = StatusChange("2026-01-02T10:00:00.000000Z", "closed", "Filled", "staff-1",
                          "fixed")
    with tables._atomic() as run:
        before = tables.lock_request(run, "", stored.id)
        after = tables.save_state(run, replace(
            before, state="closed", status="closed", status_notes="Filled", reason="fixed",
            updated_at=change.at), change)
    assert before == stored
    assert (after.state, after.status, after.status_notes, after.reason) == (
        "closed", "closed", "Filled", "fixed")
    assert tables.request("", stored.id) == after
    last = tables.history("", [stored.id])[stored.id][-1]
    assert (last.state, last.note, last.author, last.reason) == (
        "closed", "Filled", "staff-1", "fixed")
    with pytest.raises(RuntimeError), tables._atomic() as run:
        tables.save_state(run, replace(after, state="reopened", status="open"), change)
        raise RuntimeError("the entity could not be written")
    assert tables.request("", stored.id) == after, "rolled back with the transaction"
    assert len(tables.history("", [stored.id])[stored.id]) == 2
    with tables._atomic() as run:
        assert tables.lock_request(run, "", "424242") is None
        assert tables.lock_request(run, "", "not-a-number") is None


def test_app_keys(tables: Open311Tables) -> None:
    key = AppKey("k1", "", "app", "hash-1", False, "2026-01-01T00:00:00.000000Z")
    tables.add_app_key(key)
    assert tables.app_key_by_secret("hash-1") == key
    assert tables.app_keys("") == [key]
    assert tables.app_keys("other") == []
    assert tables.set_app_key_disabled("other", "k1", True) is None
    assert tables.set_app_key_disabled("", "k1", True).disabled
