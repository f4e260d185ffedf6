"""`python -m bench.run`: measure the broker under wrk, per storage engine, and write the report.

Every write scenario gets a fresh server on a fresh database (an SQLite file, or a throwaway
PostgreSQL database) so one does not pay for another's leftovers; the two query scenarios share
one server per engine, seeded once with the fleet. SQLite's fleet goes in through the batch API
(the path a city's bulk import takes); PostgreSQL's million goes in through the broker directly
(the same batch-upsert code without HTTP), so seeding does not dominate the run.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from bench import copy_ceiling, pgdb, server
from bench.fleet import HOT_ENTITY_ID, fleet_batches, sensor
from bench.report import Reference, Row, render_environment, render_table
from bench.scenarios import CEILING, NGSI_LD, POSTGRES, SCENARIOS, SQLITE, Scenario
from bench.wrk import WrkSettings, run_wrk

RESULTS = Path(__file__).resolve().parent / "results"
DOC = server.REPO / "docs" / "benchmarks.md"
SEED_BATCH = 1000
ENGINES = (SQLITE, POSTGRES)


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    wrk = WrkSettings(args.threads, args.connections, args.duration)
    chosen = [s for s in SCENARIOS if not args.only or s.script in args.only]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    notes: list[str] = [f"load average before the run (1, 5, 15 min): {load}"]
    engines = _engines(args, notes)
    with tempfile.TemporaryDirectory(prefix="madina-bench-") as tmp:
        workdir = Path(tmp)
        ceiling = _run_ceiling(args, wrk, workdir)
        rows: list[Row | Reference] = [ceiling]
        for engine in engines:
            writes = _run_writes(
                engine, [s for s in chosen if not s.needs_fleet], args, wrk, workdir
            )
            rows += writes
            if engine == POSTGRES and any(r.scenario.script == "batch_upsert" for r in writes):
                rows.append(_run_copy(args, writes, notes))
            queries = [s for s in chosen if s.needs_fleet]
            rows += _run_queries(engine, queries, args, wrk, workdir, notes)
    ceiling_per_s = ceiling.result.requests_per_s if ceiling.result else None
    table = render_table(rows, ceiling_per_s)
    environment = render_environment(wrk, args.workers, engines, notes)
    print(table)
    print(environment)
    if args.write:
        _write_reports(table, environment)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of the server")
    parser.add_argument(
        "--engines",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        help="comma-separated: sqlite,postgres (default: both, postgres when reachable at "
        f"MADINA_BENCH_DATABASE_URL, else {pgdb.DEFAULT_URL})",
    )
    parser.add_argument("--entities", type=int, default=100_000, help="SQLite query fleet")
    parser.add_argument("--pg-entities", type=int, default=1_000_000, help="PostgreSQL query fleet")
    parser.add_argument("--port", type=int, default=18026)
    parser.add_argument("--only", nargs="*", help="scenario scripts to run (default: all)")
    parser.add_argument("--no-write", dest="write", action="store_false", help="print only")
    args = parser.parse_args(argv)
    unknown = set(args.engines or ()) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(sorted(unknown))}; known: {', '.join(ENGINES)}")
    return args


def _engines(args: argparse.Namespace, notes: list[str]) -> list[str]:
    """The engines to measure; PostgreSQL by default only when it can be used. One asked for
    by name but unusable is kept, and its scenarios report why they did not run."""
    url = pgdb.server_url()
    problem = pgdb.problem(url) if args.engines is None or POSTGRES in args.engines else None
    if args.engines is None:
        engines = [SQLITE] if problem else [SQLITE, POSTGRES]
        if problem:
            notes.append(f"postgres not measured ({url}): {problem}")
    else:
        engines = args.engines
    if POSTGRES in engines and not problem:
        notes.append(f"database: {pgdb.describe_server(url)}")
        notes.append(
            "peak RSS of postgres rows is the Madina server's alone, PostgreSQL's not included"
        )
    return engines


def _url(args: argparse.Namespace) -> str:
    return f"http://127.0.0.1:{args.port}"


@contextmanager
def _database(engine: str, label: str, workdir: Path) -> Iterator[str]:
    """A fresh, empty database for one server: an SQLite file or a throwaway PostgreSQL one."""
    if engine == SQLITE:
        yield str(workdir / f"{label}.db")
    else:
        with pgdb.throwaway_database(pgdb.server_url(), label) as url:
            yield url


def _run_ceiling(args: argparse.Namespace, wrk: WrkSettings, workdir: Path) -> Row:
    command = server.ceiling_command(args.port, args.workers)
    with server.running(command, args.port, workdir / "ceiling.log") as pid:
        return _measure(CEILING, pid, _url(args), wrk, workdir)


def _run_writes(
    engine: str,
    scenarios: list[Scenario],
    args: argparse.Namespace,
    wrk: WrkSettings,
    workdir: Path,
) -> list[Row]:
    rows = []
    for scenario in scenarios:
        log = workdir / f"{engine}-{scenario.script}.log"
        try:
            with _database(engine, scenario.script, workdir) as db:
                command = server.broker_command(args.port, db, args.workers)
                with server.running(command, args.port, log) as pid:
                    _setup_hot_entity(_url(args))
                    rows.append(_probe_and_measure(scenario, engine, pid, args, wrk, workdir))
        except (RuntimeError, OSError, httpx.HTTPError, psycopg.Error) as error:
            rows.append(Row(scenario, None, failure=_short(str(error)), engine=engine))
    return rows


def _run_copy(args: argparse.Namespace, writes: list[Row], notes: list[str]) -> Reference:
    """Raw COPY of the same documents, in its own database, right after the HTTP writes."""
    name = "raw COPY, jsonb + GIN and geometry + GiST (write ceiling)"
    try:
        with _database(POSTGRES, "copy", Path()) as db:
            rate = copy_ceiling.measure(db).entities_per_s
    except psycopg.Error as error:
        return Reference(name, POSTGRES, 0.0, f"not run: {_short(str(error))}")
    upsert = next(r for r in writes if r.scenario.script == "batch_upsert")
    if upsert.result is None:
        return Reference(name, POSTGRES, rate, "—")
    upsert_rate = upsert.result.requests_per_s * upsert.scenario.entities_per_request
    notes.append(
        f"write ceiling: COPY of {copy_ceiling.ENTITIES:,} fleet documents in transactions of "
        f"{copy_ceiling.BATCH:,} from {copy_ceiling.CLIENTS} clients at {rate:,.0f} entities/s; "
        f"batch upsert over HTTP reached {upsert_rate / rate:.1%} of it"
    )
    return Reference(name, POSTGRES, rate, f"batch upsert = {upsert_rate / rate:.1%}")


def _run_queries(
    engine: str,
    scenarios: list[Scenario],
    args: argparse.Namespace,
    wrk: WrkSettings,
    workdir: Path,
    notes: list[str],
) -> list[Row]:
    if not scenarios:
        return []
    fleet = args.entities if engine == SQLITE else args.pg_entities
    try:
        with _database(engine, "fleet", workdir) as db:
            command = server.broker_command(args.port, db, args.workers)
            with server.running(command, args.port, workdir / f"{engine}-queries.log") as pid:
                notes.append(f"{engine} query fleet: {_seed(engine, db, _url(args), fleet)}")
                return [
                    _probe_and_measure(s, engine, pid, args, wrk, workdir, fleet) for s in scenarios
                ]
    except (RuntimeError, OSError, httpx.HTTPError, psycopg.Error) as error:
        return [Row(s, None, failure=_short(str(error)), engine=engine) for s in scenarios]


def _seed(engine: str, db: str, url: str, count: int) -> str:
    """Fill the fleet database; says how, and how fast."""
    if engine == POSTGRES:
        processes = len(os.sched_getaffinity(0))
        rate = pgdb.seed_fleet(db, count, processes)
        return (
            f"{count:,} entities seeded through the broker's batch upsert (no HTTP) in batches "
            f"of {pgdb.SEED_BATCH:,} at {rate:,.0f} entities/s ({processes} processes), "
            "then VACUUM ANALYZE"
        )
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=300.0) as client:
        for batch in fleet_batches(count, SEED_BATCH):
            response = client.post(f"{NGSI_LD}/entityOperations/upsert", json=batch)
            if response.status_code not in (200, 201, 204):
                raise RuntimeError(f"seeding: {response.status_code} {response.text[:300]}")
    rate = count / (time.monotonic() - started)
    return (
        f"{count:,} entities seeded through /entityOperations/upsert in batches of "
        f"{SEED_BATCH:,} at {rate:,.0f} entities/s (one client, sequential)"
    )


def _setup_hot_entity(url: str) -> None:
    """The PATCH scenario's target; created by every write server so each starts alike."""
    response = httpx.post(f"{url}{NGSI_LD}/entities", json=sensor(HOT_ENTITY_ID, random.Random(0)))
    if response.status_code != 201:
        raise RuntimeError(f"creating {HOT_ENTITY_ID}: {response.status_code} {response.text}")


