"""Slack workspace export (the zip from Settings -> Import/Export Data, or its folder) -> `Message`.

    users.json            [{"id": "U01", "name": "maya", "real_name": "Maya K",
                            "profile": {"display_name": "maya", "real_name": "Maya K"}, "is_bot": false}, ...]
    channels.json         [{"id": "C01", "name": "general"}, ...]   (also groups.json, dms.json, mpims.json)
    general/2024-01-14.json   [{"type": "message", "user": "U01", "text": "hi <@U02>", "ts": "1705266300.000200",
                                "thread_ts": "...", "subtype": "channel_join", "files": [...],
                                "edited": {...}, "bot_id": "B01", "user_profile": {...}}, ...]

Mentions `<@U02>` become "@Name", channels `<#C01|general>` "#general", links `<https://x|label>` their label,
`&amp;`/`&lt;`/`&gt;` are unescaped. A thread reply points at its thread's first message (`thread_ts`).
Joins, leaves, topic/purpose/name changes are system lines; `tombstone` is a deleted message; a file share
without text is media. `ts` is Unix seconds: UTC. A person's name is their display name, else real name, else
user name.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path, PurePosixPath

from clonekit.data_prep.archive import ExportTree, is_zip
from clonekit.data_prep.export_common import utc_iso
from clonekit.data_prep.jsonfile import parse_json
from clonekit.data_prep.report import ParseReport, as_dict, convert_records
from clonekit.errors import ClonekitError
from clonekit.schema import Message

SYSTEM_SUBTYPES = {
    "channel_join",
    "channel_leave",
    "channel_topic",
    "channel_purpose",
    "channel_name",
    "channel_archive",
    "channel_unarchive",
    "group_join",
    "group_leave",
    "group_topic",
    "group_purpose",
    "group_name",
    "pinned_item",
    "unpinned_item",
    "reminder_add",
    "bot_add",
    "bot_remove",
}
CHANNEL_LISTS = ("channels.json", "groups.json", "dms.json", "mpims.json")
_DAY_FILE = re.compile(r"(?:^|/)([^/]+)/(\d{4}-\d{2}-\d{2})\.json$")
_TOKEN = re.compile(r"<([@#!])?([^>|]*)(?:\|([^>]*))?>")


def is_slack(path: Path) -> bool:
    if not (path.is_dir() or is_zip(path)):
        return False
    try:
        tree = ExportTree(path)
    except (OSError, ClonekitError):
        return False
    names = {PurePosixPath(n).name for n in tree.names if n.count("/") <= 1}
    return "users.json" in names and bool(names & set(CHANNEL_LISTS)) and any(_DAY_FILE.search(n) for n in tree.names)


def _load(tree: ExportTree, name: str, shown: str):
    return parse_json(tree.read(name), shown)


def _user_names(users) -> dict[str, tuple[str, bool, list[str]]]:
    """user id -> (shown name, is_bot, other names)."""
    found = {}
    for u in users if isinstance(users, list) else []:
        if not isinstance(u, dict) or not isinstance(u.get("id"), str):
            continue
        profile = as_dict(u.get("profile"))
        candidates = [profile.get("display_name"), profile.get("real_name"), u.get("real_name"), u.get("name")]
        names = [str(n) for n in candidates if n and isinstance(n, str)]
        shown = names[0] if names else u["id"]
        found[u["id"]] = (shown, bool(u.get("is_bot")), sorted(set(names) - {shown}))
    return found


def render(text: str, users: dict, channels: dict[str, str]) -> str:
    """Slack's markup as a reader sees it."""

    def token(m: re.Match) -> str:
        sigil, target, label = m.group(1), m.group(2), m.group(3)
        if sigil == "@":
            return "@" + (label or (users[target][0] if target in users else target))
        if sigil == "#":
            return "#" + (label or channels.get(target, target))
        if sigil == "!":
            return "@" + (label or target.split("^")[0])
        return label or target

    return html.unescape(_TOKEN.sub(token, text))


def parse_slack(path: Path, report: ParseReport, max_bytes: int | None = None) -> Iterator[Message]:
    tree = ExportTree(path, max_bytes)
    root = f"{path}" + ("!" if tree.zip else "/")
    prefix = next((n[: -len("users.json")] for n in tree.names if PurePosixPath(n).name == "users.json"), "")
    users = _user_names(_load(tree, prefix + "users.json", root + prefix + "users.json"))
    channels: dict[str, str] = {}
    for listing in CHANNEL_LISTS:
        if prefix + listing in tree.names:
            found = _load(tree, prefix + listing, root + prefix + listing)
            for c in found if isinstance(found, list) else []:
                if isinstance(c, dict) and isinstance(c.get("id"), str):
                    channels[c["id"]] = str(c.get("name") or c["id"])
    days = sorted((m.group(1), m.group(2), n) for n in tree.names if (m := _DAY_FILE.search(n)))
    for channel, _, name in days:
        records = _load(tree, name, root + name)
        if not isinstance(records, list):
            raise ClonekitError("a day's messages must be a JSON list", root + name)
        convert = partial(_message, chat=channel, users=users, channels=channels)
        yield from convert_records(records, convert, report, root + name)


def _message(m: dict, chat: str, users: dict, channels: dict) -> Message | None:
    ts = m["ts"]
    stamp = utc_iso(int(float(ts)))  # the fraction orders messages within a second: the id keeps it
    subtype = m.get("subtype") or ""
    uid = m.get("user") or m.get("bot_id") or ""
    if not isinstance(uid, str):
        raise TypeError("user must be a string")
    profile = as_dict(m.get("user_profile"))
    known = users.get(uid)
    name = (
        known[0] if known else str(profile.get("display_name") or profile.get("real_name") or m.get("username") or uid)
    )
    is_bot = bool(m.get("bot_id")) or subtype == "bot_message" or bool(known and known[1])
    aka = (known[2] or None) if known else None
    text = render(m.get("text") or "", users, channels)
    thread = m.get("thread_ts")
    reply = str(thread) if thread and thread != ts else None
    edited = bool(m.get("edited"))
    if subtype in SYSTEM_SUBTYPES:
        return Message("slack", chat, str(ts), stamp, "", "", text or subtype, "system")
    if subtype == "tombstone" or subtype == "message_deleted":
        return Message("slack", chat, str(ts), stamp, "", "", text or "deleted", "deleted")
    if not text.strip():
        files = m.get("files") or m.get("attachments") or []
        if not files:
            return None
        first = files[0] if isinstance(files[0], dict) else {}
        label = str(first.get("name") or first.get("title") or first.get("fallback") or "file")
        return Message(
            "slack", chat, str(ts), stamp, name, f"slack:{uid}", label, "media", reply, edited, False, is_bot, aka
        )
    return Message("slack", chat, str(ts), stamp, name, f"slack:{uid}", text, "text", reply, edited, False, is_bot, aka)
