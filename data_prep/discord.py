"""Discord exports -> `Message`.

- DiscordChatExporter JSON (`{"guild", "channel", "messages": [...]}`) and CSV
  (`AuthorID,Author,Date,Content,Attachments,Reactions`).
- Discord's official data package (`messages/c<channel id>/messages.json|csv`, as a folder or
  the package zip): it holds only the requesting user's own messages, so the author is
  `--self-name` (default: the account's name from `account/user.json`, else "me").
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import orjson

from clonekit.data_prep.archive import ExportTree, is_zip
from clonekit.data_prep.jsonfile import load_json
from clonekit.data_prep.report import ParseReport, as_dict, as_records, convert_records
from clonekit.errors import ClonekitError
from clonekit.schema import Message

USER_TYPES = ("Default", "Reply")  # every other DCE message type is a system event
DCE_CSV_HEADER = ["AuthorID", "Author", "Date", "Content", "Attachments", "Reactions"]
PACKAGE_CSV_HEADER = ["ID", "Timestamp", "Contents", "Attachments"]
_FRACTION = re.compile(r"(\.\d{6})\d+")
_CHANNEL_DIR = re.compile(r"(?:^|/)c(\d+)/messages\.(json|csv)$", re.I)


# DiscordChatExporter's own date formats (old CSV, and the HTML export's locale formats, which carry no offset)
DCE_DATE_FORMATS = (
    "%d-%b-%y %I:%M %p",
    "%m/%d/%Y %I:%M %p",
    "%d-%b-%y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%A, %B %d, %Y %I:%M %p",
    "%A, %d %B %Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
)


def iso_timestamp(raw: str) -> str:
    """DCE and package timestamps -> ISO 8601 with offset, e.g. '2024-01-14T21:05:40.123+03:00'; DCE's local
    formats ("1/14/2024 9:05 PM") stay naive."""
    raw = " ".join(raw.replace("\u202f", " ").split())
    try:
        value = dt.datetime.fromisoformat(_FRACTION.sub(r"\1", raw))
    except ValueError:
        for fmt in DCE_DATE_FORMATS:
            try:
                value = dt.datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"unrecognized timestamp {raw!r}") from None
    return value.isoformat()


# ----------------------------------------------------------------------------- DiscordChatExporter


def is_dce_json(obj) -> bool:
    return isinstance(obj, dict) and "messages" in obj and "channel" in obj and "guild" in obj


def parse_dce_json(path: Path, report: ParseReport, loaded: object = None) -> Iterator[Message]:
    """`loaded`: the file's JSON when the caller has read it already."""
    obj = as_dict(loaded if loaded is not None else load_json(path))
    channel = as_dict(obj.get("channel"))
    guild = as_dict(obj.get("guild")).get("name")
    chat = str(channel.get("name") or channel.get("id") or path.stem)
    if guild and guild != "Direct Messages":
        chat = f"{guild} / {chat}"
    records = as_records(obj.get("messages"), path, "messages")
    yield from convert_records(records, lambda m: _dce_message(m, chat), report, path)


def _dce_message(m: dict, chat: str) -> Message | None:
    author = m["author"]
    name = author.get("nickname") or author.get("name") or str(author["id"])
    aka = sorted({str(n) for n in (author.get("name"), author.get("nickname")) if n and n != name}) or None
    text = m.get("content") or ""
    mtype = m.get("type") or "Default"
    reference = m.get("reference") or {}
    if mtype not in USER_TYPES:
        kind = "system"
        text = text or mtype
    elif text.strip():
        kind = "text"
    elif m.get("attachments") or m.get("stickers") or m.get("embeds"):
        kind = "media"
        names = [a.get("fileName", "") for a in m.get("attachments") or []]
        names += [s.get("name", "") for s in m.get("stickers") or []]
        text = ", ".join(n for n in names if n)
    else:
        return None
    return Message(
        "discord",
        chat,
        str(m["id"]),
        iso_timestamp(m["timestamp"]),
        name,
        f"discord:{author['id']}",
        text,
        kind,
        str(reference["messageId"]) if reference.get("messageId") else None,
        bool(m.get("timestampEdited")),
        reference.get("type") == "Forward" or bool(m.get("isForwarded")),
        bool(author.get("isBot")),
        aka,
    )


