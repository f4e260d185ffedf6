"""`create_app()`: wires settings, store, @context resolver, broker and HTTP routes together."""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import anyio
import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from madina import __version__
from madina.api import (
    admin,
    alerts,
    audit,
    auth,
    http,
    iot,
    jsonld_contexts,
    metrics,
    ngsild,
    open311,
    open311_admin,
    open311_citizens,
    open311_people,
    open311_setup,
    openapi,
    subscriptions,
    temporal,
    web,
)
from madina.api.live import routes as live_routes
from madina.api.live_stream import LiveHub
from madina.api.rate_limits import RateLimits, parse_limit, parse_networks
from madina.api.security_headers import SecurityHeaders, cors_middleware
from madina.auth.audit import Audit, AuditLog
from madina.auth.identities import Runner
from madina.auth.middleware import Authentication
from madina.auth.oidc import oidc_verifier
from madina.auth.rules import OPEN, allow
from madina.auth.setup import authenticator, runner
from madina.config import Settings
from madina.context.broker import Broker
from madina.context.errors import (
    AlreadyExists,
    InternalError,
    MethodNotAllowed,
    NgsiError,
    ResourceNotFound,
    ServiceUnavailable,
)
from madina.context.history_retention import expire_daily
from madina.context.jsonld import ContextResolver
from madina.context.notifications import notifier
from madina.domains.runtime import DomainRuntime
from madina.domains.services import domain_services
from madina.events.feed import ChangeFeed
from madina.iot.gateway import Gateway
from madina.logging import configure_logging
from madina.metrics import STORE_UNAVAILABLE
from madina.services.open311.service import Open311Service
from madina.store.base import Store, StoreUnavailable, WriteConflict
from madina.store.engines import describe

log = structlog.get_logger("madina")


@allow(OPEN)
async def health(request: Request) -> Response:
    """Healthy means able to serve: the database answers (else 503, so a load balancer takes
    the worker out of rotation until it does)."""
    await http.call(request, request.app.state.store.ping)
    return JSONResponse({"status": "ok", "version": __version__, "database": "ok"})


async def ngsi_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NgsiError)
    return http.problem_response(exc)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """A bug must still answer in the spec's format, and be logged with its traceback."""
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return http.problem_response(InternalError("unexpected error; see the broker log"))


async def store_unavailable(request: Request, exc: Exception) -> Response:
    """The database went away: say so and when to retry; the pool reconnects by itself."""
    log.warning("database unavailable", path=request.url.path, error=str(exc))
    STORE_UNAVAILABLE.inc()
    detail = "the database cannot be reached or aborted the transaction; retry later"
    response = http.problem_response(ServiceUnavailable(detail))
    response.headers["Retry-After"] = "5"
    return response


async def write_conflict(request: Request, exc: Exception) -> Response:
    return http.problem_response(AlreadyExists(str(exc)))


async def not_found(request: Request, exc: Exception) -> Response:
    if getattr(exc, "status_code", 404) == 405:
        return http.problem_response(
            MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
        )
    return http.problem_response(ResourceNotFound(f"no resource at {request.url.path}"))


