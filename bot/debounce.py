"""When to answer: after a quiet window since the last human message, by mode. A pure state machine over
a clock the caller passes in, so tests drive it with simulated time."""

from __future__ import annotations

import random


class Debouncer:
    def __init__(self, quiet_seconds: float, mode: str = "always", probability: float = 1.0, seed: int | None = None):
        self.quiet = quiet_seconds
        self.mode = mode
        self.probability = probability
        self.rng = random.Random(seed)
        self.last_message_at: float | None = None
        self.pending = False  # a human message is waiting for an answer (in auto mode: for a decision)
        self.mentioned = False  # a message since the last answer named the clone or replied to it
        self.generation = 0  # bumps on every human message: a reply started before it is stale

    def message(self, now: float, mentioned: bool = False) -> None:
        """A human wrote. Decide whether it calls for an answer; restart the quiet window either way."""
        self.last_message_at = now
        self.generation += 1
        self.mentioned = self.mentioned or mentioned
        if (
            self.mode in ("always", "auto")
            or (self.mode == "mention" and mentioned)
            or (self.mode == "probability" and self.rng.random() < self.probability)
        ):
            self.pending = True

    def due(self, now: float) -> bool:
        return self.pending and self.last_message_at is not None and now - self.last_message_at >= self.quiet

    def wait_seconds(self, now: float) -> float | None:
        if not self.pending or self.last_message_at is None:
            return None
        return max(0.0, self.quiet - (now - self.last_message_at))

    def answered(self) -> None:
        self.pending = False
        self.mentioned = False
