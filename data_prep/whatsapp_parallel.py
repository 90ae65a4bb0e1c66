"""Large plain-text WhatsApp exports, parsed in parallel: the file is cut at message headers into one chunk per
worker, each chunk is parsed in its own process, and the parts are joined in order, so the output is byte-identical
to a single-process parse."""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from clonekit.data_prep import whatsapp
from clonekit.data_prep.archive import is_zip
from clonekit.data_prep.report import ParseReport
from clonekit.data_prep.sessions import epoch_of
from clonekit.data_prep.time_order import TimeOrder, copy_range
from clonekit.errors import ClonekitError, decode_error
from clonekit.schema import dump_message

PARALLEL_MIN_BYTES = 8 << 20


def splittable(path: Path) -> bool:
    """Large plain UTF-8 files with LF line endings are cut into chunks; anything else is read in one piece."""
    if not path.is_file() or is_zip(path) or path.stat().st_size < PARALLEL_MIN_BYTES:
        return False
    with open(path, "rb") as f:
        return whatsapp.text_layout(f.read(1 << 16)) == ("utf-8-sig", "\n")


def parse_parallel(path: Path, out, report: ParseReport, dayfirst: bool | None, workers: int, times: TimeOrder) -> bool:
    """Parse into `out`; True when what was written is already in time order (each chunk sorted itself, and each
    chunk's earliest message is no earlier than the latest of the chunk before), so no sort of the file is needed."""
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
        for part, result in zip(parts, results, strict=True):
            if "error" in result:
                raise ClonekitError(result["error"], path, result.get("line"))
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
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
            report.absorb(result)
    finally:
        for part in parts:
            Path(part).unlink(missing_ok=True)
    return in_order


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
    builder = whatsapp.MessageBuilder(chat)
    with open(part, "w+b") as out:
        try:
            blocks = text_blocks(data, whatsapp.HEADER_LINES[bracket])
            stamps, sizes, backwards = dump_chunk(blocks, first_line, path, order, bracket, builder, report, out)
        except UnicodeDecodeError:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as err:
                e = decode_error(path, data, err)
                return {"error": e.message, "line": first_line - 1 + e.line}
            raise
        del data
        first, last = (stamps[0].decode(), stamps[-1].decode()) if stamps else (None, None)
        low, high = first, last
        if backwards:  # sorted here, stably, as `time_order.sort_since` would sort the whole file
            low, high = _sort_part(out, stamps, sizes)
    report.read = builder.count
    return {**report.to_dict(), "backwards": backwards, "first": first, "last": last, "low": low, "high": high}


BLOCK_BYTES = 1 << 20  # a chunk is decoded, split and written this much at a time (bounded memory)


def text_blocks(data: bytes, splitter) -> Iterator[str]:
    """The chunk decoded a block at a time, each block ending where a header line starts: the last message of a
    block, which may go on in the next bytes, is carried over. (One 35 MB str holding an emoji would take 140 MB.)"""
    pos = 0
    carry = ""
    while pos < len(data):
        cut = data.find(b"\n", pos + BLOCK_BYTES) + 1 if pos + BLOCK_BYTES < len(data) else len(data)
        cut = cut or len(data)
        text = carry + data[pos:cut].decode("utf-8")
        pos = cut
        if pos >= len(data):
            carry = ""
            yield text
            break
        start = text.rfind("\n", 0, len(text) - 1) + 1
        while start > 0 and not splitter.match(text, start):
            start = text.rfind("\n", 0, start - 1) + 1
        if start == 0:
            carry = text  # one message so far: read on
            continue
        carry = text[start:]
        yield text[:start]
    if carry:
        yield carry


def _sort_part(out, stamps: list[bytes], sizes: array) -> tuple[str, str]:
    """Rewrite the part file with its lines in stable time order (timsort: a nearly sorted file costs one pass);
    runs of lines that stay together are copied as one block. Returns the earliest and latest time."""
    order = sorted(range(len(stamps)), key=stamps.__getitem__)
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(np.frombuffer(sizes, dtype=np.uint32), out=offsets[1:])
    runs = []
    run_start = prev = -2
    for i in order:
        if i == prev + 1:
            prev = i
            continue
        if run_start >= 0:
            runs.append((int(offsets[run_start]), int(offsets[prev + 1])))
        run_start = prev = i
    if run_start >= 0:
        runs.append((int(offsets[run_start]), int(offsets[prev + 1])))
    out.flush()
    with tempfile.TemporaryFile(dir=Path(out.name).parent) as tmp:
        for begin, end in runs:
            copy_range(out, tmp, begin, end)
        tmp.seek(0)
        out.seek(0)
        out.truncate()
        shutil.copyfileobj(tmp, out, 1 << 20)
    return stamps[order[0]].decode(), stamps[order[-1]].decode()


_TAIL = b',"kind":"text","reply_to":null,"edited":false,"forwarded":false,"is_bot":false,"aka":null}\n'
_MISSING = object()


