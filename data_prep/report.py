"""Accounting for parsing and building: every message read is kept or skipped with a reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from clonekit.errors import ClonekitError

T = TypeVar("T")
R = TypeVar("R")

MAX_WARNINGS = 200  # kept in the report; the rest are only counted


@dataclass
class ParseReport:
    read: int = 0
    kept: int = 0
    kinds: Counter = field(default_factory=Counter)  # kind -> kept messages
    skipped: Counter = field(default_factory=Counter)  # reason -> messages
    warnings: list[str] = field(default_factory=list)
    warnings_total: int = 0
    files: list[dict] = field(default_factory=list)
    reordered: int = 0  # messages that came earlier than the one before them (the file was sorted)

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] += n

    def warn(self, path, line: int | None, message: str) -> None:
        self.warnings_total += 1
        if len(self.warnings) < MAX_WARNINGS:
            where = f"{path}:{line}" if line is not None else f"{path}"
            self.warnings.append(f"{where}: {message}")

    def absorb(self, part: dict) -> None:
        """Add another report's counts (a parse worker's `to_dict()`), warnings under the same cap."""
        self.read += part["read"]
        self.kinds.update(part["kinds"])
        self.kept = sum(self.kinds.values())
        self.skipped.update(part["skipped"])
        self.warnings_total += part["warnings_total"]
        self.warnings += part["warnings"][: MAX_WARNINGS - len(self.warnings)]

    def balanced(self) -> bool:
        return self.read == self.kept + sum(self.skipped.values())

    def to_dict(self) -> dict:
        return {
            "read": self.read,
            "kept": self.kept,
            "kinds": dict(self.kinds),
            "skipped": dict(self.skipped),
            "warnings_total": self.warnings_total,
            "warnings": self.warnings,
            "reordered": self.reordered,
            "files": self.files,
        }


RECORD_ERRORS = (KeyError, TypeError, ValueError, AttributeError, OverflowError, IndexError)


def as_dict(value) -> dict:
    """A JSON value that should be an object, or {} (a damaged export may hold a list or a string there)."""
    return value if isinstance(value, dict) else {}


def as_records(value, path, what: str) -> list:
    """A JSON value that must be a list of records: missing is empty, anything else is one clear error."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ClonekitError(f"{what} must be a JSON list, not {type(value).__name__}", path)
    return value


def convert_records(
    records: Iterable[T],
    convert: Callable[[T], R | str | None],
    report: ParseReport,
    path,
    where: str = "",
    line_of: Callable[[T], int | None] | None = None,
) -> Iterator[R]:
    """Convert each record of an export (JSON objects, HTML elements, database or CSV rows), accounting for every
    one: kept, skipped as "empty" (convert returned None), for the reason convert returned (a string), as "missing
    <field>" (a KeyError), or as "malformed" with a warning naming the record (`line_of` gives its line)."""
    for i, record in enumerate(records, 1):
        report.read += 1
        try:
            msg = convert(record)
        except RECORD_ERRORS as e:
            reason = f"missing {e.args[0]}" if type(e) is KeyError and isinstance(e.args[0], str) else "malformed"
            line = line_of(record) if line_of is not None else None
            report.warn(path, line, f"{where}message #{i} skipped: {type(e).__name__}: {e}")
            report.skip(reason)
            continue
        if msg is None:
            report.skip("empty")
        elif isinstance(msg, str):
            report.skip(msg)
        elif not _well_typed(msg):
            report.warn(path, None, f"{where}message #{i} skipped: a field has the wrong JSON type")
            report.skip("malformed")
        else:
            yield msg


def _well_typed(msg) -> bool:
    """A converted record holds strings where messages.jsonl needs them (a damaged export can put a list there)."""
    return all(type(v) is str for v in (msg.chat, msg.id, msg.timestamp, msg.author, msg.author_id, msg.text)) and (
        msg.reply_to is None or type(msg.reply_to) is str
    )
