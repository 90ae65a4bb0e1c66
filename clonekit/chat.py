"""How a conversation is shown to a clone: the one rendering shared by the bot and compare, the same as the
datasets prep builds (other speakers as named `user` turns, the clone as `assistant`)."""

from __future__ import annotations

from collections.abc import Iterable


def render_turns(turns: Iterable[tuple[str, str, bool]], system_prompt: str | None) -> list[dict]:
    """(speaker, text, is_clone) turns -> OpenAI chat messages."""
    out = [{"role": "system", "content": system_prompt}] if system_prompt else []
    for speaker, text, is_clone in turns:
        if is_clone:
            out.append({"role": "assistant", "content": text})
        else:
            out.append({"role": "user", "name": speaker, "content": text})
    return out
