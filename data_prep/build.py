"""`clonekit prep build`: messages.jsonl -> sessions.jsonl, train/valid (HF chat format),
openai_train/openai_valid, manifest.json.

Two streaming passes: the first finds the people (to resolve the target, aliases and exclusions),
the second filters, redacts, sessionizes and writes examples to temporary files, one range per
session. At the end the latest sessions become the validation split, whole sessions only.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from clonekit import __version__
from clonekit.chat import NameSanitizer
from clonekit.config import PrepConfig
from clonekit.contracts import DatasetManifest
from clonekit.data_prep.memory_build import plan_memory, session_key
from clonekit.data_prep.message_filter import MessageFilter
from clonekit.data_prep.message_rows import read_rows
from clonekit.data_prep.openai_format import fit_to_limit, to_openai, validate_openai_example
from clonekit.data_prep.people import MESSAGES_HINT, People, is_phone_name, phone_pseudonyms, scan_people
from clonekit.data_prep.sessions import Session, windows
from clonekit.data_prep.splits import ExampleWriter, write_splits
from clonekit.dataset import (
    DATASET_FILES,
    MANIFEST_FILE,
    NAMES_FILE,
)
from clonekit.errors import ClonekitError
from clonekit.hashing import sha256_file
from clonekit.memory import MEMORY_FILE, with_memory
from clonekit.paths import readable_file, writable_dir
from clonekit.redact import PLACEHOLDERS, Redactor


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


@dataclass
class _Cast:
    """Who is who in the messages: every person's display name, the target's and the excluded people's ids."""

    people: People
    names: dict[str, str]  # person id -> the name they speak under
    target_ids: set[str]
    target_name: str
    excluded_ids: set[str]
    excluded_names: list[str]


def _resolve_cast(messages_path: Path, cfg: PrepConfig, meanwhile=None) -> _Cast:
    """First pass: find the people, resolve the target, aliases and exclusions."""
    if not cfg.target:
        raise ClonekitError("no target: pass --target NAME (see `clonekit prep people`)")
    people = scan_people(messages_path, cfg.aliases, meanwhile=meanwhile)
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


class _ExampleMaker:
    """A closed session -> its training examples (HF chat format and OpenAI format), written through `writer`."""

    def __init__(self, cfg: PrepConfig, target_name: str, writer: ExampleWriter, memory: dict | None = None):
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
    keep: MessageFilter,
    make: _ExampleMaker,
    total_lines: int,
    progress: Callable[[int, int], None] | None,
    stretch: tuple[int, int, int] | None = None,
) -> int:
    """Every message through the filter, every closed session into examples; returns how many lines were read.
    `stretch`: (start byte, end byte, first line number), to read only that part of the file."""
    total = messages_path.stat().st_size
    read = 0
    admit_rows, add = keep.admit_rows, make.add
    for lineno, rows in read_rows(messages_path, *(stretch or (0, total, 1)), MESSAGES_HINT):
        if progress:
            progress(int(total * lineno / max(total_lines, 1)), total)
        read += len(rows)
        try:
            admit_rows(rows, add)
        except (KeyError, TypeError) as e:  # the file changed since the first pass checked it
            raise ClonekitError(
                f"not a clonekit message (missing or bad {e}); expected {MESSAGES_HINT}", messages_path, lineno
            ) from None
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
    keep = MessageFilter(cfg, cast, Redactor(cfg.redact, people=cast.excluded_names, keep=[cast.target_name]))
    sessions: list[Session] = []
    for _, rows in read_rows(messages_path, 0, messages_path.stat().st_size, 1, MESSAGES_HINT):
        keep.admit_rows(rows, sessions.append)
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
    # the input's SHA-256, taken while other processes work: the scan's workers or the second half's
    digest: list[str] = []

    def digest_of_input() -> None:
        if not digest:
            digest.append(sha256_file(messages_path))

    cast = _resolve_cast(messages_path, cfg, meanwhile=digest_of_input)
    redactor = Redactor(cfg.redact, people=cast.excluded_names, keep=[cast.target_name])
    writer = ExampleWriter(out)
    keep = MessageFilter(cfg, cast, redactor)
    memory, memory_summary = _plan_memory(messages_path, cfg, cast, out) if cfg.memory.enabled else (None, None)
    make = _ExampleMaker(cfg, cast.target_name, writer, memory)
    try:
        from clonekit.data_prep import build_parallel

        halves = build_parallel.plan(messages_path, cfg, cast)
        if halves is None:
            read = _stream(messages_path, keep, make, cast.people.lines, progress)
        else:
            read = build_parallel.run(
                messages_path, cfg, cast, out, memory, keep, make, writer, halves, progress, digest_of_input
            )
        writer.close()
        split = write_splits(writer, out, cfg.valid_fraction, cfg.dedupe_max_copies)
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
    sha = digest[0] if digest else sha256_file(messages_path)
    manifest = _manifest(messages_path, sha, cfg, cast, redactor, keep, make, split, read, memory_summary)
    checked = DatasetManifest.check(manifest, out / MANIFEST_FILE)  # a writer's slip fails here, not in a reader
    (out / MANIFEST_FILE).write_bytes(orjson.dumps(checked.to_json(), option=orjson.OPT_INDENT_2))
    return checked


def _manifest(
    messages_path: Path,
    sha: str,
    cfg: PrepConfig,
    cast: _Cast,
    redactor: Redactor,
    keep: MessageFilter,
    make: _ExampleMaker,
    split: dict,
    read: int,
    memory_summary: dict | None,
) -> dict:
    """manifest.json's content, as `DatasetManifest` checks it."""
    counts = make.counts
    manifest = {
        "clonekit_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "target": cast.target_name,
        "target_ids": sorted(
            {_shown_id(i, cast.names[pid]) for pid in cast.target_ids for i in cast.people.persons[pid].ids}
        ),
        "system_prompt": make.sysmsg["content"],
        "config": _public_config(cfg, cast),
        "inputs": [{"path": redactor.names(str(messages_path)), "bytes": messages_path.stat().st_size, "sha256": sha}],
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
    return manifest
