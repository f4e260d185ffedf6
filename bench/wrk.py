"""Run wrk with a scenario script and read back the numbers from its BENCH_RESULT line."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent / "scripts"


@dataclass(frozen=True)
class WrkSettings:
    threads: int = 2
    connections: int = 64
    duration_s: int = 10
    timeout_s: int = 30
    """Well above any expected latency: a batch of 1,000 entities under 64 connections can take
    seconds, and wrk's 2 s default would drop those requests from the latency statistics."""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    """Socket errors, timeouts and non-2xx/3xx answers together."""

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def run_wrk(script: str, url: str, settings: WrkSettings, workdir: Path) -> WrkResult:
    """Run `scripts/<script>.lua` (plus the shared common.lua) against `url`."""
    combined = workdir / f"{script}.lua"
    combined.write_text((SCRIPTS / f"{script}.lua").read_text() + "\n" + _common())
    command = [
        "wrk", f"-t{settings.threads}", f"-c{settings.connections}", f"-d{settings.duration_s}s",
        "--latency", "--timeout", f"{settings.timeout_s}s", "-s", str(combined), url,
    ]  # fmt: skip
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    (workdir / f"{script}.wrk.txt").write_text(output)
    return parse_result(output)


def _common() -> str:
    return (SCRIPTS / "common.lua").read_text()


def parse_result(output: str) -> WrkResult:
    """Read the BENCH_RESULT line printed by common.lua's done()."""
    for line in output.splitlines():
        if line.startswith("BENCH_RESULT "):
            fields = dict(item.split("=", 1) for item in line.split()[1:])
            numbers = {key: float(value) for key, value in fields.items()}
            errors = sum(numbers[k] for k in ("connect", "read", "write", "status", "timeout"))
            return WrkResult(
                requests=int(numbers["requests"]),
                duration_s=numbers["duration_us"] / 1e6,
                p50_ms=numbers["p50_us"] / 1e3,
                p95_ms=numbers["p95_us"] / 1e3,
                p99_ms=numbers["p99_us"] / 1e3,
                errors=int(errors),
            )
    raise ValueError(f"no BENCH_RESULT line in wrk output:\n{output[-2000:]}")
