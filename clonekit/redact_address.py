"""Street addresses for redaction: pyap for the United States, Canada and the United Kingdom, and a pattern for the
continental "street name + number, postcode + city" style (German, Austrian, Swiss, Dutch, French, Spanish,
Italian).

pyap finds an address only around a street-type word, and costs milliseconds a call: a cheap pattern (a number near
a street word) decides which texts it sees. pyap also misses some plain US forms ("1600 Pennsylvania Avenue NW,
Washington, DC 20500"): the street-line pattern here takes those, to the end of a following city, state and ZIP
code, UK postcode or Canadian postal code.
"""

from __future__ import annotations

import re

_STREET_WORDS = (
    "street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|terrace|ter|way|parkway|pkwy|"
    "highway|hwy|circle|cir|square|sq|close|crescent|cres|grove|gardens|row|mews|hill|walk|trail|trl|alley|plaza"
)
_REGION = (
    r"(?:,?\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?"  # US state + ZIP
    r"|,?\s+[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}"  # UK postcode
    r"|,?\s+(?:[A-Z]{2},?\s+)?[A-Z]\d[A-Z]\s?\d[A-Z]\d)"  # Canadian province + postal code
)
_EN_STREET = re.compile(
    rf"\b\d{{1,6}}[A-Za-z]?(?:-\d{{1,4}})?\s+(?:[A-Z0-9][\w'.-]*\s+){{0,4}}(?i:{_STREET_WORDS})\b\.?"
    r"(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?"
    r"(?:,?\s+(?i:apt|apartment|suite|ste|unit|flat|#)\.?\s*[\w-]+)?"
    rf"(?:,\s*[A-Z][\w'.-]*(?:\s+[A-Z][\w'.-]*){{0,3}}{_REGION}?)?"
)
_CONTINENTAL = re.compile(
    # Hauptstraße 5, Lange Gasse 12a, Keizersgracht 123 / 10115 Berlin
    r"\b[A-ZÄÖÜ][\wäöüß'-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|gracht|laan|plein|steeg)"
    r"\s+\d{1,4}\s?[a-z]?\b(?:,?\s+\d{4,5}(?:\s?[A-Z]{2})?\s+[A-ZÄÖÜ][\wäöüß-]+)?"
    # 12 rue de Rivoli, 75001 Paris / Calle Mayor 5, 28013 Madrid / Via Roma 10, 00184 Roma
    r"|\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?i:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai)\s+"
    r"[\w'’ -]{2,40}?(?:,\s*\d{5}\s+[A-Z][\w-]+|(?=[,.!?\n]|$))"
    r"|\b(?:Calle|C/|Avenida|Avda\.|Plaza|Paseo|Via|Viale|Piazza|Corso)\s+[A-Z][\w'’ -]{1,40}?,?\s+\d{1,4}"
    r"(?:,\s*\d{5}\s+[A-Z][\w-]+)?"
)
_HINT = re.compile(
    rf"\d[\s\S]{{0,60}}\b(?i:{_STREET_WORDS}|rue|avenue|calle|via|piazza)\b"
    r"|(?i:straße|strasse|str\.|weg|gasse|platz|allee|gracht|laan)\s+\d"
    r"|\b(?:Calle|Avenida|Via|Viale|Piazza|Corso|Plaza|Paseo)\s"
)


def address_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each street address in `text`, left to right, not overlapping."""
    if not any(c.isdigit() for c in text) or not _HINT.search(text):
        return []
    spans = [m.span() for m in _EN_STREET.finditer(text)] + [m.span() for m in _CONTINENTAL.finditer(text)]
    spans += _pyap_spans(text)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _pyap_spans(text: str) -> list[tuple[int, int]]:
    import pyap

    found = []
    for country in ("US", "CA", "GB"):
        for address in pyap.parse(text, country=country):
            raw = address.full_address
            start = text.find(raw)
            if start < 0:  # pyap normalizes whitespace: look for its first words instead
                start = text.find(raw.split(",")[0])
                raw = raw.split(",")[0]
            if start >= 0:
                found.append((start, start + len(raw)))
    return found
