"""The compiled WhatsApp parse kernel (`_whatsapp_kernel.c`) and its driver: a chunk of a large export read in blocks
of bytes, each block's messages written by the kernel, with Python deciding every message the kernel does not
write itself (the same code as `whatsapp_parallel.dump_chunk`), so the output is byte-identical to the Python path.

The kernel is optional: without a C compiler at install time (or with CLONEKIT_PURE_PYTHON=1) `available()` is
False and the parse takes the Python path. Why a hand-written kernel and not a library: `_whatsapp_kernel.c`'s
header says."""

from __future__ import annotations

import functools
import os
import re
from array import array

import numpy as np
import orjson

from clonekit.data_prep import whatsapp
from clonekit.data_prep.people_index import PeopleTally
from clonekit.data_prep.whatsapp_tables import STAMP, TAIL, chunk_tables

try:
    from clonekit.data_prep import _whatsapp_kernel as _kernel  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler: the Python path
    _kernel = None


def available() -> bool:
    return _kernel is not None and not os.environ.get("CLONEKIT_PURE_PYTHON") and notice_tables() is not None


def notice_prefixes() -> list[str]:
    """The openings of the encryption notices the plain-text test rules out (whatsapp_tables._plain_pattern)."""
    return sorted({p[:8] for p in whatsapp._ENCRYPTION})


def _ignorecase_matches(ch: str) -> set[int]:
    """Code points Python's re matches against `ch` under IGNORECASE: its simple case forms, the odd letters that
    lowercase to it (Kelvin sign, Angstrom sign, ...) and re's own extra equivalences. Checked against every code
    point in tests/data_prep/test_whatsapp_kernel.py."""
    from re import _casefix  # type: ignore[attr-defined]

    low = ch.lower() if len(ch.lower()) == 1 else ch
    found = {ord(ch), ord(low)}
    for form in (low.upper(), low.title(), ch.upper(), ch.title(), ch.casefold()):
        if len(form) == 1:
            found.add(ord(form))
    found.update((0x130, 0x131, 0x17F, 0x212A, 0x212B, 0x2126, 0x1E9E, 0x3F4, 0x1FBE))  # kept if re matches them
    for key in list(found):
        found.update(_casefix._EXTRA_CASES.get(key, ()))
    pattern = re.compile("(?i:" + re.escape(ch) + ")")
    return {x for x in found if pattern.fullmatch(chr(x))}


@functools.cache
def notice_tables() -> tuple[frozenset[int], tuple[bytes, ...]] | None:
    """(code points a notice's first letter may match, the ASCII openings as lowercase bytes), or None when a
    non-ASCII opening could match ASCII text under IGNORECASE (the kernel compares ASCII openings only)."""
    prefixes = notice_prefixes()
    ascii_text = "".join(map(chr, range(128)))
    for p in prefixes:
        for ch in p:
            if not ch.isascii() and re.search("(?i:" + re.escape(ch) + ")", ascii_text):
                return None
    firsts = frozenset().union(*(_ignorecase_matches(p[0]) for p in prefixes))
    return firsts, tuple(p.encode() for p in prefixes if p.isascii())  # casefolded: lowercase


