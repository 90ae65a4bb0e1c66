"""`clonekit serve` in the foreground: which kind of server a `ServeConfig` asks for (adapters, a registry, a plain
model folder or a GGUF), its plan, and the server's life: started, announced when ready, stopped cleanly on Ctrl-C or
`kill`."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clonekit.config import ServeConfig
from clonekit.errors import ClonekitError
from clonekit.serve.launcher import (
    ServerPlan,
    check_binding,
    check_port,
    plan_model_server,
    plan_registry_server,
    plan_server,
)
from clonekit.serve.process import Server


def check_choice(cfg: ServeConfig) -> None:
    """One kind of server at a time, and the options that go with it."""
    if cfg.base_only and (not cfg.adapters or cfg.registry or cfg.base or cfg.gguf):
        raise ClonekitError("--base-only goes with --adapter NAME=RUN: it serves that adapter's base model alone")
    if cfg.gguf is not None and (cfg.adapters or cfg.registry or cfg.base or cfg.merged is not None):
        raise ClonekitError("--gguf serves one GGUF file: leave out --adapter, --registry, --base and --merged")
    if cfg.base is not None and (cfg.adapters or cfg.registry or cfg.merged is not None):
        raise ClonekitError("--base serves one plain model folder: leave out --adapter, --registry and --merged")
    if cfg.registry is not None and (cfg.adapters or cfg.merged is not None):
        raise ClonekitError("--registry serves the registry's versions: leave out --adapter and --merged")


def plan(cfg: ServeConfig) -> ServerPlan:
    """vLLM's plan for adapters, a registry or a plain model folder (not a GGUF: `serve_gguf`)."""
    check_choice(cfg)
    common: dict[str, Any] = {
        "host": cfg.host,
        "port": cfg.port,
        "api_key": cfg.api_key,
        "device": cfg.device,
        "max_model_len": cfg.max_model_len,
        "anti_loop": cfg.anti_loop,
        "anti_loop_settings": cfg.anti_loop_settings,
    }
    if cfg.base is not None:
        return plan_model_server(Path(cfg.base), cfg.name, **common)
    if cfg.registry is not None:
        return plan_registry_server(cfg.registry, **common)
    return plan_server(cfg.adapters, merged=cfg.merged, base_only=cfg.base_only, **common)


def stop_on_signals() -> None:
    """Ctrl-C and `kill` both stop the server cleanly. SIGINT is set explicitly: a shell starts background jobs with
    SIGINT ignored, and Python then never raises KeyboardInterrupt."""

    def _interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def served_names(p: ServerPlan) -> str:
    return ", ".join([f"{k} -> {v}" for k, v in p.aliases.items()] or [a.name for a in p.adapters]) or "-"


def run_vllm(p: ServerPlan, say: Callable[[str], None], note: Callable[[str], None]) -> None:
    """Start vLLM, announce it when ready (with a client snippet), wait until it ends or is interrupted, stop it."""
    note(
        f"starting vLLM: base [bold]{p.base_name or '-'}[/], clones [bold]{served_names(p)}[/], anti-loop "
        f"{'on' if '--logits-processors' in p.argv else 'off'} (this takes a minute)"
    )
    server = Server(p)
    try:
        server.wait_ready()
        models = ", ".join(m for m in (p.base_name, served_names(p)) if m and m != "-")
        say(f"\n[bold green]ready[/] at {p.base_url}  (models: {models})")
        say(client_snippet(p))
        say("\nCtrl-C stops the server.")
        server.proc.wait()
    except KeyboardInterrupt:
        note("stopping vLLM …")
    finally:
        server.stop()


def serve_gguf(cfg: ServeConfig, note: Callable[[str], None]) -> None:
    """An exported GGUF with llama.cpp's server (llama-cpp-python), the clone's template and sampling defaults."""
    from clonekit.serve import gguf_server

    check_choice(cfg)
    gguf, name = Path(cfg.gguf or ""), cfg.name or "clone"
    if not gguf.is_file() or gguf.suffix != ".gguf":
        raise ClonekitError("not a GGUF file (`clonekit export RUN -f gguf`)", gguf)
    gguf_server.check_available()
    check_binding(cfg.host, cfg.api_key)
    check_port(cfg.host, cfg.port)
    if cfg.api_key:
        os.environ["CLONEKIT_API_KEY"] = cfg.api_key
    shown = "localhost" if cfg.host in ("127.0.0.1", "::1") else cfg.host
    note(
        f"serving {gguf} as [bold]{name}[/] with llama.cpp at http://{shown}:{cfg.port}/v1 "
        f"(DRY {'on' if cfg.anti_loop else 'off'}; Ctrl-C stops it)"
    )
    argv = [str(gguf), "--name", name, "--host", cfg.host, "--port", str(cfg.port)]
    gguf_server.main(argv + ([] if cfg.anti_loop else ["--no-dry"]))


def client_snippet(plan: ServerPlan) -> str:
    adapter = plan.adapters[0] if plan.adapters else None
    served = next(iter(plan.aliases), adapter.name if adapter else plan.base_name)
    system = (adapter.manifest.dataset.system_prompt if adapter else None) or ("You are a friend in a group chat.")
    key = "os.environ['CLONEKIT_API_KEY']" if plan.api_key else '"none"'
    other = f'  # or "{plan.base_name}" for the base model' if adapter and plan.base_name else ""
    return f'''import os
from openai import OpenAI

client = OpenAI(base_url="{plan.base_url}", api_key={key})
reply = client.chat.completions.create(
    model="{served}",{other}
    messages=[
        {{"role": "system", "content": {json.dumps(system, ensure_ascii=False)}}},
        {{"role": "user", "name": "Maya", "content": "anyone up for pizza tonight?"}},
    ],
)
print(reply.choices[0].message.content)'''
