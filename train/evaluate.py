"""Held-out loss on the target's turns, base model vs adapter, measured the way training measures it (same
template, same loss mask, token-weighted mean). Used by `clonekit compare` for local models."""

from __future__ import annotations

import math
from pathlib import Path

from clonekit.errors import ClonekitError
from clonekit.extras import require
from clonekit.manifest import TEMPLATE_FILE, read_manifest
from clonekit.train.base_models import base_of_run
from clonekit.train.dataset import packed_rows, padding_free_collator, tokenized_split
from clonekit.train.model import import_trl, score_only_target_positions
from clonekit.train.trainer import evaluate_loss, load_tokenizer


def heldout_loss(run_dir: str | Path, data_dir: str | Path, split: str = "valid") -> dict:
    """{"base": {"loss", "perplexity"}, "adapter": {...}, "examples", "target_tokens"} on DATA/{split}.jsonl."""
    for module in ("peft", "trl"):
        require(module, "compare", "held-out loss of an adapter (`compare --adapter`)")
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    import_trl()
    from trl.trainer.utils import add_fused_lm_head

    run, data = Path(run_dir), Path(data_dir)
    path = data / f"{split}.jsonl"
    if not path.exists():
        raise ClonekitError(f"no {split}.jsonl: not a dataset directory from `clonekit prep build`", data)
    manifest = read_manifest(run)
    base = base_of_run(run, manifest)
    tokenizer, template = load_tokenizer(run, str(run / TEMPLATE_FILE))
    max_len = manifest.config.max_seq_len
    tokenized = tokenized_split(path, tokenizer, template, max_len)
    if not len(tokenized.dataset):
        raise ClonekitError(f"no examples with a target turn in {split}.jsonl", path)
    stats = tokenized.stats
    rows = packed_rows(tokenized.dataset, manifest.config.row_tokens)  # rows as the run packed them
    collator = padding_free_collator(tokenizer.pad_token_id)
    base_model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.float32)
    add_fused_lm_head(base_model)  # per-token log-probabilities without the full logits
    score_only_target_positions()
    model = PeftModel.from_pretrained(base_model, str(run))
    adapter = evaluate_loss(model, rows, collator)
    with model.disable_adapter():
        base_loss = evaluate_loss(model, rows, collator)
    if adapter is None or base_loss is None:
        raise ClonekitError(f"no target tokens to score in {split}.jsonl", path)
    return {
        "base": {"loss": base_loss, "perplexity": math.exp(base_loss)},
        "adapter": {"loss": adapter, "perplexity": math.exp(adapter)},
        "examples": stats.pieces,
        "target_tokens": stats.target_tokens,
        "split": split,
    }
