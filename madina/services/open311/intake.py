"""Storing submitted requests: each with its reporter, its first history row, its entity and the
area-alert e-mails it sends, in one transaction — and the submissions that arrive together
share it (group commit).

A submission is checked and routed first, in its own HTTP request (madina.services.open311
.service.accept); then it joins the queue here and waits. The first waiter starts a flush, which
writes everything queued in one transaction per tenant; submissions arriving meanwhile form the
next one. Under load a commit (and the history and change-log rows an entity write brings) is
shared by dozens of submissions; alone, a submission waits for nothing.

Inside a transaction each submission stands alone: one whose entity id is taken (an entity
created through the NGSI-LD API with a request's future id) is taken back and answered 409,
the others commit. A failed transaction fails all of its submissions, none stored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from madina.auth.identities import Runner
from madina.context.broker import Broker, now_iso
from madina.context.entity_parse import parse_entity
from madina.context.errors import AlreadyExists, NgsiError
from madina.context.jsonld import TermMap
from madina.services.open311 import alerts
from madina.services.open311.catalogue import Service
from madina.services.open311.entity import entity
from madina.services.open311.notices import Links
from madina.store.open311 import NewRequest, RequestRecord
from madina.store.open311_tables import Open311Tables

MAX_BATCH = 500
"""Submissions per transaction at most (a transaction holds the write lock while it runs)."""


@dataclass(frozen=True)
class Pending:
    new: NewRequest
    service: Service
    links: Links
    terms: TermMap


Outcome = RequestRecord | Exception


class Intake:
    def __init__(self, tables: Open311Tables, broker: Broker, run: Runner,
                 queued_mail: Callable[[], None] = lambda: None) -> None:
        self.tables = tables
        self.broker = broker
        self.run = run
        self.queued_mail = queued_mail
        """Called after a transaction that queued e-mails committed (wakes the sender)."""
        self._pending: list[tuple[Pending, asyncio.Future[RequestRecord]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, pending: Pending) -> RequestRecord:
        """The stored request, once committed with its entity; raises what refused it."""
        stored = asyncio.get_running_loop().create_future()
        self._pending.append((pending, stored))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await stored

    async def _flush(self) -> None:
        while self._pending:
            batch = self._pending[:MAX_BATCH]
            del self._pending[:MAX_BATCH]
            try:
                outcomes = await self.run(self.write, [pending for pending, _ in batch])
            except Exception as exc:
                outcomes = [exc] * len(batch)
            for (_, stored), outcome in zip(batch, outcomes, strict=True):
                if stored.done():  # its client went away; the request is stored all the same
                    continue
                if isinstance(outcome, Exception):
                    stored.set_exception(outcome)
                else:
                    stored.set_result(outcome)

    def write(self, batch: list[Pending]) -> list[Outcome]:
        """Store and publish `batch` (blocking), one transaction per tenant; an outcome per
        submission, in order."""
        outcomes: dict[int, Outcome] = {}
        tenants: dict[str, list[int]] = {}
        for position, pending in enumerate(batch):
            tenants.setdefault(pending.new.record.tenant, []).append(position)
        mailed = False
        for tenant, positions in tenants.items():
            try:
                done, mails = self._write_tenant(tenant, [batch[i] for i in positions])
            except Exception as exc:
                done, mails = [exc] * len(positions), 0
            outcomes.update(zip(positions, done, strict=True))
            mailed = mailed or mails > 0
        if mailed:
            self.queued_mail()
        return [outcomes[position] for position in range(len(batch))]

    def _write_tenant(self, tenant: str, batch: list[Pending]) -> tuple[list[Outcome], int]:
        now = now_iso()
        outcomes: list[Outcome] = []
        with self.broker.transaction(tenant) as tx:
            run = self.tables.executor(tx.tx)
            records = [self.tables.insert_request(run, p.new) for p in batch]
            docs: list[dict | Exception] = []
            for pending, record in zip(batch, records, strict=True):
                try:
                    docs.append(parse_entity(entity(record, pending.service), pending.terms,
                                             now))
                except NgsiError as exc:
                    docs.append(exc)
            tx.get_many([doc["id"] for doc in docs if isinstance(doc, dict)])
            stored = []
            for pending, record, doc in zip(batch, records, docs, strict=True):
                if isinstance(doc, dict) and not tx.insert(doc):
                    doc = AlreadyExists(f"entity {doc['id']} already exists: the request was "
                                        "not stored")
                if isinstance(doc, Exception):
                    self.tables.remove_request(run, tenant, record.id)
                    outcomes.append(doc)
                    continue
                stored.append((record, pending.links))
                outcomes.append(record)
            queued = alerts.mails_for(self.tables, run, tenant, stored)
            self.tables.queue_mail(run, queued, now, time.time())
        return outcomes, len(queued)
