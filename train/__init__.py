"""Fine-tuning: tokenization with the loss mask, packing, LoRA/QLoRA training, merging."""

from clonekit.train.trainer import merge, train

__all__ = ["train", "merge"]
