"""`clonekit train --method dpo`: preference tuning with TRL's DPOTrainer and LoRA, on pairs (clonekit/pairs.py).

Two starts:
- from an adapter (`--from RUN`, the usual one: SFT first, then preferences): training continues that adapter, and
  the reference the policy is held to is a frozen copy of it (TRL adds it as the PEFT adapter "ref");
- from the base model: a new adapter, with the base (adapters off) as the reference.
The pairs are rendered with the same chat template as SFT and serving (names included). Only the trained adapter
("default") is written, never the reference copy or a quantized base.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from clonekit.config import TrainConfig
from clonekit.errors import ClonekitError
from clonekit.manifest import read_manifest
from clonekit.pairs import Pair, read_pairs
from clonekit.paths import readable_file, writable_dir
from clonekit.train.model import import_trl, load_model, plan_run, precision
from clonekit.train.template import render
from clonekit.train.trainer import (
    check_run_dir,
    progress_callback,
    set_schedule,
    starting_point,
    trainer_args,
    training_device,
    whole_run_train_loss,
    write_run,
)


def _rows(pairs: list[Pair]) -> list[dict]:
    """TRL's conversational preference format: prompt messages, chosen / rejected as one assistant message."""

    def messages(ms):
        return [{"role": m["role"], "content": m["content"], "name": m.get("name") or ""} for m in ms]

    return [
        {
            "prompt": messages(p.context),
            "chosen": [{"role": "assistant", "content": p.chosen, "name": ""}],
            "rejected": [{"role": "assistant", "content": p.rejected, "name": ""}],
        }
        for p in pairs
    ]


def reply_logprob(model, tokenizer, template, context: list[dict], reply: str) -> float:
    """log P(reply + end-of-turn | context) under `model`, with the template training and serving use."""
    import torch

    prompt = render(tokenizer, template, context, add_generation_prompt=True)
    full = render(tokenizer, template, context + [{"role": "assistant", "content": reply}])
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    eot = tokenizer.convert_tokens_to_ids(template.end_of_turn)
    end = ids.index(eot, n_prompt) + 1 if eot in ids[n_prompt:] else len(ids)  # up to and with the end-of-turn
    device = next(model.parameters()).device
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids[:end]], device=device), use_cache=False).logits[0].float()
    logp = torch.log_softmax(logits[n_prompt - 1 : end - 1], dim=-1)  # (reply tokens, V)
    return float(logp.gather(1, torch.tensor(ids[n_prompt:end], device=device)[:, None]).sum())


def mean_margin(model, tokenizer, template, pairs: list[Pair]) -> float:
    """Mean over pairs of log P(chosen) - log P(rejected): what DPO raises (relative to the reference)."""
    was_training = model.training
    model.eval()
    total = sum(
        reply_logprob(model, tokenizer, template, p.context, p.chosen)
        - reply_logprob(model, tokenizer, template, p.context, p.rejected)
        for p in pairs
    )
    model.train(was_training)
    return total / len(pairs)


