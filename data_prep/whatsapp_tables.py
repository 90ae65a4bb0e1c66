"""What a chunk of a large WhatsApp export is written with, shared by the Python path (whatsapp_parallel.dump_chunk)
and the compiled kernel's driver (whatsapp_kernel.py): the byte templates of a plain message's JSON line, the caches
of dates, times and authors as bytes, and the plain-text test."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from clonekit.data_prep import whatsapp

STAMP = 19  # bytes of a WhatsApp timestamp, "2024-01-14T21:05:00": kept back to back, one per line written
TAIL = b',"kind":"text","reply_to":null,"edited":false,"forwarded":false,"is_bot":false,"aka":null}\n'


class _Cache(dict):
    """A dict that computes a missing value with `make` (and keeps it); `map(cache.__getitem__, keys)` then runs in C
    for every key seen before."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        value = self[key] = self.make(key)
        return value


class _Authors(dict):
    """ "Maya" -> b'"author":"Maya","author_id":"whatsapp:Maya","text":' for an ordinary author, b"" for anything
    else (a system line's text before ": "): the text before the first ": " of a message."""

    def __init__(self, builder):
        super().__init__()
        self.builder = builder

    def __missing__(self, who: str) -> bytes:
        import orjson

        found = self.builder._author(who) if who and "\n" not in who and len(who) < 200 else None
        value = (
            b'"author":' + orjson.dumps(found[0]) + b',"author_id":' + orjson.dumps(found[1]) + b',"text":'
            if found is not None
            else b""
        )
        if who and "\n" not in who and len(who) < 200:
            self[who] = value
        return value


def _plain_pattern() -> re.Pattern:
    """A text that may be written from the templates: no mark, "<" or space first, no mark, ">" or ")" last, and
    not opening like an encryption notice (its first 8 letters, case-insensitively: plain letters, so this finds at
    least what `casefold` would). Conservative: anything else is built by `MessageBuilder`, which decides exactly."""
    marks = whatsapp._MARKS
    bad_first = "".join(sorted(set(marks) | {"<"}))
    bad_last = "".join(sorted(set(marks) | {">", ")"}))
    notices = "|".join(sorted({re.escape(p[:8]) for p in whatsapp._ENCRYPTION}))
    return re.compile(rf"(?!(?i:{notices}))[^\s{re.escape(bad_first)}](?:.*[^{re.escape(bad_last)}])?", re.DOTALL)


@dataclass
class ChunkTables:
    """What every message of a chunk is written with, built once a chunk (dump_chunk here, the kernel's driver in
    whatsapp_kernel.py): the line's head, the caches of dates, times and authors as bytes, the plain-text test and
    the markers a plain text may not be."""

    head: bytes
    dates: _Cache
    times: _Cache
    authors: _Authors
    plain_text: Callable
    markers: frozenset[str]
    marker_max: int  # texts longer than this are no marker


def chunk_tables(builder, order: str) -> ChunkTables:
    import orjson

    markers = frozenset(whatsapp.MEDIA_MARKERS | whatsapp.DELETED_MARKERS | {m + "." for m in whatsapp.DELETED_MARKERS})
    return ChunkTables(
        head=b'{"platform":"whatsapp","chat":' + orjson.dumps(builder.chat) + b',"id":"',
        dates=_Cache(lambda d: (iso + "T").encode() if (iso := whatsapp._iso_date(d, order)) else b""),
        times=_Cache(lambda key: (iso or "").encode() if (iso := whatsapp._iso_time(*key)) else b""),
        authors=_Authors(builder),
        plain_text=_plain_pattern().fullmatch,
        markers=markers,
        marker_max=max(map(len, markers)) + 1,
    )
