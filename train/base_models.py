"""Base models: the bundled default (SmolLM2-135M-Instruct from its GGUF), a local HF directory, or a hub id.

The GGUF-loaded model refuses `save_pretrained` ("quantized with gguf and is not serializable"), so the
default is converted once: drop `quantization_config`, build a fresh model from the config, load the
dequantized state dict, save as safetensors into the cache. Later runs load the cached directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from clonekit import default_model
from clonekit.contracts import AdapterManifest
from clonekit.errors import ClonekitError
from clonekit.hashing import sha256_files


@dataclass
class BaseModel:
    id: str  # what the user asked for: "default", a path, or a hub id
    path: str  # a directory from_pretrained can load
    sha256: str  # of the weight files


def base_of_run(run: Path, manifest: AdapterManifest) -> BaseModel:
    """The base model a run (adapter directory) was trained on, resolved, and checked unchanged since: an adapter
    on other weights than its own would be silently wrong (merge, evaluation, further training)."""
    base = resolve_base(manifest.base.id)
    if base.sha256 != manifest.base.sha256:
        raise ClonekitError(f"the base model {base.id!r} changed since this adapter was trained (sha256 differs)", run)
    return base


def weights_sha256(path: Path) -> str:
    """sha256 over the weight files of a model directory (cached beside them)."""
    files = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
    stamp = [(f.name, f.stat().st_size, int(f.stat().st_mtime)) for f in files]
    cache = path / ".clonekit-sha256.json"
    try:
        saved = json.loads(cache.read_text())
        if saved["files"] == [list(s) for s in stamp]:
            return saved["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    digest = sha256_files(files)
    try:
        cache.write_text(json.dumps({"files": stamp, "sha256": digest}))
    except OSError:
        pass  # a read-only model directory: hash again next time
    return digest


def resolve_base(base: str) -> BaseModel:
    if base == default_model.BASE_ID:
        path = default_model.model_dir()
        return BaseModel(default_model.BASE_ID, str(path), weights_sha256(path))
    local = Path(base).expanduser()
    if local.exists():
        if not (local / "config.json").exists():
            raise ClonekitError("not a Hugging Face model directory (no config.json)", local)
        return BaseModel(base, str(local.resolve()), weights_sha256(local))
    if base.count("/") == 1 and not base.startswith((".", "/")):
        try:
            from huggingface_hub import snapshot_download

            path = Path(
                snapshot_download(base, allow_patterns=["*.json", "*.safetensors", "*.model", "*.jinja", "*.txt"])
            )
        except Exception as e:  # offline, gated, or unknown: one clear message
            raise ClonekitError(
                f"unknown base model {base!r}: not a local directory, and the hub could not provide it "
                f"({type(e).__name__}: {str(e).splitlines()[0][:200]}); use 'default' or a local "
                "directory"
            ) from None
        return BaseModel(base, str(path), weights_sha256(path))
    raise ClonekitError(
        f"unknown base model {base!r}: use 'default', a local model directory, or a hub id like org/name"
    )
