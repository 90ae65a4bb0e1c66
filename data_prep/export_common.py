"""Small pieces the export parsers share: epoch times, local times with their offset, HTML text, Meta's mojibake,
text files in the encodings chat apps write.

Each parser module is one (sniff, parse) pair in `parse.EXPORT_FORMATS`; these helpers keep their time and text
handling identical (the same instant gives the same ISO string whichever app it came from).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from clonekit.errors import ClonekitError, decode_error

APPLE_EPOCH = 978307200  # 2001-01-01T00:00:00Z in Unix seconds
MAX_OFFSET = dt.timedelta(hours=14)


def _utc(seconds: float) -> dt.datetime:
    """Unix seconds as a UTC time; an impossible one is a ValueError (the C library says OSError or OverflowError
    for some), which the record readers count as a malformed message."""
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OSError, OverflowError) as e:
        raise ValueError(f"time out of range: {seconds!r} ({e})") from None


def utc_iso(seconds: float) -> str:
    """Unix seconds -> ISO 8601 in UTC (`+00:00`)."""
    return _utc(seconds).isoformat()


def with_local_offset(seconds: float, local: dt.datetime | None) -> str:
    """Unix seconds, shown in the exporter's UTC offset when the export also wrote the local wall time (the
    difference, when it is a whole quarter hour within ±14 h), else in UTC."""
    utc = _utc(seconds).replace(microsecond=0)
    if local is not None:
        offset = local.replace(tzinfo=None, microsecond=0) - utc.replace(tzinfo=None)
        if offset.total_seconds() % 900 == 0 and abs(offset) <= MAX_OFFSET:
            return utc.astimezone(dt.timezone(offset)).isoformat()
    return utc.isoformat()


def fix_mojibake(text: str) -> str:
    """Meta's "Download your information" JSON writes each UTF-8 byte as its own `\\u00XX` escape, so "é" reads as
    "Ã©". Re-reading those code points as bytes gives the text back. Exactly reversible, so no heuristic library
    (ftfy) is needed: text that is not of that shape (a real "Ã", any code point above U+00FF) is left as it is."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def html_text(el) -> str:
    """The text a reader sees in an lxml element: `<br>` as a newline, an `<img>` by its `alt` (Discord's and
    Telegram's emoji are images), scripts and styles dropped."""
    parts: list[str] = []

    def walk(node) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in ("script", "style"):
            return
        if tag == "br":
            parts.append("\n")
        elif tag == "img":
            parts.append(node.get("alt") or "")
        if node.text and tag:
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    return "".join(parts)


def read_text(path: Path, fallback: str | None = None) -> str:
    """A whole text export: UTF-8 (with or without BOM) or UTF-16 with a BOM; `fallback` (e.g. "gb18030" for QQ's
    Windows exports) for bytes that are not UTF-8, else an error naming the line and column of the first bad byte."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ClonekitError("not valid UTF-16; re-export the chat", path) from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        if fallback:
            try:
                return data.decode(fallback)
            except UnicodeDecodeError:
                pass
        raise decode_error(path, data, err) from None


def head_bytes(path: Path, n: int = 1 << 14) -> bytes:
    """The first bytes of a file (b"" for a folder)."""
    if not path.is_file():
        return b""
    with open(path, "rb") as f:
        return f.read(n)


def head_text(path: Path, n: int = 1 << 14) -> str:
    """The first characters of a text file, leniently decoded (for sniffing only)."""
    head = head_bytes(path, n)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", "replace")
    return head.decode("utf-8-sig", "replace")
