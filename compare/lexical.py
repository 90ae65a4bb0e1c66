"""The target's lexical signature (length, lowercase, punctuation, emoji, favourite words, language mix) and how
far a set of replies is from it."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from clonekit.style import ends_punctuated, has_emoji, has_letters, is_lowercase

WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
FEATURES = (
    "words_median",
    "lowercase_rate",
    "end_punct_rate",
    "emoji_rate",
    "question_rate",
    "non_ascii_word_rate",
    "signature_word_rate",
)


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def signature_words(turns: list[tuple[str, str]], target: str, top: int = 100) -> set[str]:
    """Words the target uses at least 3 times and at least twice as often (per word) as everyone else."""
    mine: Counter[str] = Counter()
    theirs: Counter[str] = Counter()
    for speaker, text in turns:
        (mine if speaker == target else theirs).update(words(text))
    n_mine, n_theirs = max(1, sum(mine.values())), max(1, sum(theirs.values()))
    picked = [w for w, c in mine.most_common() if c >= 3 and c / n_mine >= 2 * (theirs[w] + 0.5) / n_theirs]
    return set(picked[:top])


def signature(texts: list[str], vocab: set[str]) -> dict:
    texts = [t for t in texts if t.strip()]
    if not texts:
        return {f: 0.0 for f in FEATURES} | {"replies": 0}
    ws = [words(t) for t in texts]
    all_words = [w for x in ws for w in x]
    letters = [t for t in texts if has_letters(t)]
    return {
        "replies": len(texts),
        "words_median": float(np.median([len(x) for x in ws])),
        "lowercase_rate": sum(map(is_lowercase, letters)) / max(1, len(letters)),
        "end_punct_rate": sum(map(ends_punctuated, texts)) / len(texts),
        "emoji_rate": sum(map(has_emoji, texts)) / len(texts),
        "question_rate": sum("?" in t for t in texts) / len(texts),
        "non_ascii_word_rate": sum(not w.isascii() for w in all_words) / max(1, len(all_words)),  # language mix
        "signature_word_rate": sum(w in vocab for w in all_words) / max(1, len(all_words)),
    }


def word_counts(texts: list[str]) -> list[int]:
    """Words per non-empty text: the sample whose W1 distance to the target's is compare's length distance."""
    return [len(words(t)) for t in texts if t.strip()]


def w1_distance(a, b) -> float:
    """Wasserstein-1 distance between two samples of numbers (over 101 quantiles); nan if one is empty."""
    if not len(a) or not len(b):
        return float("nan")
    q = np.linspace(0, 1, 101)
    return float(np.mean(np.abs(np.quantile(a, q) - np.quantile(b, q))))


def distances(sig: dict, ref: dict) -> dict:
    """|feature - reference| per feature; words_median relative to the reference's."""
    out = {f: abs(sig[f] - ref[f]) for f in FEATURES if f != "words_median"}
    out["words_median"] = abs(sig["words_median"] - ref["words_median"]) / max(1.0, ref["words_median"])
    out["mean"] = float(np.mean(list(out.values())))
    return out
