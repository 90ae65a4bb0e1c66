"""Large plain-text WhatsApp exports, parsed in parallel: the file is cut at message headers into one chunk per
worker, each chunk is parsed in its own process, and the parts are joined in order, so the output is byte-identical
to a single-process parse."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

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
    lines, stamps = dump_chunk(text, first_line, path, order, bracket, builder, report)
    del text
    backwards = sum(1 for a, b in zip(stamps, stamps[1:], strict=False) if b < a)
    first, last = (stamps[0], stamps[-1]) if stamps else (None, None)
    if backwards:  # sorted here, stably, as `time_order.sort_since` would sort the whole file
        order_idx = sorted(range(len(stamps)), key=stamps.__getitem__)
        lines = [lines[i] for i in order_idx]
        stamps = [stamps[i] for i in order_idx]
    with open(part, "wb") as out:
        out.writelines(lines)
    report.read = builder.count
    low, high = (stamps[0], stamps[-1]) if stamps else (None, None)
    return {**report.to_dict(), "backwards": backwards, "first": first, "last": last, "low": low, "high": high}


_TAIL = b',"kind":"text","reply_to":null,"edited":false,"forwarded":false,"is_bot":false,"aka":null}\n'


def dump_chunk(text: str, first_line: int, shown, order: str, bracket: bool, builder, report) -> tuple[list, list]:
    """A chunk of a WhatsApp export (starting at a header) -> (JSON lines, their timestamps), in file order.

    The same messages, bytes and accounting as `whatsapp.parse_lines` + `dump_message`, at a fraction of the cost:
    the chunk is cut at every header by one `re.split` (in C), dates and times are converted once per distinct
    value, and a plain one-line text message (an ordinary author, no marker of media, deletion, edit or system
    line) is written from per-author byte templates. Anything else goes through `MessageBuilder.build`, the one
    place that classifies messages. tests/data_prep/test_parse_exports.py compares the two paths byte for byte."""
    import orjson

    pieces = whatsapp.HEADER_LINES[bracket].split(text)
    lineno = first_line + pieces[0].count("\n")
    if pieces[0].strip(whatsapp._MARKS + "\n\r"):
        for i, line in enumerate(pieces[0].split("\n")):
            if line.strip(whatsapp._MARKS + "\r"):
                report.warn(shown, first_line + i, "text before the first message header ignored")
    head = b'{"platform":"whatsapp","chat":' + orjson.dumps(builder.chat) + b',"id":"'
    stamp_of: dict[tuple, str | None] = {}
    plain_author: dict[str, bytes | None] = {}
    media, deleted = whatsapp.MEDIA_MARKERS, whatsapp.DELETED_MARKERS
    encryption, marks = whatsapp._ENCRYPTION, whatsapp._MARKS
    special_start = set(marks) | {"<"}
    special_end = set(marks) | {">", ")"}
    has_cr = "\r" in text
    dumps = orjson.dumps
    lines: list[bytes] = []
    stamps: list[str] = []
    add_line, add_stamp = lines.append, stamps.append
    plain = 0
    for i in range(1, len(pieces), 4):
        d, t, a, body = pieces[i], pieces[i + 1], pieces[i + 2], pieces[i + 3]
        this_line = lineno
        lineno += body.count("\n")
        key = (d, t, a)
        ts = stamp_of.get(key, "")
        if ts == "":
            iso_d, iso_t = whatsapp._iso_date(d, order), whatsapp._iso_time(t, a)
            ts = stamp_of[key] = f"{iso_d}T{iso_t}" if iso_d is not None and iso_t is not None else None
        if ts is None:
            builder.count += 1
            report.warn(shown, this_line, f"invalid date/time {d} {t}: message skipped")
            report.skip("invalid date")
            continue
        nl = body.find("\n")
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
                    and not words.isspace()
                    and (len(words) >= 120 or _not_a_marker(words.casefold(), media, deleted))
                    and not words[:160].casefold().startswith(encryption)
                ):
                    builder.count += 1
                    plain += 1
                    if plain == 1:
                        report.kinds["text"] += 0  # the report lists kinds in the order they first appear
                    add_line(
                        b'%s%d","timestamp":"%s",%s%s%s' % (head, this_line, ts.encode(), author, dumps(words), _TAIL)
                    )
                    add_stamp(ts)
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
        add_stamp(ts)
    if plain:
        report.kinds["text"] += plain
    return lines, stamps


def _not_a_marker(key: str, media, deleted) -> bool:
    """A message text (casefolded, no invisible marks at its ends, not ending in ">" as every edit marker does)
    that is no media or deletion marker."""
    return key not in media and (key[:-1] if key[-1:] == "." else key) not in deleted
