"""`GET /metrics` in Prometheus' text format, and the middleware counting every request.

The middleware labels a request by the template of the route that served it, read from the
`route` Starlette leaves in the scope, so the label set stays as small as the route table. A
request answered before routing (401 from authentication, 429 from the rate limiter) has no
route in its scope; only for those the route table is matched again, and a path that matches no
route is "unmatched".
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence

import anyio
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from madina import metrics
from madina.auth.principal import Role
from madina.auth.rules import OPEN, Endpoint, allow

log = structlog.get_logger("madina.metrics")

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Any other method is labelled "OTHER": the method is the client's to choose."""
UNMATCHED = "unmatched"
POOL_INTERVAL_S = 5.0
_CONVERTER = re.compile(r"\{(\w+):\w+\}")


def endpoint(public: bool) -> Endpoint:
    """`/metrics` for anyone (MADINA_METRICS_PUBLIC, the default: the numbers name no tenant,
    entity or person) or for administrators only. Chosen when the app is built, so the route's
    rule is one of the plain grants the authorization tests know."""
    return allow(OPEN if public else Role.ADMIN)(_metrics_text)


async def _metrics_text(request: Request) -> Response:
    refresh_pool(request.app.state.store)
    # Multiprocess mode reads one file per worker and metric kind: off the event loop.
    body = await anyio.to_thread.run_sync(generate_latest, metrics.registry())
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def refresh_pool(store: object) -> None:
    """This worker's pool gauges, when its store has a connection pool (PostgreSQL)."""
    stats = getattr(store, "pool_stats", None)
    if stats is not None:
        metrics.observe_pool(stats())


async def watch_pool(store: object, interval: float = POOL_INTERVAL_S) -> None:
    """Refresh the pool gauges for the life of the app: in multiprocess mode a scrape is
    answered by one worker, and the others' gauges must not be as old as their last scrape."""
    while True:
        try:
            refresh_pool(store)
        except Exception:
            log.exception("reading the database pool statistics failed")
        await asyncio.sleep(interval)


class RequestMetrics:
    """ASGI middleware: count, latency and in-flight requests by method, route and status
    class. Outermost, so that the time spent in authentication, audit and rate limits counts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: dict[int, str] = {}
        self._children: dict[tuple[str, str, str], tuple] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path, root_path = scope["path"], scope.get("root_path", "")
        status = 500  # what the error middleware outside answers if the app raises

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_counted)
        finally:
            metrics.IN_FLIGHT.dec()
            route = self._template(scope, path, root_path)
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            counter, latency = self._metrics_of(method, route, f"{status // 100}xx")
            counter.inc()
            latency.observe(time.perf_counter() - start)
            if status == 429:
                metrics.RATE_LIMITED.labels(route).inc()

    def _metrics_of(self, method: str, route: str, status: str) -> tuple:
        """The labelled children, kept: `labels()` takes a lock and builds a key each call."""
        key = (method, route, status)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = (metrics.REQUESTS.labels(method, route, status),
                                           metrics.LATENCY.labels(method, route))
        return found

    def _template(self, scope: Scope, path: str, root_path: str) -> str:
        route = scope.get("route")
        if route is None:
            return _match(scope["app"].routes, scope["method"], path, root_path) or UNMATCHED
        if isinstance(route, Mount):  # the mount matched, nothing inside it did
            return UNMATCHED
        # A Mount moved its (literal) prefix from the path to root_path.
        prefix = scope.get("root_path", "")[len(root_path):]
        key = id(route)
        name = self._templates.get(key)
        if name is None:
            name = self._templates[key] = _CONVERTER.sub(r"{\1}", route.path)
        return prefix + name


def _match(routes: Sequence[BaseRoute], method: str, path: str, root_path: str,
           prefix: str = "") -> str | None:
    """The template of the route `path` would reach, for requests answered before routing."""
    scope = {"type": "http", "method": method, "path": path, "root_path": root_path}
    partial = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            return _match(route.routes, method, path, child["root_path"], prefix + route.path)
        if match is Match.FULL:
            return _CONVERTER.sub(r"{\1}", prefix + route.path)
        partial = partial or _CONVERTER.sub(r"{\1}", prefix + route.path)
    return partial
