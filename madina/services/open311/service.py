"""The Open311 service of one store: the catalogue per tenant, submissions checked and routed,
requests read back (by filters, by id, near a point), the public feed of updates, followers.

Blocking calls (the database): the HTTP layer runs them where the engine wants them. Writing a
request and its entity is madina.services.open311.intake's job, moving it through the workflow
madina.services.open311.staff's: each in one transaction with the entity, so no request ever
exists without its entity or the other way round.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from madina.context.broker import Broker
from madina.services.open311 import nearby, routing, workflow
from madina.services.open311.catalogue import (
    Catalogue,
    CatalogueError,
    Department,
    Jurisdiction,
    Service,
    checked,
    from_record,
)
from madina.services.open311.errors import bad_request, not_found
from madina.services.open311.notices import Links
from madina.services.open311.query import RequestQuery, UpdateWindow
from madina.services.open311.submission import (
    Contact,
    Submission,
    canonical,
    canonical_now,
    check_attributes,
)
from madina.store.base import Store
from madina.store.open311 import (
    AppKey,
    JurisdictionTaken,
    NewRequest,
    Reporter,
    RequestRecord,
    StatusChange,
)
from madina.store.open311_tables import Open311Tables
from madina.store.open311_workflow import TooMany

CATALOGUE_FRESH_S = 1.0
OPEN, CLOSED = "open", "closed"
"""GeoReport v2's two statuses (madina.services.open311.workflow has the detailed states)."""


