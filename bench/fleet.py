"""The synthetic sensor fleet the benchmarks write and query.

One shape shared by the Python seeder and the Lua scripts (which build the same JSON by hand):
five attributes — `temperature` (integer 0–99, so `q=temperature==N` selects ~1 %), `humidity`,
`status`, `name` and a `location` spread evenly over greater Helsinki, dense enough that a 500 m
`near` query finds a few hundred entities at 100,000.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

ENTITY_TYPE = "BenchSensor"
HOT_ENTITY_ID = "urn:ngsi-ld:BenchSensor:hot"
BBOX = (24.80, 60.13, 25.10, 60.25)
"""min lon, min lat, max lon, max lat — also hard-coded in scripts/query_near.lua."""


def sensor(entity_id: str, rng: random.Random) -> dict[str, Any]:
    lon = rng.uniform(BBOX[0], BBOX[2])
    lat = rng.uniform(BBOX[1], BBOX[3])
    return {
        "id": entity_id,
        "type": ENTITY_TYPE,
        "temperature": {"type": "Property", "value": rng.randrange(100)},
        "humidity": {"type": "Property", "value": rng.randrange(100)},
        "status": {"type": "Property", "value": rng.choice(["ok", "ok", "ok", "fault"])},
        "name": {"type": "Property", "value": entity_id.rsplit(":", 1)[-1]},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
    }


def fleet_batches(count: int, batch_size: int, seed: int = 7) -> Iterator[list[dict[str, Any]]]:
    """`count` sensors in batches for `/entityOperations/upsert`; seeded so runs are comparable."""
    rng = random.Random(seed)
    for start in range(0, count, batch_size):
        stop = min(start + batch_size, count)
        yield [sensor(f"urn:ngsi-ld:BenchSensor:seed-{i}", rng) for i in range(start, stop)]
