"""The dataset directory: written by `clonekit prep build` (and evolve's material), read by train, compare, evolve
and the registry. Its file names and its manifest live here, so no stage spells them out for another.

train.jsonl / valid.jsonl                HF chat format, one example per line, with per-turn loss weights
openai_train.jsonl / openai_valid.jsonl  OpenAI fine-tuning format
sessions.jsonl                           every session in time order, with its split
openai_names.json                        speaker name -> the name the OpenAI files use
manifest.json                            target, system prompt, config, counts (see data_prep/build.py)
"""

from __future__ import annotations

import json
from pathlib import Path

from clonekit.chat import Turn
from clonekit.errors import ClonekitError

TRAIN_FILE = "train.jsonl"
VALID_FILE = "valid.jsonl"
OPENAI_TRAIN_FILE = "openai_train.jsonl"
OPENAI_VALID_FILE = "openai_valid.jsonl"
SESSIONS_FILE = "sessions.jsonl"
NAMES_FILE = "openai_names.json"
MANIFEST_FILE = "manifest.json"
DATASET_FILES = (TRAIN_FILE, VALID_FILE, OPENAI_TRAIN_FILE, OPENAI_VALID_FILE, SESSIONS_FILE, MANIFEST_FILE, NAMES_FILE)


def session_turns(session: dict) -> list[Turn]:
    """A sessions.jsonl row's turns (consecutive messages of one speaker joined with newlines, as prep merged them)."""
    return [Turn(t["name"], bool(t["target"]), list(t["messages"]), t.get("time")) for t in session["turns"]]


def has_manifest(data_dir: str | Path | None) -> bool:
    return data_dir is not None and (Path(data_dir) / MANIFEST_FILE).is_file()


def read_dataset_manifest(data_dir: str | Path) -> dict:
    """The dataset's manifest.json, checked to be a JSON object."""
    path = Path(data_dir) / MANIFEST_FILE
    if not path.is_file():
        raise ClonekitError(
            f"not a dataset directory (no {MANIFEST_FILE}); build one with `clonekit prep build`", data_dir
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ClonekitError(f"not valid JSON ({e})", path) from None
    if not isinstance(data, dict):
        raise ClonekitError(f"must be a JSON object, not {type(data).__name__}", path)
    return data
