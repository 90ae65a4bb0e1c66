"""Large plain-text WhatsApp exports, parsed in parallel: the file is cut at message headers into one chunk per
worker, each chunk is parsed in its own process, and the parts are joined in order, so the output is byte-identical
to a single-process parse."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

import numpy as np

from clonekit.data_prep import whatsapp
from clonekit.data_prep.archive import is_zip
from clonekit.data_prep.report import ParseReport
from clonekit.data_prep.sessions import epoch_of
from clonekit.data_prep.time_order import TimeOrder
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
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        e = decode_error(path, data, err)
        return {"error": e.message, "line": first_line - 1 + e.line}
    del data
    report = ParseReport()
    builder = whatsapp.MessageBuilder(chat)
    with open(part, "w+b") as out:
        stamps, backwards = dump_chunk(text, first_line, path, order, bracket, builder, report, out)
        del text
        first, last = (stamps[0], stamps[-1]) if stamps else (None, None)
        if backwards:  # sorted here, stably, as `time_order.sort_since` would sort the whole file
            stamps = _sort_part(out, stamps)
    report.read = builder.count
    low, high = (stamps[0], stamps[-1]) if stamps else (None, None)
    return {**report.to_dict(), "backwards": backwards, "first": first, "last": last, "low": low, "high": high}


def _sort_part(out, stamps: list[str]) -> list[str]:
    """Rewrite the part file with its lines in stable time order (timsort: a nearly sorted file costs one pass);
    runs of lines that stay together are copied as one block. Line starts come from the newlines (a JSON line holds
    no raw newline)."""
    order = sorted(range(len(stamps)), key=stamps.__getitem__)
    out.flush()
    out.seek(0)
    data = out.read()
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10) + 1
    offsets = np.concatenate(([0], ends)).tolist()
    pieces = []
    run_start = prev = -2
    for i in order:
        if i == prev + 1:
            prev = i
            continue
        if run_start >= 0:
            pieces.append(data[offsets[run_start] : offsets[prev + 1]])
        run_start = prev = i
    if run_start >= 0:
        pieces.append(data[offsets[run_start] : offsets[prev + 1]])
    out.seek(0)
    out.truncate()
    out.writelines(pieces)
    return [stamps[i] for i in order]


_TAIL = b',"kind":"text","reply_to":null,"edited":false,"forwarded":false,"is_bot":false,"aka":null}\n'
BLOCK_CHARS = 1 << 21  # a chunk is split and written this much at a time (bounded memory)


def dump_chunk(
    text: str, first_line: int, shown, order: str, bracket: bool, builder, report, out
) -> tuple[list[str], int]:
    """Write a chunk of a WhatsApp export (starting at a header) to `out` as JSON lines, in file order; return
    (their timestamps, how many came earlier than the one before).

    The same messages, bytes and accounting as `whatsapp.parse_lines` + `dump_message`, at a fraction of the cost:
    the chunk is cut at every header by `re.split` (in C) a block at a time, dates and times are converted once per
    distinct value, and a plain one-line text message (an ordinary author, no marker of media, deletion, edit or
    system line) is written from per-author byte templates. Anything else goes through `MessageBuilder.build`, the
    one place that classifies messages. tests/data_prep/test_parse_exports.py compares the paths byte for byte."""
    import orjson

    splitter = whatsapp.HEADER_LINES[bracket]
    head = b'{"platform":"whatsapp","chat":' + orjson.dumps(builder.chat) + b',"id":"'
    date_of: dict[str, str | None] = {}
    time_of: dict[tuple, str | None] = {}
    plain_author: dict[str, bytes | None] = {}
    media, deleted = whatsapp.MEDIA_MARKERS, whatsapp.DELETED_MARKERS
    encryption, marks = whatsapp._ENCRYPTION, whatsapp._MARKS
    encryption_first = {e[:1] for e in encryption}
    marker_max = max(map(len, media | deleted)) + 1
    special_start = set(marks) | {"<"}
    special_end = set(marks) | {">", ")"}
    has_cr = "\r" in text
    dumps = orjson.dumps
    stamps: list[str] = []
    add_stamp = stamps.append
    plain = backwards = 0
    last_ts = ""
    lineno = first_line
    pos = 0
    while pos < len(text):
        cut = len(text)
        if pos + BLOCK_CHARS < len(text):
            nxt = splitter.search(text, pos + BLOCK_CHARS)
            cut = nxt.start() if nxt is not None else len(text)
        pieces = splitter.split(text[pos:cut])
        if pos == 0:
            lineno += pieces[0].count("\n")
            if pieces[0].strip(marks + "\n\r"):
                for i, line in enumerate(pieces[0].split("\n")):
                    if line.strip(marks + "\r"):
                        report.warn(shown, first_line + i, "text before the first message header ignored")
        pos = cut
        block: list[bytes] = []
        add_line = block.append
        for i in range(1, len(pieces), 4):
            d, t, a, body = pieces[i : i + 4]
            this_line = lineno
            nl = body.find("\n")
            lineno += 1 if nl == len(body) - 1 else body.count("\n")
            iso_d = date_of.get(d, "")
            if iso_d == "":
                iso_d = date_of[d] = whatsapp._iso_date(d, order)
            iso_t = time_of.get((t, a), "")
            if iso_t == "":
                iso_t = time_of[(t, a)] = whatsapp._iso_time(t, a)
            if iso_d is None or iso_t is None:
                builder.count += 1
                report.warn(shown, this_line, f"invalid date/time {d} {t}: message skipped")
                report.skip("invalid date")
                continue
            ts = f"{iso_d}T{iso_t}"
            if nl < 0 or nl == len(body) - 1:  # one line
                rest = body[:nl] if nl >= 0 else body
                if has_cr:
                    rest = rest.rstrip("\r")
                idx = rest.find(": ") if len(rest) <= whatsapp.MAX_MESSAGE_CHARS else -1
                if idx > 0:
                    who = rest[:idx]
                    author = plain_author.get(who, b"")
                    if author == b"":
                        found = builder._author(who)
                        author = plain_author[who] = (
                            b'"author":' + dumps(found[0]) + b',"author_id":' + dumps(found[1]) + b',"text":'
                            if found is not None
                            else None
                        )
                    words = rest[idx + 2 :]
                    if (
                        author is not None
                        and words
                        and words[0] not in special_start
                        and words[-1] not in special_end
                        and (len(words) > marker_max or _not_a_marker(words.casefold(), media, deleted))
                        and (
                            words[0].casefold()[:1] not in encryption_first
                            or not words[:160].casefold().startswith(encryption)
                        )
                        and not words.isspace()
                    ):
                        plain += 1
                        if plain == 1:
                            report.kinds["text"] += 0  # the report lists kinds in the order they first appear
                        add_line(
                            b'%s%d","timestamp":"%s",%s%s%s'
                            % (head, this_line, ts.encode(), author, dumps(words), _TAIL)
                        )
                        if ts < last_ts:
                            backwards += 1
                        add_stamp(ts)
                        last_ts = ts
                        continue
                parts: list[str] = []
            else:
                body_lines = body.split("\n")
                if body_lines[-1] == "":
                    body_lines.pop()
                if has_cr:
                    body_lines = [x.rstrip("\r") for x in body_lines]
                rest, parts = body_lines[0], body_lines[1:]
            size = len(rest) + sum(len(x) + 1 for x in parts)
            if size > whatsapp.MAX_MESSAGE_CHARS:
                builder.count += 1
                report.warn(shown, this_line, f"message longer than {whatsapp.MAX_MESSAGE_CHARS} characters: skipped")
                report.skip("too long")
                continue
            msg = builder.build(this_line, ts, rest, parts)
            if msg is None:
                report.skip("empty")
                continue
            report.kinds[msg.kind] += 1
            add_line(dump_message(msg))
            if ts < last_ts:
                backwards += 1
            add_stamp(ts)
            last_ts = ts
        out.writelines(block)
    if plain:
        builder.count += plain
        report.kinds["text"] += plain
    return stamps, backwards


def _not_a_marker(key: str, media, deleted) -> bool:
    """A message text (casefolded, no invisible marks at its ends, not ending in ">" as every edit marker does)
    that is no media or deletion marker."""
    return key not in media and (key[:-1] if key[-1:] == "." else key) not in deleted
