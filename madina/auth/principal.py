"""Who is asking: the identity every request is authorized as.

One shape for every way of proving identity (password token, API key, an OpenID Connect
provider's token, the bootstrap admin token, nobody at all), so authorization rules never care
how the caller signed in, only what they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """Roles of the issue's access model; a principal may hold several."""

    ADMIN = "admin"
    """Manages users, keys and tenants; may do everything in its tenant."""
    OPERATOR = "operator"
    """City staff who write entities."""
    DEPARTMENT = "department"
    """Department staff: personal data of their departments' service requests only."""
    CITIZEN = "citizen"
    """A signed-in resident: reports and follows requests, takes part in decisions."""
    DEVICE = "device"
    """A sensor or gateway: writes only its own entities."""


class Via(StrEnum):
    """How the principal proved its identity (kept for the audit log)."""

    PASSWORD = "password"
    CLIENT_CREDENTIALS = "client_credentials"
    API_KEY = "api_key"
    OIDC = "oidc"
    ADMIN_TOKEN = "admin_token"
    ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    subject: str
    """Stable identifier: user name, API key id, OIDC `sub`, or "anonymous"."""
    tenant: str
    """The tenant the identity belongs to ("" is the default tenant)."""
    roles: frozenset[Role] = field(default_factory=frozenset)
    via: Via = Via.ANONYMOUS
    departments: frozenset[str] = field(default_factory=frozenset)
    """For DEPARTMENT staff: the departments whose requests they may see."""
    entity_ids: frozenset[str] = field(default_factory=frozenset)
    """For DEVICE principals: the entity ids they may write."""

    @property
    def authenticated(self) -> bool:
        return self.via is not Via.ANONYMOUS

    def has(self, *roles: Role) -> bool:
        """Whether the principal holds any of `roles` (admins hold every role of a tenant)."""
        return Role.ADMIN in self.roles or any(role in self.roles for role in roles)


ANONYMOUS = Principal(subject="anonymous", tenant="")
