"""Padding-free packing: several examples per row, position_ids restarting at 0 for each, so that
attention stays within each example. transformers builds the block-diagonal mask from position_ids
only when there is no attention_mask and no KV cache (masking_utils._preprocess_mask_arguments), so
batches carry `use_cache=False`: an eval-mode forward would otherwise make a cache and attend across
examples.
The first token of every example is a masked template token, so no label crosses an example boundary."""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from train.tokenize import IGNORE, Tokenized


@dataclass
class Row:
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]


def pack(examples: list[Tokenized], row_tokens: int, seed: int = 0) -> list[Row]:
    """First-fit decreasing over a shuffled order: rows of at most `row_tokens` tokens."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    order.sort(key=lambda i: -len(examples[i]))
    rows: list[list[int]] = []
    free: list[int] = []
    for i in order:
        n = min(len(examples[i]), row_tokens)
        # look at the most recent open rows only: O(n) overall, nearly as tight as a full scan
        for r in range(max(0, len(rows) - 64), len(rows)):
            if free[r] >= n:
                rows[r].append(i)
                free[r] -= n
                break
        else:
            rows.append([i])
            free.append(row_tokens - n)
    out = []
    for members in rows:
        ids, labels, pos = [], [], []
        for i in members:
            ex = examples[i]
            ids += ex.input_ids[:row_tokens]
            labels += ex.labels[:row_tokens]
            pos += range(min(len(ex), row_tokens))
        out.append(Row(ids, labels, pos))
    random.Random(seed + 1).shuffle(out)
    return out


class PackedCollator:
    """Stacks rows (B, T), padding shorter rows at the end."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, rows: list[Row]) -> dict:
        width = max(len(r.input_ids) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)  # (B, T)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)  # (B, T)
        pos = torch.zeros((len(rows), width), dtype=torch.long)  # (B, T); padding is one more "example"
        for b, r in enumerate(rows):
            n = len(r.input_ids)
            ids[b, :n] = torch.tensor(r.input_ids)
            labels[b, :n] = torch.tensor(r.labels)
            pos[b, :n] = torch.tensor(r.position_ids)
            pos[b, n:] = torch.arange(width - n)
        return {"input_ids": ids, "labels": labels, "position_ids": pos, "use_cache": False}
