"""The loop breaker: never let the clone repeat one phrase forever.

A reply is rejected when it is degenerate (an n-gram repeated 3+ times in a row), when it repeats one of the
clone's recent replies (normalized), or when it would be the same reply three times in a row. The caller then
retries with higher penalties and a trimmed log; every event is counted."""

from __future__ import annotations

from collections import Counter, deque

from clonekit.repetition import is_degenerate, normalize


class LoopGuard:
    def __init__(self, recent: int = 6):
        self.recent: deque[str] = deque(maxlen=recent)  # normalized recent replies of this channel
        self.events: Counter = Counter()

    def problem(self, reply: str) -> str | None:
        """Why a reply must not be sent: "empty", "degenerate", "repeat", or None when it is fine."""
        norm = normalize(reply)
        if not norm:
            return "empty"
        if is_degenerate(reply):
            return "degenerate"
        if norm in self.recent:
            return "repeat"
        return None

    def same_as_last_two(self, reply: str) -> bool:
        norm = normalize(reply)
        return len(self.recent) >= 2 and self.recent[-1] == norm and self.recent[-2] == norm

    def sent(self, reply: str) -> None:
        self.recent.append(normalize(reply))

    def record(self, event: str) -> None:
        self.events[event] += 1

    def reset(self) -> None:
        self.recent.clear()
