"""Notification receivers on loopback for the tests: a real HTTP server that records what it
gets (and can be told to fail), and a TCP "black hole" that accepts connections and never
answers, like an endpoint whose process hangs."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.serving import serving_thread


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class Receiver:
    """Records every POST; answers `fail_status` to the next `failures` requests."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.attempts = 0
        self.failures = 0
        self.fail_status = 500
        self.hold_first = 0.0
        """Seconds the first request is held before it is recorded and answered."""
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._cond:
                    first = receiver.attempts == 0
                    receiver.attempts += 1
                    receiver._cond.notify_all()
                if first and receiver.hold_first:
                    time.sleep(receiver.hold_first)
                with receiver._cond:
                    failing = receiver.failures > 0
                    if failing:
                        receiver.failures -= 1
                    else:
                        receiver.received.append(Received(
                            self.path, {k.lower(): v for k, v in self.headers.items()},
                            json.loads(raw)))
                    receiver._cond.notify_all()
                self.send_response(receiver.fail_status if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/notify"
        serving_thread(self.server).start()

    def wait(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The first `count` notifications, waiting up to `timeout` seconds for them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.received)} of {count} notifications arrived"
                self._cond.wait(left)
            return list(self.received[:count])

    def entities(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The first `count` notified entities, in order: changes that came in one batch
        share a notification, so a test cannot count on one notification per change."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                data = [e for r in self.received for e in r.body["data"]]
                if len(data) >= count:
                    return data[:count]
                left = deadline - time.monotonic()
                assert left > 0, f"{len(data)} of {count} notified entities arrived"
                self._cond.wait(left)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class BlackHole:
    """Accepts TCP connections and never answers."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(1024)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/notify"

    def close(self) -> None:
        self.socket.close()


def wait_until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
