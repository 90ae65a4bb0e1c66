"""Sessions and example windows.

A session is a run of messages in one chat with no silence longer than the gap. Consecutive
messages of one person are merged into one turn (joined with newlines). Long sessions are cut
into windows on turn boundaries; each window after the first starts with a few turns of context
from the one before. A target turn gets weight 1 (the loss falls on it) only where it has at
least one turn before it in its window and it is new in that window, so no turn is trained twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from clonekit.chat import Turn

_UTC = dt.UTC
MEDIA_PLACEHOLDER = "<media>"


def placeholder_only(turn: Turn) -> bool:
    """Only "<media>" lines: worth keeping as context, not worth teaching the clone to say."""
    return turn.messages.count(MEDIA_PLACEHOLDER) == len(turn.messages)


@dataclass
class Session:
    platform: str
    chat: str
    start: str  # ISO timestamp of the first message
    end: str
    start_epoch: float
    last_epoch: float
    turns: list[Turn] = field(default_factory=list)

    def has_target(self) -> bool:
        return any(t.is_target for t in self.turns)

    def to_dict(self) -> dict:
        return {
            "platform": self.platform,
            "chat": self.chat,
            "start": self.start,
            "end": self.end,
            "turns": [
                {"name": t.speaker, "target": t.is_target, "messages": t.messages, "time": t.time} for t in self.turns
            ],
        }


_day_epochs: dict[str, float] = {}
_clock_seconds: dict[str, int] = {}


def epoch_of(ts: str) -> float:
    """Seconds since the epoch; naive local times are read as UTC (only differences matter).
    Fast path for plain 'YYYY-MM-DDTHH:MM:SS' (every WhatsApp timestamp): one cached date a day."""
    if len(ts) == 19 and ts[10] == "T":
        day = _day_epochs.get(ts[:10])
        if day is None:
            day = _day_epochs[ts[:10]] = dt.datetime.fromisoformat(ts[:10]).replace(tzinfo=_UTC).timestamp()
        seconds = _clock_seconds.get(ts[11:])
        if seconds is None:  # at most 86,400 clock times, most exports only whole minutes
            seconds = _clock_seconds[ts[11:]] = int(ts[11:13]) * 3600 + int(ts[14:16]) * 60 + int(ts[17:19])
        return day + seconds
    value = dt.datetime.fromisoformat(ts)
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    return value.timestamp()


class Sessionizer:
    """Feed messages in time order (per chat); sessions come out when a gap closes them."""

    def __init__(self, gap_minutes: float):
        self.gap = gap_minutes * 60.0
        self.open: dict[tuple[str, str], Session] = {}
        self._last_ts = ""
        self._last_epoch = 0.0

    def add(self, platform: str, chat: str, ts: str, name: str, is_target: bool, text: str) -> Session | None:
        closed: list[Session] = []
        self.add_many([(platform, chat, ts, name, is_target, text)], closed.append)
        return closed[0] if closed else None

    def add_many(self, messages: list[tuple[str, str, str, str, bool, str]], on_closed) -> None:
        """`add` for a block of (platform, chat, timestamp, speaker, is_target, text), in order; `on_closed` gets
        each session a gap closes. One loop with its state in locals: this runs for every message of a million.
        A message by the speaker of the session's last turn joins that turn."""
        open_sessions, gap = self.open, self.gap
        last_ts, epoch = self._last_ts, self._last_epoch
        for platform, chat, ts, name, is_target, text in messages:
            if ts != last_ts:
                epoch = epoch_of(ts)
                last_ts = ts
            key = (platform, chat)
            session = open_sessions.get(key)
            if session is not None and epoch - session.last_epoch > gap:
                on_closed(session)
                session = None
            if session is None:
                session = open_sessions[key] = Session(platform, chat, ts, ts, epoch, epoch)
            turns = session.turns
            if turns and turns[-1].speaker == name:
                turns[-1].messages.append(text)
            else:
                turns.append(Turn(name, is_target, [text], ts))
            session.end = ts
            if epoch > session.last_epoch:
                session.last_epoch = epoch
        self._last_ts, self._last_epoch = last_ts, epoch

    def flush(self) -> list[Session]:
        sessions = list(self.open.values())
        self.open.clear()
        return sessions


def windows(turns: list[Turn], max_turns: int, max_chars: int, context_turns: int) -> list[tuple[int, int, list[int]]]:
    """Cut a session's turns into windows: (start, end, weights for turns[start:end]).

    Only windows with at least one weight-1 turn are returned; trailing turns after the last
    weighted target turn are dropped (they carry no loss; they are context for the next window).
    """
    out = []
    n = len(turns)
    sizes = [sum(map(len, t.messages)) + max(len(t.messages) - 1, 0) for t in turns]  # len(t.text), no join
    pos = 0
    while pos < n:
        start = max(0, pos - context_turns) if pos else 0
        chars = sum(sizes[start:pos])
        while start < pos and chars > max_chars // 2:  # context must leave room for new turns
            chars -= sizes[start]
            start += 1
        end = pos
        while end < n and end - start < max_turns:
            size = sizes[end]
            if chars + size > max_chars and end > pos:
                break
            chars += size
            end += 1
        weights = [
            int(turns[i].is_target and i >= pos and i > start and not placeholder_only(turns[i]))
            for i in range(start, end)
        ]
        if any(weights):
            last = len(weights) - 1 - weights[::-1].index(1)
            out.append((start, start + last + 1, weights[: last + 1]))
        pos = end
    return out
