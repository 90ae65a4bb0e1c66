"""What a hosted fine-tune of a dataset would be: its two files checked, the tokens OpenAI bills (training tokens x
epochs; the validation file is not billed), and the estimated cost from the config's price table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clonekit.config import HostedConfig
from clonekit.dataset import OPENAI_TRAIN_FILE, OPENAI_VALID_FILE, read_prep_manifest
from clonekit.hashing import sha256_file
from clonekit.hosted.validate import FileFigures, check_file, model_limits


@dataclass
class HostedPlan:
    dataset: Path
    dataset_sha256: str  # of its manifest.json: the registry records which dataset a hosted version learnt
    target: str
    model: str
    train: FileFigures
    valid: FileFigures | None
    epochs: int  # what the estimate assumes
    epochs_given: bool  # False: OpenAI chooses (`auto`)
    price_per_1m: float

    @property
    def billed_tokens(self) -> int:
        return self.train.tokens * self.epochs

    @property
    def cost_usd(self) -> float:
        return self.billed_tokens * self.price_per_1m / 1e6


def plan(dataset: str | Path, cfg: HostedConfig) -> HostedPlan:
    """Check the dataset's OpenAI files against the model's limits; the figures and the estimate."""
    dataset = Path(dataset)
    manifest = read_prep_manifest(dataset)
    limits = model_limits(cfg, cfg.model)
    train = check_file(dataset / OPENAI_TRAIN_FILE, limits, cfg.min_examples)
    valid_path = dataset / OPENAI_VALID_FILE
    valid = check_file(valid_path, limits) if valid_path.is_file() and valid_path.stat().st_size else None
    return HostedPlan(
        dataset=dataset,
        dataset_sha256=sha256_file(dataset / "manifest.json"),
        target=manifest.target,
        model=cfg.model,
        train=train,
        valid=valid,
        epochs=cfg.epochs or cfg.estimate_epochs,
        epochs_given=cfg.epochs is not None,
        price_per_1m=limits.training_price_per_1m,
    )
