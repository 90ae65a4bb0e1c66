"""`clonekit train`: LoRA/QLoRA with the loss on the target's turns, on TRL's SFTTrainer.

The rows come pre-tokenized (train/dataset.py): `input_ids` and `assistant_masks`, clonekit's own mask (named
speakers, the target's turns and their end-of-turn tokens). SFTTrainer turns the mask into labels, packs the rows
best-fit-decreasing into `row_tokens`-token rows with `position_ids` restarting per example (padding-free), and
computes the loss with its fused, chunked LM head: the (tokens x vocabulary) logits are never built whole.

What differs from TRL's defaults, and why (measured on the CPU with transformers 5.19 / trl 1.16):
- TRL documents padding-free as needing flash-attention. transformers builds the block-diagonal mask from
  `position_ids` for sdpa and flex_attention too, when there is no attention mask and no KV cache (the collator
  sends none and the fused head turns the cache off): tests/train/test_sft_packing.py pins packed == unpacked
  logits on sdpa, on the CPU.
- Validation loss is measured here (`evaluate_loss`, token-weighted over every target token of the split), not
  with `Trainer.evaluate`, which averages per-batch means and so weights short rows like long ones. The Trainer's
  own eval_loss still drives early stopping and best-checkpoint selection.
- TRL's own logging (a dict per step) is replaced by a rich progress bar; TensorBoard keeps every log.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

from clonekit.config import TrainConfig
from clonekit.dataset import TRAIN_FILE, VALID_FILE, read_dataset_manifest
from clonekit.errors import ClonekitError
from clonekit.extras import require
from clonekit.manifest import TEMPLATE_FILE, read_manifest
from clonekit.paths import writable_dir
from clonekit.train.base_models import BaseModel, base_of_run, resolve_base
from clonekit.train.dataset import COLUMNS, tokenized_split
from clonekit.train.model import Precision, import_trl, load_model, plan_run, precision
from clonekit.train.progress import progress_callback
from clonekit.train.run_dir import CHECKPOINTS, check_run_dir, write_run
from clonekit.train.speak_calibration import calibrate_speak
from clonekit.train.template import ChatTemplate, load_template


def evaluate_loss(model, rows, collator) -> float | None:
    """Mean loss per target token over all packed rows (a `datasets.Dataset` with input_ids, labels and
    seq_lengths), through the fused LM head that SFTTrainer adds (trl.trainer.utils.add_fused_lm_head)."""
    import torch

    if rows is None or len(rows) == 0:
        return None
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(len(rows)):
            batch = collator([rows[i]])
            batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
            out = model(**batch, fused_lm_head=True)
            total += float(-out.log_probs.double().sum())
            count += int(out.label_mask.sum())
    model.train(was_training)
    return total / max(count, 1)


def training_device(cfg: TrainConfig) -> str:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if cfg.liger and device != "cuda":
        raise ClonekitError("Liger kernels need a CUDA GPU; set `liger: false` on CPU")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    return device


def load_tokenizer(model_dir: str | Path, template_name: str) -> tuple[Any, ChatTemplate]:
    """(tokenizer, template) with the template set as the tokenizer's chat template and a pad token (the
    end-of-turn token where the tokenizer has none). `model_dir`: a base model or an adapter directory."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    template = load_template(template_name, tokenizer)
    tokenizer.chat_template = template.text
    if tokenizer.pad_token is None:
        tokenizer.pad_token = template.end_of_turn
    return tokenizer, template


def starting_point(cfg: TrainConfig, adapter: Path | None) -> tuple[BaseModel, Any, ChatTemplate]:
    """(base model, tokenizer, template) to train from: a new adapter on cfg.base with cfg.template, or the base
    and chat template of the adapter being continued."""
    if adapter is not None:
        base = base_of_run(adapter, read_manifest(adapter))
        tokenizer, template = load_tokenizer(adapter, str(adapter / TEMPLATE_FILE))
    else:
        base = resolve_base(cfg.base)
        tokenizer, template = load_tokenizer(base.path, cfg.template)
    return base, tokenizer, template


def trainer_args(
    args_cls,
    cfg: TrainConfig,
    out: Path,
    device: str,
    prec: Precision,
    total_steps: int,
    eval_on: bool,
    checkpointing: bool,
    **extra,
):
    """SFTConfig / DPOConfig with clonekit's settings (the same for both methods)."""
    return args_cls(
        output_dir=str(out / CHECKPOINTS),
        per_device_train_batch_size=1,
        per_device_eval_batch_size=1,
        gradient_accumulation_steps=cfg.rows_per_step,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs,
        max_steps=total_steps,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=int(cfg.warmup_ratio * total_steps),
        weight_decay=cfg.weight_decay,
        logging_steps=1,
        eval_strategy="steps" if eval_on else "no",
        eval_steps=cfg.eval_every,
        save_strategy="steps",
        save_steps=cfg.eval_every,
        save_total_limit=cfg.save_total_limit,
        load_best_model_at_end=eval_on and cfg.early_stopping_patience > 0,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        report_to=["tensorboard"] if _has_tensorboard() else [],
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=prec.bf16_autocast,
        fp16=False,
        use_cpu=device == "cpu",
        use_liger_kernel=cfg.liger,
        disable_tqdm=True,
        include_num_input_tokens_seen=True,
        dataloader_pin_memory=device == "cuda",
        ddp_find_unused_parameters=False,
        gradient_checkpointing=False,  # enabled on the model (train/model.py), before the adapter sees it
        **extra,
    )


