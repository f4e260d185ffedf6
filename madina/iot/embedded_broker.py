"""An MQTT broker inside the process, for `madina demo` on a machine that has none.

amqtt (pure Python, MQTT 3.1.1) runs on its own thread and event loop, on 127.0.0.1 only, with
anonymous access: fine for trying the gateway on a laptop, not for a city (use Mosquitto or any
production broker through MADINA_MQTT_URL). The gateway speaks MQTT 3.1.1 to it, without shared
subscriptions, which a single demo process does not need.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

PREFERRED_PORT = 1883


class EmbeddedBroker:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or _port(host, PREFERRED_PORT if port is None else None)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="embedded-mqtt", daemon=True)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the embedded MQTT broker did not start")
        if self._error is not None:
            raise RuntimeError(f"the embedded MQTT broker did not start: {self._error}")

    def stop(self) -> None:
        if self._loop is not None and self._broker is not None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            future.result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        from amqtt.broker import Broker

        for name in ("amqtt", "transitions"):  # its state machine narrates every connection
            logging.getLogger(name).setLevel(logging.ERROR)
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin":
                        {"allow_anonymous": True}},
        }
        try:
            self._broker = Broker(config, loop=loop)
            loop.run_until_complete(self._broker.start())
        except BaseException as error:  # reported to start()
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()


def _port(host: str, preferred: int | None) -> int:
    """`preferred` when it is free, else any free port (a broker already there is not ours)."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise RuntimeError("no free port for the embedded MQTT broker")
