"""Start the server under test as a separate process and watch its memory.

The server gets its own process (as in production) so that the load generator, the harness and the
server do not share an interpreter; peak RSS is then the server's alone, summed over its workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 60.0


def broker_command(port: int, db: str | Path, workers: int) -> list[str]:
    """`madina serve` exactly as an operator runs it (the console script next to this Python);
    `db` is an SQLite file or a postgresql:// URL."""
    command = [str(Path(sys.executable).parent / "madina"), "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--db", str(db)]
    if workers > 1:
        command += ["--workers", str(workers)]
    return command


def ceiling_command(port: int, workers: int) -> list[str]:
    """The trivial app on the uvicorn settings `madina serve` uses (no access log or header)."""
    return [
        sys.executable, "-m", "uvicorn", "bench.ceiling_app:app", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--log-level", "warning",
        "--no-access-log", "--no-server-header",
    ]  # fmt: skip


@contextmanager
def running(command: list[str], port: int, log: Path) -> Iterator[int]:
    """Run `command` until /health answers, yield its pid, then stop it (SIGINT, then SIGKILL)."""
    # Open mode: the load scripts send no credential, and the benchmarks measure the broker,
    # not signing in (loopback only, which `madina serve` insists on for MADINA_AUTH=off).
    env = {**os.environ, "MADINA_LOG_LEVEL": "warning", "MADINA_AUTH": "off"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            _wait_for_health(process, port, log)
            yield process.pid
        finally:
            _stop(process)


def _wait_for_health(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text()[-2000:]
            raise RuntimeError(f"server exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not answer /health in {STARTUP_TIMEOUT_S:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of `pid` and all its descendants (uvicorn workers), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    family = {pid}
    grew = True
    while grew:
        children = {child for child, parent in parents.items() if parent in family}
        grew = not children <= family
        family |= children
    return sum(_rss_bytes(member) for member in family)


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PeakRss:
    """Samples the server's RSS in the background while a scenario runs; `peak` is the maximum."""

    def __init__(self, pid: int, interval_s: float = 0.2) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, tree_rss_bytes(self.pid))
            if self._stop.wait(self.interval_s):
                return
