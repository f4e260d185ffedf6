"""The life of a service request: the states staff move it through, which moves are allowed, and
how each state reads in GeoReport v2 (`status` open|closed) and in mySociety's
`servicerequestupdates` extension (FixMyStreet's own vocabulary, so FixMyStreet and the
open311-adapter can follow a Madina city).

    open, reopened  → acknowledged, in_progress, fixed, closed
    acknowledged    → in_progress, fixed, closed
    in_progress     → fixed, closed
    fixed           → closed, reopened
    closed          → reopened

`closed` carries a reason (fixed, duplicate, not_responsible, no_further_action) or none. A
public note alone (the state unchanged) is an update too: citizens are told about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from madina.services.open311.errors import bad_request

OPEN = "open"
ACKNOWLEDGED = "acknowledged"
IN_PROGRESS = "in_progress"
FIXED = "fixed"
CLOSED = "closed"
REOPENED = "reopened"
STATES = (OPEN, ACKNOWLEDGED, IN_PROGRESS, FIXED, CLOSED, REOPENED)
CLOSED_STATES = frozenset({FIXED, CLOSED})
"""States GeoReport v2 shows as `closed`; every other one is `open`."""

DUPLICATE = "duplicate"
REASONS = (FIXED, DUPLICATE, "not_responsible", "no_further_action")
"""Why a request was closed; not_responsible: not the city's (another authority's, private
land), no_further_action: looked at, nothing will be done."""

MOVES: dict[str, frozenset[str]] = {
    OPEN: frozenset({ACKNOWLEDGED, IN_PROGRESS, FIXED, CLOSED}),
    ACKNOWLEDGED: frozenset({IN_PROGRESS, FIXED, CLOSED}),
    IN_PROGRESS: frozenset({FIXED, CLOSED}),
    REOPENED: frozenset({ACKNOWLEDGED, IN_PROGRESS, FIXED, CLOSED}),
    FIXED: frozenset({CLOSED, REOPENED}),
    CLOSED: frozenset({REOPENED}),
}

UPDATE_STATUS = {OPEN: "open", ACKNOWLEDGED: "investigating", IN_PROGRESS: "in_progress",
                 FIXED: "fixed", CLOSED: "closed", REOPENED: "reopen"}
"""mySociety's update statuses (open311-adapter's Update::mySociety) for each state."""
REASON_STATUS = {FIXED: "fixed", DUPLICATE: "duplicate",
                 "not_responsible": "not_councils_responsibility",
                 "no_further_action": "no_further_action"}

LABELS = {OPEN: "open", ACKNOWLEDGED: "acknowledged", IN_PROGRESS: "in progress",
          FIXED: "fixed", CLOSED: "closed", REOPENED: "reopened"}
REASON_LABELS = {FIXED: "fixed", DUPLICATE: "a duplicate of another report",
                 "not_responsible": "not the city's responsibility",
                 "no_further_action": "no further action"}


def georeport_status(state: str) -> str:
    return "closed" if state in CLOSED_STATES else "open"


def update_status(state: str, reason: str | None) -> str:
    """The `status` of a servicerequestupdates item: a closing reason says more than
    `closed`."""
    if state == CLOSED and reason is not None:
        return REASON_STATUS[reason]
    return UPDATE_STATUS[state]


def describe(state: str, reason: str | None) -> str:
    """The state in words, for e-mails: "closed (a duplicate of another report)"."""
    if state == CLOSED and reason is not None:
        return f"closed ({REASON_LABELS[reason]})"
    return LABELS[state]


@dataclass(frozen=True)
class Move:
    """What staff ask for: a new state (None: a note only), a reason when closing, a note."""

    state: str | None
    reason: str | None = None
    note: str | None = None


def check_move(current: str, move: Move) -> None:
    """Refuse a move the workflow does not allow, naming the ones it does."""
    if move.state is None:
        if move.note is None:
            raise bad_request("an update needs a new state, a public note, or both")
        if move.reason is not None:
            raise bad_request("a reason goes with closing (state closed)")
        return
    if move.reason is not None and move.state != CLOSED:
        raise bad_request("a reason goes with closing (state closed)")
    if move.state == current:
        raise bad_request(f"the request is {current} already (send only a note to add one)")
    allowed = MOVES[current]
    if move.state not in allowed:
        raise bad_request(f"a request that is {current} can move to "
                          f"{', '.join(s for s in STATES if s in allowed)}, not {move.state}")


def expected_at(start: datetime, hours: float | None) -> datetime | None:
    """When a request should be resolved: `hours` (the service's expected resolution time)
    after it was made or reopened."""
    return start + timedelta(hours=hours) if hours is not None else None
