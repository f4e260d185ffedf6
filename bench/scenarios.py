"""What is measured and what it must reach, per engine.

The SQLite targets were agreed for the embedded engine on 2 cores with a 100,000-entity fleet;
the PostgreSQL ones come from the city-scale issue (2 workers, queries over 1,000,000 entities).
A scenario without a target for an engine is still measured, for comparison.

Each scenario has a probe: one request of the same kind, sent before wrk starts and required to
succeed. Without it a broken endpoint would be "benchmarked" at a fine rate of 4xx answers.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from bench.fleet import ENTITY_TYPE, HOT_ENTITY_ID, sensor

NGSI_LD = "/ngsi-ld/v1"
SQLITE = "sqlite"
POSTGRES = "postgres"
Probe = Callable[[httpx.Client], httpx.Response]


@dataclass(frozen=True)
class Target:
    min_per_s: float | None = None
    """Throughput in entities/s (requests/s where one request writes one entity)."""
    max_p95_ms: float | None = None

    def describe(self, entities_per_request: int) -> str:
        if self.min_per_s is not None:
            unit = "entities/s" if entities_per_request > 1 else "req/s"
            return f"≥ {self.min_per_s:,.0f} {unit}"
        if self.max_p95_ms is not None:
            return f"p95 ≤ {self.max_p95_ms:.0f} ms"
        return "—"

    def met(self, per_s: float, p95_ms: float) -> bool | None:
        if self.min_per_s is not None:
            return per_s >= self.min_per_s
        if self.max_p95_ms is not None:
            return p95_ms <= self.max_p95_ms
        return None


NO_TARGET = Target()


@dataclass(frozen=True)
class Scenario:
    name: str
    script: str
    entities_per_request: int
    """Entities written per request (0 for reads): turns req/s into entities/s."""
    targets: dict[str, Target] = field(default_factory=dict)
    probe: Probe | None = None
    needs_fleet: bool = False

    def target(self, engine: str = SQLITE) -> str:
        return self.targets.get(engine, NO_TARGET).describe(self.entities_per_request)

    def met(self, per_s: float, p95_ms: float, engine: str = SQLITE) -> bool | None:
        return self.targets.get(engine, NO_TARGET).met(per_s, p95_ms)


def _patch(client: httpx.Client) -> httpx.Response:
    body = {"type": "Property", "value": 1}
    return client.patch(f"{NGSI_LD}/entities/{HOT_ENTITY_ID}/attrs/temperature", json=body)


def _create(client: httpx.Client) -> httpx.Response:
    return client.post(f"{NGSI_LD}/entities", json=sensor("urn:ngsi-ld:BenchSensor:probe", _rng()))


def _batch(client: httpx.Client) -> httpx.Response:
    batch = [sensor(f"urn:ngsi-ld:BenchSensor:probe-{i}", _rng()) for i in range(2)]
    return client.post(f"{NGSI_LD}/entityOperations/upsert", json=batch)


def _query_q(client: httpx.Client) -> httpx.Response:
    return client.get(f"{NGSI_LD}/entities", params={"type": ENTITY_TYPE, "q": "temperature==5"})


def _query_near(client: httpx.Client) -> httpx.Response:
    params = {
        "type": ENTITY_TYPE,
        "georel": "near;maxDistance==500",
        "geometry": "Point",
        "coordinates": "[24.95,60.19]",
    }
    return client.get(f"{NGSI_LD}/entities", params=params)


def _rng() -> random.Random:
    return random.Random(0)


CEILING = Scenario("bare stack (Starlette + uvicorn)", "ceiling", 0)
SCENARIOS = (
    Scenario(
        "attribute PATCH, one entity",
        "patch",
        1,
        {SQLITE: Target(min_per_s=3000), POSTGRES: Target(min_per_s=3000)},
        probe=_patch,
    ),
    Scenario("entity create, unique ids", "create", 1, {SQLITE: Target(min_per_s=2000)}, _create),
    Scenario(
        "batch upsert 1,000 × 5 attrs",
        "batch_upsert",
        1000,
        {SQLITE: Target(min_per_s=50_000), POSTGRES: Target(min_per_s=50_000)},
        probe=_batch,
    ),
    Scenario(
        "query type + q",
        "query_q",
        0,
        {SQLITE: Target(max_p95_ms=50), POSTGRES: Target(max_p95_ms=100)},
        probe=_query_q,
        needs_fleet=True,
    ),
    Scenario(
        "georel near 500 m",
        "query_near",
        0,
        {SQLITE: Target(max_p95_ms=50), POSTGRES: Target(max_p95_ms=100)},
        probe=_query_near,
        needs_fleet=True,
    ),
)
