"""The terminal front end: a multi-speaker prompt (`/as NAME` switches who speaks), or a script.

Script format (`--script FILE`): `Speaker: text` lines; a blank line means "now wait for the clone". The
exchange is printed as `Speaker: text` lines, the clone's under its name, one line per bubble."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.core import CloneChat
from clonekit.errors import ClonekitError

CHANNEL = "terminal"


def read_script(path: Path) -> list[tuple[str, str] | None]:
    """[(speaker, text), ..., None (= wait for the clone), ...]"""
    if not path.exists():
        raise ClonekitError("script not found", path)
    steps: list[tuple[str, str] | None] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            if steps and steps[-1] is not None:
                steps.append(None)
            continue
        speaker, sep, text = line.partition(":")
        if not sep or not speaker.strip() or not text.strip():
            raise ClonekitError("expected `Speaker: text` (or a blank line to let the clone answer)", path, lineno)
        steps.append((speaker.strip(), text.strip()))
    if steps and steps[-1] is not None:
        steps.append(None)
    return steps


async def run_script(chat: CloneChat, steps, out=sys.stdout, quiet: float = 0.0) -> list[str]:
    """Play the script; returns the clone's replies as sent (bubbles joined with newlines)."""
    name = chat.identity.clone_name
    replies = []
    for step in steps:
        if step is None:
            if quiet:
                await asyncio.sleep(quiet)
            parts = await chat.reply(CHANNEL)
            for bubble in parts:
                print(f"{name}: {bubble}", file=out, flush=True)
            if parts:
                replies.append("\n".join(parts))
        else:
            speaker, text = step
            chat.heard(CHANNEL, speaker, text)
            print(f"{speaker}: {text}", file=out, flush=True)
    return replies


async def run_interactive(chat: CloneChat, speaker: str) -> None:
    """Type as `speaker`; `/as NAME` switches, `/reset` clears the log, `/quit` ends. The clone answers after
    the quiet window, and a new line while it is answering restarts the wait."""
    name = chat.identity.clone_name
    ch = chat.channel(CHANNEL)
    print(f"chatting with {name} ({chat.cfg.model} at {chat.cfg.base_url}); you are {speaker}. "
          "/as NAME switches speaker, /reset, /quit", flush=True)

    async def show(bubble: str) -> None:
        print(f"\n  {name}: {bubble}", flush=True)

    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            break
        line = line.strip()
        if line in ("/quit", "/exit"):
            break
        if line.startswith("/as "):
            speaker = line[4:].strip() or speaker
            print(f"(you are {speaker})", flush=True)
            continue
        if line == "/reset":
            chat.reset(CHANNEL)
            print("(log cleared)", flush=True)
            continue
        if not line:
            continue
        chat.heard(CHANNEL, speaker, line)
        chat.schedule(CHANNEL, show)  # a new line restarts the wait (and drops a reply in progress)
    if ch.task and not ch.task.done():
        if line:  # /quit: leave now
            ch.task.cancel()
        else:  # end of input (piped lines): let the clone answer the last of them
            await ch.task
