"""The e-mails citizens get, as text: a change of a request they reported or follow, the
confirmation of an area alert, a new request in an alert's area. Each is rendered when the
change is made (what it says cannot drift while it waits in the outbox) and carries the public
links it needs; none carries anyone else's personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from madina.services.open311 import workflow
from madina.services.open311.entity import public_time
from madina.services.open311.mail import message_json
from madina.store.open311 import RequestRecord, StatusChange


@dataclass(frozen=True)
class Links:
    """Where citizens reach this Madina (MADINA_PUBLIC_URL, else the address a call came
    to) and which city, when one endpoint serves several."""

    base: str
    jurisdiction_id: str
    city: str
    """The jurisdiction's name, for the texts."""

    def _api(self, path: str, query: str = "") -> str:
        return (f"{self.base.rstrip('/')}/open311/v2/{path}?jurisdiction_id="
                f"{quote(self.jurisdiction_id, safe='')}{query}")

    def request(self, request_id: str) -> str:
        return self._api(f"requests/{quote(request_id, safe='')}.json", "&extensions=true")

    def alert(self, action: str, token: str) -> str:
        return self._api(f"alerts/{action}/{token}.json")


def _what(record: RequestRecord) -> str:
    where = f" at {record.address}" if record.address else ""
    return f"request {record.id} ({record.service_name}{where})"


def status_update(links: Links, record: RequestRecord, change: StatusChange,
                  moved: bool) -> str:
    """A change of `record` (`moved`: its state; else a note only), for its reporter and
    followers."""
    state = workflow.describe(record.state, record.reason)
    subject = f"{links.city}: your {_what(record)} is {state}" if moved else \
        f"{links.city}: news on your {_what(record)}"
    lines = [f"Your {_what(record)} is {state} since "
             f"{public_time(change.at).replace('T', ' ').rstrip('Z')} UTC."]
    if change.note:
        lines += ["", f"{links.city} writes:", change.note]
    if record.duplicate_of:
        lines += ["", f"It was reported before as request {record.duplicate_of}: you will hear "
                      "of that one's progress from now on.",
                  links.request(record.duplicate_of)]
    if record.expected_at and record.state not in workflow.CLOSED_STATES:
        lines += ["", f"Expected to be resolved by {public_time(record.expected_at)}."]
    lines += ["", "Follow it at:", links.request(record.id), "",
              "You get this e-mail because you reported this problem or asked to follow it."]
    return message_json(subject, "\n".join(lines))


def alert_confirmation(links: Links, confirm_token: str, unsubscribe_token: str) -> str:
    text = "\n".join([
        f"Someone (we hope you) asked {links.city} to e-mail this address about every new "
        "report in an area of the city.",
        "", "To start, confirm here:", links.alert("confirm", confirm_token), "",
        "If it was not you, do nothing: nothing will be sent. To delete the request now:",
        links.alert("unsubscribe", unsubscribe_token)])
    return message_json(f"{links.city}: confirm your alert for new reports", text)


def new_request(links: Links, record: RequestRecord, unsubscribe_token: str) -> str:
    unsubscribe = links.alert("unsubscribe", unsubscribe_token)
    lines = [f"A new {_what(record)} was reported in your alert's area."]
    if record.description:
        lines += ["", record.description]
    lines += ["", links.request(record.id), "", "Stop these e-mails:", unsubscribe]
    return message_json(f"{links.city}: new report — {record.service_name}", "\n".join(lines),
                        {"List-Unsubscribe": f"<{unsubscribe}>",
                         "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
