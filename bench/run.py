"""`python -m bench.run`: measure the broker under wrk and write the report.

Every write scenario gets a fresh server on a fresh database so one does not pay for another's
leftovers; the two query scenarios share one server seeded once with the fleet through the batch
API (the same path a city's bulk import takes).
"""

from __future__ import annotations

import argparse
import random
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench import server
from bench.fleet import HOT_ENTITY_ID, fleet_batches, sensor
from bench.report import Row, render_environment, render_table
from bench.scenarios import CEILING, NGSI_LD, SCENARIOS, Scenario
from bench.wrk import WrkSettings, run_wrk

RESULTS = Path(__file__).resolve().parent / "results"
DOC = server.REPO / "docs" / "benchmarks.md"
SEED_BATCH = 1000


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    wrk = WrkSettings(args.threads, args.connections, args.duration)
    chosen = [s for s in SCENARIOS if not args.only or s.script in args.only]
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="madina-bench-") as tmp:
        workdir = Path(tmp)
        ceiling = _run_ceiling(args, wrk, workdir)
        rows = [ceiling]
        rows += _run_writes([s for s in chosen if not s.needs_fleet], args, wrk, workdir)
        rows += _run_queries([s for s in chosen if s.needs_fleet], args, wrk, workdir, notes)
    ceiling_per_s = ceiling.result.requests_per_s if ceiling.result else None
    table = render_table(rows, ceiling_per_s)
    environment = render_environment(wrk, args.workers, notes)
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
    parser.add_argument("--entities", type=int, default=100_000, help="fleet size for queries")
    parser.add_argument("--port", type=int, default=18026)
    parser.add_argument("--only", nargs="*", help="scenario scripts to run (default: all)")
    parser.add_argument("--no-write", dest="write", action="store_false", help="print only")
    return parser.parse_args(argv)


def _url(args: argparse.Namespace) -> str:
    return f"http://127.0.0.1:{args.port}"


def _run_ceiling(args: argparse.Namespace, wrk: WrkSettings, workdir: Path) -> Row:
    command = server.ceiling_command(args.port, args.workers)
    with server.running(command, args.port, workdir / "ceiling.log") as pid:
        return _measure(CEILING, pid, _url(args), wrk, workdir)


def _run_writes(
    scenarios: list[Scenario], args: argparse.Namespace, wrk: WrkSettings, workdir: Path
) -> list[Row]:
    rows = []
    for scenario in scenarios:
        db = workdir / f"{scenario.script}.db"
        command = server.broker_command(args.port, db, args.workers)
        try:
            with server.running(command, args.port, workdir / f"{scenario.script}.log") as pid:
                _setup_hot_entity(_url(args))
                rows.append(_probe_and_measure(scenario, pid, _url(args), wrk, workdir))
        except (RuntimeError, httpx.HTTPError) as error:
            rows.append(Row(scenario, None, failure=_short(str(error))))
    return rows


def _run_queries(
    scenarios: list[Scenario],
    args: argparse.Namespace,
    wrk: WrkSettings,
    workdir: Path,
    notes: list[str],
) -> list[Row]:
    if not scenarios:
        return []
    command = server.broker_command(args.port, workdir / "fleet.db", args.workers)
    try:
        with server.running(command, args.port, workdir / "queries.log") as pid:
            rate = _seed_fleet(_url(args), args.entities)
            notes.append(
                f"query fleet: {args.entities:,} entities seeded through "
                f"/entityOperations/upsert in batches of {SEED_BATCH:,} at "
                f"{rate:,.0f} entities/s (one client, sequential)"
            )
            return [_probe_and_measure(s, pid, _url(args), wrk, workdir) for s in scenarios]
    except (RuntimeError, httpx.HTTPError) as error:
        return [Row(s, None, failure=_short(str(error))) for s in scenarios]


def _setup_hot_entity(url: str) -> None:
    """The PATCH scenario's target; created by every write server so each starts alike."""
    response = httpx.post(f"{url}{NGSI_LD}/entities", json=sensor(HOT_ENTITY_ID, random.Random(0)))
    if response.status_code != 201:
        raise RuntimeError(f"creating {HOT_ENTITY_ID}: {response.status_code} {response.text}")


def _seed_fleet(url: str, count: int) -> float:
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=300.0) as client:
        for batch in fleet_batches(count, SEED_BATCH):
            response = client.post(f"{NGSI_LD}/entityOperations/upsert", json=batch)
            if response.status_code not in (200, 201, 204):
                raise RuntimeError(f"seeding: {response.status_code} {response.text[:300]}")
    return count / (time.monotonic() - started)


def _probe_and_measure(
    scenario: Scenario, pid: int, url: str, wrk: WrkSettings, workdir: Path
) -> Row:
    if scenario.probe is not None:
        with httpx.Client(base_url=url, timeout=30.0) as client:
            response = scenario.probe(client)
        if response.status_code >= 300:
            failure = f"probe answered {response.status_code} {response.text}"
            return Row(scenario, None, failure=_short(failure))
    return _measure(scenario, pid, url, wrk, workdir)


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
