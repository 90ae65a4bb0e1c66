"""Replace personal data with typed placeholders: <url>, <email>, <phone>, <number>, <person>.

Nothing is dropped: every replacement is counted by type. URLs go first (they may hold emails and
digits), then emails, phone numbers (9 to 15 digits, with + ( ) - . or spaces between), then long
digit runs. Dates and times ("2024-05-01", "21:30") have too few digits to look like phones.
"""

from __future__ import annotations

import re
from collections import Counter

from clonekit.config import RedactConfig

_URL = r"(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]"
_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}"
_PHONE = r"(?<![\w+])\+?\(?\d[\d ().-]{6,}\d(?!\w)"
_DATE_LIKE = re.compile(r"\d{1,4}[-./]\d{1,2}[-./]\d{1,4}(?!\d)")


class Redactor:
    def __init__(self, config: RedactConfig, people: list[str] | None = None):
        alternatives = []
        if config.urls:
            alternatives.append(f"(?P<url>{_URL})")
        if config.emails:
            alternatives.append(f"(?P<email>{_EMAIL})")
        if config.phones:
            alternatives.append(f"(?P<phone>{_PHONE})")
        if config.numbers:
            alternatives.append(rf"(?P<number>(?<!\d)\d{{{config.min_digits},}}(?!\d))")
        names = sorted({p for p in people or [] if p.strip()}, key=len, reverse=True)
        if names:
            # names are matched case-sensitively: "Will" must not eat the word "will"
            alternatives.append(r"(?P<person>(?-i:(?<!\w)@?(?:" + "|".join(map(re.escape, names)) + r")(?!\w)))")
        self.pattern = re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None
        self.phones = config.phones
        self.numbers = config.numbers
        self.min_digits = config.min_digits
        self.counts: Counter = Counter()
        # cheap pre-check: most messages hold none of these characters
        self._maybe = re.compile(r"[@/.\d]" + ("|" + "|".join(map(re.escape, names)) if names else ""))

    def __call__(self, text: str) -> str:
        if self.pattern is None or not self._maybe.search(text):
            return text
        return self.pattern.sub(self._replace, text)

    def _replace(self, m: re.Match) -> str:
        kind = m.lastgroup
        if kind == "phone":
            value = m.group()
            digits = sum(c.isdigit() for c in value)
            if not 9 <= digits <= 15 or _DATE_LIKE.match(value):
                # not a phone: leave it, but still redact a long digit run inside it
                if self.numbers and re.search(rf"\d{{{self.min_digits},}}", value):
                    self.counts["number"] += 1
                    return re.sub(rf"\d{{{self.min_digits},}}", "<number>", value)
                return value
        self.counts[kind] += 1
        return f"<{kind}>"
