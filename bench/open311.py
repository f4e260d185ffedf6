"""`python -m bench.open311`: Open311 request submission and listing, per storage engine.

1. submission: a fresh `madina serve` (open mode) per engine and worker count, the bench city's
   catalogue loaded, wrk POSTing form-encoded potholes at random points of the city
   (`scripts/open311_submit.lua`): requests/s, latency, errors. Each submission is routed,
   stored with its reporter and history row, published as an Open311ServiceRequest entity (its
   history and change-log rows included) and audited; target ≥ 500/s.
2. listing: 100,000 requests seeded in bulk straight into the Open311 tables (spread over the
   last 90 days, three services, 30 % open), then wrk GETting one filter shape at a time:
   service and status (page of 100 and the spec's default of up to 1,000), a date window, and
   open requests of a service within 250 m of a random point (duplicates); target p95 ≤ 50 ms.
3. where a submission's time goes, in process (no HTTP): the store-and-publish transaction
   for one submission alone and for submissions sharing one transaction (the intake's group
   commit), and the checks and routing before it.

Load generator, server (and PostgreSQL) share the machine's cores: the figures are lower bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

from bench import pgdb, server
from bench.wrk import WrkResult, WrkSettings, run_wrk
from madina.auth.setup import runner
from madina.config import Settings
from madina.context.broker import Broker
from madina.context.jsonld import ContextResolver
from madina.services.open311.catalogue import parse_catalogue
from madina.services.open311.intake import Intake, Pending
from madina.services.open311.service import Open311Service, Submitter
from madina.services.open311.submission import canonical, read_form
from madina.store.open311 import NewRequest, Reporter, RequestRecord, StatusChange

CITY = {"type": "Polygon", "coordinates": [[[24.90, 60.15], [25.00, 60.15], [25.00, 60.20],
                                            [24.90, 60.20], [24.90, 60.15]]]}
HALVES = [{"type": "Polygon", "coordinates": [[[w, 60.15], [e, 60.15], [e, 60.20], [w, 60.20],
                                                [w, 60.15]]]}
          for w, e in ((24.90, 24.95), (24.95, 25.00))]
SERVICES = ("pothole", "graffiti", "streetlight")
CATALOGUE = {
    "jurisdiction": {"jurisdiction_id": "bench.example", "name": "Bench City",
                     "boundary": CITY},
    "groups": [{"code": "streets", "name": "Streets"}],
    "services": [
        {"service_code": "pothole", "service_name": "Pothole", "group": "streets",
         "expected_resolution_hours": 48,
         "attributes": [{"code": "size", "datatype": "singlevaluelist", "required": True,
                         "values": [{"key": "s", "name": "Small"},
                                    {"key": "l", "name": "Large"}]}]},
        {"service_code": "graffiti", "service_name": "Graffiti", "group": "streets"},
        {"service_code": "streetlight", "service_name": "Street light", "group": "streets"},
    ],
    "departments": [
        {"code": f"roads-{side}", "name": f"Roads {side}",
         "service_areas": [{"service_code": code, "area": area} for code in SERVICES]}
        for side, area in zip(("west", "east"), HALVES, strict=True)],
}
SEED = 100_000
SEED_BATCH = 5_000
SUBMIT_TARGET = 500.0
LIST_TARGET_MS = 50.0


@dataclass
class Row:
    engine: str
    what: str
    result: WrkResult | None
    note: str = ""
    target: str = ""
    met: bool | None = None


def _base(args: argparse.Namespace) -> str:
    return f"http://127.0.0.1:{args.port}"


def _load_catalogue(base: str) -> None:
    answer = httpx.put(f"{base}/open311/v2/admin/catalogue", json=CATALOGUE, timeout=30)
    if answer.status_code != 200:
        raise RuntimeError(f"catalogue: {answer.status_code} {answer.text[:300]}")


def _probe(base: str, path: str, method: str = "GET", data: dict | None = None) -> None:
    """One request of the kind measured, which must succeed before wrk starts."""
    answer = httpx.request(method, f"{base}{path}", data=data, timeout=30)
    if answer.status_code not in (200, 201):
        raise RuntimeError(f"probe {method} {path}: {answer.status_code} {answer.text[:300]}")


# -- 1. submission --------------------------------------------------------------------------
def submission(engine: str, database: str, workers: int, args: argparse.Namespace,
               workdir: Path) -> Row:
    base = _base(args)
    command = server.broker_command(args.port, database, workers)
    with server.running(command, args.port, workdir / f"{engine}-submit-{workers}.log"):
        _load_catalogue(base)
        _probe(base, "/open311/v2/requests.json", "POST",
               {"service_code": "pothole", "attribute[size]": "s", "lat": "60.17",
                "long": "24.92"})
        result = run_wrk("open311_submit", base, WrkSettings(args.threads, args.connections,
                                                             args.duration), workdir)
        stored = len(httpx.get(f"{base}/open311/v2/requests.json?page_size=1000",
                               timeout=60).json())
    return Row(engine, f"submit, {workers} worker(s)", result,
               f"{stored:,} listed after (first 1,000 page)", f"≥ {SUBMIT_TARGET:.0f}/s",
               result.requests_per_s >= SUBMIT_TARGET and result.errors == 0)


# -- 2. listing -----------------------------------------------------------------------------
def seed(database: str, count: int) -> float:
    """`count` requests straight into the tables (no entities: listing reads only the
    requests); seconds taken."""
    started = time.monotonic()
    settings = Settings(database=database) if not database.startswith("postgresql") else \
        Settings(database_url=database)
    store = settings.store()
    store.open()
    try:
        Open311Service(store, Broker(store)).replace_catalogue("", parse_catalogue(CATALOGUE))
        rng = random.Random(311)
        now = datetime.now(UTC)
        for first in range(0, count, SEED_BATCH):
            store.open311.add_requests([_seeded(rng, now, n)
                                        for n in range(first, min(first + SEED_BATCH, count))])
    finally:
        store.close()
    if settings.database_url is None:
        with sqlite3.connect(database) as conn:
            conn.execute("ANALYZE")
    else:
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE) open311_requests")
    return time.monotonic() - started


def _seeded(rng: random.Random, now: datetime, n: int) -> NewRequest:
    at = canonical(now - timedelta(seconds=rng.uniform(60, 89 * 86400)))
    service = SERVICES[n % 3]
    state = "open" if rng.random() < 0.3 else "closed"
    lat, lon = rng.uniform(60.15, 60.20), rng.uniform(24.90, 25.00)
    record = RequestRecord(
        tenant="", id="", token=f"seed-{n}", service_code=service,
        service_name=service.title(), department="roads-west" if lon < 24.95 else "roads-east",
        agency_responsible="Roads", status=state, status_notes=None,
        description=f"Seeded request {n}", lat=lat, long=lon, address=None, address_id=None,
        zipcode=None, media_url=None, attributes={"size": "s"} if service == "pothole" else {},
        service_notice=None, requested_at=at, updated_at=at, state=state)
    return NewRequest(record, Reporter(email=f"seed{n}@example.org", created_at=at),
                      StatusChange(at, state))


def listing_shapes(rng: random.Random) -> list[tuple[str, list[str]]]:
    """(name, paths) of each filter shape measured."""
    now = datetime.now(UTC)
    windows = []
    for _ in range(20):
        start = now - timedelta(days=rng.uniform(8, 88))
        windows.append(f"/open311/v2/requests.json?status=closed&page_size=100"
                       f"&start_date={start:%Y-%m-%dT%H:%M:%SZ}"
                       f"&end_date={start + timedelta(days=7):%Y-%m-%dT%H:%M:%SZ}")
    return [
        ("service + status=open, page of 100",
         [f"/open311/v2/requests.json?service_code={s}&status=open&page_size=100"
          for s in SERVICES]),
        ("service + status=open, default page (≤ 1,000)",
         [f"/open311/v2/requests.json?service_code={s}&status=open" for s in SERVICES]),
        ("status=closed in a 7-day window, page of 100", windows),
        ("open requests of a service within 250 m (duplicates)",
         [f"/open311/v2/requests.json?service_code={rng.choice(SERVICES)}&status=open"
          f"&lat={rng.uniform(60.15, 60.20):.5f}&long={rng.uniform(24.90, 25.00):.5f}"
          for _ in range(50)]),
    ]


def listing(engine: str, database: str, args: argparse.Namespace, workdir: Path) -> list[Row]:
    took = seed(database, args.requests)
    base = _base(args)
    rows = []
    command = server.broker_command(args.port, database, args.list_workers)
    with server.running(command, args.port, workdir / f"{engine}-list.log"):
        for name, paths in listing_shapes(random.Random(7)):
            for path in paths[:5]:
                _probe(base, path)
            os.environ["MADINA_BENCH_PATHS"] = "\n".join(paths)
            result = run_wrk("open311_list", base, WrkSettings(
                args.threads, args.list_connections, args.duration), workdir)
            rows.append(Row(engine, f"list: {name}", result,
                            f"{args.requests:,} requests seeded in {took:.0f} s",
                            f"p95 ≤ {LIST_TARGET_MS:.0f} ms",
                            result.p95_ms <= LIST_TARGET_MS and result.errors == 0))
    return rows


# -- 3. where the time goes -----------------------------------------------------------------
def in_process(database: str, batches: tuple[int, ...] = (1, 8, 64), rounds: int = 400
               ) -> list[str]:
    """Per-submission cost of accept (checks, routing) and of the store-and-publish
    transaction at several batch sizes, on one engine, without HTTP."""
    settings = Settings(database=database) if not database.startswith("postgresql") else \
        Settings(database_url=database)
    store = settings.store()
    store.open()
    lines = []
    try:
        broker = Broker(store)
        open311 = Open311Service(store, broker)
        open311.replace_catalogue("", parse_catalogue(CATALOGUE))
        terms = ContextResolver(store=store).core()
        intake = Intake(open311.tables, broker, runner(store, None))
        rng = random.Random(5)

        def form() -> list[tuple[str, str]]:
            return [("service_code", "pothole"), ("attribute[size]", "s"),
                    ("lat", f"{rng.uniform(60.151, 60.199):.6f}"),
                    ("long", f"{rng.uniform(24.901, 24.999):.6f}"),
                    ("description", "A hole"), ("email", "bench@example.org")]

        started = time.perf_counter()
        for _ in range(rounds):
            open311.accept("", read_form(form()), Submitter(), "https://bench.example")
        accept_us = (time.perf_counter() - started) / rounds * 1e6
        lines.append(f"checks and routing (read_form + accept): {accept_us:,.0f} µs")
        for size in batches:
            accepted = [open311.accept("", read_form(form()), Submitter(),
                                       "https://bench.example") for _ in range(rounds)]
            samples = []
            for start in range(0, rounds, size):
                chunk = [Pending(new, service, links, terms)
                         for new, service, links in accepted[start:start + size]]
                began = time.perf_counter()
                asyncio.run(_write(intake, chunk))
                samples.append((time.perf_counter() - began) / len(chunk))
            lines.append(f"store + publish, {size} per transaction: "
                         f"{statistics.median(samples) * 1e6:,.0f} µs per submission "
                         "(median)")
    finally:
        store.close()
    return lines


async def _write(intake: Intake, chunk: list[Pending]) -> None:
    outcomes = await intake.run(intake.write, chunk)
    failed = [o for o in outcomes if isinstance(o, Exception)]
    if failed:
        raise RuntimeError(f"in-process write failed: {failed[0]!r}")


# -- running and reporting ------------------------------------------------------------------
def run(engine: str, args: argparse.Namespace, workdir: Path) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    if engine == "postgres":
        url = pgdb.server_url()
        problem = pgdb.problem(url)
        if problem is not None:
            return [Row(engine, "all", None, f"not run: {problem}")], []
        for workers in args.workers:
            with pgdb.throwaway_database(url, f"o311s{workers}") as database:
                rows.append(submission(engine, database, workers, args, workdir))
        with pgdb.throwaway_database(url, "o311l") as database:
            rows += listing(engine, database, args, workdir)
        with pgdb.throwaway_database(url, "o311p") as database:
            notes = in_process(database)
        return rows, notes
    for workers in args.workers:
        rows.append(submission(engine, str(workdir / f"submit-{workers}.db"), workers, args,
                               workdir))
    rows += listing(engine, str(workdir / "list.db"), args, workdir)
    return rows, in_process(str(workdir / "in-process.db"))


def render(rows: list[Row], notes: dict[str, list[str]], args: argparse.Namespace) -> str:
    lines = ["| engine | what | req/s | p50 ms | p95 ms | p99 ms | errors | target | met |",
             "|---|---|--:|--:|--:|--:|--:|---|---|"]
    for row in rows:
        if row.result is None:
            lines.append(f"| {row.engine} | {row.what} | {row.note} | | | | | | |")
            continue
        r = row.result
        met = "yes" if row.met else "**no**"
        lines.append(f"| {row.engine} | {row.what} | {r.requests_per_s:,.0f} "
                     f"| {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.p99_ms:.1f} | {r.errors} "
                     f"| {row.target} | {met} |")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    seeded = next((row.note for row in rows if row.what.startswith("list")), "")
    lines += ["", f"Submissions: `wrk -t{args.threads} -c{args.connections} "
                  f"-d{args.duration}s`; listings: `-c{args.list_connections}`, "
                  f"{args.list_workers} worker(s), {seeded}. wrk, server (and PostgreSQL) on "
                  f"the same {len(os.sched_getaffinity(0))} cores; load average after: {load}."]
    for engine, found in notes.items():
        if found:
            lines += ["", f"Where a submission's time goes ({engine}, in process):", ""]
            lines += [f"- {line}" for line in found]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--workers", type=lambda t: [int(w) for w in t.split(",")],
                        default=[1, 2], help="uvicorn workers for submissions")
    parser.add_argument("--list-workers", type=int, default=1)
    parser.add_argument("--requests", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--list-connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--port", type=int, default=18311)
    args = parser.parse_args(argv)
    rows: list[Row] = []
    notes: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="madina-open311-bench-") as tmp:
        for engine in (e.strip() for e in args.engines.split(",")):
            found, notes[engine] = run(engine, args, Path(tmp))
            rows += found
    print(render(rows, notes, args))


if __name__ == "__main__":
    main()
