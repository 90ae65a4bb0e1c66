"""`clonekit prep stats DIR`: who writes how, from the sessions of a built dataset."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from clonekit.contracts import DatasetManifest
from clonekit.dataset import MANIFEST_FILE, SESSIONS_FILE, read_prep_manifest, read_sessions
from clonekit.errors import ClonekitError
from clonekit.style import ends_punctuated, has_emoji, has_letters, is_lowercase


@dataclass
class PersonStats:
    name: str
    is_target: bool = False
    messages: int = 0
    sessions: int = 0
    tokens: int = 0
    lengths: list[int] = field(default_factory=list)
    emoji: int = 0
    lowercase: int = 0
    with_letters: int = 0
    punctuated: int = 0
    repeats: int = 0  # messages repeating this person's earlier message word for word (not short reactions)
    said: set = field(default_factory=set)

    def row(self) -> dict:
        n = max(self.messages, 1)
        return {
            "name": self.name,
            "target": self.is_target,
            "messages": self.messages,
            "sessions": self.sessions,
            "tokens": self.tokens,
            "median_chars": statistics.median(self.lengths) if self.lengths else 0,
            "emoji_rate": self.emoji / n,
            "lowercase_rate": self.lowercase / max(self.with_letters, 1),
            "punctuation_rate": self.punctuated / n,
            "repeat_rate": self.repeats / n,
        }


@dataclass
class DatasetStats:
    people: list[dict]  # one row per person, the target first, then by messages
    manifest: DatasetManifest


def compute_stats(dataset_dir: str | Path, tokenizer=None) -> DatasetStats:
    """Per-person statistics over every kept session; tokens with `tokenizer` (a `tokenizers`
    Tokenizer, normally the default model's) when given."""
    path = Path(dataset_dir) / SESSIONS_FILE
    manifest_path = Path(dataset_dir) / MANIFEST_FILE
    if not path.exists() or not manifest_path.exists():
        raise ClonekitError(
            "not a dataset directory (no sessions.jsonl / manifest.json): run `clonekit prep build` first", dataset_dir
        )
    people: dict[str, PersonStats] = {}
    texts: dict[str, list[str]] = defaultdict(list)
    for session in read_sessions(dataset_dir):
        seen = set()
        for turn in session.turns:
            p = people.get(turn.name)
            if p is None:
                p = people[turn.name] = PersonStats(turn.name, turn.target)
            if turn.name not in seen:
                p.sessions += 1
                seen.add(turn.name)
            for text in turn.messages:
                p.messages += 1
                p.lengths.append(len(text))
                p.emoji += has_emoji(text)
                if has_letters(text):
                    p.with_letters += 1
                    p.lowercase += is_lowercase(text)
                p.punctuated += ends_punctuated(text)
                if len(text.split()) > 2:
                    p.repeats += text in p.said
                    p.said.add(text)
                if tokenizer is not None:
                    texts[turn.name].append(text)
    if tokenizer is not None:
        for name, items in texts.items():
            people[name].tokens = sum(len(e.ids) for e in tokenizer.encode_batch(items, add_special_tokens=False))
    rows = sorted((p.row() for p in people.values()), key=lambda r: (not r["target"], -r["messages"]))
    return DatasetStats(rows, read_prep_manifest(dataset_dir))
