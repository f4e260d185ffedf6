"""The Open311 parts that live as long as a worker process, set up by the app's lifespan: the
intake that stores submissions in shared transactions, the staff operations, the photo store
and the e-mail sender (when an SMTP server is configured; without one, e-mails wait in the
outbox and the start says how many)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from starlette.applications import Starlette

from madina.auth.setup import runner
from madina.config import Settings
from madina.services.open311.intake import Intake
from madina.services.open311.media import MediaStore
from madina.services.open311.outbox import MailSender
from madina.services.open311.staff import Staff
from madina.store.base import Store

log = structlog.get_logger("madina.open311")


def media_directory(settings: Settings) -> Path:
    """MADINA_OPEN311_MEDIA_DIR, else next to the SQLite file, else the working directory."""
    if settings.open311_media_dir:
        return Path(settings.open311_media_dir)
    if settings.database_url is None:
        database = Path(settings.database)
        return database.with_name(f"{database.stem}-media")
    return Path("madina-media")


async def start(app: Starlette, settings: Settings, store: Store) -> Callable[[],
                                                                           Awaitable[None]]:
    """Set up app.state.open311_* for this worker; the function that stops them."""
    run = runner(store, app.state.store_limiter)
    server = settings.smtp_server
    sender = MailSender(store.open311, server, run) if server is not None else None
    app.state.open311_mail = sender
    app.state.open311_intake = Intake(store.open311, app.state.broker, run,
                                      sender.wake if sender is not None else lambda: None)
    app.state.open311_staff = Staff(store.open311, app.state.broker)
    app.state.open311_media = MediaStore(media_directory(settings))
    if sender is not None:
        await sender.start()
        return sender.stop
    waiting, _ = await run(store.open311.mail_counts)
    if waiting:
        log.warning("Open311 e-mails are waiting but no SMTP server is configured "
                    "(MADINA_SMTP_URL)", waiting=waiting)

    async def nothing() -> None:
        return None

    return nothing
