"""Messages in time order: count the ones that come earlier than the one before them in their chat, and sort a
written stretch of messages.jsonl by time without holding its lines in memory."""

from __future__ import annotations

import os
import shutil
import tempfile
from array import array
from pathlib import Path

import numpy as np

from clonekit.data_prep.sessions import epoch_of


class TimeOrder:
    """Counts messages that come earlier than the one before them in the same chat."""

    def __init__(self):
        self.last: dict[str, float] = {}
        self.backwards = 0

    def see(self, chat: str, ts: str) -> None:
        epoch = epoch_of(ts)
        if epoch < self.last.get(chat, epoch):
            self.backwards += 1
        self.last[chat] = epoch


def sort_since(f, start: int) -> None:
    """Sort the lines written since byte `start` by time (stable: equal times keep their file order).

    Held in memory: each line's offset and timestamp (sliced from the JSON, which `dump_message` writes in field
    order), never the lines. Naive timestamps of one length (all of WhatsApp's) sort as text; others by epoch. The
    lines are then copied in sorted order through a temporary file, a run of lines that stays in place as one block:
    a few late messages in a million cost one pass, not the file in memory."""
    f.flush()
    f.seek(start)
    offsets = array("q")
    stamps: list[bytes] = []
    add_offset, add_stamp = offsets.append, stamps.append
    pos = start
    for line in f:
        i = line.index(b'"timestamp":"') + 13
        add_offset(pos)
        add_stamp(line[i : line.index(b'"', i)])
        pos += len(line)
    offsets.append(pos)
    if all(len(t) == 19 for t in stamps):
        keys = np.array(stamps, dtype="S19")
    else:
        keys = np.fromiter((epoch_of(t.decode()) for t in stamps), dtype=np.float64, count=len(stamps))
    del stamps
    order = np.argsort(keys, kind="stable")
    with tempfile.TemporaryFile(dir=Path(f.name).parent) as sorted_file:
        run_start = prev = -2  # a run of lines that stay adjacent is copied as one block
        for i in order.tolist():
            if i == prev + 1:
                prev = i
                continue
            if run_start >= 0:
                copy_range(f, sorted_file, offsets[run_start], offsets[prev + 1])
            run_start = prev = i
        if run_start >= 0:
            copy_range(f, sorted_file, offsets[run_start], offsets[prev + 1])
        f.seek(start)
        f.truncate()
        sorted_file.seek(0)
        shutil.copyfileobj(sorted_file, f, 1 << 20)


def copy_range(src, dst, begin: int, end: int) -> None:
    src.seek(begin)
    remaining = end - begin
    while remaining:
        block = src.read(min(remaining, 1 << 20))
        dst.write(block)
        remaining -= len(block)


def append_file(path: str, out) -> None:
    """Copy the file at `path` onto the end of the open binary file `out`, in the kernel (os.copy_file_range: no
    copy through this process) where the OS and file system allow it, else through a buffer."""
    out.flush()
    with open(path, "rb") as src:
        size = os.fstat(src.fileno()).st_size
        done = 0
        try:
            while done < size:
                n = os.copy_file_range(src.fileno(), out.fileno(), size - done)
                if n == 0:
                    break
                done += n
        except (OSError, AttributeError):  # another file system, an old kernel, not Linux
            pass
        src.seek(done)
        out.seek(0, os.SEEK_END)  # the buffered file learns where the kernel left its end
        shutil.copyfileobj(src, out, 1 << 20)
