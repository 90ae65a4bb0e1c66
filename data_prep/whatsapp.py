"""WhatsApp `.txt` / `.zip` exports (Android and iOS, any locale we know) -> `Message`.

Streaming: the file is read line by line, never held as a list. A first pass over the header
lines infers day/month order (stopping as soon as a field > 12 decides it); the second pass
builds messages. A line that is not a header of the file's style continues the previous
message verbatim (blank lines and lines that start with a date but no time included).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from clonekit.errors import ClonekitError, decode_error
from clonekit.schema import Message
from data_prep.report import ParseReport

_SP = "[ \u202f\u00a0]"
_DATE = r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}"
_TIME = r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?"
_AMPM = rf"[AaPp]\.?{_SP}?[Mm]\.?"
_BETWEEN = rf"\.?,?{_SP}(?:klo{_SP}|um{_SP}|à{_SP}|kl\.{_SP})?"
HEADER = re.compile(
    r"[\u200e\u200f\ufeff]*"
    rf"(?:\[(?P<bd>{_DATE}){_BETWEEN}(?P<bt>{_TIME})(?:{_SP}?(?P<ba>{_AMPM}))?\]{_SP}?"
    rf"|(?P<d>{_DATE}){_BETWEEN}(?P<t>{_TIME})(?:{_SP}?(?P<a>{_AMPM}))?{_SP}[-–]{_SP})"
)
_DATE_SPLIT = re.compile(r"[./-]")
_TIME_SPLIT = re.compile(r"[:.]")

MEDIA_MARKERS = frozenset(
    {
        "<Media omitted>", "<Medien ausgeschlossen>", "<Multimedia omitido>", "<Multimedia omitidos>",
        "<Médias omis>", "<Média omis>", "<Media weggelaten>", "<Mídia oculta>", "<Arquivo de mídia oculto>",
        "<Medya dahil edilmedi>", "<Media omessi>", "<Media dihilangkan>", "<Медиа отсутствует>",
        "<Без медиафайлов>",
        "image omitted", "video omitted", "audio omitted", "sticker omitted", "GIF omitted",
        "document omitted", "Contact card omitted", "contact omitted",
        "Bild weggelassen", "Video weggelassen", "Audio weggelassen", "Sticker weggelassen",
        "GIF weggelassen", "Dokument weggelassen",
        "imagen omitida", "video omitido", "audio omitido", "sticker omitido", "GIF omitido",
        "image absente", "vidéo absente", "audio omis", "görüntü dahil edilmedi",
    }
)
_MEDIA_RE = re.compile(
    r"<(?:attached|angehängt|adjunto|pièce jointe|anexado|allegato|ekli): [^>]+>"
    r"|\S.*\.\w{2,5} \((?:file attached|Datei angehängt|archivo adjunto|fichier joint"
    r"|arquivo anexado|file allegato|dosya ekli)\)"
)
# iOS media lines start with U+200E and end with "<kind> omitted" (localized); only trusted after the mark
_IOS_OMITTED = re.compile(r"(?:omitted|weggelassen|omitido|omitida|omis|absente|dahil edilmedi)$")
DELETED_MARKERS = frozenset(
    {
        "This message was deleted", "You deleted this message",
        "Diese Nachricht wurde gelöscht", "Du hast diese Nachricht gelöscht",
        "Se eliminó este mensaje", "Eliminaste este mensaje",
        "Ce message a été supprimé", "Vous avez supprimé ce message",
        "Bu mesaj silindi", "Bu mesajı sildiniz",
        "Esta mensagem foi apagada", "Você apagou esta mensagem",
        "Questo messaggio è stato eliminato", "Hai eliminato questo messaggio",
        "Dit bericht is verwijderd", "Je hebt dit bericht verwijderd",
    }
)
EDITED_MARKERS = (
    "<This message was edited>", "<Diese Nachricht wurde bearbeitet>", "<Se editó este mensaje.>",
    "<Ce message a été modifié>", "<Bu mesaj düzenlendi>", "<Esta mensagem foi editada>",
    "<Questo messaggio è stato modificato>", "<Dit bericht is bewerkt>",
)
# Android system lines carry no "Author: ", but some contain ": " inside quotes or after a verb.
_SYSTEM_AUTHOR = re.compile(
    r"[\"“”«»]|\b(?:created group|created this group|changed the subject|changed the group|changed this group"
    r"|added|removed|left|joined using|pinned a message|changed their phone number|changed to"
    r"|hat die Gruppe|hat den Betreff|creó el grupo|cambió el asunto)\b"
)
_MARKS = " \u200e\u200f\u202a\u202c\ufeff"
_CHAT_NAME = re.compile(
    r"^(?:WhatsApp[ -]Chat(?: with| mit| con| avec| ile)?|Chat de WhatsApp con|Conversa do WhatsApp com)"
    r"[ -]*(?P<name>.+)$",
    re.I,
)


def chat_name_from_path(path: Path, member: str | None = None) -> str:
    """'WhatsApp Chat with Foo.txt' -> 'Foo'; iOS '_chat.txt' inside 'WhatsApp Chat - Foo.zip' -> 'Foo'."""
    for stem in ([Path(member).stem] if member else []) + [path.stem]:
        if stem.lower() in ("_chat", "chat", "whatsapp"):
            continue
        m = _CHAT_NAME.match(stem)
        return (m.group("name") if m else stem).strip(" -_") or stem
    return path.stem


def _pick_member(path: Path, zf: zipfile.ZipFile) -> str:
    txts = [n for n in zf.namelist() if n.lower().endswith(".txt") and not n.startswith("__MACOSX")]
    if not txts:
        raise ClonekitError("zip file holds no .txt chat export", path)
    chat = [n for n in txts if Path(n).name == "_chat.txt" or Path(n).name.lower().startswith("whatsapp")]
    return (chat or txts)[0]


@contextmanager
def _open_text(path: Path, member: str | None):
    if member is None:
        f = open(path, encoding="utf-8-sig", newline="\n")
    else:
        zf = zipfile.ZipFile(path)
        f = io.TextIOWrapper(zf.open(member), encoding="utf-8-sig", newline="\n")
    try:
        yield f
    finally:
        f.close()


def _raw_bytes(path: Path, member: str | None) -> bytes:
    if member is None:
        return path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        return zf.read(member)


def _lines(path: Path, member: str | None) -> Iterator[str]:
    """Lines without their line ending; a bad encoding raises an error with line and column."""
    with _open_text(path, member) as f:
        try:
            for line in f:
                yield line.rstrip("\r\n")
        except UnicodeDecodeError:
            data = _raw_bytes(path, member)
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as err:
                raise decode_error(f"{path}" + (f"!{member}" if member else ""), data, err) from None
            raise


def sniff(path: Path, max_lines: int = 50) -> bool:
    """True if one of the first lines is a WhatsApp header."""
    member = None
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            try:
                member = _pick_member(path, zf)
            except ClonekitError:
                return False
    try:
        for i, line in enumerate(_lines(path, member)):
            if i >= max_lines:
                break
            if HEADER.match(line):
                return True
    except (ClonekitError, UnicodeDecodeError, OSError):
        return False
    return False


def _iso_date(raw: str, dayfirst: bool) -> str | None:
    a, b, c = _DATE_SPLIT.split(raw)
    if len(a) == 4:
        y, m, d = a, b, c
    elif dayfirst:
        d, m, y = a, b, c
    else:
        m, d, y = a, b, c
    year = int(y)
    if len(y) <= 2:
        year += 2000
    try:
        return dt.date(year, int(m), int(d)).isoformat()
    except ValueError:
        return None


def _iso_time(raw: str, ampm: str | None) -> str | None:
    parts = _TIME_SPLIT.split(raw)
    h, mi = int(parts[0]), int(parts[1])
    s = int(parts[2]) if len(parts) > 2 else 0
    if ampm:
        if not 1 <= h <= 12:
            return None
        pm = ampm[0] in "pP"
        h = (h % 12) + (12 if pm else 0)
    if h > 23 or mi > 59 or s > 59:
        return None
    return f"{h:02d}:{mi:02d}:{s:02d}"


def infer_dayfirst(lines: Iterator[str], dayfirst: bool | None) -> tuple[bool, bool | None, str | None]:
    """Decide day/month order from the header dates of the whole file.

    Returns (dayfirst, bracket_style, warning). Any first field > 12 means day first, any
    second field > 12 means month first. Undecided: the order under which the dates run
    forward in time wins; still undecided: the `dayfirst` flag, else day first with a warning.
    """
    first_big = second_big = False
    year_first = dotted = False
    bracket: bool | None = None
    seen: dict[str, None] = {}
    for line in lines:
        m = HEADER.match(line)
        if m is None:
            continue
        raw = m.group("bd") or m.group("d")
        if bracket is None:
            bracket = m.group("bd") is not None
        if raw in seen:
            continue
        seen[raw] = None
        a, b, _ = _DATE_SPLIT.split(raw)
        if len(a) == 4:
            year_first = True
            break
        dotted = dotted or "." in raw
        first_big = first_big or int(a) > 12
        second_big = second_big or int(b) > 12
        if first_big or second_big:
            break
    if year_first:
        return True, bracket, None
    if first_big and not second_big:
        return True, bracket, None
    if second_big and not first_big:
        return False, bracket, None
    if dotted:
        return True, bracket, None
    if dayfirst is not None:
        return dayfirst, bracket, None
    order = _order_by_monotonic(list(seen))
    if order is not None:
        return order, bracket, None
    return True, bracket, (
        "day/month order is ambiguous (no day above 12); assuming day first: "
        "pass --monthfirst if dates are month/day"
    )


def _order_by_monotonic(raw_dates: list[str]) -> bool | None:
    def backwards(dayfirst: bool) -> int:
        isos = [_iso_date(r, dayfirst) for r in raw_dates]
        if None in isos:
            return len(isos) + 1
        return sum(1 for x, y in zip(isos, isos[1:]) if y < x)

    d, m = backwards(True), backwards(False)
    if d == m:
        return None
    return d < m


def parse_whatsapp(path: str | Path, report: ParseReport, dayfirst: bool | None = None) -> Iterator[Message]:
    """Yield every message of a WhatsApp export. `report` counts read/skipped and collects warnings."""
    path = Path(path)
    member = None
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            member = _pick_member(path, zf)
    shown = f"{path}" + (f"!{member}" if member else "")
    dayfirst, bracket, warning = infer_dayfirst(_lines(path, member), dayfirst)
    if bracket is None:
        raise ClonekitError("no WhatsApp message header found (expected e.g. '31/12/21, 23:59 - Name: text')", path)
    if warning:
        report.warn(shown, None, warning)
    builder = _MessageBuilder(chat_name_from_path(path, member))
    yield from _parse_lines(_lines(path, member), 1, shown, dayfirst, bracket, builder, report)
    report.read += builder.count


def _parse_lines(lines, first_lineno, shown, dayfirst, bracket, builder, report) -> Iterator[Message]:
    """The hot loop: one regex match per line; timestamps cached per header and per date."""
    time_cache: dict[tuple[str, str | None], str | None] = {}
    build = builder.build
    match = HEADER.match
    groups = ("bd", "bt", "ba") if bracket else ("d", "t", "a")
    last_header = last_date = None
    iso_d = ts = None
    cur_line = 0
    cur_ts = cur_rest = ""
    parts: list[str] = []
    for lineno, line in enumerate(lines, first_lineno):
        m = match(line)
        if m is not None:
            header = m.group(0)
            if header != last_header:
                raw_d, raw_t, raw_a = m.group(*groups)
                if raw_d is None:  # a header of the other style: text that happens to look like one
                    m = None
                else:
                    if raw_d != last_date:
                        iso_d = _iso_date(raw_d, dayfirst)
                        last_date = raw_d
                    key = (raw_t, raw_a)
                    iso_t = time_cache.get(key, "")
                    if iso_t == "":
                        iso_t = time_cache[key] = _iso_time(raw_t, raw_a)
                    if iso_d is None or iso_t is None:
                        report.warn(shown, lineno, f"invalid date/time {raw_d} {raw_t}: kept as message text")
                        m = None
                        last_header = None
                    else:
                        ts = f"{iso_d}T{iso_t}"
                        last_header = header
        if m is None:
            if cur_line:
                parts.append(line)
            elif line.strip(_MARKS):
                report.warn(shown, lineno, "text before the first message header ignored")
            continue
        if cur_line:
            msg = build(cur_line, cur_ts, cur_rest, parts)
            if msg is None:
                report.skip("empty")
            else:
                yield msg
            if parts:
                parts = []
        cur_line = lineno
        cur_ts = ts
        cur_rest = line[m.end() :]
    if cur_line:
        msg = build(cur_line, cur_ts, cur_rest, parts)
        if msg is None:
            report.skip("empty")
        else:
            yield msg


class _MessageBuilder:
    """Turns one header line (+ continuation lines) into a Message. Author classification is
    cached: a chat has few authors, and the system-line check is a regex search."""

    def __init__(self, chat: str):
        self.chat = chat
        self.count = 0
        self.authors: dict[str, tuple[str, str] | None] = {}

    def _author(self, candidate: str) -> tuple[str, str] | None:
        found = self.authors.get(candidate, 0)
        if found == 0:
            name = candidate.strip(_MARKS)
            if not name or _SYSTEM_AUTHOR.search(name):
                found = None
            else:
                if name[:1] == "~":  # WhatsApp marks people who are not in the exporter's contacts
                    name = name[1:].lstrip(" \u202f\u00a0")
                found = (name, "whatsapp:" + name)
            self.authors[candidate] = found
        return found

    def build(self, lineno: int, ts: str, rest: str, parts: list[str]) -> Message | None:
        self.count += 1
        idx = rest.find(": ")
        if idx < 0 and rest.endswith(":") and not parts:
            idx = len(rest) - 1  # "Name:" with an empty body
        who = self._author(rest[:idx]) if idx >= 0 else None
        if who is None:
            text = rest if not parts else rest + "\n" + "\n".join(parts)
            author = author_id = ""
            kind = "system"
            text = text.strip(_MARKS)
        else:
            author, author_id = who
            text = rest[idx + 2 :]
            if parts:
                text = text + "\n" + "\n".join(parts)
            kind = "text"
        edited = False
        if kind == "text":
            core = text.strip(_MARKS) if text[:1] in _MARKS or text[-1:] in _MARKS else text
            if core in MEDIA_MARKERS or (core[:1] == "<" or core[-1:] == ")") and _MEDIA_RE.fullmatch(core):
                kind = "media"
                text = core
            elif (core[:-1] if core[-1:] == "." else core) in DELETED_MARKERS:
                kind = "deleted"
                text = core
            elif text[:1] == "\u200e" and _IOS_OMITTED.search(core):
                kind = "media"  # e.g. "Resume.pdf • ‎2 pages ‎document omitted", "‎View once photo omitted"
                text = core
            elif text[:1] == "\u200e" or parts:
                first, _, caption = core.partition("\n")
                if first in MEDIA_MARKERS or _MEDIA_RE.fullmatch(first):
                    text = caption  # media with a caption: the caption is the person's words
                elif text[:1] == "\u200e":  # iOS marks system lines with a left-to-right mark
                    kind = "system"
                    text = core
            if kind == "text" and text[-1:] == ">":
                for marker in EDITED_MARKERS:
                    if text.endswith(marker):
                        text = text[: -len(marker)].rstrip(_MARKS)
                        edited = True
                        break
            if kind == "text" and (not text or text.isspace()):
                return None
        return Message("whatsapp", self.chat, str(lineno), ts, author, author_id, text, kind, None, edited)
