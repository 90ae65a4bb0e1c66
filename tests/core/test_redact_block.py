"""`Redactor.untouched`: the block test prep build runs before redacting, against the per-text fast path."""

from __future__ import annotations

import random
import sys

from clonekit.redact import Redactor

_PIECES = [
    "lol",
    "DOT",
    "dOt",
    "do",
    "t",
    "d",
    "ot",
    "\0",
    "🎉",
    "١",
    "5",
    "@",
    ".",
    "/",
    ":",
    "(",
    "[",
    "{",
    "<",
    "ok see you",
    "İ",
    "ﬀ",
    "a b",
    "\n",
    "mail me at x(at)y",
    "Dot",
    "ß",
    "\u212a",
    "",
]


def test_the_block_test_marks_every_text_the_redactor_would_look_at():
    """A text marked untouched comes back from the redactor as it went in; a text the redactor changes is never
    marked (20,000 random texts from characters near the detectors', in blocks)."""
    rng = random.Random(4)
    redactor = Redactor()
    for _ in range(200):
        texts = ["".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 6))) for _ in range(100)]
        for text, as_is in zip(texts, redactor.untouched(texts), strict=True):
            if as_is:
                assert redactor(text) == text, text
            assert as_is == (_looks_plain(text)), text


def _looks_plain(text: str) -> bool:
    from clonekit.redact import _DETECTOR_CHARS

    return _DETECTOR_CHARS.search(text) is None and "dot" not in text.lower()


def test_no_character_but_d_o_t_lowercases_to_them():
    """Why the block test's case-insensitive "dot" is the per-text test's `"dot" in text.lower()`."""
    odd = [c for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000 and set(chr(c).lower()) & set("dot")]
    assert sorted(map(chr, odd)) == ["D", "O", "T", "d", "o", "t"]


def test_with_names_to_find_every_text_is_looked_at():
    assert Redactor(people=["Priya"]).untouched(["hello", "x"]) == [False, False]
