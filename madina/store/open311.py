"""The Open311 service's private tables: the city's catalogue, submitting apps' keys, service
requests, their reporters and their status history.

Only the public side of a request (what GeoReport v2 answers to anyone) is in
`open311_requests`; who reported it is in `open311_reporters`, one row per person, so contact
details can be shown to the staff handling it, exported or erased without touching the public
request. Every status change is a row of `open311_status_history`, the request's public notes.

The catalogue is stored per tenant as documents (services, groups, departments) plus one row per
service area with its bounding box; routing works on the catalogue each process keeps in memory
(madina.services.open311.catalogue), so a submission reads no area from here. Both engines
run the same SQL through `Open311SQL` (`?` placeholders, translated for PostgreSQL); times are
ISO 8601 UTC text of fixed width, so string order is time order on both.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import orjson

from madina.store.identities import Executor

Doc = dict[str, Any]


@dataclass(frozen=True)
class ServiceArea:
    department: str
    service_code: str
    geometry: Doc
    """A GeoJSON Polygon or MultiPolygon (WGS84)."""
    bbox: tuple[float, float, float, float]
    """(min lon, min lat, max lon, max lat) of `geometry`."""


@dataclass(frozen=True)
class CatalogueRecord:
    """One tenant's catalogue as stored; madina.services.open311.catalogue gives it meaning."""

    jurisdiction_id: str | None = None
    jurisdiction: Doc | None = None
    groups: tuple[tuple[str, Doc], ...] = ()
    """(code, document) pairs, in the order given."""
    services: tuple[tuple[str, Doc], ...] = ()
    departments: tuple[tuple[str, Doc], ...] = ()
    areas: tuple[ServiceArea, ...] = ()
    changed_at: str = ""


@dataclass(frozen=True)
class AppKey:
    """An Open311 `api_key` of a submitting app (not a Madina credential: it grants nothing
    but submitting service requests in its tenant)."""

    id: str
    tenant: str
    name: str
    secret_hash: str
    """SHA-256 of the secret: the secret is shown once and never stored."""
    disabled: bool = False
    created_at: str = ""


@dataclass(frozen=True)
class RequestRecord:
    """The public side of a service request."""

    tenant: str
    id: str
    """service_request_id: the row's number, as text."""
    token: str
    service_code: str
    service_name: str
    department: str | None
    """The department code it was routed to (None: no coordinates, several candidates)."""
    agency_responsible: str | None
    """The department's name when routed (kept if the department is renamed later)."""
    status: str
    status_notes: str | None
    description: str | None
    lat: float | None
    long: float | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    media_url: str | None
    attributes: Doc
    """attribute code -> value (text) or values (list of text), as validated."""
    service_notice: str | None
    requested_at: str
    updated_at: str
    expected_at: str | None = None
    state: str = "open"
    """The workflow state (madina.services.open311.workflow); `status` is GeoReport's
    open|closed view of it."""
    reason: str | None = None
    """Why it was closed (duplicate, not_responsible, ...), when closed with a reason."""
    reported_by: str | None = None
    """The name shown with the request, only when its reporter chose to be named; None:
    anonymous (the default, and after the reporter's data was erased)."""
    duplicate_of: str | None = None
    """The request this one was merged into as a duplicate."""


@dataclass(frozen=True)
class Reporter:
    """A person behind a request: personal data, for the staff handling the request only."""

    role: str = "reporter"
    """"reporter" (who filed it) or "follower" (joined it, or filed a duplicate merged into
    it): each is told of the request's changes."""
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    subject: str | None = None
    """The signed-in Madina identity that submitted, if any (not an app's api_key)."""
    app_key: str | None = None
    """The id of the app key it came through, if any."""
    created_at: str = ""


@dataclass(frozen=True)
class StatusChange:
    """One entry of a request's public history: its state from then on, and the note."""

    at: str
    state: str
    note: str | None = None
    author: str | None = None
    """Who made the change (a Madina subject); None for the system (submission)."""
    reason: str | None = None
    id: int = 0
    """The row's number (servicerequestupdates' update_id); 0 before it is stored."""


@dataclass
class RequestFilter:
    """GET requests: every member that is not None restricts."""

    start: str | None = None
    """requested_at at or after (canonical UTC text)."""
    end: str | None = None
    """requested_at at or before."""
    service_codes: list[str] | None = None
    statuses: list[str] | None = None
    limit: int = 1000
    offset: int = 0


