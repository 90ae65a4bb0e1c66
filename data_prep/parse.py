"""`clonekit prep parse`: export files -> messages.jsonl, with a report of what was kept and skipped.

Formats are detected from the file itself. Large plain-text WhatsApp exports are cut at message
headers into one chunk per core; each chunk is parsed in its own process and the parts are
joined in order, so the output is byte-identical to a single-process parse.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import shutil
import tempfile
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from clonekit.data_prep import discord, telegram, whatsapp
from clonekit.data_prep.archive import DEFAULT_MAX_UNZIPPED_MB, is_zip
from clonekit.data_prep.jsonfile import load_json
from clonekit.data_prep.report import ParseReport
from clonekit.data_prep.sessions import epoch_of
from clonekit.errors import ClonekitError, decode_error
from clonekit.paths import readable_file, writable_file
from clonekit.schema import Message, dump_message

FORMATS = ("auto", "whatsapp", "discord", "telegram")
TRIED = (
    "WhatsApp .txt/.zip",
    "DiscordChatExporter JSON/CSV",
    "Discord data package (folder, zip, messages.json/csv)",
    "Telegram Desktop result.json",
)
PARALLEL_MIN_BYTES = 8 << 20
EXPORT_HINT = "a chat export"


@dataclass
class ParseOptions:
    format: str = "auto"  # auto | whatsapp | discord | telegram
    dayfirst: bool | None = None  # WhatsApp: force day/month order when a file cannot tell
    self_name: str | None = None  # Discord data package: the name of the package's owner
    workers: int | None = None  # processes for large WhatsApp files (default: CPU count, at most 4)
    max_unzipped_mb: int = DEFAULT_MAX_UNZIPPED_MB  # a zip export may inflate to at most this much

    @property
    def max_unzipped_bytes(self) -> int:
        return self.max_unzipped_mb << 20


def detect_format(path: Path, fmt: str = "auto", max_bytes: int | None = None) -> tuple[str, object]:
    """Return (variant, preloaded JSON or None). Variants: whatsapp, discord-dce-json,
    discord-dce-csv, discord-package, telegram."""
    readable_file(path, EXPORT_HINT, folder_ok=True)  # a Discord data package may be a folder
    want = {"auto": ("whatsapp", "discord", "telegram")}.get(fmt, (fmt,))
    suffix = path.suffix.lower()
    if "discord" in want and discord.is_package(path):
        return "discord-package", None
    if suffix == ".json" and path.is_file():
        obj = load_json(path)  # invalid JSON is an error with its position, whatever the format
        if "discord" in want and discord.is_dce_json(obj):
            return "discord-dce-json", obj
        if "telegram" in want and telegram.is_telegram(obj):
            return "telegram", obj
        if "discord" in want and isinstance(obj, list) and obj and isinstance(obj[0], dict) and "Timestamp" in obj[0]:
            return "discord-package", None
    elif suffix == ".csv" and path.is_file() and "discord" in want:
        header = discord.read_csv_header(path)
        if header and header[:4] == discord.DCE_CSV_HEADER[:4]:
            return "discord-dce-csv", None
        if header and header[:3] == discord.PACKAGE_CSV_HEADER[:3]:
            return "discord-package", None
    elif path.is_file() and "whatsapp" in want and whatsapp.sniff(path, max_bytes=max_bytes):
        return "whatsapp", None
    tried = [t for t in TRIED if t.split()[0].lower() in want or fmt == "auto"]
    raise ClonekitError(f"unknown export format (tried: {'; '.join(tried)})", path)


def parse_file(
    path: str | Path,
    report: ParseReport,
    options: ParseOptions | None = None,
    detected: tuple[str, object] | None = None,
) -> Iterator[Message]:
    """Yield the messages of one export, in file order. `detected`: what `detect_format` already found (a JSON
    export is then not read twice)."""
    options = options or ParseOptions()
    path = Path(path)
    limit = options.max_unzipped_bytes
    variant, obj = detected or detect_format(path, options.format, limit)
    if variant == "whatsapp":
        yield from whatsapp.parse_whatsapp(path, report, options.dayfirst, limit)
    elif variant == "discord-dce-json":
        yield from discord.parse_dce_json(path, report, obj)
    elif variant == "discord-dce-csv":
        yield from discord.parse_dce_csv(path, report)
    elif variant == "discord-package":
        yield from discord.parse_package(path, report, options.self_name, limit)
    else:
        yield from telegram.parse_telegram(path, report, obj)


def parse_exports(
    paths: list[str | Path],
    out: str | Path,
    options: ParseOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> ParseReport:
    """Parse every export into one messages.jsonl; write `<out>.report.json` beside it.

    Each file's messages come out in time order (a file written out of order, such as a reversed Telegram export,
    is sorted, with a counted warning), and a message already read is skipped as "duplicate": the same file twice,
    or overlapping exports of one chat (see `DuplicateFilter`)."""
    options = options or ParseOptions()
    if options.format not in FORMATS:
        raise ClonekitError(f"unknown --format {options.format!r} (choose from {', '.join(FORMATS)})")
    out = writable_file(out, "messages.jsonl")
    paths = [Path(p) for p in paths]
    for path in paths:
        readable_file(path, EXPORT_HINT, folder_ok=True)
    report = ParseReport()
    tmp = out.with_name(out.name + ".tmp")
    duplicates = DuplicateFilter(keyed_text=len(paths) > 1)
    try:
        with open(tmp, "w+b") as f:
            for path in paths:
                before = (report.read, report.kept)
                detected = detect_format(path, options.format, options.max_unzipped_bytes)
                variant = detected[0]
                if progress:
                    progress(f"{path} ({variant})")
                start = f.tell()
                workers = options.workers or min(os.cpu_count() or 1, 4)
                order = TimeOrder()
                if variant == "whatsapp" and workers > 1 and len(paths) == 1 and _splittable(path):
                    _parse_whatsapp_parallel(path, f, report, options, workers, order)
                else:
                    write = f.write
                    kinds = report.kinds
                    admit = duplicates.admit
                    see = order.see
                    for msg in parse_file(path, report, options, detected):
                        if not admit(msg):
                            report.skip("duplicate")
                            continue
                        see(msg.chat, msg.timestamp)
                        write(dump_message(msg))
                        kinds[msg.kind] += 1
                    report.kept = sum(report.kinds.values())
                    duplicates.end_file()
                if order.backwards:
                    _sort_since(f, start)
                    report.warn(path, None, f"{order.backwards} messages were out of time order: sorted by time")
                    report.reordered += order.backwards
                report.files.append(
                    {
                        "path": str(path),
                        "format": variant,
                        "read": report.read - before[0],
                        "kept": report.kept - before[1],
                        "reordered": order.backwards,
                    }
                )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    if not report.balanced():  # a bug, never a user error: say so loudly
        raise RuntimeError(f"parse accounting is off: read {report.read} != kept {report.kept} + skipped")
    out.with_name(out.stem + ".report.json").write_bytes(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2))
    return report


class TimeOrder:
    """Counts messages that come earlier than the one before them in the same chat."""

    def __init__(self):
        self.last: dict[str, float] = {}
        self.backwards = 0

    def see(self, chat: str, ts: str) -> None:
        epoch = epoch_of(ts)
        if epoch < self.last.get(chat, epoch):
            self.backwards += 1
        self.last[chat] = epoch


def _sort_since(f, start: int) -> None:
    """Sort the lines written since byte `start` by time (stable: equal times keep their file order).

    Held in memory: each line's offset and timestamp (sliced from the JSON, which `dump_message` writes in field
    order), never the lines. Naive timestamps of one length (all of WhatsApp's) sort as text; others by epoch. The
    lines are then copied in sorted order through a temporary file, a run of lines that stays in place as one block:
    a few late messages in a million cost one pass, not the file in memory."""
    f.flush()
    f.seek(start)
    offsets = array("q")
    stamps: list[bytes] = []
    add_offset, add_stamp = offsets.append, stamps.append
    pos = start
    for line in f:
        i = line.index(b'"timestamp":"') + 13
        add_offset(pos)
        add_stamp(line[i : line.index(b'"', i)])
        pos += len(line)
    offsets.append(pos)
    if all(len(t) == 19 for t in stamps):
        keys = np.array(stamps, dtype="S19")
    else:
        keys = np.fromiter((epoch_of(t.decode()) for t in stamps), dtype=np.float64, count=len(stamps))
    del stamps
    order = np.argsort(keys, kind="stable")
    with tempfile.TemporaryFile(dir=Path(f.name).parent) as sorted_file:
        run_start = prev = None
        for i in order.tolist():
            if prev is not None and i == prev + 1:
                prev = i
                continue
            if run_start is not None:
                _copy_range(f, sorted_file, offsets[run_start], offsets[prev + 1])
            run_start = prev = i
        if run_start is not None:
            _copy_range(f, sorted_file, offsets[run_start], offsets[prev + 1])
        f.seek(start)
        f.truncate()
        sorted_file.seek(0)
        shutil.copyfileobj(sorted_file, f, 1 << 20)


def _copy_range(src, dst, begin: int, end: int) -> None:
    src.seek(begin)
    remaining = end - begin
    while remaining:
        block = src.read(min(remaining, 1 << 20))
        dst.write(block)
        remaining -= len(block)


class DuplicateFilter:
    """Drops messages read before. Messages with a platform id are keyed by (platform, chat, id), within a file
    and across files. WhatsApp (and DiscordChatExporter CSV) rows have no id: they are keyed by author, timestamp and
    text across files only, and counted: a file that holds a message k times keeps k copies; a later file holding it
    m times adds max(0, m - k) (two people can send "ok" in the same minute; an overlapping export repeats them)."""

    def __init__(self, keyed_text: bool):
        self.keyed_text = keyed_text  # only needed when there is more than one file
        self.ids: set[tuple[str, str, str]] = set()
        self.before: Counter = Counter()
        self.current: Counter = Counter()

    def admit(self, msg: Message) -> bool:
        if msg.platform != "whatsapp" and not msg.id.startswith("row"):
            key = (msg.platform, msg.chat, msg.id)
            if key in self.ids:
                return False
            self.ids.add(key)
            return True
        if not self.keyed_text:
            return True
        key = hashlib.blake2b(
            f"{msg.platform}\0{msg.author_id}\0{msg.timestamp}\0{msg.text}".encode(), digest_size=12
        ).digest()
        self.current[key] += 1
        return self.current[key] > self.before[key]

    def end_file(self) -> None:
        for key, n in self.current.items():
            if n > self.before[key]:
                self.before[key] = n
        self.current.clear()


# ----------------------------------------------------------------------------- parallel WhatsApp


def _splittable(path: Path) -> bool:
    """Large plain UTF-8 files with LF line endings are cut into chunks; anything else is read in one piece."""
    if not path.is_file() or is_zip(path) or path.stat().st_size < PARALLEL_MIN_BYTES:
        return False
    with open(path, "rb") as f:
        return whatsapp.text_layout(f.read(1 << 16)) == ("utf-8-sig", "\n")


def _parse_whatsapp_parallel(
    path: Path, out, report: ParseReport, options: ParseOptions, workers: int, times: TimeOrder
) -> None:
    order, bracket, warning = whatsapp.infer_order(whatsapp._lines(path, None), options.dayfirst)
    if bracket is None:
        raise ClonekitError("no WhatsApp message header found", path)
    if warning:
        report.warn(path, None, warning)
    chunks = _chunk_bounds(path, workers, bracket)
    chat = whatsapp.chat_name_from_path(path)
    parts = [out.name + f".part{i}" for i in range(len(chunks))]
    jobs = [
        (str(path), s, e, line, order, bracket, chat, part) for (s, e, line), part in zip(chunks, parts, strict=True)
    ]
    try:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(len(jobs)) as pool:
            results = pool.map(_whatsapp_chunk, jobs)
        for part, result in zip(parts, results, strict=True):
            if "error" in result:
                raise ClonekitError(result["error"], path, result.get("line"))
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            times.backwards += result.pop("backwards")
            first, last = result.pop("first"), result.pop("last")
            if first is not None:  # the chunk's first message against the previous chunk's last
                times.see(chat, first)
                times.last[chat] = epoch_of(last)
            report.absorb(result)
    finally:
        for part in parts:
            Path(part).unlink(missing_ok=True)


def _chunk_bounds(path: Path, n: int, bracket: bool) -> list[tuple[int, int, int]]:
    """(start byte, end byte, first line number) per chunk; every chunk starts at a header line."""
    size = path.stat().st_size
    starts = [0]
    with open(path, "rb") as f:
        for k in range(1, n):
            f.seek(max(size * k // n, starts[-1]))
            f.readline()
            while True:
                pos = f.tell()
                raw = f.readline()
                if not raw:
                    pos = size
                    break
                m = whatsapp.HEADER.match(raw.decode("utf-8", "replace"))
                if m and (m.group("bd") is not None) == bracket:
                    break
            if starts[-1] < pos < size:
                starts.append(pos)
        bounds = []
        line = 1
        f.seek(0)
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else size
            bounds.append((start, end, line))
            line += f.read(end - start).count(b"\n")
    return bounds


def _whatsapp_chunk(job) -> dict:
    path, start, end, first_line, order, bracket, chat, part = job
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    if start == 0 and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    report = ParseReport()
    builder = whatsapp._MessageBuilder(chat)
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="\n")
    lines = (line.rstrip("\r\n") for line in stream)
    times = TimeOrder()
    first = last = None
    try:
        with open(part, "wb") as out:
            write = out.write
            for msg in whatsapp._parse_lines(lines, first_line, path, order, bracket, builder, report):
                write(dump_message(msg))
                report.kinds[msg.kind] += 1
                times.see(chat, msg.timestamp)
                if first is None:
                    first = msg.timestamp
                last = msg.timestamp
    except UnicodeDecodeError:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            e = decode_error(path, data, err)
            return {"error": e.message, "line": first_line - 1 + e.line}
        raise
    report.read = builder.count
    return {**report.to_dict(), "backwards": times.backwards, "first": first, "last": last}
