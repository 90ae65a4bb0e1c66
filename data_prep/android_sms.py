"""Android SMS/MMS from SMS Backup & Restore (SyncTech) XML -> `Message`, streamed (a backup with pictures is
hundreds of MB: each element is freed once read).

    <smses count="2">
      <sms address="+15551234567" date="1705266300000" type="1" body="hi" contact_name="Maya K"
           readable_date="Jan 14, 2024 9:05:00 PM" />
      <mms date="1705266400000" msg_box="1" address="+1555...~+1555..." contact_name="Maya K, Deniz">
        <parts><part ct="text/plain" text="hello all" /><part ct="image/jpeg" name="IMG.jpg" data="..." /></parts>
        <addrs><addr address="+15551234567" type="137" /><addr address="+15559876543" type="151" /></addrs>
      </mms>
    </smses>

SMS `type` / MMS `msg_box`: 1 received (the contact wrote it), 2 sent (the owner: `--self-name`, else "Me"),
3 draft, 4 outbox, 5 failed, 6 queued (not sent: skipped). An MMS's sender is its `addr` of type 137; names come
from `contact_name`, in the order of the `~`-separated addresses. `date` is Unix milliseconds; `readable_date`
(the phone's local time) gives the UTC offset when it can be read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from clonekit.data_prep.export_common import head_text, with_local_offset
from clonekit.data_prep.report import RECORD_ERRORS, ParseReport
from clonekit.errors import ClonekitError
from clonekit.schema import Message

NOT_SENT = {"3": "draft", "4": "not sent", "5": "not sent", "6": "not sent"}
FROM_ADDR = "137"
_READABLE = (
    "%b %d, %Y %I:%M:%S %p",
    "%d %b %Y %H:%M:%S",
    "%b %d, %Y %H:%M:%S",
    "%d.%m.%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
)


def is_sms_backup(path: Path) -> bool:
    return path.suffix.lower() == ".xml" and "<smses" in head_text(path, 4096)


def _local(readable: str | None) -> dt.datetime | None:
    if not readable:
        return None
    raw = " ".join(readable.replace("\u202f", " ").split())
    for fmt in _READABLE:
        try:
            return dt.datetime.strptime(raw, fmt)
        except ValueError:
            continue
    return None


def _name(name: str | None, address: str) -> str:
    return name if name and name not in ("(Unknown)", "null") else address


def parse_sms_backup(path: Path, report: ParseReport, self_name: str | None = None) -> Iterator[Message]:
    import lxml.etree

    me = self_name or "Me"
    context = lxml.etree.iterparse(
        str(path), events=("end",), tag=("sms", "mms"), huge_tree=True, resolve_entities=False, no_network=True
    )
    try:
        for _, el in context:
            report.read += 1
            try:
                msg = _sms(el, me) if el.tag == "sms" else _mms(el, me)
            except RECORD_ERRORS as e:
                report.warn(path, el.sourceline, f"{el.tag} skipped: {type(e).__name__}: {e}")
                msg = "malformed"
            el.clear(keep_tail=False)
            parent = el.getparent()
            while parent is not None and el.getprevious() is not None:
                del parent[0]
            if isinstance(msg, str):
                report.skip(msg)
            else:
                yield msg
    except lxml.etree.XMLSyntaxError as e:
        raise ClonekitError(f"not well-formed XML: {e.msg}", path, e.lineno) from None


def _stamp(el) -> str:
    return with_local_offset(int(el.get("date")) / 1000, _local(el.get("readable_date")))


def _sms(el, me: str) -> Message | str:
    kind = el.get("type") or "1"
    if kind in NOT_SENT:
        return NOT_SENT[kind]
    address = el.get("address") or ""
    contact = _name(el.get("contact_name"), address)
    text = el.get("body") or ""
    if not text.strip():
        return "empty"
    stamp = _stamp(el)
    author, uid = (me, "sms:me") if kind == "2" else (contact, f"sms:{address}")
    return Message("sms", contact, _id(el, address), stamp, author, uid, text)


def _id(el, address: str) -> str:
    """Stable across backups of the same phone (overlapping backups then drop their repeats)."""
    return f"{el.tag}:{el.get('date')}:{address}:{el.get('type') or el.get('msg_box') or ''}"


def _mms(el, me: str) -> Message | str:
    box = el.get("msg_box") or "1"
    if box in NOT_SENT:
        return NOT_SENT[box]
    addresses = [a for a in (el.get("address") or "").split("~") if a]
    names = [n.strip() for n in (el.get("contact_name") or "").split(",")]
    name_of = {a: _name(names[i] if i < len(names) else None, a) for i, a in enumerate(addresses)}
    chat = ", ".join(name_of.values()) or "MMS"
    sender = next((a.get("address") for a in el.iter("addr") if a.get("type") == FROM_ADDR), None) or ""
    texts, media = [], []
    for part in el.iter("part"):
        ct = (part.get("ct") or "").lower()
        if ct == "text/plain" and part.get("text") not in (None, "null"):
            texts.append(part.get("text"))
        elif ct and ct != "application/smil":
            media.append(part.get("name") if part.get("name") not in (None, "null") else ct)
    stamp = _stamp(el)
    if box == "2":
        author, uid = me, "sms:me"
    else:
        author, uid = name_of.get(sender, _name(None, sender) or "Unknown"), f"sms:{sender}"
    text = "\n".join(t for t in texts if t).strip()
    if text:
        return Message("sms", chat, _id(el, sender), stamp, author, uid, text)
    if media:
        return Message("sms", chat, _id(el, sender), stamp, author, uid, media[0], "media")
    return "empty"
