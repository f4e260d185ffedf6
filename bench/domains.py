"""`python -m bench.domains`: do the domain services keep pace with ingestion?

In one process per engine: a producer thread commits AirQualityObserved and TrafficFlowObserved
updates through the broker's batch upsert (the path the IoT gateway's group commit takes) at a
target rate; the change feed and the domain runtime (environment and traffic services) react
and commit their derived attributes, as in a running server. Reported: the update rate reached,
the rate the services reacted at, and their backlog over the run — a backlog that ends near
zero and does not grow means they keep pace. Goal (issue 6): 10,000 updates/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import pgdb
from madina.context.broker import Broker
from madina.context.jsonld import ContextResolver
from madina.domains.runtime import DomainRuntime
from madina.domains.services import domain_services
from madina.events.feed import ChangeFeed
from madina.store.base import Store
from madina.store.postgres import PostgresStore
from madina.store.sqlite import SQLiteStore

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 500


def observation(n: int, at: datetime) -> dict:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if n % 2:
        return {"id": f"urn:ngsi-ld:AirQualityObserved:s{n}", "type": "AirQualityObserved",
                "pm25": {"type": "Property", "value": 5 + n % 40, "observedAt": stamp},
                "no2": {"type": "Property", "value": 20 + n % 60, "observedAt": stamp}}
    return {"id": f"urn:ngsi-ld:TrafficFlowObserved:l{n}", "type": "TrafficFlowObserved",
            "intensity": {"type": "Property", "value": 10 + n % 30, "observedAt": stamp},
            "occupancy": {"type": "Property", "value": 0.1, "observedAt": stamp},
            "averageVehicleSpeed": {"type": "Property", "value": 50.0, "observedAt": stamp},
            "laneId": {"type": "Property", "value": 1},
            "refRoadSegment": {"type": "Relationship",
                               "object": f"urn:ngsi-ld:RoadSegment:r{n // 4}"}}


def produce(broker: Broker, terms, rate: float, seconds: float, sources: int,
            written: list[int]) -> None:
    """Commit `rate` updates a second for `seconds`, each source once a simulated minute."""
    start = time.monotonic()
    clock = datetime(2026, 11, 1, tzinfo=UTC)
    n = 0
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate) + BATCH
        while written[0] < due:
            ids = [(n + k) % sources for k in range(BATCH)]
            if ids[0] == 0 or n == 0:
                clock += timedelta(minutes=1)
            broker.batch_upsert("", [(observation(i, clock), terms) for i in ids], replace=False)
            n += BATCH
            written[0] += BATCH
        time.sleep(0.001)


async def run(store: Store, rate: float, seconds: float, sources: int) -> dict[str, float]:
    store.open()
    broker = Broker(store)
    terms = ContextResolver().core()
    feed = ChangeFeed(store, poll_interval=0.025)
    broker.committed.append(feed.wake)
    await feed.start()
    runtime = DomainRuntime(broker, feed, domain_services(["environment", "traffic"], None))
    await runtime.start()
    reacted = [0]
    feed.subscribe(lambda events: None)
    written = [0]
    producer = threading.Thread(target=produce, args=(broker, terms, rate, seconds, sources,
                                                      written))
    started = time.monotonic()
    base_events = _events()
    producer.start()
    backlog: list[int] = []
    while producer.is_alive():
        await asyncio.sleep(0.5)
        backlog.append(len(runtime._queue))
    produced_s = time.monotonic() - started
    drain_start = time.monotonic()
    while runtime._queue and time.monotonic() - drain_start < 30:
        await asyncio.sleep(0.05)
    reacted[0] = int(_events() - base_events)
    total_s = time.monotonic() - started
    await runtime.stop()
    await feed.stop()
    store.close()
    return {
        "updates_per_s": written[0] / produced_s,
        "reacted_per_s": reacted[0] / total_s,
        "reacted": reacted[0],
        "written": written[0],
        "backlog_max": max(backlog, default=0),
        "backlog_end": backlog[-1] if backlog else 0,
        "drain_s": time.monotonic() - drain_start,
    }


def _events() -> float:
    from madina.metrics import DOMAIN_EVENTS
    return DOMAIN_EVENTS._value.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--sources", type=int, default=2_000)
    parser.add_argument("--engines", nargs="*", default=["sqlite", "postgres"])
    parser.add_argument("--no-write", dest="write", action="store_false")
    args = parser.parse_args()
    rows = []
    for engine in args.engines:
        if engine == "postgres":
            problem = pgdb.problem(pgdb.server_url())
            if problem:
                print(f"postgres skipped: {problem}")
                continue
            with pgdb.throwaway_database(pgdb.server_url(), "domains") as url:
                result = asyncio.run(run(PostgresStore(url), args.rate, args.seconds,
                                         args.sources))
        else:
            with tempfile.TemporaryDirectory() as tmp:
                result = asyncio.run(run(SQLiteStore(str(Path(tmp) / "bench.db")), args.rate,
                                         args.seconds, args.sources))
        rows.append((engine, result))
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = [
        "## Domain services keeping pace (`python -m bench.domains`)", "",
        f"Target {args.rate:,.0f} updates/s for {args.seconds:.0f} s over {args.sources:,} "
        f"sources (half AirQualityObserved, half TrafficFlowObserved lanes), batches of "
        f"{BATCH}; environment and traffic services on. Load average: {load}.", "",
        "| engine | updates/s committed | reactions/s | backlog max | backlog at end | "
        "drain after producer (s) |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for engine, r in rows:
        lines.append(
            f"| {engine} | {r['updates_per_s']:,.0f} | {r['reacted_per_s']:,.0f} | "
            f"{r['backlog_max']:,} | {r['backlog_end']:,} | {r['drain_s']:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "domains.md").write_text(text)


if __name__ == "__main__":
    main()
