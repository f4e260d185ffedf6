"""Who is asking, resolved once per request into `request.state.principal`.

`Authorization: Bearer …` carries an access token (or MADINA_ADMIN_TOKEN); devices send their
API key in `X-API-Key` (FIWARE's IoT Agents use `apikey` only to name a service group, not as a
secret, so there is no FIWARE header to follow). No credential: ANONYMOUS, and each route's rule
decides. A credential that is present but invalid is refused here with 401, never downgraded to
anonymous: a client must learn its token expired, not get a silently emptier answer.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from madina.auth.answers import problem, send_json
from madina.auth.principal import ANONYMOUS
from madina.auth.tokens import InvalidToken

API_KEY_HEADER = b"x-api-key"


class Authentication:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        state = scope.setdefault("state", {})
        state["principal"], state["token_claims"] = ANONYMOUS, None
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, credential = authorization.partition(" ")
        api_key = headers.get(API_KEY_HEADER, b"").decode("latin-1")
        auth = scope["app"].state.auth
        tenant = headers.get(b"ngsild-tenant", headers.get(b"fiware-service", b"")).decode()
        try:
            if scheme.lower() == "bearer":
                state["principal"], state["token_claims"] = await auth.bearer(
                    credential.strip(), tenant
                )
            elif api_key:
                state["principal"] = await auth.api_key(api_key)
        except InvalidToken as exc:
            await _unauthorized(send, str(exc))
            return
        await self.app(scope, receive, send)


async def _unauthorized(send: Send, reason: str) -> None:
    await send_json(send, 401, problem(401, "Unauthorized", f"invalid credential: {reason}"),
                    [(b"www-authenticate", b'Bearer error="invalid_token"')])
