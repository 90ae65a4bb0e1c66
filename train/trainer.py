"""`clonekit train`: LoRA/QLoRA on the target's turns, packed rows, HF Trainer.

Why the HF Trainer and not TRL's SFTTrainer: labels (the loss mask) and packing are computed here, from
the chat template, before training (see train/tokenize.py, train/packing.py); SFTTrainer would tokenize
and mask again by its own rules (it knows roles, not our named speakers and weights). What we need from
a trainer is the loop itself: optimizer and schedule, gradient accumulation, checkpoints and resume,
evaluation, early stopping, TensorBoard, DDP/FSDP through accelerate. The HF Trainer has all of it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

from clonekit import __version__
from clonekit.config import TrainConfig
from clonekit.errors import ClonekitError
from clonekit.paths import writable_dir
from clonekit.manifest import TEMPLATE_FILE, safetensors_problem, write_generation_config, write_manifest
from data_prep.build import sha256_file
from train.base_models import BaseModel, resolve_base
from train.packing import PackedCollator, Row, pack
from train.template import load_template
from train.tokenize import load_examples, tokenize_dataset

CHECKPOINTS = "checkpoints"


class _Rows:
    """A map-style dataset over packed rows (the Trainer's sampler shuffles them per epoch). It counts the
    real tokens it hands out: the training set's count is training throughput. The Trainer runs its
    evaluations through the same collator, so the count cannot live there."""

    def __init__(self, rows: list[Row]):
        self.rows = rows
        self.tokens_served = 0

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Row:
        row = self.rows[i]
        self.tokens_served += len(row.input_ids)
        return row


def evaluate_loss(model, rows: list[Row], collator: PackedCollator) -> float | None:
    """Mean loss per target token over all rows (token-weighted, unlike the Trainer's mean of batch means)."""
    import torch
    import torch.nn.functional as F

    if not rows:
        return None
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    with torch.no_grad():
        for row in rows:
            batch = collator([row])
            labels = batch.pop("labels").to(device)  # (1, T)
            batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
            logits = model(**batch).logits.float()  # (1, T, V)
            loss = F.cross_entropy(logits[0, :-1], labels[0, 1:], ignore_index=-100, reduction="sum")
            total += loss.item()
            count += int((labels[0, 1:] != -100).sum())
    model.train(was_training)
    return total / max(count, 1)


def _load_model(base: BaseModel, cfg: TrainConfig, device: str):
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}.get(cfg.dtype)
    if dtype is None:
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
    kwargs = {"dtype": dtype, "attn_implementation": cfg.attn_implementation}
    if cfg.quantization == "nf4":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", 0))}
    model = AutoModelForCausalLM.from_pretrained(base.path, **kwargs)
    model.config.use_cache = False
    checkpointing = cfg.gradient_checkpointing == "on" or (cfg.gradient_checkpointing == "auto" and device == "cuda")
    if cfg.quantization == "nf4":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=checkpointing)
    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=cfg.lora.target_modules, task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.train()  # from_pretrained returns eval mode: checkpointing would silently stay off
    return model, dtype, checkpointing


def _progress_callback(train_set: _Rows, enabled: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from transformers import TrainerCallback

    class RichProgress(TrainerCallback):
        """A rich progress bar with loss, real tokens/s and ETA (the Trainer's tqdm is off)."""

        def __init__(self):
            self.bar = None
            self.loss = float("nan")
            self.eval_loss = None
            self.start = None
            self.tokens0 = 0

        def on_train_begin(self, args, state, control, **kw):
            if not (enabled and state.is_world_process_zero):
                return
            self.bar = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True))
            self.task = self.bar.add_task("train", total=state.max_steps, completed=state.global_step, info="")
            self.bar.start()
            self.start, self.tokens0 = time.perf_counter(), train_set.tokens_served

        def on_log(self, args, state, control, logs=None, **kw):
            logs = logs or {}
            if "loss" in logs:
                self.loss = logs["loss"]
            if "eval_loss" in logs:
                self.eval_loss = logs["eval_loss"]

        def on_step_end(self, args, state, control, **kw):
            if self.bar is None:
                return
            rate = (train_set.tokens_served - self.tokens0) / max(time.perf_counter() - self.start, 1e-9)
            info = f"loss {self.loss:.3f}" + (f"  valid {self.eval_loss:.3f}" if self.eval_loss is not None else "")
            self.bar.update(self.task, completed=state.global_step, info=f"{info}  {rate:,.0f} tok/s")

        def on_train_end(self, args, state, control, **kw):
            if self.bar is not None:
                self.bar.stop()

    return RichProgress()


