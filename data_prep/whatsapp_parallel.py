"""Large plain-text WhatsApp exports, parsed in parallel: the file is cut at message headers into one chunk per
worker, each chunk is parsed in its own process, and the parts are joined in order, so the output is byte-identical
to a single-process parse."""

from __future__ import annotations

import io
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


def parse_parallel(path: Path, out, report: ParseReport, dayfirst: bool | None, workers: int, times: TimeOrder) -> None:
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
        for part, result in zip(parts, results, strict=True):
            if "error" in result:
                raise ClonekitError(result["error"], path, result.get("line"))
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            times.backwards += result.pop("backwards")
            first, last = result.pop("first"), result.pop("last")
            if first is not None:  # the chunk's first message against the previous chunk's last
                times.see(chat, first)
                times.last[chat] = epoch_of(last)
            report.absorb(result)
    finally:
        for part in parts:
            Path(part).unlink(missing_ok=True)


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
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="\n")
    lines = (line.rstrip("\r\n") for line in stream)
    times = TimeOrder()
    first = last = None
    try:
        with open(part, "wb") as out:
            write = out.write
            for msg in whatsapp.parse_lines(lines, first_line, path, order, bracket, builder, report):
                write(dump_message(msg))
                report.kinds[msg.kind] += 1
                times.see(chat, msg.timestamp)
                if first is None:
                    first = msg.timestamp
                last = msg.timestamp
    except UnicodeDecodeError:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            e = decode_error(path, data, err)
            return {"error": e.message, "line": first_line - 1 + e.line}
        raise
    report.read = builder.count
    return {**report.to_dict(), "backwards": times.backwards, "first": first, "last": last}
