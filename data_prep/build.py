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
from array import array
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson

from clonekit import __version__
from clonekit.config import PrepConfig
from clonekit.data_prep.openai_format import NameSanitizer, fit_to_limit, to_openai
from clonekit.data_prep.people import MESSAGES_HINT, People, scan_people
from clonekit.data_prep.sessions import MEDIA_PLACEHOLDER, Session, Sessionizer, windows
from clonekit.errors import ClonekitError
from clonekit.hashing import sha256_file
from clonekit.jsonl import iter_jsonl
from clonekit.paths import readable_file, writable_dir
from clonekit.redact import PLACEHOLDERS, Redactor
from clonekit.repetition import normalize

OUTPUT_FILES = (
    "train.jsonl",
    "valid.jsonl",
    "openai_train.jsonl",
    "openai_valid.jsonl",
    "sessions.jsonl",
    "manifest.json",
    "openai_names.json",
)


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

    def __init__(self, out: Path):
        self.paths = {k: out / f".{k}.tmp" for k in self.KINDS}
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

    def span(self, kind: str, i: int) -> tuple[int, int]:
        return (self.ends[kind][i - 1] if i else 0), self.ends[kind][i]

    def close(self) -> None:
        for f in self.files.values():
            f.close()

    def cleanup(self) -> None:
        for p in self.paths.values():
            p.unlink(missing_ok=True)


