"""`clonekit prep parse`: export files -> messages.jsonl, with a report of what was kept and skipped.

Formats are detected from the file itself: `EXPORT_FORMATS` is a table of (sniff, parse) pairs, tried in order.
Large plain-text WhatsApp exports are parsed in parallel (whatsapp_parallel.py).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import orjson

from clonekit.data_prep import (
    android_sms,
    discord,
    discord_html,
    imessage,
    line,
    meta,
    qq,
    signal,
    slack,
    telegram,
    telegram_html,
    wechat,
    whatsapp,
    whatsapp_parallel,
)
from clonekit.data_prep.archive import DEFAULT_MAX_UNZIPPED_MB
from clonekit.data_prep.jsonfile import load_json
from clonekit.data_prep.people_index import remove_people_index, write_people_index
from clonekit.data_prep.report import ParseReport
from clonekit.data_prep.time_order import TimeOrder, sort_since
from clonekit.errors import ClonekitError
from clonekit.paths import readable_file, writable_file
from clonekit.schema import PLATFORMS, Message, dump_message

FORMATS = ("auto", *PLATFORMS)  # `--format`: an app (its family of export formats), or auto
FORMAT_ALIASES = {"instagram": "messenger"}  # one parser reads both of Meta's exports
EXPORT_HINT = "a chat export"


@dataclass
class ParseOptions:
    format: str = "auto"  # auto | one of FORMATS
    dayfirst: bool | None = None  # WhatsApp: force day/month order when a file cannot tell
    # the export owner's name, where the export does not write it: Discord data package, iMessage, SMS, Signal
    # ("Me"), WeChat
    self_name: str | None = None
    workers: int | None = None  # processes for large WhatsApp files (default: CPU count, at most 4)
    max_unzipped_mb: int = DEFAULT_MAX_UNZIPPED_MB  # a zip export may inflate to at most this much

    @property
    def max_unzipped_bytes(self) -> int:
        return self.max_unzipped_mb << 20


class ExportFile:
    """One export file as the sniffers see it: the parsed JSON and the CSV header are read once, when first asked
    for (invalid JSON is an error with its position, whatever the format)."""

    def __init__(self, path: Path, max_bytes: int | None):
        self.path = path
        self.max_bytes = max_bytes
        self.suffix = path.suffix.lower()

    @cached_property
    def json(self) -> object:
        return load_json(self.path) if self.suffix == ".json" and self.path.is_file() else None

    @cached_property
    def csv_header(self) -> list[str]:
        header = discord.read_csv_header(self.path) if self.suffix == ".csv" and self.path.is_file() else None
        return header or []


def _is_discord_package(f: ExportFile) -> bool:
    if discord.is_package(f.path):
        return True
    obj = f.json
    if isinstance(obj, list) and obj and isinstance(obj[0], dict) and "Timestamp" in obj[0]:
        return True  # one channel's messages.json from a data package
    return f.csv_header[:3] == discord.PACKAGE_CSV_HEADER[:3]


def _is_whatsapp(f: ExportFile) -> bool:
    return (
        f.suffix not in (".json", ".csv", ".html", ".htm", ".xml", ".md", ".db")
        and f.path.is_file()
        and whatsapp.sniff(f.path, max_bytes=f.max_bytes)
    )


Parser = Callable[[ExportFile, ParseReport, ParseOptions], Iterator[Message]]


@dataclass(frozen=True)
class ExportFormat:
    variant: str  # what the report calls it
    family: str  # the `--format` that selects it
    described: str  # for the "unknown format" error
    sniff: Callable[[ExportFile], bool]
    parse: Parser


EXPORT_FORMATS = (
    ExportFormat(  # before any format that reads a .json whole: this one is JSON lines
        "signal-json",
        "signal",
        "signal-export data.json (JSON lines)",
        lambda f: signal.is_signal_json(f.path),
        lambda f, report, o: signal.parse_signal_json(f.path, report, o.self_name),
    ),
    ExportFormat(
        "discord-package",
        "discord",
        "Discord data package (folder, zip, messages.json/csv)",
        _is_discord_package,
        lambda f, report, o: discord.parse_package(f.path, report, o.self_name, o.max_unzipped_bytes),
    ),
    ExportFormat(
        "discord-dce-json",
        "discord",
        "DiscordChatExporter JSON",
        lambda f: discord.is_dce_json(f.json),
        lambda f, report, o: discord.parse_dce_json(f.path, report, f.json),
    ),
    ExportFormat(
        "telegram",
        "telegram",
        "Telegram Desktop result.json",
        lambda f: telegram.is_telegram(f.json),
        lambda f, report, o: telegram.parse_telegram(f.path, report, f.json),
    ),
    ExportFormat(
        "meta-json",
        "messenger",
        "Facebook Messenger / Instagram message_N.json",
        lambda f: meta.is_meta(f.json),
        lambda f, report, o: meta.parse_meta(f.path, report, f.json),
    ),
    ExportFormat(
        "wechat-csv",
        "wechat",
        "WeChat CSV (WeChatMsg/MemoTrace, PyWxDump)",
        lambda f: wechat.is_wechat(f.path),
        lambda f, report, o: wechat.parse_wechat(f.path, report, o.self_name),
    ),
    ExportFormat(
        "telegram-html",
        "telegram",
        "Telegram Desktop HTML (messages.html or its folder)",
        lambda f: telegram_html.is_telegram_html(f.path),
        lambda f, report, o: telegram_html.parse_telegram_html(f.path, report),
    ),
    ExportFormat(
        "discord-dce-html",
        "discord",
        "DiscordChatExporter HTML",
        lambda f: discord_html.is_dce_html(f.path),
        lambda f, report, o: discord_html.parse_dce_html(f.path, report),
    ),
    ExportFormat(
        "imessage",
        "imessage",
        "macOS Messages chat.db",
        lambda f: imessage.is_chat_db(f.path),
        lambda f, report, o: imessage.parse_chat_db(f.path, report, o.self_name),
    ),
    ExportFormat(
        "android-sms",
        "sms",
        "SMS Backup & Restore XML",
        lambda f: android_sms.is_sms_backup(f.path),
        lambda f, report, o: android_sms.parse_sms_backup(f.path, report, o.self_name),
    ),
    ExportFormat(
        "slack",
        "slack",
        "Slack workspace export (zip or folder)",
        lambda f: slack.is_slack(f.path),
        lambda f, report, o: slack.parse_slack(f.path, report, o.max_unzipped_bytes),
    ),
    ExportFormat(
        "signal-markdown",
        "signal",
        "signal-export chat.md",
        lambda f: signal.is_signal_markdown(f.path),
        lambda f, report, o: signal.parse_signal_markdown(f.path, report, o.self_name),
    ),
    ExportFormat(
        "discord-dce-csv",
        "discord",
        "DiscordChatExporter CSV",
        lambda f: f.csv_header[:4] == discord.DCE_CSV_HEADER[:4],
        lambda f, report, o: discord.parse_dce_csv(f.path, report),
    ),
    ExportFormat(
        "whatsapp",
        "whatsapp",
        "WhatsApp .txt/.zip",
        _is_whatsapp,
        lambda f, report, o: whatsapp.parse_whatsapp(f.path, report, o.dayfirst, o.max_unzipped_bytes),
    ),
    ExportFormat(
        "line",
        "line",
        "LINE chat history .txt",
        lambda f: line.is_line(f.path),
        lambda f, report, o: line.parse_line(f.path, report),
    ),
    ExportFormat(
        "qq",
        "qq",
        "QQ message manager .txt",
        lambda f: qq.is_qq(f.path),
        lambda f, report, o: qq.parse_qq(f.path, report),
    ),
)


@dataclass
class Detected:
    format: ExportFormat
    file: ExportFile

    @property
    def variant(self) -> str:
        return self.format.variant


def detect_format(path: Path, fmt: str = "auto", max_bytes: int | None = None) -> Detected:
    """The first format of `EXPORT_FORMATS` (of the `fmt` family unless "auto") whose sniffer accepts the file."""
    readable_file(path, EXPORT_HINT, folder_ok=True)  # a Discord data package may be a folder
    fmt = FORMAT_ALIASES.get(fmt, fmt)
    candidates = [f for f in EXPORT_FORMATS if fmt == "auto" or f.family == fmt]
    export = ExportFile(path, max_bytes)
    for candidate in candidates:
        if candidate.sniff(export):
            return Detected(candidate, export)
    tried = "; ".join(c.described for c in candidates)
    raise ClonekitError(f"unknown export format (tried: {tried})", path)


def parse_file(
    path: str | Path,
    report: ParseReport,
    options: ParseOptions | None = None,
    detected: Detected | None = None,
) -> Iterator[Message]:
    """Yield the messages of one export, in file order. `detected`: what `detect_format` already found (a JSON
    export is then not read twice)."""
    options = options or ParseOptions()
    found = detected or detect_format(Path(path), options.format, options.max_unzipped_bytes)
    yield from found.format.parse(found.file, report, options)


def parse_exports(
    paths: Sequence[str | Path],
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
    files = [Path(p) for p in paths]
    for path in files:
        readable_file(path, EXPORT_HINT, folder_ok=True)
    report = ParseReport()
    tally = None  # who wrote what, where the kernel counted it (one large WhatsApp file): prep build's first pass
    remove_people_index(out)
    tmp = out.with_name(out.name + ".tmp")
    duplicates = DuplicateFilter(keyed_text=len(files) > 1)
    try:
        with open(tmp, "w+b") as f:
            for path in files:
                before = (report.read, report.kept)
                detected = detect_format(path, options.format, options.max_unzipped_bytes)
                variant = detected.variant
                if progress:
                    progress(f"{path} ({variant})")
                start = f.tell()
                workers = options.workers or min(os.cpu_count() or 1, 4)
                order = TimeOrder()
                in_order = False
                if variant == "whatsapp" and workers > 1 and len(files) == 1 and whatsapp_parallel.splittable(path):
                    in_order, tally = whatsapp_parallel.parse_parallel(
                        path, f, report, options.dayfirst, workers, order
                    )
                else:
                    _write_messages(parse_file(path, report, options, detected), f, report, duplicates, order)
                if order.backwards:
                    if not in_order:
                        sort_since(f, start)
                    report.warn(path, None, f"{order.backwards} messages were out of time order: sorted by time")
                    report.reordered += order.backwards
                report.files.append(_file_row(path, variant, report, before, order))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    if not report.balanced():  # a bug, never a user error: say so loudly
        raise RuntimeError(f"parse accounting is off: read {report.read} != kept {report.kept} + skipped")
    out.with_name(out.stem + ".report.json").write_bytes(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2))
    if tally is not None:  # the file is in time order now (sorted if it was not): what the index says
        write_people_index(out, tally, lines=report.kept)
    return report


def _file_row(path: Path, variant: str, report: ParseReport, before: tuple[int, int], order: TimeOrder) -> dict:
    """The report's line for one export: what was read and kept of it, and how many came out of time order."""
    read, kept = report.read - before[0], report.kept - before[1]
    return {"path": str(path), "format": variant, "read": read, "kept": kept, "reordered": order.backwards}


