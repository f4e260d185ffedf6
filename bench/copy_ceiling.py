"""The write ceiling of the PostgreSQL engine: raw COPY of the same documents.

Batch upsert through HTTP parses, validates, locks and renders; COPY does none of that. COPY of
the fleet's stored documents into Madina's own tables (created by its migrations: JSONB with the
GIN indexes, a PostGIS geometry row per location with its GiST index) is what the database alone
can ingest
on this machine, so "batch upsert as a share of COPY" says how much of the write budget the
broker spends around the database. COPY goes in transactions of 1,000 entities (one request's
worth, each a commit like one upsert request) from two clients side by side, as the server's two
workers write.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import orjson
import psycopg

from bench.fleet import fleet_batches
from madina.context.entity_parse import parse_entity
from madina.context.jsonld import ContextResolver
from madina.store import postgres_schema

ENTITIES = 100_000
"""As many distinct entities as the batch-upsert scenario's two wrk threads write."""
BATCH = 1000
CLIENTS = 2
NOW = "2026-11-21T05:00:00.000000Z"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
ENTITY_COPY = (
    "COPY entities (pk, tenant, id, types, doc, created_at, modified_at) FROM STDIN"
)
SHAPE_COPY = "COPY geo_shapes (entity_pk, attr, geom) FROM STDIN"



@dataclass(frozen=True)
class CopyResult:
    entities: int
    seconds: float

    @property
    def entities_per_s(self) -> float:
        return self.entities / self.seconds


def measure(url: str, entities: int = ENTITIES) -> CopyResult:
    """COPY `entities` fleet documents into fresh tables of the (empty) database at `url`.

    The COPY text is built before the clock starts: only the database's work is timed."""
    with psycopg.connect(url, autocommit=True) as conn:
        postgres_schema.migrate(conn)  # Madina's own tables and indexes, not a look-alike
    payloads = _payloads(entities)
    started = time.monotonic()
    failures: list[BaseException] = []
    threads = [
        threading.Thread(target=_copy, args=(url, payloads[client::CLIENTS], failures))
        for client in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    if failures:
        raise failures[0]
    return CopyResult(entities, seconds)


def _copy(url: str, payloads: list[tuple[bytes, bytes]], failures: list[BaseException]) -> None:
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            for entity_rows, shape_rows in payloads:
                with conn.transaction(), conn.cursor() as cur:
                    with cur.copy(ENTITY_COPY) as copy:
                        copy.write(entity_rows)
                    with cur.copy(SHAPE_COPY) as copy:
                        copy.write(shape_rows)
    except BaseException as exc:  # reported by measure() in the main thread
        failures.append(exc)


def _payloads(entities: int) -> list[tuple[bytes, bytes]]:
    """COPY text per batch: (entities rows, geometry rows)."""
    terms = ContextResolver().core()
    payloads = []
    pk = 0
    for batch in fleet_batches(entities, BATCH):
        entity_lines, shape_lines = [], []
        for body in batch:
            pk += 1
            doc = parse_entity(body, terms, NOW)
            types = "{" + ",".join(f'"{t}"' for t in doc["type"]) + "}"
            text = orjson.dumps(doc).decode().replace("\\", "\\\\")
            entity_lines.append(f"{pk}\t\t{doc['id']}\t{types}\t{text}\t{NOW}\t{NOW}\n")
            lon, lat = doc[LOCATION][0]["value"]["coordinates"]
            shape_lines.append(f"{pk}\t{LOCATION}\tSRID=4326;POINT({lon!r} {lat!r})\n")
        payloads.append(("".join(entity_lines).encode(), "".join(shape_lines).encode()))
    return payloads
