"""Opt-in conversation store: SQLite, with a consent flag per channel, for later retraining.

Nothing is written for a channel until someone turns consent on for it (`!consent on` in Discord); turning it off
stops logging and deletes what was logged there. `export_messages` writes the normalized
messages.jsonl that `clonekit prep build` reads; the clone's own replies are marked `is_bot` so a retrained
clone never learns from its own output.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from clonekit.schema import Message, dump_message

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
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ConversationStore:
    def __init__(self, path: str | Path, platform: str = "discord"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.platform = platform
        old_umask = os.umask(0o077)  # the database and its -wal/-shm files: readable by the owner only
        try:
            self.path.touch(exist_ok=True)
            os.chmod(self.path, 0o600)
            self.db = sqlite3.connect(self.path)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not left in free pages
            self.db.executescript(SCHEMA)
        finally:
            os.umask(old_umask)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.chmod(side, 0o600)

    def close(self) -> None:
        self.db.close()

    def set_consent(self, channel: str, granted: bool, changed_by: str) -> int:
        """Record a channel's consent; revoking it deletes the channel's logged messages.
        Returns how many messages were deleted."""
        with self.db:
            self.db.execute("INSERT INTO consent VALUES (?, ?, ?, ?) ON CONFLICT(channel) DO UPDATE SET "
                            "granted=excluded.granted, changed_by=excluded.changed_by, changed_at=excluded.changed_at",
                            (channel, int(granted), changed_by, _now()))
            if granted:
                return 0
            deleted = self.db.execute("DELETE FROM messages WHERE channel = ?", (channel,)).rowcount
        # the deleted rows' old pages may still sit in the write-ahead log: write it back and truncate it
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return deleted

    def has_consent(self, channel: str) -> bool:
        row = self.db.execute("SELECT granted FROM consent WHERE channel = ?", (channel,)).fetchone()
        return bool(row and row[0])

    def record(self, channel: str, author: str, author_id: str, text: str, is_clone: bool = False,
               timestamp: str | None = None) -> bool:
        """Log one message if the channel has consent; returns whether it was logged."""
        if not self.has_consent(channel):
            return False
        with self.db:
            self.db.execute("INSERT INTO messages (platform, channel, timestamp, author, author_id, text, is_clone) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (self.platform, channel, timestamp or _now(), author, author_id, text, int(is_clone)))
        return True

    def channels(self) -> list[tuple[str, bool, str, str]]:
        """(channel, consent granted, changed by, changed at) for every channel that ever set consent."""
        rows = self.db.execute("SELECT channel, granted, changed_by, changed_at FROM consent ORDER BY channel")
        return [(ch, bool(granted), by, at) for ch, granted, by, at in rows]

    def count(self, channel: str | None = None) -> int:
        if channel is None:
            return self.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM messages WHERE channel = ?", (channel,)).fetchone()[0]

    def messages(self, channel: str | None = None) -> list[Message]:
        """Logged messages of consenting channels, oldest first, as normalized messages."""
        sql = ("SELECT m.id, m.platform, m.channel, m.timestamp, m.author, m.author_id, m.text, m.is_clone "
               "FROM messages m JOIN consent c ON c.channel = m.channel WHERE c.granted = 1")
        args: tuple = ()
        if channel is not None:
            sql += " AND m.channel = ?"
            args = (channel,)
        rows = self.db.execute(sql + " ORDER BY m.id", args).fetchall()
        return [Message(platform=p, chat=ch, id=str(i), timestamp=ts, author=a, author_id=aid, text=t,
                        is_bot=bool(clone)) for i, p, ch, ts, a, aid, t, clone in rows]

    def export_messages(self, out: str | Path, channel: str | None = None) -> int:
        """Write messages.jsonl for `clonekit prep build`; returns the number of messages written."""
        msgs = self.messages(channel)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        with open(out, "wb") as f:
            for m in msgs:
                f.write(dump_message(m))
        return len(msgs)
