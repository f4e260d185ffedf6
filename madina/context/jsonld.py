"""JSON-LD @context resolution for the broker: request @context -> cached `TermMap`.

Every request names its @context (Link header, `@context` member, or nothing = core only). The
resolver de-references URLs once (shipped files first, then hosted/cached entries, then the
network), folds the result under the protected core context and caches the `TermMap` by the
@context value, so the steady state costs one dict lookup per request. It also is the
/jsonldContexts cache of ETSI GS CIM 009 clause 5.13 (kinds Hosted, Cached, ImplicitlyCreated).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import httpx
import orjson

from madina.context.errors import BadRequestData, LdContextNotAvailable, ResourceNotFound
from madina.context.jsonld_link import parse_link_header
from madina.context.jsonld_shipped import CORE_CONTEXT_URL, load_shipped, shipped_files
from madina.context.jsonld_terms import TermMap, build_term_map

__all__ = [
    "CORE_CONTEXT_URL",
    "KINDS",
    "ContextResolver",
    "ContextStore",
    "TermMap",
    "parse_link_header",
]

KINDS = ("Hosted", "Cached", "ImplicitlyCreated")
_MAX_DEPTH = 8  # nested @context URLs; deeper chains are almost surely cycles
_MAX_BYTES = 8 * 1024 * 1024
_MAP_CACHE_SIZE = 1024
_LOCAL_PATH = "/jsonldContexts/"


class ContextStore(Protocol):
    """Persistence of cached and hosted contexts, so a restart needs no network."""

    def load_contexts(self) -> list[dict]: ...

    def save_context(self, entry: dict) -> None: ...

    def delete_context(self, id: str) -> None: ...


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Entry:
    """One context document the broker can serve; `origin` says where its body comes from."""

    id: str
    url: str
    kind: str
    body: dict[str, Any]
    created_at: str = field(default_factory=_now)
    origin: str = "remote"  # remote | package | client | file
    hits: int = 0
    last_usage: str | None = None

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "kind": self.kind,
            "body": self.body,
            "createdAt": self.created_at,
            "origin": self.origin,
        }

    def details(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "URL": self.url,
            "localId": self.id,
            "kind": self.kind,
            "createdAt": self.created_at,
        }
        if self.kind == "Cached":
            info["lastUsage"] = self.last_usage
            info["numberOfHits"] = self.hits
        return info


class ContextResolver:
    """Resolves request @contexts to `TermMap`s and manages the /jsonldContexts cache."""

    def __init__(
        self,
        store: ContextStore | None = None,
        fetch_timeout: float = 5.0,
        allow_remote: bool = True,
    ) -> None:
        self._store = store
        self._timeout = fetch_timeout
        self._allow_remote = allow_remote
        self._entries: dict[str, _Entry] = {}
        self._by_url: dict[str, str] = {}
        self._maps: OrderedDict[Any, tuple[TermMap, tuple[str, ...]]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[dict[str, Any]]] = {}
        core_document = load_shipped(CORE_CONTEXT_URL)
        if core_document is None:
            raise RuntimeError("the NGSI-LD core context is missing from the package")
        self._core_context = core_document["@context"]
        self._core = build_term_map([], self._core_context)
        self._add(_Entry(_new_id(), CORE_CONTEXT_URL, "Cached", core_document, origin="package"))
        self._refresh()

    def _refresh(self) -> None:
        """Take in entries saved by other worker processes sharing the store; called at start
        and whenever a lookup misses, so a context hosted through one worker resolves in all."""
        if self._store is None:
            return
        for record in self._store.load_contexts():
            if record["id"] not in self._entries:
                self._add(
                    _Entry(
                        record["id"],
                        record["url"],
                        record["kind"],
                        record["body"],
                        record.get("createdAt") or _now(),
                        record.get("origin", "remote"),
                    )
                )

    def core(self) -> TermMap:
        """The term map of the core context alone (requests without any @context)."""
        return self._core

    async def resolve(self, context: str | dict | list | None) -> TermMap:
        """The term map for a request's @context value (a URL, an object or an array)."""
        if context is None:
            return self._core
        key: Any = (
            context
            if isinstance(context, str)
            else orjson.dumps(context, option=orjson.OPT_SORT_KEYS)
        )
        cached = self._maps.get(key)
        if cached is None:
            urls: list[str] = []
            layers = await self._layers(context, 0, urls)
            cached = (build_term_map(layers, self._core_context), tuple(dict.fromkeys(urls)))
            self._maps[key] = cached
            if len(self._maps) > _MAP_CACHE_SIZE:
                self._maps.popitem(last=False)
        else:
            self._maps.move_to_end(key)
        if cached[1]:
            now = _now()
            for url in cached[1]:
                entry = self._entries.get(self._by_url.get(url, ""))
                if entry is not None:
                    entry.hits += 1
                    entry.last_usage = now
        return cached[0]

    async def add_hosted(self, body: dict) -> str:
        """Host a client's @context document; returns the id (a URN) it is served under."""
        if not isinstance(body, dict) or "@context" not in body:
            raise BadRequestData('a hosted @context must be a JSON object with an "@context"')
        await self._layers(body["@context"], 1, [])  # reject what could never be resolved
        local_id = _new_id()
        entry = _Entry(local_id, local_id, "Hosted", body, origin="client")
        self._add(entry)
        self._save(entry)
        return local_id

    async def add_cached(self, url: str) -> str:
        """Cache the @context at `url` ahead of use (air-gapped pre-loading); returns its id."""
        if not isinstance(url, str) or not urlsplit(url).scheme:
            raise BadRequestData(f"not an absolute URL: {url!r}")
        await self._document(url, [])
        return self._by_url[url]

    async def add_cached_copy(self, url: str, body: dict) -> str:
        """Cache `body` as the @context published at `url`, without fetching it: air-gapped
        cities copy the documents their clients reference (e.g. the Smart Data Models context)
        onto the machine, and requests naming `url` then resolve offline."""
        if not isinstance(url, str) or not urlsplit(url).scheme:
            raise BadRequestData(f"not an absolute URL: {url!r}")
        if not isinstance(body, dict) or "@context" not in body:
            raise BadRequestData('a @context document must be a JSON object with an "@context"')
        await self._layers(body["@context"], 1, [])  # reject what could never be resolved
        old = self._entries.get(self._by_url.get(url, ""))
        entry = _Entry(old.id if old else _new_id(), url, "Cached", body, origin="file")
        self._add(entry)
        self._save(entry)
        self._maps.clear()
        return entry.id

    def list(self, details: bool, kind: str | None) -> list:
        """The cached contexts: their URLs, or their details (clause 5.13.3)."""
        if kind is not None and kind not in KINDS:
            raise BadRequestData(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        entries = [e for e in self._entries.values() if kind is None or e.kind == kind]
        return [e.details() if details else e.url for e in entries]

    def get(self, id_or_url: str) -> dict:
        """The @context document served under a local id or cached for a URL."""
        return self._lookup(id_or_url).body

    async def reload(self, id_or_url: str) -> None:
        """Fetch a Cached context again (its origin may have changed) and drop stale maps."""
        entry = self._lookup(id_or_url)
        if entry.kind != "Cached":
            raise BadRequestData(
                f"only Cached contexts can be reloaded, {entry.url} is {entry.kind}"
            )
        if entry.origin == "package":
            body = load_shipped(entry.url)
        else:
            body = await self._fetch(entry.url)
        entry.body = body or entry.body
        if entry.origin != "package":
            self._save(entry)
        self._maps.clear()

    def delete(self, id_or_url: str) -> None:
        """Forget a context; the core context stays, it is applied to every request."""
        entry = self._lookup(id_or_url)
        if entry.url == CORE_CONTEXT_URL:
            raise BadRequestData("the NGSI-LD core context cannot be deleted")
        del self._entries[entry.id]
        self._by_url.pop(entry.url, None)
        self._maps.clear()
        if self._store is not None and entry.origin != "package":
            self._store.delete_context(entry.id)

    def forget(self, context_id: str) -> None:
        """Drop a cached entry another worker changed or deleted ("" : every stored entry);
        the next lookup reads the store again. Shipped contexts are never forgotten."""
        stale = [
            entry for entry in self._entries.values()
            if entry.origin != "package" and (not context_id or entry.id == context_id)
        ]
        for entry in stale:
            del self._entries[entry.id]
            if self._by_url.get(entry.url) == entry.id:
                del self._by_url[entry.url]
        if stale:
            self._maps.clear()

    def _lookup(self, id_or_url: str) -> _Entry:
        key = unquote(id_or_url)
        entry = self._entries.get(key) or self._entries.get(self._by_url.get(key, ""))
        if entry is None:
            self._refresh()
            entry = self._entries.get(key) or self._entries.get(self._by_url.get(key, ""))
        if entry is None and key in shipped_files():
            entry = self._shipped_entry(key)
        if entry is None:
            raise ResourceNotFound(f"no @context with id or URL {key}")
        return entry

    def _add(self, entry: _Entry) -> None:
        self._entries[entry.id] = entry
        self._by_url[entry.url] = entry.id

    def _save(self, entry: _Entry) -> None:
        if self._store is not None:
            self._store.save_context(entry.record())

    def _shipped_entry(self, url: str) -> _Entry | None:
        body = load_shipped(url)
        if body is None:
            return None
        entry = _Entry(_new_id(), url, "Cached", body, origin="package")
        self._add(entry)
        return entry

    async def _layers(self, context: Any, depth: int, urls: list[str]) -> list[dict]:
        """The local context objects `context` stands for, nested URLs de-referenced, in order."""
        if depth > _MAX_DEPTH:
            raise BadRequestData(f"@context nests more than {_MAX_DEPTH} levels (a cycle?)")
        if isinstance(context, dict):
            return [context]
        if isinstance(context, str):
            document = await self._document(context, urls)
            return await self._layers(document["@context"], depth + 1, urls)
        if isinstance(context, list):
            layers: list[dict] = []
            for item in context:
                if item is None:  # JSON-LD: null resets the active context
                    layers.clear()
                else:
                    layers.extend(await self._layers(item, depth, urls))
            return layers
        raise BadRequestData(f"invalid @context value: {context!r}")

    async def _document(self, url: str, urls: list[str]) -> dict[str, Any]:
        urls.append(url)
        entry = self._entries.get(self._by_url.get(url, "")) or self._local(url)
        if entry is None:
            entry = self._shipped_entry(url)
        if entry is None:
            self._refresh()
            entry = self._entries.get(self._by_url.get(url, "")) or self._local(url)
        if entry is None:
            body = await self._fetch(url)
            entry = self._entries.get(self._by_url.get(url, ""))
            if entry is None:  # a concurrent resolve may have stored it meanwhile
                entry = _Entry(_new_id(), url, "Cached", body)
                self._add(entry)
                self._save(entry)
        return entry.body

    def _local(self, url: str) -> _Entry | None:
        """A hosted entry addressed through this broker's own /jsonldContexts/{id} URL."""
        path = urlsplit(url).path
        if _LOCAL_PATH not in path:
            return None
        return self._entries.get(unquote(path.rsplit(_LOCAL_PATH, 1)[1]))

    async def _fetch(self, url: str) -> dict[str, Any]:
        """Download once even when many requests need the same URL at the same time."""
        task = self._inflight.get(url)
        if task is None:
            task = asyncio.ensure_future(self._download(url))
            self._inflight[url] = task
            task.add_done_callback(lambda _: self._inflight.pop(url, None))
        return await asyncio.shield(task)

    async def _download(self, url: str) -> dict[str, Any]:
        def unavailable(reason: str) -> LdContextNotAvailable:
            return LdContextNotAvailable(f"@context {url} cannot be retrieved: {reason}")

        if urlsplit(url).scheme not in ("http", "https"):
            # Nothing to retrieve, now or later: the client's mistake, not an outage.
            raise BadRequestData(f"@context {url!r} is neither a known context nor an http(s) URL")
        if not self._allow_remote:
            raise unavailable("fetching remote contexts is disabled")
        headers = {"Accept": "application/ld+json, application/json;q=0.9"}
        try:
            async with (
                httpx.AsyncClient(timeout=self._timeout, follow_redirects=True) as client,
                client.stream("GET", url, headers=headers) as response,
            ):
                if not response.is_success:
                    raise unavailable(f"HTTP status {response.status_code}")
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > _MAX_BYTES:
                        raise unavailable(f"larger than {_MAX_BYTES} bytes")
        except httpx.HTTPError as error:
            raise unavailable(f"{type(error).__name__} {error}".strip()) from error
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise unavailable("the response is not JSON") from error
        if not isinstance(document, dict) or "@context" not in document:
            raise unavailable('the response has no "@context" member')
        return document


def _new_id() -> str:
    return f"urn:ngsi-ld:jsonldContext:{uuid.uuid4()}"