@dataclass(frozen=True)
class Submitter:
    """Who sent a submission: a signed-in identity, an app's api_key, or (open mode) nobody."""

    subject: str | None = None
    app_key: str | None = None


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Open311Service:
    def __init__(self, store: Store, broker: Broker) -> None:
        self.tables: Open311Tables = store.open311
        self.broker = broker
        self._catalogues: dict[str, tuple[Catalogue, float]] = {}
        """tenant -> (catalogue, when its change time was last checked)."""

    # -- catalogue ---------------------------------------------------------------------------
    def tenant_for(self, jurisdiction_id: str | None, header_tenant: str) -> str:
        """The tenant a GeoReport call is about: the one serving `jurisdiction_id` (one
        endpoint, several cities), else the NGSILD-Tenant header's (the default tenant)."""
        if jurisdiction_id is None:
            return header_tenant
        tenant = self.tables.jurisdiction_tenant(jurisdiction_id)
        if tenant is None:
            raise not_found(f"jurisdiction_id {jurisdiction_id!r} is not served here")
        if header_tenant and header_tenant != tenant:
            raise bad_request(f"jurisdiction_id {jurisdiction_id!r} is not in tenant "
                              f"{header_tenant!r} (NGSILD-Tenant)")
        return tenant

    def catalogue(self, tenant: str) -> Catalogue:
        """The tenant's catalogue; kept per process and read again once it changed (any worker
        may have changed it: the jurisdiction row's time says so). That time is asked at most
        every CATALOGUE_FRESH_S, so another worker's change shows within a second; this
        process's own changes show at once."""
        cached, checked = self._catalogues.get(tenant, (None, 0.0))
        now = time.monotonic()
        if cached is not None and now - checked < CATALOGUE_FRESH_S:
            return cached
        changed_at = self.tables.catalogue_changed_at(tenant)
        if cached is None or changed_at is None or cached.changed_at != changed_at:
            cached = from_record(self.tables.catalogue(tenant))
        if cached.jurisdiction is not None:
            self._catalogues[tenant] = (cached, now)
        else:
            self._catalogues.pop(tenant, None)
        return cached

    def configured(self, tenant: str) -> tuple[Catalogue, Jurisdiction]:
        catalogue = self.catalogue(tenant)
        if catalogue.jurisdiction is None:
            raise not_found("no Open311 jurisdiction is configured"
                            + (f" in tenant {tenant!r}" if tenant else ""))
        return catalogue, catalogue.jurisdiction

    def replace_catalogue(self, tenant: str, catalogue: Catalogue) -> Catalogue:
        """Store a checked catalogue whole; CatalogueError if its jurisdiction_id is taken."""
        checked(catalogue)
        try:
            self.tables.replace_catalogue(tenant, catalogue.record(canonical_now()))
        except JurisdictionTaken as exc:
            raise CatalogueError(str(exc)) from None
        self._catalogues.pop(tenant, None)
        return self.catalogue(tenant)

    def put_service(self, tenant: str, service: Service) -> bool:
        """Add or replace one service; True when it is new."""
        catalogue = self.catalogue(tenant)
        new = catalogue.service(service.code) is None
        services = tuple(service if s.code == service.code else s for s in catalogue.services)
        self.replace_catalogue(tenant, replace(catalogue, services=services + (
            (service,) if new else ())))
        return new

    def delete_service(self, tenant: str, code: str) -> bool:
        """Remove a service and every department's area for it; requests keep their copy of
        its code and name."""
        catalogue = self.catalogue(tenant)
        if catalogue.service(code) is None:
            return False
        departments = tuple(
            replace(d, service_areas=tuple(a for a in d.service_areas if a[0] != code))
            for d in catalogue.departments)
        self.replace_catalogue(tenant, replace(
            catalogue, services=tuple(s for s in catalogue.services if s.code != code),
            departments=departments))
        return True

    def put_department(self, tenant: str, department: Department) -> bool:
        catalogue = self.catalogue(tenant)
        new = catalogue.department(department.code) is None
        departments = tuple(department if d.code == department.code else d
                            for d in catalogue.departments)
        self.replace_catalogue(tenant, replace(catalogue, departments=departments + (
            (department,) if new else ())))
        return new

    def delete_department(self, tenant: str, code: str) -> bool:
        """Remove a department; requests routed to it keep its name as agency_responsible."""
        catalogue = self.catalogue(tenant)
        if catalogue.department(code) is None:
            return False
        self.replace_catalogue(tenant, replace(
            catalogue, departments=tuple(d for d in catalogue.departments if d.code != code)))
        return True

    # -- app keys ----------------------------------------------------------------------------
    def create_key(self, tenant: str, name: str) -> tuple[AppKey, str]:
        """A new api_key for a submitting app: (the key, its secret, shown only now)."""
        secret = secrets.token_urlsafe(32)
        key = AppKey(secrets.token_hex(8), tenant, name, key_hash(secret), False, canonical_now())
        self.tables.add_app_key(key)
        return key, secret

    def app_key(self, secret: str) -> AppKey | None:
        """The enabled key whose secret this is."""
        key = self.tables.app_key_by_secret(key_hash(secret))
        return key if key is not None and not key.disabled else None

    # -- requests ----------------------------------------------------------------------------
    def accept(self, tenant: str, submission: Submission, submitter: Submitter, base: str,
               media_url: str | None = None) -> tuple[NewRequest, Service, Links]:
        """Check and route a submission: the request to store (madina.services.open311.intake
        stores and publishes it), its service and the city's public links from `base`; or
        Open311Error when refused. `media_url`: where the photo uploaded with it is served."""
        catalogue, jurisdiction = self.configured(tenant)
        service = catalogue.service(submission.service_code)
        if service is None:
            raise bad_request(f"service_code {submission.service_code!r} is not a service of "
                              f"{jurisdiction.name} (GET services lists them)")
        attributes = check_attributes(service, submission.raw_attributes)
        department = self._route(catalogue, jurisdiction, service, submission)
        routed = catalogue.department(department) if department is not None else None
        moment = datetime.now(UTC)
        now = canonical(moment)
        expected = workflow.expected_at(moment, service.expected_resolution_hours)
        contact = submission.contact
        record = RequestRecord(
            tenant=tenant, id="", token=secrets.token_urlsafe(16), service_code=service.code,
            service_name=service.name, department=department,
            agency_responsible=routed.name if routed is not None else None, status=OPEN,
            status_notes=None, description=submission.description, lat=submission.lat,
            long=submission.long, address=submission.address_string,
            address_id=submission.address_id, zipcode=None,
            media_url=media_url or submission.media_url, attributes=attributes,
            service_notice=service.service_notice or jurisdiction.service_notice,
            requested_at=now, updated_at=now,
            expected_at=canonical(expected) if expected is not None else None,
            reported_by=None if submission.anonymous else shown_name(contact),
        )
        reporter = Reporter("reporter", contact.email, contact.first_name, contact.last_name,
                            contact.phone, contact.device_id, contact.account_id,
                            submitter.subject, submitter.app_key, now)
        links = Links(base, jurisdiction.id, jurisdiction.name)
        return NewRequest(record, reporter, StatusChange(now, OPEN)), service, links

    def links(self, tenant: str, base: str) -> Links:
        """Public links of the tenant's city, from `base` (MADINA_PUBLIC_URL or the address
        the call came to)."""
        _, jurisdiction = self.configured(tenant)
        return Links(base, jurisdiction.id, jurisdiction.name)

    @staticmethod
    def _route(catalogue: Catalogue, jurisdiction: Jurisdiction, service: Service,
               submission: Submission) -> str | None:
        """The department responsible. Without coordinates (an address only), the service's
        only department if it has one; else none yet, for staff to assign."""
        if submission.lat is None or submission.long is None:
            serving = routing.serving(catalogue, service)
            return serving[0] if len(serving) == 1 else None
        routing.check_inside(catalogue, jurisdiction, submission.lat, submission.long)
        return routing.department_at(catalogue, jurisdiction, service, submission.lat,
                                     submission.long)

    def requests(self, tenant: str, query: RequestQuery) -> list[RequestRecord]:
        self.configured(tenant)
        if query.ids is not None:
            return self.tables.requests_by_id(tenant, query.ids)
        if query.near is None:
            return self.tables.requests(tenant, query.filter)
        near, wanted = query.near, query.filter
        try:
            found = self.tables.requests_in_box(
                tenant, nearby.box_around(near.lat, near.long, near.radius),
                wanted.service_codes, wanted.statuses, wanted.start, wanted.end)
        except TooMany as exc:
            raise bad_request(f"{exc} lie around that point: give a smaller radius, a "
                              "service_code or a status") from None
        closest = nearby.nearest(found, near.lat, near.long, near.radius)
        return closest[wanted.offset:wanted.offset + wanted.limit]

    def request(self, tenant: str, request_id: str) -> RequestRecord:
        self.configured(tenant)
        record = self.tables.request(tenant, request_id)
        if record is None:
            raise not_found(f"service request {request_id!r} not found")
        return record

    def request_id_of_token(self, tenant: str, token: str) -> str:
        self.configured(tenant)
        request_id = self.tables.request_id_of_token(tenant, token)
        if request_id is None:
            raise not_found(f"token {token!r} not found")
        return request_id

    def history(self, tenant: str, request_ids: list[str]) -> dict[str, list[StatusChange]]:
        return self.tables.history(tenant, request_ids)

    def reporters(self, tenant: str, request_id: str) -> list[Reporter]:
        return self.tables.reporters(tenant, request_id)

    def updates(self, tenant: str, window: UpdateWindow) -> list[tuple[str, StatusChange]]:
        self.configured(tenant)
        return self.tables.updates(tenant, window.start, window.end, window.limit,
                                   window.offset)

    def follow(self, tenant: str, request_id: str, follower: Reporter) -> bool:
        """`follower` hears of the request's changes from now on (joining it instead of
        reporting it again); False when that address follows it already. Only open requests
        can be joined."""
        record = self.request(tenant, request_id)
        if record.status != OPEN:
            raise bad_request(f"service request {request_id} is closed: report the problem "
                              "again if it came back")
        return self.tables.add_follower(tenant, record.id, follower)


def shown_name(contact: Contact) -> str | None:
    """How a reporter who chose to be named is shown: first name and last initial."""
    if not contact.first_name:
        return None
    initial = f" {contact.last_name.strip()[0]}." if contact.last_name else ""
    return f"{contact.first_name.strip()}{initial}"
