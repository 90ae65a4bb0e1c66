"""train.jsonl / valid.jsonl -> a tokenized `datasets.Dataset` (input_ids + assistant_masks), cached on disk.

The rows are what TRL's SFTTrainer takes as an already-processed dataset: `input_ids` and `assistant_masks`
(1 where the loss falls: the target's turns and their end-of-turn tokens, clonekit's own mask from
train/tokenize.py; TRL turns the mask into labels and packs the rows). Tokenizing is the slow part of loading,
so its result is an Arrow file under the cache (`$CLONEKIT_CACHE/datasets/`), keyed by everything the rows
depend on: the JSONL's bytes, the tokenizer, the chat template, max_seq_len and the source of the masking code.
A second run on an unchanged dataset memory-maps that file and tokenizes nothing.

The key is computed here rather than left to `datasets`' own fingerprinting, which hashes the mapped function
by pickling it with its arguments: a tokenizer pickles differently between processes (its cached state), so
the fingerprint, and the cache hit, would not be stable.
"""

from __future__ import annotations

import inspect
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clonekit.hashing import sha256_file, sha256_text
from clonekit.paths import cache_dir
from clonekit.train import template as template_module
from clonekit.train import tokenize as tokenize_module
from clonekit.train.template import ChatTemplate
from clonekit.train.tokenize import IGNORE, TokenizeStats, load_examples, tokenize_with_limit

COLUMNS = ["input_ids", "assistant_masks"]
PARALLEL_FROM = 20_000  # examples; below this, worker start-up costs more than it saves


@dataclass
class TokenizedSplit:
    dataset: Any  # datasets.Dataset with input_ids, assistant_masks, source, notes
    stats: TokenizeStats
    cached: bool  # True when the rows came from the cache


def cache_key(path: Path, tokenizer, template: ChatTemplate, max_len: int) -> str:
    backend = (
        tokenizer.backend_tokenizer.to_str()
        if getattr(tokenizer, "is_fast", False)
        else repr(sorted(tokenizer.get_vocab().items()))
    )
    code = inspect.getsource(tokenize_module) + inspect.getsource(template_module)
    return sha256_text(sha256_file(path), backend, template.text, str(max_len), code)[:24]


def _tokenize_batch(batch: dict, tokenizer, template: ChatTemplate, max_len: int, speaker_loss: bool = False) -> dict:
    """`datasets.map` function (batched): one JSON example in, zero or more pieces out (long examples split)."""
    out: dict[str, list] = {"input_ids": [], "assistant_masks": [], "source": [], "notes": []}
    for index, raw in zip(batch["index"], batch["messages"], strict=True):
        stats = TokenizeStats()
        pieces = tokenize_with_limit(tokenizer, template, json.loads(raw), max_len, stats, speaker_loss)
        notes = sorted(stats.notes.elements())
        for k, piece in enumerate(pieces):
            out["input_ids"].append(piece.input_ids)
            out["assistant_masks"].append([int(label != IGNORE) for label in piece.labels])
            out["source"].append(index)
            out["notes"].append(notes if k == 0 else [])
    return out


def _stats(ds, examples: int) -> TokenizeStats:
    import pyarrow.compute as pc

    table = ds.data.table if hasattr(ds.data, "table") else ds.data
    stats = TokenizeStats(examples=examples, pieces=len(ds))
    if len(ds):
        stats.tokens = int(pc.sum(pc.list_value_length(table.column("input_ids"))).as_py())
        stats.target_tokens = int(pc.sum(pc.list_flatten(table.column("assistant_masks"))).as_py() or 0)
        for notes in table.column("notes").to_pylist():
            stats.notes.update(notes)
        kept = len(set(table.column("source").to_pylist()))
    else:
        kept = 0
    if examples - kept:
        stats.notes["dropped_no_target"] += examples - kept
    return stats


