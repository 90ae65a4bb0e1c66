"""Telegram Desktop `result.json` (single chat or full account export) -> `Message`.

`text` is a string or a list of strings and entities ({"type": ..., "text": ...}); the parts are
joined with no added separators. `date_unixtime` is preferred over `date`; the difference
between the two is the exporter's UTC offset, which the timestamp keeps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from clonekit.data_prep.export_common import with_local_offset
from clonekit.data_prep.jsonfile import load_json
from clonekit.data_prep.report import ParseReport, as_dict, as_records, convert_records
from clonekit.errors import ClonekitError
from clonekit.schema import Message

MEDIA_KEYS = (
    "photo",
    "file",
    "media_type",
    "sticker_emoji",
    "poll",
    "location_information",
    "contact_information",
    "game_title",
    "invoice_information",
    "place_name",
)


def is_telegram(obj) -> bool:
    """By structure: a chat whose messages carry `date` or `date_unixtime`, or an account export's chat list."""
    if not isinstance(obj, dict) or "guild" in obj:
        return False
    if isinstance(obj.get("chats"), dict) and isinstance(obj["chats"].get("list"), list):
        return True
    msgs = obj.get("messages")
    if not isinstance(msgs, list):
        return False
    records = [m for m in msgs[:20] if isinstance(m, dict)]
    if not records:
        return not msgs and ("type" in obj or "name" in obj or "id" in obj)
    return any("date" in m or "date_unixtime" in m for m in records)


def chats_of(obj: dict, path=None) -> list[dict]:
    """The chats in a single-chat or full-account export."""
    if "messages" in obj:
        return [obj]
    chats = list(as_records(as_dict(obj.get("chats")).get("list"), path, "chats.list") or [])
    chats += list(as_records(as_dict(obj.get("left_chats")).get("list"), path, "left_chats.list") or [])
    return [c for c in chats if isinstance(c, dict)]


def parse_telegram(path: Path, report: ParseReport, loaded: object = None) -> Iterator[Message]:
    """`loaded`: the file's JSON when the caller has read it already."""
    obj = loaded if loaded is not None else load_json(path)
    if not isinstance(obj, dict):
        raise ClonekitError("a Telegram export must be a JSON object", path)
    for chat in chats_of(obj, path):
        name = chat.get("name") or ("Saved Messages" if chat.get("type") == "saved_messages" else None)
        name = str(name or f"{chat.get('type', 'chat')} {chat.get('id', '')}".strip())
        records = as_records(chat.get("messages"), path, f"chat {name!r}: messages")
        numbered = enumerate(records, 1)
        yield from convert_records(numbered, partial(_message, chat=name), report, path, where=f"chat {name!r} ")


def text_of(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in value)
    return ""


def timestamp_of(m: dict) -> str:
    local = dt.datetime.fromisoformat(m["date"]) if m.get("date") else None
    if m.get("date_unixtime"):
        return with_local_offset(int(m["date_unixtime"]), local)
    if local is None:
        raise KeyError("date")
    return local.isoformat()


def _message(numbered: tuple[int, dict], chat: str) -> Message | None:
    """One record; a record without an `id` (a minimal or hand-made export) gets `row<N>`, its place in the chat,
    and is then told from a duplicate by author, time and text, as id-less rows are."""
    n, m = numbered
    if not isinstance(m, dict):
        raise TypeError(f"a message must be a JSON object, not {type(m).__name__}")
    m = m if "id" in m else {**m, "id": f"row{n}"}
    ts = timestamp_of(m)
    text = text_of(m.get("text"))
    if m.get("type") == "service":
        actor = m.get("actor") or ""
        action = m.get("action") or "service"
        detail = text or " ".join(str(x) for x in m.get("members") or [] if x)
        return Message(
            "telegram",
            chat,
            str(m["id"]),
            ts,
            actor,
            _uid(m.get("actor_id"), actor),
            f"{action}: {detail}".rstrip(": ") if detail else action,
            "system",
        )
    if m.get("type", "message") != "message":
        return Message("telegram", chat, str(m["id"]), ts, "", "", m.get("type", ""), "system")
    author = m.get("from") or "Deleted Account"  # `from: null` is a deleted account
    if text.strip():
        kind = "text"
    elif any(k in m for k in MEDIA_KEYS):
        kind = "media"
        text = str(m.get("media_type") or next(k for k in MEDIA_KEYS if k in m))
    else:
        return None
    reply = m.get("reply_to_message_id")
    return Message(
        "telegram",
        chat,
        str(m["id"]),
        ts,
        author,
        _uid(m.get("from_id"), author),
        text,
        kind,
        str(reply) if reply is not None else None,
        bool(m.get("edited") or m.get("edited_unixtime")),
        bool(m.get("forwarded_from") or m.get("forwarded_from_id")),
        False,  # Telegram Desktop exports do not mark bot accounts
    )


def _uid(raw, name: str) -> str:
    if raw:
        return f"telegram:{raw}"
    return f"telegram:name:{name}" if name else ""
