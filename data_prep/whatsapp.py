"""WhatsApp `.txt` / `.zip` exports (Android and iOS, any locale we know) -> `Message`.

Streaming: the file is read line by line, never held as a list. A first pass over the header
lines infers day/month order (stopping as soon as a field > 12 decides it); the second pass
builds messages. A line that is not a header of the file's style continues the previous
message verbatim (blank lines and lines that start with a date but no time included).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from clonekit.data_prep import whatsapp_locales as locales
from clonekit.data_prep.archive import SafeZip, is_zip
from clonekit.data_prep.report import ParseReport
from clonekit.data_prep.whatsapp_dates import (  # noqa: F401  (whatsapp_parallel reads them through this module)
    _AMPM,
    _BETWEEN,
    _DATE,
    _DATE_SEP,
    _DATE_SPLIT,
    _SP,
    _TIME,
    _TIME_SPLIT,
    FIRST_YEAR,
    HEADER,
    HEADER_LINES,
    MAX_SAMPLED_DATES,
    ORDERS,
    YEAR_FIRST,
    _disorder,
    _iso_date,
    _iso_time,
    infer_order,
)
from clonekit.errors import ClonekitError, decode_error
from clonekit.schema import Message


def marker_key(text: str) -> str:
    """A marker as the tables spell it: lowercased, invisible marks and spaces inside angle brackets dropped."""
    key = text.strip(_MARKS).casefold()
    if key[:1] == "<":
        key = "<" + key[1:-1].strip(_MARKS) + ">" if key[-1:] == ">" else key
    return key


MEDIA_MARKERS = frozenset(map(str.casefold, locales.MEDIA_OMITTED))
DELETED_MARKERS = frozenset(map(str.casefold, locales.DELETED))
EDITED_MARKERS = tuple(map(str.casefold, locales.EDITED))
_ENCRYPTION = tuple(map(str.casefold, locales.ENCRYPTION_NOTICES))
_MEDIA_RE = re.compile(
    r"<[ \u200e]*(?:" + "|".join(map(re.escape, locales.ATTACHED_WORDS)) + r")[ \u202f]?:[^>]+>"
    r"|\S.*\.\w+ \((?:" + "|".join(map(re.escape, locales.FILE_ATTACHED)) + r")\)",
    re.IGNORECASE,
)
# iOS media lines start with U+200E and end with "<kind> omitted" (localized); only trusted after the mark
_IOS_OMITTED = re.compile(r"(?:" + "|".join(map(re.escape, locales.IOS_OMITTED_ENDINGS)) + r")$", re.IGNORECASE)
# Android system lines carry no "Author: ", but some contain ": " inside quotes or after a verb (case-sensitive:
# system verbs are lowercase, names are not)
_SYSTEM_AUTHOR = re.compile(r"[\"“”«»]|\b(?:" + "|".join(map(re.escape, locales.SYSTEM_VERBS)) + r")(?!\w)")
MAX_MESSAGE_CHARS = 200_000  # WhatsApp caps a message at 65,536 characters; longer means a damaged file
_MARKS = " \u200e\u200f\u202a\u202c\ufeff"
_CHAT_NAME = re.compile(
    r"^(?:WhatsApp[ -]Chat(?: with| mit| con| avec| ile)?|Chat de WhatsApp con|Conversa do WhatsApp com)"
    r"[ -]*(?P<name>.+)$",
    re.I,
)


def chat_name_from_path(path: Path, member: str | None = None) -> str:
    """'WhatsApp Chat with Foo.txt' -> 'Foo'; iOS '_chat.txt' inside 'WhatsApp Chat - Foo.zip' -> 'Foo'."""
    for stem in ([Path(member).stem] if member else []) + [path.stem]:
        if stem.lower() in ("_chat", "chat", "whatsapp"):
            continue
        m = _CHAT_NAME.match(stem)
        return (m.group("name") if m else stem).strip(" -_") or stem
    return path.stem


def _chat_member(names: list[str]) -> str | None:
    """The chat's .txt among a zip's files (iOS `_chat.txt`, Android `WhatsApp Chat ....txt`), or None."""
    txts = [n for n in names if n.lower().endswith(".txt") and not n.startswith("__MACOSX")]
    chat = [n for n in txts if Path(n).name == "_chat.txt" or Path(n).name.lower().startswith("whatsapp")]
    return next(iter(chat or txts), None)


def text_layout(head: bytes) -> tuple[str, str | None]:
    """(encoding, newline) from a file's first bytes: UTF-16 (iOS writes it, with a BOM) or UTF-8; CR-only line
    endings (old Mac tools) read with universal newlines, everything else splits on LF only (a stray CR inside a
    message stays part of it)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif len(head) >= 4 and head[1:2] == b"\x00" and head[3:4] == b"\x00" and head[0:1] != b"\x00":
        encoding = "utf-16-le"
    elif len(head) >= 4 and head[0:1] == b"\x00" and head[2:3] == b"\x00" and head[1:2] != b"\x00":
        encoding = "utf-16-be"
    else:
        encoding = "utf-8-sig"
    sample = head.decode(encoding, "replace")
    return encoding, (None if "\r" in sample and "\n" not in sample else "\n")


