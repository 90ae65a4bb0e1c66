"""`clonekit prep build`: messages.jsonl -> sessions.jsonl, train/valid (HF chat format),
openai_train/openai_valid, manifest.json.

Two streaming passes: the first finds the people (to resolve the target, aliases and exclusions),
the second filters, redacts, sessionizes and writes examples to temporary files, one range per
session. At the end the latest sessions become the validation split, whole sessions only.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import shutil
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from clonekit import __version__
from clonekit.chat import NameSanitizer
from clonekit.config import PrepConfig
from clonekit.contracts import DatasetManifest
from clonekit.data_prep.memory_build import plan_memory, session_key
from clonekit.data_prep.openai_format import fit_to_limit, to_openai, validate_openai_example
from clonekit.data_prep.people import MESSAGES_HINT, People, scan_people
from clonekit.data_prep.sessions import MEDIA_PLACEHOLDER, Session, Sessionizer, windows
from clonekit.dataset import (
    DATASET_FILES,
    MANIFEST_FILE,
    NAMES_FILE,
    OPENAI_TRAIN_FILE,
    OPENAI_VALID_FILE,
    SESSIONS_FILE,
    TRAIN_FILE,
    VALID_FILE,
)
from clonekit.errors import ClonekitError
from clonekit.hashing import sha256_file
from clonekit.jsonl import iter_jsonl, iter_jsonl_range
from clonekit.memory import MEMORY_FILE, with_memory
from clonekit.paths import readable_file, writable_dir
from clonekit.redact import PLACEHOLDERS, Redactor
from clonekit.repetition import normalize


def system_prompt(cfg: PrepConfig, target_name: str) -> str:
    persona = cfg.persona
    name = persona.name or target_name
    if persona.system_prompt:
        return persona.system_prompt.replace("{name}", name)
    text = (
        f"You are {name}, chatting with friends in a group chat. "
        f"Reply as {name} would: same language, tone, length and habits."
    )
    if persona.facts:
        text += " About you: " + "; ".join(persona.facts) + "."
    if persona.style:
        text += " Your style: " + persona.style.rstrip(".") + "."
    return text


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


def excluded_name_list(people: People, excluded_ids: set[str], requested: list[str]) -> list[str]:
    """Every name an excluded person goes by: what the user typed, every display name of every merged identity,
    other names the export gives (a Discord username), and the names inside their ids."""
    found = set(requested)
    for pid in excluded_ids:
        person = people.persons[pid]
        found |= set(person.names) | set(person.aka)
        for i in person.ids:
            found.add(i.split(":")[-1])
    return sorted(n for n in found if n.strip())


def _shown_id(author_id: str, name: str) -> str:
    return author_id.split(":")[0] + ":" + name if is_phone_name(author_id.split(":")[-1]) else author_id


class _Writer:
    """Examples and sessions go to temporary files, written one session after another, so a
    session's bytes in each file run from the previous session's end to its own. Per session we
    keep only numbers, in typed arrays (~60 bytes a session, not a few hundred for tuples)."""

    KINDS = ("hf", "oa", "sessions")

    def __init__(self, out: Path, tag: str = ""):
        self.paths = {k: out / f".{k}{tag}.tmp" for k in self.KINDS}
        self.files = {k: open(p, "wb") for k, p in self.paths.items()}
        self.start_epoch = array("d")
        self.ends = {k: array("q") for k in self.KINDS}
        self.n_hf = array("l")
        self.n_oa = array("l")
        self.turns = array("l")
        self._pos = dict.fromkeys(self.KINDS, 0)

    def add(self, session: Session, hf_lines: list[bytes], oa_lines: list[bytes], target_turns: int) -> None:
        session_line = orjson.dumps(session.to_dict())[1:] + b"\n"  # '{' is added back with the split
        for kind, lines in (("hf", hf_lines), ("oa", oa_lines), ("sessions", (session_line,))):
            if lines:
                self.files[kind].writelines(lines)
                self._pos[kind] += sum(map(len, lines))
            self.ends[kind].append(self._pos[kind])
        self.start_epoch.append(session.start_epoch)
        self.n_hf.append(len(hf_lines))
        self.n_oa.append(len(oa_lines))
        self.turns.append(target_turns)

    def state(self) -> dict:
        """What `append` needs of this writer (its files closed)."""
        return {
            "paths": self.paths,
            "start_epoch": self.start_epoch,
            "ends": self.ends,
            "n_hf": self.n_hf,
            "n_oa": self.n_oa,
            "turns": self.turns,
        }

    def append(self, other: dict) -> None:
        """Add another writer's sessions after this one's (its files copied onto the end of these, its offsets
        shifted): as if this writer had written them."""
        for kind in self.KINDS:
            with open(self.paths[kind], "ab") as dst, open(other["paths"][kind], "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 20)
            self.ends[kind].extend(self._pos[kind] + e for e in other["ends"][kind])
            self._pos[kind] += other["ends"][kind][-1] if other["ends"][kind] else 0
        self.start_epoch.extend(other["start_epoch"])
        self.n_hf.extend(other["n_hf"])
        self.n_oa.extend(other["n_oa"])
        self.turns.extend(other["turns"])

    def span(self, kind: str, i: int) -> tuple[int, int]:
        return (self.ends[kind][i - 1] if i else 0), self.ends[kind][i]

    def close(self) -> None:
        for f in self.files.values():
            f.close()

    def cleanup(self) -> None:
        for p in self.paths.values():
            p.unlink(missing_ok=True)


@dataclass
class _Cast:
    """Who is who in the messages: every person's display name, the target's and the excluded people's ids."""

    people: People
    names: dict[str, str]  # person id -> the name they speak under
    target_ids: set[str]
    target_name: str
    excluded_ids: set[str]
    excluded_names: list[str]


