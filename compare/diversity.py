"""Diversity of an endpoint's replies across held-out contexts: distinct-n, self-repetition, degenerate and empty
replies. What counts as a loop or a near-identical reply lives in clonekit.repetition."""

from __future__ import annotations

from clonekit.compare.lexical import words
from clonekit.repetition import is_degenerate, normalize


def distinct_n(texts: list[str], n: int) -> float:
    grams = [tuple(ws[i : i + n]) for ws in (words(t) for t in texts) for i in range(len(ws) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def self_repetition(texts: list[str]) -> float:
    """Share of non-empty replies that are (normalized) the same as another reply in the set."""
    norm = [normalize(t) for t in texts if normalize(t)]
    if not norm:
        return 0.0
    counts: dict[str, int] = {}
    for x in norm:
        counts[x] = counts.get(x, 0) + 1
    return sum(c for c in counts.values() if c > 1) / len(norm)


def diversity_metrics(texts: list[str]) -> dict:
    nonempty = [t for t in texts if t.strip()]
    return {
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "self_repetition": self_repetition(texts),
        "degenerate_rate": sum(is_degenerate(t) for t in nonempty) / max(1, len(nonempty)),
        "empty_rate": sum(not t.strip() for t in texts) / max(1, len(texts)),
    }