def train(cfg: TrainConfig, data_dir: str | Path, out_dir: str | Path, resume: bool = False,
          show_progress: bool = True, log=print) -> Path | None:
    """Fine-tune cfg.base on data_dir/train.jsonl; write the adapter directory out_dir and return it
    (None on the other ranks of a distributed run: only rank 0 writes)."""
    import torch
    from transformers import EarlyStoppingCallback, PrinterCallback, Trainer, TrainingArguments, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    data_dir, out = Path(data_dir), writable_dir(out_dir, "adapter")
    if not (data_dir / "manifest.json").exists():
        raise ClonekitError("not a dataset directory (no manifest.json): run `clonekit prep build` first", data_dir)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if cfg.quantization == "nf4" and device != "cuda":
        raise ClonekitError("QLoRA (quantization: nf4) needs a CUDA GPU; on CPU use `quantization: none`")
    if cfg.liger and device != "cuda":
        raise ClonekitError("Liger kernels need a CUDA GPU; set `liger: false` on CPU")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    last = get_last_checkpoint(str(out / CHECKPOINTS)) if (out / CHECKPOINTS).is_dir() else None
    if resume and last is None:
        raise ClonekitError(f"--resume: no checkpoint found under {out / CHECKPOINTS}")
    if resume:
        last = last_complete_checkpoint(out / CHECKPOINTS, log)
    if not resume and last is not None:
        raise ClonekitError(f"{out} already holds checkpoints of an earlier run: pass --resume to continue it, "
                            "or choose another --out")
    set_seed(cfg.seed)
    base = resolve_base(cfg.base)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base.path)
    template = load_template(cfg.template, tokenizer)
    tokenizer.chat_template = template.text
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.convert_tokens_to_ids(template.end_of_turn)

    train_tok, train_stats = tokenize_dataset(tokenizer, template, load_examples(data_dir / "train.jsonl"), cfg.max_seq_len)
    valid_tok, valid_stats = tokenize_dataset(tokenizer, template, load_examples(data_dir / "valid.jsonl"), cfg.max_seq_len)
    if not train_tok:
        raise ClonekitError("no training examples left after tokenization", data_dir / "train.jsonl")
    train_rows, valid_rows = pack(train_tok, cfg.row_tokens, cfg.seed), pack(valid_tok, cfg.row_tokens, cfg.seed)
    log(f"data: {train_stats.pieces} train examples ({train_stats.tokens:,} tokens, {train_stats.target_tokens:,} on the "
        f"target) in {len(train_rows)} rows; {valid_stats.pieces} valid examples")

    try:
        model, dtype, checkpointing = _load_model(base, cfg, device)
        collator = PackedCollator(pad_id)
        world = int(os.environ.get("WORLD_SIZE", 1))
        steps_per_epoch = max(1, math.ceil(len(train_rows) / (world * cfg.rows_per_step)))
        total_steps = cfg.max_steps if cfg.max_steps > 0 else math.ceil(steps_per_epoch * cfg.epochs)
        base_valid_loss = evaluate_loss(model, valid_rows, collator)
        if base_valid_loss is not None:
            log(f"base model validation loss: {base_valid_loss:.4f}")
        reporting = ["tensorboard"] if _has_tensorboard() else []
        eval_on = bool(valid_rows)
        args = TrainingArguments(
            output_dir=str(out / CHECKPOINTS), per_device_train_batch_size=1, per_device_eval_batch_size=1,
            gradient_accumulation_steps=cfg.rows_per_step, learning_rate=cfg.learning_rate,
            num_train_epochs=cfg.epochs, max_steps=total_steps, lr_scheduler_type=cfg.lr_scheduler,
            warmup_steps=int(cfg.warmup_ratio * total_steps), weight_decay=cfg.weight_decay,
            logging_steps=1, eval_strategy="steps" if eval_on else "no", eval_steps=cfg.eval_every,
            save_strategy="steps", save_steps=cfg.eval_every, save_total_limit=cfg.save_total_limit,
            load_best_model_at_end=eval_on and cfg.early_stopping_patience > 0, metric_for_best_model="eval_loss",
            greater_is_better=False, report_to=reporting, seed=cfg.seed, data_seed=cfg.seed,
            bf16=device == "cuda" and dtype == torch.bfloat16 or cfg.quantization == "nf4",
            use_cpu=device == "cpu", use_liger_kernel=cfg.liger, disable_tqdm=True,
            remove_unused_columns=False, dataloader_pin_memory=device == "cuda",
            ddp_find_unused_parameters=False, gradient_checkpointing=False,  # enabled on the model above
        )
        train_set = _Rows(train_rows)
        callbacks = [_progress_callback(train_set, show_progress)]
        if eval_on and cfg.early_stopping_patience > 0:
            callbacks.append(EarlyStoppingCallback(cfg.early_stopping_patience))
        trainer = Trainer(model=model, args=args, train_dataset=train_set,
                          eval_dataset=_Rows(valid_rows) if eval_on else None, data_collator=collator, callbacks=callbacks)
        trainer.remove_callback(PrinterCallback)  # the rich bar shows loss; TensorBoard keeps every log
        started = time.perf_counter()
        result = trainer.train(resume_from_checkpoint=last if resume else None)
        seconds = time.perf_counter() - started
        trained_tokens = train_set.tokens_served
        valid_loss = evaluate_loss(trainer.model, valid_rows, collator)
    except torch.OutOfMemoryError:
        raise ClonekitError("out of memory: lower `row_tokens` (tokens per row) or `max_seq_len`, raise `rows_per_step` "
                            "to keep the step size, turn on `gradient_checkpointing`, or use a QLoRA recipe "
                            "(configs/gpu-*-qlora-*.yaml)") from None

    if not trainer.is_world_process_zero():
        return None
    out.mkdir(parents=True, exist_ok=True)
    trainer.model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    shutil.copyfile(template.path, out / TEMPLATE_FILE)
    write_generation_config(out, tokenizer.convert_tokens_to_ids(template.end_of_turn))
    ds_manifest = (data_dir / "manifest.json")

    ds = json.loads(ds_manifest.read_text(encoding="utf-8"))
    metrics = {
        "valid_loss": valid_loss, "base_valid_loss": base_valid_loss,
        "train_loss": whole_run_train_loss(trainer.state.log_history, result.training_loss),
        "steps": trainer.state.global_step, "train_tokens_this_run": trained_tokens,
        "tokens_per_second": trained_tokens / seconds if seconds else None, "seconds": seconds,
        "train_examples": train_stats.pieces, "valid_examples": valid_stats.pieces,
        "train_target_tokens": train_stats.target_tokens, "tokenize_notes": dict(train_stats.notes),
        "early_stopped": trainer.state.global_step < total_steps,
        "device": device, "dtype": str(dtype).replace("torch.", ""), "gradient_checkpointing": checkpointing,
        "world_size": world,
    }
    write_manifest(out, {
        "clonekit_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "base": {"id": base.id, "path": base.path, "sha256": base.sha256},
        "dataset": {"dir": str(data_dir.resolve()), "manifest_sha256": sha256_file(ds_manifest),
                    "target": ds.get("target"), "system_prompt": ds.get("system_prompt")},
        "template": TEMPLATE_FILE,
        "end_of_turn": template.end_of_turn,
        "config": cfg.model_dump(),
        "metrics": metrics,
    })
    return out


