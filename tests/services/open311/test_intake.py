"""The intake's group commit: submissions that arrive together are stored with their entities in
one transaction, each standing alone inside it (one refused does not refuse the others), and a
failed transaction stores none of them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from madina.auth.setup import runner
from madina.config import Settings
from madina.context.broker import Broker
from madina.context.errors import AlreadyExists
from madina.context.jsonld import ContextResolver
from madina.services.open311.catalogue import parse_catalogue
from madina.services.open311.intake import Intake, Pending
from madina.services.open311.service import Open311Service, Submitter
from madina.services.open311.submission import read_form
from madina.store.base import Store
from tests.services.open311.conftest import CATALOGUE, INSIDE_WEST, REPORTER


@pytest.fixture
def parts(settings: Settings) -> Iterator[tuple[Store, Broker, Open311Service]]:
    store = settings.store()
    store.open()
    try:
        broker = Broker(store)
        open311 = Open311Service(store, broker)
        open311.replace_catalogue("", parse_catalogue(CATALOGUE))
        yield store, broker, open311
    finally:
        store.close()


def pending(open311: Open311Service, store: Store, description: str) -> Pending:
    form = [("service_code", "pothole"), ("attribute[size]", "s"),
            ("description", description), *INSIDE_WEST.items(), *REPORTER.items()]
    new, service, links = open311.accept("", read_form(form), Submitter(),
                                         "https://city.example")
    return Pending(new, service, links, ContextResolver(store=store).core())


def test_submissions_arriving_together_share_one_transaction(parts) -> None:
    store, broker, open311 = parts
    transactions: list[int] = []
    broker.committed.append(lambda events: transactions.append(len(events)))
    first = open311.tables.add_requests([pending(open311, store, "seed").new])[0]
    squatted = f"urn:ngsi-ld:Open311ServiceRequest:{int(first.id) + 3}"
    broker.create("", {"id": squatted, "type": "Thing"}, ContextResolver(store=store).core())
    transactions.clear()

    async def burst() -> list:
        intake = Intake(open311.tables, broker, runner(store, None))
        return await asyncio.gather(
            *(intake.submit(pending(open311, store, f"hole {i}")) for i in range(6)),
            return_exceptions=True)

    outcomes = asyncio.run(burst())
    assert transactions == [5], "one transaction wrote the five entities"
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1 and isinstance(refused[0], AlreadyExists)
    stored = [o for o in outcomes if not isinstance(o, Exception)]
    assert [r.description for r in stored] == ["hole 0", "hole 1", "hole 3", "hole 4",
                                               "hole 5"]
    listed = {r.id for r in open311.tables.requests_by_id("", [r.id for r in stored])}
    assert listed == {r.id for r in stored}
    for record in stored:
        entity = broker.get("", f"urn:ngsi-ld:Open311ServiceRequest:{record.id}")
        assert entity["id"].endswith(f":{record.id}")
    assert open311.tables.request("", str(int(first.id) + 3)) is None, "taken back"
    assert open311.tables.reporters("", str(int(first.id) + 3)) == []


def test_a_failed_transaction_stores_none_of_its_submissions(parts) -> None:
    """An error no submission can be blamed for alone (here a bug: a submission without its
    @context) rolls the whole transaction back; every submission in it is answered with it."""
    store, broker, open311 = parts
    batch = [pending(open311, store, f"hole {i}") for i in range(3)]
    broken = Pending(batch[1].new, batch[1].service, batch[1].links, None)
    intake = Intake(open311.tables, broker, runner(store, None))
    outcomes = intake.write([batch[0], broken, batch[2]])
    assert all(isinstance(o, Exception) for o in outcomes)
    assert len({id(o) for o in outcomes}) == 1, "the one error, for each"
    assert open311.tables.requests_by_id("", [str(i) for i in range(1, 10)]) == []
    assert [store.get("", f"urn:ngsi-ld:Open311ServiceRequest:{i}") for i in range(1, 4)] \
        == [None] * 3
