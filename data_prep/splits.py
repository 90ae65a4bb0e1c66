"""The dataset's files from the examples a build made: train/valid split by session start time, repeated target turns
kept to their end-of-turn loss (TurnDeduper), the leakage check, sessions.jsonl in time order.

The build writes every session's lines once, to temporary files (`ExampleWriter`); the split then copies byte
ranges, so the files are written without holding the examples in memory."""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import os
import shutil
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import orjson

from clonekit.data_prep.sessions import Session
from clonekit.dataset import (
    OPENAI_TRAIN_FILE,
    OPENAI_VALID_FILE,
    SESSIONS_FILE,
    TRAIN_FILE,
    VALID_FILE,
)
from clonekit.repetition import normalize

BUFFER_BYTES = 1 << 20


class ExampleWriter:
    """Examples and sessions go to temporary files, written one session after another, so a
    session's bytes in each file run from the previous session's end to its own. Per session we
    keep only numbers, in typed arrays (~60 bytes a session, not a few hundred for tuples)."""

    KINDS = ("hf", "oa", "sessions")

    def __init__(self, out: Path, tag: str = ""):
        self.paths = {k: out / f".{k}{tag}.tmp" for k in self.KINDS}
        self.files = {k: open(p, "wb") for k, p in self.paths.items()}
        self.start_epoch = array("d")
        self.ends = {k: array("q") for k in self.KINDS}
        self.n_hf = array("l")
        self.n_oa = array("l")
        self.turns = array("l")
        self._pos = dict.fromkeys(self.KINDS, 0)
        self._buffers = {k: bytearray() for k in self.KINDS}  # written a MB at a time, not a line at a time

    def add(self, session: Session, hf_lines: list[bytes], oa_lines: list[bytes], target_turns: int) -> None:
        # the split's label goes first: "train" for now when it has examples; the split patches "valid" in place
        dumped = orjson.dumps(session.to_dict(), option=orjson.OPT_APPEND_NEWLINE)
        pos, ends, buffers = self._pos, self.ends, self._buffers
        if hf_lines:
            label = b'{"split":"train",'
            data = b"".join(hf_lines)
            buffers["hf"] += data
            pos["hf"] += len(data)
        else:
            label = b'{"split":"none",'
        if oa_lines:
            data = b"".join(oa_lines)
            buffers["oa"] += data
            pos["oa"] += len(data)
        sessions = buffers["sessions"]
        sessions += label
        sessions += memoryview(dumped)[1:]
        pos["sessions"] += len(label) + len(dumped) - 1
        ends["hf"].append(pos["hf"])
        ends["oa"].append(pos["oa"])
        ends["sessions"].append(pos["sessions"])
        self.start_epoch.append(session.start_epoch)
        self.n_hf.append(len(hf_lines))
        self.n_oa.append(len(oa_lines))
        self.turns.append(target_turns)
        if len(sessions) > BUFFER_BYTES or len(buffers["hf"]) > BUFFER_BYTES:
            self.flush()

    def flush(self) -> None:
        for kind, buffer in self._buffers.items():
            if buffer:
                self.files[kind].write(buffer)
                buffer.clear()

    def state(self) -> dict:
        """What `append` needs of this writer (its files closed)."""
        return {
            "paths": self.paths,
            "start_epoch": self.start_epoch,
            "ends": self.ends,
            "n_hf": self.n_hf,
            "n_oa": self.n_oa,
            "turns": self.turns,
        }

    def append(self, other: dict) -> None:
        """Add another writer's sessions after this one's (its files copied onto the end of these, its offsets
        shifted): as if this writer had written them."""
        for kind in self.KINDS:
            with open(self.paths[kind], "ab") as dst, open(other["paths"][kind], "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 20)
            self.ends[kind].extend(self._pos[kind] + e for e in other["ends"][kind])
            self._pos[kind] += other["ends"][kind][-1] if other["ends"][kind] else 0
        self.start_epoch.extend(other["start_epoch"])
        self.n_hf.extend(other["n_hf"])
        self.n_oa.extend(other["n_oa"])
        self.turns.extend(other["turns"])

    def close(self) -> None:
        if not all(f.closed for f in self.files.values()):
            self.flush()
        for f in self.files.values():
            f.close()

    def cleanup(self) -> None:
        for p in self.paths.values():
            p.unlink(missing_ok=True)


class TurnDeduper:
    """Repetition in the data teaches repetition: a target turn whose text the clone was already trained on
    `max_copies` times keeps only the loss on its end-of-turn token (`"weight": 0, "end_weight": 1`: the clone still
    learns where such a turn ends). The OpenAI files have no end-only weight: there the copy gets weight 0, and an
    example left with no weighted turn is dropped (counted)."""

    def __init__(self, max_copies: int, watch: set[str] | None = None):
        self.max_copies = max_copies
        # the leakage figure asks which validation replies the train split holds: those found are kept here (not
        # every train text: 30 MB for a million messages); None: nothing watched
        self.watch = watch
        self.seen: Counter = Counter()
        self.end_only = 0
        self.dropped = 0
        self.texts: set[str] = set()  # the watched texts seen among the target turns read

    def block(self, lines: bytes, end_weight: bool) -> bytes:
        """The examples of `lines` (the build's own JSON lines) with repeated target turns' weights moved to the
        end-of-turn token. Read with msgspec into light rows; only an example that changes is parsed whole and
        written again (orjson, as the build wrote it), so the others keep their bytes."""
        raw_lines = lines.splitlines()
        examples = _EXAMPLES.decode_lines(lines)
        if len(examples) != len(raw_lines):
            raise RuntimeError("the build's example files hold a blank line")  # a bug, never a user error
        out = []
        seen, max_copies, watch = self.seen, self.max_copies, self.watch or ()
        texts = self.texts
        for line, example in zip(raw_lines, examples, strict=True):
            repeated = []
            for i, m in enumerate(example.messages):
                if m.role != "assistant":
                    continue
                if watch and (text := m.content.strip()) in watch:
                    texts.add(text)
                if not max_copies or not m.weight:
                    continue
                key = normalize(m.content)
                seen[key] += 1
                if seen[key] > max_copies:
                    repeated.append(i)
            if repeated:
                whole = orjson.loads(line)
                for i in repeated:
                    whole["messages"][i]["weight"] = example.messages[i].weight = 0
                    if end_weight:
                        whole["messages"][i]["end_weight"] = 1
                self.end_only += len(repeated)
                line = orjson.dumps(whole)
            if not end_weight and not any(m.role == "assistant" and m.weight for m in example.messages):
                self.dropped += 1
                continue
            out.append(line)
        return b"\n".join(out) + b"\n" if out else b""


class _Message(msgspec.Struct, gc=False):
    role: str
    content: Any = ""
    weight: Any = 1


class _Example(msgspec.Struct, gc=False):
    messages: list[_Message]


_EXAMPLES = msgspec.json.Decoder(_Example)


def _target_turns(path: Path, weighted: bool) -> list[str]:
    found = []
    with open(path, "rb") as f:
        for line in f:
            found += [
                m["content"].strip()
                for m in orjson.loads(line)["messages"]
                if m["role"] == "assistant" and (m.get("weight", 1) or not weighted)
            ]
    return found


def leakage(train_path: Path, valid_path: Path) -> dict:
    """How many validation target replies (weight 1) appear verbatim among the train split's target turns."""
    return leakage_against(set(_target_turns(train_path, weighted=False)), valid_path)


def leakage_against(train: set[str], valid_path: Path) -> dict:
    valid = _target_turns(valid_path, weighted=True)
    leaked = sum(1 for t in valid if t in train)
    return {
        "valid_target_turns": len(valid),
        "in_train_verbatim": leaked,
        "rate": round(leaked / len(valid), 4) if valid else 0.0,
    }


RUN_BYTES = 1 << 20


def write_splits(
    writer: ExampleWriter, out: Path, valid_fraction: float, max_copies: int = 0, parallel: bool = True
) -> dict:
    """The latest sessions (by start time) with examples become validation; whole sessions only. Large example
    files: the OpenAI files and sessions.jsonl are written by a forked process while this one writes the HF files
    (the same bytes as one process)."""
    epochs, n_hf, n_oa, turns = (
        np.frombuffer(a, dtype=a.typecode) for a in (writer.start_epoch, writer.n_hf, writer.n_oa, writer.turns)
    )
    order_array = np.argsort(epochs, kind="stable")  # by (start time, index)
    with_examples = order_array[n_hf[order_array] > 0]
    n = len(with_examples)
    n_valid = min(n - 1, max(1, math.ceil(valid_fraction * n))) if valid_fraction > 0 and n >= 2 else 0
    train_ids, valid_ids = with_examples[: n - n_valid], with_examples[n - n_valid :]
    result: dict[str, Any] = {"train_sessions": len(train_ids), "valid_sessions": len(valid_ids), "valid_from": None}
    for split, ids in (("train", train_ids), ("valid", valid_ids)):
        result[f"{split}_examples"] = int(n_hf[ids].sum())
        result[f"{split}_openai"] = int(n_oa[ids].sum())
        result[f"{split}_turns"] = int(turns[ids].sum())
    if len(valid_ids):
        result["valid_from"] = dt.datetime.fromtimestamp(writer.start_epoch[int(valid_ids[0])], dt.UTC).isoformat()
    _JOB.update(
        writer=writer,
        out=out,
        ids=(train_ids.tolist(), valid_ids.tolist()),
        order=order_array.tolist(),
        max_copies=max_copies,
    )
    try:
        if parallel and (os.cpu_count() or 1) > 1 and writer.ends["oa"] and writer.ends["oa"][-1] >= PARALLEL_MIN_BYTES:
            with multiprocessing.get_context("fork").Pool(1) as pool:  # the OpenAI files in a second process
                pending = pool.apply_async(_openai_and_sessions)
                hf = _copy_kind("hf")
                oa_dropped = pending.get()
        else:
            hf = _copy_kind("hf")
            oa_dropped = _openai_and_sessions()
    finally:
        _JOB.clear()
    result["dedupe"] = {
        "max_copies": max_copies,
        "by": "target turn text, lowercased, whitespace and end punctuation ignored",
        "end_only_turns": hf.end_only,
        "distinct_texts": len(hf.seen),
        "openai_examples_dropped": oa_dropped,
    }
    result["leakage"] = leakage_against(hf.texts, out / VALID_FILE)
    return result


def _write_sessions() -> None:
    """sessions.jsonl: every session in time order, with its split ("none": no target turn to learn). The lines were
    written labelled "train" or "none": they are copied in time order, then the validation sessions' labels are
    overwritten in place ("valid" is as long as "train")."""
    writer, out = _JOB["writer"], _JOB["out"]
    order = np.asarray(_JOB["order"], dtype=np.int64)
    ends = np.frombuffer(writer.ends["sessions"], dtype=writer.ends["sessions"].typecode)
    sizes = np.diff(ends, prepend=0)
    if np.array_equal(order, np.arange(len(order))):  # already in time order (one chat): the file is moved
        os.replace(writer.paths["sessions"], out / SESSIONS_FILE)
    else:
        with open(writer.paths["sessions"], "rb") as src, open(out / SESSIONS_FILE, "wb") as dst:
            for start, end in _byte_runs(writer, "sessions", order, run_bytes=1 << 24):
                src.seek(start)
                dst.write(src.read(end - start))
    at = np.empty(len(order), dtype=np.int64)  # where each session starts in sessions.jsonl
    at[order] = np.cumsum(sizes[order]) - sizes[order]
    with open(out / SESSIONS_FILE, "r+b") as dst:
        for i in sorted(at[_JOB["ids"][1]].tolist()):
            dst.seek(i + len(b'{"split":"'))
            dst.write(b"valid")


PARALLEL_MIN_BYTES = 16 << 20
_JOB: dict = {}  # what the forked process inherits (set just before the fork)
_FILES = {"hf": (TRAIN_FILE, VALID_FILE), "oa": (OPENAI_TRAIN_FILE, OPENAI_VALID_FILE)}


def _copy_kind(kind: str) -> TurnDeduper:
    """Write one kind's train and valid files from the temporary file, the train split through the deduper (the
    OpenAI one only when `max_copies` is set: its dropped examples are counted there); returns the deduper."""
    writer, out, max_copies = _JOB["writer"], _JOB["out"], _JOB["max_copies"]
    dedupe = TurnDeduper(max_copies)
    with open(writer.paths[kind], "rb") as src:
        # the valid file first (never deduped): its replies are what the train split is watched for (leakage)
        for name, ids in reversed(list(zip(_FILES[kind], _JOB["ids"], strict=True))):
            if name == TRAIN_FILE:
                dedupe.watch = set(_target_turns(out / VALID_FILE, weighted=True))
            with open(out / name, "wb") as dst:
                for start, end in _byte_runs(writer, kind, ids):  # the deduper reads the lines in this order
                    src.seek(start)
                    block = src.read(end - start)
                    if name == TRAIN_FILE or (name == OPENAI_TRAIN_FILE and max_copies):
                        block = dedupe.block(block, end_weight=kind == "hf")
                    dst.write(block)
    return dedupe


def _openai_and_sessions() -> int:
    """The OpenAI files and sessions.jsonl (the forked process's share); returns the OpenAI examples dropped."""
    dropped = _copy_kind("oa").dropped
    _write_sessions()
    return dropped


def _byte_runs(writer: ExampleWriter, kind: str, ids, run_bytes: int = RUN_BYTES) -> list[tuple[int, int]]:
    """(start byte, end byte) of runs of the sessions `ids` (in that order) that follow each other in `kind`'s
    temporary file, each run starting a new `run_bytes` window (a session is never cut): the splits read and write
    a run at once, not a session at a time."""
    ids = np.asarray(ids, dtype=np.int64)
    if not len(ids):
        return []
    ends = np.frombuffer(writer.ends[kind], dtype=writer.ends[kind].typecode)
    end = ends[ids]
    start = np.where(ids > 0, ends[np.maximum(ids - 1, 0)], 0)
    new = np.ones(len(ids), dtype=bool)
    new[1:] = start[1:] != end[:-1]  # not right after the one before in the file
    segment_start = start[new][np.cumsum(new) - 1]
    window = (start - segment_start) // run_bytes
    new[1:] |= window[1:] != window[:-1]
    firsts = np.flatnonzero(new)
    lasts = np.append(firsts[1:], len(ids)) - 1
    return list(zip(start[firsts].tolist(), end[lasts].tolist(), strict=True))
