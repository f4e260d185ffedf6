"""GeoReport v2 errors: an HTTP status and a list of `{code, description}`, the code being the
status as a string ("404 not found, 403 bad api_key, 400 otherwise")."""

from __future__ import annotations


class Open311Error(Exception):
    """A refusal in the spec's own format; nothing was stored."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions or ("error",)

    def errors(self) -> list[dict[str, str]]:
        return [{"code": str(self.status), "description": text} for text in self.descriptions]


def bad_request(*descriptions: str) -> Open311Error:
    return Open311Error(400, *descriptions)


def not_found(description: str) -> Open311Error:
    return Open311Error(404, description)


def forbidden(description: str) -> Open311Error:
    return Open311Error(403, description)