class EchoTenant:
    """Answers name the tenant they were asked for in NGSILD-Tenant (clause 6.3.14)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tenant = next((v for k, v in scope["headers"] if k == b"ngsild-tenant"), None)
        if tenant is None:
            await self.app(scope, receive, send)
            return

        async def send_with_tenant(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"ngsild-tenant", tenant)]
            await send(message)

        await self.app(scope, receive, send_with_tenant)


class MadinaApp(Starlette):
    """Starlette with the secure default headers outside its error middleware, so that even
    the 500 answer written for a bug carries them."""

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        return SecurityHeaders(super().build_middleware_stack(), hsts=settings.hsts)


def gateway(settings: Settings, store: Store, broker: Broker, contexts: ContextResolver,
            run_in_store: Runner) -> Gateway:
    """The IoT gateway of this worker (MQTT only when MADINA_MQTT_URL is set)."""
    return Gateway(
        store, broker, contexts.core(), run_in_store,
        mqtt_url=settings.mqtt_url,
        mqtt_client_id=settings.mqtt_client_id or f"madina-{socket.gethostname()}",
        mqtt_share_group=settings.mqtt_share_group,
        mqtt_session_expiry_s=settings.mqtt_session_expiry_s,
        mqtt_version=settings.mqtt_version,
        batch_max=settings.iot_batch_max,
        batch_wait=settings.iot_batch_wait_ms / 1000,
        max_bytes=settings.iot_max_payload_bytes,
    )


def create_worker_app() -> Starlette:
    """The app of one `madina serve --workers N` process: settings and logging come from the
    environment the supervisor prepared (uvicorn imports this by name in each worker)."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    store = settings.store()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store.open()
        contexts = app.state.contexts = ContextResolver(
            store=store,
            fetch_timeout=settings.context_fetch_timeout,
            allow_remote=settings.fetch_remote_contexts,
        )
        loop = asyncio.get_running_loop()
        store.listen(
            "jsonld_contexts", lambda key: loop.call_soon_threadsafe(contexts.forget, key)
        )
        # At most as many requests wait on the database as the pool has connections.
        app.state.store_limiter = anyio.CapacityLimiter(settings.db_pool_size)
        app.state.auth = authenticator(settings, store, app.state.store_limiter)
        app.state.auth.oidc = oidc_verifier(settings)
        app.state.audit = AuditLog(store.audit, runner(store, app.state.store_limiter))
        await app.state.audit.maintain(settings.audit_retention_days)
        audit_maintenance = asyncio.create_task(
            app.state.audit.daily(settings.audit_retention_days)
        )
        pool_watch = asyncio.create_task(metrics.watch_pool(store))
        history_retention = asyncio.create_task(
            expire_daily(store, settings.retention, runner(store, app.state.store_limiter))
        )
        changes = app.state.changes = ChangeFeed(
            store,
            poll_interval=settings.change_poll_interval,
            retention=timedelta(hours=settings.change_log_retention_hours),
        )
        app.state.broker.committed.append(changes.wake)
        await changes.start()
        app.state.live = LiveHub(changes)
        app.state.notifier = notifier(settings, store, contexts)
        await app.state.notifier.start()
        app.state.broker.committed.append(app.state.notifier.wake)
        iot_gateway = app.state.iot = gateway(settings, store, app.state.broker, contexts,
                                              runner(store, app.state.store_limiter))
        await iot_gateway.start()
        stop_open311 = await open311_setup.start(app, settings, store)
        domains = app.state.domains = DomainRuntime(
            app.state.broker,
            changes,
            domain_services(settings.domain_names, settings.domains_config),
            publish=functools.partial(alerts.publish, store),
        )
        await domains.start()
        log.info(
            "broker started", database=describe(settings.store_database), version=__version__
        )
        try:
            yield
        finally:
            await domains.stop()
            await stop_open311()
            await iot_gateway.stop()
            await app.state.notifier.stop()
            await changes.stop()
            audit_maintenance.cancel()
            pool_watch.cancel()
            history_retention.cancel()
            store.close()

    app = MadinaApp(
        routes=[
            Route("/health", health, methods=["GET"]),
            *live_routes,
            Route("/openapi.json", openapi.openapi_json, methods=["GET"]),
            Route("/metrics", metrics.endpoint(settings.metrics_public), methods=["GET"]),
            Mount("/ngsi-ld/v1", routes=[*ngsild.routes, *jsonld_contexts.routes,
                                         *subscriptions.routes, *temporal.routes]),
            Mount("/auth", routes=[*auth.routes, *admin.routes, *audit.routes]),
            Mount("/open311/v2", routes=[
                Mount("/admin", routes=[*open311_admin.routes, *open311_people.routes]),
                *open311.routes, *open311_citizens.routes]),
            Mount("/iot", routes=iot.routes),
            Mount("/alerts", routes=alerts.routes),
            *web.routes,
        ],
        exception_handlers={
            NgsiError: ngsi_error,
            StoreUnavailable: store_unavailable,
            WriteConflict: write_conflict,
            404: not_found,
            405: not_found,
            Exception: unexpected_error,
        },
        lifespan=lifespan,
        middleware=[
            # Outermost: the time spent in every other middleware is part of a request's.
            Middleware(metrics.RequestMetrics),
            *cors_middleware(settings.cors_origins),
            Middleware(EchoTenant),
            # Outside authentication, so that writes it refuses (401) are recorded too.
            Middleware(Audit, trusted_proxies=parse_networks(settings.trusted_proxies)),
            Middleware(Authentication),
            # Innermost, after authentication: it keys authenticated callers by principal.
            Middleware(
                RateLimits,
                per_ip=parse_limit(settings.rate_limit_per_ip),
                per_client=parse_limit(settings.rate_limit_per_client),
                exempt=parse_networks(settings.rate_limit_exempt),
                trusted_proxies=parse_networks(settings.trusted_proxies),
            ),
        ],
    )
    app.state.settings = settings
    app.state.store = store
    app.state.broker = Broker(store)
    app.state.open311 = Open311Service(store, app.state.broker)
    return app
