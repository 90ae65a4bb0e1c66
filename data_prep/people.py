"""Who is in the chat: identities (author_id), their names, counts; aliases merge identities."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import operator
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path

from clonekit.data_prep.people_index import read_people_index
from clonekit.errors import ClonekitError
from clonekit.jsonl import absolute_line, byte_ranges
from clonekit.name_variants import match_key


@dataclass
class Person:
    ids: list[str]
    names: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    platforms: set = field(default_factory=set)
    chats: set = field(default_factory=set)
    aka: set = field(default_factory=set)  # other names from the export (usernames), for redaction
    is_bot: bool = False
    first: str = ""
    last: str = ""

    @property
    def name(self) -> str:
        return self.names.most_common(1)[0][0] if self.names else self.ids[0]

    @property
    def messages(self) -> int:
        return sum(self.kinds.values())

    def absorb(self, other: Person) -> None:
        """Add another identity's counts, names, apps and chats (the times are the caller's to merge)."""
        self.names.update(other.names)
        self.kinds.update(other.kinds)
        self.platforms |= other.platforms
        self.chats |= other.chats
        self.aka |= other.aka
        self.is_bot = self.is_bot or other.is_bot

    def matches(self, query: str) -> bool:
        q = query.casefold().strip()
        return any(i.casefold() == q for i in self.ids) or any(n.casefold() == q for n in self.names)


class People:
    """Identities by canonical author_id. Built by one streaming pass over messages.jsonl."""

    def __init__(self, persons: dict[str, Person], alias_of: dict[str, str], lines: int = 0):
        self.persons = persons
        self.alias_of = alias_of  # raw author_id -> canonical author_id
        self.lines = lines  # lines of the messages file (for progress)
        # what `prep build` needs to know to read the file in two halves: its (platform, chat) pairs, and whether
        # every timestamp is a plain "YYYY-MM-DDTHH:MM:SS" no earlier than the one before
        self.chat_keys: set[tuple[str, str]] = set()
        self.in_time_order = False

    def canonical(self, author_id: str) -> str:
        return self.alias_of.get(author_id, author_id)

    def find(self, query: str) -> list[str]:
        return [pid for pid, p in self.persons.items() if p.matches(query)]

    def find_variants(self, query: str) -> list[str]:
        """`find`, and the people one of whose names is `query` in another form: case, accents, held letters,
        possessive ("Priya" finds "Príyaaa"). For exclusions, where matching too many is the safe side."""
        key = match_key(query)
        found = set(self.find(query))
        found |= {
            pid for pid, p in self.persons.items() if any(match_key(n) == key for n in list(p.names) + list(p.aka))
        }
        return sorted(found)

    def require(self, query: str, role: str) -> list[str]:
        found = self.find(query)
        if not found:
            top = ", ".join(p.name for p in self.ranked()[:10])
            raise ClonekitError(
                f"{role} {query!r} matches nobody in the chat (people: {top}); see `clonekit prep people`"
            )
        return found

    def ranked(self) -> list[Person]:
        return sorted(self.persons.values(), key=lambda p: -p.messages)

    def display_names(self) -> dict[str, str]:
        """Canonical id -> the name the person speaks under (their most used display name)."""
        return {pid: p.name for pid, p in self.persons.items()}


MESSAGES_HINT = "clonekit messages (run `clonekit prep parse` on the export first)"


_KINDS = ("text", "media", "system", "deleted")
_STRING_FIELDS = ("platform", "chat", "timestamp", "author", "text")


def message_problem(m) -> str | None:
    """What is wrong with a (possibly hand-edited) line of messages.jsonl, or None."""
    if type(m) is dict:
        get = m.get
        if (  # the common case, tested in one expression (this runs once per message of a million)
            type(get("platform")) is str
            and type(get("chat")) is str
            and type(get("author")) is str
            and type(get("text")) is str
            and type(get("author_id")) in _ID_TYPES
            and get("kind") in _KINDS
            and get("aka") is None
            and type(ts := get("timestamp")) is str
        ):
            try:
                dt.datetime.fromisoformat(ts)
                return None
            except ValueError:
                pass
    return _message_problem(m)


_ID_TYPES = (str, type(None))


def _message_problem(m) -> str | None:
    if not isinstance(m, dict):
        return f"a message must be a JSON object, not {type(m).__name__}"
    for name in _STRING_FIELDS:
        if not isinstance(m.get(name), str):
            return f"field {name!r} must be a string, got {json.dumps(m.get(name))}"
    if m.get("author_id") is not None and not isinstance(m["author_id"], str):
        return f"field 'author_id' must be a string, got {json.dumps(m['author_id'])}"
    aka = m.get("aka")
    if aka is not None and not (isinstance(aka, list) and all(isinstance(a, str) for a in aka)):
        return f"field 'aka' must be a list of strings or null, got {json.dumps(aka)}"
    if m.get("kind") not in _KINDS:
        return f"field 'kind' must be one of {', '.join(_KINDS)}, got {json.dumps(m.get('kind'))}"
    try:
        dt.datetime.fromisoformat(m["timestamp"])
    except ValueError:
        return f"field 'timestamp' is not an ISO 8601 time: {m['timestamp']!r}"
    return None


PARALLEL_MIN_BYTES = 16 << 20  # a larger messages.jsonl is scanned by two processes (or as many as `workers`)


def scan_people(
    path: str | Path, aliases: dict[str, str] | None = None, workers: int | None = None, meanwhile=None
) -> People:
    """First pass over messages.jsonl: who is there. Every line is checked here, so a hand-edited file fails with
    file:line before anything is built. A large file is read in parts by parallel processes (the result is the
    same: the parts' people are merged in file order), while this one runs `meanwhile()`, if given. Where `prep
    parse` left an index of this very file (people_index.py), that is read instead (and `meanwhile` is not run)."""
    path = Path(path)
    if not path.exists():
        raise ClonekitError(f"file not found ({MESSAGES_HINT})", path)
    indexed = read_people_index(path)  # what `prep parse` counted while it wrote this very file
    if indexed is not None:
        people = merge_aliases(indexed[0], aliases or {})
        people.lines, people.chat_keys, people.in_time_order = indexed[1:]
        return people
    workers = workers or min(os.cpu_count() or 1, 4)
    size = path.stat().st_size
    # each part numbers its lines from 1: the line of an error is made absolute here (no count of lines up front)
    ranges = byte_ranges(path, workers) if workers > 1 and size >= PARALLEL_MIN_BYTES else [(0, size)]
    if len(ranges) == 1:
        results = [_scan_range(path, *ranges[0], 1)]
    else:
        with multiprocessing.get_context("fork").Pool(len(ranges)) as pool:
            pending = pool.starmap_async(_scan_range, [(path, *r, 1) for r in ranges])
            if meanwhile is not None:
                meanwhile()
            results = pending.get()
    raw: dict[str, Person] = {}
    lineno = 0
    chat_keys: set[tuple[str, str]] = set()
    in_order = True
    last_ts = ""
    for (start, _), stretch in zip(ranges, results, strict=True):
        if stretch.error is not None:
            raise ClonekitError(stretch.error[0], path, absolute_line(path, start, stretch.error[1]))
        lineno += stretch.last_line  # the lines read (blank lines at a part's end aside): for progress only
        chat_keys |= stretch.chat_keys
        if stretch.first_ts:
            in_order = in_order and stretch.in_order and stretch.first_ts >= last_ts
            last_ts = stretch.last_ts
        for aid, p in stretch.people.items():
            q = raw.get(aid)
            if q is None:
                raw[aid] = p
                continue
            q.absorb(p)
            q.last = p.last  # the later part's last message
    people = merge_aliases(raw, aliases or {})
    people.lines = lineno
    people.chat_keys, people.in_time_order = chat_keys, in_order and bool(last_ts)
    return people


@dataclass
class _Stretch:
    """What one process found in its stretch of messages.jsonl."""

    people: dict[str, Person]
    last_line: int
    error: tuple[str, int | None] | None = None
    chat_keys: set = field(default_factory=set)
    in_order: bool = True  # plain timestamps, each no earlier than the one before
    first_ts: str = ""
    last_ts: str = ""


_TIMESTAMP, _PLATFORM, _CHAT = attrgetter("timestamp"), attrgetter("platform"), attrgetter("chat")
_AUTHOR_ID, _AUTHOR, _KIND = attrgetter("author_id"), attrgetter("author"), attrgetter("kind")


def _scan_range(path: Path, start: int, end: int, first_line: int) -> _Stretch:
    from clonekit.data_prep.message_rows import read_rows

    raw: dict[str, Person] = {}
    found = _Stretch(raw, first_line - 1)
    keys = found.chat_keys
    prev = ""
    in_order = True
    try:
        for block_line, rows in read_rows(path, start, end, first_line, MESSAGES_HINT):
            found.last_line = block_line + len(rows) - 1 if rows else found.last_line
            if rows and not found.first_ts:
                found.first_ts = rows[0].timestamp
            if not rows:
                continue
            # a block at once, in C where it can be: one Counter over the rows' fields, then a few people
            stamps = list(map(_TIMESTAMP, rows))
            if in_order:
                in_order = (
                    set(map(len, stamps)) == {19}
                    and stamps[0] >= prev
                    and all(map(operator.ge, stamps[1:], stamps[:-1]))
                )
            prev = stamps[-1]
            platforms = list(map(_PLATFORM, rows))
            chats = list(map(_CHAT, rows))
            keys.update(zip(platforms, chats, strict=True))
            ids = list(map(_AUTHOR_ID, rows))
            seen = Counter(zip(ids, map(_AUTHOR, rows), map(_KIND, rows), platforms, chats, strict=True))
            firsts = dict(zip(reversed(ids), reversed(stamps), strict=True))
            lasts = dict(zip(ids, stamps, strict=True))
            for (aid, author, kind, platform, chat), n in seen.items():
                if not aid:
                    continue  # system lines without an author
                p = raw.get(aid)
                if p is None:
                    p = raw[aid] = Person([aid], first=firsts[aid])
                p.names[author] += n
                p.kinds[kind] += n
                p.platforms.add(platform)
                p.chats.add(chat)
            for aid, ts in lasts.items():
                if aid:
                    raw[aid].last = ts
            for m in rows:
                if not (m.author_id and (m.aka or m.is_bot)):
                    continue
                p = raw[m.author_id]
                p.aka.update(m.aka or ())
                p.is_bot = p.is_bot or bool(m.is_bot)
    except ClonekitError as e:
        found.error = (e.message, e.line)
        return found
    found.in_order, found.last_ts = in_order, prev
    return found


def merge_aliases(raw: dict[str, Person], aliases: dict[str, str]) -> People:
    parent = {aid: aid for aid in raw}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    base = People(raw, {})
    for a, b in aliases.items():
        ids_a, ids_b = base.require(a, "alias"), base.require(b, "alias")
        for x in ids_a + ids_b[1:]:
            parent[root(x)] = root(ids_b[0])
    persons: dict[str, Person] = {}
    alias_of = {}
    for aid, p in raw.items():
        r = root(aid)
        alias_of[aid] = r
        q = persons.get(r)
        if q is None:
            persons[r] = q = Person([], first=p.first, last=p.last)
        q.ids.append(aid)
        q.absorb(p)
        q.first = min(q.first, p.first)
        q.last = max(q.last, p.last)
    return People(persons, alias_of)


def parse_alias(value: str) -> tuple[str, str]:
    if "=" not in value:
        raise ClonekitError(f"--alias {value!r}: expected OLD=NEW, e.g. 'deniz_k=Deniz'")
    a, b = value.split("=", 1)
    if not a.strip() or not b.strip():
        raise ClonekitError(f"--alias {value!r}: both sides must be a name or id")
    return a.strip(), b.strip()


_PHONE_NAME = re.compile(r"\+?[\d\s().\-\u202f\u00a0\u2011]{7,}")


def is_phone_name(name: str) -> bool:
    """A display name that is a phone number: WhatsApp shows unsaved contacts so ("+44 7700 900123")."""
    name = name.strip(" ~\u202a\u202c\u200e\u2068\u2069")
    return bool(_PHONE_NAME.fullmatch(name)) and sum(c.isdigit() for c in name) >= 7


def phone_pseudonyms(people: People) -> dict[str, str]:
    """Canonical id -> "Contact N" for every identity whose name is a phone number, numbered by first message (stable
    for the same input; no hash of the number, which a search over phone numbers would reverse)."""
    taken = {n.casefold() for p in people.persons.values() for n in p.names}
    found = {}
    n = 0
    for pid, person in sorted(people.persons.items(), key=lambda kv: (kv[1].first, kv[0])):
        if is_phone_name(person.name):
            n += 1
            while f"contact {n}" in taken:
                n += 1
            found[pid] = f"Contact {n}"
    return found
