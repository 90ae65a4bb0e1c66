"""`Redactor.untouched`: the block test prep build runs before redacting, against the per-text fast path."""

from __future__ import annotations

import random

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


def test_letters_that_grow_or_change_with_their_neighbours_when_lowercased():
    """ "İ" lowercases to two characters (the block's positions shift: each text is then lowercased alone); a final
    sigma depends on what follows it (a NUL between texts is what the end of a text is)."""
    texts = ["İstanbul DOT com", "plain words", "ΟΔΟΣ dot", "ΟΔΟΣ", "no do t here", "x"]
    assert Redactor().untouched(texts) == [_looks_plain(t) for t in texts]
    texts = ["ΟΔΟΣ", "DOTTED", "fine", "a:b"]
    assert Redactor().untouched(texts) == [True, False, True, False]


def test_with_names_to_find_every_text_is_looked_at():
    assert Redactor(people=["Priya"]).untouched(["hello", "x"]) == [False, False]
