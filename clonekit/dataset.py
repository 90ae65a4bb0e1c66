"""The dataset directory: written by `clonekit prep build` (and evolve's material), read by train, compare, evolve
and the registry. Its file names and its manifest live here, so no stage spells them out for another.

train.jsonl / valid.jsonl                HF chat format, one example per line, with per-turn loss weights
openai_train.jsonl / openai_valid.jsonl  OpenAI fine-tuning format
sessions.jsonl                           every session in time order, with its split
openai_names.json                        speaker name -> the name the OpenAI files use
manifest.json                            target, system prompt, config, counts (clonekit/contracts.py)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from clonekit.contracts import DatasetManifest, MaterialManifest, SessionRow, read_any_dataset_manifest
from clonekit.errors import ClonekitError

TRAIN_FILE = "train.jsonl"
VALID_FILE = "valid.jsonl"
OPENAI_TRAIN_FILE = "openai_train.jsonl"
OPENAI_VALID_FILE = "openai_valid.jsonl"
SESSIONS_FILE = "sessions.jsonl"
NAMES_FILE = "openai_names.json"
MANIFEST_FILE = "manifest.json"
DATASET_FILES = (TRAIN_FILE, VALID_FILE, OPENAI_TRAIN_FILE, OPENAI_VALID_FILE, SESSIONS_FILE, MANIFEST_FILE, NAMES_FILE)


def read_sessions(data_dir: str | Path) -> Iterator[SessionRow]:
    """sessions.jsonl's rows, checked (a wrong row is an error naming the file and line)."""
    path = Path(data_dir) / SESSIONS_FILE
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ClonekitError(f"invalid JSON: {e.msg}", path, n) from None
                yield SessionRow.check(row, path, n)


def has_manifest(data_dir: str | Path | None) -> bool:
    return data_dir is not None and (Path(data_dir) / MANIFEST_FILE).is_file()


def read_dataset_manifest(data_dir: str | Path) -> DatasetManifest | MaterialManifest:
    """The dataset's manifest.json (prep's, or evolve material's), checked against its model."""
    path = Path(data_dir) / MANIFEST_FILE
    if not path.is_file():
        raise ClonekitError(
            f"not a dataset directory (no {MANIFEST_FILE}); build one with `clonekit prep build`", data_dir
        )
    return read_any_dataset_manifest(path)


def read_prep_manifest(data_dir: str | Path) -> DatasetManifest:
    """The manifest of a dataset `clonekit prep build` wrote (an evolve material directory is an error here)."""
    found = read_dataset_manifest(data_dir)
    if not isinstance(found, DatasetManifest):
        raise ClonekitError("evolve material, not a dataset from `clonekit prep build`", Path(data_dir) / MANIFEST_FILE)
    return found
