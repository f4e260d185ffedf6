"""Every Open311 table behind one object (`store.open311`): the catalogue, keys and requests,
their workflow and followers, people's data, the e-mail outbox and area alerts. Engines supply
`_read`, `_atomic` and `executor`; the SQL itself is shared (`?` placeholders, translated for
PostgreSQL)."""

from __future__ import annotations

from madina.store.base import Transaction
from madina.store.identities import Executor
from madina.store.open311 import Open311SQL
from madina.store.open311_alerts import Open311AlertSQL
from madina.store.open311_outbox import Open311OutboxSQL
from madina.store.open311_people import Open311PeopleSQL
from madina.store.open311_workflow import Open311WorkflowSQL


class Open311Tables(Open311SQL, Open311WorkflowSQL, Open311PeopleSQL, Open311OutboxSQL,
                    Open311AlertSQL):
    def executor(self, tx: Transaction) -> Executor:
        """Run the shared SQL inside an entity transaction of the same engine, so a request's
        rows commit or vanish with its entity (one transaction, not two)."""
        raise NotImplementedError
