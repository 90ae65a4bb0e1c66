"""Signal Desktop via signal-export (`sigexport`): a folder per chat with `chat.md` (Markdown) and, with
`--json`, `data.json` (one JSON object per line) -> `Message`.

Markdown, one message per header line (continuation lines belong to it):
    [2024-01-14 21:05:00] Maya: hi        (older versions: "[2019-05-29, 15:04] Me: ...")
A quote of an earlier message comes first, as "> " lines between blank lines; attachments are Markdown links to
`./media/...`; reactions a last "(- Name: emoji, ... -)" line; a sticker "(( label ))"; a deleted message
"(This message was deleted)". JSON lines carry the same fields: date, sender, body, quote, sticker, reactions,
attachments, deleted, call. "Me" is the owner (`--self-name` renames them). Times are the exporter's local time
without an offset: they stay naive. Quotes are dropped: they are someone else's words.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import orjson

from clonekit.data_prep.export_common import head_text, read_text
from clonekit.data_prep.report import RECORD_ERRORS, ParseReport
from clonekit.errors import ClonekitError
from clonekit.schema import Message

HEADER = re.compile(r"^\[(\d{4}-\d{2}-\d{2}),? (\d{2}:\d{2}(?::\d{2})?)\] ([^:\n]{1,100}?): ?(.*)$")
_REACTIONS = re.compile(r"\n\(- .* -\)\s*$")
_STICKER = re.compile(r"\n?\(\( (.*) \)\)\s*$")
_LINK = re.compile(r"!?\[([^\]]*)\]\((?:\.\./|\./)?[^)]*\)")
DELETED = "(This message was deleted)"
_GENERIC_STEMS = ("chat", "index", "data")


def is_signal_markdown(path: Path) -> bool:
    if path.suffix.lower() != ".md":
        return False
    lines = [ln for ln in head_text(path, 4096).splitlines() if ln.strip()]
    return bool(lines) and HEADER.match(lines[0]) is not None


def is_signal_json(path: Path) -> bool:
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    first = head_text(path, 8192).lstrip("\ufeff").split("\n", 1)[0]
    try:
        obj = orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return isinstance(obj, dict) and {"date", "sender", "body"} <= obj.keys()


def chat_name(path: Path) -> str:
    return path.parent.name if path.stem.lower() in _GENERIC_STEMS and path.parent.name else path.stem


def _stamp(date: str, clock: str) -> str:
    return dt.datetime.fromisoformat(f"{date}T{clock}" + (":00" if clock.count(":") == 1 else "")).isoformat()


def _author(sender: str, self_name: str | None) -> tuple[str, str]:
    if sender == "Me":
        return self_name or "Me", "signal:me"
    return sender, f"signal:name:{sender}"


def _body(raw: str) -> tuple[str, str]:
    """(kind, text) of a Markdown body: quote, reactions and links stripped."""
    text = _REACTIONS.sub("", raw)
    sticker = _STICKER.search(text)
    text = _STICKER.sub("", text)
    lines = text.split("\n")
    while lines and (not lines[0].strip() or lines[0].startswith(">")):
        lines.pop(0)  # a quote of an earlier message, and its blank lines
    text = "\n".join(line.rstrip() for line in lines).strip()
    if text == DELETED:
        return "deleted", text
    links = _LINK.findall(text)
    rest = _LINK.sub("", text).strip()
    if rest:
        return "text", rest
    if links:
        return "media", links[0] or "attachment"
    if sticker is not None:
        return "media", sticker.group(1) or "attachment"
    return "empty", ""


def parse_signal_markdown(path: Path, report: ParseReport, self_name: str | None = None) -> Iterator[Message]:
    chat = chat_name(path)
    current: list | None = None

    def finish(cur) -> Message | None:
        lineno, date, clock, sender, parts = cur
        try:
            stamp = _stamp(date, clock)
        except ValueError:
            report.warn(path, lineno, f"invalid date {date} {clock}: message skipped")
            report.skip("invalid date")
            return None
        kind, text = _body("\n".join(parts))
        if kind == "empty":
            report.skip("empty")
            return None
        author, uid = _author(sender, self_name)
        return Message("signal", chat, str(lineno), stamp, author, uid, text, kind)

    for lineno, line in enumerate(read_text(path).split("\n"), 1):
        m = HEADER.match(line)
        if m is None:
            if current is not None:
                current[4].append(line)
            elif line.strip():
                report.warn(path, lineno, "text before the first message ignored")
            continue
        if current is not None:
            report.read += 1
            msg = finish(current)
            if msg is not None:
                yield msg
        current = [lineno, m.group(1), m.group(2), m.group(3).strip(), [m.group(4)]]
    if current is not None:
        report.read += 1
        msg = finish(current)
        if msg is not None:
            yield msg


def parse_signal_json(path: Path, report: ParseReport, self_name: str | None = None) -> Iterator[Message]:
    chat = chat_name(path)
    for lineno, line in enumerate(read_text(path).split("\n"), 1):
        if not line.strip():
            continue
        report.read += 1
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise ClonekitError(f"invalid JSON line: {e.msg}", path, lineno) from None
        try:
            msg = _json_message(obj, chat, lineno, self_name)
        except RECORD_ERRORS as e:
            report.warn(path, lineno, f"message skipped: {type(e).__name__}: {e}")
            report.skip("malformed")
            continue
        if msg is None:
            report.skip("empty")
        else:
            yield msg


def _json_message(obj: dict, chat: str, lineno: int, self_name: str | None) -> Message | None:
    stamp = dt.datetime.fromisoformat(obj["date"]).isoformat()
    author, uid = _author(str(obj["sender"]), self_name)
    body = obj.get("body") or ""
    if not isinstance(body, str):
        raise TypeError("body must be a string")
    if obj.get("deleted"):
        return Message("signal", chat, str(lineno), stamp, author, uid, DELETED, "deleted")
    if obj.get("call"):
        return Message("signal", chat, str(lineno), stamp, "", "", body.strip() or "call", "system")
    text = body.strip()
    if text:
        return Message("signal", chat, str(lineno), stamp, author, uid, text)
    attachments = obj.get("attachments") or []
    sticker = obj.get("sticker")
    if attachments or sticker:
        first = attachments[0] if attachments and isinstance(attachments[0], dict) else {}
        label = str(first.get("name") or (sticker if isinstance(sticker, str) else "") or "attachment")
        return Message("signal", chat, str(lineno), stamp, author, uid, label, "media")
    return None
