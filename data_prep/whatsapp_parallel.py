"""Large plain-text WhatsApp exports, parsed in parallel: the file is cut at message headers into one chunk per
worker, each chunk is parsed in its own process, and the parts are joined in order, so the output is byte-identical
to a single-process parse."""

from __future__ import annotations

import multiprocessing
import re
import shutil
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from itertools import compress, repeat
from pathlib import Path

import numpy as np

from clonekit.data_prep import whatsapp, whatsapp_kernel
from clonekit.data_prep.archive import is_zip
from clonekit.data_prep.people_index import PeopleTally
from clonekit.data_prep.report import ParseReport
from clonekit.data_prep.sessions import epoch_of
from clonekit.data_prep.time_order import TimeOrder, append_file, copy_range
from clonekit.data_prep.whatsapp_tables import STAMP, _Cache, chunk_tables
from clonekit.data_prep.whatsapp_tables import TAIL as _TAIL
from clonekit.errors import ClonekitError, decode_error
from clonekit.jsonl import stretches
from clonekit.schema import dump_message

PARALLEL_MIN_BYTES = 8 << 20


def splittable(path: Path) -> bool:
    """Large plain UTF-8 files with LF line endings are cut into chunks; anything else is read in one piece."""
    if not path.is_file() or is_zip(path) or path.stat().st_size < PARALLEL_MIN_BYTES:
        return False
    with open(path, "rb") as f:
        return whatsapp.text_layout(f.read(1 << 16)) == ("utf-8-sig", "\n")


def parse_parallel(
    path: Path, out, report: ParseReport, dayfirst: bool | None, workers: int, times: TimeOrder
) -> tuple[bool, PeopleTally | None]:
    """Parse into `out`; returns (True when what was written is already in time order (each chunk sorted itself,
    and each chunk's earliest message is no earlier than the latest of the chunk before), so no sort of the file is
    needed; who wrote the messages, as the kernel counted them: `people.write_people_index` keeps it beside the
    file, None where a chunk was not all the kernel's)."""
    order, bracket, warning = whatsapp.infer_order(whatsapp.read_lines(path, None), dayfirst)
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
        in_order = True
        high = None
        tally: PeopleTally | None = PeopleTally()
        for part, result in zip(parts, results, strict=True):
            if "error" in result:
                raise ClonekitError(result["error"], path, result.get("line"))
            append_file(part, out)
            times.backwards += result.pop("backwards")
            low = result.pop("low")
            if low is not None:
                in_order = in_order and (high is None or low >= high)
                high = result.pop("high")
            else:
                result.pop("high")
            first, last = result.pop("first"), result.pop("last")
            if first is not None:  # the chunk's first message against the previous chunk's last
                times.see(chat, first)
                times.last[chat] = epoch_of(last)
            chunk_tally = result.pop("people")
            tally = tally.absorb(chunk_tally) if tally is not None and chunk_tally is not None else None
            report.absorb(result)
    finally:
        for part in parts:
            Path(part).unlink(missing_ok=True)
    return in_order, tally


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
        return stretches(f, starts, size)


def _whatsapp_chunk(job) -> dict:
    path, start, end, first_line, order, bracket, chat, part = job
    report = ParseReport()
    builder = whatsapp.MessageBuilder(chat)
    with open(path, "rb") as f, open(part, "w+b") as out:
        text_start = 3 if start == 0 and f.read(3) == b"\xef\xbb\xbf" else start  # after a byte-order mark
        try:
            if whatsapp_kernel.available():
                writer = whatsapp_kernel.ChunkWriter(path, order, bracket, builder, report, out)
                whatsapp_kernel.write_chunk(f, text_start, end, first_line, writer, BLOCK_BYTES)
                stamps, sizes, backwards, tally = writer.stamps, writer.sizes, writer.backwards, writer.tally
            else:
                blocks = text_blocks(f, text_start, end, whatsapp.HEADER_LINES[bracket])
                stamps, sizes, backwards = dump_chunk(blocks, first_line, path, order, bracket, builder, report, out)
                tally = None
        except UnicodeDecodeError:  # named as the serial path names it: line, column and offset in the file
            f.seek(start)
            data = f.read(end - start)
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as err:
                e = decode_error(path, data, err, offset=start)
                return {"error": e.message, "line": first_line - 1 + e.line}
            raise
        first, last = (stamps[:STAMP].decode(), stamps[-STAMP:].decode()) if stamps else (None, None)
        low, high = first, last
        if backwards:  # sorted here, stably, as `time_order.sort_since` would sort the whole file
            low, high = _sort_part(out, stamps, sizes)
    report.read = builder.count
    result = {**report.to_dict(), "backwards": backwards, "first": first, "last": last, "low": low, "high": high}
    return result | {"people": tally}


