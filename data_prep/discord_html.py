"""DiscordChatExporter's HTML export (`Guild - channel [id].html`) -> `Message`.

Messages come in `div.chatlog__message-group`s; each `div.chatlog__message-container[data-message-id]` is one
message. The first of a group has the header: `.chatlog__author` (nickname as text, `title` = user name,
`data-user-id`), a `BOT` tag, `.chatlog__timestamp`; the others only a `.chatlog__short-timestamp[title]` with the
full date, and the group's author. System notifications (joins, pins, calls) have their own classes. Dates are
the exporter's local time in its locale's format ("1/14/2024 9:05 PM", older "14-Jan-24 09:05 PM"), without an
offset: they stay naive.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from clonekit.data_prep.discord import iso_timestamp
from clonekit.data_prep.export_common import head_text, html_text
from clonekit.data_prep.html_export import first_with_class, has_class, load_html
from clonekit.data_prep.report import ParseReport, convert_records
from clonekit.schema import Message

_SCROLL = re.compile(r"scrollToMessage\(event,\s*'(\d+)'\)")


def is_dce_html(path: Path) -> bool:
    return path.suffix.lower() in (".html", ".htm") and "chatlog__" in head_text(path, 1 << 16)


def _chat_name(root, path: Path) -> str:
    title = root.find(".//title")
    text = (title.text or "").strip() if title is not None else ""
    if text.startswith("Direct Messages - "):
        text = text.removeprefix("Direct Messages - ")
    return text.replace(" - ", " / ", 1) or path.stem


def parse_dce_html(path: Path, report: ParseReport) -> Iterator[Message]:
    root = load_html(path)
    chat = _chat_name(root, path)
    for group in root.iter("div"):
        if not has_class(group, "chatlog__message-group"):
            continue
        author: tuple[str, str, bool, list[str] | None] | None = None  # a group's later messages are its first's

        def convert(container):
            nonlocal author
            msg, author = _message(container, chat, author)
            return msg

        containers = [c for c in group.iter("div") if has_class(c, "chatlog__message-container")]
        if not containers:  # DiscordChatExporter before 2.30: one author and time a group, `.chatlog__message`s
            old = [c for c in group.iter("div") if has_class(c, "chatlog__message") and c.get("data-message-id")]
            yield from convert_records(old, _old_layout(group, chat), report, path, line_of=_line)
            continue
        yield from convert_records(containers, convert, report, path, line_of=_line)


def _old_layout(group, chat: str):
    """The converter of an old-layout group's messages: the group's author (`.chatlog__author-name`, with `title`
    and `data-user-id`) and time (`.chatlog__timestamp`) for each."""
    name_el = first_with_class(group, "chatlog__author-name")
    stamp_el = first_with_class(group, "chatlog__timestamp")
    tag = first_with_class(group, "chatlog__bot-tag")

    def convert(el):
        if name_el is None or stamp_el is None:
            raise KeyError("author" if name_el is None else "timestamp")
        name = html_text(name_el).strip()
        user = name_el.get("title") or ""
        uid = name_el.get("data-user-id") or user or name
        author = (name, f"discord:{uid}", tag is not None, [user] if user and user != name else None)
        return _content(el, chat, el.get("data-message-id"), iso_timestamp(html_text(stamp_el)), author)

    return convert


def _line(el) -> int | None:
    return el.sourceline


def _message(el, chat: str, author):
    mid = el.get("data-message-id") or (el.get("id") or "").removeprefix("chatlog__message-container-")
    if not mid:
        raise KeyError("data-message-id")
    system_author = first_with_class(el, "chatlog__system-notification-author")
    if system_author is not None:
        content = first_with_class(el, "chatlog__system-notification-content")
        stamp = first_with_class(el, "chatlog__system-notification-timestamp")
        if stamp is None:
            raise KeyError("timestamp")
        who = html_text(system_author).strip()
        text = f"{who} {html_text(content).strip() if content is not None else ''}".strip()
        return Message("discord", chat, mid, iso_timestamp(html_text(stamp)), "", "", text, "system"), author
    header_author = first_with_class(el, "chatlog__author")
    if header_author is not None:
        name = html_text(header_author).strip()
        user = header_author.get("title") or ""
        uid = header_author.get("data-user-id") or user or name
        tag = first_with_class(el, "chatlog__author-tag")
        is_bot = tag is not None and html_text(tag).strip() in ("BOT", "APP", "SERVER")
        aka = [user] if user and user != name else None
        author = (name, f"discord:{uid}", is_bot, aka)
        stamp_el = first_with_class(el, "chatlog__timestamp")
    else:
        stamp_el = first_with_class(el, "chatlog__short-timestamp")
    if author is None:
        raise KeyError("author")
    if stamp_el is None:
        raise KeyError("timestamp")
    stamp = iso_timestamp(stamp_el.get("title") or html_text(stamp_el))
    return _content(el, chat, mid, stamp, author), author


def _content(el, chat: str, mid: str, stamp: str, author) -> Message | None:
    """A message's text (or attachment) and flags, as both layouts write them."""
    preserve = first_with_class(el, "chatlog__markdown-preserve")
    if preserve is None:  # the old layout's name for it
        preserve = first_with_class(el, "preserve-whitespace")
    content = first_with_class(el, "chatlog__content")
    text = html_text(preserve if preserve is not None else content).strip() if content is not None else ""
    edited = first_with_class(el, "chatlog__edited-timestamp") is not None
    if edited and preserve is None:
        text = text.removesuffix("(edited)").strip()
    reply = None
    link = first_with_class(el, "chatlog__reply-link")
    if link is not None:
        m = _SCROLL.search(link.get("onclick") or "")
        reply = m.group(1) if m else None
    if text:
        kind = "text"
    else:
        files = [first_with_class(el, c) for c in ("chatlog__attachment", "chatlog__sticker", "chatlog__embed")]
        found = next((f for f in files if f is not None), None)
        if found is None:
            return None
        link = found.find(".//a[@href]")
        kind = "media"
        text = (link.get("href") or "").rsplit("/", 1)[-1].split("?")[0] if link is not None else ""
        text = text or "attachment"
    name, uid, is_bot, aka = author
    return Message("discord", chat, mid, stamp, name, uid, text, kind, reply, edited, False, is_bot, aka)