def build_datasets(
    messages_path: str | Path,
    out_dir: str | Path,
    cfg: PrepConfig,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Build the datasets; returns the manifest (also written to out_dir/manifest.json)."""
    messages_path = readable_file(messages_path, MESSAGES_HINT)
    out = writable_dir(out_dir, "dataset")
    if not cfg.target:
        raise ClonekitError("no target: pass --target NAME (see `clonekit prep people`)")
    people = scan_people(messages_path, cfg.aliases)
    target_ids = set(people.require(cfg.target, "target"))
    excluded_ids: set[str] = set()
    for name in cfg.exclude:
        excluded_ids |= set(people.require(name, "excluded person"))
    if target_ids & excluded_ids:
        raise ClonekitError(f"the target {cfg.target!r} is also excluded")
    names = people.display_names()
    pseudonyms = phone_pseudonyms(people)
    names.update(pseudonyms)  # unsaved WhatsApp contacts speak as "Contact 1", never as their number
    target_name = names[sorted(target_ids, key=lambda i: -people.persons[i].messages)[0]]
    for pid in target_ids:
        names[pid] = target_name  # all matched identities speak under one name
    excluded_names = excluded_name_list(people, excluded_ids, cfg.exclude)
    redactor = Redactor(cfg.redact, people=excluded_names, keep=[target_name])
    sysmsg = {"role": "system", "content": system_prompt(cfg, target_name)}

    writer = _Writer(out)
    skipped: Counter = Counter()
    counts = Counter()
    sanitizer = NameSanitizer()
    sanitizer(target_name)
    sessionizer = Sessionizer(cfg.session_gap_minutes)

    def finish(session: Session) -> None:
        counts["sessions"] += 1
        if not session.has_target():
            counts["sessions_without_target"] += 1
            writer.add(session, [], [], 0)
            return
        hf_lines, oa_lines, weighted = [], [], 0
        for start, end, weights in windows(session.turns, cfg.max_turns, cfg.max_chars, cfg.context_turns):
            msgs = [sysmsg]
            for turn, w in zip(session.turns[start:end], weights, strict=True):
                if turn.is_target:
                    msgs.append({"role": "assistant", "name": target_name, "content": turn.content, "weight": w})
                else:
                    msgs.append({"role": "user", "name": turn.name, "content": turn.content})
            weighted += sum(weights)
            example = {"messages": msgs}
            hf_lines.append(orjson.dumps(example) + b"\n")
            parts = fit_to_limit(to_openai(example, sanitizer), cfg.openai.max_tokens, cfg.openai.chars_per_token)
            if not parts:
                counts["openai_dropped_too_long"] += 1
            elif len(parts) > 1:
                counts["openai_split"] += 1
            oa_lines += [orjson.dumps(p) + b"\n" for p in parts]
        writer.add(session, hf_lines, oa_lines, weighted)

    chats: dict[str, str] = {}  # chat name -> as written to the outputs (redacted once per chat)

    def _admit(m: dict) -> Session | None:
        """Filter, redact and sessionize one message; returns a session it closed, if any."""
        kind = m["kind"]
        aid = m["author_id"]
        pid = people.canonical(aid) if aid else ""
        reason = None
        if kind == "system" or not pid:
            reason = "system"
        elif m.get("forwarded"):
            reason = "forwarded"  # someone else's words (perhaps an excluded person's), never the sender's style
        elif kind == "deleted":
            reason = "deleted"
        elif pid in excluded_ids:
            reason = "excluded"
        elif m.get("is_bot") and not cfg.include_bots:
            reason = "bot"
        elif kind == "media" and cfg.media == "drop":
            reason = "media"
        if reason is not None:
            skipped[reason] += 1
            return None
        text = MEDIA_PLACEHOLDER if kind == "media" else redactor(m["text"])
        if not text.strip():
            skipped["empty"] += 1
            return None
        counts["kept"] += 1
        chat = chats.get(m["chat"])
        if chat is None:
            chat = chats[m["chat"]] = redactor(m["chat"])
        return sessionizer.add(m["platform"], chat, m["timestamp"], names[pid], pid in target_ids, text)

    total = messages_path.stat().st_size
    try:
        for lineno, m in iter_jsonl(messages_path, MESSAGES_HINT):
            if progress and lineno % 50000 == 0:
                progress(int(total * lineno / max(people.lines, 1)), total)
            counts["read"] += 1
            try:
                closed = _admit(m)
            except (KeyError, TypeError) as e:
                raise ClonekitError(
                    f"not a clonekit message (missing or bad {e}); expected {MESSAGES_HINT}", messages_path, lineno
                ) from None
            if closed is not None:
                finish(closed)
        for session in sessionizer.flush():
            finish(session)
        if progress:
            progress(total, total)
        writer.close()
        split = _write_splits(writer, out, cfg.valid_fraction, cfg.dedupe_max_copies)
    finally:
        writer.close()
        writer.cleanup()

    if split["train_examples"] == 0 and split["valid_examples"] == 0:
        raise ClonekitError(
            f"no examples: {target_name!r} never answers anyone in the kept messages "
            f"(sessions: {counts['sessions']}, "
            f"with the target: {counts['sessions'] - counts['sessions_without_target']})"
        )
    (out / "openai_names.json").write_bytes(orjson.dumps(sanitizer.mapping, option=orjson.OPT_INDENT_2))
    config = cfg.model_dump()
    # consent: the manifest names nobody who was excluded
    # consent: the manifest names nobody who was excluded, not even as a hash (hashing the people list would find
    # it): only how many; aliases that touch an excluded person are left out too
    config["exclude"] = ["<excluded>"] * len(cfg.exclude)
    if is_phone_name(cfg.target):
        config["target"] = target_name
    gone = {n.casefold() for n in excluded_names} | {
        i.casefold() for pid in excluded_ids for i in people.persons[pid].ids
    }
    config["aliases"] = {
        k: v
        for k, v in cfg.aliases.items()
        if not {k.casefold(), v.casefold()} & gone and not is_phone_name(k) and not is_phone_name(v)
    }
    manifest = {
        "clonekit_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "target": target_name,
        "target_ids": sorted({_shown_id(i, names[pid]) for pid in target_ids for i in people.persons[pid].ids}),
        "system_prompt": sysmsg["content"],
        "config": config,
        "inputs": [{"path": redactor.names(str(messages_path)), "bytes": total, "sha256": sha256_file(messages_path)}],
        "messages": {"read": counts["read"], "kept": counts["kept"], "skipped": dict(skipped)},
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
            "names": sanitizer.mapping,
        },
        "files": list(OUTPUT_FILES),
    }
    if counts["read"] != counts["kept"] + sum(skipped.values()):
        raise RuntimeError("build accounting is off")  # a bug, never a user error
    (out / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return manifest


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
    result = {"train_sessions": len(train_ids), "valid_sessions": len(valid_ids), "valid_from": None}
    for split, ids in (("train", train_ids), ("valid", valid_ids)):
        result[f"{split}_examples"] = sum(writer.n_hf[i] for i in ids)
        result[f"{split}_openai"] = sum(writer.n_oa[i] for i in ids)
        result[f"{split}_turns"] = sum(writer.turns[i] for i in ids)
    if valid_ids:
        result["valid_from"] = dt.datetime.fromtimestamp(writer.start_epoch[valid_ids[0]], dt.UTC).isoformat()
    dedupe = {kind: TurnDeduper(max_copies) for kind in ("hf", "oa")}
    for kind, names in (("hf", ("train.jsonl", "valid.jsonl")), ("oa", ("openai_train.jsonl", "openai_valid.jsonl"))):
        with open(writer.paths[kind], "rb") as src:
            for name, ids in zip(names, (train_ids, valid_ids), strict=True):
                with open(out / name, "wb") as dst:
                    for i in ids:
                        start, end = writer.span(kind, i)
                        src.seek(start)
                        block = src.read(end - start)
                        if name == "train.jsonl" or (name == "openai_train.jsonl" and max_copies):
                            block = dedupe[kind].block(block, end_weight=kind == "hf")
                        dst.write(block)
    result["dedupe"] = {
        "max_copies": max_copies,
        "by": "target turn text, lowercased, whitespace and end punctuation ignored",
        "end_only_turns": dedupe["hf"].end_only,
        "distinct_texts": len(dedupe["hf"].seen),
        "openai_examples_dropped": dedupe["oa"].dropped,
    }
    result["leakage"] = leakage_against(dedupe["hf"].texts, out / "valid.jsonl")
    # sessions.jsonl: every session in time order, with its split ("none": no target turn to learn)
    valid = set(valid_ids)
    with open(writer.paths["sessions"], "rb") as src, open(out / "sessions.jsonl", "wb") as dst:
        for i in order:
            start, end = writer.span("sessions", i)
            src.seek(start)
            split = b"valid" if i in valid else b"train" if writer.n_hf[i] else b"none"
            dst.write(b'{"split":"' + split + b'",' + src.read(end - start))
    return result