def set_schedule(args, cfg: TrainConfig, rows: int, world: int) -> int:
    """Steps and warmup from the number of packed rows, known once the trainer has packed them."""
    steps_per_epoch = max(1, math.ceil(rows / (world * cfg.rows_per_step)))
    total = cfg.max_steps if cfg.max_steps > 0 else math.ceil(steps_per_epoch * cfg.epochs)
    args.max_steps = total
    args.warmup_steps = int(cfg.warmup_ratio * total)
    return total


OOM_ADVICE = (
    "out of memory: lower `row_tokens` (tokens per row) or `max_seq_len`, raise `rows_per_step` to keep the step "
    "size, turn on `gradient_checkpointing`, or use a QLoRA recipe (configs/gpu-*-qlora-*.yaml)"
)


def _setup_data(cfg: TrainConfig, data_dir: Path, tokenizer, template: ChatTemplate, show_progress: bool, log):
    """The tokenized train and valid splits (from the cache when the data, tokenizer and template are unchanged)."""
    train_split = tokenized_split(
        data_dir / TRAIN_FILE,
        tokenizer,
        template,
        cfg.max_seq_len,
        progress=show_progress,
        speaker_loss=cfg.speaker_loss,
    )
    valid_split = tokenized_split(data_dir / VALID_FILE, tokenizer, template, cfg.max_seq_len, progress=show_progress)
    train_stats, valid_stats = train_split.stats, valid_split.stats
    if not len(train_split.dataset):
        raise ClonekitError("no training examples left after tokenization", data_dir / TRAIN_FILE)
    log(
        f"data: {train_stats.pieces} train examples ({train_stats.tokens:,} tokens, "
        f"{train_stats.target_tokens:,} on the target){' from the cache' if train_split.cached else ''}; "
        f"{valid_stats.pieces} valid examples"
    )
    return train_split, valid_split


def _setup_trainer(
    cfg: TrainConfig,
    model,
    tokenizer,
    train_split,
    valid_split,
    out: Path,
    device: str,
    prec: Precision,
    checkpointing: bool,
    show_progress: bool,
):
    """(SFTTrainer on packed rows with clonekit's loss mask, its progress callback)."""
    from transformers import EarlyStoppingCallback, PrinterCallback
    from trl import SFTConfig, SFTTrainer

    eval_on = len(valid_split.dataset) > 0
    args = trainer_args(
        SFTConfig,
        cfg,
        out,
        device,
        prec,
        max(cfg.max_steps, 1),
        eval_on,
        checkpointing,
        packing=True,
        packing_strategy="bfd",
        max_length=cfg.row_tokens,
        eval_packing=True,
        shuffle_dataset=True,
        completion_only_loss=False,
        assistant_only_loss=False,
    )
    progress = progress_callback(show_progress)
    callbacks = [progress]
    if eval_on and cfg.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(cfg.early_stopping_patience))
    trainer: Any = SFTTrainer(
        model=model,
        args=args,
        processing_class=tokenizer,
        callbacks=callbacks,
        train_dataset=train_split.dataset.select_columns(COLUMNS),
        eval_dataset=valid_split.dataset.select_columns(COLUMNS) if eval_on else None,
    )
    trainer.remove_callback(PrinterCallback)  # the rich bar shows loss; TensorBoard keeps every log
    return trainer, progress


def _fit(trainer, cfg: TrainConfig, world: int, last: str | None, log) -> dict:
    """Validation loss before and after, and the training run between them."""
    total_steps = set_schedule(trainer.args, cfg, len(trainer.train_dataset), world)
    eval_rows = trainer.eval_dataset
    base_valid_loss = evaluate_loss(trainer.model, eval_rows, trainer.data_collator)
    if base_valid_loss is not None:
        log(f"base model validation loss: {base_valid_loss:.4f}")
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - started
    return {
        "valid_loss": evaluate_loss(trainer.model, eval_rows, trainer.data_collator),
        "base_valid_loss": base_valid_loss,
        "train_loss": whole_run_train_loss(trainer.state.log_history, result.training_loss),
        "seconds": seconds,
        "total_steps": total_steps,
    }


