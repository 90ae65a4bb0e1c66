"""`prep build`'s second pass on two cores, for the large case that allows it: messages.jsonl holds one chat, in time
order (one big export). The file is cut where the time since the message before is longer than a session gap, so
no session spans the cut; this process reads the first half while a forked one reads the second, and the second's
sessions, counts and files are appended to the first's. The outputs are byte-identical to one process's: sessions
come out in the same order (one chat: in time order), and the OpenAI names are checked to be what one process would
have given (else the second half is read again here).
"""

from __future__ import annotations

import multiprocessing
import re
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from clonekit.chat import NameSanitizer
from clonekit.config import PrepConfig
from clonekit.data_prep.message_filter import MessageFilter
from clonekit.data_prep.sessions import epoch_of
from clonekit.errors import ClonekitError
from clonekit.jsonl import absolute_line

PARALLEL_MIN_BYTES = 16 << 20
_STAMP = re.compile(rb'"timestamp"\s*:\s*"([^"]*)"')
_JOB: dict = {}  # what the forked process inherits (set just before the fork)


def plan(messages_path: Path, cfg: PrepConfig, cast) -> tuple[tuple[int, int, int], tuple[int, int, int]] | None:
    """The two stretches (start byte, end byte, first line) to read in parallel, or None to read in one piece."""
    import os

    size = messages_path.stat().st_size
    people = cast.people
    if (os.cpu_count() or 1) < 2 or size < PARALLEL_MIN_BYTES or len(people.chat_keys) != 1:
        return None
    if not people.in_time_order:
        return None
    cut = _find_cut(messages_path, size // 2, cfg.session_gap_minutes * 60.0)
    if cut is None:
        return None
    return (0, cut, 1), (cut, size, 1)  # the second half numbers its lines from 1 (`_absolute` for an error)


def _find_cut(path: Path, middle: int, gap: float) -> int | None:
    """The first line, from the one holding byte `middle` on, whose time is more than `gap` seconds after the line
    before (the file is in time order, so every session open there ends before it): its byte offset."""
    with open(path, "rb") as f:
        head = max(0, middle - (1 << 16))
        f.seek(head)
        window = f.read(middle - head)
        end_before = window.rfind(b"\n")  # the end of the line before the one holding `middle`
        if end_before < 0 and head:
            return None  # a line longer than 64 KB: give up (one process reads it all)
        start = head + window.rfind(b"\n", 0, max(end_before, 0)) + 1 if end_before > 0 else head  # that line
        f.seek(start)
        pos = start
        before = None
        for raw in f:
            m = _STAMP.search(raw)
            if m is None:
                return None
            now = epoch_of(m.group(1).decode())
            if before is not None and now - before > gap:
                return pos
            before = now
            pos += len(raw)
    return None


def run(
    messages_path: Path, cfg: PrepConfig, cast, out: Path, memory, keep, make, writer, halves, progress, meanwhile=None
) -> int:
    """Read the first half into `keep`/`make`/`writer` here and the second in a forked process, then append the
    second's results; returns the lines read. `meanwhile()` runs in a thread of this process beside the first half
    (started after the fork, done before this returns: the next fork finds no thread running)."""
    from clonekit.data_prep import build

    first, second = halves
    for _, chat in cast.people.chat_keys:  # the chat's name is redacted (and counted) once, here, for both halves
        if chat not in keep.chats:
            keep.chats[chat] = keep.redactor(chat)
    _JOB.update(path=messages_path, cfg=cfg, cast=cast, out=out, memory=memory, stretch=second, chats=keep.chats)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        pending = pool.apply_async(_second_half)
        beside = threading.Thread(target=meanwhile) if meanwhile is not None else None
        if beside is not None:  # e.g. hashing the input: I/O and hashlib, which let go of the GIL
            beside.start()
        read = build._stream(messages_path, keep, make, cast.people.lines, _half(progress), first)
        result = pending.get()
        if beside is not None:
            beside.join()
    _JOB.clear()
    if "error" in result:
        raise ClonekitError(
            result["error"][0], messages_path, absolute_line(messages_path, second[0], result["error"][1])
        )
    names = _names_as_one_process(make.sanitizer, result["names"])
    if names is None:  # the second half named someone otherwise than one process would have: read it here
        for path in result["writer"]["paths"].values():
            Path(path).unlink(missing_ok=True)
        try:
            return read + build._stream(messages_path, keep, make, cast.people.lines, None, second)
        except ClonekitError as e:
            raise ClonekitError(e.message, messages_path, absolute_line(messages_path, second[0], e.line)) from None
    make.sanitizer = names
    writer.close()
    writer.append(result["writer"])
    for path in result["writer"]["paths"].values():
        Path(path).unlink(missing_ok=True)
    keep.kept += result["kept"]
    keep.skipped.update(result["skipped"])
    for app, counts in result["sources"].items():
        keep.sources.setdefault(app, Counter()).update(counts)
    keep.redactor.counts.update(result["redaction"])
    make.counts.update(result["counts"])
    if progress:
        total = messages_path.stat().st_size
        progress(total, total)
    return read + result["read"]


def _half(progress: Callable[[int, int], None] | None):
    """The first half's progress, shown as the whole file's (the halves run at the same pace)."""
    if progress is None:
        return None
    return lambda done, total: progress(min(total, 2 * done), total)


def _names_as_one_process(first: NameSanitizer, second: dict[str, str]) -> NameSanitizer | None:
    """The first half's OpenAI names followed by the second's new ones, given in that order by one sanitizer; None
    when that would name someone of the second half differently (two names that clean to the same one)."""
    merged = NameSanitizer()
    for name in list(first.mapping) + [n for n in second if n not in first.mapping]:
        merged(name)
    if any(merged.mapping[n] != v for n, v in second.items()):
        return None
    return merged


def _second_half() -> dict:
    from clonekit.data_prep import build, splits
    from clonekit.redact import Redactor

    job = _JOB
    cfg, cast = job["cfg"], job["cast"]
    redactor = Redactor(cfg.redact, people=cast.excluded_names, keep=[cast.target_name])
    writer = splits.ExampleWriter(job["out"], tag=".2")
    keep = MessageFilter(cfg, cast, redactor)
    keep.chats.update(job["chats"])
    make = build._ExampleMaker(cfg, cast.target_name, writer, job["memory"])
    try:
        read = build._stream(job["path"], keep, make, cast.people.lines, None, job["stretch"])
    except ClonekitError as e:
        writer.close()
        writer.cleanup()
        return {"error": (e.message, e.line)}
    writer.close()
    return {
        "read": read,
        "kept": keep.kept,
        "skipped": keep.skipped,
        "sources": keep.sources,
        "redaction": redactor.counts,
        "counts": make.counts,
        "names": make.sanitizer.mapping,
        "writer": writer.state(),
    }
