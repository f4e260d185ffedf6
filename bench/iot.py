"""`python -m bench.iot`: the device simulator — many devices publishing UltraLight measures
over MQTT (QoS 1) into a real Madina server, per storage engine.

In one run, on one private Mosquitto (no queue limits, no persistence):
1. the ceiling: publishers into Mosquitto with a counting QoS 1 subscriber and nothing else —
   Mosquitto's own pass-through rate on this machine;
2. per engine, a fresh `madina serve` (MQTT on, a service group that autoprovisions; each
   device's first message creates its entity, outside the timing):
   - capacity: a burst of `--burst` messages is published as fast as Mosquitto takes them
     (about a second) and timed until Madina's own madina_iot_measures_accepted counter has
     counted every one committed: messages/s into the store with the machine's cores left to
     the broker and Madina;
   - sustained: for each of `--loads` (fractions of that capacity), publishers send at that
     rate for `--duration` seconds while a probe device publishes a new value every 100 ms and
     polls its entity until a query shows it: committed messages/s over the window and
     p50/p95/p99 publish → visible. Near capacity the latency is the backlog's (and capacity
     varies by some 10 % run to run), so the lower load shows the pipeline's own latency.
   Each message carries two measures (`t|<n>|h|<n>`); the table gives both counts.

The load generator (bench.mqtt_load) is a raw-socket MQTT client: pre-encoded packets, PUBACKs
read in bulk; it costs a few microseconds a message, so the numbers are the broker's and
Madina's, not the generator's. Everything shares the machine's cores, as on one host.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench import mqtt_load, pgdb, server

APIKEY = "bench"
GROUP = {"apikey": APIKEY, "resource": "/iot/d", "entity_type": "BenchDevice",
         "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"},
                        {"object_id": "h", "name": "humidity", "type": "Number"}]}
MEASURES_PER_MESSAGE = 2
ACCEPTED = re.compile(r'^madina_iot_measures_accepted_total\{transport="mqtt"\} (\S+)$', re.M)


@dataclass
class Sustained:
    offered: float
    committed: float
    """Messages/s."""
    latencies: list[float]
    """Publish → visible in a query, ms, sorted."""

    def percentile(self, q: float) -> float | None:
        values = self.latencies
        return values[int(q * (len(values) - 1))] if values else None


@dataclass
class Result:
    name: str
    capacity: float
    """Messages/s committed while a burst drained."""
    sustained: list[Sustained] = field(default_factory=list)
    peak_rss: int | None = None
    note: str = ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--burst", type=int, default=100_000, help="messages in the burst")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--duration", type=float, default=10.0, help="sustained seconds")
    parser.add_argument("--loads", type=lambda t: [float(x) for x in t.split(",")],
                        default=[0.5, 0.8],
                        help="sustained rates as fractions of the measured capacity")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of the server")
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--port", type=int, default=18026)
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="madina-iot-bench-") as tmp, \
            mosquitto(Path(tmp)) as broker_port:
        results.append(ceiling(broker_port, args))
        for engine in args.engines.split(","):
            try:
                results.append(measure(engine.strip(), broker_port, Path(tmp), args))
            except (RuntimeError, OSError, httpx.HTTPError) as error:
                results.append(Result(f"madina ({engine})", 0.0, note=f"not run: {error}"))
    print(render(results, args))


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def render(results: list[Result], args: argparse.Namespace) -> str:
    ceiling_rate = results[0].capacity
    lines = ["| what | messages/s | measures/s | vs ceiling"
             " | p50 / p95 / p99 publish→query ms | peak RSS MB | note |",
             "|---|---:|---:|---:|---|---:|---|"]
    for r in results:
        ratio = f"{r.capacity / ceiling_rate:.3f}" if ceiling_rate else "—"
        rss = "—" if r.peak_rss is None else f"{r.peak_rss / 2**20:,.0f}"
        what = r.name if not r.sustained else f"{r.name}: capacity (a burst drained)"
        lines.append(f"| {what} | {r.capacity:,.0f} | {r.capacity * MEASURES_PER_MESSAGE:,.0f}"
                     f" | {ratio} | — | {rss} | {r.note} |")
        for run in r.sustained:
            lines.append(
                f"| {r.name}: sustained, {run.offered:,.0f}/s offered | {run.committed:,.0f}"
                f" | {run.committed * MEASURES_PER_MESSAGE:,.0f} | — | {_ms(run.percentile(0.5))}"
                f" / {_ms(run.percentile(0.95))} / {_ms(run.percentile(0.99))} | — |"
                f" {len(run.latencies)} probes |")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    loads = ", ".join(f"{x:.0%}" for x in args.loads)
    lines.append("")
    lines.append(f"{args.devices:,} devices, bursts of {args.burst:,} messages, "
                 f"{args.publishers} publisher processes, QoS 1, {MEASURES_PER_MESSAGE} measures "
                 f"a message, sustained {args.duration:.0f} s at {loads} of capacity, "
                 f"{args.workers} server worker(s), {os.cpu_count()} cores, load before: {load}")
    return "\n".join(lines)


# -- Mosquitto --------------------------------------------------------------------------------
@contextmanager
def mosquitto(workdir: Path):
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise SystemExit("mosquitto is not installed (apt-get install mosquitto)")
    port = _free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                      "max_queued_messages 0\nmax_inflight_messages 0\n"
                      "log_dest none\n")
    process = subprocess.Popen([binary, "-c", str(config)], start_new_session=True)
    try:
        _wait_port(port)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


# -- publishers ---------------------------------------------------------------------------------
def _message(devices: list[int]):
    def message(n: int) -> tuple[str, bytes]:
        device = devices[n % len(devices)]
        return f"/ul/{APIKEY}/dev{device}/attrs", f"t|{n % 40}|h|{n % 100}".encode()

    return message


def _publisher(port: int, first: int, args: argparse.Namespace, count: int,
               rate: float) -> None:
    own = list(range(first, args.devices, args.publishers))
    mqtt_load.publish(port, f"bench-pub-{first}", _message(own), count, rate)


def _publish(port: int, args: argparse.Namespace, count: int, rate: float = 0.0) -> list:
    """Start the publisher processes: `count` messages in all, at `rate` in all (0: flat out),
    each process cycling over its share of the devices."""
    processes = [multiprocessing.Process(target=_publisher, args=(
        port, n, args, count // args.publishers, rate / args.publishers))
        for n in range(args.publishers)]
    for process in processes:
        process.start()
    return processes


def _join(processes: list) -> None:
    for process in processes:
        process.join()
        if process.exitcode:
            raise RuntimeError(f"a publisher failed (exit {process.exitcode})")


# -- the ceiling -------------------------------------------------------------------------------
def ceiling(port: int, args: argparse.Namespace) -> Result:
    """Publishers flat out into Mosquitto, one subscriber counting: messages/s through."""
    seconds = 5.0
    started = threading.Event()
    counted: list[int] = []
    sink = threading.Thread(target=lambda: counted.append(mqtt_load.count_received(
        port, f"/ul/{APIKEY}/+/attrs", seconds, started.set, warmup=1.0)))
    sink.start()
    started.wait(10)
    publishers = _publish(port, args, 10**9, 0.0)
    sink.join()
    for process in publishers:
        process.terminate()
    for process in publishers:
        process.join()
    return Result("Mosquitto pass-through (ceiling)", counted[0] / seconds if counted else 0.0,
                  note="publishers → Mosquitto → one QoS 1 subscriber, no Madina")


# -- Madina ------------------------------------------------------------------------------------
def measure(engine: str, broker_port: int, workdir: Path, args: argparse.Namespace) -> Result:
    os.environ.update({"MADINA_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
                       "MADINA_MQTT_CLIENT_ID": f"bench-{engine}",
                       "MADINA_MQTT_SESSION_EXPIRY_S": "0"})
    api = f"http://127.0.0.1:{args.port}"
    with _database(engine, workdir) as db:
        command = server.broker_command(args.port, db, args.workers)
        with server.running(command, args.port, workdir / f"iot-{engine}.log") as pid, \
                server.PeakRss(pid) as memory:
            answer = httpx.post(f"{api}/iot/services", json={"services": [GROUP]})
            if answer.status_code != 201:
                raise RuntimeError(f"provisioning answered {answer.status_code}")
            time.sleep(1.0)  # the gateway has subscribed
            _join(_publish(broker_port, args, args.devices))  # every device and entity made
            _wait_accepted(api, args.devices)
            before, started = _accepted(api), time.monotonic()
            _join(_publish(broker_port, args, args.burst))
            _wait_accepted(api, before + args.burst)
            capacity = args.burst / (time.monotonic() - started)

            runs = [_sustain(capacity * load, broker_port, api, args) for load in args.loads]
    return Result(f"madina ({engine})", capacity, runs, memory.peak)


def _sustain(offered: float, broker_port: int, api: str, args: argparse.Namespace) -> Sustained:
    count = int(offered * (args.duration + 2))
    base = _accepted(api)
    publishers = _publish(broker_port, args, count, offered)
    time.sleep(2.0)  # publishers at pace
    before, started = _accepted(api), time.monotonic()
    latencies = _probe(broker_port, api, args.duration)
    committed = (_accepted(api) - before) / (time.monotonic() - started)
    _join(publishers)
    _wait_accepted(api, base + count)  # what is left drains before the next run
    return Sustained(offered, committed, sorted(latencies))


@contextmanager
def _database(engine: str, workdir: Path):
    if engine == "sqlite":
        yield str(workdir / "iot.db")
    else:
        with pgdb.throwaway_database(pgdb.server_url(), "iot") as url:
            yield url


def _wait_accepted(api: str, total: float, timeout: float = 600.0) -> None:
    """Wait until Madina has committed `total` MQTT messages since it started."""
    deadline = time.monotonic() + timeout
    while _accepted(api) < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"Madina committed {_accepted(api):,.0f} of {total:,.0f} messages")
        time.sleep(0.25)  # a scrape costs the server several ms: not much more often


def _accepted(api: str) -> float:
    text = httpx.get(f"{api}/metrics", timeout=30).text
    return sum(float(v) for v in ACCEPTED.findall(text))


def _probe(broker_port: int, api: str, duration: float) -> list[float]:
    """Publish a new value every 100 ms on a probe device and time until a query shows it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-probe")
    client.connect("127.0.0.1", broker_port)
    client.loop_start()
    latencies: list[float] = []
    entity = f"{api}/ngsi-ld/v1/entities/urn:ngsi-ld:BenchDevice:probe"
    end = time.monotonic() + duration
    n = 0
    with httpx.Client(timeout=30) as http:
        while time.monotonic() < end:
            n += 1
            sent = time.monotonic()
            client.publish(f"/ul/{APIKEY}/probe/attrs", f"t|{n}", qos=1)
            while time.monotonic() - sent < 30:
                answer = http.get(entity, params={"options": "keyValues", "attrs": "temperature"})
                if answer.status_code == 200 and answer.json().get("temperature") == n:
                    latencies.append((time.monotonic() - sent) * 1000)
                    break
                time.sleep(0.002)
            time.sleep(max(0.0, 0.1 - (time.monotonic() - sent)))
    client.disconnect()
    client.loop_stop()
    return latencies


if __name__ == "__main__":
    main()
