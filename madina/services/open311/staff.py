"""Staff moving requests through the workflow (madina.services.open311.workflow) and merging
duplicates. Each operation is one transaction: the request rows, the public history, the
e-mails to everyone following and the entity all change together or not at all.

Merging closes the duplicate (state closed, reason duplicate, `duplicate_of` the request kept),
makes everyone behind it follow the request kept, and writes a public note on both.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

from madina.context import entity_update
from madina.context.broker import Broker, now_iso
from madina.context.entity_parse import parse_entity
from madina.context.jsonld import TermMap
from madina.context.recording import RecordingTransaction
from madina.services.open311 import notices, workflow
from madina.services.open311.catalogue import Catalogue
from madina.services.open311.entity import entity
from madina.services.open311.errors import bad_request, not_found
from madina.services.open311.notices import Links
from madina.services.open311.submission import canonical
from madina.store.identities import Executor
from madina.store.open311 import RequestRecord, StatusChange, request_pk
from madina.store.open311_outbox import Mail
from madina.store.open311_tables import Open311Tables


class Staff:
    def __init__(self, tables: Open311Tables, broker: Broker) -> None:
        self.tables = tables
        self.broker = broker

    def move(self, catalogue: Catalogue, tenant: str, request_id: str, move: workflow.Move,
             author: str | None, terms: TermMap, links: Links) -> RequestRecord:
        """Apply `move` to the request (Open311Error when the workflow refuses it)."""
        with self.broker.transaction(tenant) as tx:
            run = self.tables.executor(tx.tx)
            before = self._locked(run, tenant, request_id)
            workflow.check_move(before.state, move)
            after = self._change(run, tx, catalogue, before, move, author, terms, links)
        return after

    def merge(self, catalogue: Catalogue, tenant: str, duplicate_id: str, kept_id: str,
              note: str | None, author: str | None, terms: TermMap,
              links: Links) -> tuple[RequestRecord, RequestRecord]:
        """Close `duplicate_id` as a duplicate of `kept_id`; (duplicate, kept) after."""
        if duplicate_id == kept_id:
            raise bad_request("a request cannot be merged into itself")
        with self.broker.transaction(tenant) as tx:
            run = self.tables.executor(tx.tx)
            # Locked in id order, so two merges of the same pair cannot deadlock.
            first, second = sorted((duplicate_id, kept_id), key=lambda i: request_pk(i) or 0)
            locked = {first: self._locked(run, tenant, first),
                      second: self._locked(run, tenant, second)}
            duplicate, kept = locked[duplicate_id], locked[kept_id]
            if kept.state in workflow.CLOSED_STATES:
                raise bad_request(f"service request {kept.id} is {kept.state}: reopen it before "
                                  "merging into it")
            closing = workflow.Move(workflow.CLOSED, workflow.DUPLICATE,
                                    _joined(f"Reported before as request {kept.id}.", note))
            workflow.check_move(duplicate.state, closing)
            duplicate = self._change(run, tx, catalogue, duplicate, closing, author, terms,
                                     links, duplicate_of=kept.id)
            self.tables.move_followers(run, tenant, duplicate.id, kept.id, duplicate.updated_at)
            kept = self._change(run, tx, catalogue, kept, workflow.Move(
                None, None, f"Request {duplicate.id} was merged into this one."), author, terms,
                links)
        return duplicate, kept

    def _locked(self, run: Executor, tenant: str, request_id: str) -> RequestRecord:
        record = self.tables.lock_request(run, tenant, request_id)
        if record is None:
            raise not_found(f"service request {request_id!r} not found")
        return record

    def _change(self, run: Executor, tx: RecordingTransaction, catalogue: Catalogue,
                before: RequestRecord, move: workflow.Move, author: str | None,
                terms: TermMap, links: Links, duplicate_of: str | None = None) -> RequestRecord:
        """Store the move (new state or note), tell the followers, republish the entity."""
        moment = datetime.now(UTC)
        now = canonical(moment)
        state = move.state or before.state
        service = catalogue.service(before.service_code)
        expected = before.expected_at
        if move.state == workflow.REOPENED and service is not None:
            renewed = workflow.expected_at(moment, service.expected_resolution_hours)
            expected = canonical(renewed) if renewed is not None else expected
        after = replace(
            before, state=state, status=workflow.georeport_status(state),
            status_notes=move.note if move.note is not None else
            (before.status_notes if move.state is None else None),
            reason=move.reason if move.state is not None else before.reason,
            updated_at=now, expected_at=expected,
            duplicate_of=duplicate_of if duplicate_of is not None else
            (None if move.state == workflow.REOPENED else before.duplicate_of))
        change = StatusChange(now, state, move.note, author, after.reason)
        after = self.tables.save_state(run, after, change)
        message = notices.status_update(links, after, change, moved=move.state is not None)
        recipients = self.tables.recipients(run, after.tenant, after.id)
        self.tables.queue_mail(run, [Mail(after.tenant, r, message) for r in recipients],
                               now, time.time())
        _publish(tx, after, catalogue, terms)
        return after


def _joined(first: str, note: str | None) -> str:
    return f"{first} {note}" if note else first


def _publish(tx: RecordingTransaction, record: RequestRecord, catalogue: Catalogue,
             terms: TermMap) -> None:
    """The entity as the record now is: replaced whole (an attribute the record no longer
    has, such as status_notes, goes), or created again if it was deleted through NGSI-LD."""
    now = now_iso()
    doc = parse_entity(entity(record, catalogue.service(record.service_code)), terms, now)
    old = tx.get(doc["id"])
    if old is None:
        tx.insert(doc)
    else:
        tx.update(entity_update.replace_entity(old, doc, now).doc, old)

