"""`python -m bench.iot`: the device simulator — many devices publishing UltraLight measures
over MQTT (QoS 1) into a real Madina server, per storage engine.

In one run, on one private Mosquitto (no queue limits, no persistence):
1. the ceiling: the same publishers into Mosquitto with a plain QoS 1 subscriber and nothing
   else — Mosquitto's own pass-through rate on this machine;
2. per engine, a fresh `madina serve` (MQTT on, a service group that autoprovisions) takes the
   same load: sustained measures/s committed to the store (Madina's own
   madina_iot_measures_accepted counter, read over the measuring window, publishers flat out);
3. then the publishers slow to half that rate (a load Madina keeps up with: at saturation the
   backlog, and with it any latency, only grows) and a probe device publishes a new value every
   100 ms and polls its entity until a query shows it: p50/p95 publish → visible.

Publishers are separate processes (paho-mqtt), each cycling over its share of the devices, so
load generator, Mosquitto and Madina share the machine's cores as they would on one host.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench import pgdb, server

APIKEY = "bench"
GROUP = {"apikey": APIKEY, "resource": "/iot/d", "entity_type": "BenchDevice",
         "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"},
                        {"object_id": "h", "name": "humidity", "type": "Number"}]}
ACCEPTED = re.compile(r'^madina_iot_measures_accepted_total\{transport="mqtt"\} (\S+)$', re.M)


@dataclass
class Result:
    name: str
    measures_per_s: float
    p95_ms: float | None = None
    p50_ms: float | None = None
    note: str = ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=3.0)
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


def render(results: list[Result], args: argparse.Namespace) -> str:
    lines = ["| what | measures/s | p50 publish→query ms | p95 publish→query ms | note |",
             "|---|---:|---:|---:|---|"]
    for r in results:
        p50 = f"{r.p50_ms:.0f}" if r.p50_ms is not None else "—"
        p95 = f"{r.p95_ms:.0f}" if r.p95_ms is not None else "—"
        lines.append(f"| {r.name} | {r.measures_per_s:,.0f} | {p50} | {p95} | {r.note} |")
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines.append("")
    lines.append(f"{args.devices:,} devices, {args.publishers} publisher processes, QoS 1, "
                 f"{args.duration:.0f} s measured after {args.warmup:.0f} s warm-up, "
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
def _publish(port: int, first: int, devices: int, step: int, stop_at: float, counter,
             rate: float) -> None:
    """One publisher process: cycles over devices first, first+step, ... until `stop_at`, at
    `rate` messages/s (0: as fast as it can)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{first}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(2000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    own = list(range(first, devices, step))
    sent = 0
    began = time.time()
    while time.time() < stop_at:
        for device in own:
            if rate and sent % 100 == 0:
                time.sleep(max(0.0, began + sent / rate - time.time()))
            info = client.publish(f"/ul/{APIKEY}/dev{device}/attrs",
                                  f"t|{sent % 40}|h|{sent % 100}", qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:  # paho's queue is full: let it drain
                time.sleep(0.001)
                continue
            sent += 1
        with counter.get_lock():
            counter.value += len(own)
    client.disconnect()
    client.loop_stop()


def _start_publishers(port: int, args: argparse.Namespace, seconds: float, rate: float = 0.0):
    counter = multiprocessing.Value("q", 0)
    stop_at = time.time() + seconds
    processes = [multiprocessing.Process(target=_publish,
                                         args=(port, n, args.devices, args.publishers, stop_at,
                                               counter, rate / args.publishers))
                 for n in range(args.publishers)]
    for process in processes:
        process.start()
    return processes


# -- the ceiling -------------------------------------------------------------------------------
def ceiling(port: int, args: argparse.Namespace) -> Result:
    received = 0
    lock = threading.Lock()

    def count(client, userdata, message) -> None:
        nonlocal received
        with lock:
            received += 1

    sink = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-sink",
                       protocol=mqtt.MQTTv5)
    sink.on_message = count
    sink.connect("127.0.0.1", port)
    sink.loop_start()
    sink.subscribe(f"/ul/{APIKEY}/+/attrs", qos=1)
    time.sleep(0.3)
    publishers = _start_publishers(port, args, args.warmup + args.duration)
    time.sleep(args.warmup)
    start, started = received, time.monotonic()
    time.sleep(args.duration)
    rate = (received - start) / (time.monotonic() - started)
    for process in publishers:
        process.join()
    sink.disconnect()
    sink.loop_stop()
    return Result("Mosquitto pass-through (ceiling)", rate,
                  note="publishers → Mosquitto → one QoS 1 subscriber, no Madina")


# -- Madina ------------------------------------------------------------------------------------
def measure(engine: str, broker_port: int, workdir: Path, args: argparse.Namespace) -> Result:
    os.environ.update({"MADINA_MQTT_URL": f"mqtt://127.0.0.1:{broker_port}",
                       "MADINA_MQTT_CLIENT_ID": f"bench-{engine}",
                       "MADINA_MQTT_SESSION_EXPIRY_S": "0"})
    api = f"http://127.0.0.1:{args.port}"
    with _database(engine, workdir) as db:
        command = server.broker_command(args.port, db, args.workers)
        with server.running(command, args.port, workdir / f"iot-{engine}.log"):
            answer = httpx.post(f"{api}/iot/services", json={"services": [GROUP]})
            if answer.status_code != 201:
                raise RuntimeError(f"provisioning answered {answer.status_code}")
            time.sleep(1.0)  # the gateway has subscribed
            publishers = _start_publishers(broker_port, args, args.warmup + args.duration)
            time.sleep(args.warmup)
            before, started = _accepted(api), time.monotonic()
            time.sleep(args.duration)
            committed = _accepted(api) - before
            rate = committed / (time.monotonic() - started)
            for process in publishers:
                process.join()
            _drain(api)
            publishers = _start_publishers(broker_port, args, args.duration, rate / 2)
            latencies = _probe(broker_port, api, args.duration)
            for process in publishers:
                process.join()
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else None
    p50 = statistics.median(latencies) if latencies else None
    return Result(f"madina ({engine})", rate, p95, p50,
                  note=f"latency at {rate / 2:,.0f} measures/s offered, "
                       f"{len(latencies)} probes")


@contextmanager
def _database(engine: str, workdir: Path):
    if engine == "sqlite":
        yield str(workdir / "iot.db")
    else:
        with pgdb.throwaway_database(pgdb.server_url(), "iot") as url:
            yield url


def _drain(api: str, timeout: float = 120.0) -> None:
    """Wait until the backlog the saturating phase left is committed (the count stops)."""
    deadline, last = time.monotonic() + timeout, -1.0
    while time.monotonic() < deadline:
        now = _accepted(api)
        if now == last:
            return
        last = now
        time.sleep(1.0)


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
