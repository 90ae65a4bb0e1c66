"""The registry's audit log: an append-only, hash-chained JSONL of every event, each with time, actor and reason.

Each line is one record: `seq` (0, 1, 2, ...), `time`, `event`, `actor`, `reason`, `version` (or null), `data`,
`prev` (the previous record's hash) and `hash` = SHA-256 of the record without `hash`, as canonical JSON. A
head file beside the log keeps the last record's seq and hash, so that cutting records off the end is caught as
well as editing, deleting or reordering records in the middle. Appends take an exclusive lock (the bot and the
command line may write at once). The log holds no chat text: consent can be withdrawn, and an append-only log
cannot forget (feedback and material are referenced by ids and hashes; their text lives in the bot's store).

Not a hand-written imitation of a library: the standard library has no hash-chained log, and the format is
twelve lines of canonical JSON, which any tool can re-check.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clonekit.contracts import AuditRecord
from clonekit.errors import ClonekitError
from clonekit.hashing import sha256_text

GENESIS = "0" * 64
EVENTS = (
    "created",
    "registered",
    "trained",
    "evaluated",
    "approved",
    "rejected",
    "promoted",
    "rolled_back",
    "ab_started",
    "ab_stopped",
    "feedback",
    "memory_added",
    "memory_forgotten",
)


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def canonical(record: dict) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(record: dict) -> str:
    return sha256_text(canonical({k: v for k, v in record.items() if k != "hash"}))


@dataclass
class AuditProblem:
    line: int | None  # 1-based line of the log, None for the head file
    problem: str


class AuditLog:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.head_path = self.path.with_suffix(".head")
        self.lock_path = self.path.with_suffix(".lock")

    @contextmanager
    def _locked(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, event: str, reason: str, actor: str | None = None, version: str | None = None, **data) -> dict:
        """Append one event (checking the chain's end first: a broken log is never extended)."""
        if event not in EVENTS:
            raise ValueError(f"unknown audit event {event!r}")
        if not reason or not reason.strip():
            raise ClonekitError(f"an audit event ({event}) needs a reason")
        with self._locked():
            records = self.records(check=True)
            prev = records[-1] if records else None
            record = {
                "seq": prev["seq"] + 1 if prev else 0,
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "event": event,
                "actor": actor or default_actor(),
                "reason": reason.strip(),
                "version": version,
                "data": data,
                "prev": prev["hash"] if prev else GENESIS,
            }
            record["hash"] = record_hash(record)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(canonical(record) + "\n")
                f.flush()
                os.fsync(f.fileno())
            tmp = self.head_path.with_suffix(".head.tmp")
            tmp.write_text(canonical({"seq": record["seq"], "hash": record["hash"]}) + "\n", encoding="utf-8")
            os.replace(tmp, self.head_path)
        return record

    def records(self, check: bool = True) -> list[dict]:
        """Every record, oldest first. `check`: raise a ClonekitError naming the first problem of the chain."""
        if check:
            problems = self.verify()
            if problems:
                p = problems[0]
                raise ClonekitError(
                    f"the audit log is broken: {p.problem} (`clonekit registry verify` lists every "
                    "problem); nothing was changed",
                    self.path,
                    p.line,
                )
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def entries(self, check: bool = True) -> list[AuditRecord]:
        """`records`, each as its typed model."""
        return [AuditRecord.check(r, self.path, n) for n, r in enumerate(self.records(check), 1)]

    def verify(self) -> list[AuditProblem]:
        """Every problem of the chain: a record that is not JSON, an edited record (its hash), a deleted or moved
        record (seq and prev), records cut off the end or a log that is gone (the head file)."""
        problems: list[AuditProblem] = []
        head = None
        if self.head_path.exists():
            try:
                head = json.loads(self.head_path.read_text(encoding="utf-8"))
            except ValueError:
                problems.append(AuditProblem(None, f"the head file {self.head_path.name} is not JSON"))
        if not self.path.exists():
            if head is not None:
                problems.append(
                    AuditProblem(
                        None, f"the log is gone but its head file says it had {head.get('seq', -1) + 1} records"
                    )
                )
            return problems
        prev_hash, expected_seq, last = GENESIS, 0, None
        for lineno, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                problems.append(AuditProblem(lineno, "an empty line"))
                continue
            try:
                record = json.loads(line)
                seq, stated, prev = record["seq"], record["hash"], record["prev"]
            except (ValueError, KeyError, TypeError):
                problems.append(AuditProblem(lineno, "not an audit record (bad JSON or missing fields)"))
                continue
            if record_hash(record) != stated:
                problems.append(AuditProblem(lineno, f"record {seq} was edited (its hash does not match its content)"))
            if seq != expected_seq:
                problems.append(
                    AuditProblem(
                        lineno,
                        f"record {seq} where record {expected_seq} was expected "
                        "(records deleted, inserted or reordered)",
                    )
                )
            elif prev != prev_hash:
                problems.append(
                    AuditProblem(lineno, f"record {seq} does not follow the record before it (its prev hash differs)")
                )
            prev_hash, expected_seq, last = stated, (seq + 1 if isinstance(seq, int) else expected_seq + 1), record
        if (
            head is not None
            and last is not None
            and (head.get("seq"), head.get("hash")) != (last.get("seq"), last.get("hash"))
        ):
            problems.append(
                AuditProblem(
                    None,
                    f"the log ends at record {last.get('seq')} but its head file names "
                    f"record {head.get('seq')} (records cut off the end, or appended by hand)",
                )
            )
        if head is None and last is not None:
            problems.append(AuditProblem(None, f"the head file {self.head_path.name} is missing"))
        return problems
