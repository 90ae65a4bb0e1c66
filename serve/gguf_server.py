"""`clonekit serve --gguf FILE`: llama.cpp's OpenAI-compatible server for an exported GGUF (llama-cpp-python's
`llama_cpp.server`, the `export` extra), with what a clone needs and llama-cpp-python 0.3.36 leaves out:

- **speaker names**: its request types have no `name` on messages, so it drops them and the clone would not see who
  speaks. `keep_message_names` adds the field; the GGUF's own chat template (`tokenizer.chat_template`, the training
  template) then renders them, as vLLM does.
- **DRY**: llama.cpp has the DRY sampler (`llama_sampler_init_dry`), but llama-cpp-python's high-level sampler chain
  does not add it (abetlen/llama-cpp-python#1813). `add_dry_sampler` puts it right after the repetition penalties,
  where llama.cpp's own chain has it, with the settings equal to clonekit's anti-loop DRY (train/modelfile.py
  DRY_FLAGS) and llama.cpp's default sequence breakers. The rest of clonekit's anti-loop processor (copy stop,
  degenerate stop) has no llama.cpp counterpart.
- **the clone's sampling defaults**: llama-cpp-python's request defaults (repeat_penalty 1.1, top_k 40, min_p 0.05)
  are not clonekit's; requests that leave a field out get the clone's (from the export manifest `FILE.gguf.json`,
  or the serve defaults: temperature 0.8, top_p 0.95, frequency_penalty 0.6, no repeat penalty, top_k/min_p off).

Everything else, the API included, is llama-cpp-python's own. The patches touch llama-cpp-python's internals
(pinned to 0.3.36 in the `export` extra); tests/serve/test_gguf_server.py checks them against the real engine.
"""

from __future__ import annotations

import argparse
import contextvars
import ctypes
import json
import os
from pathlib import Path

from clonekit.errors import ClonekitError

# llama.cpp's default DRY sequence breakers (common/common.h), what llama-server uses unless told otherwise
SEQUENCE_BREAKERS = ["\n", ":", '"', "*"]
SAMPLING_DEFAULTS = {
    "temperature": 0.8,
    "top_p": 0.95,
    "frequency_penalty": 0.6,
    "presence_penalty": 0.0,
    "repeat_penalty": 1.0,
    "top_k": 0,
    "min_p": 0.0,
    "max_tokens": 96,
}
_MODEL: contextvars.ContextVar = contextvars.ContextVar("clonekit_llama_model", default=None)


def keep_message_names() -> None:
    """Give llama-cpp-python's chat message types an optional `name` (before its server types are built)."""
    from typing import NotRequired

    import llama_cpp.llama_types as types

    for cls in (
        types.ChatCompletionRequestSystemMessage,
        types.ChatCompletionRequestUserMessage,
        types.ChatCompletionRequestAssistantMessage,
    ):
        cls.__annotations__["name"] = NotRequired[str]
        cls.__optional_keys__ = frozenset(cls.__optional_keys__ | {"name"})


