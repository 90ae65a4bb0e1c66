"""`clonekit memory show|add-store|forget`: the clone's memory per contact."""

from __future__ import annotations

from pathlib import Path

import typer

from clonekit.cli.common import ACTOR_OPT, app, console, user_errors
from clonekit.config import PrepConfig
from clonekit.errors import ClonekitError

memory_app = typer.Typer(
    help="Memory per contact (memory.sqlite from `prep build` with memory on): show, add-store, forget.",
    no_args_is_help=True,
)
app.add_typer(memory_app, name="memory")
MEMORY_PATH_OPT = typer.Option(
    Path("data/demo/dataset/memory.sqlite"), "--memory", help="The memory file (a dataset's memory.sqlite)."
)


@memory_app.command("show")
@user_errors
def memory_show(
    person: str | None = typer.Argument(None, help="Whose snippets (default: who is in memory)."),
    memory: Path = MEMORY_PATH_OPT,
):
    """What the clone remembers of PERSON (every snippet, oldest first), or how many snippets of whom."""
    from clonekit.memory import MemoryStore

    store = MemoryStore(memory)
    try:
        if person is None:
            for name, n in store.people().items():
                console.print(f"{name}\t{n}", highlight=False, markup=False)
            return
        found = store.snippets(person)
        if not found:
            raise ClonekitError(f"nothing of {person!r} in memory", memory)
        for s in found:
            console.print(f"{s.time}  {s.text}", highlight=False, markup=False)
    finally:
        store.close()


@memory_app.command("add-store")
@user_errors
def memory_add_store(
    store: Path = typer.Argument(..., help="The bot's conversation store (`chat`/`discord --store`)."),
    memory: Path = MEMORY_PATH_OPT,
    exclude: list[str] = typer.Option([], "--exclude", help="A person who did not consent (repeatable)."),
    config: Path | None = typer.Option(None, "--config", help="Prep YAML: its exclude and redact settings apply."),
    reason: str = typer.Option("the bot's consented chats", help="Why (goes into the audit log)."),
    actor: str | None = ACTOR_OPT,
):
    """Add what people said in the store's consenting channels to memory, redacted, excluded people left out."""
    from clonekit.audit import AuditLog
    from clonekit.bot.memory import remember_store
    from clonekit.config import load_config

    cfg = load_config(PrepConfig, config)
    result = remember_store(str(store), str(memory), [*cfg.exclude, *exclude], cfg.redact)
    AuditLog(memory.with_name("memory-audit.jsonl")).append(
        "memory_added", reason, actor=actor, memory=memory.name, snippets=result["added"], source="bot store"
    )
    console.print(f"read {result['read']} messages: added {result['added']}, skipped {result['skipped']}")


@memory_app.command("forget")
@user_errors
def memory_forget(
    person: str = typer.Argument(..., help="Whose snippets to delete (name, any case)."),
    memory: Path = MEMORY_PATH_OPT,
    reason: str = typer.Option("asked to be forgotten", help="Why (goes into the audit log)."),
    actor: str | None = ACTOR_OPT,
):
    """Delete everything of PERSON from memory: rows, index vectors, WAL and free pages (secure_delete, WAL
    checkpoint, VACUUM). The audit log beside the file (memory-audit.jsonl) records the change and how many snippets,
    not the name."""
    from clonekit.audit import AuditLog
    from clonekit.memory import MemoryStore

    store = MemoryStore(memory)
    try:
        n = store.forget(person)
    finally:
        store.close()
    if not n:
        raise ClonekitError(f"nothing of {person!r} in memory", memory)
    AuditLog(memory.with_name("memory-audit.jsonl")).append(
        "memory_forgotten", reason, actor=actor, memory=memory.name, snippets=n
    )
    console.print(f"forgot {n} snippets; logged in {memory.with_name('memory-audit.jsonl')}")