def read_csv_header(path: Path) -> list[str] | None:
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:  # bad bytes: found when parsing
            return next(csv.reader(io.StringIO(f.readline())), None)
    except (UnicodeDecodeError, OSError, csv.Error):
        return None


CSV_FIELD_LIMIT = 1 << 20  # a Discord message is at most 4,000 characters; a megabyte means a quote never closed


def parse_dce_csv(path: Path, report: ParseReport) -> Iterator[Message]:
    chat = _dce_chat_from_filename(path)
    csv.field_size_limit(CSV_FIELD_LIMIT)
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = csv.reader(f, strict=True)
        for i, row in _rows_with_lines(rows, path):
            if i == 1:
                continue  # the header
            report.read += 1
            if len(row) < 4:
                report.warn(path, i, f"expected {len(DCE_CSV_HEADER)} columns, got {len(row)}: skipped")
                report.skip("malformed")
                continue
            author_id, author, date, content = row[:4]
            attachments = row[4] if len(row) > 4 else ""
            try:
                ts = iso_timestamp(date)
            except ValueError as e:
                report.warn(path, i, f"{e}: skipped")
                report.skip("malformed")
                continue
            name = re.sub(r"#0+$|#\d{4}$", "", author) or author  # "Name#1234" -> "Name"
            kind = "text" if content.strip() else "media" if attachments.strip() else None
            if kind is None:
                report.skip("empty")
                continue
            yield Message(
                "discord",
                chat,
                f"row{i}",
                ts,
                name,
                f"discord:{author_id}",
                content if kind == "text" else attachments,
                kind,
            )


def _rows_with_lines(rows, path):
    """csv rows with the line number each row starts on (rows can span lines). A quote that never closes is one
    error naming the line where its row starts, not the rest of the file folded into one message."""
    line = 1
    try:
        while True:
            line = rows.line_num + 1
            row = next(rows)
            yield line, row
    except StopIteration:
        return
    except csv.Error as e:
        if "field larger than field limit" in str(e) or "unexpected end of data" in str(e):
            raise ClonekitError(
                "malformed CSV: a quoted field starts in this row and never ends (unterminated quote)", path, line
            ) from None
        raise ClonekitError(f"malformed CSV: {e}", path, rows.line_num) from None
    except UnicodeDecodeError as e:
        raise ClonekitError(f"not valid UTF-8: {e.reason}", path, rows.line_num + 1) from None


def _dce_chat_from_filename(path: Path) -> str:
    # "Guild - Category - channel [123].csv" -> "Guild / channel"
    stem = re.sub(r"\s*\[\d+\]$", "", path.stem)
    parts = [p for p in stem.split(" - ") if p]
    return " / ".join([parts[0], parts[-1]]) if len(parts) > 1 else stem


# ----------------------------------------------------------------------------- official data package


def channel_files(pkg: ExportTree) -> list[tuple[str, str, str]]:
    """(channel id, file name, "json" | "csv") of a data package's channel message files."""
    found = []
    for n in pkg.names:
        m = _CHANNEL_DIR.search(n)
        if m:
            found.append((m.group(1), n, m.group(2).lower()))
    return sorted(found)


def is_package(path: Path) -> bool:
    try:
        if path.is_dir() or is_zip(path):
            return bool(channel_files(ExportTree(path)))
    except (OSError, ClonekitError):
        return False
    return False