BLOCK_BYTES = 1 << 20  # a chunk is read, decoded, split and written this much at a time (bounded memory)


def line_blocks(f, start: int, end: int, block_bytes: int) -> Iterator[tuple[bytes, bool]]:
    """Bytes [start, end) of an open binary file, about `block_bytes` at a time, each block ending at a line end
    (a character is never cut): (block, whether it is the last)."""
    f.seek(start)
    pos = start
    while pos < end:
        raw = f.read(min(block_bytes, end - pos))
        pos += len(raw)
        if pos < end and not raw.endswith(b"\n"):
            rest = f.readline()[: end - pos]  # to the end of the line
            raw += rest
            pos += len(rest)
        if not raw:
            return
        yield raw, pos >= end


def text_blocks(f, start: int, end: int, splitter) -> Iterator[str]:
    """Bytes [start, end) of the file decoded a block at a time, each block ending where a header line starts: the
    last message of a block, which may go on in the next bytes, is carried over. (One 35 MB str holding an emoji
    would take 140 MB.)"""
    carry = ""
    for raw, last in line_blocks(f, start, end, BLOCK_BYTES):
        text = carry + raw.decode("utf-8")
        if last:
            carry = ""
            yield text
            break
        cut = text.rfind("\n", 0, len(text) - 1) + 1
        while cut > 0 and not splitter.match(text, cut):
            cut = text.rfind("\n", 0, cut - 1) + 1
        if cut == 0:
            carry = text  # one message so far: read on
            continue
        carry = text[cut:]
        yield text[:cut]
    if carry:
        yield carry


def _sort_part(out, stamps: bytearray, sizes: array) -> tuple[str, str]:
    """Rewrite the part file with its lines in stable time order; runs of lines that stay together are copied as one
    block. Returns the earliest and latest time."""
    keys = np.frombuffer(stamps, dtype=f"S{STAMP}")
    order = np.argsort(keys, kind="stable")
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(np.frombuffer(sizes, dtype=np.uint32), out=offsets[1:])
    breaks = np.flatnonzero(np.diff(order) != 1) + 1  # where a run of consecutive lines ends
    run_starts = np.concatenate(([0], breaks))
    run_ends = np.concatenate((breaks, [len(order)]))
    out.flush()
    with tempfile.TemporaryFile(dir=Path(out.name).parent) as tmp:
        for a, b in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
            copy_range(out, tmp, int(offsets[order[a]]), int(offsets[order[b - 1] + 1]))
        tmp.seek(0)
        out.seek(0)
        out.truncate()
        shutil.copyfileobj(tmp, out, 1 << 20)
    return keys[order[0]].decode(), keys[order[-1]].decode()


def _splitter(bracket: bool) -> re.Pattern:
    """The header of the file's style after a newline (a literal first: a fast scan), then the author: the text
    before the first ": " of the line, if it has one."""
    header = whatsapp.HEADER_LINES[bracket].pattern.replace("^", "\n", 1)
    return re.compile(header + r"(?:([^:\n]*+(?::(?! )[^:\n]*+)*+): )?")  # possessive: no backtracking