def _resolve_cast(messages_path: Path, cfg: PrepConfig) -> _Cast:
    """First pass: find the people, resolve the target, aliases and exclusions."""
    if not cfg.target:
        raise ClonekitError("no target: pass --target NAME (see `clonekit prep people`)")
    people = scan_people(messages_path, cfg.aliases)
    target_ids = set(people.require(cfg.target, "target"))
    excluded_ids: set[str] = set()
    for name in cfg.exclude:
        found = people.find_variants(name)
        if not found:
            people.require(name, "excluded person")  # the error, with the people there are
        excluded_ids |= set(found)
    if target_ids & excluded_ids:
        raise ClonekitError(f"the target {cfg.target!r} is also excluded")
    names = people.display_names()
    names.update(phone_pseudonyms(people))  # unsaved WhatsApp contacts speak as "Contact 1", never as their number
    target_name = names[sorted(target_ids, key=lambda i: -people.persons[i].messages)[0]]
    for pid in target_ids:
        names[pid] = target_name  # all matched identities speak under one name
    declared = [
        nick for who, nicks in cfg.nicknames.items() if set(people.find_variants(who)) & excluded_ids for nick in nicks
    ]
    excluded_names = excluded_name_list(people, excluded_ids, cfg.exclude + declared)
    return _Cast(people, names, target_ids, target_name, excluded_ids, excluded_names)


