"""What counts as repetition, defined once for the bot's guard, compare's metrics, the sampling search and the tests.

- Two replies are **near-identical** when they are equal after `normalize` (case, whitespace, end punctuation), or
  their normalized texts are at least `NEAR_IDENTICAL_RATIO` similar (difflib's ratio: 2 * matches / total length).
- A chat **loops** when `LOOP_RUN` (3) or more consecutive clone replies are near-identical to each other
  ("lol", "lol", "LOL!").
- A single reply is **degenerate** when a word n-gram repeats `min_repeats` (3) times back to back, or a character
  repeats 8+ times ("lol lol lol", "!!!!!!!!").
- A reply is a **cross-turn repeat** when it is near-identical to one of the clone's earlier replies in the chat.

Pure Python, no torch.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)

NEAR_IDENTICAL_RATIO = 0.9
LOOP_RUN = 3


def normalize(text: str) -> str:
    """For comparing replies: lowercase, collapsed whitespace, no trailing punctuation."""
    return " ".join(text.lower().split()).rstrip(".!?…")


def near_identical(a: str, b: str) -> bool:
    """The one rule for "the same reply again"; see the module docstring."""
    a, b = normalize(a), normalize(b)
    if a == b:
        return True
    if not a or not b or 2 * min(len(a), len(b)) / (len(a) + len(b)) < NEAR_IDENTICAL_RATIO:
        return False  # the ratio can never reach the threshold with lengths this far apart
    m = SequenceMatcher(None, a, b, autojunk=False)
    return m.quick_ratio() >= NEAR_IDENTICAL_RATIO and m.ratio() >= NEAR_IDENTICAL_RATIO  # quick_ratio: upper bound


def longest_near_identical_run(replies: list[str]) -> int:
    """The longest run of consecutive near-identical replies (["lol", "LOL!", "ok"] -> 2)."""
    best = run = 0
    for i, reply in enumerate(replies):
        run = run + 1 if i and near_identical(reply, replies[i - 1]) else 1
        best = max(best, run)
    return best


def is_loop(replies: list[str]) -> bool:
    """A chat loops when LOOP_RUN or more consecutive clone replies are near-identical."""
    return longest_near_identical_run(replies) >= LOOP_RUN


def would_loop(sent: list[str], reply: str) -> bool:
    """Sending `reply` after the replies already `sent` would complete a loop."""
    tail = sent[-(LOOP_RUN - 1) :]
    return len(tail) == LOOP_RUN - 1 and all(near_identical(reply, s) for s in tail)


def repeats_earlier(reply: str, earlier: list[str]) -> bool:
    """A cross-turn repeat: near-identical to one of the clone's earlier replies in the chat."""
    return any(near_identical(reply, e) for e in earlier)


def cross_turn_repeats(replies: list[str]) -> int:
    """How many replies of one chat repeat one of the replies before them (empty replies never count)."""
    return sum(1 for i, r in enumerate(replies) if normalize(r) and repeats_earlier(r, replies[:i]))


def max_consecutive_repeat(text: str, max_n: int = 6) -> int:
    """The most times any n-gram of words (n <= max_n) repeats back to back ("a b a b a b" -> 3)."""
    words = _WORD.findall(text.lower())
    best = 1 if words else 0
    for n in range(1, max_n + 1):
        i = 0
        while i + 2 * n <= len(words):
            count = 1
            while words[i + count * n : i + (count + 1) * n] == words[i : i + n]:
                count += 1
            best = max(best, count)
            i += n if count > 1 else 1
    return best


def is_degenerate(text: str, min_repeats: int = 3) -> bool:
    """True for a reply stuck in a loop: some word n-gram repeated `min_repeats` or more times in a row,
    or a run of 8+ identical characters (e.g. "hahahahahahaha" is fine, "!!!!!!!!!!" is not)."""
    return max_consecutive_repeat(text) >= min_repeats or bool(re.search(r"(\S)\1{7,}", text))
