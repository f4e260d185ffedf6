"""OAuth 2.0 endpoints under /auth: token (RFC 6749), revoke (RFC 7009), logout.

Form-encoded requests and JSON answers as RFC 6749 §5 fixes them, `Cache-Control: no-store` on
every answer, since they carry credentials.
"""

from __future__ import annotations

import base64
import ipaddress
import math
from urllib.parse import parse_qsl, unquote

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from madina.api.rate_limits import client_address, parse_networks
from madina.auth.identities import Authenticator, Grant, InvalidClient, InvalidGrant, Throttled
from madina.auth.principal import Via
from madina.auth.rules import OPEN, SIGNED_IN, allow

FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16 * 1024
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status
        self.headers = headers or {}


def _answer(payload: dict, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status, {**NO_STORE, **(headers or {})},
                    media_type="application/json")


def _error(exc: OAuthError) -> Response:
    return _answer({"error": exc.error, "error_description": exc.description}, exc.status,
                   exc.headers)


async def _form(request: Request) -> dict[str, str]:
    """The form fields; RFC 6749 §3.2 forbids repeating a parameter."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != FORM:
        raise OAuthError("invalid_request", f"the body must be {FORM}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise OAuthError("invalid_request", "the form is too large", 413)
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    form = dict(pairs)
    if len(form) != len(pairs):
        raise OAuthError("invalid_request", "a parameter is repeated")
    return form


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        raise OAuthError("invalid_request", f"missing parameter {name!r}")
    return value


def _tenant(request: Request, form: dict[str, str]) -> str:
    return (request.headers.get("ngsild-tenant") or request.headers.get("fiware-service")
            or form.get("tenant", ""))


def _address(request: Request) -> str:
    trusted = parse_networks(request.app.state.settings.trusted_proxies)

    def is_trusted(address: str) -> bool:
        try:
            return any(ipaddress.ip_address(address) in network for network in trusted)
        except ValueError:
            return False

    return client_address(request.scope, is_trusted)


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """client_id and client_secret from HTTP Basic (RFC 6749 §2.3.1) or the form."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except ValueError:
            raise OAuthError("invalid_request", "malformed Basic credentials") from None
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return _required(form, "client_id"), _required(form, "client_secret")


@allow(OPEN)
async def token(request: Request) -> Response:
    auth: Authenticator = request.app.state.auth
    try:
        form = await _form(request)
        grant_type = _required(form, "grant_type")
        if grant_type == "password":
            grant = await auth.password_grant(
                _tenant(request, form), _required(form, "username"),
                _required(form, "password"), _address(request),
            )
        elif grant_type == "client_credentials":
            client_id, secret = _client_credentials(request, form)
            grant = await auth.client_credentials_grant(client_id, secret, _address(request))
        elif grant_type == "refresh_token":
            grant = await auth.refresh_grant(_required(form, "refresh_token"))
        else:
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r}")
    except OAuthError as exc:
        return _error(exc)
    except InvalidGrant as exc:
        return _error(OAuthError("invalid_grant", str(exc)))
    except InvalidClient as exc:
        return _error(OAuthError("invalid_client", str(exc), 401,
                                 {"WWW-Authenticate": 'Basic realm="madina"'}))
    except Throttled as exc:
        return _error(OAuthError("slow_down", str(exc), 429,
                                 {"Retry-After": str(math.ceil(exc.retry_after))}))
    return _answer(_grant_body(grant))


def _grant_body(grant: Grant) -> dict:
    body = {"access_token": grant.access_token, "token_type": "Bearer",
            "expires_in": grant.expires_in}
    if grant.refresh_token:
        body["refresh_token"] = grant.refresh_token
    return body


@allow(OPEN)
async def revoke(request: Request) -> Response:
    """RFC 7009 §2.2: 200 whether or not the token was valid, so nothing leaks."""
    try:
        form = await _form(request)
        await request.app.state.auth.revoke(_required(form, "token"))
    except OAuthError as exc:
        return _error(exc)
    return _answer({})


@allow(SIGNED_IN)
async def logout(request: Request) -> Response:
    """End the presented access token and the refresh tokens of its sign-in."""
    claims = request.state.token_claims
    if claims is None or request.state.principal.via is Via.ADMIN_TOKEN:
        return _error(OAuthError("invalid_request", "logout needs a Bearer access token", 401,
                                 {"WWW-Authenticate": 'Bearer realm="madina"'}))
    await request.app.state.auth.revoke_claims(claims)
    return Response(status_code=204, headers=NO_STORE)


routes = [
    Route("/token", token, methods=["POST"]),
    Route("/revoke", revoke, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
