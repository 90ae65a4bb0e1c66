"""The API key on every route of the server, loaded into vLLM with `--middleware clonekit.serve.auth.RequireApiKey`.

vLLM 0.32 checks `--api-key` only under /v1 and a few other prefixes: `/invocations` generates chat completions,
and `/tokenize`, `/detokenize` (and the adapter routes, the OpenAPI document...) answer without it. This ASGI
middleware refuses every HTTP request and WebSocket without `Authorization: Bearer KEY`, except `/health`, which
load balancers and `clonekit serve` itself poll. The key comes from the environment ($CLONEKIT_SERVE_API_KEY, set by
`clonekit serve`), never from a command line, where any local user could read it in /proc/PID/cmdline.
"""

from __future__ import annotations

import hmac
import json
import os

KEY_ENV = "CLONEKIT_SERVE_API_KEY"
OPEN_PATHS = frozenset({"/health"})


class RequireApiKey:
    def __init__(self, app):
        self.app = app
        key = os.environ.get(KEY_ENV) or os.environ.get("VLLM_API_KEY") or ""
        self.expected = f"Bearer {key}".encode() if key else None

    def _allowed(self, scope) -> bool:
        if self.expected is None or scope.get("path") in OPEN_PATHS:
            return True
        if scope.get("method") == "OPTIONS":  # CORS preflight carries no credentials; it returns no data
            return True
        given = next((v for k, v in scope.get("headers", []) if k == b"authorization"), b"")
        return hmac.compare_digest(given, self.expected)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket") or self._allowed(scope):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        body = json.dumps(
            {
                "error": {
                    "message": "missing or wrong API key (Authorization: Bearer KEY)",
                    "type": "authentication_error",
                    "code": 401,
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
