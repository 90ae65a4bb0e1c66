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


# Sampling defaults for a chatty clone, written as RUN/generation_config.json: vLLM applies them to every
# request (`--generation-config RUN`), and a request's own values override them. How they were chosen:
# scripts/choose_sampling.py on the demo clone (32 held-out contexts x 2 samples): greedy 28% degenerate replies;
# T 0.7 14%-12%; repetition_penalty 1.15 / 1.3 -> 64% / 98% of replies never stop (it also penalizes the
# end-of-turn token of every earlier turn); T 0.8, top_p 0.95, frequency_penalty 0.6 -> 2% degenerate, 0% hitting
# the limit, median 6 words (real replies: 7). See the README.
SAMPLING_DEFAULTS = {"temperature": 0.8, "top_p": 0.95, "frequency_penalty": 0.6, "max_new_tokens": 96}


def write_generation_config(run_dir: Path, eos_token_id: int, sampling: dict | None = None) -> Path:
    """Sampling defaults plus the end-of-turn token as eos, so generation stops where the target's turn ends."""
    path = Path(run_dir) / "generation_config.json"
    data = {**SAMPLING_DEFAULTS, **(sampling or {}), "do_sample": True, "eos_token_id": eos_token_id}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path
