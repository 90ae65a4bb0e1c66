"""The endpoints compared: any OpenAI-compatible API (hosted fine-tuned model or `clonekit serve`), called with
the official openai client, timed per request."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

from clonekit.errors import ClonekitError


@dataclass
class Endpoint:
    name: str
    base_url: str
    model: str
    key_env: str | None = None

    def key(self) -> str:
        if self.key_env:
            key = os.environ.get(self.key_env)
            if not key:
                raise ClonekitError(f"endpoint {self.name}: ${self.key_env} is not set")
            return key
        return os.environ.get("CLONEKIT_API_KEY") or "none"  # a local server without --api-key takes any key


def parse_endpoint(spec: str) -> Endpoint:
    """NAME=BASE_URL,MODEL[,KEY_ENV], or NAME=FILE.json: an endpoint file (`clonekit hosted finetune` writes one)."""
    name, sep, rest = spec.partition("=")
    if sep and name.strip() and rest.strip().endswith(".json"):
        from clonekit.contracts import EndpointFile

        found = EndpointFile.load(rest.strip()) if os.path.isfile(rest.strip()) else None
        if found is None:
            raise ClonekitError(f"--endpoint {spec!r}: no endpoint file {rest.strip()}")
        return Endpoint(name.strip(), found.base_url, found.model, found.key_env)
    parts = rest.split(",")
    if not sep or not name.strip() or len(parts) not in (2, 3) or not all(p.strip() for p in parts):
        raise ClonekitError(
            f"--endpoint {spec!r}: expected NAME=BASE_URL,MODEL[,KEY_ENV] or NAME=FILE.json, e.g. "
            "clone=http://127.0.0.1:8000/v1,clone or hosted=https://api.openai.com/v1,ft:gpt-4o-mini:...,OPENAI_API_KEY"
        )
    return Endpoint(name.strip(), parts[0].strip(), parts[1].strip(), parts[2].strip() if len(parts) == 3 else None)


@dataclass
class Generation:
    text: str
    seconds: float
    completion_tokens: int
    error: str | None = None


def client_for(ep: Endpoint):
    import openai

    return openai.AsyncOpenAI(base_url=ep.base_url, api_key=ep.key(), max_retries=3, timeout=120)


async def complete(
    client, ep: Endpoint, messages: list[dict], max_tokens: int, temperature: float | None = None
) -> Generation:
    """One timed chat completion. A request that still fails after the client's retries is recorded as an error
    with an empty reply (and counted in the report), not raised."""
    import openai

    extra = {} if temperature is None else {"temperature": temperature}
    start = time.perf_counter()
    try:
        r = await client.chat.completions.create(model=ep.model, messages=messages, max_tokens=max_tokens, **extra)
        tokens = r.usage.completion_tokens if r.usage else 0
        return Generation((r.choices[0].message.content or "").strip(), time.perf_counter() - start, tokens)
    except (openai.APIError, openai.APIConnectionError) as e:
        return Generation("", time.perf_counter() - start, 0, f"{type(e).__name__}: {e}")


async def generate(
    ep: Endpoint,
    conversations: list[list[dict]],
    max_tokens: int,
    concurrency: int = 4,
    temperature: float | None = None,
    progress=None,
) -> tuple[list[Generation], float]:
    """One reply per conversation, `concurrency` requests in flight; returns (generations, wall seconds)."""
    client = client_for(ep)
    gate = asyncio.Semaphore(concurrency)

    async def one(messages: list[dict]) -> Generation:
        async with gate:
            gen = await complete(client, ep, messages, max_tokens, temperature)
        if progress:
            progress()
        return gen

    start = time.perf_counter()
    try:
        out = await asyncio.gather(*(one(m) for m in conversations))
    finally:
        await client.close()
    return list(out), time.perf_counter() - start


async def check_reachable(ep: Endpoint) -> None:
    """Fail early, with the endpoint's name, if the model is not served there or the key is refused."""
    import openai

    client = openai.AsyncOpenAI(base_url=ep.base_url, api_key=ep.key(), max_retries=1, timeout=30)
    try:
        await client.chat.completions.create(model=ep.model, messages=[{"role": "user", "content": "hi"}], max_tokens=1)
    except openai.APIConnectionError as e:
        raise ClonekitError(f"endpoint {ep.name}: cannot reach {ep.base_url} ({e})") from None
    except openai.APIStatusError as e:
        raise ClonekitError(
            f"endpoint {ep.name}: {ep.base_url} refused model {ep.model!r} ({e.status_code}: {e.message})"
        ) from None
    finally:
        await client.close()
