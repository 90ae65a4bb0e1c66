"""The bot's memory of its contacts: the people in a channel's log, looked up in memory.sqlite
(clonekit/memory.py) with the log's last turns of other people as the query. Needs the `memory` extra (the
embedding model runs on torch); a bot without `--memory` never imports it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from clonekit.chat import Turn
from clonekit.config import BotConfig, RedactConfig
from clonekit.memory import (
    Embedder,
    MemoryStore,
    Snippet,
    recall,
    worth_remembering,
)


class ContactMemory:
    def __init__(self, cfg: BotConfig):
        assert cfg.memory
        self.cfg = cfg
        self.store = MemoryStore(cfg.memory)
        self.embedder = Embedder("memory")

    def block(self, turns: Iterable[Turn], now: str | None = None) -> str | None:
        return recall(
            self.store,
            self.embedder,
            list(turns),
            now or dt.datetime.now().isoformat(timespec="seconds"),
            self.cfg.memory_top_k,
            self.cfg.memory_min_similarity,
            self.cfg.memory_budget_tokens,
        )


def remember_store(
    store_path: str, memory_path: str, exclude: list[str], redact: RedactConfig, after_id: int = 0
) -> dict:
    """Add what people said in the consenting channels of the bot's conversation store (`--store`) to memory: the
    clone's own messages, bots, excluded people and short or question-only messages are left out, and every text
    passes the prep redactor (with the excluded names) first. Returns counts and the last message id read."""
    from clonekit.bot.store import ConversationStore
    from clonekit.redact import Redactor

    store = ConversationStore(store_path)
    try:
        messages = store.messages(after_id=after_id)
    finally:
        store.close()
    gone = {n.casefold() for n in exclude}
    redactor = Redactor(redact, people=exclude)
    snippets: list[Snippet] = []
    skipped = 0
    for m in messages:
        if m.is_bot or m.author.casefold() in gone:
            skipped += 1
            continue
        text = redactor(m.text)
        t = Turn(m.author, False, [text])
        if not worth_remembering(t):
            skipped += 1
            continue
        snippets.append(Snippet(m.author, m.timestamp[:19], text, f"bot:{m.chat}"))
    if snippets:
        mem = MemoryStore(memory_path, create=True)
        try:
            mem.add(snippets, Embedder("memory").encode([s.text for s in snippets]))
        finally:
            mem.close()
    last = max((int(m.id) for m in messages), default=after_id)
    return {"read": len(messages), "added": len(snippets), "skipped": skipped, "last_id": last}