def train(
    cfg: TrainConfig,
    data_dir: str | Path,
    out_dir: str | Path,
    resume: bool = False,
    show_progress: bool = True,
    log=print,
    from_adapter: str | Path | None = None,
) -> Path | None:
    """Fine-tune cfg.base on data_dir/train.jsonl; write the adapter directory out_dir and return it
    (None on the other ranks of a distributed run: only rank 0 writes). `from_adapter`: continue that adapter
    (its base model and chat template) instead of starting a new one."""
    import torch
    from transformers import set_seed

    import_trl()

    data_dir, out = Path(data_dir), writable_dir(out_dir, "adapter")
    read_dataset_manifest(data_dir)  # fails with "not a dataset directory" before any model loads
    device = training_device(cfg)
    prec = precision(cfg, device)
    last = check_run_dir(out, resume, log)
    set_seed(cfg.seed)
    parent = Path(from_adapter) if from_adapter is not None else None
    base, tokenizer, template = starting_point(cfg, parent)
    run_plan = plan_run(base, cfg, device, prec, cfg.row_tokens, log)  # a plan that cannot fit fails here
    train_split, valid_split = _setup_data(cfg, data_dir, tokenizer, template, show_progress, log)
    world = int(os.environ.get("WORLD_SIZE", 1))
    try:
        model, checkpointed = load_model(base, cfg, device, prec, run_plan, adapter=str(parent) if parent else None)
        trainer, progress = _setup_trainer(
            cfg, model, tokenizer, train_split, valid_split, out, device, prec, checkpointed > 0, show_progress
        )
        fit = _fit(trainer, cfg, world, last, log)
    except torch.OutOfMemoryError:
        raise ClonekitError(OOM_ADVICE) from None
    if not trainer.is_world_process_zero():
        return None
    metrics = _metrics(fit, trainer, progress, train_split, valid_split, device, prec, cfg, run_plan, checkpointed)
    extra: dict = {"parent": str(parent.resolve())} if parent is not None else {}
    speak = _speak_calibration(trainer.model, tokenizer, template, data_dir, log)
    if speak is not None:
        extra["speak"] = speak
    return write_run(out, trainer.model, tokenizer, template, base, data_dir, cfg, metrics, method="sft", extra=extra)


def _metrics(
    fit: dict, trainer, progress, train_split, valid_split, device, prec, cfg: TrainConfig, run_plan, checkpointed
):
    """clonekit.json's metrics of an SFT run: losses, speed, memory, data, how it ran."""
    seconds = fit["seconds"]
    return {
        "valid_loss": fit["valid_loss"],
        "base_valid_loss": fit["base_valid_loss"],
        "train_loss": fit["train_loss"],
        "steps": trainer.state.global_step,
        "train_tokens_this_run": progress.tokens,
        "tokens_per_second": progress.tokens / seconds if seconds else None,
        "tokens_per_second_steady": progress.steady.rate,
        "peak_memory_gib": peak_memory_gib(device),
        "first_steps_seconds": progress.steady.first_seconds,
        "seconds": seconds,
        "train_examples": train_split.stats.pieces,
        "valid_examples": valid_split.stats.pieces,
        "train_target_tokens": train_split.stats.target_tokens,
        "tokenize_notes": dict(train_split.stats.notes),
        "train_rows": len(trainer.train_dataset),
        "early_stopped": trainer.state.global_step < fit["total_steps"],
        "device": device,
        "dtype": str(prec.dtype).replace("torch.", ""),
        "bf16_autocast": prec.bf16_autocast,
        "quantization": cfg.quantization,
        **run_plan.as_metrics(checkpointed),
        "world_size": int(os.environ.get("WORLD_SIZE", 1)),
    }


def _speak_calibration(model, tokenizer, template, data_dir: Path, log) -> dict | None:
    """The speak score's threshold and held-out AUC (train/speak_calibration.py), logged."""
    ds = read_dataset_manifest(data_dir)
    speak = calibrate_speak(model, tokenizer, template, data_dir, ds.system_prompt, ds.target)
    if speak is not None:
        log(
            f"speak score: held-out AUC {speak['auc']:.3f}, threshold {speak['threshold']:.3f} "
            f"(the target wrote next at {speak['target_rate']:.1%} of {speak['decision_points']} points)"
        )
    return speak


def whole_run_train_loss(log_history: list[dict], this_run: float) -> float:
    """Mean training loss over every step of the run, resumed parts included. (After a resume, the Trainer's own
    figure divides this run's losses by all steps.) Steps are logged one by one (`logging_steps=1`), and the log
    history comes back with the checkpoint."""
    losses = [entry["loss"] for entry in log_history if "loss" in entry and "eval_loss" not in entry]
    return sum(losses) / len(losses) if losses else this_run


def peak_memory_gib(device: str) -> float:
    """The run's peak memory: the most the CUDA allocator had allocated (what the memory plan estimates), or the
    process's peak resident memory on the CPU."""
    import resource

    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _has_tensorboard() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def merge(run_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the base model with the adapter merged into its weights (a plain HF model directory)."""
    require("peft", "serve-cpu", "merging an adapter (`serve --merged`)")
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from clonekit.manifest import read_manifest

    run, out = Path(run_dir), Path(out_dir)
    manifest = read_manifest(run)
    base = base_of_run(run, manifest)
    model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, str(run)).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    AutoTokenizer.from_pretrained(run).save_pretrained(out)
    shutil.copyfile(run / TEMPLATE_FILE, out / TEMPLATE_FILE)
    return out