def dump_chunk(
    blocks: Iterable[str], first_line: int, shown, order: str, bracket: bool, builder, report, out
) -> tuple[list[bytes], array, int]:
    """Write a chunk of a WhatsApp export, as `text_blocks`, to `out` as JSON lines, in file order; return
    (each line's time, each line's size in bytes, how many came earlier than the one before).

    The same messages, bytes and accounting as `whatsapp.parse_lines` + `dump_message`, at a fraction of the cost:
    each block is cut at every header by `re.split` (in C), dates and times are converted once per distinct value,
    and a plain one-line text message (an ordinary author, no marker of media, deletion, edit or system line) is
    written from per-author byte templates. Anything else goes through `MessageBuilder.build`, the one place that
    classifies messages. tests/data_prep/test_parse_exports.py compares the paths byte for byte."""
    import orjson

    splitter = whatsapp.HEADER_LINES[bracket]
    head = b'{"platform":"whatsapp","chat":' + orjson.dumps(builder.chat) + b',"id":"'
    dates: dict[str, bytes | None] = {}  # "14/01/2024" -> b"2024-01-14T" (None: impossible)
    times: dict[object, bytes | None] = {}
    plain_author: dict[str, bytes | None] = {}
    first_kind: dict[str, int] = {}  # a text's first character -> 0 not plain, 1 plain, 2 check the whole text
    media, deleted = whatsapp.MEDIA_MARKERS, whatsapp.DELETED_MARKERS
    encryption, marks = whatsapp._ENCRYPTION, whatsapp._MARKS
    encryption_first = {e[:1] for e in encryption}
    marker_max = max(map(len, media | deleted)) + 1
    special_start = set(marks) | {"<"}
    special_end = set(marks) | {">", ")"}
    longest = whatsapp.MAX_MESSAGE_CHARS
    dumps = orjson.dumps
    plain = backwards = 0
    last = b""
    stamps: list[bytes] = []
    sizes = array("I")
    add_stamp = stamps.append
    lineno = first_line
    for text in blocks:
        has_cr = "\r" in text
        pieces = splitter.split(text)
        pre = pieces[0]
        if pre:  # only before the first header of the file
            if pre.strip(marks + "\n\r"):
                for i, line in enumerate(pre.split("\n")):
                    if line.strip(marks + "\r"):
                        report.warn(shown, lineno + i, "text before the first message header ignored")
            lineno += pre.count("\n")
        block: list[bytes] = []
        add_line = block.append
        it = iter(pieces)
        next(it)
        for d, t, a, body in zip(it, it, it, it, strict=True):
            this_line = lineno
            nl = body.find("\n")
            lineno += 1 if nl == len(body) - 1 and nl >= 0 else body.count("\n")
            date_b = dates.get(d, _MISSING)
            if date_b is _MISSING:
                iso = whatsapp._iso_date(d, order)
                date_b = dates[d] = (iso + "T").encode() if iso is not None else None
            key = t if a is None else (t, a)
            time_b = times.get(key, _MISSING)
            if time_b is _MISSING:
                iso = whatsapp._iso_time(t, a)
                time_b = times[key] = iso.encode() if iso is not None else None
            if date_b is None or time_b is None:
                builder.count += 1
                report.warn(shown, this_line, f"invalid date/time {d} {t}: message skipped")
                report.skip("invalid date")
                continue
            ts = date_b + time_b
            if 0 < nl == len(body) - 1 and nl <= longest:  # one line: the common case
                idx = body.find(": ", 0, nl)
                if idx > 0:
                    who = body[:idx]
                    author = plain_author.get(who, b"")
                    if author == b"":
                        found = builder._author(who)
                        author = plain_author[who] = (
                            b'"author":' + dumps(found[0]) + b',"author_id":' + dumps(found[1]) + b',"text":'
                            if found is not None
                            else None
                        )
                    if author is not None:
                        words = body[idx + 2 : nl]
                        if has_cr:
                            words = words.rstrip("\r")
                        if words and words[-1] not in special_end:
                            c0 = words[0]
                            kind = first_kind.get(c0)
                            if kind is None:
                                kind = first_kind[c0] = (
                                    0
                                    if c0 in special_start
                                    else 2
                                    if c0.isspace() or c0.casefold()[:1] in encryption_first
                                    else 1
                                )
                            if (
                                kind == 1
                                or kind == 2
                                and not words.isspace()
                                and not words[:160].casefold().startswith(encryption)
                            ) and (len(words) > marker_max or _not_a_marker(words.casefold(), media, deleted)):
                                plain += 1
                                if plain == 1:
                                    report.kinds["text"] += 0  # the report lists kinds as they first appear
                                add_line(
                                    b'%s%d","timestamp":"%s",%s%s%s'
                                    % (head, this_line, ts, author, dumps(words), _TAIL)
                                )
                                if ts < last:  # only what is written counts, as in `TimeOrder`
                                    backwards += 1
                                last = ts
                                add_stamp(ts)
                                continue
            if 0 <= nl < len(body) - 1:
                body_lines = body.split("\n")
                if body_lines[-1] == "":
                    body_lines.pop()
            else:
                body_lines = [body[:nl] if nl >= 0 else body]
            if has_cr:
                body_lines = [x.rstrip("\r") for x in body_lines]
            rest, parts = body_lines[0], body_lines[1:]
            size = len(rest) + sum(len(x) + 1 for x in parts)
            if size > longest:
                builder.count += 1
                report.warn(shown, this_line, f"message longer than {longest} characters: skipped")
                report.skip("too long")
                continue
            msg = builder.build(this_line, ts.decode(), rest, parts)
            if msg is None:
                report.skip("empty")
                continue
            report.kinds[msg.kind] += 1
            add_line(dump_message(msg))
            if ts < last:
                backwards += 1
            last = ts
            add_stamp(ts)
        out.writelines(block)
        sizes.extend(map(len, block))
    if plain:
        builder.count += plain
        report.kinds["text"] += plain
    return stamps, sizes, backwards


def _not_a_marker(key: str, media, deleted) -> bool:
    """A message text (casefolded, no invisible marks at its ends, not ending in ">" as every edit marker does)
    that is no media or deletion marker."""
    return key not in media and (key[:-1] if key[-1:] == "." else key) not in deleted