class ChunkWriter:
    """Write one chunk's messages, block after block, with the kernel; what it cannot be sure of, in Python."""

    def __init__(self, shown, order: str, bracket: bool, builder, report, out):
        self.shown, self.order, self.bracket = shown, order, bracket
        self.builder, self.report, self.out = builder, report, out
        t = chunk_tables(builder, order)
        self.head, self.dates, self.times, self.authors = t.head, t.dates, t.times, t.authors
        self.plain_text, self.markers, self.marker_max = t.plain_text, t.markers, t.marker_max
        self.longest = whatsapp.MAX_MESSAGE_CHARS
        tables = notice_tables()
        assert tables is not None, "available() is False: the Python path"
        firsts, ascii_notices = tables
        self.ctx: tuple = (
            self.head,
            TAIL,
            self.dates.__getitem__,
            {},
            self._author_prefix,
            self.slow,
            self.plain_text,
            firsts,
            ascii_notices,
            frozenset(m.encode() for m in self.markers if m.isascii()),
            self.markers,
            self.marker_max,
            self.longest,
        )
        self.stamps = bytearray()
        self.sizes = array("I")
        self.backwards = 0
        self.last = b""
        self.blocks = {"kernel": 0, "python": 0}  # how the blocks were written (the tests check both are used)
        # who wrote what (people_index.py); None once a block is parsed in Python, which keeps no tally
        self.tally: PeopleTally | None = PeopleTally(chats={("whatsapp", builder.chat)})
        self.prefix_of: dict[bytes, tuple[str, str]] = {}  # an author's template bytes -> (name, author id)

    def _author_prefix(self, who: str) -> bytes:
        prefix = self.authors[who]
        if prefix:
            self.prefix_of[prefix] = self.builder.authors[who]
        return prefix

    def _note(self, msg) -> None:
        if self.tally is not None and msg.author_id:
            self.tally.note(msg.author_id, msg.author, msg.kind, msg.timestamp, int(msg.id))

    def slow(self, lineno: int, d: str, clock: str, ampm, who, body: str, plain_before: bool) -> bytes:
        """One message the kernel does not write: dump_chunk's `plain` mask for it, then its template line or
        `_build_one` (b"" when it is skipped)."""
        from clonekit.data_prep.whatsapp_parallel import _build_one

        date_b, time_b = self.dates[d], self.times[(clock, ampm)]
        has_cr = "\r" in body
        word = body.rstrip("\r") if has_cr else body
        author_b = self.authors[who]
        report = self.report
        if (
            "\n" not in body
            and author_b
            and date_b
            and time_b
            and self.plain_text(word)
            and not (len(word) <= self.marker_max and word.casefold() in self.markers)
            and len(body) <= self.longest - 256
        ):
            self.builder.count += 1
            report.kinds["text"] += 1
            stamp = date_b + time_b
            if self.tally is not None:
                name, author_id = self.prefix_of.get(author_b) or self.builder.authors[who]
                self.tally.note(author_id, name, "text", stamp.decode(), lineno)
            return b"".join(
                (self.head, b"%d" % lineno, b'","timestamp":"', stamp, b'",', author_b, orjson.dumps(word), TAIL)
            )
        if plain_before and "text" not in report.kinds:
            report.kinds["text"] += 0  # the report lists kinds in the order they first appear
        whole = body if who is None else f"{who}: {body}"
        stamp_or_none = date_b + time_b if date_b and time_b else None
        return _build_one(
            whole, lineno, stamp_or_none, d, clock, has_cr, self.shown, self.builder, self.report, self._note
        )

    def _keep(self, lines: bytes, stamps: bytes, sizes: array) -> None:
        self.out.write(lines)
        if stamps:
            keys = np.frombuffer(stamps, dtype=f"S{STAMP}")
            self.backwards += int(np.count_nonzero(keys[1:] < keys[:-1])) + (stamps[:STAMP] < self.last)
            self.last = stamps[-STAMP:]
            self.stamps += stamps
            self.sizes.extend(sizes)

    def block(self, data: bytes, final: bool, lineno: int) -> tuple[int, int]:
        """Write the messages of `data` (all of them when `final`, else all but the last); returns (bytes used,
        the line number after them)."""
        lines, stamps, sizes, plain, used, lineno, unsure, tally = _kernel.scan(
            data, self.bracket, final, lineno, self.ctx
        )
        if tally is None:
            self.tally = None  # more than 32 authors in a block: no index for this file (the build reads it)
        elif self.tally is not None:
            for prefix, n, low, low_line, high in tally:
                name, author_id = self.prefix_of[prefix]
                self.tally.note(author_id, name, "text", low.decode(), low_line, n, high.decode())
        if plain:
            self.builder.count += plain
            self.report.kinds["text"] += plain
        if lines:
            self.blocks["kernel"] += 1
            sizes_array = array("I")
            sizes_array.frombytes(sizes)
            self._keep(lines, stamps, sizes_array)
        if not unsure:
            return used, lineno
        self.blocks["python"] += 1
        self.tally = None
        more, lineno = self._python_block(data[used:], final, lineno)
        return used + more, lineno

    def _python_block(self, data: bytes, final: bool, lineno: int) -> tuple[int, int]:
        """A block the kernel is not sure of, through whatsapp_parallel.dump_chunk (the Python path)."""
        import io

        from clonekit.data_prep.whatsapp_parallel import dump_chunk

        text = data.decode("utf-8")
        cut = len(text)
        if not final:
            splitter = whatsapp.HEADER_LINES[self.bracket]
            cut = text.rfind("\n", 0, len(text) - 1) + 1
            while cut > 0 and not splitter.match(text, cut):
                cut = text.rfind("\n", 0, cut - 1) + 1
            if cut == 0:
                return 0, lineno
        part = text[:cut]
        buffer = io.BytesIO()
        stamps, sizes, _ = dump_chunk(
            [part], lineno, self.shown, self.order, self.bracket, self.builder, self.report, buffer
        )
        self._keep(buffer.getvalue(), bytes(stamps), sizes)
        return len(part.encode("utf-8")), lineno + part.count("\n") + (0 if part.endswith("\n") else 1)


def write_chunk(f, start: int, end: int, first_line: int, writer: ChunkWriter, block_bytes: int) -> None:
    """Bytes [start, end) of the open file, a block at a time (bounded memory), each block ending at a line end;
    a message that may go on in the next block is carried over. UnicodeDecodeError on bytes that are not UTF-8."""
    from clonekit.data_prep.whatsapp_parallel import line_blocks

    carry = b""
    lineno = first_line
    for raw, last in line_blocks(f, start, end, block_bytes):
        raw.decode("utf-8")  # the check alone: the kernel reads bytes
        data = carry + raw if carry else raw
        used, lineno = writer.block(data, last, lineno)
        carry = data[used:]
    if carry:  # the file ended before `end` (it shrank while read): what there is
        writer.block(carry, True, lineno)
