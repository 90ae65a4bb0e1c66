"""Model aliases inside the running vLLM server: the name the bot asks for (`clone`) points at one loaded version.

Loaded with `--middleware clonekit.serve.aliases.ModelAliases` by `clonekit serve --registry`. Every registry version is
loaded under its own name (`clone@v3-1a2b3c4d`, vLLM's runtime LoRA loading); the middleware rewrites the `model`
of each JSON request whose model is an alias, so that a hot-swap is: load the new version under its own name, then
point the alias at it. No request fails across it: in-flight requests finish on the version they started with, new
ones take the new one, and the previous version stays loaded, so a rollback is only the alias pointing back.

Why not vLLM's own `load_inplace` under one name: vLLM 0.32 keeps the flag on the stored request, and the worker
then re-reads the adapter from disk at every step of every later request (vllm-project/vllm#33791); and an
unload-then-load leaves a moment in which the name answers 404.

The control route `/clonekit/aliases` (GET: the map; PUT: {"aliases": {"clone": "clone@v3-..", "x": null}})
checks the API key itself (it may sit outside serve/auth.py's middleware). Replies carry the version's name as
their `model`, so a client knows which version answered (the bot records feedback per version with it).
"""

from __future__ import annotations

import hmac
import json
import os

ALIASES_ENV = "CLONEKIT_MODEL_ALIASES"
CONTROL_PATH = "/clonekit/aliases"
MAX_BODY = 64 << 20


class ModelAliases:
    def __init__(self, app):
        self.app = app
        self.aliases: dict[str, str] = json.loads(os.environ.get(ALIASES_ENV) or "{}")
        key = os.environ.get("CLONEKIT_SERVE_API_KEY") or os.environ.get("VLLM_API_KEY") or ""
        self.expected = f"Bearer {key}".encode() if key else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope.get("path") == CONTROL_PATH:
            return await self._control(scope, receive, send)
        if scope.get("method") == "POST" and self.aliases and _is_json(scope):
            body = await _read_body(receive)
            body, changed = self._rewrite(body)
            if changed:
                scope = dict(
                    scope,
                    headers=[(k, v) for k, v in scope["headers"] if k != b"content-length"]
                    + [(b"content-length", str(len(body)).encode())],
                )
            return await self.app(scope, _replay(body, receive), send)
        return await self.app(scope, receive, send)

    def _rewrite(self, body: bytes) -> tuple[bytes, bool]:
        try:
            data = json.loads(body)
        except ValueError:
            return body, False
        if isinstance(data, dict) and isinstance(data.get("model"), str) and data["model"] in self.aliases:
            data["model"] = self.aliases[data["model"]]
            return json.dumps(data).encode(), True
        return body, False

    async def _control(self, scope, receive, send):
        given = next((v for k, v in scope.get("headers", []) if k == b"authorization"), b"")
        if self.expected is not None and not hmac.compare_digest(given, self.expected):
            return await _json(send, 401, {"error": {"message": "missing or wrong API key", "code": 401}})
        if scope["method"] == "GET":
            return await _json(send, 200, {"aliases": self.aliases})
        if scope["method"] not in ("PUT", "POST"):
            return await _json(send, 405, {"error": {"message": "GET or PUT", "code": 405}})
        try:
            update = json.loads(await _read_body(receive))["aliases"]
            if not isinstance(update, dict) or not all(
                isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in update.items()
            ):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return await _json(
                send, 400, {"error": {"message": 'expected {"aliases": {"NAME": "TARGET" or null}}', "code": 400}}
            )
        new = dict(self.aliases)
        for name, target in update.items():
            if target is None:
                new.pop(name, None)
            else:
                new[name] = target
        self.aliases = new  # one assignment: a request sees the old map or the new one, never half of each
        return await _json(send, 200, {"aliases": self.aliases})


def _is_json(scope) -> bool:
    ctype = next((v for k, v in scope.get("headers", []) if k == b"content-type"), b"")
    return ctype.split(b";")[0].strip() == b"application/json"


async def _read_body(receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_BODY or not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive):
    sent = False

    async def wrapped():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return wrapped


async def _json(send, status: int, data: dict) -> None:
    body = json.dumps(data).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