def _probe_and_measure(
    scenario: Scenario,
    engine: str,
    pid: int,
    args: argparse.Namespace,
    wrk: WrkSettings,
    workdir: Path,
    fleet: int = 0,
) -> Row:
    if scenario.probe is not None:
        with httpx.Client(base_url=_url(args), timeout=30.0) as client:
            response = scenario.probe(client)
        if response.status_code >= 300:
            failure = f"probe answered {response.status_code} {response.text}"
            return Row(scenario, None, failure=_short(failure), engine=engine, fleet=fleet)
    row = _measure(scenario, pid, _url(args), wrk, workdir)
    return Row(scenario, row.result, row.peak_rss_bytes, engine=engine, fleet=fleet)


def _measure(scenario: Scenario, pid: int, url: str, wrk: WrkSettings, workdir: Path) -> Row:
    with server.PeakRss(pid) as rss:
        result = run_wrk(scenario.script, url, wrk, workdir)
    return Row(scenario, result, peak_rss_bytes=rss.peak)


def _short(text: str, limit: int = 160) -> str:
    """The end of an error (a traceback's last line says what went wrong), fit for a table cell."""
    flat = " ".join(text.split()).replace("|", "/")
    return flat if len(flat) <= limit else "…" + flat[-(limit - 1) :]


def _write_reports(table: str, environment: str) -> None:
    now = datetime.now(UTC)
    host = socket.gethostname()
    commit = _git_commit()
    heading = f"Run of {now:%Y-%m-%d %H:%M} UTC on `{host}`, commit `{commit}`"
    body = f"{heading}\n\n{table}\n\n{environment}\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{now:%Y-%m-%d}-{host}.md").write_text(f"# Benchmark\n\n{body}")
    header = (Path(__file__).with_name("doc_header.md")).read_text()
    DOC.write_text(f"{header}\n## Latest run\n\n{body}")


def _git_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=server.REPO, capture_output=True,
            text=True, check=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


if __name__ == "__main__":
    main()