class _MessageFilter:
    """Second pass, per message: skip (with a reason), redact, and add to the sessionizer."""

    def __init__(self, cfg: PrepConfig, cast: _Cast, redactor: Redactor):
        self.cfg, self.cast, self.redactor = cfg, cast, redactor
        self.sessionizer = Sessionizer(cfg.session_gap_minutes)
        self.skipped: Counter[str] = Counter()
        self.kept = 0
        self.chats: dict[str, str] = {}  # chat name -> as written to the outputs (redacted once per chat)
        self.sources: dict[str, Counter[str]] = {}  # app -> kept messages, and the target's among them

    def _skip_reason(self, m: dict, pid: str) -> str | None:
        kind = m["kind"]
        if kind == "system" or not pid:
            return "system"
        if m.get("forwarded"):
            return "forwarded"  # someone else's words (perhaps an excluded person's), never the sender's style
        if kind == "deleted":
            return "deleted"
        if pid in self.cast.excluded_ids:
            return "excluded"
        if m.get("is_bot") and not self.cfg.include_bots:
            return "bot"
        if kind == "media" and self.cfg.media == "drop":
            return "media"
        return None

    def admit(self, m: dict) -> Session | None:
        """Filter, redact and sessionize one message; returns a session it closed, if any."""
        aid = m["author_id"]
        pid = self.cast.people.canonical(aid) if aid else ""
        reason = self._skip_reason(m, pid)
        if reason is not None:
            self.skipped[reason] += 1
            return None
        text = MEDIA_PLACEHOLDER if m["kind"] == "media" else self.redactor(m["text"])
        if not text.strip():
            self.skipped["empty"] += 1
            return None
        self.kept += 1
        chat = self.chats.get(m["chat"])
        if chat is None:
            chat = self.chats[m["chat"]] = self.redactor(m["chat"])
        is_target = pid in self.cast.target_ids
        source = self.sources.get(m["platform"])
        if source is None:
            source = self.sources[m["platform"]] = Counter()
        source["kept"] += 1
        source["target"] += is_target
        return self.sessionizer.add(m["platform"], chat, m["timestamp"], self.cast.names[pid], is_target, text)


class _ExampleMaker:
    """A closed session -> its training examples (HF chat format and OpenAI format), written through `writer`."""

    def __init__(self, cfg: PrepConfig, target_name: str, writer: _Writer, memory: dict | None = None):
        self.cfg, self.target_name, self.writer, self.memory = cfg, target_name, writer, memory
        self.sysmsg = {"role": "system", "content": system_prompt(cfg, target_name)}
        self.sanitizer = NameSanitizer()
        self.sanitizer(target_name)
        self.counts: Counter[str] = Counter()

    def _example(self, session: Session, start: int, end: int, weights: list[int], memory: str | None = None) -> dict:
        msgs: list[dict] = [self.sysmsg]
        if memory:
            msgs = [{"role": "system", "content": with_memory(self.sysmsg["content"], memory)}]
        for turn, w in zip(session.turns[start:end], weights, strict=True):
            if turn.is_target:
                msgs.append({"role": "assistant", "name": self.target_name, "content": turn.text, "weight": w})
            else:
                msgs.append({"role": "user", "name": turn.speaker, "content": turn.text})
        return {"messages": msgs}

    def add(self, session: Session) -> None:
        cfg = self.cfg
        self.counts["sessions"] += 1
        if not session.has_target():
            self.counts["sessions_without_target"] += 1
            self.writer.add(session, [], [], 0)
            return
        hf_lines: list[bytes] = []
        oa_lines: list[bytes] = []
        weighted = 0
        spans = windows(session.turns, cfg.max_turns, cfg.max_chars, cfg.context_turns)
        blocks = self.memory.get(session_key(session)) if self.memory is not None else None
        if blocks is None or len(blocks) != len(spans):
            blocks = [None] * len(spans)
        for (start, end, weights), block in zip(spans, blocks, strict=True):
            example = self._example(session, start, end, weights, block)
            weighted += sum(weights)
            hf_lines.append(orjson.dumps(example) + b"\n")
            openai = to_openai(example, self.sanitizer)
            parts = fit_to_limit(openai, cfg.openai.max_tokens, cfg.openai.chars_per_token)
            if not parts:
                self.counts["openai_dropped_too_long"] += 1
            elif len(parts) > 1:
                self.counts["openai_split"] += 1
            for part in parts:  # the build checks its own output with OpenAI's published format rules
                problems = validate_openai_example(part)
                if problems:
                    raise RuntimeError(f"an OpenAI example the build wrote is invalid: {problems}")  # a bug
            oa_lines += [orjson.dumps(p) + b"\n" for p in parts]
        self.writer.add(session, hf_lines, oa_lines, weighted)