def _write_messages(messages, f, report: ParseReport, duplicates: DuplicateFilter, order: TimeOrder) -> None:
    """One file's messages to `f`, duplicates skipped, times watched for disorder (the serial path)."""
    write, kinds, admit, see = f.write, report.kinds, duplicates.admit, order.see
    for msg in messages:
        if not admit(msg):
            report.skip("duplicate")
            continue
        see(msg.chat, msg.timestamp)
        write(dump_message(msg))
        kinds[msg.kind] += 1
    report.kept = sum(report.kinds.values())
    duplicates.end_file()


# formats whose message "id" is its place in the file (a line number): not an identity across files
POSITIONAL_IDS = frozenset(("whatsapp", "line", "qq", "signal", "messenger", "instagram"))


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
        if msg.platform not in POSITIONAL_IDS and not msg.id.startswith("row"):
            key = (msg.platform, msg.chat, msg.id)
            if key in self.ids:
                return False
            self.ids.add(key)
            return True
        if not self.keyed_text:
            return True
        text_key = hashlib.blake2b(
            f"{msg.platform}\0{msg.author_id}\0{msg.timestamp}\0{msg.text}".encode(), digest_size=12
        ).digest()
        self.current[text_key] += 1
        return self.current[text_key] > self.before[text_key]

    def end_file(self) -> None:
        for key, n in self.current.items():
            if n > self.before[key]:
                self.before[key] = n
        self.current.clear()
