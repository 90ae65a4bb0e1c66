"""A channel's conversation log, rendered the way the training data was: other speakers as named `user`
turns, the clone as `assistant`, consecutive messages of one person joined with newlines (as in prep)."""

from __future__ import annotations

import re
from collections import deque

from clonekit.chat import Turn, render_turns


class ChannelLog:
    """The last `max_turns` merged turns of one channel."""

    def __init__(self, max_turns: int = 20):
        self.turns: deque[Turn] = deque(maxlen=max_turns)

    def add(self, speaker: str, text: str, is_clone: bool = False) -> None:
        """A message; `is_clone`: the clone's own (rendered as the target's `assistant` turn)."""
        last = self.turns[-1] if self.turns else None
        if last is not None and last.speaker == speaker and last.is_target == is_clone:
            last.messages.append(text)
        else:
            self.turns.append(Turn(speaker, is_clone, [text]))

    def trim(self, keep: int) -> None:
        """Forget all but the last `keep` turns (the loop breaker's way out of a stuck context)."""
        while len(self.turns) > keep:
            self.turns.popleft()

    def clear(self) -> None:
        self.turns.clear()

    def messages(self, system_prompt: str | None, name=None) -> list[dict]:
        return render_turns(self.turns, system_prompt, name)


def strip_name_prefix(text: str, names: list[str]) -> str:
    """Remove "Deniz: " / "Deniz:" the model may echo at the start of a reply or of its lines."""
    if not names:
        return text
    pattern = re.compile(r"^\s*(?:" + "|".join(re.escape(n) for n in names) + r")\s*:\s*", re.IGNORECASE | re.MULTILINE)
    return pattern.sub("", text)


def bubbles(text: str) -> list[str]:
    """One message per non-empty line, as people send them (any line break counts: \\r, U+2028, ...)."""
    return [line.strip() for line in text.splitlines() if line.strip()]
