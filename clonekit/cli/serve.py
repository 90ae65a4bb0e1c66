"""`clonekit serve`: vLLM (or llama.cpp for a GGUF) in the foreground."""

from __future__ import annotations

from pathlib import Path

import typer

from clonekit.cli.common import SET_OPT, app, console, err_console, model_option, user_errors
from clonekit.config import ServeConfig, apply_sets, field_help, load_config


@app.command()
@user_errors
def serve(
    adapter: list[str] = typer.Option([], "--adapter", "-a", help=field_help(ServeConfig, "adapters", "; repeatable")),
    registry: Path | None = typer.Option(None, "--registry", help=field_help(ServeConfig, "registry")),
    host: str = model_option(ServeConfig, "host"),
    port: int = model_option(ServeConfig, "port"),
    api_key: str | None = typer.Option(
        None, envvar="CLONEKIT_API_KEY", help=field_help(ServeConfig, "api_key", "; or CLONEKIT_API_KEY")
    ),
    device: str = model_option(ServeConfig, "device"),
    max_model_len: int | None = model_option(ServeConfig, "max_model_len"),
    merged: bool | None = model_option(ServeConfig, "merged", "--merged/--lora"),
    base_only: bool = model_option(ServeConfig, "base_only", "--base-only"),
    base: Path | None = typer.Option(None, "--base", help=field_help(ServeConfig, "base")),
    gguf: Path | None = typer.Option(None, "--gguf", help=field_help(ServeConfig, "gguf")),
    name: str | None = model_option(ServeConfig, "name", "--name"),
    anti_loop: bool = model_option(ServeConfig, "anti_loop", "--anti-loop/--no-anti-loop"),
    anti_loop_settings: str | None = typer.Option(None, help=field_help(ServeConfig, "anti_loop_settings")),
    sets: list[str] | None = SET_OPT,
):
    """Serve the clone(s) and their base model with vLLM's OpenAI-compatible server (foreground; Ctrl-C stops it).
    `model=NAME` selects a clone, the base model's name selects the base."""
    from clonekit.serve import foreground

    cfg = load_config(
        ServeConfig,
        None,
        adapters=adapter,
        registry=str(registry) if registry else None,
        base=str(base) if base else None,
        gguf=str(gguf) if gguf else None,
        name=name,
        host=host,
        port=port,
        api_key=api_key,
        device=device,
        max_model_len=max_model_len,
        merged=merged,
        base_only=base_only,
        anti_loop=anti_loop,
        anti_loop_settings=anti_loop_settings,
    )
    cfg = apply_sets(cfg, sets)
    foreground.stop_on_signals()
    note = lambda s: err_console.print(s)  # noqa: E731
    if cfg.gguf is not None:
        foreground.serve_gguf(cfg, note)
        return
    foreground.run_vllm(foreground.plan(cfg), lambda s: console.print(s, highlight=False), note)
