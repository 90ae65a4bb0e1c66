"""Facebook Messenger and Instagram "Download your information" JSON (`message_1.json`, `message_2.json`, ...).

    {"participants": [{"name": "Maya K"}, ...], "title": "Maya K", "thread_path": "inbox/mayak_123",
     "messages": [{"sender_name": "Maya K", "timestamp_ms": 1705266300000, "content": "hi",
                   "photos": [...], "reactions": [...], "is_unsent": false, "share": {...}}, ...]}

Messages are newest first (parse sorts them). Meta writes UTF-8 bytes as `\\u00XX` escapes, so every string is
repaired (`fix_mojibake`). Photos, videos, audio, gifs, stickers and files are media; an unsent message is
deleted; "Maya reacted ❤ to your message", calls and "type": "Subscribe"/"Unsubscribe" are system lines.
The end-to-end-encrypted Messenger export of 2024 (`senderName`, `timestamp`, `text`, `isUnsent`, `media`) is
read too. Times are Unix milliseconds: UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from clonekit.data_prep.export_common import fix_mojibake, utc_iso
from clonekit.data_prep.report import ParseReport, as_dict, as_records, convert_records
from clonekit.schema import Message

MEDIA_KEYS = ("photos", "videos", "audio_files", "gifs", "sticker", "files")
SYSTEM_TYPES = ("Subscribe", "Unsubscribe", "Call")
_REACTED = re.compile(
    r"^(?:.{1,80} reacted .{1,12} to (?:your|a|their|\S+'s) message|Liked a message"
    r"|Reacted .{1,12} to your message)\s*$"
)
_SYSTEM_CONTENT = re.compile(
    r"^(?:.{1,80} (?:set the nickname|set your nickname|named the group|changed the group photo|"
    r"added .{1,80} to the group|left the group|removed .{1,80} from the group|started a (?:video )?call|"
    r"missed (?:a|your) (?:video )?call|joined the (?:video )?call)|You are now connected on Messenger)"
)


def is_meta(obj) -> bool:
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        return False
    if "participants" not in obj:
        return False
    first = next((m for m in obj["messages"][:20] if isinstance(m, dict)), None)
    if first is None:
        return "thread_path" in obj or "threadName" in obj or "title" in obj
    return any(k in first for k in ("sender_name", "timestamp_ms", "senderName"))


def platform_of(obj: dict, path: Path) -> str:
    """ "instagram" when the export says so (its folder or media paths), else "messenger"."""
    hints = [str(path).lower(), str(obj.get("thread_path") or "").lower()]
    for m in obj.get("messages", [])[:50]:
        for key in MEDIA_KEYS:
            for item in (m.get(key) or []) if isinstance(m, dict) and isinstance(m.get(key), list) else []:
                if isinstance(item, dict):
                    hints.append(str(item.get("uri") or "").lower())
    return "instagram" if any("instagram" in h for h in hints) else "messenger"


def parse_meta(path: Path, report: ParseReport, obj: object) -> Iterator[Message]:
    obj = as_dict(obj)
    platform = platform_of(obj, path)
    title = obj.get("title") or obj.get("threadName")
    if not title:
        names = [p.get("name") if isinstance(p, dict) else p for p in obj.get("participants") or []]
        title = ", ".join(str(n) for n in names if n) or path.parent.name
    chat = fix_mojibake(str(title))
    records = as_records(obj.get("messages"), path, "messages")
    numbered = list(enumerate(records, 1))
    yield from convert_records(numbered, partial(_message, chat=chat, platform=platform), report, path)


def _message(numbered: tuple[int, dict], chat: str, platform: str) -> Message | None:
    n, m = numbered
    if not isinstance(m, dict):
        raise TypeError(f"a message must be a JSON object, not {type(m).__name__}")
    if "timestamp_ms" in m:
        millis = m["timestamp_ms"]
        author = fix_mojibake(str(m["sender_name"]))
        text = fix_mojibake(m.get("content") or "")
        unsent = bool(m.get("is_unsent"))
        media = [k for k in MEDIA_KEYS if m.get(k)]
        mtype = m.get("type") or "Generic"
    else:  # the 2024 end-to-end-encrypted export
        millis = m["timestamp"]
        author = str(m["senderName"])
        text = m.get("text") or ""
        unsent = bool(m.get("isUnsent"))
        media = ["media"] if m.get("media") else []
        mtype = "Generic"
    if not isinstance(millis, int | float) or isinstance(millis, bool):
        raise TypeError(f"timestamp must be a number, got {millis!r}")
    if not isinstance(text, str):
        raise TypeError("content must be a string")
    stamp = utc_iso(millis / 1000)
    mid = f"{int(millis)}-{n}"  # Meta gives messages no id: the time and place in the file
    uid = f"{platform}:name:{author}"
    edited = bool(m.get("is_edited") or m.get("isEdited"))
    if unsent:
        return Message(platform, chat, mid, stamp, author, uid, text or "unsent a message", "deleted")
    if mtype in SYSTEM_TYPES or _REACTED.match(text) or _SYSTEM_CONTENT.match(text):
        return Message(platform, chat, mid, stamp, "", "", f"{author}: {text}" if text else mtype, "system")
    if media and (not text or text.endswith(("sent an attachment.", "sent a photo.", "sent a video."))):
        return Message(platform, chat, mid, stamp, author, uid, media[0], "media", None, edited)
    share = as_dict(m.get("share"))
    if not text.strip():
        link = share.get("link")
        if not link:
            return None
        text = fix_mojibake(str(link))
    return Message(platform, chat, mid, stamp, author, uid, text, "text", None, edited)