CHECKPOINT_FILES = ("trainer_state.json", "adapter_model.safetensors", "optimizer.pt", "scheduler.pt")


def checkpoint_problem(ckpt: Path) -> str | None:
    """Why a checkpoint cannot be resumed from (a kill during the save leaves one torn), or None. Checked: every
    file the Trainer reads is there, the state is JSON, the adapter's safetensors header and sizes hold, and the torch
    archives (optimizer, scheduler, RNG states) are whole zip files (torch.save writes zips; a truncated one has no
    central directory)."""
    import zipfile

    for name in CHECKPOINT_FILES:
        if not (ckpt / name).is_file():
            return f"{name} is missing"
    try:
        json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:
        return f"trainer_state.json is not valid JSON ({e})"
    problem = safetensors_problem(ckpt / "adapter_model.safetensors")
    if problem:
        return problem
    for path in [ckpt / "optimizer.pt", ckpt / "scheduler.pt", *ckpt.glob("rng_state*.pth")]:
        try:
            with zipfile.ZipFile(path) as z:
                if z.testzip() is not None:
                    return f"{path.name} is damaged"
        except (zipfile.BadZipFile, OSError, EOFError):
            return f"{path.name} is truncated or damaged"
    return None


def last_complete_checkpoint(checkpoints: Path, log=print) -> str:
    """The newest checkpoint that can be resumed from; torn ones (newer) are named and skipped."""
    found = sorted((p for p in checkpoints.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
                   key=lambda p: int(p.name.split("-")[-1]), reverse=True)
    for ckpt in found:
        problem = checkpoint_problem(ckpt)
        if problem is None:
            return str(ckpt)
        log(f"warning: skipping {ckpt.name}: {problem} (a save that was interrupted); resuming from an older one")
    raise ClonekitError(f"--resume: no complete checkpoint under {checkpoints} (all {len(found)} are damaged): "
                        "start again with another --out")


def whole_run_train_loss(log_history: list[dict], this_run: float) -> float:
    """Mean training loss over every step of the run, resumed parts included. (After a resume, the Trainer's own
    figure divides this run's losses by all steps.) Steps are logged one by one (`logging_steps=1`), and the log
    history comes back with the checkpoint."""
    losses = [entry["loss"] for entry in log_history if "loss" in entry and "eval_loss" not in entry]
    return sum(losses) / len(losses) if losses else this_run


def _has_tensorboard() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def merge(run_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the base model with the adapter merged into its weights (a plain HF model directory)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from clonekit.manifest import read_manifest

    run, out = Path(run_dir), Path(out_dir)
    manifest = read_manifest(run)
    base = resolve_base(manifest["base"]["id"])
    if base.sha256 != manifest["base"]["sha256"]:
        raise ClonekitError(f"the base model {base.id!r} changed since training (sha256 differs); merge would be wrong")
    model = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, str(run)).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    AutoTokenizer.from_pretrained(run).save_pretrained(out)
    shutil.copyfile(run / TEMPLATE_FILE, out / TEMPLATE_FILE)
    return out