@contextmanager
def _binary(path: Path, member: str | None, max_bytes: int | None):
    if member is None:
        f = open(path, "rb", buffering=1 << 16)
        try:
            yield f
        finally:
            f.close()
    else:
        with SafeZip(path, max_bytes) as archive, archive.open(member) as f:
            yield f


def read_lines(path: Path, member: str | None, max_bytes: int | None = None) -> Iterator[str]:
    """Lines without their line ending; a bad encoding raises an error with line and column."""
    shown = f"{path}" + (f"!{member}" if member else "")
    with _binary(path, member, max_bytes) as raw:
        encoding, newline = text_layout(raw.peek(1 << 16)[: 1 << 16])
        f = io.TextIOWrapper(raw, encoding=encoding, newline=newline)
        try:
            for line in f:
                yield line.rstrip("\r\n")
        except UnicodeDecodeError as err:
            if encoding != "utf-8-sig":
                raise ClonekitError(f"not valid {encoding.upper()} ({err.reason}); re-export the chat", shown) from None
            with _binary(path, member, max_bytes) as again:
                data = again.read()
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as e:
                raise decode_error(shown, data, e) from None
            raise


def find_member(path: Path, max_bytes: int | None = None) -> str | None:
    """The chat's .txt inside a zip export; None for a plain file."""
    if not is_zip(path):
        return None
    with SafeZip(path, max_bytes) as archive:
        member = _chat_member(archive.names)
    if member is None:
        raise ClonekitError("zip file holds no .txt chat export", path)
    return member


def sniff(path: Path, max_lines: int = 50, max_bytes: int | None = None) -> bool:
    """True if one of the first lines is a WhatsApp header. Decoding is lenient here: a file in the wrong encoding
    is still recognized, and then refused with the position of its first bad byte."""
    member = None
    if is_zip(path):  # a damaged or encrypted zip raises here: say so, not "unknown format"
        with SafeZip(path, max_bytes) as archive:
            member = _chat_member(archive.names)
        if member is None:
            return False
    with _binary(path, member, max_bytes) as raw:
        head = raw.read(1 << 16)
    encoding, newline = text_layout(head)
    text = head.decode(encoding, "replace")
    lines = text.split("\r") if newline is None else text.split("\n")
    return any(HEADER.match(line) for line in lines[:max_lines])


def parse_whatsapp(
    path: str | Path, report: ParseReport, dayfirst: bool | None = None, max_bytes: int | None = None
) -> Iterator[Message]:
    """Yield every message of a WhatsApp export. `report` counts read/skipped and collects warnings."""
    path = Path(path)
    member = find_member(path, max_bytes)
    shown = f"{path}" + (f"!{member}" if member else "")
    order, bracket, warning = infer_order(read_lines(path, member, max_bytes), dayfirst)
    if bracket is None:
        raise ClonekitError("no WhatsApp message header found (expected e.g. '31/12/21, 23:59 - Name: text')", path)
    if warning:
        report.warn(shown, None, warning)
    builder = MessageBuilder(chat_name_from_path(path, member))
    yield from parse_lines(read_lines(path, member, max_bytes), 1, shown, order, bracket, builder, report)
    report.read += builder.count


