"""`clonekit train --method sft|dpo`: one entry for both recipes, with the checks that come before either (the
registry core's system prompt, a pairs file for DPO) and the metrics each one reports."""

from __future__ import annotations

from pathlib import Path

from clonekit.config import TrainConfig
from clonekit.dataset import TRAIN_FILE
from clonekit.errors import ClonekitError

METHODS = ("sft", "dpo")
# the metrics the command line shows after a run, per method
REPORTED = {
    "sft": ("base_valid_loss", "valid_loss", "train_loss", "steps", "tokens_per_second", "seconds"),
    "dpo": ("margin_before", "margin_after", "train_loss", "steps", "pairs", "tokens_per_second", "seconds"),
}


def run_method(
    method: str,
    cfg: TrainConfig,
    data: Path,
    out: Path,
    from_adapter: Path | None = None,
    core: Path | None = None,
    resume: bool = False,
    show_progress: bool = True,
    log=print,
) -> Path | None:
    """Train with `method`; the run directory, or None on a non-zero rank of a distributed run."""
    if method not in METHODS:
        raise ClonekitError(f"--method {method!r}: choose sft or dpo")
    if method == "dpo":
        from clonekit.pairs import PAIRS_FILE
        from clonekit.train.dpo import train_dpo

        pairs = data / PAIRS_FILE if data.is_dir() else data
        if data.is_dir() and not pairs.exists():
            raise ClonekitError(
                f"--method dpo needs preference pairs, and {data} has no {PAIRS_FILE}: write them with "
                f"`clonekit prep pairs {data}`, or pass a pairs file as --data"
            )
        return train_dpo(
            cfg, pairs, out, from_adapter=from_adapter, resume=resume, show_progress=show_progress, log=log
        )
    if core is not None:
        from clonekit.readonly_core import dataset_core_problem, read_core

        found = dataset_core_problem(read_core(core)[0], data)
        if found:
            raise ClonekitError(found[0], data / TRAIN_FILE, found[1])
    from clonekit.train.trainer import train

    return train(cfg, data, out, resume=resume, show_progress=show_progress, log=log, from_adapter=from_adapter)
