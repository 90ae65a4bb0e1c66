"""The adapter manifest `clonekit.json`, written by train and read by serve, bot and compare.

    base        {"id": ..., "path": ..., "sha256": ...}  the base model the adapter belongs to
    dataset     {"dir", "manifest_sha256", "target", "system_prompt"}
    template    file name of the chat template inside the adapter directory (the server uses it)
    end_of_turn the token that ends the target's turn (generation stops there)
    config      the TrainConfig that made it
    metrics     {"valid_loss", "base_valid_loss", "train_loss", "steps", "train_tokens", "tokens_per_second", ...}
"""

from __future__ import annotations

import json
from pathlib import Path

from clonekit.errors import ClonekitError

MANIFEST = "clonekit.json"
TEMPLATE_FILE = "chat_template.jinja"


def write_manifest(run_dir: Path, data: dict) -> Path:
    path = Path(run_dir) / MANIFEST
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_manifest(run_dir: str | Path) -> dict:
    path = Path(run_dir) / MANIFEST
    if not path.exists():
        raise ClonekitError(f"not a clonekit adapter directory (no {MANIFEST}); train one with `clonekit train`", run_dir)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ClonekitError(f"invalid JSON: {e.msg}", path, e.lineno) from None