def parse_lines(lines, first_lineno, shown, order, bracket, builder, report) -> Iterator[Message]:
    """The hot loop: one regex match per line; timestamps cached per header and per date.

    A header whose date or time is impossible (month 13, 25:00) starts a message that is skipped as
    "invalid date", with a warning: it is never glued onto the message before it. A message longer than
    `MAX_MESSAGE_CHARS` (a damaged file, or blank lines by the million) is skipped as "too long"."""
    time_cache: dict[tuple[str, str | None], str | None] = {}
    build = builder.build
    match = HEADER.match
    groups = ("bd", "bt", "ba") if bracket else ("d", "t", "a")
    last_header = last_date = None
    iso_d = None
    ts: str | None = None
    cur_line = 0
    cur_ts: str | None = ""
    cur_rest = ""
    size = 0
    parts: list[str] = []

    def finish() -> Message | None:
        if cur_ts is None:
            builder.count += 1
            report.skip("invalid date")
            return None
        if size > MAX_MESSAGE_CHARS:
            builder.count += 1
            report.warn(shown, cur_line, f"message longer than {MAX_MESSAGE_CHARS} characters: skipped")
            report.skip("too long")
            return None
        msg = build(cur_line, cur_ts, cur_rest, parts)
        if msg is None:
            report.skip("empty")
        return msg

    for lineno, line in enumerate(lines, first_lineno):
        m = match(line)
        if m is not None:
            header = m.group(0)
            if header != last_header:
                raw_d, raw_t, raw_a = m.group(*groups)
                if raw_d is None:  # a header of the other style: text that happens to look like one
                    m = None
                else:
                    if raw_d != last_date:
                        iso_d = _iso_date(raw_d, order)
                        last_date = raw_d
                    key = (raw_t, raw_a)
                    iso_t = time_cache.get(key, "")
                    if iso_t == "":
                        iso_t = time_cache[key] = _iso_time(raw_t, raw_a)
                    if iso_d is None or iso_t is None:
                        report.warn(shown, lineno, f"invalid date/time {raw_d} {raw_t}: message skipped")
                        ts = None
                        last_header = None
                    else:
                        ts = f"{iso_d}T{iso_t}"
                        last_header = header
        if m is None:
            if cur_line:
                if size <= MAX_MESSAGE_CHARS:
                    parts.append(line)
                size += len(line) + 1
            elif line.strip(_MARKS):
                report.warn(shown, lineno, "text before the first message header ignored")
            continue
        if cur_line:
            msg = finish()
            if msg is not None:
                yield msg
            if parts:
                parts = []
        cur_line = lineno
        cur_ts = ts
        cur_rest = line[m.end() :]
        size = len(cur_rest)
    if cur_line:
        msg = finish()
        if msg is not None:
            yield msg


class MessageBuilder:
    """Turns one header line (+ continuation lines) into a Message. Author classification is
    cached: a chat has few authors, and the system-line check is a regex search."""

    def __init__(self, chat: str):
        self.chat = chat
        self.count = 0
        self.authors: dict[str, tuple[str, str] | None] = {}

    def _author(self, candidate: str) -> tuple[str, str] | None:
        if candidate in self.authors:
            return self.authors[candidate]
        name = candidate.strip(_MARKS)
        found: tuple[str, str] | None = None
        if name and not _SYSTEM_AUTHOR.search(name):
            if name[:1] == "~":  # WhatsApp marks people who are not in the exporter's contacts
                name = name[1:].lstrip(" \u202f\u00a0")
            found = (name, "whatsapp:" + name)
        self.authors[candidate] = found
        return found

    def build(self, lineno: int, ts: str, rest: str, parts: list[str]) -> Message | None:
        self.count += 1
        idx = rest.find(": ")
        if idx < 0 and rest.endswith(":") and not parts:
            idx = len(rest) - 1  # "Name:" with an empty body
        who = self._author(rest[:idx]) if idx >= 0 else None
        if who is None:
            text = rest if not parts else rest + "\n" + "\n".join(parts)
            author = author_id = ""
            kind = "system"
            text = text.strip(_MARKS)
        else:
            author, author_id = who
            text = rest[idx + 2 :]
            if parts:
                text = text + "\n" + "\n".join(parts)
            kind = "text"
        edited = False
        if kind == "text":
            core = text.strip(_MARKS) if text[:1] in _MARKS or text[-1:] in _MARKS else text
            key = marker_key(core) if len(core) < 120 else ""
            if key in MEDIA_MARKERS or (core[:1] == "<" or core[-1:] == ")") and _MEDIA_RE.fullmatch(core):
                kind = "media"
                text = core
            elif (key[:-1] if key[-1:] == "." else key) in DELETED_MARKERS:
                kind = "deleted"
                text = core
            elif text[:1] == "\u200e" and _IOS_OMITTED.search(core):
                kind = "media"  # e.g. "Resume.pdf • ‎2 pages ‎document omitted", "‎View once photo omitted"
                text = core
            elif core[:160].casefold().startswith(_ENCRYPTION):
                kind = "system"  # the encryption notice, under the chat's name, with or without its U+200E
                text = core
            elif text[:1] == "\u200e" or parts:
                first, _, caption = core.partition("\n")
                if marker_key(first) in MEDIA_MARKERS or _MEDIA_RE.fullmatch(first):
                    text = caption  # media with a caption: the caption is the person's words
                elif text[:1] == "\u200e":  # iOS marks system lines with a left-to-right mark
                    kind = "system"
                    text = core
            if kind == "text" and text[-1:] == ">":
                tail = text[-60:].casefold()
                for marker in EDITED_MARKERS:
                    if tail.endswith(marker):
                        text = text[: -len(marker)].rstrip(_MARKS)
                        edited = True
                        break
            if kind == "text" and (not text or text.isspace()):
                return None
        return Message("whatsapp", self.chat, str(lineno), ts, author, author_id, text, kind, None, edited)
