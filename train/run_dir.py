"""The adapter run directory: made or resumed safely (`check_run_dir`), its checkpoints checked before a resume, and
written at the end (`write_run`: the PEFT adapter, tokenizer, chat template, generation config, clonekit.json)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from clonekit import __version__
from clonekit.config import TrainConfig
from clonekit.contracts import AdapterManifest, BaseRef, DatasetRef
from clonekit.dataset import MANIFEST_FILE, has_manifest, read_dataset_manifest
from clonekit.errors import ClonekitError
from clonekit.hashing import sha256_file
from clonekit.manifest import TEMPLATE_FILE, safetensors_problem, write_generation_config, write_manifest
from clonekit.train.base_models import BaseModel

CHECKPOINTS = "checkpoints"


def check_run_dir(out: Path, resume: bool, log) -> str | None:
    """The checkpoint to resume from (None for a fresh run); an out dir holding an earlier run needs --resume."""
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(out / CHECKPOINTS)) if (out / CHECKPOINTS).is_dir() else None
    if resume and last is None:
        raise ClonekitError(f"--resume: no checkpoint found under {out / CHECKPOINTS}")
    if not resume and last is not None:
        raise ClonekitError(
            f"{out} already holds checkpoints of an earlier run: pass --resume to continue it, or choose another --out"
        )
    return last_complete_checkpoint(out / CHECKPOINTS, log) if resume else None


def write_run(
    out: Path,
    model,
    tokenizer,
    template,
    base: BaseModel,
    data_dir: Path,
    cfg: TrainConfig,
    metrics: dict,
    method: str,
    extra: dict | None = None,
) -> Path:
    """The adapter directory: PEFT adapter (LoRA weights only: a QLoRA run never writes its 4-bit base),
    tokenizer, chat template, generation config and clonekit.json."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / TEMPLATE_FILE).write_text(template.text, encoding="utf-8")
    write_generation_config(out, tokenizer.convert_tokens_to_ids(template.end_of_turn))
    ds = read_dataset_manifest(data_dir) if has_manifest(data_dir) else None
    manifest = AdapterManifest(
        clonekit_version=__version__,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        method=method,
        base=BaseRef(id=base.id, path=base.path, sha256=base.sha256),
        dataset=DatasetRef(
            dir=str(data_dir.resolve()),
            manifest_sha256=sha256_file(data_dir / MANIFEST_FILE) if ds else None,
            target=ds.target if ds else None,
            system_prompt=ds.system_prompt if ds else None,
        ),
        template=TEMPLATE_FILE,
        end_of_turn=template.end_of_turn,
        config=cfg,
        metrics=metrics,
        **(extra or {}),
    )
    write_manifest(out, manifest)
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
    found = sorted(
        (p for p in checkpoints.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
        reverse=True,
    )
    for ckpt in found:
        problem = checkpoint_problem(ckpt)
        if problem is None:
            return str(ckpt)
        log(f"warning: skipping {ckpt.name}: {problem} (a save that was interrupted); resuming from an older one")
    raise ClonekitError(
        f"--resume: no complete checkpoint under {checkpoints} (all {len(found)} are damaged): "
        "start again with another --out"
    )