def dump_chunk(
    blocks: Iterable[str], first_line: int, shown, order: str, bracket: bool, builder, report, out
) -> tuple[bytearray, array, int]:
    """Write a chunk of a WhatsApp export, as `text_blocks`, to `out` as JSON lines, in file order; return
    (the lines' times back to back, `STAMP` bytes each, their sizes in bytes, how many came earlier than the one
    before).

    The same messages, bytes and accounting as `whatsapp.parse_lines` + `dump_message`, at a fraction of the cost,
    column by column: each block is cut at every header by `re.split`, and every step over its messages (line
    numbers, dates and times from caches, author and text, the test for a plain text, the JSON line from byte
    templates) is a `map` of a built-in, so the loop runs in C. A message that is not a plain one-line text by an
    ordinary author goes through `MessageBuilder.build`, the one place that classifies messages.
    tests/data_prep/test_parse_exports.py compares this with the serial path byte for byte."""
    import orjson

    splitter = _splitter(bracket)
    t = chunk_tables(builder, order)
    head, dates, times, authors, plain_text = t.head, t.dates, t.times, t.authors, t.plain_text
    markers, marker_max = t.markers, t.marker_max
    clock = _Cache(lambda t: times[(t, None)])
    longest = whatsapp.MAX_MESSAGE_CHARS
    marks = whatsapp._MARKS
    dumps = orjson.dumps
    backwards = 0
    last = b""
    stamps = bytearray()
    sizes = array("I")
    lineno = first_line
    for text in blocks:
        has_cr = "\r" in text
        pieces = splitter.split("\n" + (text[:-1] if text.endswith("\n") else text))
        pre = pieces[0][1:]
        if pieces[0]:  # only before the first header of the file
            if pre.strip(marks + "\n\r"):
                for i, line in enumerate(pre.split("\n")):
                    if line.strip(marks + "\r"):
                        report.warn(shown, lineno + i, "text before the first message header ignored")
            lineno += pieces[0].count("\n")
        ds, clocks, ampm, whos, bodies = pieces[1::5], pieces[2::5], pieces[3::5], pieces[4::5], pieces[5::5]
        n = len(bodies)
        if not n:
            continue
        steps = np.fromiter(map(str.count, bodies, repeat("\n")), dtype=np.int64, count=n) + 1
        ids = (lineno + np.cumsum(steps) - steps).tolist()
        lineno += int(steps.sum())
        date_bs = list(map(dates.__getitem__, ds))
        if any(ampm):
            time_bs = list(map(times.__getitem__, zip(clocks, ampm, strict=True)))
        else:
            time_bs = list(map(clock.__getitem__, clocks))
        stamps_all = list(map(bytes.__add__, date_bs, time_bs))
        words = list(map(str.rstrip, bodies, repeat("\r"))) if has_cr else bodies
        author_bs = list(map(authors.__getitem__, whos))
        short = np.fromiter(map(len, words), dtype=np.int64, count=n) <= marker_max
        marker = np.zeros(n, dtype=bool)
        short_words = list(compress(words, short))
        marker[short] = np.fromiter(
            map(markers.__contains__, map(str.casefold, short_words)), dtype=bool, count=len(short_words)
        )
        plain = (
            (steps == 1)
            & np.fromiter(map(bool, author_bs), dtype=bool, count=n)
            & np.fromiter(map(bool, date_bs), dtype=bool, count=n)
            & np.fromiter(map(bool, time_bs), dtype=bool, count=n)
            & np.fromiter(map(bool, map(plain_text, words)), dtype=bool, count=n)
            & ~marker
            & (np.fromiter(map(len, bodies), dtype=np.int64, count=n) <= longest - 256)  # "author: " is < 200
        )
        lines = list(
            map(
                b"".join,
                zip(
                    repeat(head),
                    map(b"%d".__mod__, ids),
                    repeat(b'","timestamp":"'),
                    stamps_all,
                    repeat(b'",'),
                    author_bs,
                    map(dumps, words),
                    repeat(_TAIL),
                    strict=False,
                ),
            )
        )
        n_plain = int(plain.sum())
        builder.count += n_plain
        first_plain = int(np.argmax(plain)) if n_plain else n
        for i in np.flatnonzero(~plain).tolist():
            if i > first_plain and "text" not in report.kinds:
                report.kinds["text"] += 0  # the report lists kinds in the order they first appear
            whole = bodies[i] if whos[i] is None else f"{whos[i]}: {bodies[i]}"
            stamp = stamps_all[i] if date_bs[i] and time_bs[i] else None
            lines[i] = _build_one(whole, ids[i], stamp, ds[i], clocks[i], has_cr, shown, builder, report)
        if n_plain:
            report.kinds["text"] += n_plain
        written = list(map(bool, lines))
        block_stamps = list(compress(stamps_all, written))
        if block_stamps:
            backwards += (block_stamps[0] < last) + sum(map(bytes.__lt__, block_stamps[1:], block_stamps[:-1]))
            last = block_stamps[-1]
            stamps += b"".join(block_stamps)
        out.write(b"".join(lines))  # one write: 5x faster than writelines' one per line
        sizes.extend(map(len, compress(lines, written)))
    return stamps, sizes, backwards


def _build_one(body, lineno, stamp: bytes | None, d, t, has_cr, shown, builder, report, on_message=None) -> bytes:
    """One message the templates do not write, through `MessageBuilder` (b"" when it is skipped). `stamp`: its ISO
    time from the chunk's caches, None when the date or the time is invalid. `on_message` sees the message kept."""
    if stamp is None:
        builder.count += 1
        report.warn(shown, lineno, f"invalid date/time {d} {t}: message skipped")
        report.skip("invalid date")
        return b""
    body_lines = body.split("\n")
    if has_cr:
        body_lines = [x.rstrip("\r") for x in body_lines]
    rest, parts = body_lines[0], body_lines[1:]
    if len(rest) + sum(len(x) + 1 for x in parts) > whatsapp.MAX_MESSAGE_CHARS:
        builder.count += 1
        report.warn(shown, lineno, f"message longer than {whatsapp.MAX_MESSAGE_CHARS} characters: skipped")
        report.skip("too long")
        return b""
    msg = builder.build(lineno, stamp.decode(), rest, parts)
    if msg is None:
        report.skip("empty")
        return b""
    report.kinds[msg.kind] += 1
    if on_message is not None:
        on_message(msg)
    return dump_message(msg)