def add_dry_sampler(multiplier: float, base: float, allowed_length: int, penalty_last_n: int):
    """Every sampler chain llama-cpp-python builds (in this process) gets llama.cpp's DRY sampler after the
    repetition penalties, with the request's prompt tokens already in its history. Returns a function that takes it
    out again.

    The prompt matters: llama-cpp-python builds a new chain per request and feeds it only the tokens it generates,
    so DRY would see nothing but the reply being written, never the clone's earlier turns that a cross-turn loop
    copies (measured on the demo clone: 15% of 100 self-play chats looped). llama-server feeds the prompt to its
    samplers; here it goes to DRY alone, so that frequency_penalty keeps counting only the reply's tokens, as
    vLLM's and OpenAI's do."""
    import llama_cpp
    from llama_cpp import _internals

    build_chain = llama_cpp.Llama._init_sampler
    generate = llama_cpp.Llama.generate
    add_penalties = _internals.LlamaSampler.add_penalties

    def generate_remembering_the_prompt(self, tokens, *args, **kwargs):
        self._clonekit_prompt = list(tokens)
        return generate(self, tokens, *args, **kwargs)

    def init_sampler(self, *args, **kwargs):
        token = _MODEL.set((self._model, self.n_ctx(), getattr(self, "_clonekit_prompt", [])))
        try:
            return build_chain(self, *args, **kwargs)
        finally:
            _MODEL.reset(token)

    def penalties_then_dry(self, *args, **kwargs):
        add_penalties(self, *args, **kwargs)
        current = _MODEL.get()
        if current is None or multiplier <= 0:
            return
        model, n_ctx, prompt = current
        # -1 is "the whole context" to llama-server (its common code turns it into n_ctx), but the C API given -1
        # penalizes nothing (measured: the same looping reply with and without DRY); so the context size
        last_n = n_ctx if penalty_last_n < 0 else penalty_last_n
        breakers = (ctypes.c_char_p * len(SEQUENCE_BREAKERS))(*(b.encode() for b in SEQUENCE_BREAKERS))
        dry = llama_cpp.llama_sampler_init_dry(
            model.vocab, multiplier, base, allowed_length, last_n, breakers, len(SEQUENCE_BREAKERS)
        )
        for t in prompt[-last_n:]:
            llama_cpp.llama_sampler_accept(dry, t)
        llama_cpp.llama_sampler_chain_add(self.sampler, dry)  # the chain owns it from here

    llama_cpp.Llama._init_sampler = init_sampler  # type: ignore[method-assign]
    llama_cpp.Llama.generate = generate_remembering_the_prompt  # type: ignore[method-assign]
    _internals.LlamaSampler.add_penalties = penalties_then_dry  # type: ignore[method-assign]

    def undo() -> None:
        llama_cpp.Llama._init_sampler = build_chain  # type: ignore[method-assign]
        llama_cpp.Llama.generate = generate  # type: ignore[method-assign]
        _internals.LlamaSampler.add_penalties = add_penalties  # type: ignore[method-assign]

    return undo


class SamplingDefaults:
    """ASGI middleware: a completion request's missing sampling fields get the clone's defaults."""

    PATHS = ("/v1/chat/completions", "/v1/completions")

    def __init__(self, app, defaults: dict):
        self.app, self.defaults = app, defaults

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") not in self.PATHS:
            return await self.app(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            request = json.loads(body)
            if isinstance(request, dict):
                body = json.dumps({**self.defaults, **request}).encode()
        except ValueError:
            pass  # llama-cpp-python answers a bad body itself
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.app({**scope, "headers": headers}, replay, send)


def sampling_defaults(gguf: Path) -> dict:
    """The serve defaults, with the clone's own (its export manifest's `generation`) over them."""
    defaults = dict(SAMPLING_DEFAULTS)
    manifest = gguf.with_name(gguf.name + ".json")
    if manifest.exists():
        generation = json.loads(manifest.read_text(encoding="utf-8")).get("generation") or {}
        for key in ("temperature", "top_p", "frequency_penalty", "presence_penalty"):
            if key in generation:
                defaults[key] = generation[key]
        if "max_new_tokens" in generation:
            defaults["max_tokens"] = generation["max_new_tokens"]
    return defaults


def build_app(gguf: Path, name: str, n_ctx: int, threads: int | None, dry: bool, api_key: str | None):
    from clonekit.train.modelfile import DRY_FLAGS

    keep_message_names()
    if dry:
        add_dry_sampler(
            float(DRY_FLAGS["dry_multiplier"]),
            float(DRY_FLAGS["dry_base"]),
            int(DRY_FLAGS["dry_allowed_length"]),
            int(DRY_FLAGS["dry_penalty_last_n"]),
        )
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    model = ModelSettings(
        model=str(gguf), model_alias=name, n_ctx=n_ctx, n_threads=threads or os.cpu_count() or 2, verbose=False
    )
    app = create_app(server_settings=ServerSettings(api_key=api_key), model_settings=[model])
    return SamplingDefaults(app, sampling_defaults(gguf))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m clonekit.serve.gguf_server", description=__doc__.split("\n")[0])
    ap.add_argument("gguf", type=Path)
    ap.add_argument("--name", default="clone", help="served model name")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-dry", action="store_true", help="leave llama.cpp's DRY sampler out")
    args = ap.parse_args(argv)
    if not args.gguf.is_file():
        raise SystemExit(f"{args.gguf}: no such GGUF file")
    import uvicorn

    app = build_app(
        args.gguf, args.name, args.n_ctx, args.threads, not args.no_dry, os.environ.get("CLONEKIT_API_KEY") or None
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


def check_available() -> None:
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError as e:
        raise ClonekitError(
            f"serving a GGUF needs llama-cpp-python's server: pip install 'clonekit[export]' ({e})"
        ) from None


if __name__ == "__main__":
    main()
