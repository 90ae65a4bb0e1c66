"""The terminal front end: a multi-speaker prompt (`/as NAME` switches who speaks), or a script.

Script format (`--script FILE`): `Speaker: text` lines; a blank line means "now wait for the clone"; `/good`,
`/bad` and `/correct TEXT` give feedback on the clone's last reply (as the last speaker; stored when the chat has a
store with consent). The exchange is printed as `Speaker: text` lines, the clone's under its name, one line per
bubble."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from clonekit.bot.core import CloneChat
from clonekit.bot.feedback import give_feedback
from clonekit.bot.store import ConversationStore
from clonekit.errors import ClonekitError

CHANNEL = "terminal"
FEEDBACK_COMMANDS = {"/good": "up", "/bad": "down", "/correct": "correction"}


def feedback_command(line: str) -> tuple[str, str | None] | None:
    """'/correct i'm in' -> ("correction", "i'm in"); '/good' -> ("up", None); other lines -> None."""
    word, _, rest = line.strip().partition(" ")
    if word not in FEEDBACK_COMMANDS:
        return None
    return FEEDBACK_COMMANDS[word], rest.strip() or None


def record_feedback(chat: CloneChat, store: ConversationStore | None, speaker: str, kind: str, text: str | None) -> str:
    """Apply one feedback command; returns the line to show."""
    if store is None:
        return "(feedback needs a conversation store: --store FILE --consent)"
    try:
        fb = give_feedback(store, CHANNEL, kind, speaker, f"terminal:{speaker}", text, registry_dir=chat.cfg.registry)
    except ClonekitError as e:
        return f"(feedback not taken: {e})"
    return f"({kind} from {speaker} on the reply of {fb['version'] or chat.cfg.model} stored)"


def read_script(path: Path) -> list[tuple[str, str] | None]:
    """[(speaker, text), ..., None (= wait for the clone), ...]; a feedback command is ("/", "/correct TEXT")."""
    if not path.exists():
        raise ClonekitError("script not found", path)
    steps: list[tuple[str, str] | None] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            if steps and steps[-1] is not None:
                steps.append(None)
            continue
        if feedback_command(line):
            steps.append(("/", line.strip()))
            continue
        speaker, sep, text = line.partition(":")
        if not sep or not speaker.strip() or not text.strip():
            raise ClonekitError("expected `Speaker: text` (or a blank line to let the clone answer)", path, lineno)
        steps.append((speaker.strip(), text.strip()))
    if steps and steps[-1] is not None and steps[-1][0] != "/":
        steps.append(None)
    return steps


async def run_script(
    chat: CloneChat, steps, out=None, quiet: float = 0.0, store: ConversationStore | None = None
) -> list[str]:
    """Play the script; returns the clone's replies as sent (bubbles joined with newlines). With a store (and
    consent), every message is logged and feedback commands are stored. `out`: default sys.stdout as it is when
    called (a default bound at import would miss a redirected stdout)."""
    out = out or sys.stdout
    name = chat.identity.clone_name
    replies = []
    speaker = "you"
    for step in steps:
        if step is None:
            if quiet:
                await asyncio.sleep(quiet)
            if chat.cfg.mode != "always" and not (await chat.decide(CHANNEL)).speak:
                chat.channel(CHANNEL).debounce.answered()
                print(f"({name} stays quiet)", file=out, flush=True)
                continue
            parts = await chat.reply(CHANNEL)
            for bubble in parts:
                print(f"{name}: {bubble}", file=out, flush=True)
                if store:
                    store.record(CHANNEL, name, "clone", bubble, is_clone=True, version=chat.channel(CHANNEL).version)
            if parts:
                replies.append("\n".join(parts))
        elif step[0] == "/":
            command = feedback_command(step[1])
            if command is None:  # the script reader only makes "/" steps of feedback commands
                raise ValueError(f"not a feedback command: {step[1]!r}")
            kind, text = command
            print(f"{speaker}: {step[1]}", file=out, flush=True)
            print(record_feedback(chat, store, speaker, kind, text), file=out, flush=True)
        else:
            speaker, text = step
            chat.heard(CHANNEL, speaker, text)
            if store:
                store.record(CHANNEL, speaker, f"terminal:{speaker}", text)
            print(f"{speaker}: {text}", file=out, flush=True)
    return replies


async def run_interactive(chat: CloneChat, speaker: str, store: ConversationStore | None = None) -> None:
    """Type as `speaker`; `/as NAME` switches, `/reset` clears the log, `/good`, `/bad`, `/correct TEXT` give
    feedback on the clone's last reply, `/quit` ends. The clone answers after the quiet window, and a new line
    while it is answering restarts the wait."""
    name = chat.identity.clone_name
    ch = chat.channel(CHANNEL)
    print(
        f"chatting with {name} ({chat.cfg.model} at {chat.cfg.base_url}); you are {speaker}. "
        "/as NAME switches speaker, /good, /bad, /correct TEXT, /reset, /quit",
        flush=True,
    )

    async def show(bubble: str) -> None:
        print(f"\n  {name}: {bubble}", flush=True)
        if store:
            store.record(CHANNEL, name, "clone", bubble, is_clone=True, version=ch.version)

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
        command = feedback_command(line)
        if command:
            print(record_feedback(chat, store, speaker, *command), flush=True)
            continue
        if store:
            store.record(CHANNEL, speaker, f"terminal:{speaker}", line)
        chat.heard(CHANNEL, speaker, line)
        chat.schedule(CHANNEL, show)  # a new line restarts the wait (and drops a reply in progress)
    if ch.task and not ch.task.done():
        if line:  # /quit: leave now
            ch.task.cancel()
        else:  # end of input (piped lines): let the clone answer the last of them
            await ch.task


def run_terminal(
    chat: CloneChat, script: Path | None, speaker: str, store_path: str | None, consent: bool, quiet: float
) -> list[str] | None:
    """`clonekit chat`: a script (its replies returned) or an interactive session, logged to the store when the
    speakers consent."""
    import asyncio

    store = ConversationStore(store_path, platform="terminal") if store_path else None
    if store is not None and consent:
        store.set_consent(CHANNEL, True, f"terminal ({speaker})")
    try:
        if script:
            return asyncio.run(run_script(chat, read_script(script), quiet=quiet, store=store))
        asyncio.run(run_interactive(chat, speaker, store=store))
        return None
    finally:
        if store is not None:
            store.close()
