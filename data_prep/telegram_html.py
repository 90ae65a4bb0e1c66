"""Telegram Desktop's default export, HTML (`messages.html`, `messages2.html`, ... in a `ChatExport_<date>` folder).

Each message is a `div.message` with `id="message<N>"`:
  - `.default`: `.from_name` (absent on a "joined" message: the author is the one before, possibly at the end of
    the previous page), `.date.details[title]` = "14.01.2024 21:05:00 UTC+03:00" (older exports: no offset, local
    time), `.text` (`<br>` = newline), `.media_wrap` (photo, file, sticker...), `.forwarded`, `.reply_to` (a link to
    `#go_to_message<N>`);
  - `.service`: a date separator (negative id; not a message) or a system line ("Maya invited Deniz").
A folder holding `messages*.html` is read page by page, in page order.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

from clonekit.data_prep.export_common import head_text, html_text
from clonekit.data_prep.html_export import children_with_class, first_with_class, has_class, load_html
from clonekit.data_prep.report import ParseReport, convert_records
from clonekit.errors import ClonekitError
from clonekit.schema import Message

_PAGE = re.compile(r"^messages(\d*)\.html$")
_STAMP = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?(?: UTC([+-])(\d{1,2}):?(\d{2}))?")
_GO_TO = re.compile(r"go_to_message(\d+)")


def _page_number(path: Path) -> int:
    m = _PAGE.match(path.name)
    return int(m.group(1) or 1) if m else 0


def pages(path: Path) -> list[Path]:
    """The pages to read: a folder's `messages*.html` in page order, or the one file."""
    if path.is_dir():
        return sorted((p for p in path.iterdir() if _PAGE.match(p.name)), key=_page_number)
    return [path]


def is_telegram_html(path: Path) -> bool:
    if path.is_dir():
        found = pages(path)
        return bool(found) and is_telegram_html(found[0])
    if path.suffix.lower() not in (".html", ".htm"):
        return False
    head = head_text(path)
    return (
        'class="page_wrap"' in head
        or ('class="message' in head and "from_name" in head)
        or ("history" in head and 'class="page_header"' in head)
    )


_OTHER_STAMPS = ("%d %B %Y, %H:%M:%S", "%d %B %Y, %H:%M", "%d %B %Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


def timestamp_of(title: str) -> str:
    m = _STAMP.search(title)
    if m is None:
        raw = " ".join(title.split())
        for fmt in _OTHER_STAMPS:  # older and hand-made exports
            try:
                return dt.datetime.strptime(raw, fmt).isoformat()
            except ValueError:
                continue
        raise ValueError(f"no date in {title!r}")
    d, mo, y, h, mi, s, sign, oh, om = m.groups()
    local = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
    if sign:
        offset = dt.timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
        if abs(offset) > dt.timedelta(hours=14):
            raise ValueError(f"UTC offset out of range in {title!r}")
        local = local.replace(tzinfo=dt.timezone(offset))
    return local.isoformat()


def _chat_name(root, path: Path) -> str:
    header = first_with_class(root, "page_header")
    title = first_with_class(header, "text") if header is not None else None
    name = html_text(title).strip() if title is not None else ""
    return name or (path.parent.name if path.is_file() else path.name)


def _last_author(page: Path) -> str | None:
    """The last `.from_name` of a page (for a "joined" message at the top of the next page)."""
    try:
        root = load_html(page)
    except ClonekitError:
        return None
    author = None
    for msg in root.iter("div"):
        if has_class(msg, "message") and has_class(msg, "default"):
            body = children_with_class(msg, "body")
            name = children_with_class(body[0], "from_name") if body else []
            if name:
                author = html_text(name[0]).strip()
    return author


def parse_telegram_html(path: Path, report: ParseReport) -> Iterator[Message]:
    files = pages(path)
    if not files:
        raise ClonekitError("no messages.html in the folder (expected a Telegram Desktop HTML export)", path)
    author: str | None = None
    first = files[0]
    number = _page_number(first)
    if number > 1:  # a later page on its own: its first messages may continue the previous page's last author
        author = _last_author(first.with_name(f"messages{number - 1 if number > 2 else ''}.html"))
    last_stamp: str | None = None

    def convert(el):
        nonlocal author, last_stamp
        msg, author = _message(el, chat, author, last_stamp)
        if isinstance(msg, Message):
            last_stamp = msg.timestamp
        return msg

    for page in files:
        root = load_html(page)
        chat = _chat_name(root, path)
        yield from convert_records(_messages(root), convert, report, page, line_of=lambda el: el.sourceline)


def _messages(root) -> Iterator:
    """The page's message elements, date separators (services with a negative id) left out: not messages."""
    for el in root.iter("div"):
        if has_class(el, "message") and not (has_class(el, "service") and (el.get("id") or "").startswith("message-")):
            yield el


def _message(el, chat: str, author: str | None, last_stamp: str | None):
    """(a Message, None for an empty one, or the reason it is skipped; the author a "joined" message after it
    takes). A service message without a date (most of them) takes the time of the message before it."""
    mid = (el.get("id") or "").removeprefix("message")
    if not mid:
        raise KeyError("id")
    body = children_with_class(el, "body")
    if has_class(el, "service"):
        text = html_text(body[0]).strip() if body else html_text(el).strip()
        if not text:
            return None, author
        when = first_with_class(el, "date")
        stamp = timestamp_of(when.get("title") or "") if when is not None else last_stamp
        if stamp is None:
            return "no date", author
        return Message("telegram", chat, mid, stamp, "", "", text, "system"), author
    body = body[0] if body else el  # a hand-made page may put the fields straight in the message
    name = children_with_class(body, "from_name")
    if name:
        author = html_text(name[0]).strip()
    if not author:
        raise KeyError("from_name")
    date = children_with_class(body, "date")
    if not date:
        raise KeyError("date")
    stamp = timestamp_of(date[0].get("title") or "")
    forwarded = bool(children_with_class(body, "forwarded"))
    content = children_with_class(body, "forwarded")[0] if forwarded else body
    texts = children_with_class(content, "text")
    text = "\n".join(html_text(t).strip() for t in texts).strip()
    media = children_with_class(content, "media_wrap")
    reply = None
    reply_div = children_with_class(body, "reply_to")
    if reply_div:
        link = reply_div[0].find(".//a")
        m = _GO_TO.search((link.get("href") or "") + (link.get("onclick") or "")) if link is not None else None
        reply = m.group(1) if m else None
    edited = "edited" in (date[0].get("title") or "").lower()
    if text:
        kind = "text"
    elif media:
        kind, text = "media", _media_label(media[0])
    else:
        return None, author
    uid = f"telegram:name:{author}"
    return Message("telegram", chat, mid, stamp, author, uid, text, kind, reply, edited, forwarded), author


def _media_label(wrap) -> str:
    """ "photo", "video", "sticker", "voice message"... from the media block's classes, or its title text."""
    for node in wrap.iterdescendants():
        for cls in (node.get("class") or "").split() if isinstance(node.tag, str) else []:
            if cls.endswith("_wrap") and cls not in ("media_wrap", "clearfix"):
                return cls.removesuffix("_wrap").replace("_", " ")
    title = first_with_class(wrap, "title")
    return html_text(title).strip() if title is not None else "media"
