"""Replace personal data with typed placeholders: <url>, <email>, <ip>, <iban>, <card>, <ssn>, <phone>, <number>,
<address>, <handle>, <person>, <quote>. Shared by prep (training data, chat names) and the bot (every reply,
whatever the adapter learned).

Nothing is dropped: every replacement is counted by type. Detectors run in this order, each on what the ones before
left, so a placeholder is never matched again:
  email   addresses, obfuscated ones ("user(at)example.com", "user [at] example [dot] com", "user at example dot
          com") and quoted local parts ("jane doe"@example.com)
  url     scheme links (http, https, ftp, ...), www., and scheme-less ones: a domain with a path (example.com/x,
          t.me/x, discord.gg/x, bit.ly/x) or a bare domain under a common top-level domain
  ip      IPv4 and IPv6 addresses, checked by `ipaddress`
  iban    IBANs, with or without spaces, checked by python-stdnum (country format and mod-97)
  card    13-19 digits in groups, passing the Luhn check (python-stdnum)
  ssn     SSN-style 3-2-4 digit groups
  phone   phone numbers in any locale (`phonenumbers`, with `region` for national numbers), then any 9-15 digits
          with phone separators
  number  any remaining run of `min_digits` or more digits
  address street addresses (clonekit/redact_address.py: pyap for US/CA/UK, a pattern for continental Europe)
  person  the given names in every form (clonekit/name_variants.py): any case, accents typed or not, letters held
          ("Priyaaa"), possessives, the first letters of a long first name ("Pri"), as @handles and in handles
          (@priya_s)
  handle  any other @handle (@maya.k)
A quote of an excluded person ("Priya said: ...", "Priya wrote:" and the "> " lines under it) goes whole, as
<quote>, before anything else (`drop_quotes`).
Dates and times ("2024-05-01", "21:30") have too few digits to look like phones.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from itertools import accumulate

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn

from clonekit.config import RedactConfig
from clonekit.name_variants import fold, name_pattern, short_forms
from clonekit.redact_address import address_spans

_TLDS = "com|org|net|edu|gov|io|gg|me|ly|co|app|dev|ai|tv|to|xyz|info|biz|link|page|site|online|shop|club|[a-z]{2}"
_COMMON_TLDS = "com|org|net|io|gg|ly|me|app|dev"
_URL = re.compile(
    r"(?:\b[a-z][a-z0-9+.-]*://|\bwww\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]"
    rf"|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})/[^\s<>\"']*[^\s<>\"'.,;:!?)\]]"
    rf"|\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_COMMON_TLDS})\b(?![.\w@-])",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"(?:\"[^\"\n@]{1,64}\"\s?|[\w.+-]+)@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}")
_AT = r"(?:\s*[(\[{<]\s*(?:at|@)\s*[)\]}>]\s*|\s+(?:at|AT)\s+)"
_DOT = r"(?:\s*[(\[{<]\s*(?:dot|\.)\s*[)\]}>]\s*|\s+(?:dot|DOT)\s+|\.)"
_OBFUSCATED_EMAIL = re.compile(rf"\b[\w.+-]+{_AT}[\w-]+(?:{_DOT}[\w-]+)*{_DOT}[a-zA-Z]{{2,}}\b")
_OBFUSCATION_HINT = re.compile(r"(?i)dot|[(\[{<]\s*(?:at|@)\s*[)\]}>]")
_DIGIT = re.compile(r"\d")
# a text with none of these (nor "dot") no detector could touch, when no names are to be found
_DETECTOR_CHARS = re.compile(r"[\d@./:(\[{<]")
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[\w.]*\w)?")
_QUOTE_VERBS = r"(?:said|says|wrote|writes|texted|messaged|told (?:me|us|them)|was like|goes)"
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:%\w+)?(?![\w:])", re.IGNORECASE)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b", re.IGNORECASE)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_SSN = re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{6,}\d(?!\w)")
_DATE_LIKE = re.compile(r"\d{1,4}[-./]\d{1,2}[-./]\d{1,4}(?!\d)")
_DIGITS7 = re.compile(r"(?:\d\D?){7}")
# names that are also common words: matched as written with a capital (or all capitals), not as the word
_WORD_NAMES = frozenset(
    "will mark bill may june april grace hope joy rose faith summer art ray sky sunny rich jack "
    "pat sue guy max chase dean drew frank gene hunter lane miles page bob rob don dawn eve "
    "holly ivy jade amber pearl ruby kit".split()
)


PLACEHOLDERS = ("url", "email", "ip", "iban", "card", "ssn", "phone", "number", "address", "handle", "person", "quote")


def name_tokens(names: list[str], keep: Sequence[str] = ()) -> list[str]:
    """Every name and its words of three or more letters (a first name, a surname from another display name),
    less the words of the names in `keep` (the target's own name is not personal data to hide from the clone)."""
    kept = {w.casefold() for n in keep for w in [n, *re.split(r"[\s_.,()\[\]/|-]+", n)]}
    found: set[str] = set()
    for name in names:
        name = name.strip().lstrip("@~")
        if not any(c.isalpha() for c in name):
            continue
        found.add(name)
        for word in re.split(r"[\s_.,()\[\]/|-]+", name):
            if len(word) >= 3 and any(c.isalpha() for c in word):
                found.add(word)
    return sorted((n for n in found if n.casefold() not in kept), key=len, reverse=True)


class Redactor:
    def __init__(self, config: RedactConfig | None = None, people: list[str] | None = None, keep: Sequence[str] = ()):
        self.config = config = config or RedactConfig()
        self.counts: Counter = Counter()
        names = name_tokens(people or [], keep)
        kept = {fold(w) for n in keep for w in [n, *re.split(r"[\s_.,()\[\]/|-]+", n)]}
        self.person = None
        self.quote = None
        if names:
            loose = [n for n in names if n.casefold() not in _WORD_NAMES]
            strict = [n for n in names if n.casefold() in _WORD_NAMES]
            short = sorted({f for n in loose for f in short_forms(n) if fold(f) not in kept} - set(names), key=len)
            alternatives = []
            if loose:
                alternatives.append("(?i:" + "|".join(name_pattern(n) for n in loose) + ")")
            for n in strict:  # as written with a capital (or all capitals), not as the word
                alternatives.append("(?:" + "|".join(map(re.escape, {n.capitalize(), n.upper(), n})) + ")")
            for n in short[::-1]:  # a nickname from the first letters: capitalized only ("Pri", not "pri")
                alternatives.append("(?:" + "|".join(map(re.escape, {n.capitalize(), n.upper()})) + ")")
            body = "(?:" + "|".join(alternatives) + r")(?i:['’]?s)?"
            handle = "(?i:" + "|".join(map(re.escape, names)) + ")"  # a handle is an identifier: any case
            # "@priya_s", "@Priya", "Priya", "PRIYA's": a handle holding the name as one of its parts goes whole
            self.person = re.compile(rf"@[\w.]*?(?<![^\W_])(?:{handle})(?![^\W_])[\w.]*|(?<!\w){body}(?!\w)")
            # "Priya said: ...", "Priyaaa wrote:" up to the end of the line, or a quoted span
            self.quote = re.compile(
                rf"(?<!\w){body}(?!\w)\s*{_QUOTE_VERBS}\s*[:,-]?\s*"
                r"(?:[\"“«„'‘][^\"”»“'’\n]*[\"”»“'’]|[^\n]*)"
            )

    def untouched(self, texts: list[str]) -> list[bool]:
        """For each text, True when `self(text)` returns it as it is without looking at it (no names to find, none
        of the detectors' characters, no "dot"): the block searched at once, so that a caller redacts only the
        others. (prep build: one search a block instead of a call a message.)"""
        if self.quote is not None or self.person is not None:
            return [False] * len(texts)
        ends = list(accumulate(len(t) + 1 for t in texts))  # where the text after each one starts
        joined = "\0".join(texts)  # NUL: no detector's character, and it parts any "dot"
        found = [True] * len(texts)
        search = _DETECTOR_CHARS.search
        pos = 0
        while (m := search(joined, pos)) is not None:
            i = bisect_right(ends, m.start())
            found[i] = False
            pos = ends[i]  # on to the next text
        low = joined.lower()
        if len(low) == len(joined):  # no letter grew when lowercased: the texts sit where they did
            pos = low.find("dot")
            while pos >= 0:
                i = bisect_right(ends, pos)
                found[i] = False
                pos = low.find("dot", ends[i])
        else:
            found = [f and "dot" not in t.lower() for f, t in zip(found, texts, strict=True)]
        return found

    def __call__(self, text: str) -> str:
        cfg = self.config
        if self.quote is not None:
            text = self.drop_quotes(text)
        if self.person is None and _DETECTOR_CHARS.search(text) is None and "dot" not in text.lower():
            return text  # most chat lines: no digit, @, dot, slash, colon, bracket or "dot"
        has_digit = _DIGIT.search(text) is not None
        if cfg.emails:
            if "@" in text:
                text = _EMAIL.sub(self._count("email"), text)
            if _OBFUSCATION_HINT.search(text):
                text = _OBFUSCATED_EMAIL.sub(self._obfuscated_email, text)
        if cfg.urls and ("." in text or "/" in text):
            text = _URL.sub(self._count("url"), text)
        if has_digit or ":" in text:
            if cfg.ids:
                text = _IPV6.sub(self._ip, text) if ":" in text else text
                text = _IPV4.sub(self._ip, text) if "." in text else text
        if has_digit and _DIGITS7.search(text):
            if cfg.ids:
                text = _IBAN.sub(self._iban, text)
                text = _CARD.sub(self._card, text)
                text = _SSN.sub(self._count("ssn"), text)
            if cfg.phones:
                text = self._phones(text)
            if cfg.numbers:
                text = re.sub(rf"\d{{{cfg.min_digits},}}", self._count("number"), text)
        if cfg.addresses and has_digit:
            for start, end in reversed(address_spans(text)):
                self.counts["address"] += 1
                text = text[:start] + "<address>" + text[end:]
        if self.person is not None:
            text = self.person.sub(self._count("person"), text)
        if cfg.handles and "@" in text:
            text = _HANDLE.sub(self._count("handle"), text)
        return text

    def drop_quotes(self, text: str) -> str:
        """An excluded person's words quoted by someone else go with the quote: "Priya said: ..." to the end of the
        line (or its closing quote mark), and the "> " lines under "Priya wrote:"."""
        if self.quote is None or not self.quote.search(text):
            return text
        out: list[str] = []
        under_quote = False
        for line in text.split("\n"):
            if under_quote and line.lstrip().startswith(">"):
                continue
            new = self.quote.sub(self._count("quote"), line)
            under_quote = new != line
            out.append(new)
        return "\n".join(out)

    def _obfuscated_email(self, m: re.Match) -> str:
        value = m.group()
        if re.search(r"\s(?:at|AT)\s", value) and not re.search(r"dot|DOT|[(\[{<]", value):
            return value  # "meet at home.com": a plain "at" needs a spelled-out "dot" to be an address
        self.counts["email"] += 1
        return "<email>"

    def names(self, text: str) -> str:
        """Only the person names (a file path, where the other detectors would see links and numbers)."""
        return self.person.sub("<person>", text) if self.person is not None else text

    def _count(self, kind: str):
        placeholder = f"<{kind}>"

        def replace(m: re.Match) -> str:
            self.counts[kind] += 1
            return placeholder

        return replace

    def _ip(self, m: re.Match) -> str:
        value = m.group().split("%")[0]
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return m.group()
        if ":" in value and not any(c.isdigit() for c in value) and len(value) < 6:
            return m.group()  # "a::b" in a sentence is not an address anyone typed
        self.counts["ip"] += 1
        return "<ip>"

    def _iban(self, m: re.Match) -> str:
        words = m.group().split(" ")
        for n in range(len(words), 0, -1):  # "DE89 3704 0044 0532 0130 00 thanks": the longest valid prefix
            if stdnum_iban.is_valid(" ".join(words[:n])):
                self.counts["iban"] += 1
                return " ".join(["<iban>"] + words[n:])
        return m.group()

    def _card(self, m: re.Match) -> str:
        digits = re.sub(r"\D", "", m.group())
        if not 13 <= len(digits) <= 19 or not luhn.is_valid(digits) or _DATE_LIKE.fullmatch(m.group()):
            return m.group()
        self.counts["card"] += 1
        return "<card>"

    def _phones(self, text: str) -> str:
        spans = [
            (m.start, m.end)
            for m in phonenumbers.PhoneNumberMatcher(text, self.config.region, leniency=phonenumbers.Leniency.POSSIBLE)
        ]
        for start, end in reversed(spans):
            self.counts["phone"] += 1
            text = text[:start] + "<phone>" + text[end:]
        return _PHONE.sub(self._loose_phone, text)

    def _loose_phone(self, m: re.Match) -> str:
        value = m.group()
        digits = sum(c.isdigit() for c in value)
        if not 9 <= digits <= 15 or _DATE_LIKE.match(value):
            return value  # not a phone; a long digit run inside it is still caught as <number>
        self.counts["phone"] += 1
        return "<phone>"
