"""Domain services at work: changes of the entity types they watch go in, derived attributes
and alerts come back through the broker.

One process of all the workers sharing a database runs the services (`Store.try_lead`), so a
change is derived once; the others stand by and take over when the leader goes. Events come
from the process's change feed in commit order; each batch of events is reacted to and its
writes committed in one broker transaction per tenant, which keeps pace with ingestion.

Services speak compact Smart Data Models names. Stored names are IRIs; they are compacted to
their local names (`…/dataModel.Environment/pm25` → `pm25`) and derived names are expanded in
the namespace of the observed entity's type, so derived attributes sit beside the observed
ones whatever @context the devices used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from madina.context.broker import Broker
from madina.context.jsonld import CORE_CONTEXT_URL
from madina.context.jsonld_shipped import load_shipped
from madina.context.jsonld_terms import TermMap, build_term_map
from madina.context.representation import render_entity
from madina.domains.writes import Write
from madina.events.feed import ChangeFeed
from madina.events.model import DELETED, ChangeEvent
from madina.metrics import DOMAIN_BACKLOG, DOMAIN_EVENTS, DOMAIN_WRITES
from madina.tasks import cancel

log = structlog.get_logger("madina.domains")

LEAD_ROLE = "domains"
RETRY_LEAD_SECONDS = 5.0
MAX_BATCH = 2000


class DomainService(Protocol):
    watched_types: frozenset[str]

    def react(self, entity: dict[str, Any], now: datetime) -> list[Write]: ...


def local_name(iri: str) -> str:
    """The last segment of an IRI: the Smart Data Models term whatever the namespace."""
    return iri.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def namespace(iri: str) -> str:
    return iri[: len(iri) - len(local_name(iri))] if "/" in iri or "#" in iri else ""


class LocalNames:
    """A TermMap that compacts every IRI to its local name (for the services' input)."""

    def expand(self, term: str) -> str:
        return term

    def compact(self, iri: str) -> str:
        return local_name(iri)

    expand_vocab = expand
    compact_vocab = compact


class DomainRuntime:
    def __init__(
        self,
        broker: Broker,
        feed: ChangeFeed,
        services: Iterable[DomainService],
        publish: Callable[[str, list[Any]], Any] | None = None,
    ) -> None:
        self.broker = broker
        self.feed = feed
        self.services = list(services)
        self.publish = publish
        """Stores the public warnings (CAP messages) services issued, per tenant, once the
        Alert entities they accompany are committed."""
        self._issuers = {id(s.issuer): s.issuer for s in self.services if hasattr(s, "issuer")}
        self._by_type: dict[str, list[DomainService]] = {}
        for service in self.services:
            for watched in service.watched_types:
                self._by_type.setdefault(watched, []).append(service)
        self._core = load_shipped(CORE_CONTEXT_URL)["@context"]  # type: ignore[index]
        self._terms: dict[str, TermMap] = {}
        self._derived: set[str] = set()
        """Expanded names the services have written: changes of only these are their own
        echoes, not news (reacting to them would loop)."""
        self._queue: list[ChangeEvent] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.leading: Callable[[], bool] | None = None

    async def start(self) -> None:
        if self.services:
            self._task = asyncio.create_task(self._run(), name="madina-domains")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None
        self.feed.unsubscribe(self._take)

    def _take(self, events: list[ChangeEvent]) -> None:
        self._queue.extend(e for e in events if self._wanted(e))
        DOMAIN_BACKLOG.set(len(self._queue))
        if self._queue:
            self._ready.set()

    def _watches(self, types: list[str]) -> bool:
        return any(local_name(t) in self._by_type for t in types)

    def _wanted(self, event: ChangeEvent) -> bool:
        if event.kind == DELETED or not self._watches(event.types):
            return False
        return not event.attributes or not set(event.attributes) <= self._derived

    async def _run(self) -> None:
        while self.leading is None:
            self.leading = await self._call(self.broker.store.try_lead, LEAD_ROLE)
            if self.leading is None:
                await asyncio.sleep(RETRY_LEAD_SECONDS)
        log.info("domain services started", services=[type(s).__name__ for s in self.services])
        self.feed.subscribe(self._take, self._watches)
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                DOMAIN_BACKLOG.set(len(self._queue))
                try:
                    await self._call(self.process, batch)
                except Exception:
                    log.exception("domain services failed on a batch", events=len(batch))

    def process(self, events: list[ChangeEvent]) -> None:
        """React to a batch of events and commit what the services derive."""
        now = datetime.now(UTC)
        per_tenant: dict[str, list[tuple[dict[str, Any], TermMap]]] = {}
        messages: dict[str, list[Any]] = {}
        names = LocalNames()
        for event in events:
            assert event.entity is not None
            entity = render_entity(event.entity, names)
            terms = self._terms_for(namespace(event.types[0]))
            for type_name in {local_name(t) for t in event.types}:
                for service in self._by_type.get(type_name, ()):
                    try:
                        writes = service.react(entity, now)
                    except Exception:
                        log.exception("domain service failed", service=type(service).__name__,
                                      entity=event.entity_id)
                        continue
                    items = per_tenant.setdefault(event.tenant, [])
                    for write in writes:
                        items.append((self._body(write), terms))
                        self._derived.update(terms.expand(name) for name in write.attributes)
            for issuer in self._issuers.values():
                messages.setdefault(event.tenant, []).extend(issuer.take_messages())
            DOMAIN_EVENTS.inc()
        for tenant, items in per_tenant.items():
            if items:
                result = self.broker.batch_upsert(tenant, items, replace=False)
                DOMAIN_WRITES.inc(len(result.success))
                for error in result.errors:
                    log.warning("derived write refused", entity=error["entityId"],
                                problem=error["error"].get("detail"))
        for tenant, issued in messages.items():
            if issued and self.publish is not None:
                self.publish(tenant, issued)

    @staticmethod
    def _body(write: Write) -> dict[str, Any]:
        return {"id": write.entity_id, "type": write.entity_type, **write.attributes}

    def _terms_for(self, base: str) -> TermMap:
        terms = self._terms.get(base)
        if terms is None:
            layers = [{"@vocab": base}] if base else []
            terms = self._terms[base] = build_term_map(layers, self._core)
        return terms

    async def _call(self, function: Callable[..., Any], *args: Any) -> Any:
        if self.broker.store.runs_on_loop:
            return function(*args)
        return await asyncio.to_thread(function, *args)
