"""The canonical message schema. Every parser in data_prep/ returns only `Message`.

One JSON object per line in `messages.jsonl`:
    platform   "whatsapp" | "discord" | "telegram" | "messenger" | "instagram" | "imessage" | "sms" | "signal" |
               "slack" | "line" | "wechat" | "qq"
    chat       chat / channel name
    id         message id: the platform's; a line number (WhatsApp, LINE, QQ, Signal); "row<N>" for a record without one
    timestamp  ISO 8601; with the source's UTC offset where it has one, naive local time where not
    author     display name as the export shows it (Discord: nickname over name)
    author_id  stable identity: the platform's user id where one exists, else derived from the name
    text       message text (media/system/deleted keep their marker text or caption)
    kind       "text" | "media" | "system" | "deleted"
    reply_to   id of the message replied to, or null
    edited, forwarded, is_bot   flags
    aka        other names the export gives the author on this message (a Discord username beside the nickname),
               or null
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

KINDS = ("text", "media", "system", "deleted")
PLATFORMS = (
    "whatsapp",
    "discord",
    "telegram",
    "messenger",
    "instagram",
    "imessage",
    "sms",
    "signal",
    "slack",
    "line",
    "wechat",
    "qq",
)


@dataclass  # not slots: orjson serializes __dict__ dataclasses ~4x faster
class Message:
    platform: str
    chat: str
    id: str
    timestamp: str
    author: str
    author_id: str
    text: str
    kind: str = "text"
    reply_to: str | None = None
    edited: bool = False
    forwarded: bool = False
    is_bot: bool = False
    aka: list[str] | None = None


def dump_message(msg: Message) -> bytes:
    """One JSON line (with the trailing newline)."""
    return orjson.dumps(msg, option=orjson.OPT_APPEND_NEWLINE)
