"""Turn measurements into the markdown table kept in bench/results/ and docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

from bench.scenarios import SQLITE, Scenario
from bench.wrk import WrkResult, WrkSettings


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    result: WrkResult | None
    peak_rss_bytes: int = 0
    failure: str = ""
    """Why the scenario did not run (server would not start, probe answered an error)."""
    engine: str = SQLITE
    fleet: int = 0
    """Entities in the database a query scenario reads (0: not a query)."""


@dataclass(frozen=True)
class Reference:
    """A rate measured outside HTTP that a scenario is read against (e.g. raw COPY)."""

    name: str
    engine: str
    entities_per_s: float
    compared: str
    """What is set against it, e.g. "batch upsert = 21.0 %"."""


def render_table(rows: list[Row | Reference], ceiling_per_s: float | None) -> str:
    lines = [
        "| scenario | engine | req/s | entities/s | p50 ms | p95 ms | p99 ms | errors "
        "| peak RSS MB | of ceiling | target | met |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for row in rows:
        if isinstance(row, Reference):
            lines.append(_render_reference(row))
        else:
            lines.append(_render_row(row, ceiling_per_s))
    return "\n".join(lines)


def _render_row(row: Row, ceiling_per_s: float | None) -> str:
    scenario, result = row.scenario, row.result
    name = f"{scenario.name}, {_count(row.fleet)} entities" if row.fleet else scenario.name
    engine = row.engine if scenario.script != "ceiling" else "—"
    target = scenario.target(row.engine)
    if result is None:
        empty = " |" * 7
        return f"| {name} | {engine} | not run: {row.failure} |{empty} {target} | no |"
    per_s = result.requests_per_s
    entities = per_s * scenario.entities_per_request
    share = f"{per_s / ceiling_per_s:.1%}" if ceiling_per_s else "—"
    met = scenario.met(
        entities if scenario.entities_per_request else per_s, result.p95_ms, row.engine
    )
    verdict = {True: "yes", False: "**no**", None: "—"}[met]
    return (
        f"| {name} | {engine} | {per_s:,.0f} | {f'{entities:,.0f}' if entities else '—'} "
        f"| {result.p50_ms:.1f} | {result.p95_ms:.1f} | {result.p99_ms:.1f} | {result.errors} "
        f"| {row.peak_rss_bytes / 2**20:.0f} | {share} | {target} | {verdict} |"
    )


def _render_reference(reference: Reference) -> str:
    cells = [reference.name, reference.engine, "—", f"{reference.entities_per_s:,.0f}"]
    cells += ["—"] * 5 + [reference.compared, "—", "—"]
    return "| " + " | ".join(cells) + " |"


def _count(entities: int) -> str:
    """1,000,000 as "1M" and 100,000 as "100k": fleet sizes are round numbers."""
    if entities % 1_000_000 == 0:
        return f"{entities // 1_000_000}M"
    if entities % 1000 == 0:
        return f"{entities // 1000}k"
    return f"{entities:,}"


def render_environment(wrk: WrkSettings, workers: int, engines: list[str], notes: list[str]) -> str:
    lines = [
        f"- machine: {_cpu_model()}, {_cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        f"- load: `wrk -t{wrk.threads} -c{wrk.connections} -d{wrk.duration_s}s --latency "
        f"--timeout {wrk.timeout_s}s` on loopback, same machine as the server",
        f"- server: `madina serve` ({', '.join(engines)} engine), {workers} uvicorn worker(s), "
        "log level warning",
    ]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0))
