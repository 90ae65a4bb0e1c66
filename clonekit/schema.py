"""The canonical message schema. Every parser in data_prep/ returns only `Message`.

One JSON object per line in `messages.jsonl`:
    platform   "whatsapp" | "discord" | "telegram"
    chat       chat / channel name
    id         message id (the platform's, or the header's line number for WhatsApp)
    timestamp  ISO 8601; with the source's UTC offset where it has one, naive local time where not
    author     display name as the export shows it (Discord: nickname over name)
    author_id  stable identity: the platform's user id where one exists, else derived from the name
    text       message text (media/system/deleted keep their marker text or caption)
    kind       "text" | "media" | "system" | "deleted"
    reply_to   id of the message replied to, or null
    edited, forwarded, is_bot   flags
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterator

import orjson

from clonekit.errors import ClonekitError

KINDS = ("text", "media", "system", "deleted")
PLATFORMS = ("whatsapp", "discord", "telegram")


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


MESSAGE_FIELDS = tuple(f.name for f in fields(Message))
_REQUIRED = ("platform", "chat", "id", "timestamp", "author", "author_id", "text")


def dump_message(msg: Message) -> bytes:
    """One JSON line (with the trailing newline)."""
    return orjson.dumps(msg, option=orjson.OPT_APPEND_NEWLINE)


def read_messages(path: str | Path) -> Iterator[Message]:
    """Stream `messages.jsonl`; a malformed line raises a ClonekitError naming file and line."""
    path = Path(path)
    if not path.exists():
        raise ClonekitError("file not found", path)
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise ClonekitError(f"not a JSON object: {e}", path, lineno) from None
            if not isinstance(obj, dict) or any(k not in obj for k in _REQUIRED):
                missing = [k for k in _REQUIRED if not isinstance(obj, dict) or k not in obj]
                raise ClonekitError(
                    f"not a clonekit message (missing {', '.join(missing)}); "
                    "run `clonekit prep parse` on the export first",
                    path,
                    lineno,
                )
            try:
                yield Message(**{k: obj[k] for k in MESSAGE_FIELDS if k in obj})
            except TypeError as e:
                raise ClonekitError(f"bad message: {e}", path, lineno) from None
