"""NGSI-LD errors as RFC 7807 ProblemDetails (ETSI GS CIM 009, clause 5.5.2).

Every failure the broker reports is one of these exceptions; the HTTP layer renders them
without knowing which operation raised them, so clients always get the spec's error type.
"""

from __future__ import annotations

from typing import Any

ERROR_BASE = "https://uri.etsi.org/ngsi-ld/errors/"


class NgsiError(Exception):
    """Base of all NGSI-LD errors; subclasses fix the spec error name and the HTTP status."""

    name = "InternalError"
    status = 500
    title = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        """The ProblemDetails body."""
        body: dict[str, Any] = {
            "type": ERROR_BASE + self.name,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


class InvalidRequest(NgsiError):
    name = "InvalidRequest"
    status = 400
    title = "The request associated to the operation is syntactically invalid"


class BadRequestData(NgsiError):
    name = "BadRequestData"
    status = 400
    title = "The request includes input data which does not meet the requirements of the operation"


class AlreadyExists(NgsiError):
    name = "AlreadyExists"
    status = 409
    title = "The referred element already exists"


class OperationNotSupported(NgsiError):
    name = "OperationNotSupported"
    status = 422
    title = "The operation is not supported"


class ResourceNotFound(NgsiError):
    name = "ResourceNotFound"
    status = 404
    title = "The referred resource has not been found"


class InternalError(NgsiError):
    name = "InternalError"
    status = 500
    title = "There has been an error during the operation execution"


class ServiceUnavailable(NgsiError):
    """Not a spec error name: the spec has none for a broker whose database is down, so the
    type says InternalError (what clients already handle) with the 503 status that tells them
    to retry."""

    name = "InternalError"
    status = 503
    title = "The broker's database is unavailable; retry later"


class TooComplexQuery(NgsiError):
    name = "TooComplexQuery"
    status = 403
    title = "The query is too complex and cannot be resolved"


class TooManyResults(NgsiError):
    name = "TooManyResults"
    status = 403
    title = "The query result is too large and cannot be returned"


class LdContextNotAvailable(NgsiError):
    name = "LdContextNotAvailable"
    status = 503
    title = "A remote JSON-LD @context referenced in a request cannot be retrieved"


class NoMultiTenantSupport(NgsiError):
    name = "NoMultiTenantSupport"
    status = 501
    title = "The broker does not support multi-tenancy"


class NonexistentTenant(NgsiError):
    name = "NonexistentTenant"
    status = 404
    title = "The addressed tenant does not exist"


class UnsupportedMediaType(NgsiError):
    """HTTP 415: not an NGSI-LD error name, but the spec mandates the status (clause 6.3.4)."""

    name = "InvalidRequest"
    status = 415
    title = "Unsupported media type"


class NotAcceptable(NgsiError):
    """HTTP 406: the client accepts none of the representations the broker can produce."""

    name = "InvalidRequest"
    status = 406
    title = "Not acceptable"


class PayloadTooLarge(NgsiError):
    """Kept at 400 as the project's bad-input rule asks; the title names the real cause."""

    name = "BadRequestData"
    status = 400
    title = "The request body exceeds the configured limit"


class MethodNotAllowed(NgsiError):
    """HTTP 405 for a method the resource does not offer; the spec names no error for it."""

    name = "OperationNotSupported"
    status = 405
    title = "Method not allowed"