def tokenized_split(
    path: str | Path,
    tokenizer,
    template: ChatTemplate,
    max_len: int,
    use_cache: bool = True,
    progress: bool = False,
    speaker_loss: bool = False,
) -> TokenizedSplit:
    """The tokenized rows of one JSONL split and their stats. A missing or empty file gives an empty dataset.
    Bad lines are one ClonekitError naming the file and line (train/tokenize.load_examples checks them)."""
    import datasets

    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        empty = datasets.Dataset.from_dict(
            {"input_ids": [], "assistant_masks": [], "source": [], "notes": []}, features=_features()
        )
        return TokenizedSplit(empty, TokenizeStats(), cached=False)
    folder = cache_dir() / "datasets"
    key = cache_key(path, tokenizer, template, max_len) + ("-speakers" if speaker_loss else "")
    target = folder / f"{path.stem}-{key}.arrow"
    meta = target.with_suffix(".json")
    if use_cache and target.exists() and meta.exists():
        ds = datasets.Dataset.from_file(str(target))
        return TokenizedSplit(ds, _stats(ds, json.loads(meta.read_text())["examples"]), cached=True)
    examples = load_examples(path)
    raw = datasets.Dataset.from_dict(
        {"index": list(range(len(examples))), "messages": [json.dumps(m, ensure_ascii=False) for m in examples]}
    )
    procs = min(os.cpu_count() or 1, 8) if len(examples) >= PARALLEL_FROM else None
    ds = raw.map(
        _tokenize_batch,
        batched=True,
        batch_size=256,
        remove_columns=raw.column_names,
        fn_kwargs={"tokenizer": tokenizer, "template": template, "max_len": max_len, "speaker_loss": speaker_loss},
        features=_features(),
        num_proc=procs,
        load_from_cache_file=False,
        keep_in_memory=True,
        desc=f"tokenizing {path.name}" if progress else None,
    )
    if use_cache:
        folder.mkdir(parents=True, exist_ok=True)
        ds = _publish(ds, target)
        meta.write_text(json.dumps({"examples": len(examples), "source": str(path.resolve())}))
    return TokenizedSplit(ds, _stats(ds, len(examples)), cached=False)


def _publish(ds, target: Path):
    """Write the rows to `target` as an Arrow stream (the file format `datasets` memory-maps), renamed into
    place in one step so that a concurrent or killed run never leaves a torn cache file; reopen from there."""
    import datasets
    import pyarrow as pa

    table = ds.data.table
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, target)
    return datasets.Dataset.from_file(str(target))


def _features():
    import datasets

    return datasets.Features(
        {
            "input_ids": datasets.Sequence(datasets.Value("int32")),
            "assistant_masks": datasets.Sequence(datasets.Value("int8")),
            "source": datasets.Value("int64"),
            "notes": datasets.Sequence(datasets.Value("string")),
        }
    )


def packed_rows(ds, row_tokens: int):
    """Rows as SFTTrainer packs them (labels from the mask, then TRL's best-fit-decreasing packing with
    `seq_lengths`), for measuring a loss outside a trainer (train/evaluate.py)."""
    from clonekit.train.model import import_trl

    import_trl()
    from trl.data_utils import pack_dataset

    def labels(batch):
        return {
            "labels": [
                [t if m else -100 for t, m in zip(ids, mask, strict=True)]
                for ids, mask in zip(batch["input_ids"], batch["assistant_masks"], strict=True)
            ]
        }

    ds = ds.select_columns(COLUMNS).map(labels, batched=True, remove_columns=["assistant_masks"], keep_in_memory=True)
    return pack_dataset(ds, row_tokens, "bfd", {})


def padding_free_collator(pad_token_id: int):
    """TRL's collator for packed rows: one flat row per batch, position_ids restarting per example, and the first
    label of each example masked so that no loss crosses an example boundary."""
    from clonekit.train.model import import_trl

    import_trl()
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    return DataCollatorForLanguageModeling(pad_token_id=pad_token_id, padding_free=True)
