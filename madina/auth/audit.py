"""The audit log: every write, every refused write, every access to personal data — who, what,
when, from where — and never a secret.

Writes are recorded by the `Audit` middleware when the answer's status is known and before its
first byte leaves: a 2xx the client sees implies the entry is committed. If the entry cannot be
written the client gets a 503 instead of the 2xx (the write itself may have happened; the 503
says to retry, and an audit gap is worse than a retried write). Personal data is recorded by the
service that shows it, calling `personal_data(request, what)` before it answers.

An entry holds the principal (subject, tenants, roles, how it signed in), the method, the path
without its query string, entity ids where the path or a `Location` header names them, the
status, the client address as the rate limiter sees it, and a request id. Never headers, bodies
or query strings: they are where credentials and personal data travel.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from madina.api.rate_limits import Network, client_address
from madina.auth.answers import problem, send_json
from madina.auth.identities import Runner
from madina.auth.principal import ANONYMOUS, Principal
from madina.metrics import AUDIT_BATCH, AUDIT_ENTRIES
from madina.store.audit import AuditEntry, AuditSQL

log = structlog.get_logger("madina.audit")

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REFUSED = frozenset({401, 403})
REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
DAY_S = 24 * 3600.0


class AuditLog:
    """The audit table behind `run` (the event loop for SQLite, a worker thread for
    PostgreSQL), as `app.state.audit`."""

    def __init__(self, table: AuditSQL, run: Runner,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.table = table
        self.run = run
        self.clock = clock
        self._pending: list[tuple[AuditEntry, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def record(self, entry: AuditEntry) -> None:
        """Returns once the entry is durable. Group commit: entries of concurrent requests
        that arrive while a write is in flight share the next transaction, so the log costs
        one commit per burst instead of one per request (an own transaction per entry cost a
        quarter of the PATCH throughput)."""
        written = asyncio.get_running_loop().create_future()
        self._pending.append((entry, written))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await written

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self.run(self.table.append, [entry for entry, _ in batch])
            except Exception as exc:  # every waiter answers 503; the flusher goes on
                for _, written in batch:
                    if not written.done():
                        written.set_exception(exc)
            else:
                AUDIT_ENTRIES.inc(len(batch))
                AUDIT_BATCH.observe(len(batch))
                for _, written in batch:
                    if not written.done():
                        written.set_result(None)

    async def query(self, tenant: str | None, since: datetime | None, until: datetime | None,
                    subject: str | None, limit: int) -> list[AuditEntry]:
        return await self.run(self.table.query, tenant, since, until, subject, limit)

    async def maintain(self, retention_days: int) -> None:
        """Partitions ahead (PostgreSQL) and entries past retention gone."""
        now = self.clock()
        await self.run(self.table.prepare, now)
        await self.run(self.table.expire, now - timedelta(days=retention_days))

    async def daily(self, retention_days: int) -> None:
        """`maintain` once a day, for the life of the app (every worker does it; it is
        idempotent)."""
        while True:
            await asyncio.sleep(DAY_S)
            try:
                await self.maintain(retention_days)
            except Exception:
                log.exception("audit log maintenance failed; retrying tomorrow")


def entry(scope: Scope, action: str, status: int | None, entity_ids: Iterable[str] = (),
          detail: str = "", at: datetime | None = None) -> AuditEntry:
    """The entry for the request in `scope` (after the `Audit` middleware saw it)."""
    state = scope.get("state", {})
    principal: Principal = state.get("principal") or ANONYMOUS
    headers = dict(scope["headers"])
    tenant = headers.get(b"ngsild-tenant", headers.get(b"fiware-service"))
    return AuditEntry(
        at=at or datetime.now(UTC),
        tenant=tenant.decode("latin-1") if tenant is not None else principal.tenant,
        subject=principal.subject,
        subject_tenant=principal.tenant,
        via=principal.via.value,
        roles=tuple(sorted(principal.roles)),
        action=action,
        method=scope["method"],
        path=scope["path"],
        entity_ids=tuple(entity_ids),
        status=status,
        detail=detail,
        client=state.get("client_address", ""),
        request_id=state.get("request_id", ""),
    )


async def personal_data(request: Request, what: str, entity_ids: Iterable[str] = ()) -> None:
    """Record that the caller is shown personal data (`what`, in words: "reporter contact of
    service request 42"). Await it before answering: an access that cannot be recorded must
    fail rather than happen unrecorded."""
    audit: AuditLog = request.app.state.audit
    await audit.record(entry(request.scope, "personal_data", None, entity_ids, what,
                             audit.clock()))


class Audit:
    """ASGI middleware recording writes and refused writes; outside authentication, so it sees
    the 401s that refuses too, and gives every request an id (X-Request-ID, the client's own
    when it sent a sane one) that the answer carries and the entries name."""

    def __init__(self, app: ASGIApp, trusted_proxies: Iterable[Network] = ()) -> None:
        self.app = app
        networks = tuple(trusted_proxies)

        def is_trusted(address: str) -> bool:
            if not networks:
                return False
            try:
                return any(ipaddress.ip_address(address) in net for net in networks)
            except ValueError:
                return False

        self._is_trusted = is_trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        state["request_id"] = request_id
        state["client_address"] = client_address(scope, self._is_trusted)
        audited = scope["method"] not in READ_METHODS
        replaced = False

        async def send_audited(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the app's answer was swapped for a 503: drop the rest of it
            if message["type"] == "http.response.start":
                status = message["status"]
                if audited and (200 <= status < 300 or status in REFUSED):
                    try:
                        await self._record(scope, status, message.get("headers", []))
                    except Exception:
                        log.exception("audit entry not written; answering 503",
                                      path=scope["path"], method=scope["method"])
                        replaced = True
                        await _unavailable(send, request_id)
                        return
                message["headers"] = [*message.get("headers", []),
                                      (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_audited)

    async def _record(self, scope: Scope, status: int, headers: list) -> None:
        audit: AuditLog = scope["app"].state.audit
        action = "refused" if status in REFUSED else "write"
        await audit.record(entry(scope, action, status, _entity_ids(scope, headers),
                                 at=audit.clock()))


def _entity_ids(scope: Scope, headers: list) -> list[str]:
    """The entity the path names, or the one a 201's Location names (a create)."""
    entity_id = scope.get("path_params", {}).get("entityId")
    if entity_id:
        return [entity_id]
    location = dict(headers).get(b"location", b"").decode("latin-1")
    _, found, created = location.rpartition("/entities/")
    return [unquote(created)] if found and created else []


async def _unavailable(send: Send, request_id: str) -> None:
    body = problem(503, "Service Unavailable", "the audit log cannot be written; retry later")
    await send_json(send, 503, body,
                    [(b"retry-after", b"5"), (REQUEST_ID_HEADER, request_id.encode())])
