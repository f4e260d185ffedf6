"""The e-mail sender of one worker process: it takes due messages from the outbox
(madina.store.open311_outbox), sends them on a worker thread, and writes down what happened.

Messages are queued in the transaction of the change they tell about, so none is lost to a
crash; the sender holds the rows it claimed for LEASE_S, so if its process dies another one (or
the same after a restart) sends them: at least once. A refused attempt is tried again after a
delay doubling from RETRY_BASE_S up to RETRY_MAX_S (with jitter), MAX_ATTEMPTS times in all
(about a day); a message the server refuses for good (5xx), or that ran out of attempts, stays
in the outbox marked failed, for the operators, and is logged.

A change made in this process wakes the sender at once; changes made by other processes are
found by polling every `poll_interval` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time

import structlog

from madina.auth.identities import Runner
from madina.services.open311.mail import SmtpServer, send
from madina.store.open311_tables import Open311Tables
from madina.tasks import cancel

log = structlog.get_logger("madina.open311.mail")

LEASE_S = 120.0
BATCH = 50
MAX_ATTEMPTS = 16
RETRY_BASE_S = 30.0
RETRY_MAX_S = 3600.0


class MailSender:
    def __init__(self, tables: Open311Tables, server: SmtpServer, run: Runner,
                 poll_interval: float = 1.0, retry_base: float = RETRY_BASE_S) -> None:
        self.tables = tables
        self.server = server
        self.run = run
        self.poll_interval = poll_interval
        self.retry_base = retry_base
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{id(self):x}"
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await cancel(self._task)

    def wake(self) -> None:
        """Something was queued (callable from any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.round()
            except Exception:  # the database is away: try again at the next poll
                log.exception("e-mail round failed")
                sent = 0
            if sent:
                continue
            self._wake.clear()
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow the cancellation
            # that stops this task when the wake-up comes at the same moment (stop() then hangs).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()

    async def round(self) -> int:
        """Claim, send and settle one batch of due messages; how many were claimed."""
        now = time.time()
        claimed = await self.run(self.tables.claim_mail, self.worker, now, now + LEASE_S, BATCH)
        if not claimed:
            return 0
        outcomes = await asyncio.to_thread(
            send, self.server, [(mail.recipient, mail.message) for mail in claimed])
        sent = [mail.id for mail, outcome in zip(claimed, outcomes, strict=True)
                if outcome.error is None]
        await self.run(self.tables.mail_sent, sent)
        for mail, outcome in zip(claimed, outcomes, strict=True):
            if outcome.error is None:
                continue
            attempts = mail.attempts + 1
            if outcome.final or attempts >= MAX_ATTEMPTS:
                log.error("e-mail given up", mail=mail.id, tenant=mail.tenant,
                          attempts=attempts, error=outcome.error)
                await self.run(self.tables.mail_failed, mail.id, outcome.error, None)
            else:
                delay = min(RETRY_MAX_S, self.retry_base * 2 ** mail.attempts)
                due = time.time() + delay * random.uniform(0.8, 1.2)
                log.warning("e-mail not sent; retrying", mail=mail.id, attempts=attempts,
                            retry_in_s=round(delay), error=outcome.error)
                await self.run(self.tables.mail_failed, mail.id, outcome.error, due)
        return len(claimed)
