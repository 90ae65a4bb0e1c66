"""iMessage / SMS from macOS `~/Library/Messages/chat.db` (SQLite, opened read-only) -> `Message`.

A message row is joined to its chat (`chat_message_join` -> `chat`: display name or identifier) and its sender
(`handle.id`: a phone number or email; `is_from_me` rows are the owner's: `--self-name`, else "Me"). Text is in
`text` or, since macOS Ventura, only in `attributedBody`, an NSAttributedString archived as a typedstream.
Dates are Apple-epoch (2001-01-01 UTC) seconds, nanoseconds since High Sierra: kept in UTC. Tapbacks
(`associated_message_type` 2000-3007) are reactions, skipped; `item_type` > 0 rows are group events (system);
`date_retracted` is an unsent message (deleted), `date_edited` an edit; `thread_originator_guid` a reply.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from clonekit.data_prep.export_common import APPLE_EPOCH, head_bytes, utc_iso
from clonekit.data_prep.report import ParseReport, convert_records
from clonekit.errors import ClonekitError
from clonekit.schema import Message

SQLITE_MAGIC = b"SQLite format 3\x00"
OBJECT_REPLACEMENT = "\ufffc"  # where an attachment sits in the text
_OPTIONAL = (
    "attributedBody",
    "associated_message_type",
    "thread_originator_guid",
    "date_edited",
    "date_retracted",
    "item_type",
    "group_title",
    "cache_has_attachments",
    "service",
)


def is_chat_db(path: Path) -> bool:
    if not head_bytes(path, 16).startswith(SQLITE_MAGIC):
        return False
    try:
        with _connect(path) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except (sqlite3.Error, UnicodeDecodeError):
        return True  # an SQLite file we cannot read: let the parser say why
    return {"message", "handle", "chat_message_join"} <= tables


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    db.text_factory = lambda raw: raw.decode("utf-8", "replace")  # a damaged page holds bytes, not UTF-8
    return db


def typedstream_text(blob: bytes | None) -> str:
    """The string inside an archived NSAttributedString: after the `NSString` class name come 5 bytes
    (`\\x01\\x94\\x84\\x01+`), then the length (one byte, or 0x81 and a 16-bit little-endian length, or 0x82 and
    32-bit) and the UTF-8 bytes. Written here, not with a typedstream library: the one on PyPI (pytypedstream)
    had a single release, and this is the only field needed."""
    if not blob:
        return ""
    for name in (b"NSString", b"NSMutableString"):
        start = blob.find(name)
        if start >= 0:
            break
    else:
        return ""
    data = blob[start + len(name) + 5 :]
    if not data:
        return ""
    if data[0] == 0x81:
        length, data = int.from_bytes(data[1:3], "little"), data[3:]
    elif data[0] == 0x82:
        length, data = int.from_bytes(data[1:5], "little"), data[5:]
    else:
        length, data = data[0], data[1:]
    return data[:length].decode("utf-8", "replace")


def apple_seconds(value: int | float) -> float:
    """Apple-epoch time (seconds before High Sierra, nanoseconds after) -> Unix seconds."""
    seconds = value / 1e9 if abs(value) > 1e11 else value
    return seconds + APPLE_EPOCH


def parse_chat_db(path: Path, report: ParseReport, self_name: str | None = None) -> Iterator[Message]:
    me = self_name or "Me"
    try:
        with _connect(path) as db:
            columns = {r[1] for r in db.execute("PRAGMA table_info(message)")}
            if not {"ROWID", "guid", "text", "handle_id", "date", "is_from_me"} <= columns:
                raise ClonekitError("chat.db's message table lacks the usual columns (guid, text, date...)", path)
            chat_columns = {r[1] for r in db.execute("PRAGMA table_info(chat)")}
            optional = [c for c in _OPTIONAL if c in columns]
            chat_name = (
                "COALESCE(NULLIF(c.display_name, ''), c.chat_identifier)"
                if "display_name" in chat_columns
                else "c.chat_identifier"
            )
            select = ", ".join(f"m.{c}" for c in optional)
            rows = db.execute(
                f"SELECT m.ROWID, m.guid, m.text, m.date, m.is_from_me, h.id, {chat_name}"
                + (f", {select}" if select else "")
                + " FROM message m LEFT JOIN handle h ON h.ROWID = m.handle_id"
                " LEFT JOIN chat_message_join j ON j.message_id = m.ROWID LEFT JOIN chat c ON c.ROWID = j.chat_id"
                " ORDER BY m.date, m.ROWID"
            )
            names = ("rowid", "guid", "text", "date", "is_from_me", "handle", "chat", *optional)
            records = (dict(zip(names, row, strict=True)) for row in rows)
            yield from convert_records(records, lambda r: _message(r, me), report, path)
    except (sqlite3.Error, UnicodeDecodeError) as e:  # column names are decoded strictly
        raise ClonekitError(f"cannot read the iMessage database ({e})", path) from None


def _message(r: dict, me: str) -> Message | str:
    """A Message, or the reason the row is skipped."""
    if 2000 <= (r.get("associated_message_type") or 0) < 4000:
        return "reaction"
    stamp = utc_iso(apple_seconds(r["date"]))
    handle = str(r["handle"] or "")
    chat = str(r["chat"] or handle or "iMessage")
    if r["is_from_me"]:
        author, uid = me, "imessage:me"
    else:
        author, uid = handle or "Unknown", f"imessage:{handle}" if handle else "imessage:unknown"
    guid = str(r["guid"])
    if r.get("item_type"):
        text = str(r.get("group_title") or f"group event {r['item_type']}")
        return Message("imessage", chat, guid, stamp, "", "", text, "system")
    if r.get("date_retracted"):
        return Message("imessage", chat, guid, stamp, author, uid, "unsent a message", "deleted")
    text = r["text"] if isinstance(r["text"], str) and r["text"] else typedstream_text(r.get("attributedBody"))
    text = text.replace(OBJECT_REPLACEMENT, "").strip()
    reply = r.get("thread_originator_guid") or None
    edited = bool(r.get("date_edited"))
    if not text:
        if r.get("cache_has_attachments"):
            return Message("imessage", chat, guid, stamp, author, uid, "attachment", "media", reply, edited)
        return "empty"
    return Message("imessage", chat, guid, stamp, author, uid, text, "text", reply, edited)
