"""`python -m bench.web_frames`: frame times of the control room while live updates pour in.

A fresh `madina serve` (SQLite, open mode) with `--entities` AirQualityObserved stations on the
map; headless Chromium (Debian's, through Playwright) opens `/` and records the time between
animation frames for `--seconds` in four phases: the map still or panned a few pixels every
frame, with the live stream idle or with every station upserted every `--interval` seconds
(a batch upsert, each station a new level, so every layer redraw is real).

The figures are the browser's: with a GPU a MapLibre redraw takes a millisecond or two; on a
machine without one, WebGL runs on SwiftShader and a redraw costs tens of milliseconds, so the
panning figures there measure the software rasteriser. What the page controls is how many
redraws live updates cause: at most one per animation frame, whatever the update rate.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench import server

LEVELS = ("good", "moderate", "unhealthyForSensitiveGroups", "unhealthy")
FRAMES = """([ms, pan]) => new Promise((resolve) => {
    const times = []; let last = performance.now(); const end = last + ms; let dx = 4;
    function frame(now) {
        times.push(now - last); last = now;
        if (pan) madina.map.panBy([dx, 0], {animate: false});
        if (times.length % 40 === 0) dx = -dx;
        if (now < end) requestAnimationFrame(frame); else resolve(times.slice(1));
    }
    requestAnimationFrame(frame); })"""


def stations(count: int, levels_change: bool = True) -> list[dict]:
    """`count` stations in a square over the demo city; each a random level, or with
    `levels_change` false its own fixed one (new readings that change no colour)."""
    side = max(1, int(count ** 0.5))
    return [{
        "id": f"urn:ngsi-ld:AirQualityObserved:bench-{i}", "type": "AirQualityObserved",
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [
            24.93 + (i % side) * 0.03 / side, 60.16 + (i // side) * 0.015 / side]}},
        "airQualityIndex": {"type": "Property", "value": random.randint(0, 200)},
        "airQualityLevel": {"type": "Property", "value": random.choice(LEVELS) if levels_change
                            else LEVELS[i % len(LEVELS)]},
    } for i in range(count)]


def summary(name: str, times: list[float]) -> str:
    times = sorted(times)
    n = len(times)
    return (f"| {name} | {n} | {times[n // 2]:.1f} | {times[int(n * 0.95)]:.1f} | "
            f"{times[-1]:.1f} | {sum(t > 50 for t in times)} |")


def writer(base: str, count: int, interval: float, stop: threading.Event, sent: list[int],
           levels_change: bool):
    with httpx.Client(base_url=base, timeout=30) as client:
        while not stop.is_set():
            started = time.monotonic()
            client.post("/ngsi-ld/v1/entityOperations/upsert",
                        json=stations(count, levels_change)).raise_for_status()
            sent[0] += count
            stop.wait(max(0.0, interval - (time.monotonic() - started)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=300)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--chromium", default=os.environ.get("MADINA_TEST_CHROMIUM",
                                                             "/usr/bin/chromium"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as directory:
        db = Path(directory) / "web.db"
        with server.running(server.broker_command(port, db, 1), port, Path(directory) / "log"):
            httpx.post(f"{base}/ngsi-ld/v1/entityOperations/upsert",
                       json=stations(args.entities), timeout=30).raise_for_status()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium,
                                                     args=["--enable-unsafe-swiftshader"])
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                started = time.monotonic()
                page.goto(base + "/")
                page.wait_for_selector("body[data-ready=true]", timeout=60_000)
                ready = time.monotonic() - started
                ms = args.seconds * 1000
                rows = [summary("still, stream idle", page.evaluate(FRAMES, [ms, False])),
                        summary("panning, stream idle", page.evaluate(FRAMES, [ms, True]))]
                rate = f"{args.entities / args.interval:,.0f} updates/s"
                sent = [0]
                for levels_change in (True, False):
                    stop = threading.Event()
                    thread = threading.Thread(target=writer, args=(
                        base, args.entities, args.interval, stop, sent, levels_change))
                    thread.start()
                    time.sleep(1)
                    what = rate if levels_change else f"{rate}, no level changes"
                    rows.append(summary(f"still, {what}", page.evaluate(FRAMES, [ms, False])))
                    if levels_change:
                        rows.append(summary(f"panning, {what}",
                                            page.evaluate(FRAMES, [ms, True])))
                    stop.set()
                    thread.join()
                browser.close()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"page ready in {ready:.1f} s; {sent[0]:,} updates sent; load average {load}")
    print(f"{args.entities} stations, all upserted every {args.interval} s")
    print("| phase | frames | p50 ms | p95 ms | max ms | frames > 50 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
