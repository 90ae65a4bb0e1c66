"""Accounting for parsing and building: every message read is kept or skipped with a reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, TypeVar

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
            "files": self.files,
        }


RECORD_ERRORS = (KeyError, TypeError, ValueError, AttributeError)


def convert_records(records: Iterable[T], convert: Callable[[T], R | None], report: ParseReport, path,
                    where: str = "") -> Iterator[R]:
    """Convert each record of a JSON export, accounting for every one: kept, skipped as "empty"
    (convert returned None) or skipped as "malformed" with a warning naming the record."""
    for i, record in enumerate(records, 1):
        report.read += 1
        try:
            msg = convert(record)
        except RECORD_ERRORS as e:
            report.warn(path, None, f"{where}message #{i} skipped: {type(e).__name__}: {e}")
            report.skip("malformed")
            continue
        if msg is None:
            report.skip("empty")
        else:
            yield msg