def _stream(
    messages_path: Path,
    keep: _MessageFilter,
    make: _ExampleMaker,
    total_lines: int,
    progress: Callable[[int, int], None] | None,
    stretch: tuple[int, int, int] | None = None,
) -> int:
    """Every message through the filter, every closed session into examples; returns how many lines were read.
    `stretch`: (start byte, end byte, first line number), to read only that part of the file."""
    total = messages_path.stat().st_size
    read = 0
    lines = (
        iter_jsonl_range(messages_path, *stretch, MESSAGES_HINT)
        if stretch
        else iter_jsonl(messages_path, MESSAGES_HINT)
    )
    for lineno, m in lines:
        if progress and lineno % 50000 == 0:
            progress(int(total * lineno / max(total_lines, 1)), total)
        read += 1
        try:
            closed = keep.admit(m)
        except (KeyError, TypeError) as e:
            raise ClonekitError(
                f"not a clonekit message (missing or bad {e}); expected {MESSAGES_HINT}", messages_path, lineno
            ) from None
        if closed is not None:
            make.add(closed)
    for session in keep.sessionizer.flush():
        make.add(session)
    if progress:
        progress(total, total)
    return read


def _public_config(cfg: PrepConfig, cast: _Cast) -> dict:
    """The config as the manifest records it. Consent: the manifest names nobody who was excluded, not even as a
    hash (hashing the people list would find it): only how many; aliases and nicknames that touch an excluded
    person are left out too, and a phone number given as the target is replaced by its pseudonym."""
    config = cfg.model_dump()
    config["exclude"] = ["<excluded>"] * len(cfg.exclude)
    if cfg.target and is_phone_name(cfg.target):
        config["target"] = cast.target_name
    gone = {n.casefold() for n in cast.excluded_names} | {
        i.casefold() for pid in cast.excluded_ids for i in cast.people.persons[pid].ids
    }
    config["aliases"] = {
        k: v
        for k, v in cfg.aliases.items()
        if not {k.casefold(), v.casefold()} & gone and not is_phone_name(k) and not is_phone_name(v)
    }
    config["nicknames"] = {  # an excluded person's nicknames name them too
        k: v
        for k, v in cfg.nicknames.items()
        if k.casefold() not in gone and not set(cast.people.find_variants(k)) & cast.excluded_ids
    }
    return config


def _plan_memory(messages_path: Path, cfg: PrepConfig, cast: _Cast, out: Path) -> tuple[dict, dict]:
    """A first pass that only sessionizes (with its own redactor: the manifest counts the main pass's), then the
    memory plan of those sessions (data_prep/memory_build.py)."""
    keep = _MessageFilter(cfg, cast, Redactor(cfg.redact, people=cast.excluded_names, keep=[cast.target_name]))
    sessions = []
    for _, m in iter_jsonl(messages_path, MESSAGES_HINT):
        closed = keep.admit(m)
        if closed is not None:
            sessions.append(closed)
    sessions += keep.sessionizer.flush()

    def spans_of(turns):
        return [(a, b) for a, b, _ in windows(turns, cfg.max_turns, cfg.max_chars, cfg.context_turns)]

    return plan_memory(sessions, cfg.memory, spans_of, out / MEMORY_FILE)


