"""`prep build`'s second pass, a block of messages at a time: skip (with a reason), redact, and sessionize."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from operator import attrgetter

from clonekit.config import PrepConfig
from clonekit.data_prep.message_rows import MessageRow
from clonekit.data_prep.sessions import MEDIA_PLACEHOLDER, Session, Sessionizer
from clonekit.redact import Redactor

_TEXT = attrgetter("text")


class MessageFilter:
    """Second pass, per message: skip (with a reason), redact, and add to the sessionizer."""

    def __init__(self, cfg: PrepConfig, cast, redactor: Redactor):
        self.cfg, self.cast, self.redactor = cfg, cast, redactor
        self.sessionizer = Sessionizer(cfg.session_gap_minutes)
        self.skipped: Counter[str] = Counter()
        self.kept = 0
        self.chats: dict[str, str] = {}  # chat name -> as written to the outputs (redacted once per chat)
        self.sources: dict[str, Counter[str]] = {}  # app -> kept messages, and the target's among them

    def admit(self, m: MessageRow) -> Session | None:
        """Filter, redact and sessionize one message; returns a session it closed, if any."""
        closed: list[Session] = []
        self.admit_rows([m], closed.append)
        return closed[0] if closed else None

    def admit_rows(self, rows: list[MessageRow], on_closed: Callable[[Session], None]) -> None:
        """Filter, redact and sessionize a block of messages, in order; `on_closed` gets each session they close.
        One loop with its lookups bound once: this runs for every message of a million."""
        cfg, cast = self.cfg, self.cast
        canonical = cast.people.alias_of.get
        excluded, target_ids, names = cast.excluded_ids, cast.target_ids, cast.names
        include_bots, drop_media = cfg.include_bots, cfg.media == "drop"
        skipped, redactor, chats, sources = self.skipped, self.redactor, self.chats, self.sources
        kept: list[tuple[str, str, str, str, bool, str]] = []
        keep = kept.append
        untouched = redactor.untouched(list(map(_TEXT, rows)))
        for m, as_is in zip(rows, untouched, strict=True):
            aid = m.author_id
            pid = canonical(aid, aid) if aid else ""
            kind = m.kind
            if kind == "system" or not pid:
                skipped["system"] += 1
            elif m.forwarded:  # someone else's words (perhaps an excluded person's), never the sender's style
                skipped["forwarded"] += 1
            elif kind == "deleted":
                skipped["deleted"] += 1
            elif pid in excluded:
                skipped["excluded"] += 1
            elif m.is_bot and not include_bots:
                skipped["bot"] += 1
            elif kind == "media" and drop_media:
                skipped["media"] += 1
            else:
                text = MEDIA_PLACEHOLDER if kind == "media" else m.text if as_is else redactor(m.text)
                if not text.strip():
                    skipped["empty"] += 1
                    continue
                self.kept += 1
                chat = chats.get(m.chat)
                if chat is None:
                    chat = chats[m.chat] = redactor(m.chat)
                is_target = pid in target_ids
                source = sources.get(m.platform)
                if source is None:
                    source = sources[m.platform] = Counter()
                source["kept"] += 1
                source["target"] += is_target
                keep((m.platform, chat, m.timestamp, names[pid], is_target, text))
        self.sessionizer.add_many(kept, on_closed)
