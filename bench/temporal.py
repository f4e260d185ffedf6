"""`python -m bench.temporal`: aggregated temporal retrieve under wrk, per storage engine and
history size.

A fresh `madina serve` per engine; its history is seeded directly in the database (SQL bulk
insert on SQLite, COPY on PostgreSQL, then ANALYZE), because what is measured is reading it:
`sensors` BenchSensor entities, each with a `temperature` reading every 10 minutes over 30 days
(4,320 instances per sensor), so 23 sensors make ~100,000 instances and 231 ~1,000,000. Each
request asks one random sensor for `avg,min,max` per hour over the 30 days (720 periods):

    GET /ngsi-ld/v1/temporal/entities/{id}?attrs=temperature&aggrMethods=avg,min,max
        &aggrPeriodDuration=PT1H&timerel=between&timeAt=…&endTimeAt=…

The targets (issue 4): p95 ≤ 50 ms at 100k instances, ≤ 200 ms at 1M; Stellio reports 42 req/s
(p95 321 ms) for aggregated temporal queries at 100k. `--series-only` seeds all instances on
one sensor instead (every 26 s at 100k): the same request then aggregates the whole history.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import psycopg

from bench import pgdb, server
from bench.wrk import WrkResult, WrkSettings, run_wrk
from madina.store.postgres_partitions import HISTORY

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 30
STEP = timedelta(minutes=10)
PER_SENSOR = DAYS * 24 * 6
VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
TYPE = VOCAB + "BenchSensor"
ATTR = VOCAB + "temperature"
STELLIO_REQ_S = 42.0
TARGETS_MS = {100_000: 50.0, 1_000_000: 200.0}


@dataclass
class Row:
    engine: str
    instances: int
    sensors: int
    result: WrkResult | None
    note: str = ""
    cpu_ms: float | None = None
    """CPU time per request of the server's processes (and the database's backends serving
    them): what the machine pays whatever else runs on it."""


def process_cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of `pids` and their descendants, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
            times[int(entry.name)] = int(fields[11]) + int(fields[12])
    family = set(pids)
    grew = True
    while grew:
        children = {child for child, parent in parents.items() if parent in family}
        grew = not children <= family
        family |= children
    return sum(times.get(member, 0) for member in family) / ticks


def database_pids(url: str) -> list[int]:
    """The PostgreSQL backends connected to the bench database (same machine)."""
    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s"
                            " AND pid <> pg_backend_pid()", (name,)).fetchall()
    return [pid for (pid,) in rows]


def canonical(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sensor_id(number: int) -> str:
    return f"urn:ngsi-ld:BenchSensor:hist-{number}"


def history(first: int, sensors: int, per_sensor: int) -> Iterator[tuple]:
    """(entity id, instance JSON, observedAt) of each reading; seeded, so runs compare."""
    rng = random.Random(first)
    step = timedelta(days=DAYS) / per_sensor
    for number in range(first, first + sensors):
        level = rng.uniform(-5, 25)
        for n in range(per_sensor):
            at = canonical(START + step * n)
            level += rng.uniform(-0.3, 0.3)
            instance = {"type": "Property", "value": round(level, 2), "observedAt": at,
                        "createdAt": at, "modifiedAt": at}
            yield sensor_id(number), orjson.dumps(instance).decode(), at


def seed_sqlite(path: str, first: int, sensors: int, per_sensor: int) -> None:
    conn = sqlite3.connect(path, timeout=60)
    with conn:
        conn.executemany(
            "INSERT INTO attribute_instances (tenant, entity_id, entity_type, attr, dataset_id,"
            " instance, observed_at, recorded_at, deleted) VALUES ('', ?, ?, ?, '', ?, ?, ?, 0)",
            ((entity, TYPE, ATTR, instance, at, at)
             for entity, instance, at in history(first, sensors, per_sensor)),
        )
    conn.execute("ANALYZE")
    conn.close()


def seed_postgres(url: str, first: int, sensors: int, per_sensor: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for month in {START, START + timedelta(days=DAYS)}:
            HISTORY.ensure_month(conn, month)
        with conn.cursor() as cursor, cursor.copy(
            "COPY attribute_instances (tenant, entity_id, entity_type, attr, dataset_id,"
            " instance, observed_at) FROM STDIN"
        ) as copy:
            for entity, instance, at in history(first, sensors, per_sensor):
                copy.write_row(("", entity, TYPE, ATTR, "", instance, at))
        conn.execute("VACUUM (ANALYZE) attribute_instances")


def create_entities(base: str, first: int, sensors: int) -> None:
    """The current entities (a retrieve finds the entity, then reads its history)."""
    batch = [{"id": sensor_id(n), "type": "BenchSensor",
              "temperature": {"type": "Property", "value": 0,
                              "observedAt": canonical(START + timedelta(days=DAYS))}}
             for n in range(first, first + sensors)]
    for start in range(0, len(batch), 500):
        answer = httpx.post(f"{base}/ngsi-ld/v1/entityOperations/upsert",
                            json=batch[start:start + 500], timeout=60)
        if answer.status_code not in (201, 204):
            raise RuntimeError(f"creating sensors: {answer.status_code} {answer.text[:300]}")


def probe(base: str, sensors: int) -> None:
    """One request that must succeed (and warm the caches) before wrk starts."""
    params = {"attrs": "temperature", "aggrMethods": "avg,min,max", "aggrPeriodDuration": "PT1H",
              "timerel": "between", "timeAt": "2026-01-01T00:00:00Z",
              "endTimeAt": "2026-01-31T00:00:00Z"}
    for number in range(min(sensors, 50)):
        answer = httpx.get(f"{base}/ngsi-ld/v1/temporal/entities/{sensor_id(number)}",
                           params=params, timeout=60)
        if answer.status_code != 200:
            raise RuntimeError(f"probe: {answer.status_code} {answer.text[:300]}")
        periods = len(answer.json()["temperature"]["avg"])
        if periods != DAYS * 24:
            raise RuntimeError(f"probe: {periods} periods instead of {DAYS * 24}")


def measure(engine: str, database: str, args: argparse.Namespace, workdir: Path) -> list[Row]:
    rows = []
    base = f"http://127.0.0.1:{args.port}"
    command = server.broker_command(args.port, database, args.workers)
    wrk = WrkSettings(args.threads, args.connections, args.duration)
    with server.running(command, args.port, workdir / f"{engine}.log") as pid:
        seeded = 0
        for instances in args.sizes:
            if args.series_only:
                sensors, per_sensor = 1, instances
                if seeded:
                    raise SystemExit("--series-only measures one size at a time")
            else:
                sensors, per_sensor = round(instances / PER_SENSOR), PER_SENSOR
            new = sensors - seeded
            started = time.monotonic()
            if engine == "sqlite":
                seed_sqlite(database, seeded, new, per_sensor)
            else:
                seed_postgres(database, seeded, new, per_sensor)
            create_entities(base, seeded, new)
            seed_s = time.monotonic() - started
            seeded = sensors
            total = sensors * per_sensor
            probe(base, sensors)
            os.environ["MADINA_BENCH_SENSORS"] = str(sensors)
            pids = [pid, *(database_pids(database) if engine == "postgres" else [])]
            cpu_before = process_cpu_s(pids)
            result = run_wrk("temporal_aggregate", base, wrk, workdir)
            cpu_ms = (process_cpu_s(pids) - cpu_before) * 1000 / max(result.requests, 1)
            rows.append(Row(engine, total, sensors, result, f"seeded in {seed_s:.0f} s",
                            cpu_ms))
    return rows


def run(engine: str, args: argparse.Namespace, workdir: Path) -> list[Row]:
    """The engine's rows; a failure is reported in them with the server log's last line."""
    try:
        if engine == "sqlite":
            return measure(engine, str(workdir / "temporal.db"), args, workdir)
        url = pgdb.server_url()
        problem = pgdb.problem(url)
        if problem is not None:
            return [Row(engine, size, 0, None, f"not run: {problem}") for size in args.sizes]
        with pgdb.throwaway_database(url, "temporal") as database:
            return measure(engine, database, args, workdir)
    except (RuntimeError, OSError, httpx.HTTPError, psycopg.Error) as error:
        log = workdir / f"{engine}.log"
        tail = log.read_text().strip().splitlines()[-1:] if log.exists() else []
        note = " ".join(f"failed: {error} {' '.join(tail)}".split()).replace("|", "/")
        return [Row(engine, size, 0, None, note[:300]) for size in args.sizes]


def render(rows: list[Row], args: argparse.Namespace) -> str:
    lines = [
        "| engine | instances | sensors × instances | req/s | vs Stellio (42 req/s) | p50 ms "
        "| p95 ms | p99 ms | errors | CPU ms/request | target | met |",
        "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for row in rows:
        target = TARGETS_MS.get(row.instances) or TARGETS_MS.get(
            min(TARGETS_MS, key=lambda size: abs(size - row.instances)))
        shape = f"{row.sensors} × {row.instances // max(row.sensors, 1):,}"
        if row.result is None:
            lines.append(f"| {row.engine} | {row.instances:,} | {shape} | {row.note} "
                         f"| | | | | | | p95 ≤ {target:.0f} ms | no |")
            continue
        r = row.result
        met = "yes" if r.p95_ms <= target else "**no**"
        lines.append(
            f"| {row.engine} | {row.instances:,} | {shape} | {r.requests_per_s:,.0f} "
            f"| {r.requests_per_s / STELLIO_REQ_S:.1f}× | {r.p50_ms:.1f} | {r.p95_ms:.1f} "
            f"| {r.p99_ms:.1f} | {r.errors} | {row.cpu_ms:.1f} | p95 ≤ {target:.0f} ms | {met} |"
        )
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines += ["", f"`wrk -t{args.threads} -c{args.connections} -d{args.duration}s`, "
              f"{args.workers} uvicorn worker(s), wrk and server (and PostgreSQL) on the same "
              f"{len(os.sched_getaffinity(0))} cores; load average after: {load}; "
              + "; ".join(f"{row.engine} {row.instances:,}: {row.note}" for row in rows)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=lambda text: [int(s) for s in text.split(",")],
                        default=[100_000, 1_000_000], help="history sizes, ascending")
    parser.add_argument("--series-only", action="store_true",
                        help="all instances on one sensor (one size per run)")
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--port", type=int, default=18046)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="madina-temporal-bench-") as tmp:
        rows = [row for engine in args.engines.split(",")
                for row in run(engine.strip(), args, Path(tmp))]
    print(render(rows, args))


if __name__ == "__main__":
    main()
