"""A channel's conversation log, rendered the way the training data was: other speakers as named `user`
turns, the clone as `assistant`, consecutive messages of one person joined with newlines (as in prep)."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from clonekit.chat import render_turns


@dataclass
class Turn:
    speaker: str
    text: str
    is_clone: bool = False


class ChannelLog:
    """The last `max_turns` merged turns of one channel."""

    def __init__(self, max_turns: int = 20):
        self.turns: deque[Turn] = deque(maxlen=max_turns)

    def add(self, speaker: str, text: str, is_clone: bool = False) -> None:
        last = self.turns[-1] if self.turns else None
        if last is not None and last.speaker == speaker and last.is_clone == is_clone:
            last.text += "\n" + text
        else:
            self.turns.append(Turn(speaker, text, is_clone))

    def trim(self, keep: int) -> None:
        """Forget all but the last `keep` turns (the loop breaker's way out of a stuck context)."""
        while len(self.turns) > keep:
            self.turns.popleft()

    def clear(self) -> None:
        self.turns.clear()

    def messages(self, system_prompt: str | None, name=None) -> list[dict]:
        return render_turns(((t.speaker, t.text, t.is_clone) for t in self.turns), system_prompt, name)


def strip_name_prefix(text: str, names: list[str]) -> str:
    """Remove "Deniz: " / "Deniz:" the model may echo at the start of a reply or of its lines."""
    if not names:
        return text
    pattern = re.compile(r"^\s*(?:" + "|".join(re.escape(n) for n in names) + r")\s*:\s*", re.IGNORECASE | re.MULTILINE)
    return pattern.sub("", text)


def bubbles(text: str) -> list[str]:
    """One message per non-empty line, as people send them (any line break counts: \\r, U+2028, ...)."""
    return [line.strip() for line in text.splitlines() if line.strip()]
