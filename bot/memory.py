"""The bot's memory of its contacts: the people in a channel's log, looked up in memory.sqlite
(clonekit/memory.py) with the log's last turns of other people as the query. Needs the `memory` extra (the
embedding model runs on torch); a bot without `--memory` never imports it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from clonekit.chat import Turn
from clonekit.config import BotConfig
from clonekit.memory import Embedder, MemoryStore, memory_block, memory_query


class ContactMemory:
    def __init__(self, cfg: BotConfig):
        assert cfg.memory
        self.cfg = cfg
        self.store = MemoryStore(cfg.memory)
        self.embedder = Embedder("memory")

    def block(self, turns: Iterable[Turn], now: str | None = None) -> str | None:
        turns = list(turns)
        query = memory_query(turns)
        people = sorted({t.speaker for t in turns if not t.is_target})
        if not query or not people:
            return None
        now = now or dt.datetime.now().isoformat(timespec="seconds")
        found = self.store.search(
            self.embedder.encode([query])[0], people, self.cfg.memory_top_k, self.cfg.memory_min_similarity, now
        )
        return memory_block(found, self.cfg.memory_budget_tokens)
