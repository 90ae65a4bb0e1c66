"""Opt-in conversation store: SQLite, with a consent flag per channel, for later retraining.

Nothing is written for a channel until someone turns consent on for it (`!consent on` in Discord); turning it off
stops logging and deletes what was logged there. `export_messages` writes the normalized
messages.jsonl that `clonekit prep build` reads; the clone's own replies are marked `is_bot` so a retrained
clone never learns from its own output.

The bot never waits on the database: consent is answered from memory, and `record_later` hands the row to a writer
thread with its own connection, which retries while the file is locked (another process, a slow disk) and says so in
the log. `close()` writes what is still queued.
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from clonekit.errors import ClonekitError
from clonekit.paths import writable_file
from clonekit.schema import Message, dump_message

log = logging.getLogger(__name__)
_INSERT = (
    "INSERT INTO messages (platform, channel, timestamp, author, author_id, text, is_clone, version, platform_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
FEEDBACK_KINDS = ("up", "down", "correction")

SCHEMA = """
CREATE TABLE IF NOT EXISTS consent (
    channel TEXT PRIMARY KEY,
    granted INTEGER NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    author TEXT NOT NULL,
    author_id TEXT NOT NULL,
    text TEXT NOT NULL,
    is_clone INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_channel ON messages (channel, id);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL,
    channel TEXT NOT NULL,
    version TEXT,
    kind TEXT NOT NULL,
    text TEXT,
    author TEXT NOT NULL,
    author_id TEXT NOT NULL,
    timestamp TEXT NOT NULL
);
"""
# columns added after the first release: (table, column, type)
_ADDED_COLUMNS = (("messages", "version", "TEXT"), ("messages", "platform_id", "TEXT"))


def _open_problem(e: sqlite3.DatabaseError) -> str:
    text = str(e)
    if "not a database" in text or "malformed" in text:
        return f"the conversation store is damaged ({text}): move it away and start a new one"
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return f"the conversation store cannot be written ({text}): check the file's and its folder's permissions"
    return f"cannot open the conversation store: {text}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _connect(path: Path, timeout: float = 5.0) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=timeout, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not left in free pages
    return db


class ConversationStore:
    def __init__(self, path: str | Path, platform: str = "discord"):
        self.path = Path(path)
        self.platform = platform
        self._lock = threading.Lock()  # one statement at a time on the main connection (commands run in threads)
        self._consent_lock = threading.Lock()  # a consent check and its insert happen together
        if self.path.is_dir():
            raise ClonekitError("is a folder, not a conversation store file", self.path)
        old_umask = os.umask(0o077)  # the database and its -wal/-shm files: readable by the owner only
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch(exist_ok=True)
            os.chmod(self.path, 0o600)
            self.db = _connect(self.path)
            self.db.executescript(SCHEMA)
            for table, column, kind in _ADDED_COLUMNS:
                if column not in {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            self._consent = {ch: bool(g) for ch, g in self.db.execute("SELECT channel, granted FROM consent")}
        except sqlite3.DatabaseError as e:
            raise ClonekitError(_open_problem(e), self.path) from None
        except OSError as e:
            raise ClonekitError(f"cannot open the conversation store: {e.strerror}", self.path) from None
        finally:
            os.umask(old_umask)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.chmod(side, 0o600)
        self._queue: queue.Queue = queue.Queue()  # rows for the background writer, once it runs
        self._writer: threading.Thread | None = None
        self.written = 0
        self.retries = 0

    def close(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None
        self.db.close()

    # ----------------------------------------------------------------------------- the bot's path: never blocks

    def start_writer(self, retry_seconds: float = 0.5) -> None:
        """Start the background writer used by `record_later`."""
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_loop, args=(retry_seconds,), name="store-writer", daemon=True
            )
            self._writer.start()

    def record_later(
        self,
        channel: str,
        author: str,
        author_id: str,
        text: str,
        is_clone: bool = False,
        version: str | None = None,
        platform_id: str | None = None,
    ) -> bool:
        """Queue one message for the writer if the channel has consent (answered from memory); returns whether it
        was queued. Never touches the database on the caller's thread."""
        if not self.has_consent(channel):
            return False
        if self._writer is None:
            self.start_writer()
        self._queue.put((self.platform, channel, _now(), author, author_id, text, int(is_clone), version, platform_id))
        return True

    def _write_loop(self, retry_seconds: float) -> None:
        db = _connect(self.path, timeout=0.2)
        try:
            while True:
                row = self._queue.get()
                try:
                    if row is None:
                        return
                    self._write_one(db, row, retry_seconds)
                finally:
                    self._queue.task_done()
        finally:
            db.close()

    def _write_one(self, db: sqlite3.Connection, row: tuple, retry_seconds: float) -> None:
        warned = False
        while True:
            try:
                with self._consent_lock:  # consent may have been withdrawn while the row waited
                    if not self._consent.get(row[1]):
                        return
                    with db:
                        db.execute(_INSERT, row)
                self.written += 1
                return
            except sqlite3.OperationalError as e:  # locked or busy: keep the row and try again
                self.retries += 1
                if not warned:
                    log.warning("conversation store %s: %s; retrying in the background", self.path, e)
                    warned = True
                time.sleep(retry_seconds)

    def flush(self) -> None:
        """Wait until every queued message is written (tests, shutdown)."""
        self._queue.join()

    def set_consent(self, channel: str, granted: bool, changed_by: str) -> int:
        """Record a channel's consent; revoking it deletes the channel's logged messages.
        Returns how many messages were deleted."""
        if not granted:
            with self._consent_lock:  # no queued row of this channel is written from here on
                self._consent[channel] = False
        with self._lock, self.db:
            self.db.execute(
                "INSERT INTO consent VALUES (?, ?, ?, ?) ON CONFLICT(channel) DO UPDATE SET "
                "granted=excluded.granted, changed_by=excluded.changed_by, changed_at=excluded.changed_at",
                (channel, int(granted), changed_by, _now()),
            )
            deleted = 0 if granted else self.db.execute("DELETE FROM messages WHERE channel = ?", (channel,)).rowcount
            if not granted:
                self.db.execute("DELETE FROM feedback WHERE channel = ?", (channel,))
        self._consent[channel] = granted
        if not granted:
            with self._lock:  # the deleted rows' old pages may still sit in the write-ahead log: write it back
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return deleted

    def has_consent(self, channel: str) -> bool:
        return bool(self._consent.get(channel))

    def record(
        self,
        channel: str,
        author: str,
        author_id: str,
        text: str,
        is_clone: bool = False,
        timestamp: str | None = None,
        version: str | None = None,
        platform_id: str | None = None,
    ) -> bool:
        """Log one message now (blocking) if the channel has consent; returns whether it was logged. The bot uses
        `record_later`."""
        if not self.has_consent(channel):
            return False
        with self._lock, self.db:
            self.db.execute(
                _INSERT,
                (
                    self.platform,
                    channel,
                    timestamp or _now(),
                    author,
                    author_id,
                    text,
                    int(is_clone),
                    version,
                    platform_id,
                ),
            )
        return True

    # ----------------------------------------------------------------------------------------------- feedback

    def add_feedback(
        self,
        channel: str,
        kind: str,
        author: str,
        author_id: str,
        text: str | None = None,
        platform_id: str | None = None,
    ) -> dict:
        """Feedback on one of the clone's messages: the one with this platform id (a Discord message id), or the
        clone's latest message in the channel. A thumbs up or down, or a correction: what the person would really
        have said. Returns {"feedback_id", "message_id", "version", "kind"}. Feedback on a message that is not the
        clone's, or in a channel without consent, is an error."""
        if kind not in FEEDBACK_KINDS:
            raise ClonekitError(f"feedback must be one of {', '.join(FEEDBACK_KINDS)} (got {kind!r})")
        if kind == "correction" and not (text and text.strip()):
            raise ClonekitError("a correction needs the text the person would really have written")
        if not self.has_consent(channel):
            raise ClonekitError("this channel has no consent for logging: feedback is not stored (`!consent on`)")
        self.flush()  # the clone's message may still wait in the writer's queue
        with self._lock, self.db:
            if platform_id is not None:
                row = self.db.execute(
                    "SELECT id, is_clone, version FROM messages WHERE channel = ? AND platform_id = ?",
                    (channel, platform_id),
                ).fetchone()
                if row is None or not row[1]:
                    raise ClonekitError(
                        "that message is not the clone's: feedback is taken on the clone's replies only"
                    )
            else:
                row = self.db.execute(
                    "SELECT id, is_clone, version FROM messages WHERE channel = ? AND is_clone = 1 "
                    "ORDER BY id DESC LIMIT 1",
                    (channel,),
                ).fetchone()
                if row is None:
                    raise ClonekitError("the clone has not said anything here yet: nothing to give feedback on")
            cur = self.db.execute(
                "INSERT INTO feedback (message_id, channel, version, kind, text, author, author_id, "
                "timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (row[0], channel, row[2], kind, text.strip() if text else None, author, author_id, _now()),
            )
        return {"feedback_id": cur.lastrowid, "message_id": row[0], "version": row[2], "kind": kind}

    def feedback(self, after_id: int = 0, context_turns: int = 12) -> list[dict]:
        """Feedback of consenting channels with id > after_id, oldest first, each with the clone's message (`reply`,
        `version`) and the messages before it in its channel (`context`: [(author, text, is_clone)])."""
        rows = self.db.execute(
            "SELECT f.id, f.message_id, f.channel, f.version, f.kind, f.text, f.author, m.text "
            "FROM feedback f JOIN messages m ON m.id = f.message_id JOIN consent c ON c.channel = f.channel "
            "WHERE c.granted = 1 AND f.id > ? ORDER BY f.id",
            (after_id,),
        ).fetchall()
        out = []
        for fid, mid, channel, version, kind, text, author, reply in rows:
            context = self.db.execute(
                "SELECT author, text, is_clone FROM messages WHERE channel = ? AND id < ? ORDER BY id DESC LIMIT ?",
                (channel, mid, context_turns),
            ).fetchall()
            out.append(
                {
                    "id": fid,
                    "message_id": mid,
                    "channel": channel,
                    "version": version,
                    "kind": kind,
                    "text": text,
                    "author": author,
                    "reply": reply,
                    "context": [(a, t, bool(c)) for a, t, c in reversed(context)],
                }
            )
        return out

    def last_ids(self) -> dict:
        """{"message": highest message id, "feedback": highest feedback id}: a version's cut-off."""
        return {
            "message": self.db.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0],
            "feedback": self.db.execute("SELECT COALESCE(MAX(id), 0) FROM feedback").fetchone()[0],
        }

    def channels(self) -> list[tuple[str, bool, str, str]]:
        """(channel, consent granted, changed by, changed at) for every channel that ever set consent."""
        rows = self.db.execute("SELECT channel, granted, changed_by, changed_at FROM consent ORDER BY channel")
        return [(ch, bool(granted), by, at) for ch, granted, by, at in rows]

    def count(self, channel: str | None = None) -> int:
        if channel is None:
            return self.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM messages WHERE channel = ?", (channel,)).fetchone()[0]

    def messages(self, channel: str | None = None, after_id: int = 0) -> list[Message]:
        """Logged messages of consenting channels (with id > after_id), oldest first, as normalized messages."""
        sql = (
            "SELECT m.id, m.platform, m.channel, m.timestamp, m.author, m.author_id, m.text, m.is_clone "
            "FROM messages m JOIN consent c ON c.channel = m.channel WHERE c.granted = 1 AND m.id > ?"
        )
        args: tuple = (after_id,)
        if channel is not None:
            sql += " AND m.channel = ?"
            args = (after_id, channel)
        rows = self.db.execute(sql + " ORDER BY m.id", args).fetchall()
        return [
            Message(platform=p, chat=ch, id=str(i), timestamp=ts, author=a, author_id=aid, text=t, is_bot=bool(clone))
            for i, p, ch, ts, a, aid, t, clone in rows
        ]

    def export_messages(self, out: str | Path, channel: str | None = None, after_id: int = 0) -> int:
        """Write messages.jsonl for `clonekit prep build`; returns the number of messages written."""
        msgs = self.messages(channel, after_id)
        out = writable_file(out, "messages.jsonl")
        with open(out, "wb") as f:
            for m in msgs:
                f.write(dump_message(m))
        return len(msgs)
