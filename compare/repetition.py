"""Repetition across an endpoint's replies (distinct-n, self-repetition, degenerate replies) and `loop_rate`
from self-play."""

from __future__ import annotations

from difflib import SequenceMatcher

from clonekit.repetition import is_degenerate, normalize
from compare.lexical import words


def distinct_n(texts: list[str], n: int) -> float:
    grams = [tuple(ws[i:i + n]) for ws in (words(t) for t in texts) for i in range(len(ws) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def self_repetition(texts: list[str]) -> float:
    """Share of non-empty replies that are (normalized) the same as another reply in the set."""
    norm = [normalize(t) for t in texts if normalize(t)]
    if not norm:
        return 0.0
    counts = {}
    for x in norm:
        counts[x] = counts.get(x, 0) + 1
    return sum(c for c in counts.values() if c > 1) / len(norm)


def near_identical(a: str, b: str, threshold: float = 0.9) -> bool:
    a, b = normalize(a), normalize(b)
    return a == b or SequenceMatcher(None, a, b).ratio() >= threshold


def has_loop(replies: list[str], run: int = 3) -> bool:
    """Three (run) or more near-identical consecutive replies."""
    streak = 1
    for prev, cur in zip(replies, replies[1:]):
        streak = streak + 1 if near_identical(prev, cur) else 1
        if streak >= run:
            return True
    return False


def repetition_metrics(texts: list[str]) -> dict:
    nonempty = [t for t in texts if t.strip()]
    return {
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "self_repetition": self_repetition(texts),
        "degenerate_rate": sum(is_degenerate(t) for t in nonempty) / max(1, len(nonempty)),
        "empty_rate": sum(not t.strip() for t in texts) / max(1, len(texts)),
    }
