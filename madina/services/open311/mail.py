"""Sending e-mail through the city's SMTP server (the standard library's smtplib, on a worker
thread: sending never holds up the event loop).

The server is given as one URL or as its parts (MADINA_SMTP_URL, or MADINA_SMTP_HOST, _PORT,
_USER, _PASSWORD), with the sender address in MADINA_SMTP_FROM:

    smtp://user:password@mail.city.example:587   STARTTLS (unless MADINA_SMTP_STARTTLS=false)
    smtps://user:password@mail.city.example:465  TLS from the first byte

A reply of the 5xx class for a message (a mailbox that does not exist) is final; anything else
(4xx, a refused or dropped connection) is worth another attempt later.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson


class MailConfigError(ValueError):
    """The SMTP settings do not describe a usable server."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    sender: str
    """The From address, e.g. "City of Example <noreply@city.example>"."""
    user: str | None = None
    password: str | None = None
    starttls: bool = True
    tls: bool = False
    """TLS from connecting (smtps); `starttls` upgrades a plain connection instead."""
    timeout: float = 10.0


def smtp_server(url: str | None, host: str | None, port: int | None, user: str | None,
                password: str | None, sender: str | None, starttls: bool,
                timeout: float = 10.0) -> SmtpServer | None:
    """The server the settings describe, or None when they name none."""
    tls = False
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise MailConfigError("MADINA_SMTP_URL must be smtp://[user:password@]host[:port] "
                                  "or smtps://…")
        tls = parts.scheme == "smtps"
        host = parts.hostname
        port = parts.port or port
        user = unquote(parts.username) if parts.username else user
        password = unquote(parts.password) if parts.password else password
    if not host:
        return None
    if not sender or "@" not in parseaddr(sender)[1]:
        raise MailConfigError("MADINA_SMTP_FROM must be the sender's e-mail address when an "
                              "SMTP server is set")
    return SmtpServer(host, port or (465 if tls else 587), sender, user, password,
                      starttls and not tls, tls, timeout)


def message_json(subject: str, text: str, headers: dict[str, str] | None = None) -> str:
    """A message as the outbox keeps it."""
    return orjson.dumps({"subject": subject, "text": text, "headers": headers or {}}).decode()


def build(server: SmtpServer, recipient: str, stored: str) -> EmailMessage:
    doc: dict[str, Any] = orjson.loads(stored)
    message = EmailMessage(policy=UNFOLDED)
    message["From"] = server.sender
    message["To"] = recipient
    message["Subject"] = doc["subject"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=parseaddr(server.sender)[1].split("@")[-1])
    message["Auto-Submitted"] = "auto-generated"
    for name, value in doc["headers"].items():
        message[name] = value
    message.set_content(doc["text"])
    return message


UNFOLDED = policy.SMTP.clone(max_line_length=998)
"""Lines up to RFC 5322's limit: Python folds a long Subject right after its colon, which
some clients show as a leading blank."""


@dataclass(frozen=True)
class Outcome:
    error: str | None = None
    """None: accepted by the server."""
    final: bool = False
    """The server refused the message for good (5xx): no point trying again."""


def send(server: SmtpServer, messages: list[tuple[str, str]]) -> list[Outcome]:
    """Send (recipient, stored message) pairs over one connection; an outcome per message."""
    try:
        connection = _connect(server)
    except (OSError, smtplib.SMTPException) as exc:
        return [Outcome(f"cannot reach {server.host}:{server.port}: {exc}")] * len(messages)
    outcomes = []
    try:
        for recipient, stored in messages:
            try:
                connection.send_message(build(server, recipient, stored))
                outcomes.append(Outcome())
            except smtplib.SMTPRecipientsRefused as exc:
                code = next(iter(exc.recipients.values()))[0]
                outcomes.append(Outcome(f"recipient refused: {exc.recipients}", code >= 500))
            except smtplib.SMTPResponseException as exc:
                outcomes.append(Outcome(f"{exc.smtp_code} {exc.smtp_error!r}",
                                        exc.smtp_code >= 500))
            except (OSError, smtplib.SMTPException) as exc:  # the connection went away
                outcomes.append(Outcome(str(exc) or type(exc).__name__))
                outcomes.extend(Outcome("not sent: the connection failed before it")
                                for _ in messages[len(outcomes):])
                break
    finally:
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()
    return outcomes


def _connect(server: SmtpServer) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if server.tls:
        connection: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port,
                                                    timeout=server.timeout, context=context)
    else:
        connection = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    try:
        connection.ehlo()
        if server.starttls:
            connection.starttls(context=context)
            connection.ehlo()
        if server.user:
            connection.login(server.user, server.password or "")
    except BaseException:
        connection.close()
        raise
    return connection
