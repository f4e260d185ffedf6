"""Issues the CAP messages of each warning: an Alert when it is raised, Updates while it changes
or is renewed, a Cancel when it is over — each Update and Cancel referencing every earlier
message of the same warning (CAP 1.2 §3.2.1 `references`: "the group listing identifying
earlier message(s) referenced by the alert message"), as national services do so a receiver
that missed one message still links the thread.

It keeps, in memory and bounded, the messages of the warnings still active (a cancelled warning
is forgotten), and an outbox of new messages for whoever stores and publishes them
(`take_messages`). Every message is checked against the CAP 1.2 XML Schema before it is issued.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from madina.domains.safety import cap
from madina.domains.safety.config import WarningSettings
from madina.domains.safety.model import Message
from madina.domains.safety.public_warning import PublicWarning, cap_info


class Issuer:
    max_outbox = 10_000
    """Messages nobody took are dropped oldest first beyond this (they stay in `history`)."""

    def __init__(self, settings: WarningSettings) -> None:
        self.settings = settings
        self._threads: dict[str, list[Message]] = {}
        self._outbox: list[Message] = []

    def validity(self, sent: datetime, cancel: bool = False) -> datetime:
        minutes = (self.settings.cancel_validity_minutes if cancel
                   else self.settings.validity_minutes)
        return sent + timedelta(minutes=minutes)

    def due_for_renewal(self, alert_id: str, now: datetime) -> bool:
        thread = self._threads.get(alert_id)
        return bool(thread) and (
            now - thread[-1].sent >= timedelta(minutes=self.settings.renew_minutes)
        )

    def history(self, alert_id: str) -> tuple[Message, ...]:
        """The messages issued so far for an active warning (oldest first)."""
        return tuple(self._threads.get(alert_id, ()))

    def active(self) -> int:
        return len(self._threads)

    def issue(self, warning: PublicWarning, sent: datetime) -> Message:
        """The next message of `warning`: Alert when it has none yet, Cancel when it is
        cleared, else Update."""
        thread = self._threads.get(warning.alert_id)
        if thread is None and warning.cleared:
            raise ValueError(f"warning {warning.alert_id} was never raised here")
        settings = self.settings
        msg_type = "Alert" if thread is None else "Cancel" if warning.cleared else "Update"
        sequence = 1 if thread is None else int(thread[-1].identifier.rsplit("-", 1)[1]) + 1
        message = Message(
            identifier=f"{warning.alert_id.rsplit(':', 1)[1]}-{sequence}",
            sender=settings.sender,
            sent=sent,
            status=settings.status,
            msg_type=msg_type,
            scope=settings.scope,
            references=tuple(m.reference() for m in thread or ()),
            infos=(cap_info(warning, sent=sent, language=settings.language,
                            sender_name=settings.sender_name, web=settings.web),),
        )
        cap.validate(cap.message_xml(message))
        if warning.cleared:
            self._threads.pop(warning.alert_id, None)
        else:
            thread = self._threads.setdefault(warning.alert_id, [])
            thread.append(message)
            if len(thread) > settings.max_messages_per_warning:
                del thread[1]  # the first (the Alert) always stays referenced
        self._outbox.append(message)
        if len(self._outbox) > self.max_outbox:
            del self._outbox[0]
        return message

    def take_messages(self) -> list[Message]:
        """The messages issued since the last call, oldest first, for storing and publishing."""
        messages, self._outbox = self._outbox, []
        return messages
