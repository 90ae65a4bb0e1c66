"""How a conversation is shown to a clone: the one rendering shared by the bot and compare, the same as the
datasets prep builds (other speakers as named `user` turns, the clone as `assistant`)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlparse


@dataclass
class Turn:
    """One speaker's consecutive messages in a conversation: the unit prep trains on, the bot keeps in its log and
    compare asks about. `is_target`: written by the person being cloned (in a chat the bot takes part in: by the
    clone), so it becomes an `assistant` turn."""

    speaker: str
    is_target: bool
    messages: list[str]
    time: str | None = None  # ISO timestamp of the turn's first message, where known

    @property
    def text(self) -> str:
        return "\n".join(self.messages)


def turn(speaker: str, text: str, is_target: bool = False) -> Turn:
    """A turn of one message."""
    return Turn(speaker, is_target, [text])


def render_turns(
    turns: Iterable[Turn], system_prompt: str | None, name: Callable[[str], str] | None = None
) -> list[dict]:
    """Turns -> OpenAI chat messages. `name` maps speaker names (for the hosted API: a NameSanitizer, so that names
    match those the hosted model was fine-tuned with)."""
    out = [{"role": "system", "content": system_prompt}] if system_prompt else []
    for t in turns:
        if t.is_target:
            out.append({"role": "assistant", "content": t.text})
        else:
            out.append({"role": "user", "name": name(t.speaker) if name else t.speaker, "content": t.text})
    return out


def is_openai_api(base_url: str) -> bool:
    """The hosted OpenAI API accepts only names matching NAME_PATTERN (a local vLLM takes any name)."""
    return (urlparse(base_url).hostname or "").endswith("api.openai.com")


NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_FOLD = str.maketrans(
    {
        "ı": "i",
        "İ": "I",
        "ø": "o",
        "Ø": "O",
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "ð": "d",
    }
)


class NameSanitizer:
    """Maps display names to unique names OpenAI accepts; the mapping goes to the manifest."""

    def __init__(self):
        self.mapping: dict[str, str] = {}
        self._used: set[str] = set()

    def __call__(self, name: str) -> str:
        found = self.mapping.get(name)
        if found is not None:
            return found
        ascii_name = unicodedata.normalize("NFKD", name.translate(_FOLD)).encode("ascii", "ignore").decode()
        clean = re.sub(r"[^a-zA-Z0-9_-]+", "_", ascii_name).strip("_")[:60] or "user"
        candidate, k = clean, 2
        while candidate in self._used:
            candidate, k = f"{clean}_{k}", k + 1
        self._used.add(candidate)
        self.mapping[name] = candidate
        return candidate

    @classmethod
    def from_mapping(cls, mapping: dict[str, str]) -> NameSanitizer:
        """Start from the mapping prep wrote (DATASET/openai_names.json), so names match the fine-tuning data."""
        s = cls()
        s.mapping, s._used = dict(mapping), set(mapping.values())
        return s
