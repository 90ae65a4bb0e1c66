"""Phrase over-use: does the clone say the target's favourite short phrases far more often than the target did?

The target's phrases are the 20 most frequent word 1-3-grams of their training turns (counted once per turn; an
n-gram made only of common function words does not count). For each, rate = the share of replies that contain it;
over-use = clone rate / the target's real rate. The seed's failure ("lol" nearly half the time, far more than the
person ever said it) shows up as a large worst over-use.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from clonekit.compare.lexical import words

FUNCTION_WORDS = set(
    """a an the and or but if of to in on at for with from by as is are was were be been am do does did
have has had i you he she it we they me him her us them my your his its our their this that these those there here
what which who whom whose when where why how not no so too very just can could will would shall should may might must
ill im its dont cant ve s t re ll d""".split()
)


def phrase_grams(text: str, max_n: int = 3) -> set[tuple[str, ...]]:
    """The word 1-3-grams of a text: what a phrase is matched against."""
    ws = words(text)
    return {tuple(ws[i : i + n]) for n in range(1, max_n + 1) for i in range(len(ws) - n + 1)}


def target_phrases(turns: list[str], top: int = 20) -> list[tuple[str, float]]:
    """[(phrase, real rate)] for the target's `top` most frequent short phrases."""
    counts: Counter = Counter()
    for t in turns:
        counts.update(g for g in phrase_grams(t) if not all(w in FUNCTION_WORDS for w in g))
    n = max(1, len(turns))
    return [(" ".join(g), c / n) for g, c in counts.most_common(top)]


def overuse(replies: list[str], phrases: list[tuple[str, float]]) -> dict:
    """Per phrase: the replies' rate and rate / real rate; `worst` names the most over-used phrase."""
    replies = [r for r in replies if r.strip()]
    grams = [phrase_grams(r) for r in replies]
    n = max(1, len(replies))
    rows: list[dict[str, Any]] = []
    for phrase, real in phrases:
        g = tuple(phrase.split())
        rate = sum(g in gs for gs in grams) / n
        rows.append({"phrase": phrase, "real_rate": real, "rate": rate, "ratio": rate / real if real else None})
    worst = max(rows, key=lambda r: r["ratio"] or 0.0) if rows else None
    return {
        "phrases": rows,
        "worst_phrase": worst["phrase"] if worst else None,
        "worst_ratio": worst["ratio"] if worst else None,
    }
