"""The bot's speak decisions without a model: mention mode, the reply limit (mentions included), the event log, and
auto mode's refusal to start without a threshold."""

import asyncio
import json

import pytest

from clonekit.bot.core import CloneChat
from clonekit.config import BotConfig
from clonekit.errors import ClonekitError


def test_mention_mode_and_the_reply_limit(tmp_path):
    events = tmp_path / "events.jsonl"
    now = [0.0]
    cfg = BotConfig(clone_name="Maya", mode="mention", max_replies=1, reply_window_seconds=60, event_log=str(events))
    chat = CloneChat(cfg, clock=lambda: now[0])

    async def go():
        out = []
        for t, text in [(0, "anyone up for sushi"), (10, "maya u in?"), (20, "MAYA??"), (100, "@maya now?")]:
            now[0] = t
            chat.heard("c", "Sam", text)
            out.append(await chat.decide("c"))
            chat.channel("c").debounce.answered()
        await chat.close()
        return out

    decisions = asyncio.run(go())
    assert [(d.speak, d.reason) for d in decisions] == [
        (False, "not_mentioned"),
        (True, "mention"),
        (False, "rate_limit"),  # one reply per 60 s, even for a mention
        (True, "mention"),  # the window has passed
    ]
    logged = [json.loads(line) for line in events.read_text().splitlines()]
    assert [e["reason"] for e in logged] == ["not_mentioned", "mention", "rate_limit", "mention"]


def test_auto_needs_a_threshold():
    with pytest.raises(ClonekitError, match="--speak auto needs a threshold"):
        CloneChat(BotConfig(mode="auto"))


def test_the_bots_memory_recalls_what_the_person_in_the_channel_said(tmp_path):
    from clonekit.bot.memory import ContactMemory
    from clonekit.chat import turn
    from clonekit.memory import Embedder, MemoryStore, Snippet

    path = tmp_path / "memory.sqlite"
    said = [
        Snippet("Deniz", "2024-03-01T06:00:00", "we got a new pet!! a kitten called Pixel", "dataset"),
        Snippet("Priya", "2024-03-01T06:00:00", "my new pet is a parrot called Kiwi", "dataset"),
    ]
    store = MemoryStore(path, create=True)
    store.add(said, Embedder().encode([s.text for s in said]))
    store.close()
    memory = ContactMemory(BotConfig(memory=str(path)))
    block = memory.block([turn("Deniz", "maya what's my new pet called again?")], now="2024-03-05T07:00:00")
    assert "Pixel" in block
    assert "Kiwi" not in block  # Priya is not in this chat
    assert memory.block([turn("Deniz", "maya what's my new pet called again?")], now="2024-02-01T00:00:00") is None