@dataclass(frozen=True)
class NewRequest:
    record: RequestRecord
    """`id` is ignored: the row's number becomes it."""
    reporter: Reporter
    history: StatusChange


REQUEST_COLUMNS = (
    "tenant, pk, token, service_code, service_name, department, agency_responsible, status,"
    " status_notes, description, lat, long, address, address_id, zipcode, media_url,"
    " attributes, service_notice, requested_at, updated_at, expected_at, state, reason,"
    " reported_by, duplicate_of"
)
REPORTER_COLUMNS = (
    "role, email, first_name, last_name, phone, device_id, account_id, subject, app_key,"
    " created_at"
)
KEY_COLUMNS = "id, tenant, name, secret_hash, disabled, created_at"


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _doc(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def request_from_row(row: tuple) -> RequestRecord:
    return RequestRecord(
        tenant=row[0], id=str(row[1]), token=row[2], service_code=row[3], service_name=row[4],
        department=row[5], agency_responsible=row[6], status=row[7], status_notes=row[8],
        description=row[9], lat=row[10], long=row[11], address=row[12], address_id=row[13],
        zipcode=row[14], media_url=row[15], attributes=_doc(row[16]), service_notice=row[17],
        requested_at=row[18], updated_at=row[19], expected_at=row[20], state=row[21],
        reason=row[22], reported_by=row[23],
        duplicate_of=str(row[24]) if row[24] is not None else None,
    )


def _key(row: tuple) -> AppKey:
    return AppKey(row[0], row[1], row[2], row[3], bool(row[4]), row[5])


def request_pk(request_id: str) -> int | None:
    """A service_request_id's row number; None for text that names no row."""
    return int(request_id) if request_id.isascii() and request_id.isdigit() and \
        len(request_id) < 19 else None


def placeholders(values: list[Any]) -> str:
    return ", ".join("?" * len(values))


class JurisdictionTaken(ValueError):
    """Another tenant already serves that jurisdiction_id (they are unique across tenants, as
    the one endpoint tells cities apart by it)."""


class Open311SQL:
    """Engines supply `_read` (one statement, its rows) and `_atomic` (a write transaction
    yielding an executor), as for the identity tables."""

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        raise NotImplementedError

    def _atomic(self) -> AbstractContextManager[Executor]:
        raise NotImplementedError

    # -- catalogue ---------------------------------------------------------------------------
    def replace_catalogue(self, tenant: str, catalogue: CatalogueRecord) -> None:
        """The tenant's whole catalogue, atomically: readers see the old one or the new one."""
        with self._atomic() as run:
            if catalogue.jurisdiction_id is not None:
                taken = run("SELECT tenant FROM open311_jurisdictions WHERE id = ? AND tenant <> ?",
                            (catalogue.jurisdiction_id, tenant))
                if taken:
                    raise JurisdictionTaken(
                        f"jurisdiction_id {catalogue.jurisdiction_id!r} is another tenant's")
            for table in ("open311_jurisdictions", "open311_groups", "open311_services",
                          "open311_departments", "open311_service_areas"):
                run(f"DELETE FROM {table} WHERE tenant = ?", (tenant,))
            if catalogue.jurisdiction_id is not None:
                run("INSERT INTO open311_jurisdictions (tenant, id, doc, changed_at)"
                    " VALUES (?, ?, ?, ?)",
                    (tenant, catalogue.jurisdiction_id, _json(catalogue.jurisdiction),
                     catalogue.changed_at))
            for table, items in (("open311_groups", catalogue.groups),
                                 ("open311_services", catalogue.services),
                                 ("open311_departments", catalogue.departments)):
                for position, (code, doc) in enumerate(items):
                    run(f"INSERT INTO {table} (tenant, code, position, doc) VALUES (?, ?, ?, ?)",
                        (tenant, code, position, _json(doc)))
            for area in catalogue.areas:
                run("INSERT INTO open311_service_areas (tenant, department, service_code,"
                    " geometry, min_lon, min_lat, max_lon, max_lat)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (tenant, area.department, area.service_code, _json(area.geometry),
                     *area.bbox))

    def catalogue(self, tenant: str) -> CatalogueRecord:
        jurisdiction = self._read(
            "SELECT id, doc, changed_at FROM open311_jurisdictions WHERE tenant = ?", (tenant,))
        parts = {}
        for table in ("open311_groups", "open311_services", "open311_departments"):
            rows = self._read(f"SELECT code, doc FROM {table} WHERE tenant = ? ORDER BY position",
                              (tenant,))
            parts[table] = tuple((code, _doc(doc)) for code, doc in rows)
        areas = self._read(
            "SELECT department, service_code, geometry, min_lon, min_lat, max_lon, max_lat"
            " FROM open311_service_areas WHERE tenant = ? ORDER BY department, service_code, id",
            (tenant,))
        return CatalogueRecord(
            jurisdiction_id=jurisdiction[0][0] if jurisdiction else None,
            jurisdiction=_doc(jurisdiction[0][1]) if jurisdiction else None,
            groups=parts["open311_groups"],
            services=parts["open311_services"],
            departments=parts["open311_departments"],
            areas=tuple(ServiceArea(row[0], row[1], _doc(row[2]), tuple(row[3:7]))
                        for row in areas),
            changed_at=jurisdiction[0][2] if jurisdiction else "",
        )

    def jurisdiction_tenant(self, jurisdiction_id: str) -> str | None:
        rows = self._read("SELECT tenant FROM open311_jurisdictions WHERE id = ?",
                          (jurisdiction_id,))
        return rows[0][0] if rows else None

    def catalogue_changed_at(self, tenant: str) -> str | None:
        """When the tenant's catalogue last changed (None: none configured): all a cached
        catalogue needs to know whether it is current, without reading the boundary."""
        rows = self._read("SELECT changed_at FROM open311_jurisdictions WHERE tenant = ?",
                          (tenant,))
        return rows[0][0] if rows else None

    def service(self, tenant: str, code: str) -> Doc | None:
        rows = self._read("SELECT doc FROM open311_services WHERE tenant = ? AND code = ?",
                          (tenant, code))
        return _doc(rows[0][0]) if rows else None

    def department(self, tenant: str, code: str) -> Doc | None:
        rows = self._read("SELECT doc FROM open311_departments WHERE tenant = ? AND code = ?",
                          (tenant, code))
        return _doc(rows[0][0]) if rows else None

    # -- app keys ----------------------------------------------------------------------------
    def add_app_key(self, key: AppKey) -> None:
        with self._atomic() as run:
            run(f"INSERT INTO open311_app_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (key.id, key.tenant, key.name, key.secret_hash, key.disabled, key.created_at))

    def app_key_by_secret(self, secret_hash: str) -> AppKey | None:
        rows = self._read(f"SELECT {KEY_COLUMNS} FROM open311_app_keys WHERE secret_hash = ?",
                          (secret_hash,))
        return _key(rows[0]) if rows else None

    def app_keys(self, tenant: str) -> list[AppKey]:
        rows = self._read(f"SELECT {KEY_COLUMNS} FROM open311_app_keys WHERE tenant = ?"
                          " ORDER BY created_at, id", (tenant,))
        return [_key(row) for row in rows]

    def set_app_key_disabled(self, tenant: str, key_id: str, disabled: bool) -> AppKey | None:
        with self._atomic() as run:
            rows = run(f"UPDATE open311_app_keys SET disabled = ? WHERE tenant = ? AND id = ?"
                       f" RETURNING {KEY_COLUMNS}", (disabled, tenant, key_id))
        return _key(rows[0]) if rows else None

    # -- requests ----------------------------------------------------------------------------
    @staticmethod
    def insert_request(run: Executor, new: NewRequest) -> RequestRecord:
        """The request, its reporter and its first status, inside the caller's transaction
        (the one that publishes its entity too); the record with its id."""
        r = new.record
        pk = run(
            f"INSERT INTO open311_requests ({REQUEST_COLUMNS.replace(' pk,', '')})"
            f" VALUES ({placeholders([0] * 24)}) RETURNING pk",
            (r.tenant, r.token, r.service_code, r.service_name, r.department,
             r.agency_responsible, r.status, r.status_notes, r.description, r.lat, r.long,
             r.address, r.address_id, r.zipcode, r.media_url, _json(r.attributes),
             r.service_notice, r.requested_at, r.updated_at, r.expected_at, r.state, r.reason,
             r.reported_by, request_pk(r.duplicate_of) if r.duplicate_of else None),
        )[0][0]
        Open311SQL.add_reporter(run, r.tenant, pk, new.reporter)
        Open311SQL.add_history(run, r.tenant, pk, new.history)
        return RequestRecord(**{**r.__dict__, "id": str(pk)})

    def add_requests(self, news: list[NewRequest]) -> list[RequestRecord]:
        """Requests without entities, in one transaction: bulk loads and table tests."""
        with self._atomic() as run:
            return [self.insert_request(run, new) for new in news]

    @staticmethod
    def add_reporter(run: Executor, tenant: str, pk: int, who: Reporter) -> None:
        run(f"INSERT INTO open311_reporters (tenant, request_pk, {REPORTER_COLUMNS})"
            f" VALUES ({placeholders([0] * 12)})",
            (tenant, pk, who.role, who.email, who.first_name, who.last_name, who.phone,
             who.device_id, who.account_id, who.subject, who.app_key, who.created_at))

    @staticmethod
    def add_history(run: Executor, tenant: str, pk: int, change: StatusChange) -> None:
        run("INSERT INTO open311_status_history (tenant, request_pk, at, status, note, author,"
            " reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (tenant, pk, change.at, change.state, change.note, change.author, change.reason))

    @staticmethod
    def remove_request(run: Executor, tenant: str, request_id: str) -> None:
        """Take back `insert_request` inside the same transaction (its entity could not be
        published): every row of it goes, its number stays used."""
        pk = request_pk(request_id)
        for table in ("open311_status_history", "open311_reporters"):
            run(f"DELETE FROM {table} WHERE tenant = ? AND request_pk = ?", (tenant, pk))
        run("DELETE FROM open311_requests WHERE tenant = ? AND pk = ?", (tenant, pk))

    def request(self, tenant: str, request_id: str) -> RequestRecord | None:
        found = self.requests_by_id(tenant, [request_id])
        return found[0] if found else None

    def requests_by_id(self, tenant: str, request_ids: list[str]) -> list[RequestRecord]:
        """The requests named, newest first; ids that name none are left out."""
        pks = sorted({pk for pk in map(request_pk, request_ids) if pk is not None})
        if not pks:
            return []
        rows = self._read(
            f"SELECT {REQUEST_COLUMNS} FROM open311_requests WHERE tenant = ?"
            f" AND pk IN ({placeholders(pks)}) ORDER BY requested_at DESC, pk DESC", (tenant, *pks))
        return [request_from_row(row) for row in rows]

    def requests(self, tenant: str, query: RequestFilter) -> list[RequestRecord]:
        """Newest first, so a page never shifts when older requests are added."""
        conditions, params = ["tenant = ?"], [tenant]
        if query.start is not None:
            conditions.append("requested_at >= ?")
            params.append(query.start)
        if query.end is not None:
            conditions.append("requested_at <= ?")
            params.append(query.end)
        for column, values in (("service_code", query.service_codes),
                               ("status", query.statuses)):
            if values is not None:
                conditions.append(f"{column} IN ({placeholders(values)})")
                params.extend(values)
        rows = self._read(
            f"SELECT {REQUEST_COLUMNS} FROM open311_requests WHERE {' AND '.join(conditions)}"
            " ORDER BY requested_at DESC, pk DESC LIMIT ? OFFSET ?",
            (*params, query.limit, query.offset))
        return [request_from_row(row) for row in rows]

    def request_id_of_token(self, tenant: str, token: str) -> str | None:
        rows = self._read("SELECT pk FROM open311_requests WHERE tenant = ? AND token = ?",
                          (tenant, token))
        return str(rows[0][0]) if rows else None

    def history(self, tenant: str, request_ids: list[str]) -> dict[str, list[StatusChange]]:
        """Each request's status changes, oldest first."""
        pks = sorted({pk for pk in map(request_pk, request_ids) if pk is not None})
        out: dict[str, list[StatusChange]] = {str(pk): [] for pk in pks}
        if not pks:
            return out
        rows = self._read(
            "SELECT request_pk, at, status, note, author, reason, id"
            " FROM open311_status_history WHERE tenant = ? AND request_pk IN"
            f" ({placeholders(pks)}) ORDER BY request_pk, at, id",
            (tenant, *pks))
        for pk, at, state, note, author, reason, row_id in rows:
            out[str(pk)].append(StatusChange(at, state, note, author, reason, row_id))
        return out

    def reporters(self, tenant: str, request_id: str) -> list[Reporter]:
        rows = self._read(
            f"SELECT {REPORTER_COLUMNS} FROM open311_reporters"
            " WHERE tenant = ? AND request_pk = ? ORDER BY id", (tenant, request_pk(request_id)))
        return [Reporter(*row) for row in rows]
