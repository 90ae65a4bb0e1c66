"""Degenerate repetition: the failure that sinks clones ("lol lol lol ...", one phrase forever).

Used to choose sampling defaults (scripts/choose_sampling.py) and, later, by the bot's loop breaker
and the comparison's loop metrics. Pure Python: no torch.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def normalize(text: str) -> str:
    """For comparing replies: lowercase, collapsed whitespace, no trailing punctuation."""
    return " ".join(text.lower().split()).rstrip(".!?…")


def max_consecutive_repeat(text: str, max_n: int = 6) -> int:
    """The most times any n-gram of words (n <= max_n) repeats back to back ("a b a b a b" -> 3)."""
    words = _WORD.findall(text.lower())
    best = 1 if words else 0
    for n in range(1, max_n + 1):
        i = 0
        while i + 2 * n <= len(words):
            count = 1
            while words[i + count * n:i + (count + 1) * n] == words[i:i + n]:
                count += 1
            best = max(best, count)
            i += n if count > 1 else 1
    return best


def is_degenerate(text: str, min_repeats: int = 3) -> bool:
    """True for a reply stuck in a loop: some word n-gram repeated `min_repeats` or more times in a row,
    or a run of 8+ identical characters (e.g. "hahahahahahaha" is fine, "!!!!!!!!!!" is not)."""
    return max_consecutive_repeat(text) >= min_repeats or bool(re.search(r"(\S)\1{7,}", text))


def longest_run(items: list[str]) -> int:
    """The longest run of equal consecutive items (["a", "a", "b"] -> 2)."""
    best = run = 0
    for i, item in enumerate(items):
        run = run + 1 if i and item == items[i - 1] else 1
        best = max(best, run)
    return best
