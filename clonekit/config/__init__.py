"""Typed configuration, one pydantic model per stage, read from YAML (unknown keys are rejected): the one home
of every setting. The models live in a module per stage (prep, train, serve, bot, evaluate); this package exports
them all, with the helpers that read them (`load_config`), override them (`apply_sets`, the CLI's `--set`) and
document them on the command line (`field_help`)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from clonekit.config.base import StrictModel
from clonekit.config.bot import BotConfig, DiscordSettings
from clonekit.config.evaluate import CompareSettings, EvolveConfig, GateConfig
from clonekit.config.hosted import HostedConfig, HostedModel
from clonekit.config.prep import MemoryConfig, OpenAIExportConfig, PersonaConfig, PrepConfig, RedactConfig
from clonekit.config.serve import ServeConfig
from clonekit.config.train import LoraSettings, TrainConfig
from clonekit.errors import ClonekitError

__all__ = [
    "BotConfig",
    "CompareSettings",
    "DiscordSettings",
    "EvolveConfig",
    "GateConfig",
    "HostedConfig",
    "HostedModel",
    "LoraSettings",
    "MemoryConfig",
    "OpenAIExportConfig",
    "PersonaConfig",
    "PrepConfig",
    "RedactConfig",
    "ServeConfig",
    "StrictModel",
    "TrainConfig",
    "apply_sets",
    "field_help",
    "load_config",
]

M = TypeVar("M", bound=BaseModel)


def field_help(schema: type[BaseModel], name: str, note: str = "") -> str:
    """A config field's description as command-line help, with its default read from the model: each setting is
    documented once, in its `Field`, and no help text repeats a default."""
    info = schema.model_fields[name]
    text = (info.description or name).rstrip(".")
    default = info.get_default(call_default_factory=True)
    shown = "" if default in (None, [], {}) else f" (default: {default}{note})"
    return text[:1].upper() + text[1:] + (shown or (f" ({note.lstrip('; ')})" if note else "")) + "."


def apply_sets(cfg: M, sets: list[str] | None) -> M:
    """torchtune-style `--set key=value` overrides of any field, nested ones with dots (`memory.top_k=8`); the
    value is read as YAML (`true`, `8`, `[a, b]`). The result is validated: a wrong key or value names it."""
    if not sets:
        return cfg
    data = cfg.model_dump()
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ClonekitError(f"--set {item!r}: expected KEY=VALUE")
        *path, last = key.strip().split(".")
        node, schema = data, type(cfg)
        for part in path:
            if not isinstance(node.get(part), dict):
                raise ClonekitError(f"--set {item!r}: {type(cfg).__name__} has no section {part!r}")
            node = node[part]
        known = node if path else schema.model_fields
        if last not in known:
            raise ClonekitError(f"--set {item!r}: {type(cfg).__name__} has no field {key.strip()!r}")
        try:
            node[last] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as e:
            raise ClonekitError(f"--set {item!r}: the value is not YAML ({e})") from None
    try:
        return type(cfg).model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        raise ClonekitError(f"--set: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def load_config(schema: type[M], path: str | Path | None = None, **overrides) -> M:
    """Read YAML at `path` (if any) into the `schema` model, apply non-None overrides, validate."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ClonekitError("config file not found", path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            line = getattr(getattr(e, "problem_mark", None), "line", None)
            raise ClonekitError(f"invalid YAML: {e}", path, line + 1 if line is not None else None) from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ClonekitError("a config file must be a YAML mapping", path)
        data = loaded or {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return schema.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in e.errors())
        raise ClonekitError(f"invalid config: {problems}", path) from None
