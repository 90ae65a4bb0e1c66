"""Read JSON Lines files with errors that name the file and line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from clonekit.errors import ClonekitError


def iter_jsonl(path: str | Path, hint: str) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line. `hint` says what the file should be."""
    path = Path(path)
    if not path.exists():
        raise ClonekitError(f"file not found ({hint})", path)
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if raw.strip():
                yield lineno, _object(raw, path, lineno, hint)


def _object(raw: bytes, path: Path, lineno: int, hint: str) -> dict:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ClonekitError(f"not JSON ({e.msg}); expected {hint}", path, lineno) from None
    if not isinstance(obj, dict):
        raise ClonekitError(f"not a JSON object; expected {hint}", path, lineno)
    return obj


def iter_jsonl_range(path: Path, start: int, end: int, first_lineno: int, hint: str) -> Iterator[tuple[int, dict]]:
    """`iter_jsonl` over the lines that start in bytes [start, end) of the file, numbered from `first_lineno`
    (`start` is a line start). For reading one file in parallel parts."""
    with open(path, "rb") as f:
        f.seek(start)
        pos = start
        lineno = first_lineno - 1
        for raw in f:
            if pos >= end:
                break
            pos += len(raw)
            lineno += 1
            if raw.strip():
                yield lineno, _object(raw, path, lineno, hint)


def byte_ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    """(start byte, end byte) of `parts` stretches of a file, each starting at a line. Not numbered: counting the
    lines reads the file, so a reader numbers its stretch's lines from 1 and calls `absolute_line` for the one it
    reports."""
    size = path.stat().st_size
    starts = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            f.seek(max(size * k // parts, starts[-1]))
            f.readline()
            if starts[-1] < f.tell() < size:
                starts.append(f.tell())
    return list(zip(starts, starts[1:] + [size], strict=True))


def absolute_line(path: Path, start: int, relative: int | None) -> int | None:
    """The line number in the file of line `relative` (numbered from 1) of the stretch that starts at byte `start`."""
    if relative is None or not start:
        return relative
    with open(path, "rb") as f:
        return newlines(f, 0, start) + relative


def stretches(f, starts: list[int], size: int) -> list[tuple[int, int, int]]:
    """(start byte, end byte, first line number) of the stretches of an open binary file that begin at `starts`."""
    found = []
    line = 1
    for i, begin in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else size
        found.append((begin, end, line))
        line += newlines(f, begin, end)
    return found


def newlines(f, begin: int, end: int) -> int:
    """How many newlines bytes [begin, end) of an open binary file hold (read in blocks)."""
    f.seek(begin)
    count = 0
    remaining = end - begin
    while remaining > 0:
        block = f.read(min(remaining, 1 << 22))
        if not block:
            break
        count += block.count(b"\n")
        remaining -= len(block)
    return count
