"""Memory during `prep build` (config `memory.enabled`): every example window gets the snippets recalled from the
sessions before its own (never later ones: the clone learns to use its memory without seeing the future), and all
snippets go to DATASET/memory.sqlite for the bot. The texts are the build's own, after exclusion and redaction, so
memory holds nothing the datasets may not.

Planned before the examples are written, from the same sessions, so that every text is embedded in large batches
(one call per 64 texts, not two calls a session: 2 s instead of 2 minutes for the sample corpus)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from clonekit.chat import Turn
from clonekit.config import MemoryConfig
from clonekit.data_prep.sessions import Session
from clonekit.memory import Embedder, MemoryStore, Snippet, memory_block, memory_query, rank, worth_remembering

SessionKey = tuple[str, str, str]  # platform, chat, start


def session_key(session: Session) -> SessionKey:
    return session.platform, session.chat, session.start


def plan_memory(
    sessions: list[Session],
    cfg: MemoryConfig,
    spans_of: Callable[[list[Turn]], list[tuple[int, int]]],
    path: Path,
) -> tuple[dict[SessionKey, list[str | None]], dict]:
    """Each session's blocks, one per example window (`spans_of(turns)`), and the memory file written."""
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    embedder = Embedder("memory")
    snippets = [
        Snippet(t.speaker, t.time or s.start, t.text, "dataset")
        for s in sessions
        for t in s.turns
        if worth_remembering(t)
    ]
    vectors = embedder.encode([s.text for s in snippets])
    windows = [(s, [s.turns[a:b] for a, b in spans_of(s.turns)]) for s in sessions]
    queries = [memory_query(w) for _, ws in windows for w in ws]
    query_vectors = embedder.encode(queries)
    blocks: dict[SessionKey, list[str | None]] = {}
    counts: Counter[str] = Counter(snippets=len(snippets))
    i = 0
    for session, ws in windows:
        out: list[str | None] = []
        for window in ws:
            people = sorted({t.speaker for t in window if not t.is_target})
            found = rank(snippets, vectors, query_vectors[i], people, cfg.top_k, cfg.min_similarity, session.start)
            block = memory_block(found, cfg.budget_tokens) if queries[i] else None
            counts["examples_with_memory" if block else "examples_without_memory"] += 1
            out.append(block)
            i += 1
        blocks[session_key(session)] = out
    store = MemoryStore(path, create=True)
    store.add(snippets, vectors)
    store.close()
    return blocks, {"file": path.name, **counts, "config": cfg.model_dump()}