def train_dpo(
    cfg: TrainConfig,
    pairs_path: str | Path,
    out_dir: str | Path,
    from_adapter: str | Path | None = None,
    resume: bool = False,
    show_progress: bool = True,
    log=print,
) -> Path | None:
    """DPO on the pairs file; write the adapter directory out_dir and return it (None on other ranks)."""
    import torch
    from transformers import set_seed

    pairs_path = readable_file(pairs_path, "preference pairs file")
    pairs = read_pairs(pairs_path)
    out = writable_dir(out_dir, "adapter")
    device = training_device(cfg)
    prec = precision(cfg, device)
    last = check_run_dir(out, resume, log)
    set_seed(cfg.seed)
    adapter = Path(from_adapter) if from_adapter is not None else None
    base, tokenizer, template = starting_point(cfg, adapter)
    log(f"data: {len(pairs)} preference pairs from {pairs_path}; reference: {adapter or 'the base model'}")

    run_plan = plan_run(base, cfg, device, prec, 2 * cfg.max_seq_len, log)  # chosen and rejected in one forward
    try:
        model, checkpointed = load_model(base, cfg, device, prec, run_plan, adapter=str(adapter) if adapter else None)
        margin_before = mean_margin(model, tokenizer, template, pairs[:256])
        progress = progress_callback(show_progress, "preference tuning")
        trainer = _dpo_trainer(cfg, out, device, prec, checkpointed, model, tokenizer, pairs, progress)
        if not len(trainer.train_dataset):
            raise ClonekitError(f"every pair's context is longer than max_seq_len ({cfg.max_seq_len})", pairs_path)
        total_steps = set_schedule(trainer.args, cfg, len(trainer.train_dataset), 1)
        started = time.perf_counter()
        result = trainer.train(resume_from_checkpoint=last)
        seconds = time.perf_counter() - started
        policy = trainer.model
        policy.set_adapter("default")
        margin_after = mean_margin(policy, tokenizer, template, pairs[:256])
    except torch.OutOfMemoryError:
        raise ClonekitError(OOM_ADVICE_DPO) from None
    if not trainer.is_world_process_zero():
        return None
    n = min(len(pairs), 256)
    log(f"log P(chosen) - log P(rejected), mean over {n} pairs: {margin_before:.3f} before, {margin_after:.3f} after")
    if "ref" in getattr(policy, "peft_config", {}):
        policy.delete_adapter("ref")  # the frozen reference copy is not part of the result
    metrics = {
        "margin_before": margin_before,
        "margin_after": margin_after,
        "train_loss": whole_run_train_loss(trainer.state.log_history, result.training_loss),
        "steps": trainer.state.global_step,
        "planned_steps": total_steps,
        "pairs": len(pairs),
        **_speed_and_setup(progress.tokens, seconds, device, prec, cfg, run_plan, checkpointed),
    }
    data_dir = adapter_dataset(adapter) if adapter else pairs_path.parent
    extra: dict[str, Any] = {"pairs": {"path": str(pairs_path.resolve()), "count": len(pairs)}}
    extra["parent"] = str(adapter.resolve()) if adapter else None
    return write_run(out, policy, tokenizer, template, base, data_dir, cfg, metrics, method="dpo", extra=extra)


OOM_ADVICE_DPO = "out of memory: lower `max_seq_len`, turn on `gradient_checkpointing`, or use QLoRA"


def _dpo_trainer(cfg: TrainConfig, out: Path, device: str, prec, checkpointed: int, model, tokenizer, pairs, progress):
    """TRL's DPOTrainer over the pairs, with clonekit's arguments and progress bar."""
    from datasets import Dataset
    from transformers import PrinterCallback

    import_trl()
    from trl import DPOConfig, DPOTrainer

    args = trainer_args(
        DPOConfig,
        cfg,
        out,
        device,
        prec,
        max(cfg.max_steps, 1),
        False,
        checkpointed > 0,
        beta=cfg.dpo_beta,
        max_length=cfg.max_seq_len,
        remove_unused_columns=False,
    )
    trainer: Any = DPOTrainer(
        model=model,
        args=args,
        processing_class=tokenizer,
        train_dataset=Dataset.from_list(_rows(pairs)),
        callbacks=[progress],
    )
    trainer.remove_callback(PrinterCallback)
    return trainer


def _speed_and_setup(tokens: int, seconds: float, device: str, prec, cfg: TrainConfig, run_plan, checkpointed) -> dict:
    """The run's speed and how it ran (device, precision, quantization, the memory plan), for clonekit.json."""
    return {
        "train_tokens_this_run": tokens,
        "seconds": seconds,
        "tokens_per_second": tokens / seconds if seconds else None,
        "device": device,
        "dtype": str(prec.dtype).replace("torch.", ""),
        "bf16_autocast": prec.bf16_autocast,
        "quantization": cfg.quantization,
        **run_plan.as_metrics(checkpointed),
    }


def adapter_dataset(adapter: Path) -> Path:
    """The dataset directory the parent adapter was trained on (its target and system prompt carry over)."""
    return Path(read_manifest(adapter).dataset.dir or adapter)