def build_datasets(
    messages_path: str | Path,
    out_dir: str | Path,
    cfg: PrepConfig,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetManifest:
    """Build the datasets; returns the manifest (also written to out_dir/manifest.json)."""
    messages_path = readable_file(messages_path, MESSAGES_HINT)
    out = writable_dir(out_dir, "dataset")
    cast = _resolve_cast(messages_path, cfg)
    redactor = Redactor(cfg.redact, people=cast.excluded_names, keep=[cast.target_name])
    writer = _Writer(out)
    keep = _MessageFilter(cfg, cast, redactor)
    memory, memory_summary = _plan_memory(messages_path, cfg, cast, out) if cfg.memory.enabled else (None, None)
    make = _ExampleMaker(cfg, cast.target_name, writer, memory)
    try:
        from clonekit.data_prep import build_parallel

        halves = build_parallel.plan(messages_path, cfg, cast)
        if halves is None:
            read = _stream(messages_path, keep, make, cast.people.lines, progress)
        else:
            read = build_parallel.run(messages_path, cfg, cast, out, memory, keep, make, writer, halves, progress)
        writer.close()
        split = _write_splits(writer, out, cfg.valid_fraction, cfg.dedupe_max_copies)
    finally:
        writer.close()
        writer.cleanup()
    counts = make.counts
    if split["train_examples"] == 0 and split["valid_examples"] == 0:
        raise ClonekitError(
            f"no examples: {cast.target_name!r} never answers anyone in the kept messages "
            f"(sessions: {counts['sessions']}, "
            f"with the target: {counts['sessions'] - counts['sessions_without_target']})"
        )
    if read != keep.kept + sum(keep.skipped.values()):
        raise RuntimeError("build accounting is off")  # a bug, never a user error
    (out / NAMES_FILE).write_bytes(orjson.dumps(make.sanitizer.mapping, option=orjson.OPT_INDENT_2))
    manifest = {
        "clonekit_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "target": cast.target_name,
        "target_ids": sorted(
            {_shown_id(i, cast.names[pid]) for pid in cast.target_ids for i in cast.people.persons[pid].ids}
        ),
        "system_prompt": make.sysmsg["content"],
        "config": _public_config(cfg, cast),
        "inputs": [
            {
                "path": redactor.names(str(messages_path)),
                "bytes": messages_path.stat().st_size,
                "sha256": sha256_file(messages_path),
            }
        ],
        "messages": {"read": read, "kept": keep.kept, "skipped": dict(keep.skipped)},
        # per app: messages kept and the target's among them (one person over several apps, one dataset)
        "sources": {app: {"kept": c["kept"], "target": c["target"]} for app, c in sorted(keep.sources.items())},
        "sessions": {
            "total": counts["sessions"],
            "without_target": counts["sessions_without_target"],
            "train": split["train_sessions"],
            "valid": split["valid_sessions"],
        },
        "examples": {
            "train": split["train_examples"],
            "valid": split["valid_examples"],
            "target_turns_train": split["train_turns"],
            "target_turns_valid": split["valid_turns"],
        },
        "split": {"valid_from": split["valid_from"], "by": "session start time"},
        "dedupe": split["dedupe"],
        "leakage": split["leakage"],
        "redaction": {kind: redactor.counts[kind] for kind in PLACEHOLDERS},
        "openai": {
            "train": split["train_openai"],
            "valid": split["valid_openai"],
            "split_too_long": counts["openai_split"],
            "dropped_too_long": counts["openai_dropped_too_long"],
            "names": make.sanitizer.mapping,
        },
        "files": list(DATASET_FILES) + ([MEMORY_FILE] if memory_summary else []),
    }
    if memory_summary:
        manifest["memory"] = memory_summary
    checked = DatasetManifest.check(manifest, out / MANIFEST_FILE)  # a writer's slip fails here, not in a reader
    (out / MANIFEST_FILE).write_bytes(orjson.dumps(checked.to_json(), option=orjson.OPT_INDENT_2))
    return checked


class TurnDeduper:
    """Repetition in the data teaches repetition: a target turn whose text the clone was already trained on
    `max_copies` times keeps only the loss on its end-of-turn token (`"weight": 0, "end_weight": 1`: the clone still
    learns where such a turn ends). The OpenAI files have no end-only weight: there the copy gets weight 0, and an
    example left with no weighted turn is dropped (counted)."""

    def __init__(self, max_copies: int):
        self.max_copies = max_copies
        self.seen: Counter = Counter()
        self.end_only = 0
        self.dropped = 0
        self.texts: set[str] = set()  # every target turn's text seen, for the leakage figure (same pass)

    def block(self, lines: bytes, end_weight: bool) -> bytes:
        out = []
        for line in lines.splitlines():
            example = orjson.loads(line)
            changed = False
            for m in example["messages"]:
                if m["role"] != "assistant":
                    continue
                self.texts.add(m["content"].strip())
                if not self.max_copies or not m.get("weight", 1):
                    continue
                key = normalize(m["content"])
                self.seen[key] += 1
                if self.seen[key] > self.max_copies:
                    m["weight"] = 0
                    if end_weight:
                        m["end_weight"] = 1
                    self.end_only += 1
                    changed = True
            if not end_weight and not any(m["role"] == "assistant" and m.get("weight", 1) for m in example["messages"]):
                self.dropped += 1
                continue
            out.append(orjson.dumps(example) if changed else line)
        return b"\n".join(out) + b"\n" if out else b""


def _target_turns(path: Path, weighted: bool) -> list[str]:
    found = []
    with open(path, "rb") as f:
        for line in f:
            found += [
                m["content"].strip()
                for m in orjson.loads(line)["messages"]
                if m["role"] == "assistant" and (m.get("weight", 1) or not weighted)
            ]
    return found


def leakage(train_path: Path, valid_path: Path) -> dict:
    """How many validation target replies (weight 1) appear verbatim among the train split's target turns."""
    return leakage_against(set(_target_turns(train_path, weighted=False)), valid_path)


def leakage_against(train: set[str], valid_path: Path) -> dict:
    valid = _target_turns(valid_path, weighted=True)
    leaked = sum(1 for t in valid if t in train)
    return {
        "valid_target_turns": len(valid),
        "in_train_verbatim": leaked,
        "rate": round(leaked / len(valid), 4) if valid else 0.0,
    }


def _write_splits(writer: _Writer, out: Path, valid_fraction: float, max_copies: int = 0) -> dict:
    """The latest sessions (by start time) with examples become validation; whole sessions only."""
    order = sorted(range(len(writer.start_epoch)), key=lambda i: (writer.start_epoch[i], i))
    with_examples = [i for i in order if writer.n_hf[i]]
    n = len(with_examples)
    n_valid = min(n - 1, max(1, math.ceil(valid_fraction * n))) if valid_fraction > 0 and n >= 2 else 0
    train_ids, valid_ids = with_examples[: n - n_valid], with_examples[n - n_valid :]
    result: dict[str, Any] = {"train_sessions": len(train_ids), "valid_sessions": len(valid_ids), "valid_from": None}
    for split, ids in (("train", train_ids), ("valid", valid_ids)):
        result[f"{split}_examples"] = sum(writer.n_hf[i] for i in ids)
        result[f"{split}_openai"] = sum(writer.n_oa[i] for i in ids)
        result[f"{split}_turns"] = sum(writer.turns[i] for i in ids)
    if valid_ids:
        result["valid_from"] = dt.datetime.fromtimestamp(writer.start_epoch[valid_ids[0]], dt.UTC).isoformat()
    dedupe = {kind: TurnDeduper(max_copies) for kind in ("hf", "oa")}
    for kind, names in (("hf", (TRAIN_FILE, VALID_FILE)), ("oa", (OPENAI_TRAIN_FILE, OPENAI_VALID_FILE))):
        with open(writer.paths[kind], "rb") as src:
            for name, ids in zip(names, (train_ids, valid_ids), strict=True):
                with open(out / name, "wb") as dst:
                    for i in ids:
                        start, end = writer.span(kind, i)
                        src.seek(start)
                        block = src.read(end - start)
                        if name == TRAIN_FILE or (name == OPENAI_TRAIN_FILE and max_copies):
                            block = dedupe[kind].block(block, end_weight=kind == "hf")
                        dst.write(block)
    result["dedupe"] = {
        "max_copies": max_copies,
        "by": "target turn text, lowercased, whitespace and end punctuation ignored",
        "end_only_turns": dedupe["hf"].end_only,
        "distinct_texts": len(dedupe["hf"].seen),
        "openai_examples_dropped": dedupe["oa"].dropped,
    }
    result["leakage"] = leakage_against(dedupe["hf"].texts, out / VALID_FILE)
    # sessions.jsonl: every session in time order, with its split ("none": no target turn to learn)
    valid = set(valid_ids)
    with open(writer.paths["sessions"], "rb") as src, open(out / SESSIONS_FILE, "wb") as dst:
        for i in order:
            start, end = writer.span("sessions", i)
            src.seek(start)
            label = b"valid" if i in valid else b"train" if writer.n_hf[i] else b"none"
            dst.write(b'{"split":"' + label + b'",' + src.read(end - start))
    return result
