"""Who wrote messages.jsonl, as `prep parse` counted it while writing the file (`<stem>.people.json` beside it), so
that `prep build` need not read the whole file once more to find the people (`people.scan_people`).

Written only where the parse counted every message itself: one large WhatsApp export through the compiled kernel
(whatsapp_kernel.py). Trusted only for the very file it describes: the same size, modification time (to the
nanosecond) and inode, the check git's index makes of a file before it trusts what it knew of it. Any edit of the
file, or a newer parse, and `prep build` reads the file itself. The build still checks every line as it reads it
for the datasets (data_prep/message_rows.py)."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

INDEX_VERSION = 1


def index_path(messages: Path) -> Path:
    return messages.with_name(messages.stem + ".people.json")


@dataclass
class _Author:
    name: str
    kinds: dict[str, list] = field(default_factory=dict)  # kind -> [count, earliest time, its line]
    last: str = ""


@dataclass
class PeopleTally:
    """Per author id: their name, messages per kind with each kind's earliest (time, line), and their latest time.
    The file is written in time order (stable, by line), so the earliest (time, line) is where a person first
    appears in it and the latest time is their last message's: what `scan_people` reads off the file."""

    authors: dict[str, _Author] = field(default_factory=dict)
    chats: set[tuple[str, str]] = field(default_factory=set)

    def note(self, author_id: str, name: str, kind: str, ts: str, line: int, n: int = 1, last: str = "") -> None:
        """`n` messages of `kind` by the author, the earliest at (ts, line), the latest at `last` (default ts)."""
        a = self.authors.get(author_id)
        if a is None:
            a = self.authors[author_id] = _Author(name)
        k = a.kinds.get(kind)
        if k is None:
            a.kinds[kind] = [n, ts, line]
        else:
            k[0] += n
            if (ts, line) < (k[1], k[2]):
                k[1], k[2] = ts, line
        a.last = max(a.last, last or ts)

    def absorb(self, other: PeopleTally) -> PeopleTally:
        for aid, a in other.authors.items():
            for kind, (n, ts, line) in a.kinds.items():
                self.note(aid, a.name, kind, ts, line, n, a.last)
        self.chats |= other.chats
        return self

    def persons(self) -> list[dict]:
        """The people in the order they first appear in the file, each kind in the order it first appears."""
        rows = []
        for aid, a in self.authors.items():
            kinds = sorted(a.kinds.items(), key=lambda kv: (kv[1][1], kv[1][2]))
            rows.append(
                {
                    "id": aid,
                    "name": a.name,
                    "kinds": [[kind, n] for kind, (n, _, _) in kinds],
                    "first": kinds[0][1][1],
                    "last": a.last,
                    "at": (kinds[0][1][1], kinds[0][1][2]),
                }
            )
        rows.sort(key=lambda r: r.pop("at"))
        return rows


def _stamp(path: Path) -> dict:
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}


def write_people_index(messages: Path, tally: PeopleTally, lines: int) -> None:
    """The index of `messages` (written in time order, every author counted in `tally`)."""
    index = {
        "version": INDEX_VERSION,
        "file": _stamp(messages),
        "lines": lines,
        "in_time_order": True,
        "chat_keys": sorted(tally.chats),
        "persons": tally.persons(),
    }
    index_path(messages).write_bytes(orjson.dumps(index))


def remove_people_index(messages: Path) -> None:
    index_path(messages).unlink(missing_ok=True)


def read_people_index(messages: Path):
    """(persons by id, as `scan_people` finds them, the number of lines, the (platform, chat) pairs, in time order)
    from the index of `messages`, or None when there is none for this very file."""
    from clonekit.data_prep.people import Person

    path = index_path(messages)
    try:
        index = orjson.loads(path.read_bytes())
        if index.get("version") != INDEX_VERSION or index.get("file") != _stamp(messages):
            return None
        (platform, chat), *more = index["chat_keys"]
        if more:
            return None  # written for one chat only
        persons = {}
        for row in index["persons"]:
            kinds = Counter(dict(row["kinds"]))
            persons[row["id"]] = Person(
                [row["id"]],
                names=Counter({row["name"]: sum(kinds.values())}),
                kinds=kinds,
                platforms={platform},
                chats={chat},
                first=row["first"],
                last=row["last"],
            )
        return persons, index["lines"], {(platform, chat)}, bool(index["in_time_order"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
