"""How a message is written, feature by feature, with one rule each: `prep stats` (who writes how) and compare's
lexical signature (how far replies are from the target) count the same things."""

from __future__ import annotations

import re

EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f]")
END_PUNCTUATION = (".", "!", "?")


def has_emoji(text: str) -> bool:
    return EMOJI.search(text) is not None


def has_letters(text: str) -> bool:
    return any(c.isalpha() for c in text)


def is_lowercase(text: str) -> bool:
    """No upper-case letter (only meaningful for a text with letters)."""
    return text == text.lower()


def ends_punctuated(text: str) -> bool:
    return text.rstrip()[-1:] in END_PUNCTUATION
