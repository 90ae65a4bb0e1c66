"""Merged serving: the clone at base-model speed.

vLLM's LoRA path on CPU runs at ~0.4-0.5x the base model's throughput. With one adapter, the clone can be
served as an ordinary model (adapter merged into the weights), and the base model as a LoRA whose B matrices
are negated: (W + s*B*A) + s*(-B)*A = W. The clone, which takes the traffic, then runs at full speed; the
base, used for comparisons, takes the LoRA cost instead. Both are cached under the clonekit cache.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from clonekit.hashing import sha256_file
from clonekit.paths import cache_dir


def merged_dirs(run: Path) -> tuple[Path, Path]:
    """(merged clone model, negated adapter giving back the base), built once per adapter."""
    digest = sha256_file(run / "adapter_model.safetensors")[:16]
    root = cache_dir() / "merged" / digest
    model_dir, negated = root / "model", root / "base-adapter"
    if not (model_dir / "config.json").exists():
        from clonekit.train import merge

        tmp = root / "model.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        merge(run, tmp)
        shutil.rmtree(model_dir, ignore_errors=True)
        tmp.rename(model_dir)
    if not (negated / "adapter_model.safetensors").exists():
        from safetensors.torch import load_file, save_file

        negated.mkdir(parents=True, exist_ok=True)
        weights = load_file(str(run / "adapter_model.safetensors"))
        save_file(
            {k: (-v if "lora_B" in k else v) for k, v in weights.items()}, str(negated / "adapter_model.safetensors")
        )
        shutil.copyfile(run / "adapter_config.json", negated / "adapter_config.json")
    return model_dir, negated