def parse_package(
    path: Path, report: ParseReport, self_name: str | None = None, max_bytes: int | None = None
) -> Iterator[Message]:
    only = None
    if path.is_file() and not is_zip(path):  # one channel's messages.json|csv
        if not re.fullmatch(r"c\d+", path.parent.name):
            raise ClonekitError("a Discord package messages file must sit in its messages/c<channel id>/ folder", path)
        only, path = path.parent.name[1:], path.parent.parent
    pkg = ExportTree(path, max_bytes)
    channels = [c for c in channel_files(pkg) if only is None or c[0] == only]
    if not channels:
        raise ClonekitError("no messages/c<id>/messages.json|csv found in this Discord data package", path)
    index = {}
    index_name = pkg.find("messages/index.json")
    if index_name:
        index = as_dict(_load(pkg, index_name, path))
    user_id, user_name = "self", None
    user_file = pkg.find("account/user.json")
    if user_file:
        user = as_dict(_load(pkg, user_file, path))
        user_id = str(user.get("id") or "self")
        user_name = user.get("global_name") or user.get("username")
    author = self_name or user_name or "me"
    for channel_id, name, ext in channels:
        chat = str(_package_chat(pkg, name, channel_id, index.get(channel_id)))
        shown = f"{path}!{name}" if pkg.zip else str(path / name)
        data = pkg.read(name)
        rows = _package_rows_json(data, shown) if ext == "json" else _package_rows_csv(data, shown)
        for line, row in rows:
            report.read += 1
            try:  # the package writes UTC, sometimes without saying so
                ts = iso_timestamp(str(row.get("Timestamp") or row.get("timestamp")))
                if len(ts) == 19 or (len(ts) > 19 and ts[19] == "." and "+" not in ts[19:]):
                    ts += "+00:00"
            except (ValueError, OverflowError) as e:
                report.warn(shown, line, f"{e}: skipped")
                report.skip("malformed")
                continue
            text = row.get("Contents") or row.get("contents") or ""
            attachments = row.get("Attachments") or row.get("attachments") or ""
            if not isinstance(text, str):
                report.warn(shown, line, "Contents is not text: skipped")
                report.skip("malformed")
                continue
            kind = "text" if text.strip() else "media" if str(attachments).strip() else None
            if kind is None:
                report.skip("empty")
                continue
            yield Message(
                "discord",
                chat,
                str(row.get("ID") or row.get("id") or f"row{line}"),
                ts,
                str(author),
                f"discord:{user_id}",
                text if kind == "text" else str(attachments),
                kind,
            )


def _load(pkg: ExportTree, name: str, shown_root: Path):
    try:
        return orjson.loads(pkg.read(name))
    except orjson.JSONDecodeError as e:
        raise ClonekitError(
            f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}", f"{shown_root}!{name}"
        ) from None


def _package_chat(pkg: ExportTree, name: str, channel_id: str, indexed: str | None) -> str:
    channel_file = str(PurePosixPath(name).parent / "channel.json")
    if channel_file in pkg.names:
        try:
            info = as_dict(orjson.loads(pkg.read(channel_file)))
            guild = as_dict(info.get("guild")).get("name")
            cname = info.get("name")
            if guild and cname:
                return f"{guild} / {cname}"
            if cname:
                return cname
        except orjson.JSONDecodeError:
            pass
    return indexed or f"channel {channel_id}"


def _package_rows_json(data: bytes, shown: str):
    try:
        rows = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise ClonekitError(f"invalid JSON at column {e.colno}: {e.msg}", shown, e.lineno) from None
    if not isinstance(rows, list):
        raise ClonekitError("expected a JSON list of messages", shown)
    for i, row in enumerate(rows, 1):
        yield i, row if isinstance(row, dict) else {}


def _package_rows_csv(data: bytes, shown: str):
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ClonekitError(f"not valid UTF-8 at offset {e.start}", shown, data.count(b"\n", 0, e.start) + 1) from None
    csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = None
    for line, row in _rows_with_lines(reader, shown):
        if header is None:
            header = row
            continue
        yield line, dict(zip(header, row, strict=False))
