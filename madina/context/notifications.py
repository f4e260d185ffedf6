"""The notifier's `Matcher`: which subscriptions a batch of changes notifies, and the requests
that carry the notifications (madina.events.notifier moves them; madina.events.delivery sends).

The compiled subscriptions of every tenant are kept in memory and rebuilt when the revision
of the subscription table moves (one indexed read per batch, any worker may have changed them);
unchanged ones are not compiled again. Matching is done once per change and subscription, and
all the changes of a batch that notify one subscription share one notification (its `data`
holds each entity, in commit order), so a burst costs one request per subscription rather
than one per change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import structlog

from madina.context.broker import now_iso
from madina.context.errors import NgsiError
from madina.context.jsonld import CORE_CONTEXT_URL, ContextResolver, TermMap
from madina.context.notification_body import features, notification, notified_entity
from madina.context.representation import render_entity
from madina.context.subscription_match import Compiled, SubscriptionIndex, compile_subscription
from madina.context.subscriptions import MQTT_QOS, MQTT_SCHEMES, MQTT_VERSION
from madina.events.delivery import Deliverer, DeliveryPolicy, Request, lane_key
from madina.events.model import ChangeEvent
from madina.events.notifier import Notifier
from madina.store.base import EntityQuery, EntitySelector, GeoFilter, Store
from madina.store.subscriptions import NewDelivery

if TYPE_CHECKING:
    from madina.config import Settings

log = structlog.get_logger("madina.notifications")
T = TypeVar("T")

LINK_REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
MAX_DATA = 100
"""Entities per notification; more make several notifications."""
PERIODIC_PAGE = 1000
PERIODIC_MAX = 10_000
"""Entities a periodic notification round reads at most per subscription."""
MAX_TIMEOUT_S = 30.0
"""The longest attempt an endpoint's `timeout` may ask for: a row must be sent well within the
lease that keeps other processes off it."""
RECOMPILE_FAILED_S = 60.0
"""A subscription whose @context could not be resolved is tried again this often."""

Key = tuple[str, str]


Resolve = Callable[[Any], Awaitable[TermMap]]
"""A @context value to its term map (ContextResolver.resolve, run where the resolver lives)."""


class SubscriptionMatcher:
    def __init__(self, store: Store, resolve: Resolve, timeout: float = 10.0) -> None:
        self.store = store
        self.resolve = resolve
        self.timeout = timeout
        """Seconds per attempt when the endpoint sets no `timeout`."""
        self.index = SubscriptionIndex([])
        self._revision: int | None = None
        self._compiled: dict[Key, tuple[str, Compiled]] = {}
        """(tenant, id) -> (modifiedAt it was compiled at, the compiled subscription)."""
        self._failed_at: float | None = None
        self._last_sent: dict[Key, float] = {}
        """Monotonic time of each subscription's last notification (throttling)."""
        self._periodic: dict[Key, float] = {}
        """Monotonic time each periodic subscription is next due."""
        self._templates: dict[Key, tuple[Compiled, Request, str, Any]] = {}
        """What each subscription's notifications share, built at its first notification."""

    # -- subscriptions -----------------------------------------------------------------------
    @property
    def idle(self) -> bool:
        return not self._compiled

    async def refresh(self) -> None:
        subscriptions = self.store.subscriptions
        revision = await self._call(subscriptions.revision)
        retry = self._failed_at is not None and time.monotonic() - self._failed_at > \
            RECOMPILE_FAILED_S
        if revision == self._revision and not retry:
            return
        compiled: dict[Key, tuple[str, Compiled]] = {}
        self._failed_at = None
        for stored in await self._call(subscriptions.every):
            key = (stored.tenant, stored.id)
            known = self._compiled.get(key)
            if known is not None and known[0] == stored.modified_at:
                compiled[key] = known
                continue
            try:
                terms = await self.resolve(stored.doc.get("_context"))
                q_terms = await self.resolve(stored.doc.get("_qContext"))
                compiled[key] = (stored.modified_at, compile_subscription(
                    stored.tenant, stored.doc, stored.created_at, terms, q_terms))
            except NgsiError as exc:
                log.warning("subscription not usable now", subscription=stored.id,
                            tenant=stored.tenant, error=exc.detail)
                self._failed_at = time.monotonic()
        self._compiled = compiled
        self._revision = revision
        self.index = SubscriptionIndex(sub for _, sub in compiled.values())
        now = time.monotonic()
        self._last_sent = {k: v for k, v in self._last_sent.items() if k in compiled}
        self._templates = {k: v for k, v in self._templates.items() if k in compiled}
        self._periodic = {
            key: self._periodic.get(key, now + sub.periodic)
            for key, (_, sub) in compiled.items() if sub.periodic is not None
        }

    # -- changes -----------------------------------------------------------------------------
    def match(self, events: list[ChangeEvent]) -> list[NewDelivery]:
        now = now_iso()
        clock = time.monotonic()
        grouped: dict[Key, tuple[Compiled, list[dict[str, Any]]]] = {}
        for event in events:
            try:
                matches = list(self.index.matches(event, now))
            except Exception:  # a bug must not stop every later change from notifying
                log.exception("matching a change failed", entity=event.entity_id)
                continue
            for sub, fired in matches:
                key = (sub.tenant, sub.id)
                try:
                    entity = notified_entity(event, sub.doc["notification"], sub.terms, fired,
                                             sub.doc.get("lang"), sub.watched, now)
                except Exception:
                    log.exception("rendering a notification failed", subscription=sub.id,
                                  entity=event.entity_id)
                    continue
                group = grouped.get(key)
                if group is None:
                    if self._throttled(key, sub, clock):
                        continue
                    group = grouped[key] = (sub, [])
                group[1].append(entity)
        deliveries = []
        for key, (sub, data) in grouped.items():
            self._last_sent[key] = clock
            deliveries.extend(self._deliveries(sub, data, now))
        return deliveries

    def _throttled(self, key: Key, sub: Compiled, clock: float) -> bool:
        throttling = sub.doc.get("throttling")
        last = self._last_sent.get(key)
        return bool(throttling) and last is not None and clock - last < throttling

    # -- periodic subscriptions --------------------------------------------------------------
    def next_due(self) -> float | None:
        return min(self._periodic.values(), default=None)

    async def due(self) -> list[NewDelivery]:
        clock = time.monotonic()
        now = now_iso()
        deliveries: list[NewDelivery] = []
        for key, at in list(self._periodic.items()):
            if at > clock:
                continue
            sub = self._compiled[key][1]
            self._periodic[key] = clock + (sub.periodic or 0.0)
            if not sub.live(now):
                continue
            try:
                docs = await self._call(self._current, sub)
            except NgsiError as exc:
                log.warning("periodic notification skipped", subscription=sub.id,
                            error=exc.detail)
                continue
            except ValueError as exc:  # a pattern or name the store cannot query
                log.warning("periodic notification skipped", subscription=sub.id,
                            error=str(exc))
                continue
            if docs:
                params = sub.doc["notification"]
                wanted = set(params["attributes"]) if "attributes" in params else None
                data = [render_entity(doc, sub.terms, form=params["format"],
                                      sys_attrs=params.get("sysAttrs", False), attrs=wanted,
                                      lang=sub.doc.get("lang"), now=now) for doc in docs]
                deliveries.extend(self._deliveries(sub, data, now))
        return deliveries

    def _current(self, sub: Compiled) -> list[dict[str, Any]]:
        """The entities a periodic subscription selects now, read from the store."""
        query = EntityQuery(
            selectors=[EntitySelector(ids=[s["id"]] if "id" in s else None,
                                      id_pattern=s.get("idPattern"), types=compiled.types)
                       for s, compiled in zip(sub.doc["entities"], sub.selectors, strict=True)],
            q=sub.q, scope_q=sub.scope_q, limit=PERIODIC_PAGE,
        )
        if sub.geo is not None:
            query.geo = GeoFilter(
                attribute=sub.geo_attribute, bbox=sub.geo.prefilter_bbox(),
                matches=sub.geo.matches, georel=sub.geo.georel, geometry=sub.geo.geometry,
                max_distance=sub.geo.max_distance, min_distance=sub.geo.min_distance,
            )
        docs: list[dict[str, Any]] = []
        while len(docs) < PERIODIC_MAX:
            page, _ = self.store.query(sub.tenant, query)
            docs.extend(page)
            if len(page) < PERIODIC_PAGE:
                break
            query.offset += PERIODIC_PAGE
        return docs

    # -- requests ----------------------------------------------------------------------------
    def _deliveries(
        self, sub: Compiled, data: list[dict[str, Any]], now: str
    ) -> list[NewDelivery]:
        return [
            self.delivery(sub, data[start : start + MAX_DATA], now)
            for start in range(0, len(data), MAX_DATA)
        ]

    def delivery(self, sub: Compiled, data: list[dict[str, Any]], now: str) -> NewDelivery:
        """The request notifying `data`: the subscription's request template with this
        notification as its body."""
        key = (sub.tenant, sub.id)
        template = self._templates.get(key)
        if template is None or template[0] is not sub:
            template = self._templates[key] = (sub, *self._template(sub))
        _, request, lane, context = template
        params = sub.doc["notification"]
        payload: Any = data
        if request["headers"]["Content-Type"] == "application/geo+json":
            payload = features(data, "location", params["format"])
        body = notification(sub.id, payload, now)
        if context is not None:
            body["@context"] = context
        return NewDelivery(sub.tenant, sub.id, lane, {**request, "body": body})

    def _template(self, sub: Compiled) -> tuple[Request, str, Any]:
        """What every notification of `sub` shares (HTTP binding clause 6.3, MQTT binding:
        the same headers as the message's `metadata`): the request without its body, its lane,
        and the @context to put in the body (application/ld+json) or None."""
        endpoint = sub.doc["notification"]["endpoint"]
        accept = endpoint["accept"]
        context = sub.doc.get("_context") or CORE_CONTEXT_URL
        headers = {"Content-Type": accept}
        if accept != "application/ld+json" and isinstance(context, str):
            headers["Link"] = f"<{context}>; {LINK_REL}"
        if sub.tenant:
            headers["NGSILD-Tenant"] = sub.tenant
        for pair in endpoint.get("receiverInfo", ()):
            headers[pair["key"]] = pair["value"]
        timeout = endpoint.get("timeout") or self.timeout * 1000
        request: Request = {"uri": endpoint["uri"], "headers": headers,
                            "timeout": min(timeout / 1000, MAX_TIMEOUT_S)}
        if endpoint.get("cooldown"):
            request["cooldown"] = endpoint["cooldown"] / 1000
        if urlsplit(endpoint["uri"]).scheme in MQTT_SCHEMES:
            info = {pair["key"]: pair["value"] for pair in endpoint.get("notifierInfo", ())}
            request["qos"] = int(info.get(MQTT_QOS, "0"))
            request["mqtt_version"] = info.get(MQTT_VERSION, "mqtt5.0")
        in_body = context if accept == "application/ld+json" else None
        return request, lane_key(request), in_body

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        if self.store.runs_on_loop:
            return function(*args)
        return await asyncio.to_thread(function, *args)


def notifier(settings: Settings, store: Store, resolver: ContextResolver) -> Notifier:
    """The notifier of one worker process, as the settings ask (called in the app lifespan,
    on the app's event loop). It runs on a thread of its own; on the embedded engine with a
    connection of its own too. The @context resolver stays on the app's loop, where its
    downloads and caches live."""
    app_loop = asyncio.get_running_loop()

    async def resolve(context: Any) -> TermMap:
        return await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(resolver.resolve(context), app_loop))

    owns_store = store.runs_on_loop and settings.store_database != ":memory:"
    if owns_store:
        store = settings.store()
    policy = DeliveryPolicy(
        timeout=settings.notification_timeout,
        concurrency=settings.notification_concurrency,
        max_attempts=settings.notification_max_attempts,
        retry_base=settings.notification_retry_base,
        retry_max=settings.notification_retry_max,
    )
    matcher = SubscriptionMatcher(store, resolve, settings.notification_timeout)
    return Notifier(store, matcher, Deliverer(store, policy),
                    poll_interval=settings.change_poll_interval, owns_store=owns_store)
